#!/usr/bin/env bash
# t_http_api: the HTTP API, alert stream and metrics, end to end over TCP.
# tests/integration/http_fixture serves the real HTTP module with a fake
# provider; a private redis-server holds the alert stream. Every endpoint's
# JSON, every kind of bad request (status, JSON error, and proof that the
# provider was not called), tokens, rate limits, and the SSE feed: live
# delivery, exact resume with Last-Event-ID (from the ring and from Redis),
# client cap, slow-client drop, heartbeats.
. "$(dirname "$0")/../lib.sh"
FIXTURE=$BUILD/tools/integration/http_fixture
if [ ! -x "$FIXTURE" ]; then
	fail "$FIXTURE not built"; finish; exit
fi
command -v curl >/dev/null || { skip "curl not installed"; finish; exit; }
start_redis || { fail "redis-server did not start"; finish; exit; }

# start_fixture NAME ARGS...: sets PORT (and NAME's pid in FPID).
start_fixture() {
	local name=$1; shift
	"$FIXTURE" --redis "unix:$REDIS_SOCK" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
	FPID=$!
	on_exit "kill $FPID 2>/dev/null; wait $FPID 2>/dev/null"
	for _ in $(seq 100); do
		PORT=$(sed -n 's/^port //p' "$TMP/$name.out")
		[ -n "$PORT" ] && return 0
		sleep 0.05
	done
	echo "fixture $name did not start: $(cat "$TMP/$name.err")" >&2
	return 1
}

