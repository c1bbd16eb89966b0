/*
 * store: the collector's Redis I/O (store.h).
 *
 * Synchronous hiredis: the collector does one thing at a time (read a batch,
 * apply it, commit it), and a commit is one pipelined MULTI/EXEC round trip.
 * Every reply is checked for type before use; anything unexpected is an
 * error the caller answers by reconnecting and reloading from Redis.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis.h>

#include "store.h"
#include "banned.h"

#define ALERT_SEEN_TTL_S "3888000"
#define ALERTS_MAXLEN "1000000"

struct store {
	redisContext *c;
	char prefix[64];
	char group[64], consumer[64];
	char k_reports[128], k_dead[128], k_alerts[128], k_ids[128], k_sensors[128], k_meta[128],
	     k_detect[128], k_acked[128];
	char acked[48];                 /* last acked entry id as committed, "0": none */
};

/* Marks an alert id seen and publishes it only the first time. */
static const char alert_script[] =
	"if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then "
	"redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', 'id', ARGV[1], 'alert', ARGV[2]) "
	"redis.call('PUBLISH', KEYS[1], ARGV[2]) "
	"return 1 end return 0";

static int rerr(redisContext *c, redisReply *r, const char *what, char *err, size_t errlen)
{
	if (!r)
		snprintf(err, errlen, "%s: %s", what, c->errstr[0] ? c->errstr : "no reply");
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "%s: %s", what, r->str);
	else
		snprintf(err, errlen, "%s: unexpected reply type %d", what, r->type);
	if (r)
		freeReplyObject(r);
	return -1;
}

