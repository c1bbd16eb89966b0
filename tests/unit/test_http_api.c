/*
 * test_http_api: the socket-free core of the HTTP module — routing, token,
 * parameter validation, error shapes, SSE framing and ids, the rate limiter
 * — driven through http_api_dispatch() with a recording fake provider.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "http_api.h"
#include "http_sse.h"
#include "test.h"
#include "banned.h"

struct rec {
	int calls;
	char window[8];
	size_t limit, offset;
	double since;
	char severity[16], identity[160], cursor[160], name[160];
	bool has_sev, has_id, has_cursor;
};

static json_t *p_identities(void *ctx, const char *window, size_t limit, size_t offset)
{
	struct rec *r = ctx;
	r->calls++;
	snprintf(r->window, sizeof(r->window), "%s", window);
	r->limit = limit;
	r->offset = offset;
	return json_pack("{s:[], s:i}", "identities", "total", 0);
}

static json_t *p_identity(void *ctx, const char *name)
{
	struct rec *r = ctx;
	r->calls++;
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (strcmp(name, "missing") == 0)
		return NULL;
	return json_pack("{s:s}", "identity", name);
}

static json_t *p_alerts(void *ctx, double since, const char *severity, const char *identity,
			size_t limit, const char *cursor)
{
	struct rec *r = ctx;
	r->calls++;
	r->since = since;
	r->limit = limit;
	r->has_sev = severity != NULL;
	r->has_id = identity != NULL;
	r->has_cursor = cursor != NULL;
	snprintf(r->severity, sizeof(r->severity), "%s", severity ? severity : "");
	snprintf(r->identity, sizeof(r->identity), "%s", identity ? identity : "");
	snprintf(r->cursor, sizeof(r->cursor), "%s", cursor ? cursor : "");
	return json_pack("{s:[], s:n}", "alerts", "next_cursor");
}

static json_t *p_fail(void *ctx)
{
	struct rec *r = ctx;
	r->calls++;
	return NULL;
}

static void p_metrics(void *ctx, struct evbuffer *out, size_t top_n)
{
	(void)ctx;
	evbuffer_add_printf(out, "collector_thing %zu\n", top_n);
}

static struct rec rec;
static struct http_api *api;
static struct http_api *api_tok;
static struct event_base *base;
static char body[65536];
static json_t *last_json;

static void setup(void)
{
	if (api)
		return;
	base = event_base_new();
	struct http_provider p = {.ctx = &rec, .identities = p_identities, .identity = p_identity,
				  .alerts = p_alerts, .sensors = p_fail, .config = NULL,
				  .metrics = p_metrics};
	struct http_api_config c;
	http_api_config_defaults(&c);
	c.listen[0] = '\0';
	c.metrics_top_n = 7;
	char err[256];
	api = http_api_new(base, &c, &p, err, sizeof(err));
	CHECK(api != NULL);
	FILE *f = fopen("/tmp/ew_test_http_token", "w");
	CHECK(f != NULL);
	if (f) {
		fputs("s3cret\n", f);
		fclose(f);
	}
	snprintf(c.token_file, sizeof(c.token_file), "/tmp/ew_test_http_token");
	api_tok = http_api_new(base, &c, &p, err, sizeof(err));
	CHECK(api_tok != NULL);
	remove("/tmp/ew_test_http_token");
}

/* Runs one request; returns the status, body in body[], JSON in last_json. */
static int run(struct http_api *a, enum http_api_method m, const char *uri, const char *auth,
	       struct http_api_response *out)
{
	struct http_api_request rq = {.method = m, .uri = uri, .authorization = auth};
	struct http_api_response rs;
	struct evbuffer *b = evbuffer_new();
	http_api_dispatch(a, &rq, b, &rs);
	size_t n = evbuffer_get_length(b);
	if (n >= sizeof(body))
		n = sizeof(body) - 1;
	evbuffer_remove(b, body, n);
	body[n] = '\0';
	evbuffer_free(b);
	json_decref(last_json);
	last_json = json_loads(body, 0, NULL);
	if (out)
		*out = rs;
	return rs.status;
}

static int get(const char *uri)
{
	return run(api, HTTP_API_GET, uri, NULL, NULL);
}

/* A rejected request: the status, a JSON error with the same status, no provider call. */
static void check_rejected(const char *uri, int want)
{
	int before = rec.calls;
	int st = get(uri);
	if (st != want)
		fprintf(stderr, "  %s -> %d (%s)\n", uri, st, body);
	CHECK(st == want);
	CHECK(last_json && json_integer_value(json_object_get(last_json, "status")) == want);
	CHECK(last_json && json_is_string(json_object_get(last_json, "error")));
	CHECK(rec.calls == before);
}

