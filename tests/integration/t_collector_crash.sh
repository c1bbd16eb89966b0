#!/usr/bin/env bash
# egress-collector crash safety against a real redis-server: SIGKILLed at
# random points while reports stream in, and Redis itself stopped and
# restarted mid-run, the collector ends with exactly the state of a run
# without interruptions (totals, windows, counters, sensors) and raises
# every alert exactly once, in the stream and in the file.
. "$(dirname "$0")/../lib.sh"
GEN=$BUILD/tools/integration/collector_gen
command -v jq >/dev/null || { skip "jq not installed"; finish; exit; }
[ -x "$COLLECTOR" ] && [ -x "$GEN" ] || { fail "build $COLLECTOR and $GEN first"; finish; exit; }
start_redis || { fail "redis"; finish; exit; }
R=unix:$REDIS_SOCK
# Enough work per report that a kill often lands mid-batch.
CHUNKS=20 PER=20 IDS=200
conf() {        # conf PREFIX
	cat <<EOF
[collector]
http = off
prefix = $1
batch = 5
[rule burst-1h]
window = 1h
max_bytes = 2MB
severity = medium
[rule daily-24h]
window = 24h
max_bytes = 20MB
severity = high
EOF
}
feed() {        # feed ADDR PREFIX FIRST_CHUNK LAST_CHUNK DELAY
	for c in $(seq "$3" "$4"); do
		"$GEN" --redis "$1" --prefix "$2" --first-seq $((c * PER + 1)) --count $PER --ids $IDS \
			--bytes 2000 --dup-every 7 --burst exfil:100:150000 || return 1
		sleep "$5"
	done
}
dump() { "$COLLECTOR" -c "$1" --redis "$2" --dump-state 2>/dev/null | jq -S 'del(.corrupt_records)'; }

# --- the reference: no interruptions ---------------------------------------
conf ref: >"$TMP/ref.conf"
feed "$R" ref: 0 $((CHUNKS - 1)) 0
"$COLLECTOR" -c "$TMP/ref.conf" --redis "$R" --alerts-file "$TMP/ref.jsonl" --exit-when-idle 2>"$TMP/ref.log"
dump "$TMP/ref.conf" "$R" >"$TMP/ref.json"
nref=$(wc -l <"$TMP/ref.jsonl")
[ "$(jq .counters.applied "$TMP/ref.json")" = $((CHUNKS * PER)) ] && [ "$nref" -ge 3 ] &&
	pass "reference run: $((CHUNKS * PER)) reports, $nref alerts" || { fail "reference run"; cat "$TMP/ref.log"; }

# --- SIGKILL at random points while reports stream in -----------------------
conf k: >"$TMP/k.conf"
feed "$R" k: 0 $((CHUNKS - 1)) 0.1 &
FEED=$!
on_exit "kill $FEED 2>/dev/null"
kills=0
for i in $(seq 10); do
	"$COLLECTOR" -c "$TMP/k.conf" --redis "$R" --alerts-file "$TMP/k.jsonl" 2>>"$TMP/k.log" &
	cp=$!
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))$((RANDOM % 10))"
	kill -KILL $cp 2>/dev/null && kills=$((kills + 1))
	wait $cp 2>/dev/null
done
wait $FEED
"$COLLECTOR" -c "$TMP/k.conf" --redis "$R" --alerts-file "$TMP/k.jsonl" --exit-when-idle 2>>"$TMP/k.log"
dump "$TMP/k.conf" "$R" >"$TMP/k.json"
if diff "$TMP/ref.json" "$TMP/k.json" >"$TMP/k.diff"; then
	pass "$kills SIGKILLs mid-stream: state identical to the uninterrupted run"
else
	fail "state after kills differs"; head -30 "$TMP/k.diff"
fi
[ "$(rcli --raw XRANGE k:alerts - + | grep '^{' | jq -r .id | sort)" = "$(jq -r .id "$TMP/ref.jsonl" | sort)" ] &&
	pass "alert stream: the same $nref alerts, none duplicated" ||
	fail "alert stream differs: $(rcli XLEN k:alerts) vs $nref"
[ "$(jq -r .id "$TMP/k.jsonl" | sort)" = "$(jq -r .id "$TMP/ref.jsonl" | sort)" ] &&
	pass "alerts file: the same $nref alerts, none duplicated" ||
	fail "alerts file differs: $(wc -l <"$TMP/k.jsonl") lines vs $nref"
[ "$(rcli XPENDING k:reports collectors | head -1)" = 0 ] && pass "nothing left pending" || fail "pending left"

