/*
 * collector_http: the collector's state as the HTTP API's provider
 * (collector_http.h, http_api.h).
 *
 * Identities, sensors, config and metrics are read from the engine the live
 * loop committed; callbacks run between two batches on the same event loop,
 * so what they see is consistent. Alerts live in the Redis stream PREFIX
 * "alerts": the provider pages through it newest first with XREVRANGE on a
 * connection of its own (opened on demand, short timeouts), reading at most
 * ALERTS_SCAN_MAX entries a request however selective the filter. The
 * sensors' heartbeat hashes (queue and spool depth) are read on the same
 * connection, one pipelined round trip per sensors or metrics request.
 * What an identity is expected to send comes from one function,
 * expected_bytes(), so every endpoint shows the same figure: the learned
 * detector's (as its alerts state it) when it has one, else the rules'.
 * Ranking copies one small record per identity (bounded by max_identities)
 * for the request and frees it before returning.
 */
#include <hiredis.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector_http.h"
#include "http_api.h"
#include "http_sse.h"
#include "report.h"
#include "banned.h"

#define ALERTS_SCAN_MAX 5000    /* stream entries one alerts request may read */
#define ALERTS_CHUNK 200
#define SENSOR_STALE_S 300.0    /* capture-clock seconds without a report */
#define SERIES_HOURS 48

struct collector_http {
	const struct collector_view *view;
	struct http_api *api;
	redisContext *rc;       /* alerts queries; NULL until needed or after an error */
	char alerts_key[128];
};

static const struct engine *engine_of(const struct collector_http *h)
{
	return *h->view->engine;
}

static const struct collector_config *config_of(const struct collector_http *h)
{
	return *h->view->config;
}

static double window_seconds(const char *w)
{
	if (!w || strcmp(w, "1h") == 0)
		return 3600;
	if (strcmp(w, "24h") == 0)
		return 86400;
	if (strcmp(w, "7d") == 0)
		return 7 * 86400;
	return 0;
}

/* What an identity is expected to send in a window, and whose figure it is. */
struct expectation {
	uint64_t bytes, spread;
	bool has_spread;        /* only the detector knows one */
	const char *source;     /* "detector", "rules", or NULL while neither knows */
};

/*
 * The one place the API learns what an identity is expected to send in a
 * window_s window. The learned detector's seasonal expectation comes first,
 * so the API and the detector's alerts agree on "expected"; the rules'
 * baseline (engine_baseline: the identity's own mean before the window, no
 * spread) stands in while the detector is off, learning, or does not model
 * the window (minutes).
 */
static bool expected_bytes(const struct engine *e, const struct engine_ident *id, double window_s,
			   struct expectation *x)
{
	if (engine_detect_expected(e, id, engine_now(e), window_s, &x->bytes, &x->spread)) {
		x->has_spread = true;
		x->source = "detector";
		return true;
	}
	x->spread = 0;
	x->has_spread = false;
	x->source = engine_baseline(e, id, engine_now(e), window_s, &x->bytes) ? "rules" : NULL;
	return x->source != NULL;
}

/* The expectation's fields as JSON: integers and a name, null where unknown. */
static json_t *base_json(const struct expectation *x)
{
	return x->source ? json_integer((json_int_t)x->bytes) : json_null();
}

static json_t *spread_json(const struct expectation *x)
{
	return x->has_spread ? json_integer((json_int_t)x->spread) : json_null();
}

static json_t *source_json(const struct expectation *x)
{
	return x->source ? json_string(x->source) : json_null();
}

static json_t *severity_json(const struct engine *e, const struct engine_ident *id)
{
	int s = engine_ident_severity(e, id);
	return s < 0 ? json_null() : json_string(collector_config_severity_name((enum severity)s));
}

/* Hourly egress for the last n hours up to now, oldest first. */
static json_t *hour_series(const struct engine_ident *id, double now, int n)
{
	json_t *a = json_array();
	int64_t hi = (int64_t)ceil(now / 3600) - 1;
	for (int64_t k = hi - n + 1; k <= hi; k++) {
		const struct engine_bucket *b = &id->hr[(uint64_t)k % ENGINE_HOUR_SLOTS];
		json_array_append_new(a, json_integer(b->tag == k ? (json_int_t)b->bytes : 0));
	}
	return a;
}

struct ranked {
	const struct engine_ident *id;
	uint64_t bytes;
};

static int by_bytes_desc(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes < y->bytes ? 1 : -1;
	return strcmp(x->id->name, y->id->name);
}