static void test_identities_params_reach_provider(void)
{
	setup();
	CHECK(get("/api/v1/identities") == 200);
	CHECK_STREQ(rec.window, "1h");
	CHECK_EQ_U64(rec.limit, 50);
	CHECK_EQ_U64(rec.offset, 0);
	CHECK(get("/api/v1/identities?window=7d&limit=1000&offset=1000000") == 200);
	CHECK_STREQ(rec.window, "7d");
	CHECK_EQ_U64(rec.limit, 1000);
	CHECK_EQ_U64(rec.offset, 1000000);
	CHECK_STREQ(json_string_value(json_object_get(last_json, "window")), "7d");
	CHECK_EQ_U64(json_integer_value(json_object_get(last_json, "limit")), 1000);
}

static void test_bad_parameters_rejected_before_provider(void)
{
	setup();
	static const char *const bad[] = {
		"/api/v1/identities?window=1d", "/api/v1/identities?window=1H",
		"/api/v1/identities?limit=0", "/api/v1/identities?limit=1001",
		"/api/v1/identities?limit=+5", "/api/v1/identities?limit=5%20",
		"/api/v1/identities?limit=", "/api/v1/identities?offset=1000001",
		"/api/v1/identities?offset=18446744073709551616", "/api/v1/identities?x=1",
		"/api/v1/identities?window=1h&window=24h", "/api/v1/alerts?since=1e9",
		"/api/v1/alerts?since=nan", "/api/v1/alerts?since=.", "/api/v1/alerts?since=100000000001",
		"/api/v1/alerts?severity=HIGH", "/api/v1/alerts?identity=a%20b",
		"/api/v1/alerts?identity=", "/api/v1/alerts?cursor=", "/api/v1/alerts?cursor=a/b",
		"/api/v1/identities/a%00b", "/api/v1/identities/~root", "/api/v1/identities/",
		"/api/v1/identities?access_token=s3cret", "/api/v1/config?a=b",
		"/api/v1/alerts/stream?last_event_id=1-2-3",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_rejected(bad[i], 400);
	check_rejected("/api/v1/nothing", 404);
	check_rejected("/favicon.ico", 404);
	check_rejected("/api/v1/config", 404);  /* NULL callback: not available */
}

static void test_alerts_filters(void)
{
	setup();
	CHECK(get("/api/v1/alerts") == 200);
	CHECK(!rec.has_sev && !rec.has_id && !rec.has_cursor);
	CHECK_EQ_U64(rec.limit, 100);
	CHECK(rec.since == 0);
	CHECK(get("/api/v1/alerts?since=1742380800.5&severity=critical&identity=k8s%2Fns%2Fpod&"
		  "limit=7&cursor=1742380800000-2") == 200);
	CHECK(rec.since == 1742380800.5);
	CHECK_STREQ(rec.severity, "critical");
	CHECK_STREQ(rec.identity, "k8s/ns/pod");
	CHECK_STREQ(rec.cursor, "1742380800000-2");
	CHECK_EQ_U64(rec.limit, 7);
	CHECK(get("/api/v1/alerts?identity=~overflow") == 200);
	CHECK_STREQ(rec.identity, "~overflow");
	/* A cursor is a stream id within 64 bits; a decoded NUL is refused,
	 * never a filter on the value's prefix. */
	check_rejected("/api/v1/alerts?cursor=abc", 400);
	check_rejected("/api/v1/alerts?cursor=99999999999999999999999-1", 400);
	check_rejected("/api/v1/alerts?cursor=1-2-3", 400);
	check_rejected("/api/v1/alerts?identity=db-1%00garbage", 400);
	check_rejected("/api/v1/alerts?since=1%000", 400);
}

static void test_identity_lookup_and_404(void)
{
	setup();
	CHECK(get("/api/v1/identities/web-prod") == 200);
	CHECK_STREQ(rec.name, "web-prod");
	CHECK(get("/api/v1/identities/10.0.0.0/8") == 200);
	CHECK_STREQ(rec.name, "10.0.0.0/8");
	CHECK(get("/api/v1/identities/missing") == 404);
	CHECK_STREQ(json_string_value(json_object_get(last_json, "error")), "no such identity");
	CHECK(get("/api/v1/sensors") == 500);   /* provider failure */
}

static void test_methods(void)
{
	setup();
	struct http_api_response rs;
	CHECK(run(api, HTTP_API_OTHER, "/api/v1/identities", NULL, &rs) == 405);
	CHECK(rs.allow_header);
	CHECK(run(api, HTTP_API_OPTIONS, "/api/v1/identities", NULL, &rs) == 405);
	CHECK(run(api, HTTP_API_HEAD, "/healthz", NULL, &rs) == 200);
	CHECK(run(api, HTTP_API_OTHER, "/nowhere", NULL, &rs) == 404);
}

static void test_token(void)
{
	setup();
	struct http_api_response rs;
	int before = rec.calls;
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/identities", NULL, &rs) == 401);
	CHECK(rs.www_authenticate);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/identities", "Bearer s3cre", &rs) == 403);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/identities", "Bearer s3cret!", &rs) == 403);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/identities", "Basic s3cret", &rs) == 401);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/identities?access_token=s3cret", NULL, &rs) ==
	      401);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/nothing", NULL, &rs) == 401);
	CHECK(rec.calls == before);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/identities", "Bearer s3cret", &rs) == 200);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/identities", "bearer  s3cret", &rs) == 200);
	CHECK(run(api_tok, HTTP_API_GET, "/healthz", NULL, &rs) == 200);
	CHECK(run(api_tok, HTTP_API_GET, "/", NULL, &rs) == 200);
	/* The stream takes the query token; without Redis it is then 503. */
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/alerts/stream?access_token=s3cret", NULL, &rs) ==
	      503);
	CHECK(run(api_tok, HTTP_API_GET, "/api/v1/alerts/stream?access_token=nope", NULL, &rs) ==
	      403);
	CHECK(http_api_token_equal("abc", 3, "abc", 3));
	CHECK(!http_api_token_equal("abd", 3, "abc", 3));
	CHECK(!http_api_token_equal("ab", 2, "abc", 3));
	CHECK(!http_api_token_equal("abcd", 4, "abc", 3));
	CHECK(!http_api_token_equal("", 0, "abc", 3));
}

