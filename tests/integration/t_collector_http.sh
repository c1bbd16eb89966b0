#!/usr/bin/env bash
# t_collector_http: the HTTP API of the real egress-collector (t_http_api.sh
# covers the HTTP module against a fixture). A private redis-server; reports
# XADDed with known bytes; the collector serving on a free port with a token.
# Every endpoint's numbers must equal what was fed, a baseline says whose
# it is (the detector's once learned, else the rules'), bad requests get
# their status and change no state, an alert raised by a report reaches a
# stream client live and a resumed client from Last-Event-ID, and the
# collector runs under its seccomp filter.
. "$(dirname "$0")/../lib.sh"
for t in jq curl; do
	command -v $t >/dev/null || { skip "t_collector_http: $t is not installed"; finish; exit; }
done
start_redis || { fail "redis-server did not start"; finish; exit; }
TOKEN=t0ken-$$-for-the-test
printf '%s\n' "$TOKEN" >"$TMP/token"
chmod 600 "$TMP/token"
cat >"$TMP/c.conf" <<EOF
[collector]
redis = unix:$REDIS_SOCK
alerts_file = $TMP/alerts.jsonl
http = 127.0.0.1:0
http_token_file = $TMP/token
http_rate = 0
http_streams_per_address = 3
metrics_top_n = 2
sensor_blind_rate = 0.5
[detect]
learning = 6h
[rule cap-1h]
window = 1h
max_bytes = 10MB
severity = high
EOF
"$COLLECTOR" -c "$TMP/c.conf" >"$TMP/c.log" 2>&1 &
CPID=$!
on_exit "kill $CPID 2>/dev/null; wait $CPID 2>/dev/null"
PORT=
for _ in $(seq 100); do
	PORT=$(sed -n 's/.*http: listening on .*(port \([0-9]*\)).*/\1/p' "$TMP/c.log")
	[ -n "$PORT" ] && break
	sleep 0.05
done
[ -n "$PORT" ] || { fail "collector did not listen: $(tail -n 3 "$TMP/c.log")"; finish; exit; }
pass "collector serves HTTP on port $PORT"
A=http://127.0.0.1:$PORT
AUTH=(-H "Authorization: Bearer $TOKEN")

# The filter goes on after the listener is bound and Redis connected, a
# moment after the port shows up: wait for it rather than race it.
for _ in $(seq 50); do grep -q '^Seccomp:[[:space:]]*2' /proc/$CPID/status && break; sleep 0.1; done
grep -q '^Seccomp:[[:space:]]*2' /proc/$CPID/status && pass "collector runs under its seccomp filter" ||
	fail "collector Seccomp: $(grep Seccomp: /proc/$CPID/status)"

# report_to CLI SEQ END IDENTITY BYTES [DEST]: one report of one identity,
# 60 s long, XADDed with CLI (a redis-cli wrapper); report: to the main Redis.
report_to() {
	local cli=$1; shift
	local dest=${5:-198.51.100.7}
	"$cli" XADD egress:reports '*' report "{\"v\":1,\"sensor\":\"gw-t\",\"seq\":$1,\"start\":$(($2 - 60)),\"end\":$2,\"identities\":[{\"identity\":\"$3\",\"out_bytes\":$4,\"out_packets\":10,\"in_bytes\":7,\"in_packets\":1,\"flows\":2,\"destinations\":[{\"addr\":\"$dest\",\"port\":443,\"proto\":\"tcp\",\"bytes\":$4,\"packets\":10}]}],\"stats\":{\"packets_seen\":11,\"packets_undecoded\":1,\"drops_kernel\":3}}" >/dev/null
}
report() { report_to rcli "$@"; }
# drained_on CLI: the collector behind CLI's Redis has read and acked everything.
drained_on() {
	for _ in $(seq 200); do
		[ "$("$1" --raw XINFO GROUPS egress:reports | awk 'p=="lag"{print} {p=$0}')" = 0 ] &&
			[ "$("$1" XPENDING egress:reports collectors | head -n 1)" = 0 ] && return 0
		sleep 0.05
	done
	return 1
}
drained() { drained_on rcli; }
T=1742385600
report 1 $((T + 60)) web-a 3000000
report 2 $((T + 120)) web-b 1000000
report 3 $((T + 180)) web-a 2000000 203.0.113.9
report 4 $((T + 240)) etl 4000000
drained || fail "collector did not drain the first reports"

code() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
# metric NAME: the value of one series in /metrics ("" when absent).
metric() { curl -s "$A/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
# wait_for CMD...: retries CMD for up to 5 s.
wait_for() {
	for _ in $(seq 100); do "$@" && return 0; sleep 0.05; done
	return 1
}
[ "$(code "$A/api/v1/identities")" = 401 ] && pass "no token: 401" || fail "no token: $(cat "$TMP/body")"
[ "$(code -H "Authorization: Bearer nope" "$A/api/v1/identities")" = 403 ] && pass "wrong token: 403" ||
	fail "wrong token: $(cat "$TMP/body")"

[ "$(code "${AUTH[@]}" "$A/api/v1/identities?window=24h")" = 200 ] || fail "identities: $(cat "$TMP/body")"
got=$(jq -r '[.identities[] | "\(.identity)=\(.out_bytes)"] | join(" ")' "$TMP/body")
[ "$got" = "web-a=5000000 etl=4000000 web-b=1000000" ] && pass "identities ranked with exact bytes: $got" ||
	fail "identities: $got"
[ "$(jq .total "$TMP/body")" = 3 ] && pass "identities total 3" || fail "total $(jq .total "$TMP/body")"
code "${AUTH[@]}" "$A/api/v1/identities?window=24h&limit=1&offset=1" >/dev/null
[ "$(jq -r '.identities[0].identity' "$TMP/body")" = etl ] && pass "paging: offset 1 limit 1 is etl" ||
	fail "paging: $(jq -c . "$TMP/body")"

[ "$(code "${AUTH[@]}" "$A/api/v1/identities/web-a")" = 200 ] || fail "identity: $(cat "$TMP/body")"
[ "$(jq '.totals.out_bytes' "$TMP/body")" = 5000000 ] && [ "$(jq '.totals.in_bytes' "$TMP/body")" = 14 ] &&
	pass "identity totals: 5000000 out, 14 in" || fail "identity totals $(jq -c .totals "$TMP/body")"
[ "$(jq -r '.top_destinations[0].addr + " " + (.top_destinations[0].bytes|tostring)' "$TMP/body")" = "198.51.100.7 3000000" ] &&
	pass "identity's top destination first" || fail "dests $(jq -c .top_destinations "$TMP/body")"
[ "$(jq '[.series[].out_bytes] | add' "$TMP/body")" = 5000000 ] && pass "minute series sums to the bytes" ||
	fail "series sum $(jq '[.series[].out_bytes] | add' "$TMP/body")"
[ "$(code "${AUTH[@]}" "$A/api/v1/identities/nobody")" = 404 ] && pass "unknown identity: 404" || fail "unknown identity"

[ "$(code "${AUTH[@]}" "$A/api/v1/sensors")" = 200 ] &&
	[ "$(jq -r '.sensors[0] | "\(.sensor) \(.last_seq) \(.reports) \(.packets_seen) \(.drops_kernel)"' "$TMP/body")" = "gw-t 4 4 44 12" ] &&
	pass "sensors: gw-t seq 4, 44 packets, 12 kernel drops" || fail "sensors: $(cat "$TMP/body")"
[ "$(jq -r '.sensors[0] | "\(.spool_depth) \(.queue_depth) \(.heartbeat_age_s)"' "$TMP/body")" = "null null null" ] &&
	pass "sensors: no heartbeat yet, spool and queue depth unknown" || fail "no heartbeat: $(cat "$TMP/body")"
# The sensor's heartbeat hash (as reporter.c writes it) adds its queue and
# spool depth; the sensor writes it, so a garbled field reads as unknown.
rcli HSET egress:sensor:gw-t spool_depth 7 queue_depth 2 wall_time "$(date +%s.%N)" >/dev/null
[ "$(code "${AUTH[@]}" "$A/api/v1/sensors")" = 200 ] &&
	[ "$(jq -r '.sensors[0] | "\(.spool_depth) \(.queue_depth)"' "$TMP/body")" = "7 2" ] &&
	jq -e '.sensors[0].heartbeat_age_s >= 0 and .sensors[0].heartbeat_age_s < 60' "$TMP/body" >/dev/null &&
	pass "sensors: spool depth 7 and queue depth 2 from the heartbeat" || fail "heartbeat: $(cat "$TMP/body")"
curl -s "$A/metrics" | grep -qx 'egresswatch_sensor_spool_depth{sensor="gw-t"} 7' &&
	pass "metrics: the sensor's spool depth" || fail "metrics spool: $(curl -s "$A/metrics" | grep spool_depth)"
rcli HSET egress:sensor:gw-t spool_depth 7x queue_depth -2 wall_time soon >/dev/null
[ "$(code "${AUTH[@]}" "$A/api/v1/sensors")" = 200 ] &&
	[ "$(jq -r '.sensors[0] | "\(.spool_depth) \(.queue_depth) \(.heartbeat_age_s) \(.last_seq)"' "$TMP/body")" = "null null null 4" ] &&
	pass "sensors: a garbled heartbeat reads as unknown, the rest stands" || fail "garbled: $(cat "$TMP/body")"
rcli DEL egress:sensor:gw-t >/dev/null
[ "$(code "${AUTH[@]}" "$A/api/v1/config")" = 200 ] && [ "$(jq -r '.rules[0].name' "$TMP/body")" = cap-1h ] &&
	[ -n "$(jq -r .version "$TMP/body")" ] && pass "config: version and rules" || fail "config: $(cat "$TMP/body")"

# Bad requests: their status, and the committed state unchanged.
"$COLLECTOR" --dump-state -c "$TMP/c.conf" >"$TMP/before.json" 2>/dev/null
[ "$(code -H "Authorization: Bearer nope" "$A/api/v1/identities/web-a")" = 403 ] &&
	pass "wrong token on an identity: 403" || fail "wrong token on an identity"
[ "$(code "${AUTH[@]}" "$A/api/v1/identities/$(head -c 300 /dev/zero | tr '\0' x)")" = 400 ] &&
	pass "a 300-character identity name: 400" || fail "long name: $(cat "$TMP/body")"
[ "$(code "${AUTH[@]}" "$A/api/v1/alerts?cursor=0-0;DEL")" = 400 ] && pass "a malformed cursor: 400" ||
	fail "bad cursor: $(cat "$TMP/body")"
for bad in "identities?window=5y" "identities?limit=abc" "identities?limit=0" "alerts?severity=urgent" \
	"alerts?since=yesterday" "identities?bogus=1"; do
	c=$(code "${AUTH[@]}" "$A/api/v1/$bad")
	[ "$c" = 400 ] && jq -e .error "$TMP/body" >/dev/null && pass "GET /api/v1/$bad: 400 with a JSON error" ||
		fail "GET /api/v1/$bad: $c $(cat "$TMP/body")"
done
[ "$(code -X POST "${AUTH[@]}" "$A/api/v1/identities")" = 405 ] && pass "POST: 405" || fail "POST not 405"
[ "$(code "${AUTH[@]}" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' a)" "$A/api/v1/identities")" = 413 ] &&
	pass "20 kB of headers: 413" || fail "oversized request: $(cat "$TMP/body")"
"$COLLECTOR" --dump-state -c "$TMP/c.conf" >"$TMP/after.json" 2>/dev/null
cmp -s "$TMP/before.json" "$TMP/after.json" && pass "bad requests changed no state" || fail "state changed"

# Alerts: none yet; a stream client connects; a report crosses the cap.
[ "$(code "${AUTH[@]}" "$A/api/v1/alerts")" = 200 ] && [ "$(jq '.alerts | length' "$TMP/body")" = 0 ] &&
	pass "no alerts under the cap" || fail "alerts before the cap: $(cat "$TMP/body")"
curl -sN "$A/api/v1/alerts/stream?access_token=$TOKEN" >"$TMP/live.sse" 2>/dev/null &
SSE=$!
on_exit "kill $SSE 2>/dev/null"
sleep 0.5
report 5 $((T + 300)) etl 9000000 192.0.2.66
drained || fail "collector did not drain the alerting report"
for _ in $(seq 100); do grep -q '^data: ' "$TMP/live.sse" && break; sleep 0.05; done
grep '^data: ' "$TMP/live.sse" | head -n 1 | sed 's/^data: //' >"$TMP/live.json"
[ "$(jq -r '.identity + " " + .rule + " " + (.observed_bytes|tostring)' "$TMP/live.json" 2>/dev/null)" = "etl cap-1h 13000000" ] &&
	pass "the alert reached the live stream: etl cap-1h 13000000" || fail "live stream: $(head -c 300 "$TMP/live.sse")"
E1=$(sed -n 's/^id: //p' "$TMP/live.sse" | head -n 1)

code "${AUTH[@]}" "$A/api/v1/alerts?identity=etl&severity=high" >/dev/null
[ "$(jq '.alerts | length' "$TMP/body")" = 1 ] && [ "$(jq -r '.alerts[0].stream_id' "$TMP/body")" = "$E1" ] &&
	pass "alerts filtered by identity and severity; stream id matches the event id" ||
	fail "alerts: $(cat "$TMP/body")"
code "${AUTH[@]}" "$A/api/v1/alerts?severity=critical" >/dev/null
[ "$(jq '.alerts | length' "$TMP/body")" = 0 ] && pass "severity=critical filters it out" || fail "critical filter"
code "${AUTH[@]}" "$A/api/v1/alerts?identity=web-a" >/dev/null
[ "$(jq '.alerts | length' "$TMP/body")" = 0 ] && pass "identity=web-a has none" || fail "identity filter"

# An escalation while no client is connected; a client resuming from E1 gets it.
kill $SSE 2>/dev/null
report 6 $((T + 360)) etl 40000000 192.0.2.66
drained || fail "collector did not drain the escalating report"
curl -sN --max-time 2 -H "Last-Event-ID: $E1" "$A/api/v1/alerts/stream?access_token=$TOKEN" >"$TMP/resume.sse" 2>/dev/null
ids=$(sed -n 's/^id: //p' "$TMP/resume.sse" | tr '\n' ' ')
n=$(rcli XLEN egress:alerts)
E2=$(rcli --raw XREVRANGE egress:alerts + - COUNT 1 | head -n 1)
[ "$n" = 2 ] && [ "$ids" = "$E2 " ] && pass "Last-Event-ID resumes with exactly the missed alert" ||
	fail "resume: got '$ids', stream has $n, newest $E2"

code "${AUTH[@]}" "$A/api/v1/alerts?limit=1" >/dev/null
cur=$(jq -r .next_cursor "$TMP/body")
first=$(jq -r '.alerts[0].stream_id' "$TMP/body")
code "${AUTH[@]}" "$A/api/v1/alerts?limit=1&cursor=$cur" >/dev/null
second=$(jq -r '.alerts[0].stream_id' "$TMP/body")
[ "$first" = "$E2" ] && [ "$second" = "$E1" ] && pass "alert paging: newest first, cursor to the next" ||
	fail "paging: $first then $second (want $E2 then $E1)"

curl -s "$A/metrics" >"$TMP/metrics"
grep -qx 'egresswatch_reports_applied_total 6' "$TMP/metrics" && pass "metrics: 6 reports applied" ||
	fail "metrics applied: $(grep applied "$TMP/metrics")"
grep -qx 'egresswatch_alerts_total 2' "$TMP/metrics" && pass "metrics: 2 alerts" || fail "metrics alerts"
grep -qx 'egresswatch_identity_out_bytes_total{identity="etl"} 53000000' "$TMP/metrics" &&
	pass "metrics: etl egress 53000000" || fail "metrics etl: $(grep identity_out_bytes_total "$TMP/metrics")"
[ "$(grep -c '^egresswatch_identity_out_bytes_total{' "$TMP/metrics")" = 2 ] &&
	pass "metrics: per-identity series capped at metrics_top_n = 2" || fail "metrics top_n"
grep -q '^egresswatch_sensor_drops_kernel_total{sensor="gw-t"} 18' "$TMP/metrics" &&
	pass "metrics: sensor drops" || fail "metrics drops: $(grep drops_kernel "$TMP/metrics")"

# A blind sensor: 90% of its packets dropped, twice in the hour: one alert.
blind() {
	rcli XADD egress:reports '*' report "{\"v\":1,\"sensor\":\"gw-t\",\"seq\":$1,\"start\":$(($2 - 60)),\"end\":$2,\"identities\":[],\"stats\":{\"packets_seen\":10,\"packets_undecoded\":0,\"drops_kernel\":90}}" >/dev/null
}
blind 7 $((T + 420))
blind 8 $((T + 480))
drained || fail "collector did not drain the blind reports"
nb=$(rcli --raw XRANGE egress:alerts - + | grep -c '"rule":"sensor-blind"')
[ "$nb" = 1 ] && pass "a sensor losing 90% of its packets: one sensor-blind alert" ||
	fail "sensor-blind alerts: $nb"

# The alerts file holds exactly the stream's alerts, in order (appended
# under the seccomp filter).
alert_ids() { rcli --raw XRANGE egress:alerts - + | grep '^{' | jq -r .id; }
# The file is appended just after the commit that acks the entries; an HTTP
# answer comes from the same event loop, so after one the append is done.
curl -s "$A/healthz" >/dev/null
[ "$(jq -r .id "$TMP/alerts.jsonl" | tr '\n' ' ')" = "$(alert_ids | tr '\n' ' ')" ] &&
	[ "$(wc -l <"$TMP/alerts.jsonl")" = "$(rcli XLEN egress:alerts)" ] &&
	pass "alerts file: the stream's $(rcli XLEN egress:alerts) alerts, in order" ||
	fail "alerts file: $(jq -r .id "$TMP/alerts.jsonl" | tr '\n' ' ') vs $(alert_ids | tr '\n' ' ')"

# Metrics the live loop keeps: ingest, lag, alerts by severity (equal to
# the stream's own counts), sensor health.
curl -s "$A/metrics" >"$TMP/metrics"
grep -qx 'egresswatch_ingest_entries_total 8' "$TMP/metrics" && pass "metrics: 8 entries ingested" ||
	fail "metrics ingest: $(grep ingest_entries "$TMP/metrics")"
grep -Eq '^egresswatch_ingest_lag_seconds [0-9]+\.[0-9]{3}$' "$TMP/metrics" &&
	grep -Eq '^egresswatch_ingest_last_commit_timestamp_seconds [1-9][0-9]{9}\.[0-9]{3}$' "$TMP/metrics" &&
	pass "metrics: ingest lag and last commit time" || fail "metrics lag: $(grep ingest_l "$TMP/metrics")"
sevok=1
for sev in low medium high critical; do
	want=$(rcli --raw XRANGE egress:alerts - + | grep -c "\"severity\":\"$sev\"")
	grep -qx "egresswatch_alerts_new_total{severity=\"$sev\"} $want" "$TMP/metrics" || {
		sevok=0
		fail "metrics: $sev alerts: want $want, $(grep "alerts_new_total{severity=\"$sev\"" "$TMP/metrics")"
	}
done
[ $sevok = 1 ] && pass "metrics: alerts by severity equal the stream's" || :
grep -qx "egresswatch_sensor_last_report_seconds{sensor=\"gw-t\"} $((T + 480))" "$TMP/metrics" &&
	grep -qx 'egresswatch_sensor_reports_total{sensor="gw-t"} 8' "$TMP/metrics" &&
	pass "metrics: sensor last report and report count" ||
	fail "metrics sensor: $(grep 'sensor_\(last\|reports\)' "$TMP/metrics")"
grep -q '^# TYPE egresswatch_http_' "$TMP/metrics" && pass "metrics: the HTTP module's own series follow" ||
	fail "metrics: no HTTP series"

# Redis drops every client of the collector (its state connection, alert
# feed and alerts queries): it reconnects under the filter, a report after
# it is applied, its alert reaches a stream client connected before, and the
# first alerts query after it succeeds.
curl -sN "$A/api/v1/alerts/stream?access_token=$TOKEN" >"$TMP/live2.sse" 2>/dev/null &
SSE2=$!
on_exit "kill $SSE2 2>/dev/null"
sleep 0.3
rc0=$(metric egresswatch_redis_reconnects_total)
rcli CLIENT KILL TYPE normal >/dev/null
report 9 $((T + 540)) exfil 12000000 192.0.2.99
drained || fail "collector did not drain after Redis dropped it"
[ "$(code "${AUTH[@]}" "$A/api/v1/alerts?identity=exfil")" = 200 ] &&
	[ "$(jq -r '.alerts[0].observed_bytes' "$TMP/body")" = 12000000 ] &&
	pass "first alerts query after the drop: 200 with the new alert" ||
	fail "alerts after the drop: $(cat "$TMP/body")"
rc1=$(metric egresswatch_redis_reconnects_total)
[ "${rc1:-0}" -gt "${rc0:-0}" ] && pass "metrics: Redis reconnects $rc0 -> $rc1" || fail "reconnects $rc0 -> $rc1"
code "${AUTH[@]}" "$A/api/v1/identities/exfil" >/dev/null
[ "$(jq '.totals.out_bytes' "$TMP/body")" = 12000000 ] && pass "report after the reconnect applied: 12000000" ||
	fail "exfil after reconnect: $(head -c 300 "$TMP/body")"
wait_for grep -q '"identity":"exfil"' "$TMP/live2.sse" &&
	pass "the alert feed reconnected: the open stream got the new alert" ||
	fail "stream after the drop: $(head -c 300 "$TMP/live2.sse")"
kill $SSE2 2>/dev/null
last_alert_exfil() { [ "$(tail -n 1 "$TMP/alerts.jsonl" | jq -r .identity)" = exfil ]; }
wait_for last_alert_exfil && pass "alerts file appended after the reconnect" ||
	fail "alerts file after the reconnect: $(tail -n 1 "$TMP/alerts.jsonl" | head -c 200)"
[ "$(code "$A/healthz")" = 200 ] && [ "$(jq -r .alert_stream "$TMP/body")" = connected ] &&
	pass "healthz: alert stream connected again" || fail "healthz: $(cat "$TMP/body")"

# Baselines: the detector's expectation (with its spread) once it has
# learned one, else the rules' baseline, else null. steady sends 1 MB an
# hour for 30 hours (a day of learned hours past its 6 h of learning);
# fresh 2 MB an hour for the last 5 (still learning: the rules' mean).
seq=10
for k in $(seq 1 30); do
	report $seq $((T + k * 3600 + 120)) steady 1000000
	seq=$((seq + 1))
	# early: 1.1 MB an hour for 3 hours, then 0.1 MB (so the rules' flat mean
	# and the detector's expectation differ).
	report $seq $((T + k * 3600 + 120)) early $([ $k -le 3 ] && echo 1100000 || echo 100000)
	seq=$((seq + 1))
	if [ $k -ge 26 ]; then
		report $seq $((T + k * 3600 + 120)) fresh 2000000
		seq=$((seq + 1))
	fi
done
drained || fail "collector did not drain the baseline reports"
code "${AUTH[@]}" "$A/api/v1/identities?window=1h" >/dev/null
B1=$(jq '.identities[] | select(.identity == "steady") | .baseline_bytes' "$TMP/body")
got=$(jq -r '[.identities[] | select(.identity == "steady" or .identity == "fresh") |
	"\(.identity) \(.baseline_source) \(.baseline_bytes) \(.spread_bytes | type)"] | join(", ")' "$TMP/body")
jq -e '.identities[] | select(.identity == "steady") | .baseline_bytes >= 999000 and
	.baseline_bytes <= 1001000 and .spread_bytes >= 99000 and .spread_bytes <= 101000' "$TMP/body" >/dev/null &&
	[ "$got" = "fresh rules 2000000 null, steady detector $B1 number" ] &&
	pass "identities: the detector's baseline and spread, else the rules': $got" || fail "baselines: $got"
code "${AUTH[@]}" "$A/api/v1/identities/steady" >/dev/null
got=$(jq -r '[.windows["1h", "24h", "7d"] | "\(.baseline_source) \(.spread_bytes | type)"] | join(", ")' "$TMP/body")
[ "$got" = "detector number, detector number, null null" ] &&
	[ "$(jq '.windows["1h"].baseline_bytes' "$TMP/body")" = "$B1" ] &&
	[ "$(jq '.windows["7d"].baseline_bytes' "$TMP/body")" = null ] &&
	pass "identity windows: 1h and 24h from the detector, 7d not known yet: $got" ||
	fail "identity windows: $got $(jq -c .windows "$TMP/body")"
code "${AUTH[@]}" "$A/api/v1/identities/early" >/dev/null
got=$(jq -c '[.series[-1].baseline_bytes, .series_hours[-1].baseline_bytes]' "$TMP/body")
BE=$(jq '.windows["1h"].baseline_bytes' "$TMP/body")
[ "$(jq -r '.windows["1h"].baseline_source' "$TMP/body")" = detector ] &&
	[ "$got" = "[$(((BE + 30) / 60)),$BE]" ] &&
	pass "series: the detector's hour, and a minute's share of it: $got" ||
	fail "series baselines: $got, want a 60th of $BE and $BE"
[ "$(metric 'egresswatch_identity_baseline_bytes_1h{identity="steady"}')" = "$B1" ] &&
	pass "metrics: steady's 1h baseline is the API's, $B1" ||
	fail "metrics baseline: $(curl -s "$A/metrics" | grep baseline_bytes_1h)"

# SIGHUP under the filter: the file is read again; a bad file keeps the old.
code "${AUTH[@]}" "$A/api/v1/config" >/dev/null
V1=$(jq -r .version "$TMP/body")
printf '[rule daily-24h]\nwindow = 24h\nmax_bytes = 1GB\nseverity = medium\n' >>"$TMP/c.conf"
kill -HUP $CPID
wait_for grep -q 'reloaded .*2 rules' "$TMP/c.log" || fail "no reload: $(tail -n 2 "$TMP/c.log")"
code "${AUTH[@]}" "$A/api/v1/config" >/dev/null
V2=$(jq -r .version "$TMP/body")
[ "$V2" != "$V1" ] && [ "$(jq -r '[.rules[].name] | join(",")' "$TMP/body")" = cap-1h,daily-24h ] &&
	pass "SIGHUP reload: config $V1 -> $V2 with the new rule" || fail "reload: $(cat "$TMP/body")"
echo "bogus_key = 1" >>"$TMP/c.conf"
kill -HUP $CPID
wait_for grep -q "reload of .* failed; keeping config $V2" "$TMP/c.log" &&
	grep -q 'c.conf:[0-9]*: .*bogus_key' "$TMP/c.log" &&
	[ "$(code "${AUTH[@]}" "$A/api/v1/config"; jq -r .version "$TMP/body")" = "200$V2" ] &&
	pass "a bad reload is reported as FILE:LINE and keeps config $V2" ||
	fail "bad reload: $(tail -n 3 "$TMP/c.log")"
grep -q '^Seccomp:[[:space:]]*2' /proc/$CPID/status && pass "still under the filter after all of it" ||
	fail "Seccomp now: $(grep Seccomp: /proc/$CPID/status)"

[ "$(code "$A/")" = 200 ] && grep -q '<html' "$TMP/body" && pass "the dashboard page is served" || fail "dashboard"

# http_streams_per_address = 3 (the default is 16): with 5 stream clients
# from 127.0.0.1 (the live one above may still hold a slot) some are refused.
refused0=$(metric egresswatch_sse_refused_address_total)
spids=
for i in 1 2 3 4 5; do
	curl -sN -m 3 -o /dev/null -w '%{http_code}\n' "$A/api/v1/alerts/stream?access_token=$TOKEN" \
		>"$TMP/cap.$i" 2>/dev/null &
	spids="$spids $!"
done
wait $spids
n503=$(cat "$TMP"/cap.[1-5] | grep -c '^503$')
refused1=$(metric egresswatch_sse_refused_address_total)
[ "$n503" -ge 2 ] && [ "$((refused1 - refused0))" = "$n503" ] &&
	pass "http_streams_per_address = 3: $n503 of 5 stream clients from one address refused (503), counted" ||
	fail "streams per address: $n503 refused, counter ${refused0:-?} -> ${refused1:-?}"
kill -0 $CPID 2>/dev/null && pass "collector still running after all of it" || fail "collector died: $(tail -n 3 "$TMP/c.log")"
if grep -q 'Operation not permitted' "$TMP/c.log"; then
	fail "a call was refused: $(grep 'not permitted' "$TMP/c.log" | head -n 2)"
else
	pass "no 'Operation not permitted' in the collector's log"
fi

# seccomp = off is honoured.
printf '[collector]\nredis = unix:%s\nprefix = off:\nhttp = off\nseccomp = off\n' "$REDIS_SOCK" >"$TMP/off.conf"
"$COLLECTOR" -c "$TMP/off.conf" >"$TMP/off.log" 2>&1 &
OPID=$!
on_exit "kill $OPID 2>/dev/null; wait $OPID 2>/dev/null"
wait_for grep -q 'connected to' "$TMP/off.log"
grep -q '^Seccomp:[[:space:]]*0' /proc/$OPID/status && pass "seccomp = off: no filter" ||
	fail "seccomp = off: $(grep Seccomp: /proc/$OPID/status) $(tail -n 2 "$TMP/off.log")"
kill $OPID 2>/dev/null

# Redis over TCP by host name, under the filter: the resolver and a
# reconnect both work (the filter answers EPERM, so a missing call would
# show as a collector that never reconnects).
RPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$TMP/r2"
redis-server --port "$RPORT" --bind 127.0.0.1 --dir "$TMP/r2" --save '' --appendonly no \
	--logfile "$TMP/r2/redis.log" >/dev/null 2>&1 &
R2=$!
on_exit "kill $R2 2>/dev/null; wait $R2 2>/dev/null"
r2cli() { redis-cli -p "$RPORT" "$@"; }
wait_for r2cli ping >/dev/null 2>&1
printf '[collector]\nredis = localhost:%s\nalerts_file = %s\nhttp = off\nsensor_blind_rate = 0\n[rule cap-1h]\nwindow = 1h\nmax_bytes = 10MB\nseverity = high\n' \
	"$RPORT" "$TMP/tcp-alerts.jsonl" >"$TMP/tcp.conf"
"$COLLECTOR" -c "$TMP/tcp.conf" >"$TMP/tcp.log" 2>&1 &
TPID=$!
on_exit "kill $TPID 2>/dev/null; wait $TPID 2>/dev/null"
wait_for grep -q 'connected to' "$TMP/tcp.log"
report_to r2cli 1 $((T + 60)) db-1 1000
drained_on r2cli && grep -q '^Seccomp:[[:space:]]*2' /proc/$TPID/status &&
	pass "TCP Redis by host name under the filter: report applied" ||
	fail "TCP collector: $(tail -n 3 "$TMP/tcp.log")"
r2cli CLIENT KILL TYPE normal >/dev/null
report_to r2cli 2 $((T + 120)) db-1 11000000
# (The file is appended just after the commit that acks the entry.)
tcp_alerts() { [ "$(wc -l <"$TMP/tcp-alerts.jsonl" 2>/dev/null)" = 1 ]; }
drained_on r2cli && wait_for tcp_alerts &&
	grep -q 'reconnecting' "$TMP/tcp.log" && kill -0 $TPID &&
	pass "TCP Redis: reconnected by name under the filter, alert appended" ||
	fail "TCP reconnect: $(tail -n 3 "$TMP/tcp.log"; head -c 300 "$TMP/tcp-alerts.jsonl")"
finish