static json_t *p_identities(void *ctx, const char *window, size_t limit, size_t offset)
{
	struct collector_http *h = ctx;
	const struct engine *e = engine_of(h);
	if (!e)         /* not connected to Redis yet: nothing loaded */
		return json_pack("{s:[], s:i}", "identities", "total", 0);
	double w = window_seconds(window), now = engine_now(e);
	size_t n = engine_ident_count(e);
	struct ranked *r = n ? malloc(n * sizeof(*r)) : NULL;
	if (n && !r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		struct engine_window win;
		r[i].id = engine_ident_at(e, i);
		engine_window(r[i].id, now, w, &win);
		r[i].bytes = win.bytes;
	}
	if (n > 1)      /* qsort's base must not be NULL, even for 0 entries */
		qsort(r, n, sizeof(*r), by_bytes_desc);
	json_t *arr = json_array();
	for (size_t i = offset; i < n && i < offset + limit; i++) {
		const struct engine_ident *id = r[i].id;
		struct expectation x;
		expected_bytes(e, id, w, &x);
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:o, s:o, s:o, s:I, s:I, s:I, s:f, s:o, s:o}", "identity",
				       id->name, "out_bytes", (json_int_t)r[i].bytes, "baseline_bytes",
				       base_json(&x), "spread_bytes", spread_json(&x), "baseline_source",
				       source_json(&x), "in_bytes", (json_int_t)id->t.in_bytes,
				       "lateral_bytes", (json_int_t)id->t.lateral_bytes, "flows",
				       (json_int_t)id->t.flows, "last_seen", id->last_seen, "severity",
				       severity_json(e, id), "series", hour_series(id, now, SERIES_HOURS)));
	}
	free(r);
	return json_pack("{s:o, s:I, s:s, s:f}", "identities", arr, "total", (json_int_t)n, "window",
			 window ? window : "1h", "now", now);
}

/* ---- alerts, from the Redis stream ---- */

