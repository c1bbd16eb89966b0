#!/usr/bin/env bash
# make fuzz: builds every tests/fuzz/fuzz_*.c as a libFuzzer target (clang,
# ASan + UBSan, the project's code instrumented for coverage) and runs each
# for SECONDS on a copy of its seed corpus. Any finding fails the run; the
# crashing input is kept under build-fuzz/findings/.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-20}
B=build-fuzz
# libseccomp's SCMP_A0 macros leave a field to zero, which clang warns about.
CF="-O1 -g -fsanitize=fuzzer-no-link -Wno-missing-field-initializers"
make --no-print-directory B=$B CC=clang SANITIZE=address,undefined CFLAGS="$CF" \
	$B/libsensor.a $B/libcollector.a $B/libcommon.a >/dev/null
LIBS="$B/libsensor.a $B/libcollector.a $B/libcommon.a $(pkg-config --libs libpcap libevent hiredis jansson inih libseccomp) -lm"
mkdir -p $B/targets $B/findings
P=0 F=0
for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c); name=${name#fuzz_}
	bin=$B/targets/$name
	clang -std=c11 -D_GNU_SOURCE -Iinclude $(pkg-config --cflags hiredis) -O1 -g \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		"$src" $LIBS -o "$bin"
	work=$B/corpus/$name; mkdir -p "$work"
	[ -d tests/fuzz/corpus/$name ] && cp -n tests/fuzz/corpus/$name/* "$work"/ 2>/dev/null || true
	if "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=$B/findings/$name- "$work" >$B/$name.log 2>&1; then
		echo "ok   fuzz $name: $(grep -oE '#[0-9]+[[:space:]]+DONE.*' $B/$name.log | tail -n1)"
		P=$((P + 1))
	else
		echo "FAIL fuzz $name: see $B/$name.log"; tail -n 30 $B/$name.log
		F=$((F + 1))
	fi
done
echo "$P passed, $F failed"
[ "$F" -eq 0 ]