# req URL [curl args...]: sets CODE, BODY file $TMP/body, headers $TMP/hdr.
req() {
	local url=$1; shift
	CODE=$(curl -s -o "$TMP/body" -D "$TMP/hdr" -w '%{http_code}' "$@" "$url")
}
# jq_ PYEXPR: evaluates a Python expression over the JSON body bound to j.
jq_() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/body" "$1" 2>&1; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi; }
metric() { curl -s "$A/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# Pre-existing alerts, so a new stream client has a backlog.
xadd() { rcli XADD egress:alerts '*' alert "{\"id\":\"$1\",\"identity\":\"web-prod\",\"severity\":\"high\"}"; }
E1=$(xadd e1); E2=$(xadd e2); E3=$(xadd e3)

start_fixture a --max-request 4096 --heartbeat 1 --ring 4 --backlog 3 || { fail "fixture a"; finish; exit; }
A=http://127.0.0.1:$PORT
APID=$FPID

# ---- endpoints ----
req "$A/healthz"
expect "healthz 200" 200 "$CODE"
for _ in $(seq 40); do
	req "$A/healthz"; [ "$(jq_ 'j["alert_stream"]')" = connected ] && break; sleep 0.05
done
expect "healthz reports the alert stream connected" "ok connected" "$(jq_ 'j["status"]+" "+j["alert_stream"]')"

req "$A/api/v1/identities"
expect "identities 200" 200 "$CODE"
expect "identities defaults echoed (window, limit, offset)" "1h 50 0" "$(jq_ '"%s %d %d" % (j["window"], j["limit"], j["offset"])')"
expect "identities: 10 entries, largest first, bytes as given" "10 10 analytics-etl 21000000000 1100000000" \
	"$(jq_ '"%d %d %s %d %d" % (len(j["identities"]), j["total"], j["identities"][0]["identity"], j["identities"][0]["out_bytes"], j["identities"][0]["baseline_bytes"])')"
grep -qi '^content-type: application/json' "$TMP/hdr" && pass "identities is application/json" || fail "identities content type"

req "$A/api/v1/identities?window=24h&limit=3&offset=2"
expect "identities window=24h&limit=3&offset=2 pages and scales" "3 api-gateway 172800000000 24h" \
	"$(jq_ '"%d %s %d %s" % (len(j["identities"]), j["identities"][0]["identity"], j["identities"][0]["out_bytes"], j["window"])')"

req "$A/api/v1/identities/web-prod"
expect "identity web-prod: 144 points, 5 destinations, 1h volume" "200 web-prod 144 5 9600000000" \
	"$CODE $(jq_ '"%s %d %d %d" % (j["identity"], len(j["series"]), len(j["top_destinations"]), j["windows"]["1h"]["out_bytes"])')"
req "$A/api/v1/identities/k8s/payments/worker"
expect "identity name with slashes" "200 k8s/payments/worker" "$CODE $(jq_ 'j["identity"]')"
req "$A/api/v1/identities/k8s%2Fpayments%2Fworker"
expect "identity name percent-encoded" "200 k8s/payments/worker" "$CODE $(jq_ 'j["identity"]')"
req "$A/api/v1/identities/no-such-host"
expect "unknown identity is a JSON 404" "404 404 no such identity" "$CODE $(jq_ '"%d %s" % (j["status"], j["error"])')"

req "$A/api/v1/alerts"
expect "alerts: newest first" "200 a6,a5,a4,a3,a2,a1" "$CODE $(jq_ '",".join(a["id"] for a in j["alerts"])')"
req "$A/api/v1/alerts?severity=high"
expect "alerts severity=high means at least high" "a6,a3,a2" "$(jq_ '",".join(a["id"] for a in j["alerts"])')"
req "$A/api/v1/alerts?limit=2"
expect "alerts limit=2 gives a cursor" "a6,a5 2" "$(jq_ '",".join(a["id"] for a in j["alerts"]) + " " + j["next_cursor"]')"
req "$A/api/v1/alerts?limit=2&cursor=2"
expect "alerts cursor=2 continues" "a4,a3" "$(jq_ '",".join(a["id"] for a in j["alerts"])')"
req "$A/api/v1/alerts?identity=backup-svc&since=1742460000"
expect "alerts identity and since filter" "a5" "$(jq_ '",".join(a["id"] for a in j["alerts"])')"
req "$A/api/v1/alerts?since=1742466000.5"
expect "alerts since with a fraction" "a6" "$(jq_ '",".join(a["id"] for a in j["alerts"])')"

req "$A/api/v1/sensors"
expect "sensors: 3, drops of gw-us-1" "200 3 15230" "$CODE $(jq_ '"%d %d" % (len(j["sensors"]), j["sensors"][1]["drops_kernel"])')"
req "$A/api/v1/config"
expect "config version" "200 fixture-1" "$CODE $(jq_ 'j["version"]')"
cp "$TMP/body" "$TMP/config.before"

req "$A/"
expect "dashboard 200" 200 "$CODE"
grep -q '<title>egresswatch</title>' "$TMP/body" && grep -q 'new EventSource' "$TMP/body" &&
	pass "dashboard is the page, with its EventSource" || fail "dashboard body"
grep -qi "^content-security-policy: default-src 'none'" "$TMP/hdr" && pass "dashboard has a CSP" || fail "dashboard CSP"
grep -Eq '(src|href)="https?:' "$TMP/body" && fail "dashboard loads external assets" || pass "dashboard has no external assets"
req "$A/" -I
expect "HEAD / is 200" 200 "$CODE"

# ---- bad requests: right status, JSON error, provider never called ----
calls0=$(metric egresswatch_fixture_provider_calls_total)
bad() { # bad WANT URL [curl args]
	local want=$1 url=$2; shift 2
	req "$A$url" "$@"
	local st; st=$(jq_ 'j["status"]')
	if [ "$CODE" = "$want" ] && [ "$st" = "$want" ] && [ -n "$(jq_ 'j["error"]')" ]; then
		pass "$want for $url $*"
	else
		fail "$url $*: want $want, got $CODE ($(head -c 200 "$TMP/body"))"
	fi
}
bad 400 "/api/v1/identities?window=2h"
bad 400 "/api/v1/identities?window="
bad 400 "/api/v1/identities?limit=0"
bad 400 "/api/v1/identities?limit=1001"
bad 400 "/api/v1/identities?limit=abc"
bad 400 "/api/v1/identities?limit=-1"
bad 400 "/api/v1/identities?limit=1e3"
bad 400 "/api/v1/identities?limit=%2010"
bad 400 "/api/v1/identities?limit=99999999999999999999999"
bad 400 "/api/v1/identities?offset=1000001"
bad 400 "/api/v1/identities?limt=5"
bad 400 "/api/v1/identities?limit=1&limit=2"
bad 400 "/api/v1/alerts?since=abc"
bad 400 "/api/v1/alerts?since=inf"
bad 400 "/api/v1/alerts?since=-5"
bad 400 "/api/v1/alerts?since=0x10"
bad 400 "/api/v1/alerts?since=1.2.3"
bad 400 "/api/v1/alerts?severity=urgent"
bad 400 "/api/v1/alerts?identity=bad%20name"
bad 400 "/api/v1/alerts?cursor=a%27b"
bad 400 "/api/v1/alerts?cursor=abc"
bad 400 "/api/v1/alerts?cursor=99999999999999999999999-1"
bad 400 "/api/v1/alerts?identity=web-prod%00garbage"
bad 400 "/api/v1/alerts?limit=0"
bad 400 "/api/v1/identities/bad%20name"
bad 400 "/api/v1/identities/a%00b"
bad 400 "/api/v1/identities/$(printf 'x%.0s' $(seq 129))"
bad 400 "/api/v1/identities?access_token=x"
bad 400 "/api/v1/sensors?x=1"
bad 400 "/api/v1/alerts/stream?last_event_id=abc"
bad 400 "/api/v1/alerts/stream" -H "Last-Event-ID: 12-x"
bad 404 "/api/v1/nope"
bad 404 "/api/v2/identities"
bad 404 "/nope"
bad 405 "/api/v1/config" -X POST -d '{"version":"evil"}'
bad 405 "/api/v1/identities" -X DELETE
bad 405 "/api/v1/config" -X PUT -d x
bad 405 "/metrics" -X POST
grep -qi '^allow: GET, HEAD' "$TMP/hdr" && pass "405 says Allow: GET, HEAD" || fail "405 without Allow"
bad 405 "/api/v1/config" -X OPTIONS
bad 413 "/api/v1/identities" -H "X-Pad: $(head -c 5000 /dev/zero | tr '\0' a)"
bad 413 "/api/v1/identities?window=1h&$(head -c 4200 /dev/zero | tr '\0' a)=1"
req "$A/api/v1/config" -X POST --data-binary @<(head -c 100000 /dev/zero)
[ "$CODE" = 413 ] || [ "$CODE" = 000 ] && pass "a 100 kB body is refused ($CODE)" || fail "100 kB body: $CODE"
expect "no rejected request reached the provider" "$calls0" "$(metric egresswatch_fixture_provider_calls_total)"
req "$A/api/v1/config"
cmp -s "$TMP/body" "$TMP/config.before" && pass "config unchanged after the rejected writes" || fail "config changed"
expect "413s counted, evhttp's own for the 100 kB body too" 3 "$(metric egresswatch_http_too_large_total)"
# Headers over evhttp's own cap (2 x max-request): evhttp answers in HTML; counted too.
errs() { curl -s "$A/metrics" | awk '/^egresswatch_http_requests_total\{code="(400|413)"\}/ { n += $2 } END { print n }'; }
e0=$(errs)
python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"GET /healthz HTTP/1.1\r\nX: "+b"a"*20000+b"\r\n\r\n"); print(s.recv(64).split(b"\r\n")[0].decode())' "$PORT" >"$TMP/evhttp.status" 2>&1
expect "evhttp's own error reply ($(cat "$TMP/evhttp.status")) is counted by status" $((e0 + 1)) "$(errs)"
n405=$(curl -s "$A/metrics" | sed -n 's/^egresswatch_http_requests_total{code="405"} //p')
expect "405s counted by code" 5 "$n405"