static redisContext *alerts_conn(struct collector_http *h)
{
	if (h->rc)
		return h->rc;
	const struct redis_addr *a = h->view->redis;
	struct timeval tv = {1, 0};
	redisContext *c = a->path[0] ? redisConnectUnixWithTimeout(a->path, tv)
				     : redisConnectWithTimeout(a->host, a->port, tv);
	if (!c || c->err) {
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (a->password[0]) {
		redisReply *r = a->user[0] ? redisCommand(c, "AUTH %s %s", a->user, a->password)
					   : redisCommand(c, "AUTH %s", a->password);
		bool ok = r && r->type != REDIS_REPLY_ERROR;
		if (r)
			freeReplyObject(r);
		if (!ok) {
			redisFree(c);
			return NULL;
		}
	}
	h->rc = c;
	return c;
}

static void alerts_drop(struct collector_http *h)
{
	redisFree(h->rc);
	h->rc = NULL;
}

static int severity_rank(const char *s)
{
	static const char *const names[] = {"low", "medium", "high", "critical"};
	for (int i = 0; s && i < 4; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* True if alert a passes the filters. */
static bool alert_matches(const json_t *a, double since, int min_sev, const char *identity)
{
	const json_t *t = json_object_get(a, "time");
	if (since > 0 && (!json_is_number(t) || json_number_value(t) < since))
		return false;
	if (min_sev >= 0 && severity_rank(json_string_value(json_object_get(a, "severity"))) < min_sev)
		return false;
	if (identity) {
		const char *id = json_string_value(json_object_get(a, "identity"));
		if (!id || strcmp(id, identity) != 0)
			return false;
	}
	return true;
}

/* A stream id is "ms-seq" (or "ms"), each within 64 bits, as Redis takes it;
 * the API checks cursors the same way, so this only guards the query. */
static bool stream_id_valid(const char *s)
{
	struct http_sse_id id;
	return strlen(s) <= 41 && http_sse_id_parse(s, &id) == 0;
}

static json_t *alerts_query(struct collector_http *h, double since, const char *severity,
			    const char *identity, size_t limit, const char *cursor)
{
	if (cursor && !stream_id_valid(cursor))
		return json_pack("{s:[], s:n}", "alerts", "next_cursor");
	/* A kept connection may have been closed by Redis (restart, timeout,
	 * CLIENT KILL) since the last request: one failed first command on it
	 * is retried on a fresh one before the request fails. */
	bool fresh = h->rc == NULL;
	redisContext *c = alerts_conn(h);
	if (!c)
		return NULL;
	int min_sev = severity_rank(severity);
	json_t *arr = json_array();
	char start[64], last[64] = "";
	snprintf(start, sizeof(start), cursor ? "(%s" : "+", cursor ? cursor : "");
	size_t scanned = 0;
	bool more = true, cut = false;  /* cut: the page filled before a chunk's end */
	while (json_array_size(arr) < limit && scanned < ALERTS_SCAN_MAX && more) {
		redisReply *r = redisCommand(c, "XREVRANGE %s %s - COUNT %d", h->alerts_key, start,
					     ALERTS_CHUNK);
		if (r && r->type == REDIS_REPLY_ERROR) {
			/* Redis refused the command; the connection is fine. */
			freeReplyObject(r);
			json_decref(arr);
			return NULL;
		}
		if (!r || r->type != REDIS_REPLY_ARRAY) {
			if (r)
				freeReplyObject(r);
			alerts_drop(h);
			if (!fresh && scanned == 0) {
				fresh = true;
				c = alerts_conn(h);
				if (c)
					continue;
			}
			json_decref(arr);
			return NULL;
		}
		more = r->elements == ALERTS_CHUNK;
		size_t i;
		for (i = 0; i < r->elements && json_array_size(arr) < limit; i++) {
			const redisReply *ent = r->element[i];
			scanned++;
			if (ent->type != REDIS_REPLY_ARRAY || ent->elements != 2 ||
			    ent->element[0]->type != REDIS_REPLY_STRING)
				continue;
			snprintf(last, sizeof(last), "%s", ent->element[0]->str);
			const redisReply *f = ent->element[1];
			for (size_t k = 0; f->type == REDIS_REPLY_ARRAY && k + 1 < f->elements; k += 2) {
				if (strcmp(f->element[k]->str, "alert") != 0)
					continue;
				json_t *a = json_loadb(f->element[k + 1]->str, f->element[k + 1]->len, 0, NULL);
				if (a && alert_matches(a, since, min_sev, identity)) {
					json_object_set_new(a, "stream_id", json_string(last));
					json_array_append_new(arr, a);
				} else {
					json_decref(a);
				}
			}
		}
		/* A page that filled before the chunk's end has more after it. */
		if (i < r->elements)
			more = cut = true;
		freeReplyObject(r);
		snprintf(start, sizeof(start), "(%s", last);
		if (!last[0])
			break;
	}
	/* A page that ends exactly at a full chunk's end: whether anything is
	 * older decides between a cursor and null (an empty next page). */
	if (more && !cut && last[0] && json_array_size(arr) >= limit) {
		char older[64];
		snprintf(older, sizeof(older), "(%s", last);
		redisReply *r = redisCommand(c, "XREVRANGE %s %s - COUNT 1", h->alerts_key, older);
		more = r && r->type == REDIS_REPLY_ARRAY && r->elements > 0;
		if (!r)
			alerts_drop(h);
		if (r)
			freeReplyObject(r);
	}
	json_t *next = json_null();
	if (more && last[0])
		next = json_string(last);
	return json_pack("{s:o, s:o, s:I}", "alerts", arr, "next_cursor", next, "scanned",
			 (json_int_t)scanned);
}

static json_t *p_alerts(void *ctx, double since, const char *severity, const char *identity,
			size_t limit, const char *cursor)
{
	return alerts_query(ctx, since, severity, identity, limit, cursor);
}

/* ---- one identity ---- */

static int dest_by_bytes_desc(const void *a, const void *b)
{
	const struct engine_dest *x = *(const struct engine_dest *const *)a;
	const struct engine_dest *y = *(const struct engine_dest *const *)b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

/* The identity's destinations, largest first. */
static json_t *dests_json(const struct engine_ident *id)
{
	char abuf[ADDR_STRLEN];
	const struct engine_dest *v[ENGINE_TOPK];
	unsigned n = id->ndests < ENGINE_TOPK ? id->ndests : ENGINE_TOPK;
	for (unsigned i = 0; i < n; i++)
		v[i] = &id->dests[i];
	qsort(v, n, sizeof(v[0]), dest_by_bytes_desc);
	json_t *a = json_array();
	for (unsigned i = 0; i < n; i++) {
		const struct engine_dest *d = v[i];
		const char *pn = report_proto_name(d->proto);
		json_array_append_new(
			a, json_pack("{s:s, s:i, s:o, s:I, s:I, s:f}", "addr",
				     addr_format(&d->addr, abuf, sizeof(abuf)), "port", (int)d->port, "proto",
				     pn ? json_string(pn) : json_integer(d->proto), "bytes",
				     (json_int_t)d->bytes, "packets", (json_int_t)d->packets,
				     "last_seen", d->last_seen));
	}
	return a;
}

/* Series of one ring: [{"t", "out_bytes", "baseline_bytes"}], oldest first. */
static json_t *ring_series(const struct engine *e, const struct engine_ident *id, bool hours)
{
	const struct engine_bucket *ring = hours ? id->hr : id->min;
	size_t n = hours ? ENGINE_HOUR_SLOTS : ENGINE_MIN_SLOTS;
	double unit = hours ? 3600 : 60, now = engine_now(e);
	struct expectation x;
	bool has_base = expected_bytes(e, id, 3600, &x);
	/* The detector learns hours, not minutes: a minute's share of its hour
	 * keeps the chart on the figure the alerts use; else the rules'. */
	if (!hours && has_base && x.has_spread)
		x.bytes = (x.bytes + 30) / 60;
	else if (!hours)
		has_base = expected_bytes(e, id, unit, &x);
	int64_t hi = (int64_t)ceil(now / unit) - 1;
	json_t *a = json_array();
	for (int64_t k = hi - (int64_t)n + 1; k <= hi; k++) {
		const struct engine_bucket *b = &ring[(uint64_t)k % n];
		json_array_append_new(a, json_pack("{s:f, s:I, s:o}", "t", (double)k * unit, "out_bytes",
						   (json_int_t)(b->tag == k ? b->bytes : 0),
						   "baseline_bytes",
						   has_base ? json_integer((json_int_t)x.bytes) : json_null()));
	}
	return a;
}

static json_t *p_identity(void *ctx, const char *name)
{
	struct collector_http *h = ctx;
	const struct engine *e = engine_of(h);
	const struct engine_ident *id = e ? engine_ident_find(e, name) : NULL;
	if (!id)
		return NULL;
	double now = engine_now(e);
	json_t *windows = json_object();
	static const char *const ws[] = {"1h", "24h", "7d"};
	for (int k = 0; k < 3; k++) {
		struct engine_window win;
		double w = window_seconds(ws[k]);
		struct expectation x;
		engine_window(id, now, w, &win);
		expected_bytes(e, id, w, &x);
		json_object_set_new(windows, ws[k],
				    json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "out_bytes", (json_int_t)win.bytes,
					      "out_packets", (json_int_t)win.packets, "observed_bytes",
					      (json_int_t)win.observed, "baseline_bytes", base_json(&x),
					      "spread_bytes", spread_json(&x), "baseline_source",
					      source_json(&x)));
	}
	json_t *sensors = json_array();
	for (int i = 0; i < ENGINE_ID_SENSORS; i++)
		if (id->sensors[i][0])
			json_array_append_new(sensors, json_string(id->sensors[i]));
	json_t *al = alerts_query(h, 0, NULL, name, 20, NULL);
	json_t *alerts = al ? json_incref(json_object_get(al, "alerts")) : json_array();
	json_decref(al);
	const struct engine_totals *t = &id->t;
	json_t *totals = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "out_bytes",
				   (json_int_t)t->out_bytes, "out_packets", (json_int_t)t->out_packets,
				   "in_bytes", (json_int_t)t->in_bytes, "in_packets",
				   (json_int_t)t->in_packets, "lateral_bytes",
				   (json_int_t)t->lateral_bytes, "lateral_packets",
				   (json_int_t)t->lateral_packets, "flows", (json_int_t)t->flows,
				   "reports", (json_int_t)t->reports);
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:f, s:f, s:o}", "identity",
			 id->name, "windows", windows, "totals", totals, "series",
			 ring_series(e, id, false), "series_hours", ring_series(e, id, true),
			 "top_destinations", dests_json(id), "sensors", sensors, "alerts", alerts,
			 "first_seen", id->first_seen, "last_seen", id->last_seen, "severity",
			 severity_json(e, id));
}

