# tests/lib.sh: helpers for shell tests. Source it, call pass/fail/skip, end
# with finish: the last line is "N passed, N failed, N skipped" and the exit
# status is 1 when anything failed.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$TOP/build}
SENSOR=$BUILD/egress-sensor
COLLECTOR=$BUILD/egress-collector
SHARED=${SHARED:-$TOP/../shared}
PCAPS=$SHARED/pcaps
T_PASS=0 T_FAIL=0 T_SKIP=0
pass() { T_PASS=$((T_PASS + 1)); echo "ok   $*"; }
fail() { T_FAIL=$((T_FAIL + 1)); echo "FAIL $*"; }
skip() { T_SKIP=$((T_SKIP + 1)); echo "skip $*"; }
finish() { echo "$T_PASS passed, $T_FAIL failed, $T_SKIP skipped"; [ "$T_FAIL" -eq 0 ]; }
# tmpdir: a scratch directory removed on exit.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ewtest.XXXXXX")
cleanup_fns=()
on_exit() { cleanup_fns+=("$*"); }
run_cleanup() { for f in "${cleanup_fns[@]}"; do eval "$f" || true; done; rm -rf "$TMP"; }
trap run_cleanup EXIT
# start_redis: a private redis-server on a unix socket in $TMP; sets REDIS_SOCK.
start_redis() {
	REDIS_SOCK=$TMP/redis.sock
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
		--dir "$TMP" --save '' --appendonly no --daemonize no \
		--logfile "$TMP/redis.log" >/dev/null 2>&1 &
	REDIS_PID=$!
	on_exit "kill $REDIS_PID 2>/dev/null; wait $REDIS_PID 2>/dev/null"
	for _ in $(seq 100); do
		redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "redis-server did not start" >&2
	return 1
}
rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
