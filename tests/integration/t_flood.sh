#!/usr/bin/env bash
# A spoofed-source flood against small [limits]: floodgen writes 1,000,000
# packets, each from its own internal source (1M distinct identities) to a
# random external destination. The sensor must account every byte exactly
# (totals equal what floodgen wrote; the identities, ~overflow included, sum
# to the egress total), spill past max_identities into ~overflow, and keep its
# memory flat: peak RSS on the full flood within 10% (+8 MiB) of the RSS on a
# flood one fifth the size, and the identity list no longer than the cap.
# FLOOD_N overrides the size (e.g. FLOOD_N=200000 for a quick run).
. "$(dirname "$0")/../lib.sh"
FLOODGEN=$BUILD/tools/gen/floodgen
[ -x "$FLOODGEN" ] || { skip "floodgen not built ($FLOODGEN)"; finish; exit; }
[ -x "$SENSOR" ] || { skip "sensor not built"; finish; exit; }
N=${FLOOD_N:-1000000}
SMALL=$((N / 5))
MAXID=10000
cat >"$TMP/flood.conf" <<CONF
[sensor]
id = flood-test
user =
[limits]
max_identities = $MAXID
max_pairs = 50000
max_flows = 50000
top_destinations = 5
CONF

# peak RSS in KiB of a command: GNU time when installed, else a wait4 wrapper.
peak_rss() {
	local out=$1; shift
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f %M -o "$out" "$@"
	else
		python3 -c 'import os,sys,resource
pid=os.fork()
if pid==0: os.execv(sys.argv[2],sys.argv[2:])
_,st,ru=os.wait4(pid,0); open(sys.argv[1],"w").write("%d\n"%ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(st) & 255)' "$out" "$@"
	fi
}

# run_flood NAME PACKETS: generate, replay with --summary, check, set RSS_<NAME>.
run_flood() {
	local name=$1 n=$2
	"$FLOODGEN" -o "$TMP/$name.pcap" -n "$n" --seed 7 2>"$TMP/$name.gen" ||
		{ fail "floodgen $name"; return; }
	local t0 t1
	t0=$(date +%s%N)
	peak_rss "$TMP/$name.rss" "$SENSOR" -r "$TMP/$name.pcap" -c "$TMP/flood.conf" --summary \
		--no-progress >"$TMP/$name.json" 2>"$TMP/$name.err"
	local rc=$?
	t1=$(date +%s%N)
	[ $rc -eq 0 ] && pass "$name: sensor exit 0 on $n packets ($(( (t1 - t0) / 1000000 )) ms)" ||
		{ fail "$name: sensor exit $rc"; head -5 "$TMP/$name.err"; return; }
	python3 - "$TMP/$name.gen" "$TMP/$name.json" "$MAXID" >"$TMP/$name.verdict" <<'PY'
import json, sys
gen = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
s = json.load(open(sys.argv[2]))
maxid = int(sys.argv[3])
ids = s["identities"]
out_b = sum(i["out_bytes"] for i in ids)
out_p = sum(i["out_packets"] for i in ids)
ov = [i for i in ids if i["identity"] == "~overflow"]
def check(ok, msg):
    print(("PASS " if ok else "FAIL ") + msg)
check(s["packets_seen"] == gen["packets"], f"packets_seen {s['packets_seen']} == written {gen['packets']}")
check(s["egress"]["packets"] == gen["egress_packets"],
      f"egress packets {s['egress']['packets']} == written {gen['egress_packets']}")
check(s["egress"]["bytes"] == gen["egress_bytes"],
      f"egress bytes {s['egress']['bytes']} == written {gen['egress_bytes']}")
check(out_b == s["egress"]["bytes"] and out_p == s["egress"]["packets"],
      f"sum over {len(ids)} identities incl. ~overflow: {out_p} packets {out_b} bytes == egress total")
check(s["packets_undecoded"] == 0, f"packets_undecoded {s['packets_undecoded']} == 0")
check(s["overflow"]["identity_packets"] > 0 and len(ov) == 1,
      f"overflow.identity_packets {s['overflow']['identity_packets']} > 0, ~overflow listed")
check(ov and ov[0]["out_packets"] == s["overflow"]["identity_packets"],
      f"~overflow out_packets {ov[0]['out_packets'] if ov else None} == overflow.identity_packets")
check(len(ids) <= maxid + 1, f"{len(ids)} identities listed <= max_identities {maxid} + ~overflow")
check(gen["distinct_sources"] == gen["packets"], f"{gen['distinct_sources']} distinct spoofed sources")
PY
	while read -r verdict msg; do
		[ "$verdict" = PASS ] && pass "$name: $msg" || fail "$name: $msg"
	done <"$TMP/$name.verdict"
	[ -s "$TMP/$name.verdict" ] || fail "$name: no verdict (summary not JSON?)"
	eval "RSS_$name=$(tail -n 1 "$TMP/$name.rss")"
	rm -f "$TMP/$name.pcap"
}

