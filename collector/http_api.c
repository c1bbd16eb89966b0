/*
 * http_api: transport, routing, validation and JSON shaping for the SOC's
 * view (include/http_api.h has the endpoints and the provider contract).
 *
 * The evhttp callback does only transport work — size cap, per-client rate
 * limit, header extraction, writing the reply — and hands everything else to
 * http_api_dispatch(), which is socket-free so the unit tests and the fuzzer
 * drive the real routing. A request is rejected before it reaches the
 * provider: token first for /api/..., then path, method, and every parameter
 * checked strictly (unknown or repeated parameters are errors, numbers are
 * plain decimals within a range), so a malformed request costs nothing and
 * changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <jansson.h>

#include "http_api.h"
#include "http_sse.h"
#include "report.h"
#include "banned.h"

#define TOKEN_MAX 512
#define QUERY_PARAMS_MAX 16
#define LIMIT_MAX 1000
#define OFFSET_MAX 1000000
#define CURSOR_MAX 128
#define RL_COST_S 0.002         /* event-loop time one rate-limit token pays for */
#define FD_RESERVE 64           /* descriptors kept for Redis, files and logs */
#define ACCEPT_PAUSE_MS 250     /* after an accept() error such as EMFILE */
#define ACCEPT_LOG_S 10.0       /* at most one accept-error line per this */

const int http_api_codes[HTTP_API_NCODES] = {200, 204, 400, 401, 403, 404, 405,
					     413, 429, 500, 501, 503, 304, 0};

struct rl_slot {
	uint64_t hash;          /* 0: empty */
	double tokens, last;
};

struct http_api_rl {
	struct rl_slot *slots;
	size_t cap;             /* power of two */
	double rate, burst;
	uint64_t k0, k1;        /* per-process hash key */
	uint64_t evictions;
};

/*
 * One open HTTP connection. evhttp 2.1 has no connection limit and no hook
 * at accept; its bufferevent callback (evhttp_set_bevcb) is the one place a
 * new connection shows, and the connection object is the argument evhttp
 * gives that bufferevent's callbacks, so conns_attach() finds it there a
 * moment later and takes the close callback, which keeps the count exact.
 */
struct conn {
	struct http_api *a;
	struct bufferevent *bev;        /* held (incref) until attached */
	struct evhttp_connection *evcon; /* NULL until attached */
	double deadline;                /* monotonic; the next request must be in by then */
	bool stream, refuse;
	bool ours;                      /* in on_request: what is written is our reply */
	struct evbuffer_cb_entry *out_cb;
	struct conn *prev, *next;       /* oldest first */
};

struct http_api {
	struct event_base *base;
	struct http_api_config cfg;
	struct http_provider prov;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	int port;
	char token[TOKEN_MAX + 1];
	size_t token_len;
	struct http_api_rl *rl;
	struct http_sse *sse;
	struct http_api_stats st;
	struct conn *conns, *conns_tail;
	size_t nconns, max_conns;
	struct event *attach_ev, *sweep_ev, *resume_ev;
	struct evconnlistener *lev;
	double accept_logged;
	uint64_t accept_unlogged;
	struct http_api *next_server;
};

/* Every server with a listener: a listener's error callback gets evhttp's
 * argument, so it finds its server here (one event loop, one thread). */
static struct http_api *servers;

void http_api_config_defaults(struct http_api_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:8080");
	c->max_request_bytes = 16384;
	c->rate_per_s = 50;
	c->rate_burst = 100;
	c->rate_clients_max = 4096;
	snprintf(c->prefix, sizeof(c->prefix), "egress:");
	c->metrics_top_n = 20;
	c->max_connections = 1024;
	c->request_deadline_s = 10;
	c->sse_max_clients = 256;
	c->sse_max_per_addr = 16;
	c->sse_backlog = 50;
	c->sse_ring = 1024;
	c->sse_replay_max = 10000;
	c->sse_client_buf_max = 1 << 20;
	c->sse_heartbeat_s = 15;
}

/* ---- small pure helpers ---- */

bool http_api_token_equal(const char *given, size_t glen, const char *want, size_t wlen)
{
	/* Time depends on the expected token's length only, never on where the
	 * first difference is. */
	unsigned diff = glen != wlen;
	for (size_t i = 0; i < wlen; i++) {
		unsigned char g = i < glen ? (unsigned char)given[i] : 0;
		diff |= g ^ (unsigned char)want[i];
	}
	return diff == 0;
}

bool http_api_name_valid(const char *s)
{
	if (!s)
		return false;
	if (strcmp(s, OVERFLOW_IDENTITY) == 0)
		return true;
	size_t n = 0;
	for (const char *p = s; *p; p++, n++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
			  c == '@' || c == '/' || c == '-';
		if (!ok)
			return false;
	}
	return n >= 1 && n <= IDENTITY_NAME_MAX;
}

int http_api_parse_size(const char *s, uint64_t max, uint64_t *out)
{
	if (!s || !*s || strlen(s) > 20)
		return -1;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int http_api_parse_time(const char *s, double *out)
{
	if (!s || !*s || strlen(s) > 32)
		return -1;
	/* strtod would take hex, "inf", "nan", exponents and leading space:
	 * allow digits with at most one '.' and nothing else. */
	int dots = 0, digits = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '.')
			dots++;
		else if (*p >= '0' && *p <= '9')
			digits++;
		else
			return -1;
	}
	if (dots > 1 || digits == 0)
		return -1;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || v > 1e11)
		return -1;
	*out = v;
	return 0;
}

/* ---- rate limiter ---- */

