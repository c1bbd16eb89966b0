#!/usr/bin/env bash
# Runs every test component and sums their "N passed, N failed" lines.
# A component is a unit-test binary (build/unit/*), a fuzz corpus replay
# (build/fuzz/replay_*), or a script tests/*/t_*.sh.
set -u
cd "$(dirname "$0")/.."
log=build/test-logs; mkdir -p "$log"
P=0 F=0 S=0 broken=()
run() {
	local name=$1; shift
	local out="$log/$(basename "$name").log"
	"$@" >"$out" 2>&1; local rc=$?
	local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	if [ -z "$line" ]; then
		echo "BROKEN $name (exit $rc, no summary line; see $out)"; tail -n 20 "$out"
		broken+=("$name"); F=$((F + 1)); return
	fi
	local p f s
	p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	s=$(echo "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1); s=${s:-0}
	P=$((P + p)); F=$((F + f)); S=$((S + s))
	if [ "$f" -ne 0 ] || [ "$rc" -ne 0 ]; then
		echo "FAIL  $name: $line (exit $rc)"; grep -E '^(FAIL|BROKEN)|check failed|==' "$out" | head -n 30
		[ "$f" -eq 0 ] && F=$((F + 1))
	else
		echo "ok    $name: $line"
		grep -E '^skip' "$out" | head -n 5
	fi
}
for t in build/unit/*; do [ -x "$t" ] && run "$t" "$t"; done
# Corpora replay under ASan/UBSan when that build exists.
fz=build/fuzz; [ -d build-asan/fuzz ] && fz=build-asan/fuzz
for t in $fz/replay_*; do
	[ -x "$t" ] || continue
	c=tests/fuzz/corpus/${t##*/replay_}
	run "$t" "$t" "$c"
done
for t in tests/*/t_*.sh; do [ -f "$t" ] && run "$t" bash "$t"; done
echo
echo "$P passed, $F failed, $S skipped"
[ "$F" -eq 0 ]