struct store *store_connect(const struct redis_addr *a, const char *prefix, const char *group,
			    const char *consumer, double timeout_s, char *err, size_t errlen)
{
	struct timeval tv = {(time_t)timeout_s, (suseconds_t)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
	redisContext *c = a->path[0] ? redisConnectUnixWithTimeout(a->path, tv)
				     : redisConnectWithTimeout(a->host, a->port, tv);
	if (!c || c->err) {
		snprintf(err, errlen, "connect: %s", c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (a->password[0]) {
		redisReply *r = a->user[0] ? redisCommand(c, "AUTH %s %s", a->user, a->password)
					   : redisCommand(c, "AUTH %s", a->password);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			rerr(c, r, "AUTH", err, errlen);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	struct store *s = calloc(1, sizeof(*s));
	if (!s) {
		redisFree(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->c = c;
	snprintf(s->prefix, sizeof(s->prefix), "%s", prefix);
	snprintf(s->group, sizeof(s->group), "%s", group);
	snprintf(s->consumer, sizeof(s->consumer), "%s", consumer);
	snprintf(s->k_reports, sizeof(s->k_reports), "%sreports", prefix);
	snprintf(s->k_dead, sizeof(s->k_dead), "%sreports:dead", prefix);
	snprintf(s->k_alerts, sizeof(s->k_alerts), "%salerts", prefix);
	snprintf(s->k_ids, sizeof(s->k_ids), "%scollector:identities", prefix);
	snprintf(s->k_sensors, sizeof(s->k_sensors), "%scollector:sensors", prefix);
	snprintf(s->k_meta, sizeof(s->k_meta), "%scollector:meta", prefix);
	snprintf(s->k_detect, sizeof(s->k_detect), "%scollector:detect", prefix);
	snprintf(s->k_acked, sizeof(s->k_acked), "%scollector:acked", prefix);
	snprintf(s->acked, sizeof(s->acked), "0");
	return s;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	redisFree(s->c);
	free(s);
}

/* Parses a stream entry id "MS-SEQ" (or "MS"). */
static bool id_parse(const char *p, unsigned long long *ms, unsigned long long *sq)
{
	char *end;
	if (*p < '0' || *p > '9')
		return false;
	errno = 0;
	*ms = strtoull(p, &end, 10);
	*sq = 0;
	if (*end == '-') {
		p = end + 1;
		if (*p < '0' || *p > '9')
			return false;
		*sq = strtoull(p, &end, 10);
	}
	return errno == 0 && *end == '\0';
}

/* True when stream id a sorts after b (both valid). */
static bool id_after(const char *a, const char *b)
{
	unsigned long long am, as, bm, bs;
	if (!id_parse(a, &am, &as) || !id_parse(b, &bm, &bs))
		return false;
	return am > bm || (am == bm && as > bs);
}

const char *store_acked(const struct store *s) { return s->acked; }

int store_ensure_group(struct store *s, bool *created, char *err, size_t errlen)
{
	*created = false;
	redisReply *r = redisCommand(s->c, "GET %s", s->k_acked);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return rerr(s->c, r, "GET acked", err, errlen);
	unsigned long long ms, sq;
	/* A value that is no id (corrupt) falls back to the start: the seq
	 * dedupe keeps re-read reports from applying twice. */
	if (r->type == REDIS_REPLY_STRING && r->len < sizeof(s->acked) && id_parse(r->str, &ms, &sq))
		snprintf(s->acked, sizeof(s->acked), "%s", r->str);
	else
		snprintf(s->acked, sizeof(s->acked), "0");
	freeReplyObject(r);
	r = redisCommand(s->c, "XGROUP CREATE %s %s %s MKSTREAM", s->k_reports, s->group, s->acked);
	if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) == 0) {
		freeReplyObject(r);
		return 0;
	}
	if (!r || r->type != REDIS_REPLY_STATUS)
		return rerr(s->c, r, "XGROUP CREATE", err, errlen);
	freeReplyObject(r);
	*created = true;
	return 0;
}

int store_pending_others(struct store *s, size_t *n, char *err, size_t errlen)
{
	*n = 0;
	redisReply *r = redisCommand(s->c, "XPENDING %s %s", s->k_reports, s->group);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4)
		return rerr(s->c, r, "XPENDING", err, errlen);
	redisReply *cs = r->element[3];
	for (size_t i = 0; cs->type == REDIS_REPLY_ARRAY && i < cs->elements; i++) {
		redisReply *c = cs->element[i];
		if (c->type != REDIS_REPLY_ARRAY || c->elements != 2 ||
		    c->element[0]->type != REDIS_REPLY_STRING || c->element[1]->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(c->element[0]->str, s->consumer) != 0)
			*n += (size_t)strtoull(c->element[1]->str, NULL, 10);
	}
	freeReplyObject(r);
	return 0;
}

/* Copies a reply's array of ids into trimmed entries. */
static int ids_from(redisReply *list, struct store_entry **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (list->type != REDIS_REPLY_ARRAY || !list->elements)
		return 0;
	struct store_entry *v = calloc(list->elements, sizeof(*v));
	if (!v)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < list->elements; i++) {
		redisReply *e = list->element[i];
		if (e->type != REDIS_REPLY_STRING || e->len >= sizeof(v[k].id))
			continue;
		memcpy(v[k].id, e->str, e->len + 1);
		v[k++].trimmed = true;
	}
	*out = v;
	*n = k;
	return 0;
}

int store_claim(struct store *s, long long min_idle_ms, char *cursor, size_t cursorlen,
		size_t count, size_t *claimed, struct store_entry **deleted, size_t *ndeleted,
		char *err, size_t errlen)
{
	*claimed = 0;
	*deleted = NULL;
	*ndeleted = 0;
	char idle[24], cnt[24];
	snprintf(idle, sizeof(idle), "%lld", min_idle_ms);
	snprintf(cnt, sizeof(cnt), "%zu", count);
	redisReply *r = redisCommand(s->c, "XAUTOCLAIM %s %s %s %s %s COUNT %s JUSTID", s->k_reports,
				     s->group, s->consumer, idle, cursor, cnt);
	/* [next cursor, [claimed ids], [deleted ids] (Redis 7)] */
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= cursorlen ||
	    r->element[1]->type != REDIS_REPLY_ARRAY)
		return rerr(s->c, r, "XAUTOCLAIM", err, errlen);
	snprintf(cursor, cursorlen, "%s", r->element[0]->str);
	*claimed = r->element[1]->elements;
	if (r->elements >= 3 && ids_from(r->element[2], deleted, ndeleted) != 0) {
		freeReplyObject(r);
		snprintf(err, errlen, "XAUTOCLAIM: out of memory");
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

static int load_hash(struct store *s, const char *key, struct engine *e,
		     int (*fn)(struct engine *, const unsigned char *, size_t), size_t *corrupt,
		     char *err, size_t errlen)
{
	char cursor[32] = "0";
	do {
		redisReply *r = redisCommand(s->c, "HSCAN %s %s COUNT 1000", key, cursor);
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY)
			return rerr(s->c, r, "HSCAN", err, errlen);
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		redisReply *kv = r->element[1];
		for (size_t i = 0; i + 1 < kv->elements; i += 2) {
			redisReply *v = kv->element[i + 1];
			if (v->type != REDIS_REPLY_STRING ||
			    fn(e, (const unsigned char *)v->str, v->len) != 0)
				(*corrupt)++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

int store_load(struct store *s, struct engine *e, size_t *corrupt, char *err, size_t errlen)
{
	*corrupt = 0;
	redisReply *r = redisCommand(s->c, "GET %s", s->k_meta);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return rerr(s->c, r, "GET meta", err, errlen);
	if (r->type == REDIS_REPLY_STRING &&
	    engine_load_meta(e, (const unsigned char *)r->str, r->len) != 0)
		(*corrupt)++;
	freeReplyObject(r);
	if (load_hash(s, s->k_sensors, e, engine_load_sensor, corrupt, err, errlen) != 0 ||
	    load_hash(s, s->k_ids, e, engine_load_ident, corrupt, err, errlen) != 0)
		return -1;
	if (!engine_has_detector(e))
		return 0;
	r = redisCommand(s->c, "GET %s", s->k_detect);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL))
		return rerr(s->c, r, "GET detect", err, errlen);
	char derr[256];
	/* A blob that does not fit (corrupt, or [detect] sizes changed) leaves
	 * a fresh detector that learns again: counted, never fatal. */
	if (r->type == REDIS_REPLY_STRING &&
	    engine_load_detect(e, (const unsigned char *)r->str, r->len, derr, sizeof(derr)) != 0)
		(*corrupt)++;
	freeReplyObject(r);
	return 0;
}

void store_entries_free(struct store_entry *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].report);
	free(v);
}

/* Converts an entry list reply ([[id, [k, v, ...]], ...]), taking the
 * value of field `field` (the reports stream's "report", the alerts
 * stream's "alert") as each entry's text. */
static int entries_from(redisReply *list, const char *field, struct store_entry **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (list->type != REDIS_REPLY_ARRAY)
		return -1;
	if (!list->elements)
		return 0;
	struct store_entry *v = calloc(list->elements, sizeof(*v));
	if (!v)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < list->elements; i++) {
		redisReply *e = list->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING || e->element[0]->len >= sizeof(v[k].id))
			continue;
		memcpy(v[k].id, e->element[0]->str, e->element[0]->len + 1);
		redisReply *f = e->element[1];
		/* A pending entry deleted from the stream comes back with nil fields. */
		v[k].trimmed = f->type == REDIS_REPLY_NIL;
		if (f->type == REDIS_REPLY_ARRAY) {
			for (size_t j = 0; j + 1 < f->elements; j += 2) {
				redisReply *key = f->element[j], *val = f->element[j + 1];
				if (key->type == REDIS_REPLY_STRING && val->type == REDIS_REPLY_STRING &&
				    strcmp(key->str, field) == 0 && !v[k].report) {
					v[k].report = malloc(val->len + 1);
					if (v[k].report) {
						memcpy(v[k].report, val->str, val->len);
						v[k].report[val->len] = '\0';
						v[k].len = val->len;
					}
				}
			}
		}
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

int store_read(struct store *s, bool pending, const char *after, size_t count,
	       struct store_entry **v, size_t *n, char *err, size_t errlen)
{
	*v = NULL;
	*n = 0;
	/* hiredis 0.14's formatter knows no %zu: numbers go in as strings. */
	char cnt[24];
	snprintf(cnt, sizeof(cnt), "%zu", count);
	redisReply *r = redisCommand(s->c, "XREADGROUP GROUP %s %s COUNT %s STREAMS %s %s", s->group,
				     s->consumer, cnt, s->k_reports, pending ? after : ">");
	if (r && r->type == REDIS_REPLY_NIL) {
		freeReplyObject(r);
		return 0;
	}
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements != 2)
		return rerr(s->c, r, "XREADGROUP", err, errlen);
	int rc = entries_from(r->element[0]->element[1], "report", v, n);
	freeReplyObject(r);
	if (rc != 0)
		snprintf(err, errlen, "XREADGROUP: bad entries");
	return rc;
}

