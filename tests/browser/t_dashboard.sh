#!/usr/bin/env bash
# t_dashboard: the dashboard in a real browser. Headless chromium (driven by
# playwright-core from npm, no browser download) loads the page served by
# tests/integration/http_fixture, sees the fixture's identities and sensors,
# sees alerts XADDed to a private redis-server appear live, opens an identity,
# and saves screenshots to build/test-logs/. A second fixture with a token
# proves the page asks for it and streams with it.
# Needs: chromium (Debian), node + npm; skipped with a message without them.
. "$(dirname "$0")/../lib.sh"
FIXTURE=$BUILD/tools/integration/http_fixture
HERE=$TOP/tests/browser
OUT=$TOP/build/test-logs

if "$HERE/embed_dashboard.sh" --check; then
	pass "collector/dashboard_html.inc is up to date with dashboard.html"
else
	fail "collector/dashboard_html.inc is stale: run tests/browser/embed_dashboard.sh"
fi

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
	skip "browser test: no chromium at $CHROMIUM (apt-get install chromium)"
	finish; exit
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	skip "browser test: node/npm not installed (apt-get install nodejs npm)"
	finish; exit
fi
if [ ! -x "$FIXTURE" ]; then
	fail "browser test: $FIXTURE not built"
	finish; exit
fi
if [ ! -d "$HERE/node_modules/playwright-core" ]; then
	if ! (cd "$HERE" && npm ci --no-audit --no-fund --ignore-scripts >"$TMP/npm.log" 2>&1); then
		skip "browser test: npm ci failed (offline?): $(tail -n 1 "$TMP/npm.log")"
		finish; exit
	fi
fi

start_redis || { fail "redis-server did not start"; finish; exit; }

# start_fixture NAME ARGS...: runs the fixture, sets PORT.
start_fixture() {
	local name=$1; shift
	"$FIXTURE" --redis "unix:$REDIS_SOCK" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	local pid=$!
	on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	for _ in $(seq 100); do
		PORT=$(sed -n 's/^port //p' "$TMP/$name.out")
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	return 1
}
start_fixture open || { fail "fixture did not start: $(cat "$TMP/open.err")"; finish; exit; }
BASE=http://127.0.0.1:$PORT
printf 's3cret-dashboard-token\n' >"$TMP/token"
start_fixture tok --token-file "$TMP/token" || { fail "token fixture did not start"; finish; exit; }
TOKEN_BASE=http://127.0.0.1:$PORT

mkdir -p "$OUT"
while IFS= read -r line; do
	case $line in
	"ok   "*) pass "${line#ok   }" ;;
	"FAIL "*) fail "${line#FAIL }" ;;
	*) echo "$line" ;;
	esac
done < <(cd "$HERE" && BASE=$BASE TOKEN_BASE=$TOKEN_BASE TOKEN=s3cret-dashboard-token \
	REDIS_SOCK=$REDIS_SOCK OUT_DIR=$OUT CHROMIUM=$CHROMIUM \
	timeout 120 node dashboard_test.js 2>&1 | sed -e '/^ok   /b' -e '/^FAIL /b' -e '/^#/b' -e 's/^/# /')
[ -s "$OUT/dashboard.png" ] && pass "screenshot saved: build/test-logs/dashboard.png" ||
	fail "no screenshot"

# The real thing: the demo's collector, a report that makes it alert.
DPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if "$TOP/tests/demo.sh" --no-wait --dir "$TMP/demo" --port "$DPORT" >"$TMP/demo.out" 2>&1; then
	on_exit "kill $(cat "$TMP/demo/pids") 2>/dev/null"
	while IFS= read -r line; do
		case $line in
		"ok   "*) pass "${line#ok   }" ;;
		"FAIL "*) fail "${line#FAIL }" ;;
		*) echo "$line" ;;
		esac
	done < <(cd "$HERE" && BASE=http://127.0.0.1:$DPORT REDIS_SOCK=$TMP/demo/redis.sock OUT_DIR=$OUT \
		CHROMIUM=$CHROMIUM timeout 120 node demo_test.js 2>&1 |
		sed -e '/^ok   /b' -e '/^FAIL /b' -e '/^#/b' -e 's/^/# /')
	[ -s "$OUT/demo-dashboard.png" ] && pass "screenshot saved: build/test-logs/demo-dashboard.png" ||
		fail "no demo screenshot"
else
	fail "demo.sh failed: $(tail -n 3 "$TMP/demo.out")"
fi
finish
