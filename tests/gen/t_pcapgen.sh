#!/usr/bin/env bash
# t_pcapgen: the traffic generator writes exactly what it claims.
#
# Each capture pcapgen writes is read back by an independent reader (tshark
# when installed, else only counts through build/tools/bench/bare_loop) and
# held against the JSON line pcapgen printed: packets, frame bytes, VLAN,
# IPv6 and UDP counts, egress/ingress IP bytes in total and per source,
# caplen limits, timestamps, the documentation/benchmark destination
# ranges; the same arguments give the same bytes. The demo scenario spans
# its days, and its exfiltration goes to a destination no one used before,
# on the last day only. When egress-sensor is built, its --summary must
# agree with pcapgen to the byte.
. "$(dirname "$0")/../lib.sh"
GEN=$BUILD/tools/gen/pcapgen
BARE=$BUILD/tools/bench/bare_loop
[ -x "$GEN" ] || { fail "pcapgen not built"; finish; exit; }
have_tshark=0
command -v tshark >/dev/null && have_tshark=1

# fields FILE: one line a frame, tab-separated, for check.py.
fields() {
	tshark -r "$1" -n -T fields -E occurrence=f -E separator=/t \
		-e frame.time_epoch -e frame.len -e frame.cap_len -e vlan.id \
		-e ip.src -e ip.dst -e ip.len -e ipv6.src -e ipv6.dst -e ipv6.plen \
		-e udp.srcport -e tcp.srcport 2>/dev/null
}

cat >"$TMP/check.py" <<'EOF'
# check.py GEN_JSON FIELDS MODE: prints "ok" or the first differences.
import ipaddress, json, sys
from collections import defaultdict
g = json.load(open(sys.argv[1]))
mode = sys.argv[3]
internal = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "fd00::/8")]
external = [ipaddress.ip_network(n) for n in
            ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "198.18.0.0/15", "2001:db8::/32")]
def inside(a, nets):
    a = ipaddress.ip_address(a)
    return any(a in n for n in nets)
n = wire = vlan = v6 = udp = 0
maxcap = 0
eg = [0, 0]; ing = [0, 0]
per = defaultdict(lambda: [0, 0, 0, 0])
dst_first = {}
ts = []
bad = []
for line in open(sys.argv[2]):
    f = line.rstrip("\n").split("\t")
    t, flen, cap, vid, s4, d4, l4, s6, d6, pl6, usp, tsp = f
    n += 1; wire += int(flen); maxcap = max(maxcap, int(cap)); ts.append(float(t))
    vlan += vid != ""; udp += usp != ""
    if s6:
        v6 += 1; src, dst, ln = s6, d6, int(pl6) + 40
    else:
        src, dst, ln = s4, d4, int(l4)
    if mode == "hdr" and int(cap) > 128: bad.append(f"frame {n}: caplen {cap} > 128")
    if mode == "full" and cap != flen: bad.append(f"frame {n}: caplen {cap} != len {flen}")
    if inside(src, internal) and not inside(dst, internal):
        eg[0] += 1; eg[1] += ln; per[src][0] += 1; per[src][1] += ln; far = dst
    elif inside(dst, internal) and not inside(src, internal):
        ing[0] += 1; ing[1] += ln; per[dst][2] += 1; per[dst][3] += ln; far = src
    else:
        bad.append(f"frame {n}: {src} -> {dst} is neither egress nor ingress"); continue
    if mode != "demo" and not inside(far, external):
        bad.append(f"frame {n}: {far} outside the documentation/benchmark ranges")
    dst_first.setdefault(far, float(t))
def eq(what, got, want):
    if got != want: bad.append(f"{what}: read {got}, pcapgen says {want}")
eq("packets", n, g["packets"]); eq("wire bytes", wire, g["wire_bytes"])
eq("vlan", vlan, g["vlan_packets"]); eq("ipv6", v6, g["ipv6_packets"]); eq("udp", udp, g["udp_packets"])
eq("max caplen", maxcap, g["max_caplen"])
eq("egress", eg, [g["egress"]["packets"], g["egress"]["bytes"]])
eq("ingress", ing, [g["ingress"]["packets"], g["ingress"]["bytes"]])
eq("first ts", f"{ts[0]:.6f}", f"{g['first_ts']:.6f}"); eq("last ts", f"{ts[-1]:.6f}", f"{g['last_ts']:.6f}")
if ts != sorted(ts): bad.append("timestamps go backwards")
srcs = g["by_source"] if "by_source" in g else g["identities"]
want = {str(ipaddress.ip_address(s["addr"])): [s["out_packets"], s["out_bytes"], s["in_packets"], s["in_bytes"]]
        for s in srcs if s["out_packets"] or s["in_packets"]}
