#!/usr/bin/env bash
# Live capture on a real interface: two network namespaces made here, joined
# by a veth pair; an "internal" host 10.200.0.2 sends a known number of UDP
# datagrams of known size to an "external" host 198.51.100.9. The sensor
# captures live on the internal side and must report exactly that egress, to
# the byte, through a real redis-server (unix socket, shared across
# namespaces through the file system). Traffic never leaves the namespaces.
. "$(dirname "$0")/../lib.sh"
if ! ip netns add ewt-probe-$$ 2>/dev/null; then
	skip "live veth: cannot create network namespaces here (needs root and CONFIG_NET_NS)"
	finish; exit
fi
ip netns del ewt-probe-$$
A=ewt-a-$$ B=ewt-b-$$
ip netns add $A; ip netns add $B
on_exit "ip netns del $A; ip netns del $B"
ip link add vA netns $A type veth peer name vB netns $B
ip -n $A addr add 10.200.0.2/24 dev vA
ip -n $A link set vA up; ip -n $A link set lo up
ip -n $B addr add 198.51.100.9/24 dev vB
ip -n $B link set vB up
ip -n $A route add 198.51.100.0/24 dev vA
ip -n $B route add 10.200.0.0/24 dev vB
# Static neighbours: no ARP in the counts' way (ARP would be not-IP anyway).
ip -n $A neigh add 198.51.100.9 lladdr "$(ip -n $B -br link show vB | awk '{print $3}')" dev vA
ip -n $B neigh add 10.200.0.2 lladdr "$(ip -n $A -br link show vA | awk '{print $3}')" dev vB
ip netns exec $A sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec $B sysctl -qw net.ipv6.conf.all.disable_ipv6=1

start_redis || { fail "redis"; finish; exit; }
chmod 755 "$TMP"; chmod 777 "$REDIS_SOCK"
cat >"$TMP/sensor.conf" <<CONF
[sensor]
id = veth-test
flush_interval = 1s
user = nobody
[redis]
prefix = egress:
spool_dir = $TMP/spool
heartbeat = 1s
CONF
ip netns exec $A "$SENSOR" -i vA -c "$TMP/sensor.conf" --redis "unix:$REDIS_SOCK" 2>"$TMP/sensor.err" &
SPID=$!
on_exit "kill $SPID 2>/dev/null"
sleep 1.5
N=200 SIZE=1000
ip netns exec $A python3 - $N $SIZE <<'PY'
import socket, sys, time
n, size = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(n):
    s.sendto(b"x" * size, ("198.51.100.9", 9999))
    if i % 50 == 49:
        time.sleep(0.01)
PY
sleep 2.5
kill -TERM $SPID; wait $SPID; src=$?
[ $src -eq 0 ] && pass "sensor exits 0 on SIGTERM" || { fail "sensor exit $src"; cat "$TMP/sensor.err"; }
# Sum what the reports say about 10.200.0.2.
rcli XRANGE egress:reports - + >"$TMP/stream"
python3 - "$TMP/stream" $N $SIZE >"$TMP/verdict" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
n, size = int(sys.argv[2]), int(sys.argv[3])
out_p = out_b = 0
seqs = []
for i, l in enumerate(lines):
    if l.startswith("{"):
        r = json.loads(l)
        seqs.append(r["seq"])
        for ident in r["identities"]:
            if ident["identity"] == "10.200.0.2":
                out_p += ident["out_packets"]; out_b += ident["out_bytes"]
want_b = n * (size + 28)
print(f"{out_p} {out_b} {n} {want_b} {len(seqs)} {seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else False}")
PY
read -r gp gb wp wb nrep contiguous <"$TMP/verdict"
[ "$gp" = "$wp" ] && [ "$gb" = "$wb" ] && pass "live egress counted exactly: $gp packets, $gb bytes" ||
	fail "live egress: got $gp packets $gb bytes, want $wp packets $wb bytes"
[ "$nrep" -ge 3 ] && [ "$contiguous" = True ] && pass "$nrep reports with contiguous seq" ||
	fail "reports: $nrep, contiguous seq: $contiguous"
# The heartbeat carries the capture stats.
hb=$(rcli HGET egress:sensor:veth-test packets_seen)
[ -n "$hb" ] && [ "$hb" -ge "$wp" ] && pass "heartbeat packets_seen=$hb" || fail "heartbeat packets_seen='$hb'"
finish
