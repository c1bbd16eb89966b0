#!/usr/bin/env bash
# The live sensor (capture on lo, as root dropping to nobody, seccomp on)
# survives Redis closing its connection under it and stops cleanly on
# SIGHUP:
#  - a peer that no longer reads (EPIPE on every write, as a Redis that
#    closed the socket mid-write: maxclients, CLIENT KILL, a restart): no
#    SIGPIPE death (exit 141);
#  - CLIENT KILL every 50 ms for 5 s: the sensor keeps running;
#  - SIGHUP flushes, drains and exits 0 like SIGTERM (not 129), its
#    reports in the stream.
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || { skip "signals: needs root (live capture)"; finish; exit; }
[ -x "$SENSOR" ] || { skip "sensor not built"; finish; exit; }
id nobody >/dev/null 2>&1 || { skip "no user nobody"; finish; exit; }
command -v redis-server >/dev/null || { skip "no redis-server"; finish; exit; }
chmod 755 "$TMP"
conf() { # conf FILE SPOOL SOCK
	cat >"$1" <<CONF
[sensor]
id = sig-test
flush_interval = 1s
user = nobody
seccomp = on
exclude_redis = off
internal = 10.0.0.0/8
[redis]
address = unix:$3
spool_dir = $2
heartbeat = 1s
identity_map_poll = 0
CONF
}
python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    s.sendto(b"x" * 100, ("127.0.0.1", 9))
    time.sleep(0.05)
' &
TRAFFIC=$!
on_exit "kill $TRAFFIC 2>/dev/null; wait $TRAFFIC 2>/dev/null"
# alive PID SECONDS: true if PID still runs after SECONDS
alive() { local n=$(($2 * 10)); for _ in $(seq "$n"); do kill -0 "$1" 2>/dev/null || return 1; sleep 0.1; done; }

# 1. A server that takes connections but no longer reads from them
# (shutdown SHUT_RD: every write to it fails with EPIPE, as to a Redis that
# closed the socket while the sensor still writes; deterministic here).
F=$TMP/fake.sock
python3 -c '
import socket, sys, time
l = socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(64)
held = []
while True:
    c, _ = l.accept(); c.shutdown(socket.SHUT_RD); held.append(c)' "$F" &
FAKE=$!
on_exit "kill $FAKE 2>/dev/null; wait $FAKE 2>/dev/null"
for _ in $(seq 100); do [ -S "$F" ] && break; sleep 0.05; done
chmod 777 "$F"
conf "$TMP/f.conf" "$TMP/spool-f" "$F"
"$SENSOR" -i lo -c "$TMP/f.conf" 2>"$TMP/f.err" &
SP=$!
if alive $SP 3; then
	kill -TERM $SP; wait $SP; rc=$?
	[ $rc -eq 0 ] && pass "writes to a closed Redis socket (EPIPE): still running after 3 s, exit 0 on SIGTERM" ||
		fail "EPIPE: exit $rc on SIGTERM"
else
	wait $SP; rc=$?
	fail "EPIPE: sensor died, exit $rc$([ $rc -eq 141 ] && echo ' (SIGPIPE)')"; tail -3 "$TMP/f.err"
fi
kill $FAKE 2>/dev/null

# 2. CLIENT KILL while the sensor writes.
start_redis || { fail "redis"; finish; exit; }
chmod 777 "$REDIS_SOCK"
conf "$TMP/k.conf" "$TMP/spool-k" "$REDIS_SOCK"
"$SENSOR" -i lo -c "$TMP/k.conf" 2>"$TMP/k.err" &
SP=$!
sleep 1
for _ in $(seq 100); do
	kill -0 $SP 2>/dev/null || break
	rcli CLIENT KILL TYPE normal >/dev/null 2>&1; sleep 0.05
done
if kill -0 $SP 2>/dev/null; then
	kill -TERM $SP; wait $SP; rc=$?
	[ $rc -eq 0 ] && pass "100 CLIENT KILLs: sensor survived, exit 0 on SIGTERM" || fail "client kill: exit $rc on SIGTERM"
else
	wait $SP; rc=$?
	fail "client kill: sensor died, exit $rc$([ $rc -eq 141 ] && echo ' (SIGPIPE)')"; tail -3 "$TMP/k.err"
fi

# 3. SIGHUP: flushed, drained, exit 0.
rcli DEL egress:reports >/dev/null
conf "$TMP/h.conf" "$TMP/spool-h" "$REDIS_SOCK"
"$SENSOR" -i lo -c "$TMP/h.conf" 2>"$TMP/h.err" &
SP=$!
sleep 2.5
kill -HUP $SP; wait $SP; rc=$?
sent=$(sed -nE 's/.* ([0-9]+) reports sent, 0 left in the spool.*/\1/p' "$TMP/h.err")
xl=$(rcli XLEN egress:reports)
if [ $rc -eq 0 ] && [ -n "$sent" ] && [ "$sent" -ge 2 ] && [ "$xl" = "$sent" ]; then
	pass "SIGHUP: exit 0, the last interval flushed, $sent reports in the stream, none left"
else
	fail "SIGHUP: exit $rc, sent '$sent', stream $xl"; tail -3 "$TMP/h.err"
fi
finish