static uint64_t rl_hash(const struct http_api_rl *rl, const char *key)
{
	/* FNV-1a over the key, started from and finished with the random key
	 * through a 64-bit mixer, so an attacker cannot pick colliding
	 * addresses without knowing it. */
	uint64_t h = 0xcbf29ce484222325ULL ^ rl->k0;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	h ^= rl->k1;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

struct http_api_rl *http_api_rl_new(size_t cap, double rate_per_s, double burst)
{
	struct http_api_rl *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	size_t n = 16;
	while (n < cap && n < ((size_t)1 << 24))
		n <<= 1;
	rl->slots = calloc(n, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return NULL;
	}
	rl->cap = n;
	rl->rate = rate_per_s;
	rl->burst = burst < 1 ? 1 : burst;
	if (getrandom(&rl->k0, sizeof(rl->k0), 0) != sizeof(rl->k0) ||
	    getrandom(&rl->k1, sizeof(rl->k1), 0) != sizeof(rl->k1)) {
		rl->k0 = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
		rl->k1 = (uint64_t)getpid() * 0xbf58476d1ce4e5b9ULL;
	}
	return rl;
}

void http_api_rl_free(struct http_api_rl *rl)
{
	if (!rl)
		return;
	free(rl->slots);
	free(rl);
}

uint64_t http_api_rl_evictions(const struct http_api_rl *rl)
{
	return rl->evictions;
}

static struct rl_slot *rl_slot_of(struct http_api_rl *rl, const char *key, double now)
{
	enum { PROBE = 8 };
	uint64_t h = rl_hash(rl, key);
	size_t mask = rl->cap - 1, i = (size_t)h & mask;
	struct rl_slot *slot = NULL, *oldest = NULL;
	for (int k = 0; k < PROBE; k++, i = (i + 1) & mask) {
		struct rl_slot *s = &rl->slots[i];
		if (s->hash == h) {
			slot = s;
			break;
		}
		if (s->hash == 0) {
			if (!oldest || oldest->hash != 0)
				oldest = s;
			continue;
		}
		if (!oldest || (oldest->hash != 0 && s->last < oldest->last))
			oldest = s;
	}
	if (!slot) {
		/* A forgotten client starts with a full bucket, exactly as one
		 * idle long enough would have: eviction never penalizes. */
		if (oldest->hash != 0)
			rl->evictions++;
		slot = oldest;
		slot->hash = h;
		slot->tokens = rl->burst;
		slot->last = now;
	}
	double dt = now - slot->last;
	if (dt > 0)
		slot->tokens = fmin(rl->burst, slot->tokens + dt * rl->rate);
	slot->last = now;
	return slot;
}

bool http_api_rl_allow(struct http_api_rl *rl, const char *key, double now)
{
	struct rl_slot *slot = rl_slot_of(rl, key, now);
	if (slot->tokens < 1)
		return false;
	slot->tokens -= 1;
	return true;
}

void http_api_rl_charge(struct http_api_rl *rl, const char *key, double now, double tokens)
{
	struct rl_slot *slot = rl_slot_of(rl, key, now);
	/* In debt at most one burst: the client waits, it is not shut out. */
	slot->tokens = fmax(-rl->burst, slot->tokens - tokens);
}

/* ---- replies ---- */

static int dump_cb(const char *buf, size_t size, void *data)
{
	return evbuffer_add(data, buf, size);
}

static void reply_json(struct evbuffer *body, struct http_api_response *rs, int status,
		       json_t *j)
{
	rs->status = status;
	rs->content_type = "application/json";
	if (!j || json_dump_callback(j, dump_cb, body, JSON_COMPACT) != 0) {
		evbuffer_drain(body, evbuffer_get_length(body));
		rs->status = 500;
		evbuffer_add_printf(body, "{\"error\":\"out of memory\",\"status\":500}");
	}
	evbuffer_add(body, "\n", 1);
	json_decref(j);
}

static void reply_error(struct evbuffer *body, struct http_api_response *rs, int status,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void reply_error(struct evbuffer *body, struct http_api_response *rs, int status,
			const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	evbuffer_drain(body, evbuffer_get_length(body));
	reply_json(body, rs, status, json_pack("{s:s, s:i}", "error", msg, "status", status));
}

/* ---- query parameters ---- */

struct params {
	struct evkeyvalq q;
	bool parsed;
};

/*
 * Parses the query and rejects unknown or repeated names: a typo in a
 * parameter must not silently return unfiltered data.
 */
static int params_parse(struct params *pp, const char *query, const char *const *allowed,
			char *err, size_t errlen)
{
	TAILQ_INIT(&pp->q);
	pp->parsed = true;
	if (!query || !*query)
		return 0;
	/* A decoded NUL would cut a value short ("db-1%00x" filtering on "db-1"). */
	if (strstr(query, "%00")) {
		snprintf(err, errlen, "NUL byte in the query string");
		return -1;
	}
	if (evhttp_parse_query_str(query, &pp->q) != 0) {
		snprintf(err, errlen, "malformed query string");
		return -1;
	}
	int n = 0;
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, &pp->q, next) {
		if (++n > QUERY_PARAMS_MAX) {
			snprintf(err, errlen, "too many parameters");
			return -1;
		}
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok = ok || strcmp(kv->key, *a) == 0;
		if (!ok) {
			if (strcmp(kv->key, "access_token") == 0)
				snprintf(err, errlen,
					 "access_token is accepted only on /api/v1/alerts/stream");
			else
				snprintf(err, errlen, "unknown parameter '%.64s'", kv->key);
			return -1;
		}
		for (struct evkeyval *o = TAILQ_FIRST(&pp->q); o != kv; o = TAILQ_NEXT(o, next)) {
			if (strcmp(o->key, kv->key) == 0) {
				snprintf(err, errlen, "parameter '%.64s' given twice", kv->key);
				return -1;
			}
		}
	}
	return 0;
}

static void params_clear(struct params *pp)
{
	if (pp->parsed)
		evhttp_clear_headers(&pp->q);
	pp->parsed = false;
}

static const char *param(struct params *pp, const char *name)
{
	return evhttp_find_header(&pp->q, name);
}

/* A cursor is a stream id, "ms-seq" or "ms", each part within 64 bits: what
 * Redis itself would reject is a 400 here, not a failed query (500). */
static bool cursor_valid(const char *s)
{
	struct http_sse_id id;
	return strlen(s) <= CURSOR_MAX && http_sse_id_parse(s, &id) == 0;
}

static bool severity_valid(const char *s)
{
	static const char *const sev[] = {"info", "low", "medium", "high", "critical"};
	for (size_t i = 0; i < sizeof(sev) / sizeof(sev[0]); i++)
		if (strcmp(s, sev[i]) == 0)
			return true;
	return false;
}

/* ---- endpoints ---- */

static void provider_reply(struct evbuffer *body, struct http_api_response *rs, json_t *j,
			   int null_status, const char *null_msg)
{
	if (!j) {
		reply_error(body, rs, null_status, "%s", null_msg);
		return;
	}
	reply_json(body, rs, 200, j);
}

static void ep_identities(struct http_api *a, struct params *pp, struct evbuffer *body,
			  struct http_api_response *rs)
{
	const char *w = param(pp, "window"), *ls = param(pp, "limit"), *os = param(pp, "offset");
	uint64_t limit = 50, offset = 0;
	if (!w)
		w = "1h";
	if (strcmp(w, "1h") != 0 && strcmp(w, "24h") != 0 && strcmp(w, "7d") != 0)
		return reply_error(body, rs, 400, "window must be 1h, 24h or 7d");
	if (ls && (http_api_parse_size(ls, LIMIT_MAX, &limit) != 0 || limit == 0))
		return reply_error(body, rs, 400, "limit must be 1..%d", LIMIT_MAX);
	if (os && http_api_parse_size(os, OFFSET_MAX, &offset) != 0)
		return reply_error(body, rs, 400, "offset must be 0..%d", OFFSET_MAX);
	if (!a->prov.identities)
		return reply_error(body, rs, 404, "not available");
	json_t *j = a->prov.identities(a->prov.ctx, w, (size_t)limit, (size_t)offset);
	if (j && json_is_object(j)) {
		json_object_set_new(j, "window", json_string(w));
		json_object_set_new(j, "limit", json_integer((json_int_t)limit));
		json_object_set_new(j, "offset", json_integer((json_int_t)offset));
	}
	provider_reply(body, rs, j, 500, "identities unavailable");
}

static void ep_identity(struct http_api *a, const char *name, struct evbuffer *body,
			struct http_api_response *rs)
{
	if (!http_api_name_valid(name))
		return reply_error(body, rs, 400, "invalid identity name");
	if (!a->prov.identity)
		return reply_error(body, rs, 404, "not available");
	provider_reply(body, rs, a->prov.identity(a->prov.ctx, name), 404, "no such identity");
}

static void ep_alerts(struct http_api *a, struct params *pp, struct evbuffer *body,
		      struct http_api_response *rs)
{
	const char *ss = param(pp, "since"), *sev = param(pp, "severity"),
		   *id = param(pp, "identity"), *ls = param(pp, "limit"),
		   *cur = param(pp, "cursor");
	double since = 0;
	uint64_t limit = 100;
	if (ss && http_api_parse_time(ss, &since) != 0)
		return reply_error(body, rs, 400, "since must be UNIX seconds");
	if (sev && !severity_valid(sev))
		return reply_error(body, rs, 400,
				   "severity must be info, low, medium, high or critical");
	if (id && !http_api_name_valid(id))
		return reply_error(body, rs, 400, "invalid identity name");
	if (ls && (http_api_parse_size(ls, LIMIT_MAX, &limit) != 0 || limit == 0))
		return reply_error(body, rs, 400, "limit must be 1..%d", LIMIT_MAX);
	if (cur && !cursor_valid(cur))
		return reply_error(body, rs, 400, "cursor must be a stream id (ms-seq)");
	if (!a->prov.alerts)
		return reply_error(body, rs, 404, "not available");
	provider_reply(body, rs, a->prov.alerts(a->prov.ctx, since, sev, id, (size_t)limit, cur),
		       500, "alerts unavailable");
}

static void ep_simple(struct http_api *a, json_t *(*fn)(void *), struct evbuffer *body,
		      struct http_api_response *rs)
{
	if (!fn)
		return reply_error(body, rs, 404, "not available");
	provider_reply(body, rs, fn(a->prov.ctx), 500, "unavailable");
}

static void ep_metrics(struct http_api *a, struct evbuffer *body, struct http_api_response *rs)
{
	rs->status = 200;
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	if (a->prov.metrics)
		a->prov.metrics(a->prov.ctx, body, a->cfg.metrics_top_n);
	http_api_metrics(a, body);
}

static void ep_healthz(struct http_api *a, struct evbuffer *body, struct http_api_response *rs)
{
	struct http_api_stats st;
	http_api_get_stats(a, &st);
	const char *feed = !a->sse ? "off" : st.sse_redis_connected ? "connected" : "disconnected";
	reply_json(body, rs, 200, json_pack("{s:s, s:s}", "status", "ok", "alert_stream", feed));
}

/* Checks the bearer token (header, or access_token when the endpoint allows it). */
static bool authorized(struct http_api *a, const struct http_api_request *rq,
		       const char *query_token, struct evbuffer *body, struct http_api_response *rs)
{
	if (a->token_len == 0)
		return true;
	const char *given = NULL;
	const char *h = rq->authorization;
	if (h && strncasecmp(h, "Bearer ", 7) == 0) {
		given = h + 7;
		while (*given == ' ')
			given++;
	} else if (query_token) {
		given = query_token;
	}
	if (!given) {
		rs->www_authenticate = true;
		reply_error(body, rs, 401, "bearer token required");
		return false;
	}
	if (!http_api_token_equal(given, strlen(given), a->token, a->token_len)) {
		reply_error(body, rs, 403, "wrong token");
		return false;
	}
	return true;
}

enum route {
	R_NONE, R_DASHBOARD, R_HEALTHZ, R_METRICS, R_IDENTITIES, R_IDENTITY, R_ALERTS,
	R_STREAM, R_SENSORS, R_CONFIG
};

static enum route route_of(const char *path, const char **name)
{
	static const char ident[] = "/api/v1/identities/";
	*name = NULL;
	if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0)
		return R_DASHBOARD;
	if (strcmp(path, "/healthz") == 0)
		return R_HEALTHZ;
	if (strcmp(path, "/metrics") == 0)
		return R_METRICS;
	if (strcmp(path, "/api/v1/identities") == 0)
		return R_IDENTITIES;
	if (strncmp(path, ident, sizeof(ident) - 1) == 0) {
		*name = path + sizeof(ident) - 1;
		return R_IDENTITY;
	}
	if (strcmp(path, "/api/v1/alerts") == 0)
		return R_ALERTS;
	if (strcmp(path, "/api/v1/alerts/stream") == 0)
		return R_STREAM;
	if (strcmp(path, "/api/v1/sensors") == 0)
		return R_SENSORS;
	if (strcmp(path, "/api/v1/config") == 0)
		return R_CONFIG;
	return R_NONE;
}

