#!/usr/bin/env bash
# make bench: every benchmark, as ratios against baselines in the same run.
#
# Runs tests/bench/bench_sensor.sh first (egress-sensor against a bare
# libpcap loop on generated captures; see its header), then every other
# tests/bench/bench_*.sh present, printing their output. At the end, one
# markdown table of all figures goes to stdout and to build/bench/results.md:
# bench_sensor's rows, then each other bench's lines that carry a number
# and its "N passed, N failed" line. A missed speed target is reported
# (MISS), not a failure; the exit status is 1 only when a bench failed (a
# failed count or a non-zero exit: a wrong count, a crash, a timeout).
#
# Knobs (environment): BENCH_SENSOR_N, BENCH_SENSOR_FULL_N, BENCH_RUNS,
# BENCH_DIR (see bench_sensor.sh), BENCH_TIMEOUT (seconds per bench script,
# default 300).
set -u
cd "$(dirname "$0")/../.."
OUT=${BENCH_DIR:-build/bench}
export BENCH_DIR=$OUT
mkdir -p "$OUT"
TIMEOUT=${BENCH_TIMEOUT:-300}
RES=$OUT/results.md
failed=()
declare -A summary
t_start=$(date +%s)

# run_bench SCRIPT: runs it, tees its output to $OUT/NAME.log.
run_bench() {
	local s=$1 name
	name=$(basename "$s" .sh)
	echo "=== $name"
	timeout "$TIMEOUT" bash "$s" 2>&1 | tee "$OUT/$name.log"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$OUT/$name.log" | tail -n 1)
	[ "$rc" = 124 ] && line="timed out after ${TIMEOUT}s"
	summary[$name]="${line:-no summary line (exit $rc)}"
	# A bench without a summary line is fine when it exits 0; a failed
	# count or a non-zero exit is a failure.
	if [ "$rc" -ne 0 ] || echo "$line" | grep -qE ' [1-9][0-9]* failed'; then
		failed+=("$name")
	fi
	echo
}

run_bench tests/bench/bench_sensor.sh
others=()
for s in tests/bench/bench_*.sh; do
	[ "$s" = tests/bench/bench_sensor.sh ] && continue
	others+=("$s")
	run_bench "$s"
done

# The table. Other benches print free-form figures: every line of theirs
# that carries a number becomes a row (their per-run detail lines, "... run
# N: ...", and the summary line aside), pass/fail prefixes kept as results.
{
	echo "# make bench results"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "| figure | value | target | result |"
	echo "|---|---|---|---|"
	[ -s "$OUT/sensor.rows" ] &&
		awk -F'|' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4 }' "$OUT/sensor.rows"
	echo "| bench_sensor | ${summary[bench_sensor]} | | |"
	for s in "${others[@]}"; do
		name=$(basename "$s" .sh)
		grep -E '[0-9]' "$OUT/$name.log" | grep -vE ' run [0-9]+:|^[0-9]+ passed, [0-9]+ failed' |
			sed 's/|/\\|/g' | awk -v n="$name" '{
				r = ""
				if ($1 == "ok") { r = "ok"; sub(/^ok +/, "") }
				else if ($1 == "FAIL") { r = "FAIL"; sub(/^FAIL +/, "") }
				else if ($1 == "skip") { r = "skip"; sub(/^skip +/, "") }
				printf "| %s | %s | | %s |\n", n, $0, r }'
		echo "| $name | ${summary[$name]} | | |"
	done
	echo
	echo "Whole run: $(($(date +%s) - t_start)) s. Logs: $OUT/*.log."
} >"$RES"
echo "=== results ($RES)"
cat "$RES"
if [ "${#failed[@]}" -gt 0 ]; then
	echo "failed: ${failed[*]}"
	exit 1
fi