static void test_dashboard_and_metrics(void)
{
	setup();
	struct http_api_response rs;
	CHECK(run(api, HTTP_API_GET, "/", NULL, &rs) == 200);
	CHECK(rs.html);
	CHECK(strstr(rs.content_type, "text/html") != NULL);
	CHECK(strstr(body, "<title>egresswatch</title>") != NULL);
	CHECK(strlen(dashboard_html) == dashboard_html_len);
	CHECK(strstr(dashboard_html, "http://") == NULL && strstr(dashboard_html, "https://") == NULL);
	get("/api/v1/nothing");
	CHECK(run(api, HTTP_API_GET, "/metrics", NULL, &rs) == 200);
	CHECK(strstr(rs.content_type, "text/plain") != NULL);
	CHECK(strstr(body, "collector_thing 7\n") != NULL);
	CHECK(strstr(body, "# TYPE egresswatch_http_requests_total counter\n") != NULL);
	CHECK(strstr(body, "egresswatch_sse_clients 0\n") != NULL);
	/* The dispatcher does not count; the transport does, on sending. */
	CHECK(strstr(body, "egresswatch_http_requests_total{code=\"404\"} 0\n") != NULL);
}

static void test_numbers(void)
{
	uint64_t v;
	double d;
	CHECK(http_api_parse_size("0", 10, &v) == 0 && v == 0);
	CHECK(http_api_parse_size("18446744073709551615", UINT64_MAX, &v) == 0 && v == UINT64_MAX);
	CHECK(http_api_parse_size("18446744073709551616", UINT64_MAX, &v) == -1);
	CHECK(http_api_parse_size("11", 10, &v) == -1);
	CHECK(http_api_parse_size("-1", 10, &v) == -1);
	CHECK(http_api_parse_size(" 1", 10, &v) == -1);
	CHECK(http_api_parse_size("", 10, &v) == -1);
	CHECK(http_api_parse_time("1742380800.25", &d) == 0 && d == 1742380800.25);
	CHECK(http_api_parse_time("0", &d) == 0 && d == 0);
	CHECK(http_api_parse_time("1e5", &d) == -1);
	CHECK(http_api_parse_time("0x10", &d) == -1);
	CHECK(http_api_parse_time("1..2", &d) == -1);
	CHECK(http_api_parse_time("-1", &d) == -1);
	CHECK(http_api_name_valid("web-prod"));
	CHECK(http_api_name_valid("user@corp:vpn/10.0.0.1_x"));
	CHECK(!http_api_name_valid(""));
	CHECK(!http_api_name_valid("a b"));
	CHECK(!http_api_name_valid("a\"b"));
	char longname[130];
	memset(longname, 'a', 129);
	longname[129] = '\0';
	CHECK(!http_api_name_valid(longname));
	longname[128] = '\0';
	CHECK(http_api_name_valid(longname));
}

