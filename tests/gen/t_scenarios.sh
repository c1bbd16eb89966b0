#!/usr/bin/env bash
# t_scenarios: the reduced detection run (tests/scenarios.sh quick: 16
# identities, 3 weeks, thefts on day 14): every theft is caught within its
# target, the benign weeks raise no alert, and a crash-restore drill (state
# saved and reloaded every 97 reports) raises exactly the same alerts.
source "$(dirname "$0")/../lib.sh"
T=$BUILD/tools/gen
for b in scenario_sim scenario_score detect_replay; do
	[ -x "$T/$b" ] || { fail "$T/$b not built"; finish; exit; }
done
out=$(BUILD=$BUILD "$TOP/tests/scenarios.sh" quick "$TMP/q"); rc=$?
echo "$out"
row() { echo "$out" | grep -E "^\| $1( \([^)]*\))? \|"; }
for s in burst6h slow5d drip newid knowndest split; do
	r=$(row "$s")
	if echo "$r" | grep -qE "^\| $s( \([^)]*\))? \| yes \|.*\| yes \| [0-9]+ \(0\) \|$"; then
		pass "$s: detected within its target, no high false alert: $(echo "$r" | cut -d'|' -f4-7)"
	else
		fail "$s: $r"
	fi
done
r=$(row benign)
if echo "$r" | grep -qE "\| yes \| 0 in [0-9.]+ identity-weeks"; then
	pass "benign: no alert in $(echo "$r" | grep -oE '[0-9.]+ identity-weeks')"
else
	fail "benign: $r"
fi
[ "$rc" -eq 0 ] && pass "scenario_score exit status 0" || fail "scenario_score exit status $rc"
# The ground truth must be what the table claims: 92 GB in the 6 h theft.
tb=$(python3 -c "import json;print(int(json.load(open('$TMP/q/burst6h.truth.json'))['series'][-1][1]))")
[ "$tb" -ge 91900000000 ] && [ "$tb" -le 92100000000 ] && pass "burst6h truth sums to 92 GB" ||
	fail "burst6h truth sums to $tb bytes"
# Crash-restore drill: the same alerts with the state saved and reloaded.
"$T/scenario_sim" -s split --identities 16 --theft-day 14 -o "$TMP/split.jsonl" -t "$TMP/split.truth"
"$T/detect_replay" -r "$TMP/split.jsonl" -o "$TMP/a1" --allow 203.0.113.0/24=500000000000
"$T/detect_replay" -r "$TMP/split.jsonl" -o "$TMP/a2" --allow 203.0.113.0/24=500000000000 --reload-every 97
if [ -s "$TMP/a1" ] && cmp -s "$TMP/a1" "$TMP/a2"; then
	pass "state save/load every 97 reports: identical $(wc -l <"$TMP/a1") alerts"
else
	fail "state save/load changed the alerts"
fi
finish
