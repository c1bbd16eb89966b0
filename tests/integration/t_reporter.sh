#!/usr/bin/env bash
# The sensor's reporter against a real redis-server on a unix socket, driven
# by build/tools/integration/report_drive: reports arrive in order, exactly
# once, with the right JSON, through a Redis crash and restart, through a
# SIGKILL of the sensor while Redis is down (spooled reports are sent after
# the restart, seq continues), and a full spool drops its oldest, counted.
. "$(dirname "$0")/../lib.sh"
RD=${REPORT_DRIVE:-$BUILD/tools/integration/report_drive}
if [ ! -x "$RD" ]; then
	skip "reporter: $RD not built"; finish; exit
fi
command -v redis-server >/dev/null || { skip "reporter: no redis-server"; finish; exit; }

# check_stream SENSOR FIRST LAST: the stream holds exactly the reports
# FIRST..LAST of SENSOR, once each, in order, each with the content that
# report_drive gives report number seq (index == seq in these tests).
check_stream() {
	rcli --raw XRANGE egress:reports - + >"$TMP/stream.txt"
	python3 - "$1" "$2" "$3" "$TMP/stream.txt" 2>&1 <<'EOF'
import json, sys
sensor, first, last, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lines = open(path).read().split("\n")
if lines and lines[-1] == "":
    lines.pop()
if len(lines) % 3:
    sys.exit("stream dump has %d lines" % len(lines))
seqs = []
for k in range(0, len(lines), 3):
    if lines[k + 1] != "report":
        sys.exit("entry %s: field %r" % (lines[k], lines[k + 1]))
    r = json.loads(lines[k + 2])
    if r["sensor"] != sensor:
        continue
    s = r["seq"]
    seqs.append(s)
    want = {"web-prod": 1000000 + s, "db-1": 2000000 + s, "batch-7": 3000000 + s}
    got = {i["identity"]: i["out_bytes"] for i in r["identities"]}
    if got != want or r["v"] != 1 or r["start"] != 1742380800 + 10 * (s - 1) \
            or r["end"] != r["start"] + 10 or r["stats"]["packets_seen"] != 1000 + s \
            or r["identities"][0]["destinations"][0]["bytes"] != 1000000 + s:
        sys.exit("seq %d: wrong content %s" % (s, lines[k + 2][:200]))
if seqs != list(range(first, last + 1)):
    dups = len(seqs) - len(set(seqs))
    sys.exit("seqs %s (%d entries, %d duplicates), want %d..%d" %
             (seqs[:5] + ["..."] + seqs[-5:], len(seqs), dups, first, last))
print("ok")
EOF
}
stat_of() { grep '^stats ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
wait_for() {  # wait_for SECONDS COMMAND...: polls until the command succeeds
	local n=$(($1 * 20)); shift
	for _ in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
	return 1
}
# A redis on $REDIS_SOCK that keeps every acknowledged write (AOF, fsync
# always), so a SIGKILL loses nothing it acknowledged.
redis_aof() {
	mkdir -p "$TMP/aof"
	redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 700 \
		--dir "$TMP/aof" --appendonly yes --appendfsync always --save '' \
		--daemonize no --logfile "$TMP/aof/redis.log" >/dev/null 2>&1 &
	AOF_PID=$!
	on_exit "kill -9 $AOF_PID 2>/dev/null"
	wait_for 5 rcli ping >/dev/null 2>&1
}
redis_kill() { kill -9 "$1"; wait "$1" 2>/dev/null; rm -f "$REDIS_SOCK"; }
# seed DIR: a spool whose numbering starts at 1 (a fresh one starts at the
# clock in microseconds), so seq == report_drive's index in these tests.
seed() { mkdir -p "$1"; echo 1 >"$1/seq"; }

# (a) N reports arrive in order, exactly once, with the right JSON; the
# heartbeat hash and the seq file agree; a clean restart continues seq.
start_redis || { fail "redis"; finish; exit; }
SP=$TMP/spool-a
seed "$SP"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-a --spool "$SP" --count 50 --pace 0.01 \
	--heartbeat 0.2 --duration 1.5 >"$TMP/a.out" 2>"$TMP/a.err"; rc=$?
out=$(check_stream gw-a 1 50)
if [ $rc -eq 0 ] && [ "$out" = ok ] && [ "$(stat_of "$TMP/a.out" sent)" = 50 ] &&
	[ "$(stat_of "$TMP/a.out" spooled)" = 0 ] && [ "$(cat "$SP/seq")" = 51 ]; then
	pass "50 reports: seq 1..50 once each, in order, right JSON; seq file says 51"
else
	fail "50 reports (exit $rc): $out; $(grep stats "$TMP/a.out")"
fi
hb=$(rcli HMGET egress:sensor:gw-a sent last_report_seq last_report_end queue_depth spool_depth packets_seen | tr '\n' ' ')
ttl=$(rcli TTL egress:sensor:gw-a)
if [ "$hb" = "50 50 1742381300.000000 0 0 1050 " ] && [ "$(rcli SISMEMBER egress:sensors gw-a)" = 1 ] &&
	[ "$ttl" -gt 0 ] && [ "$ttl" -le 10 ]; then
	pass "heartbeat hash: sent=50 last_report_seq=50 last_report_end, in egress:sensors, expires"
else
	fail "heartbeat hash: '$hb' ttl=$ttl"
fi
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-a --spool "$SP" --count 5 --first 51 --pace 0.01 \
	>"$TMP/a2.out" 2>&1
out=$(check_stream gw-a 1 55)
[ "$out" = ok ] && pass "restarted sensor continues at seq 51" || fail "restart seq: $out"

# (e) identity map feed: the hash is read, bad entries skipped, a change is
# noticed, an unchanged hash is not handed over again.
rcli HSET egress:identity-map 10.0.0.0/8 corp 10.1.2.3 web-1 bogus x >/dev/null
( sleep 1; rcli HSET egress:identity-map 2001:db8::/32 v6-net >/dev/null ) &
HPID=$!
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-e --spool "$TMP/spool-e" --count 0 \
	--duration 2 --idmap-poll 0.2 >"$TMP/e.out" 2>"$TMP/e.err"
wait $HPID
got=$(grep '^idmap' "$TMP/e.out" | tr '\n' ';')
if [ "$got" = "idmap prefixes=2 names=2;idmap prefixes=3 names=3;" ]; then
	pass "identity map: 2 good entries (1 bad skipped), then the change, each once"
else
	fail "identity map updates: '$got'"
fi

# (f) an error reply to XADD is counted and retried with backoff, not in a spin.
# The prefix egress:f: makes the stream key a string for the first 2s.
rcli SET egress:f:reports x >/dev/null
seed "$TMP/spool-f2"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-f2 --spool "$TMP/spool-f2" --count 3 --pace 0.01 \
	--prefix egress:f: --drain 20 >"$TMP/f.out" 2>"$TMP/f.err" &
FPID=$!
sleep 2.2
# The failed XADDs' transactions still ran their SET: set back below seq 1.
fixed=$(rcli GET egress:f:delivered:gw-f2)
rcli DEL egress:f:reports >/dev/null
wait $FPID; rc=$?
errs=$(stat_of "$TMP/f.out" redis_errors)
seqs=$(rcli --raw XRANGE egress:f:reports - + | grep -o '"seq":[0-9]*' | tr '\n' ' ')
if [ $rc -eq 0 ] && [ "$seqs" = '"seq":1 "seq":2 "seq":3 ' ] && [ "$errs" -ge 1 ] && [ "$errs" -le 4 ] &&
	[ "$fixed" = 0 ] && [ "$(rcli GET egress:f:delivered:gw-f2)" = 3 ]; then
	pass "XADD error reply: $errs errors counted over 2s (backoff), delivered mark kept at 0, then 1..3 in order"
else
	fail "XADD error reply: exit $rc seqs '$seqs' redis_errors=$errs delivered mark '$fixed'"
fi
kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; rm -f "$REDIS_SOCK"

# (b) Redis is killed mid-run and comes back on the same socket 3s later.
redis_aof || { fail "redis (aof)"; finish; exit; }
seed "$TMP/spool-b"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-b --spool "$TMP/spool-b" --count 80 --pace 0.05 \
	--queue-max 8 --drain 30 >"$TMP/b.out" 2>"$TMP/b.err" &
BPID=$!
wait_for 10 grep -q 'seq=20 ' "$TMP/b.out"
redis_kill "$AOF_PID"
sleep 3
redis_aof || fail "redis (aof) restart"
wait $BPID; rc=$?
out=$(check_stream gw-b 1 80)
if [ $rc -eq 0 ] && [ "$out" = ok ] && [ "$(stat_of "$TMP/b.out" reconnects)" = 1 ] &&
	[ "$(stat_of "$TMP/b.out" spooled)" -gt 20 ] && [ "$(stat_of "$TMP/b.out" undelivered)" = 0 ]; then
	pass "redis killed and restarted: seq 1..80 once each, in order ($(stat_of "$TMP/b.out" spooled) went through the spool)"
else
	fail "redis restart (exit $rc): $out; $(grep stats "$TMP/b.out")"
fi

# (c) the sensor is SIGKILLed while Redis is down; after both restart, the
# spooled reports arrive first and seq continues.
seed "$TMP/spool-c"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-c --spool "$TMP/spool-c" --count 30 --pace 0.05 \
	--duration 120 >"$TMP/c.out" 2>"$TMP/c.err" &
CPID=$!
wait_for 10 grep -q 'seq=10 ' "$TMP/c.out"
wait_for 5 sh -c "[ \"\$(redis-cli -s '$REDIS_SOCK' XLEN egress:reports)\" -ge 90 ]"
redis_kill "$AOF_PID"
wait_for 10 grep -q 'seq=30 ' "$TMP/c.out"
kill -9 $CPID; wait $CPID 2>/dev/null
nseg=$(ls "$TMP/spool-c" | grep -c '^seg-')
redis_aof || fail "redis (aof) restart"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-c --spool "$TMP/spool-c" --count 5 --first 31 \
	--pace 0.01 --heartbeat 0.1 --duration 1.5 >"$TMP/c2.out" 2>"$TMP/c2.err"; rc=$?
out=$(check_stream gw-c 1 35)
# Everything went through the spool, so the heartbeat's end of the last
# report sent is read from the spooled text (report 35 ends at +350 s).
hb=$(rcli HMGET egress:sensor:gw-c last_report_seq last_report_end | tr '\n' ' ')
[ "$hb" = "35 1742381150.000000 " ] && pass "heartbeat after a spool drain: last_report_seq 35 and its end" ||
	fail "heartbeat after a spool drain: '$hb'"
if [ $rc -eq 0 ] && [ "$out" = ok ] && [ "$nseg" -ge 1 ] && grep -q '^submit seq=31 index=31' "$TMP/c2.out" &&
	[ -z "$(ls "$TMP/spool-c" | grep '^seg-')" ]; then
	pass "SIGKILL while redis down: spooled reports sent after restart, seq 1..35 once each, spool emptied"
else
	fail "SIGKILL while redis down (exit $rc, segs $nseg): $out; $(grep stats "$TMP/c2.out")"
fi
redis_kill "$AOF_PID"

# (d) a full spool drops the oldest reports, counted; what it kept arrives.
rm -f "$REDIS_SOCK"
seed "$TMP/spool-d"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-d --spool "$TMP/spool-d" --count 12 --pace 0.01 \
	--spool-max 4200 --drain 0 >"$TMP/d.out" 2>"$TMP/d.err"; rc1=$?
# The spool keeps the newest reports whose records (JSON + 24 bytes) fit in 4200.
want=$(python3 - "$TMP/d.out" <<'EOF'
import re, sys
lens = [int(m.group(2)) for m in (re.match(r"submit seq=(\d+) index=\d+ len=(\d+)", l)
        for l in open(sys.argv[1])) if m]
total, kept = 0, 0
for n in reversed(lens):
    if total + n + 24 > 4200:
        break
    total += n + 24
    kept += 1
print(len(lens) - kept)
EOF
)
start_redis || { fail "redis"; finish; exit; }
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-d --spool "$TMP/spool-d" --count 0 >"$TMP/d2.out" 2>&1; rc2=$?
dropped=$(stat_of "$TMP/d.out" spool_dropped)
out=$(check_stream gw-d $((want + 1)) 12)
if [ $rc1 -eq 3 ] && [ $rc2 -eq 0 ] && [ "$want" -ge 5 ] && [ "$dropped" = "$want" ] && [ "$out" = ok ] &&
	[ "$(stat_of "$TMP/d.out" spool_depth)" = $((12 - want)) ]; then
	pass "spool full: oldest $want of 12 dropped and counted, $((want + 1))..12 delivered in order"
else
	fail "spool overflow (exit $rc1/$rc2): want $want dropped, stats: $(grep stats "$TMP/d.out"); $out"
fi

# (g) a sensor that died with its spool's front in flight: that XADD may have
# landed. Here it did (another sender put report 1 in the stream), so the
# restarted sensor finds it there and sends only 2..4.
rm -f "$REDIS_SOCK"
seed "$TMP/spool-g"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-g --spool "$TMP/spool-g" --count 3 --pace 0.01 \
	--drain 0 >"$TMP/g.out" 2>"$TMP/g.err"; rc1=$?
start_redis || { fail "redis"; finish; exit; }
seed "$TMP/spool-g1"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-g --spool "$TMP/spool-g1" --count 1 \
	>/dev/null 2>&1
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-g --spool "$TMP/spool-g" --count 1 --first 4 \
	>"$TMP/g2.out" 2>"$TMP/g2.err"; rc2=$?
out=$(check_stream gw-g 1 4)
if [ $rc1 -eq 3 ] && [ $rc2 -eq 0 ] && [ "$out" = ok ] &&
	grep -q 'report 1 is already in egress:reports' "$TMP/g2.err" &&
	[ "$(stat_of "$TMP/g2.out" sent)" = 4 ]; then
	pass "restart with the spool's front already in the stream: found, not sent again; 1..4 once each"
else
	fail "spool front already delivered (exit $rc1/$rc2): $out; $(grep stats "$TMP/g2.out"); $(cat "$TMP/g2.err")"
fi

# (h) the same, with 1,500 entries of another sensor after report 1: the
# check is one GET of egress:delivered:gw-h, not a scan of the stream's
# newest entries, so it still finds report 1 delivered.
kill "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; rm -f "$REDIS_SOCK"
seed "$TMP/spool-h"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-h --spool "$TMP/spool-h" --count 3 --pace 0.01 \
	--drain 0 >"$TMP/h.out" 2>"$TMP/h.err"; rc1=$?
start_redis || { fail "redis"; finish; exit; }
seed "$TMP/spool-h1"
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-h --spool "$TMP/spool-h1" --count 1 \
	>/dev/null 2>&1
for i in $(seq 1500); do
	echo "XADD egress:reports * report '{\"sensor\":\"other\",\"seq\":$i}'"
done | rcli >/dev/null
"$RD" --redis "unix:$REDIS_SOCK" --sensor gw-h --spool "$TMP/spool-h" --count 1 --first 4 \
	>"$TMP/h2.out" 2>"$TMP/h2.err"; rc2=$?
out=$(check_stream gw-h 1 4)
if [ $rc1 -eq 3 ] && [ $rc2 -eq 0 ] && [ "$out" = ok ] && [ "$(rcli XLEN egress:reports)" = 1504 ] &&
	grep -q 'report 1 is already in egress:reports' "$TMP/h2.err"; then
	pass "spool front delivered 1,500 entries ago: found by one GET, not sent again; 1..4 once each"
else
	fail "front behind 1,500 entries (exit $rc1/$rc2): $out; $(cat "$TMP/h2.err")"
fi

finish