static void test_sse_ids_and_framing(void)
{
	struct http_sse_id a, b;
	CHECK(http_sse_id_parse("1742380800000-3", &a) == 0 && a.ms == 1742380800000ULL && a.seq == 3);
	CHECK(http_sse_id_parse("5", &b) == 0 && b.ms == 5 && b.seq == 0);
	CHECK(http_sse_id_parse("", &b) == -1);
	CHECK(http_sse_id_parse("1-", &b) == -1);
	CHECK(http_sse_id_parse("-1", &b) == -1);
	CHECK(http_sse_id_parse("1-2-3", &b) == -1);
	CHECK(http_sse_id_parse("99999999999999999999-0", &b) == -1);
	CHECK(http_sse_id_parse("1-2", &a) == 0 && http_sse_id_parse("1-10", &b) == 0);
	CHECK(http_sse_id_cmp(&a, &b) < 0 && http_sse_id_cmp(&b, &a) > 0 && http_sse_id_cmp(&a, &a) == 0);
	CHECK(http_sse_id_parse("2-0", &b) == 0 && http_sse_id_cmp(&a, &b) < 0);

	struct evbuffer *o = evbuffer_new();
	char out[256];
	http_sse_format(o, "1-2", "{\"a\":1}", 7);
	size_t n = evbuffer_remove(o, out, sizeof(out) - 1);
	out[n] = '\0';
	CHECK_STREQ(out, "id: 1-2\ndata: {\"a\":1}\n\n");
	/* Line breaks inside data never end the event early or forge fields. */
	http_sse_format(o, NULL, "x\r\nid: 9\rdata\ny", 15);
	n = evbuffer_remove(o, out, sizeof(out) - 1);
	out[n] = '\0';
	CHECK_STREQ(out, "data: x\ndata: id: 9\ndata: data\ndata: y\n\n");
	http_sse_format(o, "3-0", "", 0);
	n = evbuffer_remove(o, out, sizeof(out) - 1);
	out[n] = '\0';
	CHECK_STREQ(out, "id: 3-0\ndata: \n\n");
	evbuffer_free(o);
}

static void test_rate_limiter(void)
{
	struct http_api_rl *rl = http_api_rl_new(16, 2, 3);
	CHECK(rl != NULL);
	if (!rl)
		return;
	/* Burst of 3, then refused until tokens come back at 2/s. */
	CHECK(http_api_rl_allow(rl, "10.0.0.1", 100.0));
	CHECK(http_api_rl_allow(rl, "10.0.0.1", 100.0));
	CHECK(http_api_rl_allow(rl, "10.0.0.1", 100.0));
	CHECK(!http_api_rl_allow(rl, "10.0.0.1", 100.0));
	CHECK(http_api_rl_allow(rl, "10.0.0.2", 100.0));   /* others unaffected */
	CHECK(!http_api_rl_allow(rl, "10.0.0.1", 100.2));
	CHECK(http_api_rl_allow(rl, "10.0.0.1", 100.5));
	CHECK(!http_api_rl_allow(rl, "10.0.0.1", 100.5));
	CHECK(http_api_rl_allow(rl, "10.0.0.1", 110.0));
	/* Charged for work: 2 left, 10 more taken puts it in debt down to -3
	 * (one burst, not -8): -1 a second later, 1 (one request) at 2 s. */
	http_api_rl_charge(rl, "10.0.0.1", 110.0, 10);
	CHECK(!http_api_rl_allow(rl, "10.0.0.1", 111.0));
	CHECK(http_api_rl_allow(rl, "10.0.0.1", 112.0));
	CHECK(!http_api_rl_allow(rl, "10.0.0.1", 112.0));
	CHECK(http_api_rl_allow(rl, "10.0.0.3", 112.0));   /* others unaffected */
	/* A flood of distinct clients stays in the table's bounds, counted. */
	char key[32];
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "192.0.2.%d", i);
		CHECK(http_api_rl_allow(rl, key, 200.0 + i * 0.001));
	}
	CHECK(http_api_rl_evictions(rl) >= 1000 - 16);
	http_api_rl_free(rl);
	http_api_rl_free(NULL);
}

static void test_teardown(void)
{
	json_decref(last_json);
	last_json = NULL;
	http_api_free(api);
	http_api_free(api_tok);
	http_api_free(NULL);
	api = api_tok = NULL;
	event_base_free(base);
}

TEST_MAIN(test_identities_params_reach_provider, test_bad_parameters_rejected_before_provider,
	  test_alerts_filters, test_identity_lookup_and_404, test_methods, test_token,
	  test_dashboard_and_metrics, test_numbers, test_sse_ids_and_framing, test_rate_limiter,
	  test_teardown)