int store_range(struct store *s, const char *after, size_t count, struct store_entry **v,
		size_t *n, char *err, size_t errlen)
{
	char start[64];
	snprintf(start, sizeof(start), "(%s", after);
	char cnt[24];
	snprintf(cnt, sizeof(cnt), "%zu", count);
	redisReply *r = redisCommand(s->c, "XRANGE %s %s + COUNT %s", s->k_reports,
				     strcmp(after, "0") == 0 ? "-" : start, cnt);
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return rerr(s->c, r, "XRANGE", err, errlen);
	int rc = entries_from(r, "report", v, n);
	freeReplyObject(r);
	return rc;
}

int store_recent_alerts(struct store *s, size_t count, struct store_entry **v, size_t *n,
			char *err, size_t errlen)
{
	char cnt[24];
	snprintf(cnt, sizeof(cnt), "%zu", count);
	redisReply *r = redisCommand(s->c, "XREVRANGE %s + - COUNT %s", s->k_alerts, cnt);
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return rerr(s->c, r, "XREVRANGE", err, errlen);
	int rc = entries_from(r, "alert", v, n);
	freeReplyObject(r);
	/* oldest first */
	for (size_t i = 0; rc == 0 && i < *n / 2; i++) {
		struct store_entry t = (*v)[i];
		(*v)[i] = (*v)[*n - 1 - i];
		(*v)[*n - 1 - i] = t;
	}
	return rc;
}

