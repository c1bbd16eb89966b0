#!/usr/bin/env bash
# bench_http: the HTTP side under load, with tests/integration/http_fixture
# (real HTTP module, fake provider) and a private redis-server.
#  1. alert fan-out: N stream clients connected (N = 100, 250), one alert
#     XADDed, time until the first and the last client had it;
#  2. API latency and throughput with wrk (skipped when wrk is not installed):
#     /api/v1/identities (JSON shaping of 10 identities with series),
#     /api/v1/alerts, /healthz, /metrics.
# Prints figures; the last line is the usual "N passed, N failed" (a run
# that could not measure something fails).
. "$(dirname "$0")/../lib.sh"
FIXTURE=$BUILD/tools/integration/http_fixture
CLIENTS=$BUILD/tools/bench/sse_clients
DUR=${BENCH_SECONDS:-5}
for t in "$FIXTURE" "$CLIENTS"; do
	[ -x "$t" ] || { fail "$t not built"; finish; exit; }
done
start_redis || { fail "redis-server did not start"; finish; exit; }
# The clients stand for dashboards on many machines but all come from
# 127.0.0.1: lift the per-address cap on stream clients (16) for them.
"$FIXTURE" --redis "unix:$REDIS_SOCK" --sse-max-clients 1000 --sse-per-addr 1000 \
	>"$TMP/fx.out" 2>"$TMP/fx.err" &
FPID=$!
on_exit "kill $FPID 2>/dev/null; wait $FPID 2>/dev/null"
for _ in $(seq 100); do
	PORT=$(sed -n 's/^port //p' "$TMP/fx.out"); [ -n "$PORT" ] && break; sleep 0.05
done
[ -n "$PORT" ] || { fail "fixture did not start"; finish; exit; }
U=http://127.0.0.1:$PORT
sleep 0.3   # the feed's first XREAD

for n in 100 250; do
	for run in 1 2 3; do
		out=$("$CLIENTS" "$PORT" "$n" "$REDIS_SOCK" egress:alerts 10)
		echo "sse fan-out run $run: $out"
		echo "$out" >>"$TMP/fan.$n"
	done
	best=$(awk '{print $8}' "$TMP/fan.$n" | sort -n | head -n 1)
	med=$(awk '{print $8}' "$TMP/fan.$n" | sort -n | sed -n 2p)
	if [ "$(grep -c "got $n " "$TMP/fan.$n")" = 3 ]; then
		pass "sse fan-out: all $n clients got the alert; last arrival ${med} ms after XADD (median of 3, best ${best} ms)"
	else
		fail "sse fan-out with $n clients: $(cat "$TMP/fan.$n")"
	fi
done

if command -v wrk >/dev/null; then
	for path in "/api/v1/identities?window=24h&limit=10" "/api/v1/alerts?limit=50" /healthz /metrics; do
		wrk -t2 -c32 -d"${DUR}s" --latency "$U$path" >"$TMP/wrk.out" 2>&1
		rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.out")
		p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk.out")
		p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.out")
		non2xx=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.out")
		if [ -n "$rps" ] && [ -z "$non2xx" ]; then
			pass "wrk $path: $rps req/s, p50 $p50, p99 $p99 (2 threads, 32 connections, ${DUR}s)"
		else
			fail "wrk $path: $(tr '\n' ' ' <"$TMP/wrk.out")"
		fi
	done
	# With the stream busy: 100 clients connected while the API is loaded.
	"$CLIENTS" "$PORT" 100 "$REDIS_SOCK" egress:alerts 30 >"$TMP/busy.out" &
	cp=$!
	sleep 0.5
	wrk -t2 -c32 -d"${DUR}s" --latency "$U/api/v1/identities?window=24h&limit=10" >"$TMP/wrk.out" 2>&1
	wait $cp
	rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.out")
	p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.out")
	pass "wrk identities with 100 stream clients attached: $rps req/s, p99 $p99; fan-out meanwhile: $(cat "$TMP/busy.out")"
else
	skip "API latency: wrk not installed (apt-get install wrk)"
fi
finish
