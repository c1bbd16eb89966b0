#!/usr/bin/env bash
# t_collector_http_asan: the real collector's HTTP provider under ASan and
# UBSan (build-asan/egress-collector, built here from the sanitized
# libraries `make test` already has). Requests with edge inputs must answer
# with the right status and leave no sanitizer report: identities while
# there are none (qsort of an empty list), cursors Redis would refuse or
# that are not stream ids, a NUL in a filter, and alert pages that end
# exactly at the stream's oldest entry (next_cursor null, not a cursor to
# an empty page). SIGTERM then exits 0 with no leaks.
. "$(dirname "$0")/../lib.sh"
command -v curl >/dev/null || { skip "curl not installed"; finish; exit; }
ACOLL=$TOP/build-asan/egress-collector
make -s -C "$TOP" B=build-asan SANITIZE=address,undefined build-asan/egress-collector \
	>"$TMP/make.log" 2>&1 || { fail "building $ACOLL: $(tail -n 3 "$TMP/make.log")"; finish; exit; }
start_redis || { fail "redis-server did not start"; finish; exit; }
cat >"$TMP/c.conf" <<EOF
[collector]
redis = unix:$REDIS_SOCK
alerts_file = $TMP/alerts.jsonl
http = 127.0.0.1:0
http_rate = 0
seccomp = off
[rule cap-1h]
window = 1h
max_bytes = 10MB
severity = high
EOF
ASAN_OPTIONS=detect_leaks=1 "$ACOLL" -c "$TMP/c.conf" >"$TMP/c.log" 2>&1 &
CPID=$!
on_exit "kill $CPID 2>/dev/null; wait $CPID 2>/dev/null"
PORT=
for _ in $(seq 200); do
	PORT=$(sed -n 's/.*http: listening on .*(port \([0-9]*\)).*/\1/p' "$TMP/c.log")
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || { fail "sanitized collector did not listen: $(tail -n 5 "$TMP/c.log")"; finish; exit; }
A=http://127.0.0.1:$PORT
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi; }
code() { curl -s -o "$TMP/body" -w '%{http_code}' "$A$1"; }
py() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/body" "$1" 2>&1; }
alive() { kill -0 $CPID 2>/dev/null && ! grep -q 'runtime error\|ERROR: AddressSanitizer' "$TMP/c.log"; }

expect "identities with none known: 200, total 0" "200 0" "$(code /api/v1/identities) $(py 'j["total"]')"
alive && pass "no sanitizer report" || fail "sanitizer: $(grep -m1 -A3 'runtime error\|AddressSanitizer' "$TMP/c.log")"

# One report over the rule's cap raises alerts; more put the stream at
# exactly one XREVRANGE chunk (200).
rcli XADD egress:reports '*' report '{"v":1,"sensor":"gw-t","seq":1,"start":1742380740,"end":1742380800,"identities":[{"identity":"db-1","out_bytes":50000000,"out_packets":10,"in_bytes":7,"in_packets":1,"flows":2,"destinations":[{"addr":"198.51.100.7","port":443,"proto":"tcp","bytes":50000000,"packets":10}]}],"stats":{"packets_seen":11,"packets_undecoded":1,"drops_kernel":3}}' >/dev/null
for _ in $(seq 100); do [ "$(rcli XLEN egress:alerts)" -ge 1 ] && break; sleep 0.05; done
sleep 0.3
N=$(rcli XLEN egress:alerts)
[ "$N" -ge 1 ] && pass "the report raised $N alerts" || fail "no alert raised"
for i in $(seq $((200 - N))); do echo "XADD egress:alerts * alert '{\"id\":\"x$i\",\"identity\":\"web-$i\",\"severity\":\"low\",\"time\":1742380800}'"; done | rcli >/dev/null

expect "cursor beyond 64 bits: 400" 400 "$(code '/api/v1/alerts?cursor=99999999999999999999999-1')"
expect "cursor that is not a stream id: 400" 400 "$(code '/api/v1/alerts?cursor=abc')"
expect "a NUL in a filter: 400, not a filter on its prefix" 400 "$(code '/api/v1/alerts?identity=db-1%00garbage')"
expect "identity filter still works" "200 db-1" "$(code '/api/v1/alerts?identity=db-1') $(py 'j["alerts"][0]["identity"]')"
expect "a page ending at the oldest entry (limit 200 of 200): next_cursor null" "200 None" \
	"$(py 'len(j["alerts"])' >/dev/null; code '/api/v1/alerts?limit=200' >/dev/null; py 'len(j["alerts"])') $(py 'j["next_cursor"]')"
code '/api/v1/alerts?limit=199' >/dev/null
cur=$(py 'j["next_cursor"]')
expect "a page cut before the end (199 of 200) has a cursor" 1 "$([ "$cur" != None ] && echo 1)"
expect "whose next page holds the last one, with next_cursor null" "200 1 None" \
	"$(code "/api/v1/alerts?limit=5&cursor=$cur") $(py 'len(j["alerts"])') $(py 'j["next_cursor"]')"
rcli XTRIM egress:alerts MAXLEN 3 >/dev/null
expect "a page ending at the last of a short stream (limit 3 of 3): next_cursor null" "3 None" \
	"$(code '/api/v1/alerts?limit=3' >/dev/null; py 'len(j["alerts"])') $(py 'j["next_cursor"]')"
expect "metrics with one identity" 200 "$(code /metrics)"
alive && pass "no sanitizer report after the alert queries" ||
	fail "sanitizer: $(grep -m1 -A3 'runtime error\|AddressSanitizer' "$TMP/c.log")"
kill -TERM $CPID; wait $CPID; rc=$?
expect "sanitized collector exits 0 on SIGTERM (no leaks)" 0 "$rc"
finish