got = {str(ipaddress.ip_address(a)): v for a, v in per.items()}
eq("per-source counts", got == want, True)
if mode == "demo":
    x = g["exfil"]
    eq("exfil dst first seen at the exfil start", dst_first.get(x["dst"]) == x["start"], True)
    if not x["bytes"] >= 5e9: bad.append(f"exfil {x['bytes']} bytes, not several GB")
    day3 = ts[0] // 86400 * 86400 + 2 * 86400
    if not day3 <= x["start"] < x["end"] < day3 + 86400: bad.append("exfil not on the last day")
    if not ts[-1] - ts[0] > 2.9 * 86400: bad.append(f"spans {ts[-1] - ts[0]} s, not ~3 days")
else:
    eq("sources used", len(want), g["sources_used"])
    eq("destinations used", len(dst_first), g["destinations_used"])
print("; ".join(bad[:6]) if bad else "ok")
EOF

# Random mode, header-only, every option in use.
ARGS="-n 30000 --sources 300 --dests 2000 --fanout 16 --vlan 10 --v6 20 --ingress 30 --udp 25 --rate 2000 --start 1700000000"
"$GEN" -o "$TMP/h.pcap" $ARGS --snaplen 128 --seed 3 2>"$TMP/h.json" && pass "pcapgen header-only" || fail "pcapgen header-only: $(cat "$TMP/h.json")"
"$GEN" -o "$TMP/h2.pcap" $ARGS --snaplen 128 --seed 3 2>/dev/null
"$GEN" -o "$TMP/h3.pcap" $ARGS --snaplen 128 --seed 4 2>/dev/null
cmp -s "$TMP/h.pcap" "$TMP/h2.pcap" && pass "same arguments, same bytes" || fail "same arguments, different bytes"
cmp -s "$TMP/h.pcap" "$TMP/h3.pcap" && fail "another seed, same bytes" || pass "another seed, other bytes"
"$GEN" -o "$TMP/f.pcap" $ARGS --seed 3 2>"$TMP/f.json" && pass "pcapgen full-size" || fail "pcapgen full-size"

# The claims are what one would ask for, within sampling error.
python3 - "$TMP/h.json" <<'EOF' && pass "fractions and ranges as asked" || fail "fractions off"
import json, sys
g = json.load(open(sys.argv[1])); n = g["packets"]
def near(x, want, tol): return abs(x / n - want) < tol
ok = (n == 30000 and near(g["vlan_packets"], .10, .01) and near(g["ipv6_packets"], .20, .01)
      and near(g["ingress"]["packets"], .30, .015) and near(g["udp_packets"], .25, .08)
      and g["sources_used"] <= 300 and g["sources_used"] > 250 and g["destinations_used"] <= 2000
      and g["max_caplen"] == 128 and g["first_ts"] == 1700000000.0
      and abs(g["last_ts"] - (1700000000 + 29999 / 2000)) < 1e-6)
sys.exit(0 if ok else 1)
EOF

if [ "$have_tshark" = 1 ]; then
	for m in h:hdr f:full; do
		fields "$TMP/${m%%:*}.pcap" >"$TMP/${m%%:*}.fields"
		r=$(python3 "$TMP/check.py" "$TMP/${m%%:*}.json" "$TMP/${m%%:*}.fields" "${m##*:}")
		[ "$r" = ok ] && pass "tshark reads back what pcapgen claims (${m##*:})" || fail "${m##*:}: $r"
	done
else
	skip "tshark not installed: field-level read-back skipped"
