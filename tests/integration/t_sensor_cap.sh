#!/usr/bin/env bash
# egress-collector's per-sensor identity cap against a real redis-server: a
# sensor past max_identities_per_sensor folds its new names into ~overflow
# (totals exact, counted for it), identities another sensor created keep
# being updated, and the counts survive a restart through the saved state.
. "$(dirname "$0")/../lib.sh"
GEN=$BUILD/tools/integration/collector_gen
command -v jq >/dev/null || { skip "jq not installed"; finish; exit; }
[ -x "$COLLECTOR" ] && [ -x "$GEN" ] || { fail "build $COLLECTOR and $GEN first"; finish; exit; }
start_redis || { fail "redis"; finish; exit; }
R=unix:$REDIS_SOCK

cat >"$TMP/c.conf" <<'EOF'
[collector]
http = off
max_identities = 100
max_identities_per_sensor = 3
[rule volume-1h]
window = 1h
max_bytes = 1TB
EOF
collect() {
	"$COLLECTOR" -c "$TMP/c.conf" --redis "$R" --alerts-file "$TMP/a.jsonl" --exit-when-idle 2>>"$TMP/c.log" &&
		"$COLLECTOR" -c "$TMP/c.conf" --redis "$R" --dump-state >"$TMP/$1.json" 2>>"$TMP/c.log"
}
out_of() { jq ".identities[] | select(.identity==\"$2\") | .out_bytes" "$TMP/$1.json"; }
sensor_of() { jq -r ".sensors[] | select(.sensor==\"$2\") | \"\(.identities) \(.identities_folded)\"" "$TMP/$1.json"; }

# gw-a: 5 reports naming host-0..host-4 (host-i sends 1000 x (1 + i) each):
# it creates host-0..2, host-3 and host-4 fold. gw-b: 5 reports naming
# host-0, host-1 (gw-a's) and its own new bnew (700 each).
"$GEN" --redis "$R" --sensor gw-a --count 5 --ids 5 --bytes 1000
"$GEN" --redis "$R" --sensor gw-b --count 5 --ids 2 --bytes 1000 --burst bnew:1:700
collect s1 || fail "collector run 1: $(tail -3 "$TMP/c.log")"
[ -z "$(out_of s1 host-3)$(out_of s1 host-4)" ] && [ -n "$(out_of s1 host-2)" ] &&
	pass "gw-a's 4th and 5th new identities folded" || fail "identities: $(jq -c '[.identities[].identity]' "$TMP/s1.json")"
[ "$(out_of s1 '~overflow')" = 45000 ] && pass "~overflow holds their 45000 bytes" ||
	fail "~overflow $(out_of s1 '~overflow')"
sum=$(jq '[.identities[].out_bytes] | add' "$TMP/s1.json")
[ "$sum" = $((75000 + 18500)) ] && pass "sum over identities = bytes sent ($sum)" || fail "sum $sum"
[ "$(out_of s1 host-0)" = 10000 ] && [ "$(out_of s1 bnew)" = 3500 ] &&
	pass "gw-b updates gw-a's identities and creates its own" ||
	fail "host-0 $(out_of s1 host-0), bnew $(out_of s1 bnew)"
[ "$(sensor_of s1 gw-a)" = "3 10" ] && [ "$(sensor_of s1 gw-b)" = "1 0" ] &&
	[ "$(jq .counters.sensor_cap_records "$TMP/s1.json")" = 10 ] &&
	pass "counted: gw-a 3 identities, 10 folded; sensor_cap_records 10" ||
	fail "gw-a $(sensor_of s1 gw-a), gw-b $(sensor_of s1 gw-b), $(jq -c .counters "$TMP/s1.json")"

# After a restart (state loaded from Redis) gw-a is still at its cap.
"$GEN" --redis "$R" --sensor gw-a --first-seq 6 --count 1 --ids 0 --burst late-a:1:500
"$GEN" --redis "$R" --sensor gw-b --first-seq 6 --count 1 --ids 0 --burst late-b:1:300
collect s2 || fail "collector run 2: $(tail -3 "$TMP/c.log")"
[ -z "$(out_of s2 late-a)" ] && [ "$(out_of s2 '~overflow')" = 45500 ] &&
	pass "after a restart gw-a still folds its new names" ||
	fail "late-a $(out_of s2 late-a), ~overflow $(out_of s2 '~overflow')"
[ "$(out_of s2 late-b)" = 300 ] && pass "and gw-b still creates its own" || fail "late-b $(out_of s2 late-b)"
[ "$(sensor_of s2 gw-a)" = "3 11" ] && [ "$(sensor_of s2 gw-b)" = "2 0" ] &&
	[ "$(jq .counters.sensor_cap_records "$TMP/s2.json")" = 11 ] &&
	pass "counts carried over the restart" ||
	fail "gw-a $(sensor_of s2 gw-a), gw-b $(sensor_of s2 gw-b), $(jq -c .counters "$TMP/s2.json")"
finish
