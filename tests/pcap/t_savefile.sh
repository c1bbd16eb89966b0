#!/usr/bin/env bash
# The sensor's own pcap reader (savefile.h) against libpcap on every capture
# of the shared corpus, well-formed and malformed: for each file the two
# readings agree record for record and end alike (savefile_diff, handing
# records over 65,536 and 1 at a time), and the sensor's summary, stderr and
# exit status are the same with `libpcap_reader = on` as without. The same
# with `[sensor] filter = tcp`, and then the sensor sees exactly the records
# libpcap's filter passes. Files the own reader leaves to libpcap (pcapng,
# old versions, D-Bus) are counted.
. "$(dirname "$0")/../lib.sh"
DIFF=$BUILD/tools/pcap/savefile_diff
# The plain build: this is about sameness; t_malformed.sh runs the corpus
# under ASan/UBSan, the own reader included.
S=$SENSOR
[ -x "$DIFF" ] || { fail "$DIFF not built"; finish; exit; }
if [ ! -d "$PCAPS/corpus/real" ]; then
	skip "savefile: $PCAPS is absent (it sits beside the clone in CI)"
	finish; exit
fi
printf '[sensor]\nlibpcap_reader = on\n' >"$TMP/lp.conf"
printf '[sensor]\n' >"$TMP/own.conf"
printf '[sensor]\nfilter = tcp\nlibpcap_reader = on\n' >"$TMP/lp_tcp.conf"
printf '[sensor]\nfilter = tcp\n' >"$TMP/own_tcp.conf"
# alike CONF_A CONF_B FILE: the sensor's summary, stderr and exit status are
# the same under both configs; the summary is left in $TMP/a.json.
alike() {
	timeout 60 "$S" -c "$1" -r "$3" --summary --no-progress >"$TMP/a.json" 2>"$TMP/a.err"
	ra=$?
	timeout 60 "$S" -c "$2" -r "$3" --summary --no-progress >"$TMP/b.json" 2>"$TMP/b.err"
	rb=$?
	[ $ra -eq $rb ] && cmp -s "$TMP/a.json" "$TMP/b.json" && cmp -s "$TMP/a.err" "$TMP/b.err" && return 0
	why="exit $ra/$rb, $(diff "$TMP/a.json" "$TMP/b.json" | head -c 300) $(head -c 200 "$TMP/a.err") / $(head -c 200 "$TMP/b.err")"
	return 1
}
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
	if ! alike "$TMP/own.conf" "$TMP/lp.conf" "$f"; then
		fail "$n: the sensor's own reading differs from libpcap's: $why"
		continue
	fi
	tcp=$(timeout 60 "$DIFF" -f tcp "$f") || { fail "$n (filter tcp): ${tcp#"$f": }"; continue; }
	if ! alike "$TMP/own_tcp.conf" "$TMP/lp_tcp.conf" "$f"; then
		fail "$n: with filter tcp, the sensor's own reading differs from libpcap's: $why"
		continue
	fi
	seen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets_seen"])' "$TMP/a.json" 2>/dev/null)
	case $tcp in
	*": same "*)
		want=$(echo "${tcp#"$f": same }" | cut -d' ' -f1)
		if [ "$seen" != "$want" ]; then
			fail "$n: with filter tcp the sensor saw $seen packets, libpcap's filter passes $want"
			continue
		fi ;;
	esac
	pass "$n: ${out#"$f": } (summary alike; filter tcp: ${seen:-no summary} packets)"
done
echo "read by the sensor's own reader: $own files; left to libpcap: $lib_only"
# The sensor really reads with its own reader (the comparisons above would
# pass as well if it never did): its preads, on the corpus's largest
# classic pcap file, and none with libpcap reading.
big=$(ls -S "$PCAPS"/corpus/real/*.pcap | head -n 1)
if command -v strace >/dev/null; then
	strace -f -qq -P "$big" -e trace=pread64 -o "$TMP/own.trace" "$S" -c "$TMP/own.conf" -r "$big" --summary --no-progress >/dev/null 2>&1
	strace -f -qq -P "$big" -e trace=pread64 -o "$TMP/lp.trace" "$S" -c "$TMP/lp.conf" -r "$big" --summary --no-progress >/dev/null 2>&1
	po=$(grep -c 'pread64(' "$TMP/own.trace") pl=$(grep -c 'pread64(' "$TMP/lp.trace")
	[ "$po" -ge 2 ] && [ "$pl" = 0 ] && pass "the sensor reads $(basename "$big") with $po preads, and with none when libpcap_reader = on" ||
		fail "the sensor's reads of $(basename "$big"): $po preads by default, $pl with libpcap_reader = on"
else
	skip "which reader the sensor uses: strace is not installed"
fi
# The corpus exercises the own reader; it must have taken most of it.
[ "$own" -ge 100 ] && pass "the own reader read $own files of the corpus" ||
	fail "the own reader read only $own files of the corpus"
finish
