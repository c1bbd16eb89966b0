#!/usr/bin/env bash
# The sensor's own pcap reader (savefile.h) against libpcap on every capture
# of the shared corpus, well-formed and malformed: for each file the two
# readings agree record for record and end alike (savefile_diff, handing
# records over 65,536 and 1 at a time), and the sensor's summary, stderr and
# exit status are the same with `libpcap_reader = on` as without. Files the
# own reader leaves to libpcap (pcapng, old versions, D-Bus) are counted.
. "$(dirname "$0")/../lib.sh"
DIFF=$BUILD/tools/pcap/savefile_diff
S=$SENSOR
[ -x "$TOP/build-asan/egress-sensor" ] && S=$TOP/build-asan/egress-sensor
[ -x "$DIFF" ] || { fail "$DIFF not built"; finish; exit; }
if [ ! -d "$PCAPS/corpus/real" ]; then
	skip "savefile: $PCAPS is absent (it sits beside the clone in CI)"
	finish; exit
fi
printf '[sensor]\nlibpcap_reader = on\n' >"$TMP/lp.conf"
printf '[sensor]\n' >"$TMP/own.conf"
own=0 lib_only=0
for f in "$PCAPS"/corpus/real/* "$PCAPS"/corpus/malformed/*; do
	n=${f#"$PCAPS"/corpus/}
	for step in 65536 1; do
		out=$(timeout 60 "$DIFF" -s "$step" "$f")
		rc=$?
		if [ $rc -ne 0 ]; then
			fail "$n (step $step): exit $rc: ${out#"$f": }"
			continue 2
		fi
	done
	case $out in
	*": same "*) own=$((own + 1)) ;;
	*"libpcap only"|*unopened*) lib_only=$((lib_only + 1)) ;;
	esac
	timeout 60 "$S" -c "$TMP/own.conf" -r "$f" --summary --no-progress >"$TMP/a.json" 2>"$TMP/a.err"
	ra=$?
	timeout 60 "$S" -c "$TMP/lp.conf" -r "$f" --summary --no-progress >"$TMP/b.json" 2>"$TMP/b.err"
	rb=$?
	if [ $ra -ne $rb ] || ! cmp -s "$TMP/a.json" "$TMP/b.json" || ! cmp -s "$TMP/a.err" "$TMP/b.err"; then
		fail "$n: the sensor's own reading differs from libpcap's: exit $ra/$rb, $(diff "$TMP/a.json" "$TMP/b.json" | head -c 300) $(head -c 200 "$TMP/a.err") / $(head -c 200 "$TMP/b.err")"
	else
		pass "$n: ${out#"$f": } (sensor exit $ra, summary alike)"
	fi
done
echo "read by the sensor's own reader: $own files; left to libpcap: $lib_only"
# The corpus exercises the own reader; it must have taken most of it.
[ "$own" -ge 100 ] && pass "the own reader read $own files of the corpus" ||
	fail "the own reader read only $own files of the corpus"
finish
