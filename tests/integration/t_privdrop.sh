#!/usr/bin/env bash
# The sensor, started as root, runs its capture loop with nothing of root
# left, inside its seccomp filter:
#  1. live capture on a veth pair in network namespaces made here, the
#     sensor started with only the capabilities configs/egress-sensor.service
#     gives it (setpriv --bounding-set): while it captures, /proc/PID/status
#     shows uid/gid nobody, no supplementary groups but nogroup, no
#     capabilities, NoNewPrivs 1 and Seccomp 2 (filter mode); it counts the
#     traffic exactly and exits 0 on SIGTERM (not SIGSYS);
#  2. the same sequence (privdrop, then the sensor profile) in sandbox_probe:
#     execve, ptrace, fork, an AF_PACKET or netlink socket, W|X memory,
#     setuid, bpf, listen and an unlisted ioctl each kill the process with
#     SIGSYS, while the steady-state calls work;
#  3. file modes under the filter: --summary gives byte-identical JSON with
#     seccomp on and off; a replay into an absent Redis spools every report,
#     and a second run with Redis up sends them all (spool write, fsync,
#     rename, readdir, unlink under the filter).
. "$(dirname "$0")/../lib.sh"
PROBE=$BUILD/tools/integration/sandbox_probe
UNIT=$TOP/configs/egress-sensor.service
[ "$(id -u)" -eq 0 ] || { skip "privdrop: needs root"; finish; exit; }
[ -x "$SENSOR" ] || { skip "sensor not built"; finish; exit; }
id nobody >/dev/null 2>&1 || { skip "no user nobody"; finish; exit; }
NOBODY_UID=$(id -u nobody) NOBODY_GID=$(id -g nobody)
# Seccomp: 2 is required once main.c calls sandbox_apply (the lead wires it).
WIRED=${SANDBOX_WIRED:-0}
grep -q 'sandbox_apply' "$TOP/sensor/main.c" 2>/dev/null && WIRED=1

# --- 2. the probe ---------------------------------------------------------
if [ -x "$PROBE" ]; then
	"$PROBE" --user nobody status steady execve ptrace fork packet-socket netlink-socket \
		mmap-wx mprotect-wx setuid bpf listen ioctl-other >"$TMP/probe.out" 2>&1
	for c in execve ptrace fork packet-socket netlink-socket mmap-wx mprotect-wx setuid bpf listen ioctl-other; do
		r=$(grep "^$c " "$TMP/probe.out")
		[ "$r" = "$c killed SIGSYS" ] && pass "after drop + filter: $r" || fail "probe $c: '$r' (want killed SIGSYS)"
	done
	r=$(grep '^steady ' "$TMP/probe.out")
	[ "$r" = "steady allowed" ] && pass "steady-state calls still work under the filter" || fail "probe: '$r'"
	grep -q "^Seccomp:[[:space:]]*2" "$TMP/probe.out" && grep -q "^CapEff:[[:space:]]*0*$" "$TMP/probe.out" &&
		pass "probe after drop: Seccomp 2, CapEff 0" || { fail "probe status"; cat "$TMP/probe.out"; }
	# Without the filter, nobody could still exec: the filter is what stops it.
	r=$("$PROBE" --user nobody --mode off execve)
	[ "$r" = "execve allowed" ] && pass "control: without the filter execve works as nobody" ||
		fail "control without filter: '$r'"
else
	skip "sandbox_probe not built ($PROBE)"
fi

