#!/usr/bin/env bash
# The demo (`make demo`): a private redis-server on a unix socket, a
# generated three-day capture of ten workloads in which analytics-etl
# starts sending gigabytes to an address nobody used before, the sensor
# replaying it into Redis, the collector raising the alert, and the
# dashboard serving it all.
#
#   tests/demo.sh [--no-wait] [--dir DIR] [--port PORT]
#
# --no-wait returns once the alerts are printed (the tests use it) and
# leaves the processes' pids in DIR/pids; otherwise the dashboard stays up
# until Ctrl-C. Everything lives in DIR (default build/demo): nothing
# outside it is touched and nothing is fetched.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
DIR=$B/demo
PORT=${DEMO_PORT:-8080}
WAIT=1
while [ $# -gt 0 ]; do
	case $1 in
	--no-wait) WAIT=0 ;;
	--dir) DIR=$2; shift ;;
	--port) PORT=$2; shift ;;
	*) echo "usage: $0 [--no-wait] [--dir DIR] [--port PORT]" >&2; exit 2 ;;
	esac
	shift
done
for t in egress-sensor egress-collector tools/gen/pcapgen; do
	[ -x "$B/$t" ] || { echo "demo: $B/$t is not built (run make demo)" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "demo: redis-server is not installed" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}

rm -rf "$DIR"
mkdir -p "$DIR/spool"
SOCK=$DIR/redis.sock
REDIS=unix:$SOCK

say "1. a private redis-server on $SOCK (no TCP port)"
redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$DIR" \
	--save "" --appendonly no --daemonize no >"$DIR/redis.log" 2>&1 &
PIDS+=($!)
[ $WAIT = 1 ] && trap 'cleanup' EXIT INT TERM
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || { echo "demo: redis-server did not start: $(tail -n 3 "$DIR/redis.log")" >&2; exit 1; }

say "2. a capture: 3 days of 10 workloads; on day 3 analytics-etl sends 6 GB somewhere new"
"$B/tools/gen/pcapgen" --scenario demo --print-identities >"$DIR/identities.conf"
"$B/tools/gen/pcapgen" --scenario demo -o "$DIR/demo.pcap" 2>"$DIR/truth.json"
echo "$DIR/demo.pcap: $(du -h "$DIR/demo.pcap" | cut -f1) (TSO super-packets, 128-byte snaplen)"

cat >"$DIR/sensor.conf" <<EOF
# The demo's sensor: configs/sensor.conf with the demo's paths.
[sensor]
id = gw-demo-1
identities = identities.conf
flush_interval = 60s
user =
[redis]
address = $REDIS
spool_dir = $DIR/spool
EOF
cat >"$DIR/collector.conf" <<EOF
# The demo's collector: the rules of configs/collector.conf.
[collector]
redis = $REDIS
consumer = demo-collector
alerts_file = $DIR/alerts.jsonl
http = 127.0.0.1:$PORT
$(sed -n '/^# ---- rules/,$p' "$TOP/configs/collector.conf" |
	# three days of history: the detector learns for one, judges the rest
	sed 's/^learning = .*/learning = 1d/; s/^org_learning = .*/org_learning = 1d/')
EOF
"$B/egress-collector" --check-config -c "$DIR/collector.conf" >/dev/null
"$B/egress-sensor" --check-config -c "$DIR/sensor.conf" >/dev/null

say "3. the collector: consumes reports, raises alerts, serves the dashboard on :$PORT"
"$B/egress-collector" -c "$DIR/collector.conf" >"$DIR/collector.log" 2>&1 &
PIDS+=($!)
echo "${PIDS[*]}" >"$DIR/pids"
for _ in $(seq 100); do grep -q "http: listening" "$DIR/collector.log" && break; sleep 0.05; done
if ! kill -0 "${PIDS[1]}" 2>/dev/null || ! grep -q "http: listening" "$DIR/collector.log"; then
	echo "demo: the collector did not start: $(tail -n 3 "$DIR/collector.log")" >&2
	cleanup
	exit 1
fi

say "4. the sensor replays the capture into Redis, one report a minute of capture clock"
"$B/egress-sensor" -r "$DIR/demo.pcap" -c "$DIR/sensor.conf" --no-progress 2>"$DIR/sensor.log"
tail -n 2 "$DIR/sensor.log"
"$B/egress-sensor" -r "$DIR/demo.pcap" -c "$DIR/sensor.conf" --summary --no-progress \
	>"$DIR/summary.json" 2>/dev/null

say "5. waiting for the collector to apply every report"
rcli() { redis-cli -s "$SOCK" "$@"; }
n=$(rcli XLEN egress:reports)
for _ in $(seq 600); do
	read -r pending lag < <(rcli --raw XINFO GROUPS egress:reports |
		awk 'p=="pending"{pe=$0} p=="lag"{la=$0} {p=$0} END{print pe, la}')
	[ "${pending:-1}" = 0 ] && [ "${lag:-1}" = 0 ] && break
	kill -0 "${PIDS[1]}" 2>/dev/null || { echo "demo: the collector stopped:" >&2; tail "$DIR/collector.log" >&2; exit 1; }
	sleep 0.1
done
# The alerts file is appended right after each commit: let it catch up.
for _ in $(seq 50); do
	[ "$(wc -l <"$DIR/alerts.jsonl" 2>/dev/null || echo 0)" = "$(rcli XLEN egress:alerts)" ] && break
	sleep 0.1
done
echo "$n reports applied"

say "6. alerts (also in $DIR/alerts.jsonl and the egress:alerts stream)"
if [ -s "$DIR/alerts.jsonl" ]; then
	if command -v jq >/dev/null; then
		jq -r '"\(.severity|ascii_upcase)\t\(.identity)\t\(.rule)\t\(.observed_bytes/1e9*100|round/100) GB in \(.window_s/3600) h\t\(.message)"' "$DIR/alerts.jsonl"
	else
		cat "$DIR/alerts.jsonl"
	fi
else
	echo "no alerts raised (see $DIR/collector.log)"
fi

say "7. the dashboard: http://127.0.0.1:$PORT/"
echo "API: http://127.0.0.1:$PORT/api/v1/identities   metrics: http://127.0.0.1:$PORT/metrics"
if [ $WAIT = 1 ]; then
	echo "(Ctrl-C stops redis-server and the collector)"
	wait "${PIDS[1]}"
fi