void http_api_dispatch(struct http_api *a, const struct http_api_request *rq,
		       struct evbuffer *body, struct http_api_response *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->status = 500;
	rs->content_type = "application/json";
	struct params pp = {.parsed = false};
	char err[160];
	char *path = NULL;
	struct evhttp_uri *uri = NULL;

	if (!rq->uri || rq->uri[0] != '/' || strlen(rq->uri) > a->cfg.max_request_bytes) {
		reply_error(body, rs, 400, "malformed request target");
		goto out;
	}
	uri = evhttp_uri_parse_with_flags(rq->uri, 0);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
	if (!raw || raw[0] != '/') {
		reply_error(body, rs, 400, "malformed request target");
		goto out;
	}
	size_t plen = 0;
	path = evhttp_uridecode(raw, 0, &plen);
	if (!path || plen != strlen(path)) {
		reply_error(body, rs, 400, "malformed path");
		goto out;
	}
	const char *name;
	enum route r = route_of(path, &name);
	bool api = strncmp(path, "/api/", 5) == 0;
	const char *query = evhttp_uri_get_query(uri);

	if (api && rq->method == HTTP_API_OPTIONS && a->cfg.cors_origin[0]) {
		/* A CORS preflight carries no credentials; it only asks. */
		rs->status = 204;
		rs->allow_header = true;
		goto out;
	}
	if (api) {
		/* Token before routing, so an unauthenticated client learns
		 * nothing about which paths exist. Only the stream takes it in
		 * the query (EventSource cannot set headers). */
		const char *qtok = NULL;
		struct params tp = {.parsed = false};
		if (r == R_STREAM && query) {
			/* Only the token here: a query the stream would reject is
			 * a 400 after the token check, as on every other path. */
			TAILQ_INIT(&tp.q);
			tp.parsed = true;
			if (!strstr(query, "%00") && evhttp_parse_query_str(query, &tp.q) == 0)
				qtok = param(&tp, "access_token");
		}
		bool ok = authorized(a, rq, qtok, body, rs);
		params_clear(&tp);
		if (!ok)
			goto out;
	}
	if (r == R_NONE) {
		reply_error(body, rs, 404, "no such endpoint");
		goto out;
	}
	if (rq->method != HTTP_API_GET && rq->method != HTTP_API_HEAD) {
		rs->allow_header = true;
		reply_error(body, rs, 405, "method not allowed (GET, HEAD)");
		goto out;
	}

	static const char *const none[] = {NULL};
	static const char *const p_ids[] = {"window", "limit", "offset", NULL};
	static const char *const p_alerts[] = {"since", "severity", "identity", "limit", "cursor",
					       NULL};
	static const char *const p_stream[] = {"access_token", "last_event_id", NULL};
	const char *const *allowed = r == R_IDENTITIES ? p_ids
				     : r == R_ALERTS   ? p_alerts
				     : r == R_STREAM   ? p_stream
							 : none;
	if (params_parse(&pp, query, allowed, err, sizeof(err)) != 0) {
		reply_error(body, rs, 400, "%s", err);
		goto out;
	}

	switch (r) {
	case R_DASHBOARD:
		rs->status = 200;
		rs->content_type = "text/html; charset=utf-8";
		rs->html = true;
		evbuffer_add_reference(body, dashboard_html, dashboard_html_len, NULL, NULL);
		break;
	case R_HEALTHZ:
		ep_healthz(a, body, rs);
		break;
	case R_METRICS:
		ep_metrics(a, body, rs);
		break;
	case R_IDENTITIES:
		ep_identities(a, &pp, body, rs);
		break;
	case R_IDENTITY:
		ep_identity(a, name, body, rs);
		break;
	case R_ALERTS:
		ep_alerts(a, &pp, body, rs);
		break;
	case R_SENSORS:
		ep_simple(a, a->prov.sensors, body, rs);
		break;
	case R_CONFIG:
		ep_simple(a, a->prov.config, body, rs);
		break;
	case R_STREAM: {
		const char *lid = rq->last_event_id;
		const char *qlid = param(&pp, "last_event_id");
		if (!lid || !*lid)
			lid = qlid;
		struct http_sse_id sid;
		if (lid && *lid && (strlen(lid) >= sizeof(rs->last_event_id) ||
				    http_sse_id_parse(lid, &sid) != 0)) {
			reply_error(body, rs, 400, "Last-Event-ID must be a stream id (ms-seq)");
			break;
		}
		if (!a->sse) {
			reply_error(body, rs, 503, "alert stream not configured");
			break;
		}
		snprintf(rs->last_event_id, sizeof(rs->last_event_id), "%s", lid ? lid : "");
		rs->status = 200;
		rs->stream = true;
		rs->content_type = "text/event-stream";
		break;
	}
	case R_NONE:
		break;
	}
out:
	params_clear(&pp);
	free(path);
	if (uri)
		evhttp_uri_free(uri);
}

