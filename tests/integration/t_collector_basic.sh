#!/usr/bin/env bash
# egress-collector against a real redis-server: exactly-once application of
# duplicated reports, dead letters with their reason, --check-config,
# --backtest, and SIGHUP reloads (good and bad).
. "$(dirname "$0")/../lib.sh"
GEN=$BUILD/tools/integration/collector_gen
command -v jq >/dev/null || { skip "jq not installed"; finish; exit; }
[ -x "$COLLECTOR" ] && [ -x "$GEN" ] || { fail "build $COLLECTOR and $GEN first"; finish; exit; }
start_redis || { fail "redis"; finish; exit; }
R=unix:$REDIS_SOCK

cat >"$TMP/c.conf" <<'EOF'
[collector]
http = off
batch = 7
[rule burst-1h]
window = 1h
max_bytes = 1MB
severity = high
EOF

# --- duplicates and dead letters -----------------------------------------
# 60 reports x 4 identities, every 5th written twice; "big" bursts from seq 30.
"$GEN" --redis "$R" --count 60 --ids 4 --bytes 1000 --dup-every 5 --burst big:30:100000
rcli XADD egress:reports '*' report 'not json' >/dev/null
rcli XADD egress:reports '*' report '{"v":2,"sensor":"x","seq":1,"start":1,"end":2,"identities":[],"stats":{}}' >/dev/null
rcli XADD egress:reports '*' report '{"v":1,"sensor":"x","seq":1,"start":1,"end":2,"identities":[{"identity":"a","out_bytes":-5,"out_packets":1,"in_bytes":0,"in_packets":0}],"stats":{"packets_seen":0,"packets_undecoded":0,"drops_kernel":0}}' >/dev/null
rcli XADD egress:reports '*' other field >/dev/null
"$COLLECTOR" -c "$TMP/c.conf" --redis "$R" --alerts-file "$TMP/a.jsonl" --exit-when-idle 2>"$TMP/c1.log"
"$COLLECTOR" -c "$TMP/c.conf" --redis "$R" --dump-state >"$TMP/s1.json" 2>>"$TMP/c1.log"
# host-i sends 1000 x (1 + i % 5) per report, once per seq despite the duplicates
ok=1
for i in 0 1 2 3; do
	want=$((1000 * (1 + i % 5) * 60))
	got=$(jq ".identities[] | select(.identity==\"host-$i\") | .out_bytes" "$TMP/s1.json")
	[ "$got" = "$want" ] || { ok=0; echo "host-$i out_bytes $got != $want"; }
done
[ $ok = 1 ] && pass "duplicated reports applied once (totals exact)" || fail "totals with duplicates"
got=$(jq '.identities[] | select(.identity=="big") | .out_bytes' "$TMP/s1.json")
[ "$got" = $((31 * 100000)) ] && pass "burst identity total $got" || fail "big out_bytes $got"
[ "$(jq .counters.duplicates "$TMP/s1.json")" = 12 ] && pass "12 duplicates counted" ||
	fail "duplicates: $(jq .counters.duplicates "$TMP/s1.json")"
[ "$(jq .counters.applied "$TMP/s1.json")" = 60 ] && pass "60 reports applied" || fail "applied $(jq .counters.applied "$TMP/s1.json")"
[ "$(jq '.sensors[0].last_seq' "$TMP/s1.json")" = 60 ] && pass "sensor last_seq 60" || fail "last_seq"

[ "$(rcli XLEN egress:reports:dead)" = 4 ] && pass "4 malformed reports in reports:dead" ||
	fail "dead len $(rcli XLEN egress:reports:dead)"
reasons=$(rcli --raw XRANGE egress:reports:dead - + | awk 'p{print; p=0} /^reason$/{p=1}')
echo "$reasons" | grep -q '^bad JSON' && echo "$reasons" | grep -q '^v: unsupported version' &&
	echo "$reasons" | grep -q 'identities\[0\].out_bytes: not a non-negative integer' &&
	echo "$reasons" | grep -q '^no report field' && pass "dead letters carry their reason" ||
	fail "dead reasons: $reasons"
rcli --raw XRANGE egress:reports:dead - + | grep -qx 'not json' && pass "dead letter keeps the raw report" || fail "raw report"
entry=$(rcli --raw XRANGE egress:reports:dead - + COUNT 1 | awk 'p{print; exit} /^entry$/{p=1}')
rcli --raw XRANGE egress:reports "$entry" "$entry" | grep -qx 'not json' && pass "dead letter names its entry" || fail "entry id $entry"
[ "$(jq '.counters.dead' "$TMP/s1.json")" = 4 ] && [ "$(jq '.dead_reasons["bad JSON"]' "$TMP/s1.json")" = 1 ] &&
	pass "dead letters counted by reason" || fail "dead counters $(jq -c .dead_reasons "$TMP/s1.json")"
pend=$(rcli XPENDING egress:reports collectors | head -1)
[ "$pend" = 0 ] && pass "everything acked" || fail "pending $pend"

# --- alerts: stream, file, pub/sub-visible ---------------------------------
n_stream=$(rcli XLEN egress:alerts)
n_file=$(wc -l <"$TMP/a.jsonl")
# big: 100 kB per 10 s report from seq 30: > 1 MB at seq 40 (11 reports), x2 at 50, (x4 never)
[ "$n_stream" = 2 ] && [ "$n_file" = 2 ] && pass "2 alerts (raise + escalation) in stream and file" ||
	fail "alerts stream $n_stream file $n_file"
first=$(head -1 "$TMP/a.jsonl")
for k in id time severity rule identity window_s observed_bytes baseline_bytes threshold_bytes top_destinations sensors first_seen message; do
	echo "$first" | jq -e "has(\"$k\")" >/dev/null || { fail "alert lacks $k"; }