# ---- the alert stream ----
# sse NAME [curl args]: a background stream client writing $TMP/NAME.sse.
sse() {
	local name=$1; shift
	curl -sN "$@" "$A/api/v1/alerts/stream" >"$TMP/$name.sse" 2>/dev/null &
	SSE_PID=$!
	on_exit "kill $SSE_PID 2>/dev/null"
}
ids_of() { sed -n 's/^id: //p' "$TMP/$1.sse" | paste -sd, -; }
wait_ids() { # wait_ids NAME N: until NAME has N ids (3 s at most)
	for _ in $(seq 60); do
		[ "$(sed -n 's/^id: //p' "$TMP/$1.sse" | wc -l)" -ge "$2" ] && return 0
		sleep 0.05
	done
}

sse c1; C1=$SSE_PID
wait_ids c1 3
expect "a new client gets the backlog (last 3)" "$E1,$E2,$E3" "$(ids_of c1)"
E4=$(xadd e4); E5=$(xadd e5)
wait_ids c1 5
expect "live alerts arrive with their stream ids" "$E1,$E2,$E3,$E4,$E5" "$(ids_of c1)"
grep -q "^data: {\"id\":\"e5\",\"identity\":\"web-prod\",\"severity\":\"high\"}$" "$TMP/c1.sse" &&
	pass "event data is the alert JSON" || fail "event data: $(grep data: "$TMP/c1.sse" | tail -n 1)"