# --- 3. file modes under the filter ---------------------------------------
conf() { # conf FILE SECCOMP REDIS-SPOOL
	cat >"$1" <<CONF
[sensor]
id = privdrop-test
flush_interval = 1s
user = nobody
seccomp = $2
[redis]
spool_dir = $3
heartbeat = 1s
CONF
}
conf "$TMP/on.conf" on "$TMP/spool-s"
conf "$TMP/off.conf" off "$TMP/spool-s"
n=0 same=0
# Every capture of the corpus, good and malformed: each decode and error path.
for p in "$PCAPS"/corpus/real/*.pcap* "$PCAPS"/corpus/malformed/*; do
	[ -f "$p" ] || continue
	n=$((n + 1))
	"$SENSOR" -r "$p" -c "$TMP/on.conf" --summary >"$TMP/s-on.json" 2>"$TMP/s-on.err"; a=$?
	"$SENSOR" -r "$p" -c "$TMP/off.conf" --summary >"$TMP/s-off.json" 2>/dev/null; b=$?
	if [ $a -eq $b ] && [ $a -lt 128 ] && cmp -s "$TMP/s-on.json" "$TMP/s-off.json"; then
		same=$((same + 1))
	else
		echo "differs: $p (exit $a vs $b)"; head -3 "$TMP/s-on.err"
	fi
done
[ $n -gt 0 ] && [ $same -eq $n ] && pass "--summary as root+nobody, filter on == off on $n captures" ||
	fail "--summary under the filter differs on $((n - same)) of $n captures"

# Five seconds of capture clock (five 1 s reports) when floodgen is built.
PCAP=$(ls -S "$PCAPS"/corpus/real/*.pcap 2>/dev/null | head -n 1)
[ -x "$BUILD/tools/gen/floodgen" ] && "$BUILD/tools/gen/floodgen" -o "$TMP/replay.pcap" -n 50000 \
	--sources 50 2>/dev/null && PCAP=$TMP/replay.pcap
if [ -n "$PCAP" ]; then
	start_redis || { fail "redis"; finish; exit; }
	chmod 755 "$TMP"; chmod 777 "$REDIS_SOCK"
	conf "$TMP/r.conf" on "$TMP/spool"
	# Redis absent: everything goes to the spool, under the filter.
	"$SENSOR" -r "$PCAP" -c "$TMP/r.conf" --redis "unix:$TMP/absent.sock" --no-progress 2>"$TMP/r1.err"
	a=$?
	left=$(sed -nE 's/.* ([0-9]+) left in the spool.*/\1/p' "$TMP/r1.err")
	[ $a -eq 0 ] && [ -n "$left" ] && [ "$left" -ge 1 ] &&
		pass "replay with Redis away: exit 0, $left reports spooled" ||
		{ fail "replay to absent Redis: exit $a, left '$left'"; tail -3 "$TMP/r1.err"; }
	# Redis up: the spool drains first, then this run's reports.
	"$SENSOR" -r "$PCAP" -c "$TMP/r.conf" --redis "unix:$REDIS_SOCK" --no-progress 2>"$TMP/r2.err"
	b=$?
	sent=$(sed -nE 's/.* ([0-9]+) reports sent.*/\1/p' "$TMP/r2.err")
	left2=$(sed -nE 's/.* ([0-9]+) left in the spool.*/\1/p' "$TMP/r2.err")
	xl=$(rcli XLEN egress:reports)
	[ $b -eq 0 ] && [ "$left2" = 0 ] && [ -n "$left" ] && [ "$xl" -eq $((2 * left)) ] &&
		pass "replay with Redis up: exit 0, spool drained, $xl reports in the stream" ||
		{ fail "replay to Redis: exit $b, sent '$sent', left '$left2', stream $xl (want $((2 * ${left:-0})))"; tail -3 "$TMP/r2.err"; }
fi

# --- 1. live capture ------------------------------------------------------
if ! ip netns add ewt-probe-$$ 2>/dev/null; then
	skip "live: cannot create network namespaces here"
	finish; exit
fi
ip netns del ewt-probe-$$
A=ewt-pa-$$ B=ewt-pb-$$
ip netns add $A; ip netns add $B
on_exit "ip netns del $A; ip netns del $B"
ip link add vA netns $A type veth peer name vB netns $B
ip -n $A addr add 10.201.0.2/24 dev vA
ip -n $A link set vA up; ip -n $A link set lo up
ip -n $B addr add 198.51.100.19/24 dev vB
ip -n $B link set vB up
ip -n $A route add 198.51.100.0/24 dev vA
ip -n $B route add 10.201.0.0/24 dev vB
ip -n $A neigh add 198.51.100.19 lladdr "$(ip -n $B -br link show vB | awk '{print $3}')" dev vA
ip -n $B neigh add 10.201.0.2 lladdr "$(ip -n $A -br link show vA | awk '{print $3}')" dev vB
ip netns exec $A sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec $B sysctl -qw net.ipv6.conf.all.disable_ipv6=1
[ -n "${REDIS_SOCK:-}" ] || { start_redis || { fail "redis"; finish; exit; }; }
chmod 755 "$TMP"; chmod 777 "$REDIS_SOCK"
rcli DEL egress:reports >/dev/null
conf "$TMP/live.conf" on "$TMP/spool-live"

