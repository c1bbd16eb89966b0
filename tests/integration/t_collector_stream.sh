#!/usr/bin/env bash
# How egress-collector reads, claims, acknowledges and commits the report
# stream, against a real redis-server: a dead consumer's pending reports are
# taken over (at start, in stream order, and while running once idle), a
# deleted consumer group is recreated where the collector left off, entries
# trimmed before they were applied and entries with no "report" field are
# dead-lettered with their reason and counted, and the detector's learning
# is saved when the stream goes idle and on stop.
. "$(dirname "$0")/../lib.sh"
command -v jq >/dev/null || { skip "jq not installed"; finish; exit; }
[ -x "$COLLECTOR" ] || { fail "build $COLLECTOR first"; finish; exit; }
start_redis || { fail "redis"; finish; exit; }
R=unix:$REDIS_SOCK
T=1742380800

conf() {        # conf FILE PREFIX BATCH [MORE LINES...]
	local f=$1 p=$2 b=$3
	shift 3
	{
		printf '[collector]\nhttp = off\nprefix = %s\nbatch = %s\n' "$p" "$b"
		for l in "$@"; do echo "$l"; done
		printf '[rule burst-1h]\nwindow = 1h\nmax_bytes = 1MB\nseverity = high\n'
	} >"$f"
}
# rep PREFIX SENSOR SEQ START END IDENT OUT_BYTES: one report
rep() {
	rcli XADD "$1reports" '*' report "{\"v\":1,\"sensor\":\"$2\",\"seq\":$3,\"start\":$4,\"end\":$5,\"identities\":[{\"identity\":\"$6\",\"out_bytes\":$7,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0,\"destinations\":[{\"addr\":\"198.51.100.$(($3 % 200 + 1))\",\"port\":443,\"proto\":\"tcp\",\"bytes\":$7,\"packets\":1}]}],\"stats\":{\"packets_seen\":1,\"packets_undecoded\":0,\"drops_kernel\":0}}" >/dev/null
}
reps() {        # reps PREFIX FROM TO [STEP_S]: reports FROM..TO of sensor gw-1, identity web
	local st=${4:-10}
	for s in $(seq "$2" "$3"); do rep "$1" gw-1 "$s" $((T + st * s)) $((T + st * s + st)) web 1000; done
}
collect() { "$COLLECTOR" -c "$1" --redis "$R" --exit-when-idle 2>>"$TMP/c.log"; }
dump() { "$COLLECTOR" -c "$1" --redis "$R" --dump-state 2>>"$TMP/c.log"; }
summary() {     # applied dead duplicates gaps web_out
	dump "$1" | jq -r '[.counters.applied, .counters.dead, .counters.duplicates, .counters.gaps,
		([.identities[] | select(.identity=="web") | .out_bytes] | add // 0)] | map(tostring) | join(" ")'
}
pending() { rcli XPENDING "$1reports" collectors | head -1; }
wait_for() { for _ in $(seq 150); do eval "$1" && return 0; sleep 0.1; done; return 1; }

# --- takeover at start: a dead consumer's batch comes first, in order -------
# collector-1 read 5 reports and died before its commit; the replacement
# runs as collector-2. Its state is collector-1's last commit, so those 5 are
# the next to apply: claimed and applied before the 15 newer ones.
conf "$TMP/a.conf" a: 10 "consumer = collector-2"
rcli XGROUP CREATE a:reports collectors 0 MKSTREAM >/dev/null
reps a: 1 20
rcli XREADGROUP GROUP collectors collector-1 COUNT 5 STREAMS a:reports '>' >/dev/null
collect "$TMP/a.conf"
got=$(summary "$TMP/a.conf")
[ "$got" = "20 0 0 0 20000" ] && [ "$(pending a:)" = 0 ] &&
	pass "a dead consumer's pending reports are taken over at start and applied once, in order" ||
	fail "takeover at start: applied dead duplicates gaps web_out = $got (want 20 0 0 0 20000), pending $(pending a:)"
grep -q "taking over 5 entries pending on other consumers" "$TMP/c.log" && pass "the takeover is logged" ||
	fail "no takeover line in the log"

# --- takeover while running: entries left pending claim_idle long ----------
# Another consumer reads 3 new reports (atomically with their XADD, so the
# running collector cannot read them first) and never acks them.
conf "$TMP/b.conf" b: 10 "consumer = collector-2" "claim_idle = 1s"
rcli XGROUP CREATE b:reports collectors 0 MKSTREAM >/dev/null
reps b: 1 5
"$COLLECTOR" -c "$TMP/b.conf" --redis "$R" 2>>"$TMP/b.log" &
CP=$!
on_exit "kill $CP 2>/dev/null; wait $CP 2>/dev/null"
wait_for '[ "$(summary "$TMP/b.conf" | cut -d" " -f1)" = 5 ]' || fail "running collector did not apply 5"
{
	echo MULTI
	for s in 6 7 8; do
		echo "XADD b:reports * report '{\"v\":1,\"sensor\":\"gw-1\",\"seq\":$s,\"start\":$((T + 10 * s)),\"end\":$((T + 10 * s + 10)),\"identities\":[{\"identity\":\"web\",\"out_bytes\":1000,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0}],\"stats\":{\"packets_seen\":1,\"packets_undecoded\":0,\"drops_kernel\":0}}'"
	done
	echo "XREADGROUP GROUP collectors zombie COUNT 10 STREAMS b:reports >"
	echo EXEC
} | rcli >/dev/null
[ "$(rcli XPENDING b:reports collectors | sed -n 4p)" = zombie ] || fail "setup: zombie holds no entries"
wait_for '[ "$(summary "$TMP/b.conf" | cut -d" " -f1)" = 8 ]'
got=$(summary "$TMP/b.conf")
[ "$got" = "8 0 0 0 8000" ] && [ "$(pending b:)" = 0 ] &&
	pass "entries pending on another consumer past claim_idle are claimed by the running collector" ||
	fail "claim while running: $got (want 8 0 0 0 8000), pending $(pending b:)"
kill -TERM $CP
wait $CP

# --- trimmed before applied: dead-lettered with that reason, counted --------
# trimmed PREFIX CONSUMER N: N of 10 entries read by CONSUMER, then trimmed
# away; the collector (collector-1) starts.
trimmed() {
	conf "$TMP/t.conf" "$1" 10
	rcli XGROUP CREATE "$1reports" collectors 0 MKSTREAM >/dev/null
	reps "$1" 1 10
	rcli XREADGROUP GROUP collectors "$2" COUNT "$3" STREAMS "$1reports" '>' >/dev/null
	local keep reasons d
	keep=$(rcli --raw XRANGE "$1reports" - + COUNT $(($3 + 1)) | grep -E '^[0-9]+-[0-9]+$' | tail -1)
	rcli XTRIM "$1reports" MINID "$keep" >/dev/null
	collect "$TMP/t.conf"
	reasons=$(rcli --raw XRANGE "$1reports:dead" - + | awk 'p{print; p=0} /^reason$/{p=1}' | sort | uniq -c | sed 's/^ *//')
	d=$(dump "$TMP/t.conf")
	[ "$reasons" = "$3 entry trimmed from the stream before it was applied" ] &&
		[ "$(echo "$d" | jq '.counters.dead')" = "$3" ] &&
		[ "$(echo "$d" | jq '.dead_reasons["entry trimmed from the stream before it was applied"]')" = "$3" ] &&
		[ "$(echo "$d" | jq '.counters.applied')" = $((10 - $3)) ] && [ "$(pending "$1")" = 0 ] ||
		echo "trimmed $*: reasons '$reasons', dead $(echo "$d" | jq -c '[.counters.dead, .dead_reasons]'), applied $(echo "$d" | jq .counters.applied), pending $(pending "$1")"
}
r=$(trimmed t: collector-1 3)
[ -z "$r" ] && pass "own pending entries trimmed from the stream: dead-lettered as trimmed, counted" || fail "$r"
r=$(trimmed u: other 2)
[ -z "$r" ] && pass "another consumer's pending entries trimmed from the stream: dead-lettered as trimmed, counted" || fail "$r"

# --- an entry whose only field is "alert" is no report ----------------------
conf "$TMP/f.conf" f: 10
J='{"v":1,"sensor":"gw-1","seq":1,"start":'$T',"end":'$((T + 10))',"identities":[{"identity":"web","out_bytes":777,"out_packets":1,"in_bytes":0,"in_packets":0}],"stats":{"packets_seen":1,"packets_undecoded":0,"drops_kernel":0}}'
rcli XADD f:reports '*' alert "$J" >/dev/null
collect "$TMP/f.conf"
got=$(summary "$TMP/f.conf")
r=$(rcli --raw XRANGE f:reports:dead - + | awk 'p{print; p=0} /^reason$/{p=1}')
[ "$got" = "0 1 0 0 0" ] && [ "$r" = "no report field" ] &&
	pass "an entry with an \"alert\" field and no \"report\" is dead-lettered as \"no report field\"" ||
	fail "alert field: $got, reason '$r'"

# --- a deleted consumer group is recreated where the collector left off ----
conf "$TMP/g.conf" g: 10
reps g: 1 20
rcli XADD g:reports '*' report 'not json' >/dev/null
rcli XADD g:reports '*' report '{"v":1}' >/dev/null
collect "$TMP/g.conf"
before=$(summary "$TMP/g.conf")
last=$(rcli --raw XREVRANGE g:reports + - COUNT 1 | head -1)
[ "$(rcli GET g:collector:acked)" = "$last" ] && pass "the last acked entry id is committed (g:collector:acked)" ||
	fail "acked $(rcli GET g:collector:acked), last entry $last"
# deleted while stopped: the next start recreates it after the last acked entry
rcli XGROUP DESTROY g:reports collectors >/dev/null
reps g: 21 22
collect "$TMP/g.conf"
got=$(summary "$TMP/g.conf")
[ "$before" = "20 2 0 0 20000" ] && [ "$got" = "22 2 0 0 22000" ] && [ "$(rcli XLEN g:reports:dead)" = 2 ] &&
	pass "group deleted while stopped: recreated at the last acked entry, nothing read twice" ||
	fail "group deleted while stopped: $before -> $got (want 22 2 0 0 22000), dead stream $(rcli XLEN g:reports:dead)"
# deleted under a running collector: it reconnects and carries on
"$COLLECTOR" -c "$TMP/g.conf" --redis "$R" 2>>"$TMP/g.log" &
CP=$!
on_exit "kill $CP 2>/dev/null; wait $CP 2>/dev/null"
sleep 0.5
rcli XGROUP DESTROY g:reports collectors >/dev/null
wait_for 'grep -q "created at entry" "$TMP/g.log"' || fail "no group recreated"
reps g: 23 24
wait_for '[ "$(summary "$TMP/g.conf" | cut -d" " -f1)" = 24 ]'
kill -TERM $CP
wait $CP
got=$(summary "$TMP/g.conf")
[ "$got" = "24 2 0 0 24000" ] && [ "$(rcli XLEN g:reports:dead)" = 2 ] &&
	pass "group deleted under a running collector: no report re-read, no dead letter twice" ||
	fail "group deleted live: $got (want 24 2 0 0 24000), dead stream $(rcli XLEN g:reports:dead)"

# --- the detector's learning is saved when idle and on stop -----------------
# d: batch 10, 30 reports in full batches; e: the same state and reports, in
# one short batch (always saved). Both start from one state (COPY), so the
# detector (seed included) is the same and must end byte-identical.
conf "$TMP/d.conf" d: 10
conf "$TMP/e.conf" e: 100
reps d: 1 10 600
collect "$TMP/d.conf"
for k in reports collector:identities collector:sensors collector:meta collector:detect collector:acked; do
	rcli COPY "d:$k" "e:$k" >/dev/null
done
for p in d: e:; do reps $p 11 30 600; done
"$COLLECTOR" -c "$TMP/d.conf" --redis "$R" 2>"$TMP/d.log" &
CP=$!
on_exit "kill $CP 2>/dev/null; wait $CP 2>/dev/null"
wait_for '[ "$(summary "$TMP/d.conf" | cut -d" " -f1)" = 30 ]'
sleep 0.3
kill -TERM $CP
wait $CP
collect "$TMP/e.conf"
same=$(rcli EVAL "return redis.call('GET', KEYS[1]) == redis.call('GET', KEYS[2]) and 1 or 0" 2 d:collector:detect e:collector:detect)
[ "$(summary "$TMP/e.conf" | cut -d" " -f1)" = 30 ] && [ "$same" = 1 ] &&
	pass "detector state saved once the stream went idle: the same as a run that saved after the last report" ||
	fail "detector state after SIGTERM differs from the reference (same=$same)"
grep -q "stopped; state saved" "$TMP/d.log" && pass "SIGTERM: stopped; state saved" || fail "stop log: $(tail -1 "$TMP/d.log")"
# --exit-when-idle stops right after the last batch: the stop saves it too.
reps d: 31 50 600
reps e: 31 50 600
collect "$TMP/d.conf"
collect "$TMP/e.conf"
same=$(rcli EVAL "return redis.call('GET', KEYS[1]) == redis.call('GET', KEYS[2]) and 1 or 0" 2 d:collector:detect e:collector:detect)
[ "$same" = 1 ] && pass "--exit-when-idle saves the detector's state" || fail "detector state after --exit-when-idle differs"
finish