run_flood small "$SMALL"
run_flood full "$N"
if [ -n "${RSS_small:-}" ] && [ -n "${RSS_full:-}" ]; then
	limit=$((RSS_small * 110 / 100 + 8192))
	[ "$RSS_full" -le "$limit" ] &&
		pass "peak RSS flat: $((RSS_full / 1024)) MiB on $N packets vs $((RSS_small / 1024)) MiB on $SMALL" ||
		fail "peak RSS grows with the flood: $RSS_full KiB on $N vs $RSS_small KiB on $SMALL (limit $limit)"
fi

# The same flood through Redis: reports kept under a small max_report_bytes
# fold their smallest identities into ~overflow, so the collector rejects
# none and still sums every byte.
if start_redis; then
	"$FLOODGEN" -o "$TMP/rep.pcap" -n 100000 --seed 9 2>"$TMP/rep.gen"
	cat "$TMP/flood.conf" - >"$TMP/rep.conf" <<CONF
[redis]
address = unix:$REDIS_SOCK
spool_dir = $TMP/spool
max_report_bytes = 256KiB
CONF
	printf '[collector]\nredis = unix:%s\nhttp = off\nalerts_file = %s\nmax_report_bytes = 256KiB\n[rule cap]\nwindow = 1h\nmax_bytes = 1TB\n' \
		"$REDIS_SOCK" "$TMP/alerts.jsonl" >"$TMP/col.conf"
	"$SENSOR" -r "$TMP/rep.pcap" -c "$TMP/rep.conf" --no-progress 2>"$TMP/rep.err" ||
		fail "flood replay into redis: $(tail -n 1 "$TMP/rep.err")"
	grep -q "folded into ~overflow" "$TMP/rep.err" && pass "reports over 256 KiB were folded" ||
		fail "no identities folded: $(tail -n 2 "$TMP/rep.err")"
	big=$(rcli --raw XRANGE egress:reports - + | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
	[ "$big" -le 262144 ] && pass "largest report $big bytes <= 256 KiB" || fail "a report of $big bytes"
	timeout 60 "$COLLECTOR" -c "$TMP/col.conf" --exit-when-idle 2>"$TMP/col.err" ||
		fail "collector: $(tail -n 1 "$TMP/col.err")"
	"$COLLECTOR" --dump-state -c "$TMP/col.conf" >"$TMP/state.json" 2>/dev/null
	python3 - "$TMP/rep.gen" "$TMP/state.json" >"$TMP/rep.verdict" <<'PY'
import json, sys
gen = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
st = json.load(open(sys.argv[2]))
total = sum(i["out_bytes"] for i in st["identities"])
print(("PASS" if st["counters"]["dead"] == 0 else "FAIL") + f" collector dead-lettered {st['counters']['dead']} reports")
print(("PASS" if total == gen["egress_bytes"] else "FAIL") + f" collector sums {total} bytes == written {gen['egress_bytes']}")
PY
	while read -r verdict msg; do
		[ "$verdict" = PASS ] && pass "redis: $msg" || fail "redis: $msg"
	done <"$TMP/rep.verdict"
	[ -s "$TMP/rep.verdict" ] || fail "redis: no verdict from the collector's state"
else
	fail "redis-server did not start"
fi
finish