/* ---- counters ---- */

static void count_status(struct http_api *a, int status)
{
	size_t i;
	for (i = 0; i < HTTP_API_NCODES - 1; i++)
		if (http_api_codes[i] == status)
			break;
	a->st.requests[i]++;
}

void http_api_get_stats(const struct http_api *a, struct http_api_stats *out)
{
	*out = a->st;
	out->connections = a->nconns;
	if (a->rl)
		out->ratelimit_evictions = http_api_rl_evictions(a->rl);
	if (a->sse)
		http_sse_get_stats(a->sse, out);
}

static void metric(struct evbuffer *out, const char *name, const char *type, const char *help,
		   uint64_t v)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type,
			    name, (unsigned long long)v);
}

void http_api_metrics(const struct http_api *a, struct evbuffer *out)
{
	struct http_api_stats st;
	http_api_get_stats(a, &st);
	evbuffer_add_printf(out, "# HELP egresswatch_http_requests_total HTTP requests answered, "
				 "by status code.\n# TYPE egresswatch_http_requests_total counter\n");
	for (size_t i = 0; i < HTTP_API_NCODES; i++) {
		char code[16];
		if (http_api_codes[i])
			snprintf(code, sizeof(code), "%d", http_api_codes[i]);
		else
			snprintf(code, sizeof(code), "other");
		evbuffer_add_printf(out, "egresswatch_http_requests_total{code=\"%s\"} %llu\n", code,
				    (unsigned long long)st.requests[i]);
	}
	metric(out, "egresswatch_http_rate_limited_total", "counter",
	       "Requests refused with 429 by the per-client rate limit.", st.rate_limited);
	metric(out, "egresswatch_http_too_large_total", "counter",
	       "Requests refused with 413 for their size.", st.too_large);
	metric(out, "egresswatch_http_ratelimit_evictions_total", "counter",
	       "Rate-limit table entries evicted to make room.", st.ratelimit_evictions);
	metric(out, "egresswatch_http_connections", "gauge", "HTTP connections open now.",
	       st.connections);
	metric(out, "egresswatch_http_connections_refused_total", "counter",
	       "New connections closed at once at the connection cap.", st.conn_refused);
	metric(out, "egresswatch_http_connections_evicted_total", "counter",
	       "Connections waiting for a request closed to make room at the connection cap.",
	       st.conn_evicted);
	metric(out, "egresswatch_http_request_timeouts_total", "counter",
	       "Connections closed because no complete request arrived within the deadline.",
	       st.request_timeouts);
	metric(out, "egresswatch_http_accept_errors_total", "counter",
	       "accept() failures (such as EMFILE), each followed by a pause in accepting.",
	       st.accept_errors);
	metric(out, "egresswatch_sse_clients", "gauge", "Alert stream clients connected now.",
	       st.sse_clients);
	metric(out, "egresswatch_sse_connections_total", "counter",
	       "Alert stream clients accepted.", st.sse_connects);
	metric(out, "egresswatch_sse_refused_total", "counter",
	       "Alert stream clients refused because the client table was full.", st.sse_refused);
	metric(out, "egresswatch_sse_refused_address_total", "counter",
	       "Alert stream clients refused because their address had the most allowed.",
	       st.sse_refused_addr);
	metric(out, "egresswatch_sse_dropped_slow_total", "counter",
	       "Alert stream clients dropped because their output backed up.", st.sse_dropped_slow);
	metric(out, "egresswatch_sse_dropped_stalled_total", "counter",
	       "Alert stream clients dropped because they read nothing for two heartbeats.",
	       st.sse_dropped_stalled);
	metric(out, "egresswatch_sse_dropped_input_total", "counter",
	       "Alert stream clients dropped because they sent bytes after their request.",
	       st.sse_dropped_input);
	metric(out, "egresswatch_sse_events_sent_total", "counter",
	       "Alert events written to stream clients.", st.sse_events_sent);
	metric(out, "egresswatch_sse_redis_errors_total", "counter",
	       "Redis errors and disconnects of the alert feed.", st.sse_redis_errors);
	metric(out, "egresswatch_sse_replay_gaps_total", "counter",
	       "Resumes that could not be replayed in full (stream trimmed, Redis away or "
	       "replay cap).",
	       st.sse_replay_gaps);
	metric(out, "egresswatch_sse_redis_connected", "gauge",
	       "1 while the alert feed is connected to Redis.", st.sse_redis_connected);
}

