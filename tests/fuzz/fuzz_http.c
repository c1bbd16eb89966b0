/*
 * fuzz_http: hostile request targets, headers and stream ids through the
 * HTTP module's socket-free core (http_api_dispatch), the SSE framer and id
 * parser, and the rate limiter.
 *
 * Input: byte 0 picks the method and the server (with or without a token);
 * then lines: request target, Authorization, Last-Event-ID.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "fuzz.h"
#include "http_api.h"
#include "http_sse.h"
#include "banned.h"

static json_t *f_identities(void *ctx, const char *window, size_t limit, size_t offset)
{
	(void)ctx;
	return json_pack("{s:[{s:s, s:I, s:I}], s:i}", "identities", "identity", window,
			 "out_bytes", (json_int_t)limit, "baseline_bytes", (json_int_t)offset,
			 "total", 1);
}

static json_t *f_identity(void *ctx, const char *name)
{
	(void)ctx;
	return name[0] == 'x' ? NULL : json_pack("{s:s}", "identity", name);
}

static json_t *f_alerts(void *ctx, double since, const char *severity, const char *identity,
			size_t limit, const char *cursor)
{
	(void)ctx;
	return json_pack("{s:f, s:s?, s:s?, s:I, s:s?}", "since", since, "severity", severity,
			 "identity", identity, "limit", (json_int_t)limit, "cursor", cursor);
}

static json_t *f_obj(void *ctx)
{
	(void)ctx;
	return json_object();
}

static void f_metrics(void *ctx, struct evbuffer *out, size_t top_n)
{
	(void)ctx;
	evbuffer_add_printf(out, "x %zu\n", top_n);
}

static struct http_api *apis[2];
static struct http_api_rl *rl;

static void init(void)
{
	static struct event_base *base;
	if (base)
		return;
	base = event_base_new();
	struct http_provider p = {.identities = f_identities, .identity = f_identity,
				  .alerts = f_alerts, .sensors = f_obj, .config = f_obj,
				  .metrics = f_metrics};
	struct http_api_config c;
	http_api_config_defaults(&c);
	c.listen[0] = '\0';
	char err[256];
	apis[0] = http_api_new(base, &c, &p, err, sizeof(err));
	char path[] = "/tmp/ew_fuzz_http_tokenXXXXXX";
	int fd = mkstemp(path);
	if (fd >= 0) {
		FILE *f = fdopen(fd, "w");
		fputs("fuzz-token\n", f);
		fclose(f);
		snprintf(c.token_file, sizeof(c.token_file), "%s", path);
		apis[1] = http_api_new(base, &c, &p, err, sizeof(err));
		remove(path);
	}
	rl = http_api_rl_new(64, 5, 5);
}

/* The next '\n'-terminated piece of [*p, end) as a NUL-terminated copy. */
static char *line(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	const uint8_t *e = nl ? nl : end;
	char *out = malloc((size_t)(e - s) + 1);
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	*p = nl ? nl + 1 : end;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size < 1 || !apis[0])
		return 0;
	const uint8_t *p = data + 1, *end = data + size;
	char *uri = line(&p, end), *auth = line(&p, end), *lei = line(&p, end);
	struct http_api_request rq = {
		.method = (enum http_api_method)(data[0] & 3),
		.uri = uri,
		.authorization = auth[0] ? auth : NULL,
		.last_event_id = lei[0] ? lei : NULL,
	};
	struct http_api *a = (data[0] & 4) && apis[1] ? apis[1] : apis[0];
	struct evbuffer *b = evbuffer_new();
	struct http_api_response rs;
	http_api_dispatch(a, &rq, b, &rs);
	if (rs.status < 200 || rs.status > 599)
		abort();
	/* Every non-2xx answer is a JSON error naming its status. */
	if (rs.status >= 400) {
		size_t n = evbuffer_get_length(b);
		json_t *j = json_loadb((const char *)evbuffer_pullup(b, -1), n, 0, NULL);
		if (!j || json_integer_value(json_object_get(j, "status")) != rs.status)
			abort();
		json_decref(j);
	}
	evbuffer_drain(b, evbuffer_get_length(b));
	http_sse_format(b, lei, uri, strlen(uri));
	evbuffer_free(b);
	struct http_sse_id id;
	if (http_sse_id_parse(lei, &id) == 0)
		http_sse_id_cmp(&id, &id);
	http_api_rl_allow(rl, uri, (double)size);
	free(uri);
	free(auth);
	free(lei);
	return 0;
}
