#!/usr/bin/env bash
# t_decode_malformed: hostile captures never crash or hang the decoder.
#
# Runs build/tools/pcap/pcap_sources over every file in
# $PCAPS/corpus/malformed (truncated, fuzzed, bogus-header captures, see
# $PCAPS/README.md). Each run must end within its timeout with exit 0 (read
# to the end) or 2 (libpcap reported a clean open/read error); a signal, a
# sanitizer report or a timeout fails. Build with sanitizers to make this
# bite: make B=build-asan SANITIZE=address,undefined \
#   build-asan/tools/pcap/pcap_sources && BUILD=build-asan bash $0
. "$(dirname "$0")/../lib.sh"

TOOL=$BUILD/tools/pcap/pcap_sources
PER_FILE_TIMEOUT=${PER_FILE_TIMEOUT:-20}

if [ ! -d "$PCAPS/corpus/malformed" ]; then
	skip "decode malformed: capture corpus not found at $PCAPS/corpus/malformed"
	finish
	exit $?
fi
if [ ! -x "$TOOL" ]; then
	fail "decode malformed: $TOOL not built (make $TOOL)"
	finish
	exit $?
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

n=0
for path in "$PCAPS"/corpus/malformed/*; do
	f=$(basename "$path")
	n=$((n + 1))
	timeout -s KILL "$PER_FILE_TIMEOUT" "$TOOL" "$path" >/dev/null 2>"$TMP/err"
	rc=$?
	if grep -qE 'Sanitizer|runtime error:' "$TMP/err"; then
		fail "$f: sanitizer report: $(grep -m1 -E 'Sanitizer|runtime error:' "$TMP/err")"
	elif [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]; then
		pass "$f (exit $rc)"
	elif [ "$rc" -eq 137 ]; then
		fail "$f: no result within ${PER_FILE_TIMEOUT}s"
	else
		fail "$f: exit $rc: $(head -c 300 "$TMP/err")"
	fi
done
[ "$n" -gt 0 ] || fail "decode malformed: no captures in $PCAPS/corpus/malformed"
finish
