#!/usr/bin/env bash
# t_http_limits: what hostile or broken HTTP clients cost the server, over
# real TCP against tests/integration/http_fixture (the real HTTP module) and
# a private redis-server. A stream client that uploads is dropped and the
# upload does not grow memory; slow connections meet a request deadline and
# a connection cap (with room made for new requests); accept() failing with
# EMFILE pauses the listener instead of spinning and logging; a resume far
# behind is paced and arrives whole; stream clients are capped per address;
# a stream client that stops reading is dropped. Each drop is counted.
. "$(dirname "$0")/../lib.sh"
FIXTURE=$BUILD/tools/integration/http_fixture
if [ ! -x "$FIXTURE" ]; then
	fail "$FIXTURE not built"; finish; exit
fi
command -v curl >/dev/null || { skip "curl not installed"; finish; exit; }
start_redis || { fail "redis-server did not start"; finish; exit; }

# start_fixture NAME ARGS...: sets PORT, FPID and A.
start_fixture() {
	local name=$1; shift
	"$FIXTURE" --redis "unix:$REDIS_SOCK" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	FPID=$!
	on_exit "kill $FPID 2>/dev/null; wait $FPID 2>/dev/null"
	for _ in $(seq 100); do
		PORT=$(sed -n 's/^port //p' "$TMP/$name.out")
		[ -n "$PORT" ] && A=http://127.0.0.1:$PORT && return 0
		sleep 0.05
	done
	echo "fixture $name did not start: $(cat "$TMP/$name.err")" >&2
	return 1
}
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi; }
metric() { curl -s "$A/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }
# wait_metric NAME VALUE [TENTHS]: until the metric has VALUE (5 s by default).
wait_metric() {
	for _ in $(seq "${3:-50}"); do [ "$(metric "$1")" = "$2" ] && return 0; sleep 0.1; done
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

# ---- a stream client that uploads after its request ----
start_fixture up --heartbeat 1 || { fail "fixture up"; finish; exit; }
sleep 0.3
rss0=$(rss_kb "$FPID")
python3 - "$PORT" >"$TMP/upload.log" 2>&1 <<'EOF'
import socket, sys, time, select
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(0.3)
junk, sent, t0 = b"A" * (1 << 16), 0, time.time()
s.setblocking(False)
while sent < (200 << 20) and time.time() - t0 < 8:
    select.select([], [s], [], 0.2)
    try:
        sent += s.send(junk)
    except BlockingIOError:
        continue
    except OSError as e:
        print("send stopped:", e.__class__.__name__)
        break
print("sent %d MiB" % (sent >> 20))
EOF
grow=$(( ($(rss_kb "$FPID") - rss0) / 1024 ))
[ "$grow" -lt 16 ] && pass "an uploading stream client costs no memory (RSS +$grow MiB; $(tail -n 1 "$TMP/upload.log"))" ||
	fail "RSS grew $grow MiB under an upload ($(cat "$TMP/upload.log"))"
wait_metric egresswatch_sse_dropped_input_total 1
expect "it is dropped and counted" "1 0" "$(metric egresswatch_sse_dropped_input_total) $(metric egresswatch_sse_clients)"
# A request pipelined behind the stream request is input too.
printf 'GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n' |
	timeout 3 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(sys.stdin.buffer.read()); s.settimeout(3)
try:
    while s.recv(4096): pass
except OSError: pass' "$PORT"
wait_metric egresswatch_sse_dropped_input_total 2
expect "a request pipelined after the stream request drops it too" 2 "$(metric egresswatch_sse_dropped_input_total)"
kill -TERM $FPID; wait $FPID; expect "fixture exits 0 (ASan: no leaks)" 0 $?

# ---- slow connections: request deadline and connection cap ----
start_fixture cap --max-conns 20 --deadline 2 || { fail "fixture cap"; finish; exit; }
# slow N SECONDS: N connections sending a partial request, a byte every 0.5 s.
slow() {
	python3 - "$PORT" "$1" "$2" <<'EOF'
import socket, sys, time
port, n, hold = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nX-a: ")
    socks.append(s)
t0, open_ = time.time(), n
while time.time() - t0 < hold:
    time.sleep(0.5)
    open_ = 0
    for s in socks:
        try:
            s.sendall(b"a"); open_ += 1
        except OSError:
            pass
print(open_)
EOF
}
slow 1 5 >"$TMP/slow1" &
SP=$!
sleep 0.5
expect "a slow connection is counted" 1 "$(( $(metric egresswatch_http_connections) - 1 ))"
wait $SP
expect "a request trickling in a byte at a time is cut at the deadline" 0 "$(cat "$TMP/slow1")"
expect "request timeouts counted" 1 "$(metric egresswatch_http_request_timeouts_total)"
slow 40 1.5 >"$TMP/slow40" &
SP=$!
sleep 0.7
n=$(metric egresswatch_http_connections)
[ "$n" -le 20 ] && pass "40 slow connections hold at most the cap of 20 ($n)" || fail "connections: $n over the cap of 20"
code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$A/healthz")
expect "a request still gets through while the cap is full" 200 "$code"
wait $SP
ev=$(( $(metric egresswatch_http_connections_evicted_total) + $(metric egresswatch_http_connections_refused_total) ))
[ "$ev" -ge 20 ] && pass "connections closed at the cap are counted ($ev)" || fail "evicted and refused: '$ev'"
wait_metric egresswatch_http_connections 1 40
expect "closed connections are forgotten" 1 "$(metric egresswatch_http_connections)"
# keep-alive: several requests on one connection, then the connection closes
curl -s -o /dev/null -o /dev/null -o /dev/null "$A/healthz" "$A/healthz" "$A/api/v1/config"
wait_metric egresswatch_http_connections 1
expect "keep-alive connections are counted once and forgotten" 1 "$(metric egresswatch_http_connections)"

# ---- accept() fails with EMFILE: the listener pauses ----
HARD=$(ulimit -Hn)
if prlimit --pid "$FPID" --nofile=24:"$HARD" 2>/dev/null; then
	slow 30 3 >/dev/null &
	SP=$!
	sleep 0.5
	t0=$(awk '{ print $14 + $15 }' "/proc/$FPID/stat")
	sleep 2
	t1=$(awk '{ print $14 + $15 }' "/proc/$FPID/stat")
	cpu=$(( (t1 - t0) * 100 / $(getconf CLK_TCK) / 2 ))
	[ "$cpu" -lt 30 ] && pass "out of descriptors, the server does not spin (${cpu}% CPU)" ||
		fail "accept loop at ${cpu}% CPU"
	wait $SP
	lines=$(grep -c 'accept' "$TMP/cap.err")
	[ "$lines" -ge 1 ] && [ "$lines" -le 2 ] && pass "accept errors logged rate-limited ($lines lines)" ||
		fail "accept error lines: $lines"
	e=$(metric egresswatch_http_accept_errors_total)
	[ "${e:-0}" -ge 1 ] && pass "accept errors counted ($e)" || fail "accept errors: '$e'"
	prlimit --pid "$FPID" --nofile=1024:"$HARD"
	sleep 0.3
	expect "serving again once descriptors are back" 200 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$A/healthz")"
else
	skip "prlimit cannot lower the fixture's descriptor limit"
fi
kill -TERM $FPID; wait $FPID; expect "fixture exits 0 (ASan: no leaks)" 0 $?

# ---- a resume far behind is paced, not dropped ----
pad=$(head -c 1000 /dev/zero | tr '\0' p)
for i in $(seq 300); do echo "XADD egress:alerts * alert '{\"id\":\"r$i\",\"pad\":\"$pad\"}'"; done | rcli >/dev/null
mapfile -t IDS < <(rcli XRANGE egress:alerts - + | grep -E '^[0-9]+-[0-9]+$')
start_fixture pace --sse-buf 65536 --ring 200 || { fail "fixture pace"; finish; exit; }
for _ in $(seq 40); do curl -s "$A/healthz" | grep -q '"connected"' && break; sleep 0.05; done
sleep 0.3
# resume ID WANT: a reading client resuming after ID must get WANT events, in order.
resume() {
	curl -sN -m 3 -H "Last-Event-ID: $1" "$A/api/v1/alerts/stream" | sed -n 's/^id: //p' >"$TMP/resume.ids"
	local want
	want=$(printf '%s\n' "${IDS[@]}" | awk -v f="$1" 'p { print } $0 == f { p = 1 }')
	[ "$want" = "$(cat "$TMP/resume.ids")" ] && echo ok || echo "got $(wc -l <"$TMP/resume.ids") of $2"
}
expect "a resume 299 events (300 kB) behind, through Redis, arrives whole past a 64 kB cap" ok "$(resume "${IDS[0]}" 299)"
expect "a resume 149 events behind, from the ring, arrives whole" ok "$(resume "${IDS[150]}" 149)"
expect "no client dropped as slow" 0 "$(metric egresswatch_sse_dropped_slow_total)"
expect "events counted as written" $((299 + 149)) "$(metric egresswatch_sse_events_sent_total)"
kill -TERM $FPID; wait $FPID; expect "fixture exits 0 (ASan: no leaks)" 0 $?

# ---- stream clients per address; clients that stop reading ----
start_fixture addr --heartbeat 1 --sse-per-addr 3 --sse-buf 262144 --backlog 0 || { fail "fixture addr"; finish; exit; }
for i in 1 2 3; do
	curl -sN -m 20 "$A/api/v1/alerts/stream" >/dev/null &
	on_exit "kill $! 2>/dev/null"
done
wait_metric egresswatch_sse_clients 3
expect "a 4th stream client from one address: 503" 503 "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$A/api/v1/alerts/stream")"
expect "refusal counted" 1 "$(metric egresswatch_sse_refused_address_total)"
code=$(curl -s -m 1 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$A/api/v1/alerts/stream")
expect "another address still gets the stream" 200 "$code"
python3 - "$PORT" >"$TMP/stall.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.bind(("127.0.0.2", 0))
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(15)
EOF
STALL=$!
on_exit "kill $STALL 2>/dev/null"
wait_metric egresswatch_sse_clients 4
for i in $(seq 100); do echo "XADD egress:alerts * alert '{\"id\":\"s$i\",\"pad\":\"$pad\"}'"; done | rcli >/dev/null
wait_metric egresswatch_sse_dropped_stalled_total 1 60
expect "a client that stopped reading is dropped within a few heartbeats, counted" "1 0" \
	"$(metric egresswatch_sse_dropped_stalled_total) $(metric egresswatch_sse_dropped_slow_total)"
expect "the three reading clients stay" 3 "$(metric egresswatch_sse_clients)"
kill $STALL 2>/dev/null
kill -TERM $FPID; wait $FPID; expect "fixture exits 0 (ASan: no leaks)" 0 $?

# ---- the rate limit charges by work ----
start_fixture work --rate 10 --burst 10 --slow-ms 30 || { fail "fixture work"; finish; exit; }
codes=$(for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_code} ' "$A/metrics"; done)
expect "a 30 ms request costs 15 of 10 tokens: the next ones wait" "200 429 429 429 429 " "$codes"
sleep 1.7
expect "and are served once the bucket refilled" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$A/healthz")"
kill -TERM $FPID; wait $FPID; expect "fixture exits 0 (ASan: no leaks)" 0 $?
finish