/* ---- transport ---- */

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- connections: cap, request deadline, accept errors ---- */

static void conn_unlink(struct http_api *a, struct conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		a->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		a->conns_tail = c->prev;
	a->nconns--;
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	if (bev && c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(bev), c->out_cb);
	conn_unlink(c->a, c);
	free(c);
}

/* Closes an attached connection; its close callback forgets it. */
static void conn_close(struct conn *c)
{
	evhttp_connection_free(c->evcon);
}

/* Waiting for a request (not streaming, not writing a reply): may be closed. */
static bool conn_idle(const struct conn *c)
{
	if (!c->evcon || c->stream)
		return false;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
	return !bev || evbuffer_get_length(bufferevent_get_output(bev)) == 0;
}

static void count_status(struct http_api *a, int status);

/*
 * A reply written outside on_request and not a stream's is evhttp's own
 * (its HTML 400 for a malformed request or oversized headers, 413, 501):
 * counted by its status like ours.
 */
static void on_conn_output(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	if (c->ours || c->stream || info->n_added == 0)
		return;
	struct evbuffer_ptr pos;
	char line[16] = "";
	if (evbuffer_ptr_set(b, &pos, info->orig_size, EVBUFFER_PTR_SET) != 0 ||
	    evbuffer_copyout_from(b, &pos, line, sizeof(line) - 1) < 13)
		return;
	int code = 0;
	if (strncmp(line, "HTTP/1.", 7) != 0 || sscanf(line + 9, "%3d", &code) != 1 || code < 200)
		return;
	count_status(c->a, code);
	if (code == 413)
		c->a->st.too_large++;
}

