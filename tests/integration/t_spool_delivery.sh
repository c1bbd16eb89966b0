#!/usr/bin/env bash
# The sensor's delivery path under local trouble, with a real redis-server
# and report_drive (the reporter without a capture) or the real sensor:
#  - a second process on one spool directory is refused, naming it;
#  - a fresh numbering starts at the wall clock in microseconds, above any
#    earlier one; a bad seq file is refused with the advice to remove it;
#  - a seq file that cannot be written: every report still numbered, sent
#    and counted (heartbeat seq_write_errors), a restart numbers above;
#  - Redis refusing writes (WRONGTYPE) or stalled (CLIENT PAUSE): reports
#    go to the spool, so a SIGKILL loses none;
#  - a Redis that accepts and closes: the reconnect backoff grows, few log
#    lines;
#  - Redis away and the spool unwritable: the oldest in memory is dropped,
#    counted in spool_dropped, the newest delivered once Redis is back;
#  - max_report_bytes above one spool record (64 MiB) is a config error;
#  - a segment the sensor cannot open read-write is kept, logged, counted;
#  - with [sensor] chroot the spool and seq file still work (replay with
#    Redis up delivers every report).
. "$(dirname "$0")/../lib.sh"
RD=${REPORT_DRIVE:-$BUILD/tools/integration/report_drive}
[ -x "$RD" ] || { skip "spool delivery: $RD not built"; finish; exit; }
command -v redis-server >/dev/null || { skip "no redis-server"; finish; exit; }
start_redis || { fail "redis"; finish; exit; }
stat_of() { grep '^stats ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
# seqs SENSOR [PREFIX]: the seqs of SENSOR in the stream, in stream order
seqs() { rcli --raw XRANGE "${2:-egress:}reports" - + | grep -o "\"sensor\":\"$1\",\"seq\":[0-9]*" | sed 's/.*://' | tr '\n' ' '; }
# contiguous "S1 S2 ...": consecutive integers
contiguous() { python3 -c 'import sys; s=[int(x) for x in sys.argv[1:]]; sys.exit(0 if s and s == list(range(s[0], s[0]+len(s))) else 1)' $1; }
now_us() { date +%s%6N; }

# --- a second process on one spool directory ------------------------------
"$RD" --redis "unix:$REDIS_SOCK" --sensor lk --spool "$TMP/spool-lk" --count 2 --pace 0.01 \
	--duration 4 >"$TMP/lk1.out" 2>"$TMP/lk1.err" &
LK=$!
for _ in $(seq 100); do grep -q '^submit' "$TMP/lk1.out" && break; sleep 0.05; done
"$RD" --redis "unix:$REDIS_SOCK" --sensor lk --spool "$TMP/spool-lk" --count 2 --pace 0.01 \
	>"$TMP/lk2.out" 2>"$TMP/lk2.err"; rc=$?
cat >"$TMP/lk.conf" <<CONF
[sensor]
id = lk
flush_interval = 1s
[redis]
spool_dir = $TMP/spool-lk
heartbeat = 1s
CONF
PCAP=$(ls -S "$PCAPS"/corpus/real/*.pcap 2>/dev/null | head -n 1)
src=skip
if [ -n "$PCAP" ]; then
	"$SENSOR" -r "$PCAP" -c "$TMP/lk.conf" --redis "unix:$REDIS_SOCK" --no-progress 2>"$TMP/lk3.err"; src=$?
fi
wait $LK
if [ $rc -ne 0 ] && grep -q "spool $TMP/spool-lk is in use by another process" "$TMP/lk2.err" &&
	! grep -q '^submit' "$TMP/lk2.out" &&
	{ [ $src = skip ] || { [ $src -ne 0 ] && grep -q "spool $TMP/spool-lk is in use" "$TMP/lk3.err"; }; } &&
	[ "$(seqs lk | wc -w)" = 2 ]; then
	pass "second process on a spool refused (report_drive exit $rc, sensor exit $src), naming the directory"
else
	fail "spool lock: exit $rc/$src; $(cat "$TMP/lk2.err" "$TMP/lk3.err" 2>/dev/null | head -3); stream $(seqs lk)"
fi

# --- fresh numbering from the clock; a bad seq file -------------------------
t0=$(now_us)
"$RD" --redis "unix:$REDIS_SOCK" --sensor ck --spool "$TMP/spool-ck" --count 3 --pace 0.01 \
	>"$TMP/ck1.out" 2>&1; rc1=$?
t1=$(now_us)
s1=$(seqs ck)
first=${s1%% *}
echo garbage >"$TMP/spool-ck/seq"
"$RD" --redis "unix:$REDIS_SOCK" --sensor ck --spool "$TMP/spool-ck" --count 1 \
	>"$TMP/ck2.out" 2>"$TMP/ck2.err"; rc2=$?
rm "$TMP/spool-ck/seq"    # as the message says
"$RD" --redis "unix:$REDIS_SOCK" --sensor ck --spool "$TMP/spool-ck" --count 2 --pace 0.01 \
	>"$TMP/ck3.out" 2>&1; rc3=$?
s3=$(seqs ck)
if [ $rc1 -eq 0 ] && contiguous "$s1" && [ "$first" -ge "$t0" ] && [ "$first" -le "$t1" ] &&
	[ $rc2 -ne 0 ] && grep -q 'not a sequence number; remove it' "$TMP/ck2.err" &&
	[ $rc3 -eq 0 ] && [ "$(echo $s3 | wc -w)" = 5 ] &&
	python3 -c 'import sys; s=[int(x) for x in sys.argv[1:]]; sys.exit(0 if s == sorted(s) and s[3] > s[2] + 1000 else 1)' $s3; then
	pass "fresh numbering starts at the clock in microseconds ($first); after removing a bad seq file it starts above"
else
	fail "clock numbering: exit $rc1/$rc2/$rc3, t0 $t0 t1 $t1 seqs '$s3'; $(cat "$TMP/ck2.err")"
fi

# --- a seq file that cannot be written --------------------------------------
SQ=$TMP/spool-sq
mkdir -p "$SQ/seq.tmp"    # the temp file can't be created: every store fails
echo 1 >"$SQ/seq"
"$RD" --redis "unix:$REDIS_SOCK" --sensor sq --spool "$SQ" --count 5 --pace 0.05 \
	--heartbeat 0.1 --duration 1 >"$TMP/sq1.out" 2>"$TMP/sq1.err"; rc1=$?
s1=$(seqs sq)
errs=$(rcli HGET egress:sensor:sq seq_write_errors)
rmdir "$SQ/seq.tmp"
"$RD" --redis "unix:$REDIS_SOCK" --sensor sq --spool "$SQ" --count 2 --pace 0.01 \
	>"$TMP/sq2.out" 2>&1; rc2=$?
s2=$(seqs sq)
if [ $rc1 -eq 0 ] && [ "$(echo $s1 | wc -w)" = 5 ] && contiguous "$s1" && [ "${errs:-0}" -ge 5 ] &&
	[ "$(stat_of "$TMP/sq1.out" sent)" = 5 ] && grep -q 'cannot write .*/seq: ' "$TMP/sq1.err" &&
	[ $rc2 -eq 0 ] && [ "$(echo $s2 | wc -w)" = 7 ] &&
	python3 -c 'import sys; s=[int(x) for x in sys.argv[1:]]; sys.exit(0 if s == sorted(s) and len(set(s)) == 7 else 1)' $s2; then
	pass "seq file unwritable: 5 reports numbered and sent ($errs failures in the heartbeat hash), a restart numbers above them"
else
	fail "seq file unwritable: exit $rc1/$rc2, seqs '$s2', seq_write_errors '$errs'; $(head -3 "$TMP/sq1.err")"
fi

# --- Redis away and the spool unwritable: the oldest goes, counted -----------
UW=$TMP/spool-uw
mkdir -p "$UW"; echo 1 >"$UW/seq"
ASOCK=$TMP/late.sock
# Files may not grow past 1 KiB (EFBIG; SIGXFSZ ignored): one ~800-byte
# record fits in the spool, nothing after it.
( trap '' XFSZ; ulimit -f 1; exec "$RD" --redis "unix:$ASOCK" --sensor uw --spool "$UW" \
	--count 12 --pace 0.05 --queue-max 4 --duration 2 --drain 15 ) >"$TMP/uw.out" 2>"$TMP/uw.err" &
UWP=$!
sleep 1.2
redis-server --port 0 --unixsocket "$ASOCK" --unixsocketperm 700 --save '' --appendonly no \
	--daemonize no --logfile "$TMP/late.log" >/dev/null 2>&1 &
LATE=$!
on_exit "kill $LATE 2>/dev/null; wait $LATE 2>/dev/null"
wait $UWP; rc=$?
got=$(redis-cli -s "$ASOCK" --raw XRANGE egress:reports - + | grep -o '"seq":[0-9]*' | sed 's/.*://' | tr '\n' ' ')
if [ $rc -eq 0 ] && [ "$got" = "1 9 10 11 12 " ] && [ "$(stat_of "$TMP/uw.out" spool_dropped)" = 7 ] &&
	grep -q 'dropped report 2 (oldest' "$TMP/uw.err"; then
	pass "Redis away, spool unwritable: oldest 7 dropped and counted, 1 (spooled) and 9..12 (memory) delivered"
else
	fail "spool unwritable: exit $rc, stream '$got', $(grep stats "$TMP/uw.out"); $(head -3 "$TMP/uw.err")"
fi
kill $LATE 2>/dev/null

# --- Redis refusing or stalled: reports on disk, a crash loses none ------
# crash_run NAME PREFIX COUNT: report_drive submits COUNT reports, is
# SIGKILLed 3 s after the last one (past the 2 s an XADD may stay unanswered).
crash_run() {
	mkdir -p "$TMP/spool-$1"; echo 1 >"$TMP/spool-$1/seq"
	"$RD" --redis "unix:$REDIS_SOCK" --sensor "$1" --spool "$TMP/spool-$1" --prefix "$2" \
		--count "$3" --pace 0.1 --duration 60 >"$TMP/$1.out" 2>"$TMP/$1.err" &
	local p=$!
	for _ in $(seq 100); do grep -q "index=$3 " "$TMP/$1.out" && break; sleep 0.05; done
	sleep 3
	kill -9 $p; wait $p 2>/dev/null
}
rcli SET egress:w:reports x >/dev/null      # WRONGTYPE for every XADD
crash_run wt egress:w: 5
rcli DEL egress:w:reports >/dev/null
"$RD" --redis "unix:$REDIS_SOCK" --sensor wt --spool "$TMP/spool-wt" --prefix egress:w: --count 0 \
	>"$TMP/wt2.out" 2>&1; rc1=$?
rcli CLIENT PAUSE 20000 WRITE >/dev/null  # stalled: XADD unanswered
crash_run st egress:s: 3
rcli CLIENT UNPAUSE >/dev/null
"$RD" --redis "unix:$REDIS_SOCK" --sensor st --spool "$TMP/spool-st" --prefix egress:s: --count 0 \
	>"$TMP/st2.out" 2>&1; rc2=$?
if [ $rc1 -eq 0 ] && [ "$(seqs wt egress:w:)" = "1 2 3 4 5 " ] && [ $rc2 -eq 0 ] &&
	[ "$(seqs st egress:s:)" = "1 2 3 " ]; then
	pass "Redis refusing (WRONGTYPE) or stalled, sensor SIGKILLed: every report was on disk, delivered once after"
else
	fail "refusing/stalled then crash: exit $rc1/$rc2, WRONGTYPE run '$(seqs wt egress:w:)', stalled run '$(seqs st egress:s:)'"
fi

# --- max_report_bytes bounded by a spool record --------------------------------
printf '[sensor]\nid = mb\n[redis]\nspool_dir = %s\nmax_report_bytes = 65MiB\n' "$TMP/spool-mb" >"$TMP/mb.conf"
"$SENSOR" --check-config -c "$TMP/mb.conf" >/dev/null 2>"$TMP/mb.err"; rc1=$?
sed -i 's/65MiB/64MiB/' "$TMP/mb.conf"
"$SENSOR" --check-config -c "$TMP/mb.conf" >/dev/null 2>&1; rc2=$?
if [ $rc1 -ne 0 ] && grep -q 'mb.conf:[0-9]*: .*between 65536 and 67108864' "$TMP/mb.err" && [ $rc2 -eq 0 ]; then
	pass "max_report_bytes = 65MiB rejected as FILE:LINE (at most 64MiB, one spool record); 64MiB accepted"
else
	fail "max_report_bytes bound: exit $rc1/$rc2; $(cat "$TMP/mb.err")"
fi

# --- a Redis that accepts and closes: backoff, few log lines ---------------
MX=$TMP/max.sock
redis-server --port 0 --unixsocket "$MX" --unixsocketperm 700 --maxclients 1 --save '' \
	--appendonly no --daemonize no --logfile "$TMP/max.log" >/dev/null 2>&1 &
MXP=$!
on_exit "kill $MXP 2>/dev/null; wait $MXP 2>/dev/null"
for _ in $(seq 100); do redis-cli -s "$MX" ping >/dev/null 2>&1 && break; sleep 0.05; done
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"PING\r\n"); s.recv(100)
time.sleep(30)' "$MX" &
HOLD=$!
on_exit "kill $HOLD 2>/dev/null; wait $HOLD 2>/dev/null"
sleep 0.3
mkdir -p "$TMP/spool-mx"; echo 1 >"$TMP/spool-mx/seq"
# SIGPIPE ignored (inherited across exec): report_drive is not the sensor.
python3 -c 'import signal, os, sys; signal.signal(signal.SIGPIPE, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])' \
	"$RD" --redis "unix:$MX" --sensor mx --spool "$TMP/spool-mx" --count 3 --pace 0.5 \
	--heartbeat 0.2 --duration 6 --drain 0 >"$TMP/mx.out" 2>"$TMP/mx.err"; rc=$?
kill $HOLD 2>/dev/null
rec=$(stat_of "$TMP/mx.out" reconnects)
lines=$(grep -c 'reporter: redis' "$TMP/mx.err")
if [ $rc -eq 3 ] && [ -n "$rec" ] && [ "$rec" -le 8 ] && [ "$lines" -le 8 ] &&
	[ "$(stat_of "$TMP/mx.out" spool_depth)" = 3 ]; then
	pass "Redis accepting then closing for 6 s: $rec reconnects, $lines log lines (backoff grows), 3 reports spooled"
else
	fail "accept-then-close: exit $rc, reconnects '$rec', $lines log lines; $(head -4 "$TMP/mx.err")"
fi

# --- as root: an unopenable segment is kept; the spool under chroot ----------
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1; then
	skip "unopenable segment and chroot: need root and user nobody"; finish; exit
fi
chmod 755 "$TMP"; chmod 777 "$REDIS_SOCK"
RO=$TMP/spool-ro
mkdir -p "$RO"; echo 1 >"$RO/seq"; chown -R nobody "$RO"
runuser -u nobody -- "$RD" --redis "unix:$TMP/absent.sock" --sensor ro --spool "$RO" --count 3 \
	--pace 0.01 --drain 0 >/dev/null 2>&1
seg=$(ls "$RO" | grep '^seg-' | head -n 1)
chown root "$RO/$seg"; chmod 644 "$RO/$seg"     # a read-only copy restored by hand
runuser -u nobody -- "$RD" --redis "unix:$REDIS_SOCK" --sensor ro --spool "$RO" --count 0 \
	--heartbeat 0.1 --duration 0.5 >"$TMP/ro1.out" 2>"$TMP/ro1.err"; rc1=$?
kept=no; [ -n "$seg" ] && [ -f "$RO/$seg" ] && kept=yes
rej=$(rcli HGET egress:sensor:ro spool_rejected)
chown nobody "$RO/$seg"
runuser -u nobody -- "$RD" --redis "unix:$REDIS_SOCK" --sensor ro --spool "$RO" --count 0 \
	>"$TMP/ro2.out" 2>&1; rc2=$?
if [ $kept = yes ] && grep -q '1 segment file(s) left in place unread' "$TMP/ro1.err" &&
	[ "$rej" = 1 ] && [ $rc2 -eq 0 ] && [ "$(seqs ro)" = "1 2 3 " ]; then
	pass "segment not openable read-write: kept, logged, counted (spool_rejected); delivered once readable"
else
	fail "unopenable segment: kept=$kept exit $rc1/$rc2 stream '$(seqs ro)'; $(cat "$TMP/ro1.err")"
fi

if [ -n "$PCAP" ]; then
	PORT=$((20000 + RANDOM % 20000))
	redis-server --port $PORT --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
		--logfile "$TMP/tcp.log" >/dev/null 2>&1 &
	TCPR=$!
	on_exit "kill $TCPR 2>/dev/null; wait $TCPR 2>/dev/null"
	for _ in $(seq 100); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.05; done
	mkdir -p "$TMP/root"
	cat >"$TMP/ch.conf" <<CONF
[sensor]
id = ch
flush_interval = 1s
user = nobody
seccomp = on
chroot = $TMP/root
[redis]
address = 127.0.0.1:$PORT
spool_dir = $TMP/root/spool
heartbeat = 1s
CONF
	"$SENSOR" -r "$PCAP" -c "$TMP/ch.conf" --no-progress 2>"$TMP/ch.err"; rc=$?
	sent=$(sed -nE 's/.* ([0-9]+) reports sent, 0 left in the spool.*/\1/p' "$TMP/ch.err")
	xl=$(redis-cli -p $PORT XLEN egress:reports)
	if [ $rc -eq 0 ] && [ -n "$sent" ] && [ "$sent" -ge 1 ] && [ "$xl" = "$sent" ] &&
		[ -s "$TMP/root/spool/seq" ] && ! grep -q 'cannot write' "$TMP/ch.err"; then
		pass "under chroot: $sent reports numbered and delivered, seq file kept"
	else
		fail "chroot: exit $rc, sent '$sent', stream $xl; $(head -3 "$TMP/ch.err")"
	fi
else
	skip "chroot: no capture in $PCAPS"
fi
finish
