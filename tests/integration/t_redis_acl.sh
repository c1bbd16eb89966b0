#!/usr/bin/env bash
# configs/redis-acl.conf, as shipped, loaded into a real redis-server as its
# aclfile: each user can run exactly the commands its program sends, on its
# own keys, and nothing else. Then the real sensor, authenticating as
# egress-sensor, replays a capture into Redis under that ACL: every report
# and heartbeat must get in with no permission error (so the ACL is not
# narrower than what the sensor really does).
. "$(dirname "$0")/../lib.sh"
ACL_SRC=$TOP/configs/redis-acl.conf
command -v redis-server >/dev/null || { skip "redis-server not installed"; finish; exit; }
ver=$(redis-server --version | sed -E 's/.*v=([0-9]+).*/\1/')
[ "$ver" -ge 7 ] || { skip "redis $ver: key-scoped ACL selectors need Redis 7"; finish; exit; }

# The shipped user lines, with test passwords, plus an admin for the setup.
grep '^user ' "$ACL_SRC" | sed -E 's/>CHANGE-ME-([a-z]+)/>pw-\1/' >"$TMP/users.acl"
echo 'user admin on >pw-admin ~* &* +@all' >>"$TMP/users.acl"
[ "$(grep -c '^user egress-' "$TMP/users.acl")" -eq 3 ] && pass "acl file has the 3 egresswatch users" ||
	fail "acl file: $(grep -c '^user egress-' "$TMP/users.acl") egresswatch users"
SOCK=$TMP/redis.sock
redis-server --port 0 --unixsocket "$SOCK" --unixsocketperm 700 --dir "$TMP" --save '' \
	--appendonly no --aclfile "$TMP/users.acl" --logfile "$TMP/redis.log" >/dev/null 2>&1 &
RPID=$!
on_exit "kill $RPID 2>/dev/null; wait $RPID 2>/dev/null"
as() { local u=$1; shift; redis-cli -s "$SOCK" --user "$u" --pass "pw-${u#egress-}" --no-auth-warning "$@" 2>&1; }
for _ in $(seq 100); do [ "$(as admin PING)" = PONG ] && break; sleep 0.05; done
[ "$(as admin PING)" = PONG ] && pass "redis-server loaded the shipped ACL file" ||
	{ fail "redis-server did not start with the ACL file"; tail -5 "$TMP/redis.log"; finish; exit; }
as admin HSET egress:identity-map 10.1.2.3 web-prod >/dev/null
as admin SET egress:state secret >/dev/null

# allowed USER CMD...: the reply is not an error.
allowed() {
	local u=$1; shift
	local r; r=$(as "$u" "$@")
	case $r in NOPERM* | ERR* | NOAUTH* | WRONGPASS*) fail "$u may $*: $r" ;; *) pass "$u may $*" ;; esac
}
# refused USER CMD...: the reply is NOPERM (or NOAUTH for no user).
refused() {
	local u=$1; shift
	local r; r=$(as "$u" "$@")
	case $r in NOPERM* | NOAUTH* | WRONGPASS*) pass "$u may not $* (${r%% *})" ;; *) fail "$u could $*: $r" ;; esac
}

allowed egress-sensor XADD egress:reports MAXLEN '~' 1000 '*' report '{"v":1}'
allowed egress-sensor MULTI
allowed egress-sensor SET egress:delivered:gw-1 41
allowed egress-sensor GET egress:delivered:gw-1
refused egress-sensor SET egress:state x
refused egress-sensor XREVRANGE egress:reports + - COUNT 4
allowed egress-sensor HSET egress:sensor:gw-1 packets_seen 1
allowed egress-sensor EXPIRE egress:sensor:gw-1 15
allowed egress-sensor SADD egress:sensors gw-1
r=$(as egress-sensor HGETALL egress:identity-map | tr '\n' ' ')
[ "$r" = "10.1.2.3 web-prod " ] && pass "egress-sensor may HGETALL the identity map ($r)" ||
	fail "egress-sensor HGETALL identity-map: $r"
refused egress-sensor FLUSHALL
refused egress-sensor GET egress:state
refused egress-sensor CONFIG SET dir /tmp
refused egress-sensor KEYS '*'
refused egress-sensor DEL egress:reports
refused egress-sensor XTRIM egress:reports MAXLEN 0
refused egress-sensor XDEL egress:reports 0-1
refused egress-sensor XADD egress:alerts '*' alert forged
refused egress-sensor PUBLISH egress:alerts forged
refused egress-sensor HSET egress:identity-map 10.1.2.3 attacker
refused egress-sensor HSET egress:reports x y
refused egress-sensor XRANGE egress:other - +
refused egress-sensor EVAL "return redis.call('flushall')" 0