/* spare: a connection whose request is being served, never closed here. */
static void conns_attach(struct http_api *a, const struct evhttp_connection *spare)
{
	struct conn *next;
	for (struct conn *c = a->conns; c; c = next) {
		next = c->next;
		if (c->evcon)
			continue;
		bufferevent_event_cb ecb = NULL;
		void *arg = NULL;
		bufferevent_getcb(c->bev, NULL, NULL, &ecb, &arg);
		bufferevent_decref(c->bev);
		if (!ecb || !arg) {
			/* evhttp already let it go (it could not set it up). */
			conn_unlink(a, c);
			free(c);
			continue;
		}
		c->evcon = arg;
		evhttp_connection_set_closecb(c->evcon, on_conn_close, c);
		struct bufferevent *bev = evhttp_connection_get_bufferevent(c->evcon);
		if (bev)
			c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), on_conn_output, c);
		if (c->refuse && c->evcon != spare) {
			a->st.conn_refused++;
			conn_close(c);
		}
	}
}

static void on_attach(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conns_attach(arg, NULL);
}

/* evhttp asks for a new connection's bufferevent: count the connection. */
static struct bufferevent *on_new_conn(struct event_base *base, void *arg)
{
	struct http_api *a = arg;
	struct conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c || !bev) {
		/* evhttp makes its own: this one goes uncounted (out of memory only). */
		free(c);
		if (bev)
			bufferevent_free(bev);
		return NULL;
	}
	bufferevent_incref(bev);
	c->a = a;
	c->bev = bev;
	c->deadline = mono_now() + a->cfg.request_deadline_s;
	c->prev = a->conns_tail;
	if (a->conns_tail)
		a->conns_tail->next = c;
	else
		a->conns = c;
	a->conns_tail = c;
	a->nconns++;
	if (a->nconns > a->max_conns) {
		/* Full: the oldest connection still waiting for a request makes
		 * room (a slow or idle one, so slow clients cannot lock others
		 * out); with none, the new one is closed. */
		struct conn *o = a->conns;
		while (o && !conn_idle(o))
			o = o->next;
		if (o) {
			a->st.conn_evicted++;
			conn_close(o);
		} else {
			c->refuse = true;
		}
	}
	event_active(a->attach_ev, EV_TIMEOUT, 1);
	return bev;
}

/* Once a second: close connections that missed their request deadline
 * (evhttp's own timeout restarts with every byte). */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_api *a = arg;
	double now = mono_now();
	struct conn *next;
	for (struct conn *c = a->conns; c; c = next) {
		next = c->next;
		if (now >= c->deadline && conn_idle(c)) {
			a->st.request_timeouts++;
			conn_close(c);
		}
	}
}

static struct conn *conn_of(struct http_api *a, struct evhttp_connection *evcon)
{
	for (int pass = 0; pass < 2; pass++) {
		for (struct conn *c = a->conns; c; c = c->next)
			if (c->evcon == evcon)
				return c;
		conns_attach(a, evcon);
	}
	return NULL;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_api *a = arg;
	evconnlistener_enable(a->lev);
}

/*
 * accept() failed (EMFILE, ENFILE, ENOBUFS, ...): the listening socket stays
 * readable, so without a pause libevent retries at once, forever, at full
 * CPU. Pause, count, and log at most once per ACCEPT_LOG_S.
 */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
	(void)arg;      /* evhttp's own argument, not ours */
	int err = EVUTIL_SOCKET_ERROR();
	struct http_api *a = servers;
	while (a && a->lev != lev)
		a = a->next_server;
	if (!a) {
		evconnlistener_disable(lev);
		return;
	}
	a->st.accept_errors++;
	a->accept_unlogged++;
	evconnlistener_disable(lev);
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	event_add(a->resume_ev, &tv);
	double now = mono_now();
	if (a->accept_logged == 0 || now - a->accept_logged >= ACCEPT_LOG_S) {
		fprintf(stderr, "http: accept: %s (%llu failures since the last report); pausing "
				"accepts %d ms each time\n",
			evutil_socket_error_to_string(err), (unsigned long long)a->accept_unlogged,
			ACCEPT_PAUSE_MS);
		a->accept_logged = now;
		a->accept_unlogged = 0;
	}
}