done
[ "$(echo "$first" | jq -r '.identity + " " + .rule + " " + (.threshold_bytes|tostring) + " " + (.observed_bytes|tostring)')" = "big burst-1h 1000000 1100000" ] &&
	pass "alert fields: identity, rule, threshold, observed" || fail "alert: $first"

# --- backtest: same alerts from the JSONL file, nothing written -----------
"$GEN" --count 60 --ids 4 --bytes 1000 --dup-every 5 --burst big:30:100000 >"$TMP/r.jsonl"
before=$(rcli DBSIZE)
"$COLLECTOR" --backtest -c "$TMP/c.conf" --reports "$TMP/r.jsonl" >"$TMP/bt.jsonl" 2>"$TMP/bt.log"
[ "$(jq -r .id "$TMP/bt.jsonl" | sort)" = "$(jq -r .id "$TMP/a.jsonl" | sort)" ] &&
	pass "--backtest --reports prints the live run's alerts" || fail "backtest alerts differ"
"$COLLECTOR" --backtest -c "$TMP/c.conf" --redis "$R" >"$TMP/bt2.jsonl" 2>>"$TMP/bt.log"
[ "$(jq -r .id "$TMP/bt2.jsonl" | sort)" = "$(jq -r .id "$TMP/a.jsonl" | sort)" ] &&
	pass "--backtest over the stored stream" || fail "backtest from stream differs"
[ "$(rcli DBSIZE)" = "$before" ] && [ "$(rcli XLEN egress:alerts)" = 2 ] && pass "--backtest touches no live state" ||
	fail "backtest wrote to redis"

# --- --check-config ---------------------------------------------------------
printf '[collector]\nbatch = 0\n[rule x]\nwindow = 1h\nmax_bytes = 10XB\nbogus = 1\n' >"$TMP/bad.conf"
"$COLLECTOR" --check-config -c "$TMP/bad.conf" >"$TMP/cc.out" 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "^$TMP/bad.conf:2: batch" "$TMP/cc.out" && grep -q "^$TMP/bad.conf:5: max_bytes" "$TMP/cc.out" &&
	grep -q "^$TMP/bad.conf:6: unknown key \"bogus\"" "$TMP/cc.out" && pass "--check-config: every error as FILE:LINE, exit $rc" ||
	{ fail "--check-config (rc $rc)"; cat "$TMP/cc.out"; }
"$COLLECTOR" --check-config -c "$TOP/configs/collector.conf" >/dev/null 2>&1 && pass "example config checks clean" ||
	fail "configs/collector.conf does not check"

# --- SIGHUP reload ----------------------------------------------------------
cat >"$TMP/h.conf" <<'EOF'
[collector]
http = off
prefix = h:
[rule burst-1h]
window = 1h
max_bytes = 10MB
EOF
"$COLLECTOR" -c "$TMP/h.conf" --redis "$R" --alerts-file "$TMP/h.jsonl" 2>"$TMP/h.log" &
CP=$!
on_exit "kill $CP 2>/dev/null"
wait_for() { for _ in $(seq 100); do eval "$1" && return 0; sleep 0.1; done; return 1; }
"$GEN" --redis "$R" --prefix h: --sensor hs --count 20 --ids 0 --burst hot:1:200000
seq_of() { "$COLLECTOR" -c "$TMP/c.conf" --redis "$R" --dump-state 2>/dev/null | jq ".sensors[] | select(.sensor==\"$1\") | .last_seq"; }
cp "$TMP/c.conf" "$TMP/c.conf.bak"; sed -i 's/^http = off/http = off\nprefix = h:/' "$TMP/c.conf"
wait_for '[ "$(seq_of hs)" = 20 ]' || fail "collector did not apply 20 reports" 
[ "$(rcli XLEN h:alerts)" = 0 ] && pass "4 MB under the 10MB cap: no alert" || fail "alert before reload"
sed -i 's/max_bytes = 10MB/max_bytes = 5MB/' "$TMP/h.conf"
kill -HUP $CP
wait_for 'grep -q reloaded "$TMP/h.log"' && pass "SIGHUP reloaded" || fail "no reload"
"$GEN" --redis "$R" --prefix h: --sensor hs --first-seq 21 --count 10 --ids 0 --burst hot:1:200000
wait_for '[ "$(rcli XLEN h:alerts)" -ge 1 ]'
thr=$(rcli --raw XRANGE h:alerts - + | grep '^{' | head -1 | jq .threshold_bytes)
[ "$thr" = 5000000 ] && pass "next alert follows the new threshold (5MB)" || fail "threshold $thr"
echo '[rule burst-1h]' >"$TMP/h.conf"; echo 'window = forever' >>"$TMP/h.conf"
kill -HUP $CP
wait_for 'grep -q "reload of .* failed" "$TMP/h.log"' && grep -q "h.conf:2: window" "$TMP/h.log" &&
	pass "bad reload logged with FILE:LINE, old config kept" || fail "bad reload: $(tail -3 "$TMP/h.log")"
"$GEN" --redis "$R" --prefix h: --sensor hs2 --count 30 --ids 0 --burst cold:1:200000
wait_for '[ "$(rcli --raw XRANGE h:alerts - + | grep -c "\"identity\":\"cold\"")" -ge 1 ]'
thr=$(rcli --raw XRANGE h:alerts - + | grep '"identity":"cold"' | head -1 | jq .threshold_bytes)
[ "$thr" = 5000000 ] && pass "after a bad reload the old (5MB) rules still apply" || fail "cold threshold $thr"
kill -TERM $CP
wait $CP
rc=$?
[ $rc = 0 ] && grep -q "stopped" "$TMP/h.log" && pass "SIGTERM: clean stop" || fail "SIGTERM rc $rc"
finish
