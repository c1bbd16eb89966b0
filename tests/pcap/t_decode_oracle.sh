#!/usr/bin/env bash
# t_decode_oracle: the decoder agrees with tshark on every real capture.
#
# For each file in $PCAPS/corpus/real, build/tools/pcap/pcap_sources prints
# per-source packets, ip_bytes, wire_bytes and cap_bytes; they must equal
# $PCAPS/oracle/<file>.tsv (tshark 4.0, see $PCAPS/README.md "The oracle").
# One pass/fail per file.
#
# The one documented exception (README, "Cross-check"): in
# tcpdump__pim-packet-assortment.pcap two records have caplen 65589, above
# the file's snaplen of 65535. libpcap 1.10 clamps them to the snaplen while
# Wireshark reports the full record, so a libpcap reader sees exactly 68
# fewer captured bytes. For that file every other column must still match
# exactly, and cap_bytes must match but for those 68 bytes in total.
. "$(dirname "$0")/../lib.sh"

TOOL=$BUILD/tools/pcap/pcap_sources
CLAMPED_FILE=tcpdump__pim-packet-assortment.pcap
CLAMPED_BYTES=68

if [ ! -d "$PCAPS/corpus/real" ] || [ ! -d "$PCAPS/oracle" ]; then
	skip "decode oracle: capture corpus not found at $PCAPS (corpus/real, oracle/)"
	finish
	exit $?
fi
if [ ! -x "$TOOL" ]; then
	fail "decode oracle: $TOOL not built (make $TOOL)"
	finish
	exit $?
fi

n=0
for path in "$PCAPS"/corpus/real/*; do
	f=$(basename "$path")
	n=$((n + 1))
	want=$PCAPS/oracle/$f.tsv
	got=$TMP/$f.tsv
	if [ ! -f "$want" ]; then
		fail "$f: no oracle file $want"
		continue
	fi
	if ! "$TOOL" "$path" >"$got" 2>"$TMP/err"; then
		fail "$f: pcap_sources exit $?: $(head -c 300 "$TMP/err")"
		continue
	fi
	if [ "$f" = "$CLAMPED_FILE" ]; then
		# Columns 1-4 exact; cap_bytes short by exactly CLAMPED_BYTES.
		if ! diff <(cut -f1-4 "$want") <(cut -f1-4 "$got") >"$TMP/diff"; then
			fail "$f: differs from oracle: $(head -n 6 "$TMP/diff" | tr '\n' ' ')"
			continue
		fi
		short=$(paste "$want" "$got" | awk -F'\t' 'NR > 1 { d += $5 - $10 } END { print d + 0 }')
		if [ "$short" -ne "$CLAMPED_BYTES" ]; then
			fail "$f: cap_bytes short by $short, expected $CLAMPED_BYTES (libpcap snaplen clamp)"
			continue
		fi
		pass "$f (cap_bytes $CLAMPED_BYTES short: libpcap clamps caplen to snaplen)"
		continue
	fi
	if diff "$want" "$got" >"$TMP/diff"; then
		pass "$f"
	else
		fail "$f: differs from oracle: $(head -n 6 "$TMP/diff" | tr '\n' ' ')"
	fi
done
[ "$n" -gt 0 ] || fail "decode oracle: no captures in $PCAPS/corpus/real"
finish
