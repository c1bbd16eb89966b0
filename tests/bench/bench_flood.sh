#!/usr/bin/env bash
# Packet rate under a spoofed-source flood, as a ratio to the rate on a
# normal capture of the same size, in the same run on the same machine:
#   flood:  BENCH_N packets (default 1000000), every one from a new source
#   normal: the same count, spread over 100 sources (floodgen --sources 100)
# Each is replayed with `egress-sensor --summary` (default [limits], so the
# flood fills the identity table and then spills into ~overflow); best of
# BENCH_RUNS (3). The flood's summary lists max_identities identities (tens
# of MB of JSON), a fixed cost that is not the packet path, so the packet
# rate is measured as a difference: (N - N/5) / (t(N) - t(N/5)), both halves
# past the point where the tables are full. The whole-run ratio is printed
# too; on a busy machine the difference can drown in noise, so the pass
# mark is on the whole-run ratio: fails below BENCH_MIN_RATIO (0.10; measured 0.15-0.25), which
# would mean the flood degrades the tables (e.g. long probe chains).
. "$(dirname "$0")/../lib.sh"
FLOODGEN=$BUILD/tools/gen/floodgen
[ -x "$FLOODGEN" ] && [ -x "$SENSOR" ] || { skip "floodgen or sensor not built"; finish; exit; }
N=${BENCH_N:-1000000}
RUNS=${BENCH_RUNS:-3}
MIN=${BENCH_MIN_RATIO:-0.10}
H=$((N / 5))
for spec in "flood $N" "flood_half $H" "normal $N --sources 100" "normal_half $H --sources 100"; do
	set -- $spec
	name=$1 n=$2; shift 2
	"$FLOODGEN" -o "$TMP/$name.pcap" -n "$n" --seed 11 "$@" 2>/dev/null || { fail "floodgen $spec"; finish; exit; }
done

# best_ns FILE: nanoseconds of the fastest of RUNS replays.
best_ns() {
	local best=0 t0 t1
	for _ in $(seq "$RUNS"); do
		t0=$(date +%s%N)
		"$SENSOR" -r "$1" --summary --no-progress >/dev/null 2>&1 || { echo 0; return; }
		t1=$(date +%s%N)
		[ "$best" -eq 0 ] || [ $((t1 - t0)) -lt "$best" ] && best=$((t1 - t0))
	done
	echo "$best"
}
tf=$(best_ns "$TMP/flood.pcap") tfh=$(best_ns "$TMP/flood_half.pcap")
tn=$(best_ns "$TMP/normal.pcap") tnh=$(best_ns "$TMP/normal_half.pcap")
sf=$(stat -c %s "$TMP/flood.pcap") sn=$(stat -c %s "$TMP/normal.pcap")
echo "file sizes: flood $((sf / 1048576)) MiB, normal $((sn / 1048576)) MiB ($N packets each)"
read -r wf wn pf pn whole ratio < <(python3 -c '
import sys
n, h, tf, tfh, tn, tnh = map(int, sys.argv[1:])
wf, wn = n / tf * 1e9, n / tn * 1e9
pf = (n - h) / max(tf - tfh, 1) * 1e9
pn = (n - h) / max(tn - tnh, 1) * 1e9
print(f"{wf:.0f} {wn:.0f} {pf:.0f} {pn:.0f} {wf / wn:.3f} {pf / pn:.3f}")' "$N" "$H" "$tf" "$tfh" "$tn" "$tnh")
echo "whole run, summary output included: normal $wn packets/s, flood $wf packets/s, ratio $whole"
echo "packet path (N - N/5 difference):   normal $pn packets/s, flood $pf packets/s"
echo "flood_rate_ratio $whole (packet path: $ratio)"
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)" "$whole" "$MIN" &&
	pass "flood rate ratio $whole >= $MIN" || fail "flood rate ratio $whole < $MIN"
finish
