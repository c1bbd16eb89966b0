#!/usr/bin/env bash
# scenarios.sh: measures detection on simulated weeks of reports.
#
#   tests/scenarios.sh full [DIR]    40 identities, 8 weeks benign, thefts on day 28
#                                    (make scenarios), then the limits: the
#                                    known-destination and drip thefts from
#                                    identities of other sizes; the tables go to
#                                    stdout and build/scenarios.md
#   tests/scenarios.sh quick [DIR]   16 identities, 3 weeks, thefts on day 14
#                                    (tests/gen/t_scenarios.sh, under a minute)
#
# Each scenario: build/tools/gen/scenario_sim writes reports and a truth
# file, detect_replay runs them through the detection engine, and
# scenario_score compares its alerts with the truth. Exit status 1 when a
# target (first table) is missed; the limits table is information.
set -u
cd "$(dirname "$0")/.."
mode=${1:-full}
BUILD=${BUILD:-build}
T=$BUILD/tools/gen
dir=${2:-$BUILD/scenarios-$mode}
mkdir -p "$dir"
case $mode in
full) common=(--identities 40 --theft-day 28); benign_days=56; drip_days=72 ;;
quick) common=(--identities 16 --theft-day 14); benign_days=21; drip_days=20 ;;
*) echo "usage: $0 full|quick [DIR]" >&2; exit 2 ;;
esac
allow=(--allow 203.0.113.0/24=500000000000)

# run NAME SCENARIO [SIM OPTIONS]: $dir/NAME.truth.json and $dir/NAME.alerts.jsonl
run() {
	local name=$1 s=$2; shift 2
	"$T/scenario_sim" -s "$s" -o /dev/stdout -t "$dir/$name.truth.json" "${common[@]}" "$@" |
		"$T/detect_replay" -r - -o "$dir/$name.alerts.jsonl" "${allow[@]}" --version "scenarios-$mode" \
			2>"$dir/$name.log"
}
# Two at a time: the machine has two cores (and each run is a pipe of two).
pids=()
bg() {
	run "$@" &
	pids+=($!)
	if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}"; pids=("${pids[@]:1}"); fi
}
pairs() { for n in "$@"; do echo "$dir/$n.truth.json:$dir/$n.alerts.jsonl"; done; }

scen=(benign burst6h slow5d drip newid knowndest split)
for s in "${scen[@]}"; do
	case $s in
	benign) bg "$s" "$s" --days "$benign_days" ;;
	drip) bg "$s" "$s" --days "$drip_days" ;;
	*) bg "$s" "$s" ;;
	esac
done
sweep=()
if [ "$mode" = full ]; then
	for th in 20 24 28 32; do bg "kd$th" knowndest --thief "$th"; sweep+=("kd$th"); done
	for th in 8 16 20 24; do bg "dr$th" drip --thief "$th" --days 36; sweep+=("dr$th"); done
fi
wait

out=$("$T/scenario_score" $(pairs "${scen[@]}")); rc=$?
echo "$out"
if [ "$mode" = full ]; then
	limits=$("$T/scenario_score" $(pairs knowndest "${sweep[@]:0:4}" drip "${sweep[@]:4}"))
	echo
	echo "Limits (not targets): the known-destination and drip thefts from identities of other sizes"
	echo
	echo "$limits"
	{
		echo "# Detection scenarios (tests/scenarios.sh full)"
		echo
		echo "40 identities (2 KB/s to 30 MB/s), 8 weeks benign, each theft injected"
		echo "separately on day 28; reports every 10 min (every minute around a theft's start)."
		echo
		echo "$out"
		echo
		echo "## Limits (not targets): the same thefts from identities of other sizes"
		echo
		echo "$limits"
	} >"$BUILD/scenarios.md"
fi
exit $rc