# Only the unit's capabilities: CapabilityBoundingSet=CAP_A CAP_B -> +a,+b
caps=$(sed -nE 's/^CapabilityBoundingSet=//p' "$UNIT" | tr 'A-Z' 'a-z' | sed -E 's/cap_/+/g; s/ +/,/g')
wrap=()
if command -v setpriv >/dev/null && [ -n "$caps" ]; then
	wrap=(setpriv --bounding-set=-all,"$caps")
	pass "live sensor runs with the unit's bounding set only: ${caps//+/}"
else
	skip "setpriv or the unit's CapabilityBoundingSet missing: full root bounding set"
fi
ip netns exec $A "${wrap[@]}" "$SENSOR" -i vA -c "$TMP/live.conf" --redis "unix:$REDIS_SOCK" \
	2>"$TMP/live.err" &
SPID=$!
on_exit "kill $SPID 2>/dev/null"
sleep 1.5
N=300 SIZE=700
ip netns exec $A python3 - $N $SIZE <<'PY'
import socket, sys, time
n, size = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"y" * size, ("198.51.100.19", 9999))
    if i % 50 == 49:
        time.sleep(0.01)
PY
sleep 0.5
if [ ! -r /proc/$SPID/status ]; then
	fail "sensor is not running"; cat "$TMP/live.err"; finish; exit
fi
cp /proc/$SPID/status "$TMP/live.status"
field() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$TMP/live.status"; }
u=$(field Uid) g=$(field Gid) gr=$(field Groups)
[ "$u" = "$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" ] && pass "capturing as uid $u" ||
	fail "Uid: '$u' (want $NOBODY_UID x4)"
[ "$g" = "$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" ] && pass "capturing as gid $g" ||
	fail "Gid: '$g' (want $NOBODY_GID x4)"
[ "$(echo $gr)" = "$NOBODY_GID" ] && pass "supplementary groups: $gr" || fail "Groups: '$gr'"
for c in CapInh CapPrm CapEff CapAmb; do
	v=$(field $c)
	[ "$v" = 0000000000000000 ] && pass "$c = 0" || fail "$c = $v"
done
[ "$(field NoNewPrivs)" = 1 ] && pass "NoNewPrivs = 1" || fail "NoNewPrivs = $(field NoNewPrivs)"
sc=$(field Seccomp)
if [ "$sc" = 2 ]; then
	pass "Seccomp = 2 (filter) while capturing"
elif [ $WIRED -eq 0 ]; then
	skip "Seccomp = $sc: sensor/main.c does not call sandbox_apply yet"
else
	fail "Seccomp = $sc (want 2)"
fi
kill -TERM $SPID; wait $SPID; src=$?
[ $src -eq 0 ] && pass "live sensor exits 0 on SIGTERM" ||
	{ fail "live sensor exit $src$([ $src -eq 159 ] && echo ' (SIGSYS: a call outside the allowlist)')"; cat "$TMP/live.err"; }
got=$(rcli XRANGE egress:reports - + | python3 -c '
import json, sys
p = b = 0
for l in sys.stdin:
    if l.startswith("{"):
        for i in json.loads(l)["identities"]:
            if i["identity"] == "10.201.0.2":
                p += i["out_packets"]; b += i["out_bytes"]
print(p, b)')
[ "$got" = "$N $((N * (SIZE + 28)))" ] && pass "live egress counted exactly under the drop: $got" ||
	fail "live egress: got '$got', want '$N $((N * (SIZE + 28)))'"
finish
