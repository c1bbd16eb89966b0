#!/usr/bin/env bash
# Hostile captures: every file in corpus/malformed must end, under ASan and
# UBSan when build-asan exists, with a valid JSON summary or a clear error:
# no crash, no sanitizer report, no hang. Where libpcap reads the whole file,
# packets_seen must equal libpcap's own packet count (SOURCES.tsv).
. "$(dirname "$0")/../lib.sh"
S=$SENSOR
[ -x "$TOP/build-asan/egress-sensor" ] && S=$TOP/build-asan/egress-sensor
echo "sensor under test: $S"
# A capture that is not there: exit 2 and one line naming it once.
"$S" -r "$TMP/no-such.pcap" --summary --no-progress >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc -eq 2 ] && [ ! -s "$TMP/out" ] &&
	[ "$(cat "$TMP/err")" = "egress-sensor: $TMP/no-such.pcap: No such file or directory" ]; then
	pass "missing capture: exit 2, \"$(cat "$TMP/err")\""
else
	fail "missing capture: exit $rc, stderr \"$(head -c 200 "$TMP/err")\""
fi
if [ ! -d "$PCAPS/corpus/malformed" ]; then
	skip "malformed: $PCAPS is absent (it sits beside the clone in CI)"
	finish; exit
fi
declare -A want
while IFS=$'\t' read -r file _ _ _ _ _ _ cat _ _ _ status packets _; do
	[ "$cat" = malformed ] && { [ "$status" = OK ] || [ "$status" = READ_ERR ]; } && want[$file]=$packets
done < "$PCAPS/SOURCES.tsv"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for f in "$PCAPS"/corpus/malformed/*; do
	n=$(basename "$f")
	timeout 20 "$S" -r "$f" --summary --no-progress >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if grep -qE 'Sanitizer|runtime error' "$TMP/err"; then
		fail "$n: sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error' "$TMP/err")"
	elif [ $rc -eq 124 ]; then
		fail "$n: hung (killed after 20 s)"
	elif [ $rc -ge 128 ]; then
		fail "$n: killed by signal $((rc - 128))"
	elif [ $rc -eq 2 ]; then
		if [ -s "$TMP/out" ] || ! grep -q . "$TMP/err"; then
			fail "$n: exit 2 without a clear error"
		else
			pass "$n: rejected: $(head -c 120 "$TMP/err")"
		fi
	else
		seen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets_seen"])' "$TMP/out" 2>/dev/null)
		if [ -z "$seen" ]; then
			fail "$n: exit $rc without a valid JSON summary"
		elif [ -n "${want[$n]:-}" ] && [ "$seen" != "${want[$n]}" ]; then
			fail "$n: packets_seen $seen, libpcap reads ${want[$n]}"
		else
			pass "$n: summary, $seen packets (exit $rc)"
		fi
	fi
done
finish