/* argv builder for commands with many arguments */
struct args {
	const char **argv;
	size_t *lens;
	size_t n, cap;
	char **owned;
	size_t nowned;
};

static int arg(struct args *a, const char *p, size_t len)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 64;
		const char **nv = realloc(a->argv, nc * sizeof(*nv));
		if (!nv)
			return -1;
		a->argv = nv;
		size_t *nl = realloc(a->lens, nc * sizeof(*nl));
		if (!nl)
			return -1;
		a->lens = nl;
		a->cap = nc;
	}
	a->argv[a->n] = p;
	a->lens[a->n++] = len;
	return 0;
}

static int arg_owned(struct args *a, char *p, size_t len)
{
	char **no = realloc(a->owned, (a->nowned + 1) * sizeof(*no));
	if (!no) {
		free(p);
		return -1;
	}
	a->owned = no;
	a->owned[a->nowned++] = p;
	return arg(a, p, len);
}

static int args_s(struct args *a, const char *s) { return arg(a, s, strlen(s)); }

static void args_reset(struct args *a)
{
	for (size_t i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	a->nowned = 0;
	a->n = 0;
}

static void args_free(struct args *a)
{
	args_reset(a);
	free(a->owned);
	free(a->argv);
	free(a->lens);
}

static int send_args(struct store *s, struct args *a, size_t *queued)
{
	if (redisAppendCommandArgv(s->c, (int)a->n, a->argv, a->lens) != REDIS_OK)
		return -1;
	(*queued)++;
	args_reset(a);
	return 0;
}

int store_commit(struct store *s, struct engine *e, const struct store_entry *v, size_t n,
		 const struct store_dead *dead, size_t ndead, const struct engine_alerts *alerts,
		 bool *is_new, bool save_detect, char *err, size_t errlen)
{
	struct args a = {0};
	size_t queued = 0;
	int rc = -1;
	bool ok = true;

	ok &= args_s(&a, "MULTI") == 0 && send_args(s, &a, &queued) == 0;
	const size_t *dirty;
	size_t nd = engine_dirty(e, &dirty);
	if (nd) {
		ok &= args_s(&a, "HSET") == 0 && args_s(&a, s->k_ids) == 0;
		for (size_t i = 0; i < nd && ok; i++) {
			const struct engine_ident *id = engine_ident_at(e, dirty[i]);
			size_t len;
			unsigned char *blob = engine_ident_blob(id, &len);
			ok &= blob && args_s(&a, id->name) == 0 && arg_owned(&a, (char *)blob, len) == 0;
		}
		ok &= ok && send_args(s, &a, &queued) == 0;
	}
	size_t nsd = 0;
	for (size_t i = 0; i < engine_sensor_count(e) && ok; i++) {
		const struct engine_sensor *se = engine_sensor_at(e, i);
		if (!se->dirty)
			continue;
		if (!nsd++)
			ok &= args_s(&a, "HSET") == 0 && args_s(&a, s->k_sensors) == 0;
		size_t len;
		unsigned char *blob = engine_sensor_blob(se, &len);
		ok &= blob && args_s(&a, se->name) == 0 && arg_owned(&a, (char *)blob, len) == 0;
	}
	if (nsd && ok)
		ok &= send_args(s, &a, &queued) == 0;
	size_t mlen;
	unsigned char *meta = engine_meta_blob(e, &mlen);
	ok &= meta && args_s(&a, "SET") == 0 && args_s(&a, s->k_meta) == 0 &&
	      arg_owned(&a, (char *)meta, mlen) == 0 && send_args(s, &a, &queued) == 0;
	if (save_detect && ok) {
		size_t dlen;
		unsigned char *det = engine_detect_blob(e, &dlen);
		ok &= det && args_s(&a, "SET") == 0 && args_s(&a, s->k_detect) == 0 &&
		      arg_owned(&a, (char *)det, dlen) == 0 && send_args(s, &a, &queued) == 0;
	}
	for (size_t i = 0; i < ndead && ok; i++) {
		ok &= args_s(&a, "XADD") == 0 && args_s(&a, s->k_dead) == 0 &&
		      args_s(&a, "MAXLEN") == 0 && args_s(&a, "~") == 0 && args_s(&a, "100000") == 0 &&
		      args_s(&a, "*") == 0 && args_s(&a, "reason") == 0 &&
		      args_s(&a, dead[i].reason) == 0 && args_s(&a, "entry") == 0 &&
		      args_s(&a, dead[i].entry_id) == 0 && args_s(&a, "report") == 0 &&
		      arg(&a, dead[i].raw ? dead[i].raw : "", dead[i].raw ? dead[i].rawlen : 0) == 0 &&
		      send_args(s, &a, &queued) == 0;
	}
	char seen[256];
	for (size_t i = 0; alerts && i < alerts->n && ok; i++) {
		snprintf(seen, sizeof(seen), "%salert:seen:%s", s->prefix, alerts->v[i].id);
		ok &= args_s(&a, "EVAL") == 0 && args_s(&a, alert_script) == 0 && args_s(&a, "2") == 0 &&
		      args_s(&a, s->k_alerts) == 0 && args_s(&a, seen) == 0 &&
		      args_s(&a, alerts->v[i].id) == 0 && args_s(&a, alerts->v[i].json) == 0 &&
		      args_s(&a, ALERT_SEEN_TTL_S) == 0 && args_s(&a, ALERTS_MAXLEN) == 0 &&
		      send_args(s, &a, &queued) == 0;
	}
	/* The cursor a recreated group starts from: never moves back, as a
	 * batch of claimed entries may be older than entries acked before. */
	char acked[sizeof(s->acked)];
	snprintf(acked, sizeof(acked), "%s", s->acked);
	if (n && ok) {
		ok &= args_s(&a, "XACK") == 0 && args_s(&a, s->k_reports) == 0 &&
		      args_s(&a, s->group) == 0;
		for (size_t i = 0; i < n && ok; i++) {
			ok &= args_s(&a, v[i].id) == 0;
			if (id_after(v[i].id, acked))
				snprintf(acked, sizeof(acked), "%s", v[i].id);
		}
		ok &= ok && send_args(s, &a, &queued) == 0;
		ok &= ok && args_s(&a, "SET") == 0 && args_s(&a, s->k_acked) == 0 &&
		      args_s(&a, acked) == 0 && send_args(s, &a, &queued) == 0;
	}
	ok &= args_s(&a, "EXEC") == 0 && send_args(s, &a, &queued) == 0;
	args_free(&a);
	if (!ok) {
		snprintf(err, errlen, "commit: out of memory or connection lost");
		return -1;
	}
	/* MULTI, then QUEUED per command, then EXEC's array. */
	redisReply *r = NULL;
	for (size_t i = 0; i + 1 < queued; i++) {
		if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r) {
			snprintf(err, errlen, "commit: %s", s->c->errstr);
			return -1;
		}
		bool bad = r->type == REDIS_REPLY_ERROR;
		if (bad)
			snprintf(err, errlen, "commit: %s", r->str);
		freeReplyObject(r);
		if (bad)
			goto out_drain;
	}
	if (redisGetReply(s->c, (void **)&r) != REDIS_OK || !r) {
		snprintf(err, errlen, "commit: %s", s->c->errstr);
		return -1;
	}
	if (r->type != REDIS_REPLY_ARRAY) {
		rerr(s->c, r, "EXEC", err, errlen);
		return -1;
	}
	/* The alert scripts' replies sit after MULTI's state writes and dead letters. */
	size_t first = (nd ? 1 : 0) + (nsd ? 1 : 0) + 1 + (save_detect ? 1 : 0) + ndead;
	for (size_t i = 0; alerts && i < alerts->n; i++) {
		redisReply *x = first + i < r->elements ? r->element[first + i] : NULL;
		is_new[i] = x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;
	}
	rc = 0;
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "commit: %s", r->element[i]->str);
			rc = -1;
		}
	freeReplyObject(r);
	if (rc == 0) {
		engine_clear_dirty(e);
		snprintf(s->acked, sizeof(s->acked), "%s", acked);
	}
	return rc;
out_drain:
	/* An error while queueing: EXEC will answer EXECABORT; read the rest. */
	return -1;
}
