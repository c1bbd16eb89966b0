#!/usr/bin/env bash
# t_demo: the README's main command end to end. tests/demo.sh --no-wait runs
# a private redis-server, the sensor replaying the generated demo capture and
# the collector; then every identity's bytes must agree three ways (the
# generator's truth, the sensor's --summary, the collector's state after the
# stream), the theft must be alerted and nobody else, and replaying the
# reports a second time must change nothing.
. "$(dirname "$0")/../lib.sh"
command -v jq >/dev/null || { skip "t_demo: jq is not installed"; finish; exit; }
D=$TMP/demo
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if ! "$TOP/tests/demo.sh" --no-wait --dir "$D" --port "$PORT" >"$TMP/demo.out" 2>&1; then
	fail "demo.sh failed: $(tail -n 5 "$TMP/demo.out")"
	finish; exit
fi
on_exit "kill $(cat "$D/pids") 2>/dev/null"
pass "demo.sh ran to the alerts"

# identity -> out_bytes, from each of the three.
jq -r '.identities[] | "\(.identity) \(.out_bytes)"' "$D/truth.json" | sort >"$TMP/truth"
jq -r '.identities[] | "\(.identity) \(.out_bytes)"' "$D/summary.json" | sort >"$TMP/summary"
"$COLLECTOR" --dump-state -c "$D/collector.conf" >"$TMP/state.json" 2>"$TMP/state.err" ||
	fail "--dump-state: $(cat "$TMP/state.err")"
jq -r '.identities[] | select(.out_bytes > 0) | "\(.identity) \(.out_bytes)"' "$TMP/state.json" | sort >"$TMP/collector"
[ "$(wc -l <"$TMP/truth")" -eq 10 ] || fail "truth has $(wc -l <"$TMP/truth") identities, want 10"
if diff "$TMP/truth" "$TMP/summary" >"$TMP/d1"; then
	pass "sensor --summary equals the generator's truth for every identity"
else
	fail "sensor summary differs from truth: $(head -n 4 "$TMP/d1" | tr '\n' ' ')"
fi
if diff "$TMP/truth" "$TMP/collector" >"$TMP/d2"; then
	pass "collector state after the stream equals the truth for every identity"
else
	fail "collector state differs from truth: $(head -n 4 "$TMP/d2" | tr '\n' ' ')"
fi
egress=$(jq '.egress.bytes' "$D/truth.json")
sum=$(jq '[.identities[].out_bytes] | add' "$TMP/state.json")
[ "$sum" = "$egress" ] && pass "collector's identities sum to the egress total ($egress)" ||
	fail "collector sum $sum != egress $egress"

alerted=$(jq -r '.identity' "$D/alerts.jsonl" | sort -u | tr '\n' ' ')
[ "$alerted" = "analytics-etl " ] && pass "the theft is alerted, and only it" ||
	fail "alerted identities: '$alerted', want 'analytics-etl '"
# Rule alerts name addresses, detector alerts the /24 they group by.
bad=$(jq -r 'select(.top_destinations[0].addr | IN("198.51.100.200", "198.51.100.0/24") | not) | .rule' \
	"$D/alerts.jsonl" | tr '\n' ' ')
[ -z "$bad" ] && pass "every alert names the exfiltration's destination first" ||
	fail "alerts whose top destination is not 198.51.100.200: $bad"
first=$(jq -s -r 'sort_by(.time) | .[0] | "\(.rule) \(.observed_bytes)"' "$D/alerts.jsonl")
[ "${first#* }" -lt 2000000000 ] && pass "first alert ($first) before 2 GB were out" ||
	fail "first alert only at $first bytes"
detector=$(jq -r 'select(.rule | startswith("volume") | not) | .rule' "$D/alerts.jsonl" | sort -u | tr '\n' ' ')
[ -n "$detector" ] && pass "the learned detector alerted: $detector" || fail "no alert from the detector"
nalerts=$(wc -l <"$D/alerts.jsonl")
[ "$(redis-cli -s "$D/redis.sock" XLEN egress:alerts)" = "$nalerts" ] &&
	pass "alerts stream and file agree ($nalerts)" || fail "alerts stream and file disagree"

# Re-delivered reports (the same sensor and seq, as after a sensor that
# lost the XADD reply sends again) are applied zero times more.
applied=$(jq '.counters.applied' "$TMP/state.json")
R() { redis-cli -s "$D/redis.sock" "$@"; }
R --raw XRANGE egress:reports - + COUNT 100 | awk 'p=="report"{print} {p=$0}' >"$TMP/again"
while IFS= read -r rep; do R XADD egress:reports '*' report "$rep" >/dev/null; done <"$TMP/again"
for _ in $(seq 200); do
	lag=$(R --raw XINFO GROUPS egress:reports | awk 'p=="lag"{print} {p=$0}')
	[ "$lag" = 0 ] && break
	sleep 0.1
done
"$COLLECTOR" --dump-state -c "$D/collector.conf" >"$TMP/state2.json" 2>/dev/null
jq -r '.identities[] | select(.out_bytes > 0) | "\(.identity) \(.out_bytes)"' "$TMP/state2.json" | sort >"$TMP/collector2"
dups=$(jq '.counters.duplicates' "$TMP/state2.json")
[ "$(wc -l <"$TMP/again")" -eq 100 ] || fail "could not read 100 reports back from the stream"
if diff -q "$TMP/truth" "$TMP/collector2" >/dev/null && [ "$(jq '.counters.applied' "$TMP/state2.json")" = "$applied" ]; then
	pass "100 re-delivered reports changed no total"
else
	fail "re-delivered reports changed the totals or the applied count"
fi
[ "$dups" = 100 ] && pass "each re-delivered report counted as a duplicate" || fail "duplicates $dups, want 100"

if command -v curl >/dev/null; then
	code=$(curl -s -o "$TMP/ids.json" -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/identities")
	[ "$code" = 200 ] && jq -e '.' "$TMP/ids.json" >/dev/null &&
		pass "the dashboard's API answers on :$PORT" || fail "GET /api/v1/identities: HTTP $code"
fi
finish