sleep 1.3
grep -q '^: heartbeat' "$TMP/c1.sse" && pass "heartbeat comments" || fail "no heartbeat in 1.3 s"
grep -q '^retry: ' "$TMP/c1.sse" && pass "retry hint sent" || fail "no retry line"
kill $C1; wait $C1 2>/dev/null
E6=$(xadd e6); E7=$(xadd e7)
sse c2 -H "Last-Event-ID: $E5"; C2=$SSE_PID
wait_ids c2 2; sleep 0.3
expect "reconnect with Last-Event-ID gets exactly the missed ones" "$E6,$E7" "$(ids_of c2)"
sse c3 -G -d "last_event_id=$E1"; C3=$SSE_PID
wait_ids c3 6; sleep 0.3
expect "resume older than the ring replays from Redis, exactly" "$E2,$E3,$E4,$E5,$E6,$E7" "$(ids_of c3)"
E8=$(xadd e8)
wait_ids c3 7; wait_ids c2 3
expect "replayed client then gets live ones" "$E2,$E3,$E4,$E5,$E6,$E7,$E8" "$(ids_of c3)"
expect "and the other one too, once" "$E6,$E7,$E8" "$(ids_of c2)"
clients=$(metric egresswatch_sse_clients)
expect "metrics: 2 stream clients connected" 2 "$clients"
kill $C2 $C3 2>/dev/null; wait $C2 $C3 2>/dev/null
for _ in $(seq 40); do [ "$(metric egresswatch_sse_clients)" = 0 ] && break; sleep 0.05; done
expect "disconnected clients are forgotten" 0 "$(metric egresswatch_sse_clients)"
expect "no replay gaps" 0 "$(metric egresswatch_sse_replay_gaps_total)"
kill -TERM $APID; wait $APID; rc=$?
expect "fixture a exits 0 on SIGTERM (no leaks under ASan)" 0 "$rc"

# ---- tokens, rate limit, client cap, slow clients: a second fixture ----
printf 'tok-%s\n' "$RANDOM$RANDOM" >"$TMP/token"
TOK=$(cat "$TMP/token")
start_fixture b --token-file "$TMP/token" --sse-max-clients 2 --sse-buf 8192 ||
	{ fail "fixture b"; finish; exit; }