/* The connection cap: as configured, and never so high that accepted
 * connections alone could exhaust the descriptor limit. */
static size_t conn_cap(size_t want)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		size_t fit = rl.rlim_cur > 2 * FD_RESERVE ? (size_t)rl.rlim_cur - FD_RESERVE
							  : (size_t)rl.rlim_cur / 2;
		if (want > fit)
			want = fit;
	}
	return want ? want : 1;
}

static size_t request_size(struct evhttp_request *req)
{
	size_t n = strlen(evhttp_request_get_uri(req)) + 16;
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, h, next)
		n += strlen(kv->key) + strlen(kv->value) + 4;
	return n + evbuffer_get_length(evhttp_request_get_input_buffer(req));
}

static void send_reply(struct http_api *a, struct evhttp_request *req,
		       const struct http_api_response *rs, struct evbuffer *body)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	evhttp_add_header(oh, "Content-Type", rs->content_type);
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(oh, "Cache-Control", "no-store");
	if (rs->allow_header)
		evhttp_add_header(oh, "Allow", "GET, HEAD");
	if (rs->www_authenticate)
		evhttp_add_header(oh, "WWW-Authenticate", "Bearer");
	if (rs->status == 429)
		evhttp_add_header(oh, "Retry-After", "1");
	if (rs->html) {
		evhttp_add_header(oh, "Content-Security-Policy",
				  "default-src 'none'; script-src 'unsafe-inline'; "
				  "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; "
				  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
		evhttp_add_header(oh, "Referrer-Policy", "no-referrer");
		evhttp_add_header(oh, "X-Frame-Options", "DENY");
	}
	if (a->cfg.cors_origin[0]) {
		evhttp_add_header(oh, "Access-Control-Allow-Origin", a->cfg.cors_origin);
		evhttp_add_header(oh, "Vary", "Origin");
		if (rs->status == 204) {
			evhttp_add_header(oh, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
			evhttp_add_header(oh, "Access-Control-Allow-Headers",
					  "Authorization, Last-Event-ID");
			evhttp_add_header(oh, "Access-Control-Max-Age", "600");
		}
	}
	count_status(a, rs->status);
	evhttp_send_reply(req, rs->status, NULL, rs->status == 204 ? NULL : body);
}

static void on_request_serve(struct http_api *a, struct evhttp_request *req, struct conn *conn);

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_api *a = arg;
	struct conn *conn = conn_of(a, evhttp_request_get_connection(req));
	/* The deadline now runs for the next request on this connection. */
	if (conn) {
		conn->deadline = mono_now() + a->cfg.request_deadline_s;
		conn->ours = true;
	}
	on_request_serve(a, req, conn);
	if (conn)
		conn->ours = false;
}

static void on_request_serve(struct http_api *a, struct evhttp_request *req, struct conn *conn)
{
	struct http_api_response rs;
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	char rl_key[64] = "?";
	double t0 = mono_now();
	if (a->rl) {
		char *host = NULL;
		ev_uint16_t port = 0;
		evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
		if (host)
			snprintf(rl_key, sizeof(rl_key), "%s", host);
		if (!http_api_rl_allow(a->rl, rl_key, t0)) {
			a->st.rate_limited++;
			memset(&rs, 0, sizeof(rs));
			reply_error(body, &rs, 429, "rate limited");
			send_reply(a, req, &rs, body);
			evbuffer_free(body);
			return;
		}
	}
	if (request_size(req) > a->cfg.max_request_bytes) {
		a->st.too_large++;
		memset(&rs, 0, sizeof(rs));
		reply_error(body, &rs, 413, "request larger than %zu bytes",
			    a->cfg.max_request_bytes);
		send_reply(a, req, &rs, body);
		evbuffer_free(body);
		return;
	}
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	struct http_api_request rq = {
		.uri = evhttp_request_get_uri(req),
		.authorization = evhttp_find_header(ih, "Authorization"),
		.last_event_id = evhttp_find_header(ih, "Last-Event-ID"),
	};
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		rq.method = HTTP_API_GET;
		break;
	case EVHTTP_REQ_HEAD:
		rq.method = HTTP_API_HEAD;
		break;
	case EVHTTP_REQ_OPTIONS:
		rq.method = HTTP_API_OPTIONS;
		break;
	default:
		rq.method = HTTP_API_OTHER;
		break;
	}
	http_api_dispatch(a, &rq, body, &rs);
	if (rs.stream && rq.method == HTTP_API_GET) {
		if (a->cfg.cors_origin[0]) {
			struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
			evhttp_add_header(oh, "Access-Control-Allow-Origin", a->cfg.cors_origin);
		}
		if (http_sse_accept(a->sse, req, rs.last_event_id, conn ? on_conn_close : NULL,
				    conn) == 0) {
			if (conn)
				conn->stream = true;
			count_status(a, 200);
			evbuffer_free(body);
			return;
		}
		reply_error(body, &rs, 503, "too many stream clients");
	}
	send_reply(a, req, &rs, body);
	evbuffer_free(body);
	/* The limiter charges by work: a request that held the event loop
	 * longer (a ranking of every identity, a long alert scan) costs one
	 * token per RL_COST_S started, so one address cannot keep the loop
	 * busy with cheap-to-ask, expensive-to-answer requests. */
	if (a->rl) {
		double spent = mono_now() - t0;
		if (spent > RL_COST_S)
			http_api_rl_charge(a->rl, rl_key, t0, ceil(spent / RL_COST_S) - 1);
	}
}