# --- SIGKILLed, and replaced under a new consumer name each time -----------
# Each replacement takes over the reports its dead predecessor had read and
# not committed (they are the next ones to apply), so the end state is still
# exactly the uninterrupted run's.
conf kr: >"$TMP/kr.conf"
feed "$R" kr: 0 $((CHUNKS - 1)) 0.1 &
FEED=$!
on_exit "kill $FEED 2>/dev/null"
kills=0
for i in $(seq 8); do
	sed "s/^batch = 5$/batch = 5\nconsumer = c-$i/" "$TMP/kr.conf" >"$TMP/kr-$i.conf"
	"$COLLECTOR" -c "$TMP/kr-$i.conf" --redis "$R" --alerts-file "$TMP/kr.jsonl" 2>>"$TMP/kr.log" &
	cp=$!
	sleep "0.$((RANDOM % 3))$((RANDOM % 10))$((RANDOM % 10))"
	kill -KILL $cp 2>/dev/null && kills=$((kills + 1))
	wait $cp 2>/dev/null
done
wait $FEED
sed "s/^batch = 5$/batch = 5\nconsumer = c-last/" "$TMP/kr.conf" >"$TMP/kr-last.conf"
"$COLLECTOR" -c "$TMP/kr-last.conf" --redis "$R" --alerts-file "$TMP/kr.jsonl" --exit-when-idle 2>>"$TMP/kr.log"
dump "$TMP/kr.conf" "$R" >"$TMP/kr.json"
if diff "$TMP/ref.json" "$TMP/kr.json" >"$TMP/kr.diff"; then
	pass "$kills SIGKILLs, each replacement under a new consumer name: state identical to the uninterrupted run"
else
	fail "state after kills and renames differs"; head -30 "$TMP/kr.diff"
fi
[ "$(jq -r .id "$TMP/kr.jsonl" | sort)" = "$(jq -r .id "$TMP/ref.jsonl" | sort)" ] &&
	[ "$(rcli XPENDING kr:reports collectors | head -1)" = 0 ] &&
	pass "renamed replacements: the same $nref alerts once, nothing left pending" ||
	fail "renamed replacements: alerts $(wc -l <"$TMP/kr.jsonl") vs $nref, pending $(rcli XPENDING kr:reports collectors | head -1)"

# A torn last line in the file (a crash mid-append) is cut and the alert
# restored from the stream on the next start.
head -c -20 "$TMP/k.jsonl" >"$TMP/k2.jsonl"
"$COLLECTOR" -c "$TMP/k.conf" --redis "$R" --alerts-file "$TMP/k2.jsonl" --exit-when-idle 2>>"$TMP/k.log"
[ "$(jq -r .id "$TMP/k2.jsonl" | sort)" = "$(jq -r .id "$TMP/ref.jsonl" | sort)" ] &&
	pass "torn alerts file repaired from the stream" || fail "torn file not repaired"

# --- Redis stopped and restarted mid-run --------------------------------------
S2=$TMP/r2.sock
r2() {
	redis-server --port 0 --unixsocket "$S2" --unixsocketperm 700 --dir "$TMP" \
		--dbfilename r2.rdb --save '' --appendonly yes --appendfsync always \
		--appendfilename r2.aof --daemonize no --logfile "$TMP/r2.log" >/dev/null 2>&1 &
	R2PID=$!
	for _ in $(seq 100); do redis-cli -s "$S2" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
	return 1
}
r2 || { fail "second redis"; finish; exit; }
on_exit 'kill $R2PID 2>/dev/null; wait $R2PID 2>/dev/null'
conf rr: >"$TMP/rr.conf"
feed "unix:$S2" rr: 0 $((CHUNKS - 1)) 0
"$COLLECTOR" -c "$TMP/rr.conf" --redis "unix:$S2" --alerts-file "$TMP/rr.jsonl" 2>"$TMP/rr.log" &
CP=$!
on_exit "kill $CP 2>/dev/null"
sleep 0.2
redis-cli -s "$S2" shutdown >/dev/null 2>&1
wait $R2PID 2>/dev/null
sleep 1
r2 || fail "redis restart"
for _ in $(seq 200); do
	[ "$(dump "$TMP/rr.conf" "unix:$S2" | jq .counters.applied)" = $((CHUNKS * PER)) ] && break
	sleep 0.1
done
kill -TERM $CP; wait $CP
grep -q reconnecting "$TMP/rr.log" && pass "collector saw Redis go away and reconnected" ||
	fail "no reconnect seen: $(tail -3 "$TMP/rr.log")"
dump "$TMP/rr.conf" "unix:$S2" >"$TMP/rr.json"
if diff "$TMP/ref.json" "$TMP/rr.json" >"$TMP/rr.diff"; then
	pass "Redis restart mid-run: nothing lost or duplicated"
else
	fail "state after redis restart differs"; head -30 "$TMP/rr.diff"
fi
[ "$(redis-cli -s "$S2" --raw XRANGE rr:alerts - + | grep '^{' | jq -r .id | sort)" = "$(jq -r .id "$TMP/ref.jsonl" | sort)" ] &&
	[ "$(jq -r .id "$TMP/rr.jsonl" | sort)" = "$(jq -r .id "$TMP/ref.jsonl" | sort)" ] &&
	pass "Redis restart: alerts once in stream and file" || fail "alerts after redis restart differ"
finish