/* ---- sensors, config, metrics ---- */

/* ---- sensor heartbeats, from Redis ---- */

/*
 * A sensor's heartbeat hash (PREFIX sensor:ID, rewritten every few seconds,
 * see reporter.c) says what its reports cannot: how many reports wait in
 * its memory queue and disk spool right now, while Redis or the stream is
 * behind. The sensor writes it, so each field is parsed strictly; a missing
 * or garbled one stays unknown (null).
 */
struct heartbeat {
	bool has_spool, has_queue, has_wall;
	uint64_t spool_depth, queue_depth;
	double wall;
};

static bool parse_count(const char *s, uint64_t *v)
{
	size_t n = strlen(s);
	if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
		return false;
	*v = strtoull(s, NULL, 10);
	return true;
}

static bool parse_wall(const char *s, double *v)
{
	char *end;
	double d = strtod(s, &end);
	if (end == s || *end || !isfinite(d) || d <= 0)
		return false;
	*v = d;
	return true;
}

static void heartbeat_fill(struct heartbeat *hb, const redisReply *r)
{
	for (size_t k = 0; k + 1 < r->elements; k += 2) {
		const redisReply *f = r->element[k], *v = r->element[k + 1];
		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		if (strcmp(f->str, "spool_depth") == 0)
			hb->has_spool = parse_count(v->str, &hb->spool_depth);
		else if (strcmp(f->str, "queue_depth") == 0)
			hb->has_queue = parse_count(v->str, &hb->queue_depth);
		else if (strcmp(f->str, "wall_time") == 0)
			hb->has_wall = parse_wall(v->str, &hb->wall);
	}
}

