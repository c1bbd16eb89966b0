#!/usr/bin/env python3
"""Byte-exact checks of egress-sensor --summary against tshark.

Two checks per capture in ../shared/pcaps/corpus/real:
  whole   --internal 0.0.0.0/0,::/0 makes every packet lateral and attributed
          to its source: lateral_packets/lateral_bytes per identity must equal
          the shipped oracle (oracle/<file>.tsv, computed by tshark).
  egress  default internal networks: out_packets/out_bytes per identity must
          equal what tshark says for the packets whose outer source is
          internal and outer destination is not (run here, when tshark is
          installed; same dissection options as make_oracle.sh).
Prints one "ok"/"FAIL"/"skip" line per capture and check, and the summary line.
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
from collections import defaultdict

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
SENSOR = os.path.join(BUILD, "egress-sensor")
SHARED = os.environ.get("SHARED", os.path.join(TOP, "..", "shared"))
PCAPS = os.path.join(SHARED, "pcaps")
DEFAULT_INTERNAL = [ipaddress.ip_network(n) for n in
                    ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")]
TSHARK_OPTS = ["-o", "ip.tso_support:TRUE", "-o", "ipv6.tso_support:TRUE",
               "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
               "-o", "tcp.desegment_tcp_streams:FALSE"]
# Captures libpcap cannot count, with the reason (none at present: the three
# that libpcap 1.10 cannot open were removed from the corpus upstream).
EXCLUDED = {}

passed = failed = skipped = 0


def result(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def skip(name, why):
    global skipped
    skipped += 1
    print(f"skip {name}: {why}")


def summary(path, internal=None):
    cmd = [SENSOR, "-r", path, "--summary", "--no-progress"]
    if internal:
        cmd += ["--internal", internal]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"exit {p.returncode}: {p.stderr.strip()[:300]}")
    return json.loads(p.stdout)


def diff(want, got, limit=5):
    out = []
    for k in sorted(set(want) | set(got)):
        if want.get(k) != got.get(k):
            out.append(f"{k}: want {want.get(k)} got {got.get(k)}")
    return "; ".join(out[:limit]) + (f" (+{len(out) - limit} more)" if len(out) > limit else "")


def check_whole(name, path):
    want = {}
    with open(os.path.join(PCAPS, "oracle", name + ".tsv")) as f:
        next(f)
        for line in f:
            src, pk, ipb, _wire, _cap = line.rstrip("\n").split("\t")
            want[src] = (int(pk), int(ipb))
    s = summary(path, "0.0.0.0/0,::/0")
    got = {i["identity"]: (i["lateral_packets"], i["lateral_bytes"])
           for i in s["identities"] if i["lateral_packets"]}
    total = (sum(v[0] for v in got.values()), sum(v[1] for v in got.values()))
    ok = want == got and total == (s["lateral"]["packets"], s["lateral"]["bytes"])
    result(ok, f"whole {name}", diff(want, got) or f"identity sum {total} != lateral total")


def internal(addr):
    try:
        a = ipaddress.ip_address(addr)
    except ValueError:
        return False
    if a.version == 6 and a.ipv4_mapped:
        a = a.ipv4_mapped
    return any(a.version == n.version and a in n for n in DEFAULT_INTERNAL)


def tshark_egress(path):
    fields = ["frame.protocols", "ip.src", "ip.dst", "ip.len", "ipv6.src", "ipv6.dst",
              "ipv6.plen", "ipv6.opt.jumbo"]
    cmd = ["tshark", "-n", "-r", path] + TSHARK_OPTS + ["-T", "fields", "-E", "separator=/t",
                                                     "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300).stdout
    eg = defaultdict(lambda: [0, 0])
    for line in out.splitlines():
        c = line.split("\t")
        c += [""] * (8 - len(c))
        ver = 0
        for tok in c[0].split(":"):
            if tok in ("ip", "ipv6"):
                ver = 4 if tok == "ip" else 6
                break
        if ver == 4 and c[1] and c[2]:
            src, dst, n = c[1], c[2], int(c[3] or 0)
        elif ver == 6 and c[4] and c[5]:
            src, dst = c[4], c[5]
            plen = int(c[6] or 0)
            n = 40 + (int(c[7]) if plen == 0 and c[7] else plen)
        else:
            continue
        if internal(src) and not internal(dst):
            eg[src][0] += 1
            eg[src][1] += n
    return {k: tuple(v) for k, v in eg.items()}


def check_egress(name, path):
    want = tshark_egress(path)
    s = summary(path)
    got = {i["identity"]: (i["out_packets"], i["out_bytes"]) for i in s["identities"] if i["out_packets"]}
    total = (sum(v[0] for v in got.values()), sum(v[1] for v in got.values()))
    ok = want == got and total == (s["egress"]["packets"], s["egress"]["bytes"])
    result(ok, f"egress {name}", diff(want, got) or f"identity sum {total} != egress total")


def main():
    if not os.path.isdir(os.path.join(PCAPS, "corpus", "real")):
        skip("oracle", f"{PCAPS} is absent (it sits beside the clone in CI); nothing to compare")
    elif not os.access(SENSOR, os.X_OK):
        result(False, "oracle", f"{SENSOR} not built")
    else:
        have_tshark = shutil.which("tshark") is not None
        if not have_tshark:
            skip("egress", "tshark is not installed (apt-get install tshark): egress checks skipped")
        real = os.path.join(PCAPS, "corpus", "real")
        for name in sorted(os.listdir(real)):
            path = os.path.join(real, name)
            if name in EXCLUDED:
                skip(name, EXCLUDED[name])
                continue
            for check in ([check_whole] + ([check_egress] if have_tshark else [])):
                try:
                    check(name, path)
                except Exception as e:  # a crash or bad JSON is a failure, with its reason
                    result(False, f"{check.__name__[6:]} {name}", str(e))
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
