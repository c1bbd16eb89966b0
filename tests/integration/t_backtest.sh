#!/usr/bin/env bash
# t_backtest: --backtest judges a candidate config on stored traffic. The
# live collector applies a stream in which "big" bursts; then a candidate
# with a lower cap must show the alerts it would add for the others, one
# with a higher cap the alert it would drop, the unchanged config no
# difference, all against the alerts stream; --against compares two configs
# on a report file; and Redis is left exactly as it was.
. "$(dirname "$0")/../lib.sh"
GEN=$BUILD/tools/integration/collector_gen
[ -x "$COLLECTOR" ] && [ -x "$GEN" ] || { fail "build $COLLECTOR and $GEN first"; finish; exit; }
start_redis || { fail "redis-server did not start"; finish; exit; }
R=unix:$REDIS_SOCK
conf() {   # conf FILE CAP
	printf '[collector]\nhttp = off\n[detect]\nenabled = off\n[rule cap-1h]\nwindow = 1h\nmax_bytes = %s\nseverity = high\n' "$2" >"$1"
}
conf "$TMP/live.conf" 1MB
conf "$TMP/low.conf" 100kB
conf "$TMP/high.conf" 100MB
# 60 reports x 4 identities (host-i sends 1000 x (1 + i) a report); big bursts from seq 30
"$GEN" --count 60 --ids 4 --bytes 1000 --burst big:30:100000 >"$TMP/r.jsonl"
"$GEN" --redis "$R" --count 60 --ids 4 --bytes 1000 --burst big:30:100000
"$COLLECTOR" -c "$TMP/live.conf" --redis "$R" --alerts-file "$TMP/a.jsonl" --exit-when-idle 2>"$TMP/live.log"
live=$(rcli XLEN egress:alerts)
[ "$live" -ge 1 ] && pass "live config raised $live alerts" || fail "live raised none: $(tail -n 2 "$TMP/live.log")"
rcli DEBUG DIGEST >"$TMP/digest.before" 2>/dev/null || rcli DBSIZE >"$TMP/digest.before"

bt() {  # bt NAME CONF [args]: stdout to NAME.out, stderr to NAME.err
	local name=$1 c=$2; shift 2
	"$COLLECTOR" --backtest -c "$c" --redis "$R" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
}
bt same "$TMP/live.conf"
grep -q "0 added, 0 dropped" "$TMP/same.err" && [ "$(wc -l <"$TMP/same.out")" = "$live" ] &&
	pass "unchanged config: the same $live alerts, no difference" || fail "same: $(tail -n 1 "$TMP/same.err")"
bt low "$TMP/low.conf"
lowsum=$(tail -n 1 "$TMP/low.err" | sed "s/.*: //")
added=$(grep -c '^+ would newly raise' "$TMP/low.err")
grep '^+ would newly raise' "$TMP/low.err" | grep -q ' host-' && [ "$added" -ge 1 ] &&
	pass "lower cap: $added alerts added, for identities the live config left alone" ||
	fail "low: $(tail -n 3 "$TMP/low.err")"
bt high "$TMP/high.conf"
grep -q '^- would no longer raise: big cap-1h high' "$TMP/high.err" && [ ! -s "$TMP/high.out" ] &&
	pass "higher cap: big's alert dropped, none raised" || fail "high: $(tail -n 3 "$TMP/high.err")"
"$COLLECTOR" --backtest -c "$TMP/low.conf" --reports "$TMP/r.jsonl" --against "$TMP/live.conf" \
	>"$TMP/ag.out" 2>"$TMP/ag.err"
[ "$(tail -n 1 "$TMP/ag.err" | sed "s/.*: //")" = "$lowsum" ] &&
	pass "--against on a report file agrees with the stream comparison ($lowsum)" ||
	fail "against: $(tail -n 1 "$TMP/ag.err") vs $lowsum"
rcli DEBUG DIGEST >"$TMP/digest.after" 2>/dev/null || rcli DBSIZE >"$TMP/digest.after"
cmp -s "$TMP/digest.before" "$TMP/digest.after" && pass "backtests left Redis unchanged" ||
	fail "Redis changed by a backtest"
finish
