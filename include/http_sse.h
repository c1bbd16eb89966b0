/*
 * http_sse: the live alert feed behind /api/v1/alerts/stream.
 *
 * Owned by the HTTP module; only http_api.c uses it. One hiredis async
 * connection reads the stream PREFIX "alerts" with XREAD BLOCK from the last
 * id it saw and fans each entry out to every client as one server-sent event
 * whose id is the entry's stream id. A second connection serves catch-ups:
 * a client that reconnects with Last-Event-ID older than the recent-alerts
 * ring gets exactly the entries after that id from Redis, then the ring,
 * then live ones; per-client "last sent id" makes the merge exact (nothing
 * missed, nothing twice), and a long replay is paced by the client's reading.
 * Clients are bounded in all and per address (refusals counted); a client
 * whose queued output passes the cap, that stops reading for two heartbeats,
 * or that sends anything after its request is dropped (each counted).
 */
#ifndef EW_HTTP_SSE_H
#define EW_HTTP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "http_api.h"

/* A Redis stream id "ms-seq". */
struct http_sse_id {
	uint64_t ms, seq;
};

struct http_sse;

/* Starts the feed (connects in the background). NULL with err on failure. */
struct http_sse *http_sse_new(struct event_base *base, const struct http_api_config *cfg,
			      char *err, size_t errlen);
/* Ends every client's response and closes Redis. NULL-safe. */
void http_sse_free(struct http_sse *s);

/*
 * Takes over req (a GET on the stream, already authorized) and streams to it.
 * last_event_id is a valid id or "". The connection's close callback
 * (closecb, closearg; closecb may be NULL) is replaced while the client
 * streams and called, or restored, when its connection closes. Returns 0, or
 * -1 when the client table or the client's address is full (counted; the
 * caller answers 503).
 */
int http_sse_accept(struct http_sse *s, struct evhttp_request *req, const char *last_event_id,
		    void (*closecb)(struct evhttp_connection *, void *), void *closearg);

/* Adds the feed's counters to *st. */
void http_sse_get_stats(const struct http_sse *s, struct http_api_stats *st);

/* Parses "ms-seq" (or "ms", seq 0). Returns 0 or -1. */
int http_sse_id_parse(const char *s, struct http_sse_id *out);
int http_sse_id_cmp(const struct http_sse_id *a, const struct http_sse_id *b);

/*
 * Appends one event: "id: ID\n", then one "data: " line per line of data
 * (CR, LF and CRLF all end a line, as the SSE grammar reads them), then a
 * blank line. id NULL: no id line. Returns 0 or -1.
 */
int http_sse_format(struct evbuffer *out, const char *id, const char *data, size_t len);

#endif