allowed egress-feeder HSET egress:identity-map 10.9.9.9 db-prod
allowed egress-feeder HDEL egress:identity-map 10.9.9.9
refused egress-feeder HGETALL egress:reports
refused egress-feeder XADD egress:reports '*' report forged
refused egress-feeder DEL egress:identity-map

allowed egress-collector XGROUP CREATE egress:reports collectors 0 MKSTREAM
allowed egress-collector XREADGROUP GROUP collectors c1 COUNT 10 STREAMS egress:reports '>'
allowed egress-collector XPENDING egress:reports collectors
allowed egress-collector XAUTOCLAIM egress:reports collectors c1 30000 0-0 COUNT 10 JUSTID
allowed egress-collector SET egress:collector:acked 0-0
allowed egress-collector XADD egress:alerts '*' alert '{}'
allowed egress-collector PUBLISH egress:alerts '{}'
allowed egress-collector GET egress:state
allowed egress-collector HSET egress:baseline:web-prod mean 1
refused egress-collector FLUSHALL
refused egress-collector KEYS 'egress:*'
refused egress-collector CONFIG GET dir
refused egress-collector GET other:key
refused egress-collector SET other:key x

r=$(redis-cli -s "$SOCK" GET egress:state 2>&1)
case $r in NOAUTH* | NOPERM*) pass "no access without AUTH (${r%% *})" ;; *) fail "anonymous GET: $r" ;; esac

# The real sensor under the ACL: every report and heartbeat gets in.
if [ ! -x "$SENSOR" ]; then
	skip "sensor not built: real-sensor run under the ACL"
	finish; exit
fi
# Five seconds of capture clock (five 1 s reports) when floodgen is built.
PCAP=$(ls -S "$PCAPS"/corpus/real/*.pcap 2>/dev/null | head -n 1)
[ -x "$BUILD/tools/gen/floodgen" ] && "$BUILD/tools/gen/floodgen" -o "$TMP/replay.pcap" -n 50000 \
	--sources 50 2>/dev/null && PCAP=$TMP/replay.pcap
[ -n "$PCAP" ] || { skip "no capture in $PCAPS"; finish; exit; }
printf 'egress-sensor pw-sensor\n' >"$TMP/cred"; chmod 600 "$TMP/cred"
cat >"$TMP/sensor.conf" <<CONF
[sensor]
id = acl-test
flush_interval = 1s
user =
[redis]
credentials_file = $TMP/cred
spool_dir = $TMP/spool
heartbeat = 1s
CONF
as admin DEL egress:reports >/dev/null
"$SENSOR" -r "$PCAP" -c "$TMP/sensor.conf" --redis "unix:$SOCK" --no-progress 2>"$TMP/sensor.err"
src=$?
n=$(as admin XLEN egress:reports)
left=$(sed -nE 's/.* ([0-9]+) left in the spool.*/\1/p' "$TMP/sensor.err")
sent=$(sed -nE 's/.* ([0-9]+) reports sent.*/\1/p' "$TMP/sensor.err")
if [ $src -eq 0 ] && [ -n "$sent" ] && [ "$sent" -ge 1 ] && [ "$n" = "$sent" ] && [ "$left" = 0 ]; then
	pass "real sensor as egress-sensor: $sent reports in, none left spooled"
else
	fail "real sensor under ACL: exit $src, sent '$sent', stream $n, left '$left'"; cat "$TMP/sensor.err"
fi
if grep -qiE 'NOPERM|no permissions|refused' "$TMP/sensor.err"; then
	fail "sensor hit an ACL refusal: $(grep -iE 'NOPERM|no permissions|refused' "$TMP/sensor.err" | head -n 2)"
else
	pass "sensor logged no permission error"
fi
hb=$(as admin HGET egress:sensor:acl-test sent)
[ -n "$hb" ] && pass "heartbeat written under the ACL (sent=$hb)" || fail "no heartbeat hash"
[ "$(as admin SISMEMBER egress:sensors acl-test)" = 1 ] && pass "sensor registered in egress:sensors" ||
	fail "sensor not in egress:sensors"
finish