/* The heartbeats of the engine's n sensors, in one pipelined round trip
 * (n is at most ENGINE_SENSORS_MAX). A new array (caller frees), all
 * unknown when Redis cannot be reached; NULL only when out of memory. */
static struct heartbeat *heartbeats(struct collector_http *h, const struct engine *e, size_t n)
{
	struct heartbeat *hb = calloc(n ? n : 1, sizeof(*hb));
	if (!hb || n == 0)
		return hb;
	/* As for alerts: a kept connection Redis has closed gets one retry. */
	for (bool fresh = h->rc == NULL;; fresh = true) {
		redisContext *c = alerts_conn(h);
		if (!c)
			return hb;
		for (size_t i = 0; i < n; i++)
			redisAppendCommand(c, "HGETALL %ssensor:%s", h->view->prefix,
					   engine_sensor_at(e, i)->name);
		size_t got = 0;
		for (; got < n; got++) {
			redisReply *r = NULL;
			if (redisGetReply(c, (void **)&r) != REDIS_OK || !r)
				break;
			if (r->type == REDIS_REPLY_ARRAY)
				heartbeat_fill(&hb[got], r);
			freeReplyObject(r);
		}
		if (got == n)
			return hb;
		alerts_drop(h);
		memset(hb, 0, n * sizeof(*hb));
		if (fresh)
			return hb;
	}
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *count_or_null(bool has, uint64_t v)
{
	return has ? json_integer((json_int_t)v) : json_null();
}

static json_t *p_sensors(void *ctx)
{
	struct collector_http *h = ctx;
	const struct engine *e = engine_of(h);
	size_t n = e ? engine_sensor_count(e) : 0;
	struct heartbeat *hb = heartbeats(h, e, n);
	if (!hb)
		return NULL;
	double now = wall_now();
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct engine_sensor *s = engine_sensor_at(e, i);
		json_t *o = json_pack("{s:s, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
				      "sensor", s->name, "last_seq", (json_int_t)s->last_seq,
				      "last_report", s->last_end, "reports", (json_int_t)s->reports,
				      "duplicates", (json_int_t)s->duplicates, "lost_reports",
				      (json_int_t)s->lost_reports, "packets_seen",
				      (json_int_t)s->stats.packets_seen, "packets_undecoded",
				      (json_int_t)s->stats.packets_undecoded, "drops_kernel",
				      (json_int_t)s->stats.drops_kernel, "drops_iface",
				      (json_int_t)s->stats.drops_iface, "spool_dropped",
				      (json_int_t)s->stats.spool_dropped, "identities",
				      (json_int_t)s->identities, "identities_folded",
				      (json_int_t)s->identities_folded, "stale",
				      engine_now(e) - s->last_end > SENSOR_STALE_S);
		if (!o)
			continue;
		json_object_set_new(o, "spool_depth", count_or_null(hb[i].has_spool, hb[i].spool_depth));
		json_object_set_new(o, "queue_depth", count_or_null(hb[i].has_queue, hb[i].queue_depth));
		json_object_set_new(o, "heartbeat_age_s",
				    hb[i].has_wall ? json_real(fmax(0, now - hb[i].wall)) : json_null());
		json_array_append_new(arr, o);
	}
	free(hb);
	return json_pack("{s:o}", "sensors", arr);
}

static json_t *p_config(void *ctx)
{
	struct collector_http *h = ctx;
	const struct collector_config *c = config_of(h);
	json_t *rules = json_array();
	for (size_t i = 0; i < c->nrules; i++) {
		const struct rule_def *r = &c->rules[i];
		json_array_append_new(
			rules, json_pack("{s:s, s:f, s:I, s:f, s:I, s:s}", "name", r->name, "window_s",
					 r->window_s, "max_bytes", (json_int_t)r->p.max_bytes,
					 "baseline_multiple", r->p.baseline_multiple, "min_bytes",
					 (json_int_t)r->p.min_bytes, "severity",
					 collector_config_severity_name(r->p.severity)));
	}
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "version", c->version, "path", c->path,
			 "prefix", c->prefix, "rules", rules, "groups", (json_int_t)c->ngroups,
			 "identity_overrides", (json_int_t)c->nidents, "allowlists",
			 (json_int_t)c->nallows);
}

