#!/usr/bin/env bash
# Golden summaries: the sensor's --summary of chosen real captures (one per
# link type and encapsulation worth guarding) against reviewed expected
# files in tests/pcap/golden/. A change of any count, identity, top
# destination or undecoded reason shows up as a diff. NAME.conf beside
# NAME.json, if present, is the sensor config for that capture (VXLAN and
# GENEVE decoding are off by default). The demo capture's summary is golden
# too, so this test runs where ../shared is absent.
#   GOLDEN_UPDATE=1 tests/pcap/t_golden.sh   rewrites the expected files (review the diff)
. "$(dirname "$0")/../lib.sh"
G=$TOP/tests/pcap/golden
command -v jq >/dev/null || { skip "golden: jq is not installed"; finish; exit; }
# Fields that depend on the path or the build, not on the packets.
norm() { jq -S 'del(.source, .memory_bytes)' "$1"; }

check() {   # check NAME CAPTURE
	local name=$1 cap=$2 conf=()
	[ -f "$G/$name.conf" ] && conf=(-c "$G/$name.conf")
	if ! "$SENSOR" -r "$cap" "${conf[@]}" --summary --no-progress >"$TMP/out.json" 2>"$TMP/err"; then
		# a capture that ends badly still prints its summary (exit 1)
		[ -s "$TMP/out.json" ] || { fail "$name: sensor failed: $(head -n 1 "$TMP/err")"; return; }
	fi
	if [ -n "${GOLDEN_UPDATE:-}" ]; then
		norm "$TMP/out.json" >"$G/$name.json"
		pass "$name: golden file written"
	elif [ ! -f "$G/$name.json" ]; then
		fail "$name: no golden file (GOLDEN_UPDATE=1 writes it)"
	elif diff <(norm "$G/$name.json") <(norm "$TMP/out.json") >"$TMP/diff"; then
		pass "$name: summary equals the golden file"
	else
		fail "$name: summary differs from the golden file: $(head -n 6 "$TMP/diff" | tr '\n' ' ')"
	fi
}

"$BUILD/tools/gen/pcapgen" --scenario demo --days 1 -o "$TMP/demo.pcap" 2>/dev/null &&
	check demo-1day "$TMP/demo.pcap" || fail "pcapgen --scenario demo failed"
# The same capture on standard input ("-r -" opens stdin, not a file).
if [ -z "${GOLDEN_UPDATE:-}" ] && [ -s "$TMP/demo.pcap" ]; then
	if "$SENSOR" -r - --summary --no-progress <"$TMP/demo.pcap" >"$TMP/stdin.json" 2>"$TMP/err" &&
		diff <(norm "$G/demo-1day.json") <(norm "$TMP/stdin.json") >"$TMP/diff"; then
		pass "demo-1day read from standard input (-r -): summary equals the golden file"
	else
		fail "demo-1day from standard input: $(head -n 1 "$TMP/err") $(head -n 6 "$TMP/diff" | tr '\n' ' ')"
	fi
fi

if [ ! -d "$PCAPS/corpus/real" ]; then
	skip "golden: $PCAPS is absent (it sits beside the clone in CI); real captures not checked"
	finish; exit
fi
for f in "$G"/*.json; do
	name=$(basename "$f" .json)
	[ "$name" = demo-1day ] && continue
	cap=$PCAPS/corpus/real/$name
	[ -f "$cap" ] || { fail "$name: capture missing from $PCAPS/corpus/real"; continue; }
	check "$name" "$cap"
done
finish
