#!/usr/bin/env bash
# bench_ingest: how fast egress-collector consumes reports. Preloads the
# stream of a private redis-server with REPORTS reports x IDS identities,
# times the collector draining them (parse, apply, rules, commit to Redis),
# and prints identity-records per second, by wall clock and by the
# collector's own CPU time (the second is steadier on a busy machine).
#   tests/bench/bench_ingest.sh [REPORTS [IDS]]      target: >= 200000/s
. "$(dirname "$0")/../lib.sh"
REPORTS=${1:-2000} IDS=${2:-500}
GEN=$BUILD/tools/integration/collector_gen
[ -x "$COLLECTOR" ] && [ -x "$GEN" ] || { echo "build $COLLECTOR and $GEN first" >&2; exit 1; }
start_redis || exit 1
"$GEN" --redis "unix:$REDIS_SOCK" --count "$REPORTS" --ids "$IDS" --dests 2 || exit 1
# run LABEL DETECT: drains the preloaded stream with the detector on or off
# (a fresh consumer group each time), prints the rates.
run() {
	local label=$1 det=$2
	rcli DEL egress:collector:identities egress:collector:sensors egress:collector:meta egress:collector:acked \
		egress:collector:detect >/dev/null
	rcli XGROUP DESTROY egress:reports collectors >/dev/null 2>&1
	cp "$TOP/configs/collector.conf" "$TMP/c.conf"
	sed -i 's/^http = .*/http = off/; s|^alerts_file = .*|alerts_file =|; s|^redis = .*|redis = unix:'"$REDIS_SOCK"'|; s/^enabled = on/enabled = '"$det"'/' "$TMP/c.conf"
	local t0 t1
	t0=$(date +%s.%N)
	/usr/bin/time -f "%U %S" -o "$TMP/cpu" "$COLLECTOR" -c "$TMP/c.conf" --exit-when-idle 2>"$TMP/c.log" || {
		cat "$TMP/c.log" >&2; exit 1; }
	t1=$(date +%s.%N)
	local applied
	applied=$("$COLLECTOR" -c "$TMP/c.conf" --dump-state 2>/dev/null | jq .counters.applied)
	[ "$applied" = "$REPORTS" ] || { echo "applied $applied of $REPORTS" >&2; exit 1; }
	read -r u s <"$TMP/cpu"
	awk -v n=$((REPORTS * IDS)) -v w="$(echo "$t1 - $t0" | bc)" -v c="$(echo "$u + $s" | bc)" -v l="$label" 'BEGIN {
		printf "ingest (%s): %d identity-records/s (%d records in %.2f s wall)%s\n", l, n / w, n, w,
			(n / w >= 200000 ? "" : " (MISS: target 200000)")
		printf "ingest-cpu (%s): %d identity-records/s (collector CPU %.2f s)\n", l, n / c, c }'
}
run "rules only, detector off" off
run "rules and learned detector" on