static void metric(struct evbuffer *out, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter_line(struct evbuffer *out, const char *name, const char *help, uint64_t v)
{
	metric(out, name, "counter", help);
	evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* What the live loop measured: ingest volume, lag and alerts by severity. */
static void ingest_metrics(const struct collector_ingest *in, struct evbuffer *out)
{
	counter_line(out, "egresswatch_ingest_entries_total",
		     "Report stream entries committed (applied, duplicate or dead-lettered).",
		     in->entries);
	counter_line(out, "egresswatch_ingest_batches_total", "Batches committed to Redis.",
		     in->batches);
	counter_line(out, "egresswatch_redis_reconnects_total",
		     "Redis sessions dropped after an error and started again.", in->reconnects);
	metric(out, "egresswatch_ingest_lag_seconds", "gauge",
	       "Wall seconds from the XADD of the last committed entry to its commit.");
	evbuffer_add_printf(out, "egresswatch_ingest_lag_seconds %.3f\n", in->lag_s);
	metric(out, "egresswatch_ingest_last_commit_timestamp_seconds", "gauge",
	       "Wall-clock UNIX time of the last commit (0: none since start).");
	evbuffer_add_printf(out, "egresswatch_ingest_last_commit_timestamp_seconds %.3f\n",
			    in->last_commit);
	metric(out, "egresswatch_alerts_new_total", "counter",
	       "Alerts new to the alerts stream raised by this process, by severity.");
	for (int k = 0; k < COLLECTOR_SEV_BUCKETS; k++)
		evbuffer_add_printf(out, "egresswatch_alerts_new_total{severity=\"%s\"} %llu\n",
				    k <= SEV_CRITICAL ? collector_config_severity_name((enum severity)k)
						      : "other",
				    (unsigned long long)in->alerts[k]);
}

/* One per-sensor series; the value comes from field(). */
struct sensor_series {
	const char *name, *type, *help;
	double (*field)(const struct engine *e, const struct engine_sensor *s);
};

static double s_seen(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->stats.packets_seen;
}
static double s_undecoded(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->stats.packets_undecoded;
}
static double s_drops_kernel(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->stats.drops_kernel;
}
static double s_drops_iface(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->stats.drops_iface;
}
static double s_spool_dropped(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->stats.spool_dropped;
}
static double s_reports(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->reports;
}
static double s_lost(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->lost_reports;
}
static double s_identities(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->identities;
}
static double s_folded(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return (double)s->identities_folded;
}
static double s_last_report(const struct engine *e, const struct engine_sensor *s)
{
	(void)e;
	return s->last_end;
}
static double s_lag(const struct engine *e, const struct engine_sensor *s)
{
	return engine_now(e) - s->last_end;
}

static const struct sensor_series sensor_series[] = {
	{"egresswatch_sensor_packets_seen_total", "counter", "Packets the sensor saw.", s_seen},
	{"egresswatch_sensor_packets_undecoded_total", "counter",
	 "Packets the sensor could not decode.", s_undecoded},
	{"egresswatch_sensor_drops_kernel_total", "counter",
	 "Packets the kernel dropped before the sensor.", s_drops_kernel},
	{"egresswatch_sensor_drops_iface_total", "counter",
	 "Packets the interface dropped before the sensor.", s_drops_iface},
	{"egresswatch_sensor_spool_dropped_total", "counter",
	 "Reports the sensor dropped because its spool was full.", s_spool_dropped},
	{"egresswatch_sensor_reports_total", "counter", "Reports of the sensor applied.", s_reports},
	{"egresswatch_sensor_reports_lost_total", "counter",
	 "Reports missing from the sensor's sequence.", s_lost},
	{"egresswatch_sensor_identities", "gauge",
	 "Identities the sensor created (its share of max_identities_per_sensor).", s_identities},
	{"egresswatch_sensor_identities_folded_total", "counter",
	 "Records of new identities folded into ~overflow: the sensor was at its cap.", s_folded},
	{"egresswatch_sensor_last_report_seconds", "gauge",
	 "Capture-clock end of the sensor's last report.", s_last_report},
	{"egresswatch_sensor_lag_seconds", "gauge",
	 "Capture-clock seconds since the sensor's last report.", s_lag},
};

/*
 * Label values are sensor and identity names: report_parse only admits
 * [A-Za-z0-9._:@/-], so none needs escaping in the exposition format.
 */
static void p_metrics(void *ctx, struct evbuffer *out, size_t top_n)
{
	struct collector_http *h = ctx;
	const struct engine *e = engine_of(h);
	metric(out, "egresswatch_state_loaded", "gauge",
	       "1 when the collector holds its state from Redis, 0 while it reconnects.");
	evbuffer_add_printf(out, "egresswatch_state_loaded %d\n", e != NULL);
	if (h->view->ingest)
		ingest_metrics(h->view->ingest, out);
	if (!e)
		return;
	const struct engine_counters *c = engine_counters(e);
	const struct {
		const char *name, *help;
		uint64_t v;
	} counters[] = {
		{"egresswatch_reports_applied_total", "Reports applied to the state.", c->applied},
		{"egresswatch_reports_duplicate_total", "Reports seen again and ignored.", c->duplicates},
		{"egresswatch_reports_dead_total", "Reports rejected to the dead-letter stream.", c->dead},
		{"egresswatch_report_gaps_total", "Gaps in a sensor's report sequence.", c->gaps},
		{"egresswatch_reports_lost_total", "Reports missing in those gaps.", c->lost_reports},
		{"egresswatch_overflow_records_total", "Identity records folded into ~overflow.",
		 c->overflow_records},
		{"egresswatch_late_records_total", "Records too late for their window ring.",
		 c->late_minute + c->late_hour},
		{"egresswatch_alerts_total", "Alerts raised (kept with the state).", c->alerts},
		{"egresswatch_sensors_rejected_total", "Reports from sensors past the sensor table.",
		 c->sensors_rejected},
		{"egresswatch_sensor_cap_records_total",
		 "Identity records folded into ~overflow by max_identities_per_sensor.",
		 c->sensor_cap_records},
	};
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		counter_line(out, counters[i].name, counters[i].help, counters[i].v);
	metric(out, "egresswatch_capture_clock_seconds", "gauge",
	       "The collector's capture clock: the latest report end applied.");
	evbuffer_add_printf(out, "egresswatch_capture_clock_seconds %.3f\n", engine_now(e));
	metric(out, "egresswatch_identities", "gauge", "Identities tracked.");
	evbuffer_add_printf(out, "egresswatch_identities %zu\n", engine_ident_count(e));
	metric(out, "egresswatch_sensors", "gauge", "Sensors that have reported.");
	evbuffer_add_printf(out, "egresswatch_sensors %zu\n", engine_sensor_count(e));

	/* Per sensor: health and lag behind the collector's clock. Sensors are
	 * bounded by ENGINE_SENSORS_MAX, so the series are too. */
	for (size_t k = 0; k < sizeof(sensor_series) / sizeof(sensor_series[0]); k++) {
		const struct sensor_series *ss = &sensor_series[k];
		metric(out, ss->name, ss->type, ss->help);
		for (size_t i = 0; i < engine_sensor_count(e); i++) {
			const struct engine_sensor *s = engine_sensor_at(e, i);
			evbuffer_add_printf(out, "%s{sensor=\"%s\"} %.0f\n", ss->name, s->name,
					    ss->field(e, s));
		}
	}
	/* From the heartbeats: sensors without one (or Redis away) have no line. */
	size_t ns = engine_sensor_count(e);
	struct heartbeat *hb = heartbeats(h, e, ns);
	if (hb) {
		double now = wall_now();
		metric(out, "egresswatch_sensor_spool_depth", "gauge",
		       "Reports waiting in the sensor's disk spool, from its heartbeat.");
		for (size_t i = 0; i < ns; i++)
			if (hb[i].has_spool)
				evbuffer_add_printf(out, "egresswatch_sensor_spool_depth{sensor=\"%s\"} %llu\n",
						    engine_sensor_at(e, i)->name,
						    (unsigned long long)hb[i].spool_depth);
		metric(out, "egresswatch_sensor_heartbeat_age_seconds", "gauge",
		       "Wall-clock seconds since the sensor's last heartbeat.");
		for (size_t i = 0; i < ns; i++)
			if (hb[i].has_wall)
				evbuffer_add_printf(out,
						    "egresswatch_sensor_heartbeat_age_seconds{sensor=\"%s\"} %.1f\n",
						    engine_sensor_at(e, i)->name, fmax(0, now - hb[i].wall));
		free(hb);
	}

	/* Top identities by egress in the last hour: bounded cardinality. */
	size_t n = engine_ident_count(e);
	if (n == 0 || top_n == 0)
		return;
	struct ranked *r = malloc(n * sizeof(*r));
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		struct engine_window win;
		r[i].id = engine_ident_at(e, i);
		engine_window(r[i].id, engine_now(e), 3600, &win);
		r[i].bytes = win.bytes;
	}
	qsort(r, n, sizeof(*r), by_bytes_desc);
	metric(out, "egresswatch_identity_out_bytes_1h", "gauge",
	       "Egress bytes in the last hour of capture clock, top identities only.");
	for (size_t i = 0; i < n && i < top_n; i++)
		evbuffer_add_printf(out, "egresswatch_identity_out_bytes_1h{identity=\"%s\"} %llu\n",
				    r[i].id->name, (unsigned long long)r[i].bytes);
	metric(out, "egresswatch_identity_out_bytes_total", "counter",
	       "Egress bytes since the identity was first seen, top identities only.");
	for (size_t i = 0; i < n && i < top_n; i++)
		evbuffer_add_printf(out, "egresswatch_identity_out_bytes_total{identity=\"%s\"} %llu\n",
				    r[i].id->name, (unsigned long long)r[i].id->t.out_bytes);
	metric(out, "egresswatch_identity_baseline_bytes_1h", "gauge",
	       "Expected egress bytes per hour of the same top identities, once learned.");
	for (size_t i = 0; i < n && i < top_n; i++) {
		struct expectation x;
		if (expected_bytes(e, r[i].id, 3600, &x))
			evbuffer_add_printf(out,
					    "egresswatch_identity_baseline_bytes_1h{identity=\"%s\"} %llu\n",
					    r[i].id->name, (unsigned long long)x.bytes);
	}
	free(r);
}

/* ---- ingest bookkeeping for the live loop ---- */

void collector_ingest_count_alert(struct collector_ingest *in, const char *alert_json)
{
	json_t *j = json_loads(alert_json, 0, NULL);
	const char *sev = j ? json_string_value(json_object_get(j, "severity")) : NULL;
	int k = severity_rank(sev);
	in->alerts[k < 0 ? COLLECTOR_SEV_BUCKETS - 1 : k]++;
	json_decref(j);
}

void collector_ingest_commit(struct collector_ingest *in, size_t n, const char *last_id, double now)
{
	/* A stream id starts with the XADD's milliseconds (Redis's clock). */
	char *end;
	unsigned long long ms = strtoull(last_id, &end, 10);
	in->entries += n;
	in->batches++;
	in->last_commit = now;
	if (end != last_id && *end == '-') {
		double lag = now - (double)ms / 1000.0;
		in->lag_s = lag > 0 ? lag : 0;
	}
}

struct collector_http *collector_http_start(struct event_base *base, const char *listen,
					    const struct collector_view *view, char *err,
					    size_t errlen)
{
	struct collector_http *h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->view = view;
	snprintf(h->alerts_key, sizeof(h->alerts_key), "%salerts", view->prefix);
	const struct collector_config *cc = config_of(h);
	struct http_api_config ac;
	http_api_config_defaults(&ac);
	snprintf(ac.listen, sizeof(ac.listen), "%s", listen);
	snprintf(ac.token_file, sizeof(ac.token_file), "%s", cc->http_token_file);
	snprintf(ac.cors_origin, sizeof(ac.cors_origin), "%s", cc->http_cors_origin);
	snprintf(ac.prefix, sizeof(ac.prefix), "%s", view->prefix);
	/* 0 means what configs/collector.conf says: no rate limit, no
	 * per-identity series (the config's own defaults are 50 and 20). */
	ac.rate_per_s = cc->http_rate;
	ac.rate_burst = 2 * cc->http_rate;
	ac.metrics_top_n = cc->metrics_top_n;
	if (cc->http_streams_per_addr)
		ac.sse_max_per_addr = cc->http_streams_per_addr;
	ac.redis = *view->redis;
	struct http_provider p = {
		.ctx = h, .identities = p_identities, .identity = p_identity, .alerts = p_alerts,
		.sensors = p_sensors, .config = p_config, .metrics = p_metrics,
	};
	h->api = http_api_new(base, &ac, &p, err, errlen);
	if (!h->api) {
		free(h);
		return NULL;
	}
	return h;
}

int collector_http_port(const struct collector_http *h)
{
	return h ? http_api_port(h->api) : 0;
}

void collector_http_stop(struct collector_http *h)
{
	if (!h)
		return;
	http_api_free(h->api);
	redisFree(h->rc);
	free(h);
}