fi
if [ -x "$BARE" ]; then
	for m in h f; do
		r=$(python3 -c "import json,sys; b=json.loads(sys.argv[1]); g=json.load(open(sys.argv[2]))
print('ok' if (b['packets'], b['wire_bytes']) == (g['packets'], g['wire_bytes']) else f'{b} vs {g[\"packets\"]} {g[\"wire_bytes\"]}')" \
			"$("$BARE" -r 1 "$TMP/$m.pcap")" "$TMP/$m.json")
		[ "$r" = ok ] && pass "bare_loop counts the packets and bytes pcapgen claims ($m)" || fail "bare_loop $m: $r"
	done
else
	skip "bare_loop not built"
fi

# The demo scenario.
"$GEN" --scenario demo --print-identities >"$TMP/identities.conf"
[ "$(grep -cvE '^#|^$' "$TMP/identities.conf")" = 10 ] && grep -q '^10.10.7.70 analytics-etl$' "$TMP/identities.conf" &&
	pass "demo identities.conf: 10 identities" || fail "demo identities.conf: $(cat "$TMP/identities.conf")"
"$GEN" --scenario demo -o "$TMP/d.pcap" 2>"$TMP/d.json" && pass "pcapgen --scenario demo" || fail "demo: $(cat "$TMP/d.json")"
sz=$(stat -c %s "$TMP/d.pcap")
[ "$sz" -lt 80000000 ] && [ "$sz" -gt 1000000 ] && pass "demo capture is $((sz >> 20)) MiB" || fail "demo capture is $sz bytes"
python3 - "$TMP/d.json" "$TMP/identities.conf" <<'EOF' && pass "demo: identities in the JSON are those of identities.conf, exfil several GB" || fail "demo JSON"
import json, sys
g = json.load(open(sys.argv[1]))
conf = dict(l.split()[::-1] for l in open(sys.argv[2]) if l.strip() and not l.startswith("#"))
ids = {i["identity"]: i["addr"] for i in g["identities"]}
x = g["exfil"]
sys.exit(0 if ids == conf and x["identity"] == "analytics-etl" and x["bytes"] > 5e9
         and sum(i["out_bytes"] for i in g["identities"]) == g["egress"]["bytes"] else 1)
EOF
if [ "$have_tshark" = 1 ]; then
	fields "$TMP/d.pcap" >"$TMP/d.fields"
	r=$(python3 "$TMP/check.py" "$TMP/d.json" "$TMP/d.fields" demo)
	[ "$r" = ok ] && pass "tshark reads back the demo as claimed; exfil to a new destination on the last day" ||
		fail "demo: $r"
fi

# The sensor agrees, to the byte (identities are addresses by default).
if [ -x "$SENSOR" ]; then
	for m in h:by_source d:identities; do
		f=${m%%:*}
		"$SENSOR" -r "$TMP/$f.pcap" --summary --no-progress >"$TMP/$f.sum" 2>"$TMP/$f.sum.err" ||
			{ fail "egress-sensor on $f: $(head -3 "$TMP/$f.sum.err")"; continue; }
		r=$(python3 - "$TMP/$f.sum" "$TMP/$f.json" "${m##*:}" <<'EOF'
import json, sys
s, g = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ids = {i["identity"]: i for i in s["identities"]}
bad = [k for k in ("egress", "ingress") if s[k] != g[k]]
for src in g[sys.argv[3]]:
    i = ids.get(src["addr"], {})
    if [i.get(k) for k in ("out_packets", "out_bytes", "in_bytes")] != [src[k] for k in ("out_packets", "out_bytes", "in_bytes")]:
        bad.append(src["addr"])
print("ok" if not bad else "differs: " + ", ".join(bad[:5]))
EOF
)
		[ "$r" = ok ] && pass "egress-sensor --summary equals pcapgen's totals and per-source bytes ($f)" || fail "sensor $f: $r"
	done
else
	skip "egress-sensor not built"
fi

# Bad arguments are refused.
"$GEN" -o "$TMP/x.pcap" --vlan 101 2>/dev/null && fail "--vlan 101 accepted" || pass "--vlan 101 refused"
"$GEN" -o "$TMP/x.pcap" --snaplen 40 2>/dev/null && fail "--snaplen 40 accepted" || pass "--snaplen 40 refused"
"$GEN" --scenario nope -o "$TMP/x.pcap" 2>/dev/null && fail "unknown scenario accepted" || pass "unknown scenario refused"
finish