/* After evhttp_free (which closed every attached connection). */
static void conns_free_events(struct http_api *a)
{
	while (a->conns) {
		struct conn *c = a->conns;
		conn_unlink(a, c);
		if (!c->evcon)
			bufferevent_decref(c->bev);
		free(c);
	}
	if (a->attach_ev)
		event_free(a->attach_ev);
	if (a->sweep_ev)
		event_free(a->sweep_ev);
	if (a->resume_ev)
		event_free(a->resume_ev);
	a->attach_ev = a->sweep_ev = a->resume_ev = NULL;
}

static int read_token(struct http_api *a, char *err, size_t errlen)
{
	const char *path = a->cfg.token_file;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		return -1;
	}
	char buf[TOKEN_MAX + 2];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	size_t len = strcspn(buf, "\r\n");
	while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (len == 0 || len > TOKEN_MAX || memchr(buf, '\0', len)) {
		snprintf(err, errlen, "token file %s: want one line of 1..%d bytes", path,
			 TOKEN_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)buf[i] <= ' ' || (unsigned char)buf[i] >= 0x7f) {
			snprintf(err, errlen, "token file %s: token has spaces or control bytes",
				 path);
			return -1;
		}
	}
	memcpy(a->token, buf, len);
	a->token[len] = '\0';
	a->token_len = len;
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

int http_api_parse_listen(const char *spec, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon;
	size_t hl;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':')
			return -1;
		hl = (size_t)(close - spec - 1);
		if (hl + 1 > hostlen)
			return -1;
		memcpy(host, spec + 1, hl);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - spec);
		if (hl == 0 || hl + 1 > hostlen)
			return -1;
		memcpy(host, spec, hl);
	}
	host[hl] = '\0';
	uint64_t p;
	if (http_api_parse_size(colon + 1, 65535, &p) != 0)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

struct http_api *http_api_new(struct event_base *base, const struct http_api_config *cfg,
			      const struct http_provider *p, char *err, size_t errlen)
{
	struct http_api *a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->base = base;
	a->cfg = *cfg;
	a->prov = *p;
	if (a->cfg.max_request_bytes < 1024)
		a->cfg.max_request_bytes = 1024;
	if (a->cfg.token_file[0] && read_token(a, err, errlen) != 0)
		goto out_free;
	if (a->cfg.rate_per_s > 0) {
		a->rl = http_api_rl_new(a->cfg.rate_clients_max ? a->cfg.rate_clients_max : 4096,
					a->cfg.rate_per_s, a->cfg.rate_burst);
		if (!a->rl) {
			snprintf(err, errlen, "out of memory");
			goto out_free;
		}
	}
	if (a->cfg.redis.host[0] || a->cfg.redis.path[0]) {
		a->sse = http_sse_new(base, &a->cfg, err, errlen);
		if (!a->sse)
			goto out_rl;
	}
	if (!a->cfg.listen[0])
		return a;

	char host[256];
	uint16_t port;
	if (http_api_parse_listen(a->cfg.listen, host, sizeof(host), &port) != 0) {
		snprintf(err, errlen, "listen %s: want host:port or [v6]:port", a->cfg.listen);
		goto out_sse;
	}
	a->http = evhttp_new(base);
	if (!a->http) {
		snprintf(err, errlen, "out of memory");
		goto out_sse;
	}
	/* evhttp's own caps sit above ours so that our check answers first, in
	 * JSON and counted; theirs stop a header flood before it is buffered. */
	evhttp_set_max_headers_size(a->http, (ev_ssize_t)a->cfg.max_request_bytes * 2);
	evhttp_set_max_body_size(a->http, (ev_ssize_t)a->cfg.max_request_bytes * 2);
	evhttp_set_timeout(a->http, 30);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
						    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(a->http, on_request, a);
	evhttp_set_bevcb(a->http, on_new_conn, a);
	a->max_conns = conn_cap(a->cfg.max_connections ? a->cfg.max_connections : 1024);
	if (a->cfg.request_deadline_s <= 0)
		a->cfg.request_deadline_s = 10;
	a->attach_ev = event_new(base, -1, 0, on_attach, a);
	a->sweep_ev = event_new(base, -1, EV_PERSIST, on_sweep, a);
	a->resume_ev = event_new(base, -1, 0, on_resume, a);
	struct timeval sweep = {1, 0};
	if (!a->attach_ev || !a->sweep_ev || !a->resume_ev || event_add(a->sweep_ev, &sweep) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out_http;
	}
	a->sock = evhttp_bind_socket_with_handle(a->http, host, port);
	if (!a->sock) {
		snprintf(err, errlen, "listen %s: %s", a->cfg.listen,
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		goto out_http;
	}
	a->lev = evhttp_bound_socket_get_listener(a->sock);
	evconnlistener_set_error_cb(a->lev, on_accept_error);
	a->next_server = servers;
	servers = a;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(evhttp_bound_socket_get_fd(a->sock), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			a->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			a->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return a;

out_http:
	evhttp_free(a->http);
	conns_free_events(a);
out_sse:
	http_sse_free(a->sse);
out_rl:
	http_api_rl_free(a->rl);
out_free:
	explicit_bzero(a->token, sizeof(a->token));
	free(a);
	return NULL;
}

void http_api_free(struct http_api *a)
{
	if (!a)
		return;
	for (struct http_api **pp = &servers; *pp; pp = &(*pp)->next_server)
		if (*pp == a) {
			*pp = a->next_server;
			break;
		}
	/* The feed first: it detaches its clients from their connections,
	 * which evhttp_free then closes. */
	http_sse_free(a->sse);
	if (a->http)
		evhttp_free(a->http);
	conns_free_events(a);
	http_api_rl_free(a->rl);
	explicit_bzero(a->token, sizeof(a->token));
	free(a);
}

int http_api_port(const struct http_api *a)
{
	return a->port;
}