B=http://127.0.0.1:$PORT
BPID=$FPID
A=$B   # metric() reads from here on
req "$B/api/v1/sensors"
expect "no token: 401" "401 401" "$CODE $(jq_ 'j["status"]')"
grep -qi '^www-authenticate: Bearer' "$TMP/hdr" && pass "401 says WWW-Authenticate: Bearer" || fail "401 without WWW-Authenticate"
req "$B/api/v1/sensors" -H "Authorization: Bearer wrong"
expect "wrong token: 403" 403 "$CODE"
req "$B/api/v1/sensors" -H "Authorization: Bearer ${TOK}x"
expect "token with a suffix: 403" 403 "$CODE"
req "$B/api/v1/sensors" -H "Authorization: Bearer ${TOK%?}"
expect "token prefix: 403" 403 "$CODE"
req "$B/api/v1/nope"
expect "unknown /api path without token: 401, not 404" 401 "$CODE"
req "$B/api/v1/alerts/stream?x=1"
expect "stream with an unknown parameter, without token: 401, not 400" 401 "$CODE"
req "$B/api/v1/alerts/stream?x=1&access_token=$TOK"
expect "and with the token: 400" 400 "$CODE"
req "$B/api/v1/sensors" -H "Authorization: Bearer $TOK"
expect "right token: 200" 200 "$CODE"
req "$B/api/v1/sensors?access_token=$TOK"
expect "access_token is not accepted off the stream" 401 "$CODE"
req "$B/healthz"
expect "healthz needs no token" 200 "$CODE"
req "$B/api/v1/alerts/stream?access_token=wrong" --max-time 1
expect "stream with a wrong access_token: 403" 403 "$CODE"
sse s1 -G -d "access_token=$TOK"; S1=$SSE_PID
sse s2 -H "Authorization: Bearer $TOK"; S2=$SSE_PID
wait_ids s1 1; wait_ids s2 1
expect "stream with access_token works" "$E6,$E7,$E8" "$(sed -n 's/^id: //p' "$TMP/s1.sse" | tail -n 3 | paste -sd, -)"
req "$B/api/v1/alerts/stream" -H "Authorization: Bearer $TOK" --max-time 2
expect "third stream client refused: 503" "503 503" "$CODE $(jq_ 'j["status"]')"
expect "refusal counted" 1 "$(metric egresswatch_sse_refused_total)"
kill $S1 $S2 2>/dev/null; wait $S1 $S2 2>/dev/null

# A client that never reads: the server's queue for it passes 8 kB and it is dropped.
python3 - "$PORT" "$TOK" >"$TMP/slow.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /api/v1/alerts/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n" % sys.argv[2]).encode())
time.sleep(10)
EOF
SLOW=$!
sleep 0.3
big=$(head -c 20000 /dev/zero | tr '\0' x)
for i in $(seq 200); do echo "XADD egress:alerts * alert '{\"id\":\"big$i\",\"pad\":\"$big\"}'"; done | rcli >/dev/null
for _ in $(seq 100); do [ "$(metric egresswatch_sse_dropped_slow_total)" = 1 ] && break; sleep 0.05; done
expect "a client that does not read is dropped, counted" 1 "$(metric egresswatch_sse_dropped_slow_total)"
expect "and forgotten" 0 "$(metric egresswatch_sse_clients)"
kill $SLOW 2>/dev/null; wait $SLOW 2>/dev/null

# Rate limit: 1 request/s, burst 5, on a third fixture.
start_fixture c --rate 1 --burst 5 || { fail "fixture c"; finish; exit; }
C=http://127.0.0.1:$PORT
n429=0
for _ in $(seq 20); do
	c=$(curl -s -o /dev/null -w '%{http_code}' "$C/healthz")
	[ "$c" = 429 ] && n429=$((n429 + 1))
done
[ "$n429" -ge 13 ] && [ "$n429" -le 15 ] && pass "rate limit: $n429 of 20 quick requests got 429" ||
	fail "rate limit: $n429 429s of 20"
curl -s -D "$TMP/hdr" -o "$TMP/body" "$C/healthz" >/dev/null
grep -qi '^retry-after: 1' "$TMP/hdr" && [ "$(jq_ 'j["status"]')" = 429 ] &&
	pass "429 is JSON with Retry-After" || fail "429 shape: $(cat "$TMP/body")"
sleep 1.1
A=$C
lim=$(metric egresswatch_http_rate_limited_total)
[ "${lim:-0}" -ge 14 ] && pass "rate-limited requests counted ($lim)" || fail "rate_limited_total: $lim"

# Clean shutdown on SIGTERM (ASan builds report leaks here).
kill -TERM $BPID; wait $BPID; rc=$?
expect "fixture b exits 0 on SIGTERM (no leaks under ASan)" 0 "$rc"
finish
