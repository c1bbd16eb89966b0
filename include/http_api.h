/*
 * http_api: the SOC's view of the collector — a JSON API, a server-sent
 * event feed of alerts, Prometheus metrics and the dashboard page, served
 * with libevent's evhttp.
 *
 * Owned by the HTTP module (collector/http_api.c, http_sse.c, dashboard.c).
 * The module is transport, routing, validation and JSON shaping only; the
 * data comes from a provider the collector implements (struct http_provider),
 * and the alert feed comes straight from the Redis stream PREFIX "alerts".
 *
 * Endpoints (GET and HEAD; anything else is 405):
 *   /                              the dashboard (one self-contained page)
 *   /healthz                       {"status":"ok","alert_stream":"connected"|...}
 *   /metrics                       Prometheus text: provider's lines + ours
 *   /api/v1/identities?window=1h|24h|7d&limit=1..1000&offset=0..1000000
 *   /api/v1/identities/{name}      404 when the provider returns NULL
 *   /api/v1/alerts?since=&severity=&identity=&limit=1..1000&cursor=
 *   /api/v1/alerts/stream          text/event-stream (Last-Event-ID resumes)
 *   /api/v1/sensors
 *   /api/v1/config
 *
 * Errors are JSON, {"error": "what was wrong", "status": 400}: 400 bad or
 * unknown parameter (a NUL byte, %00, anywhere in the query included), 401 missing token, 403 wrong token, 404, 405, 413
 * request larger than max_request_bytes, 429 rate limited, 503 alert stream
 * unavailable or full. With a token configured, /api/... needs the header
 * "Authorization: Bearer TOKEN" (compared in constant time); the stream
 * endpoint also takes ?access_token=TOKEN, because a browser's EventSource
 * cannot send headers. No other endpoint accepts the query parameter.
 * A rejected request never reaches the provider.
 */
#ifndef EW_HTTP_API_H
#define EW_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "redis_addr.h"

/*
 * The collector's data, as JSON. Every callback returns a new reference the
 * HTTP module decrefs, or NULL (identity: unknown name, 404; the others:
 * failure, 500). A NULL callback answers 404 "not available". Callbacks run
 * on the event loop thread, between two events, and must not block.
 *
 * Shapes the dashboard reads (more fields are welcome and passed through;
 * byte counts are integers, times capture-clock UNIX seconds):
 *
 * identities -> {"identities": [{"identity": "web-prod", "out_bytes": N,
 *                 "baseline_bytes": N, "in_bytes": N, "lateral_bytes": N,
 *                 "flows": N, "last_seen": T, "severity": "high"|null,
 *                 "series": [N, ...]   (optional sparkline, oldest first)}],
 *                "total": N}      sorted by out_bytes, descending; the page
 *                                 of limit entries from offset.
 * identity   -> {"identity": "web-prod",
 *                "windows": {"1h": {"out_bytes": N, "baseline_bytes": N}, ...},
 *                "series": [{"t": T, "out_bytes": N, "baseline_bytes": N}, ...],
 *                "top_destinations": [{"addr": "198.51.100.7", "port": 443,
 *                                      "proto": "tcp", "bytes": N, "packets": N}],
 *                "sensors": ["gw-eu-1"], "alerts": [alert, ...]}
 * alerts     -> {"alerts": [alert (DESIGN.md "Alert"), ...], "next_cursor": "…"|null}
 *                newest first; since/severity/identity filter (NULL: no filter;
 *                severity means "at least"); cursor is a next_cursor from a
 *                previous page: a stream id ("ms-seq" or "ms", each within
 *                64 bits), anything else is a 400 before the provider runs.
 * sensors    -> {"sensors": [{"sensor": "gw-eu-1", "last_seq": N, "last_report": T,
 *                 "reports": N, "packets_seen": N, "packets_undecoded": N,
 *                 "drops_kernel": N, "drops_iface": N, "spool_dropped": N,
 *                 "stale": bool}]}
 * config     -> {"version": "…", ...}   the effective config, no secrets.
 * metrics    -> appends Prometheus text lines (with # HELP / # TYPE) of the
 *               collector's own counters; per-identity series at most top_n
 *               identities (struct http_api_config.metrics_top_n).
 */
struct http_provider {
	void *ctx;
	json_t *(*identities)(void *ctx, const char *window, size_t limit, size_t offset);
	json_t *(*identity)(void *ctx, const char *name);
	json_t *(*alerts)(void *ctx, double since, const char *severity /* or NULL */,
			  const char *identity /* or NULL */, size_t limit,
			  const char *cursor /* or NULL */);
	json_t *(*sensors)(void *ctx);
	json_t *(*config)(void *ctx);
	void (*metrics)(void *ctx, struct evbuffer *out, size_t top_n);
};

struct http_api_config {
	char listen[256];               /* "host:port", "[v6]:port"; "" binds nothing (tests, fuzzing) */
	char token_file[4096];          /* "" : no token; else one line, the bearer token */
	size_t max_request_bytes;       /* request line + headers + body; default 16384 */
	double rate_per_s;              /* per client address; 0: no rate limit; default 50 */
	double rate_burst;              /* bucket size; default 100 */
	size_t rate_clients_max;        /* client table size (older entries evicted); default 4096 */
	char cors_origin[256];          /* "" : no CORS headers; else Access-Control-Allow-Origin */
	struct redis_addr redis;        /* alert feed; host and path empty: stream answers 503 */
	char prefix[64];                /* Redis key prefix, default "egress:" */
	size_t metrics_top_n;           /* passed to provider->metrics; default 20 */
	size_t max_connections;         /* open HTTP connections; default 1024, never above
					   RLIMIT_NOFILE - 64; beyond, the oldest idle one or
					   the new one is closed, counted */
	double request_deadline_s;      /* a request line and headers arrive within this of
					   the connection (or the previous request); default 10 */
	size_t sse_max_clients;         /* more are refused with 503, counted; default 256 */
	size_t sse_max_per_addr;        /* stream clients per client address; default 16 */
	size_t sse_backlog;             /* alerts a new client gets first; default 50 */
	size_t sse_ring;                /* recent alerts kept for catch-up; default 1024 */
	size_t sse_replay_max;          /* most alerts one Last-Event-ID catch-up sends; default 10000 */
	size_t sse_client_buf_max;      /* bytes queued to a client before it is dropped; default 1 MiB */
	double sse_heartbeat_s;         /* comment line to every client; default 15 */
};

/* HTTP counters (also in /metrics). Status codes are bucketed. */
#define HTTP_API_NCODES 14
extern const int http_api_codes[HTTP_API_NCODES];      /* last entry 0: "other" */

struct http_api_stats {
	uint64_t requests[HTTP_API_NCODES];     /* by http_api_codes[] */
	uint64_t rate_limited, too_large, ratelimit_evictions;
	uint64_t connections;                   /* open now */
	uint64_t conn_refused, conn_evicted;    /* closed at the connection cap: new, oldest idle */
	uint64_t request_timeouts;              /* closed for missing the request deadline */
	uint64_t accept_errors;                 /* accept() failures (e.g. EMFILE), each a pause */
	uint64_t sse_clients;                   /* connected now */
	uint64_t sse_connects, sse_refused, sse_refused_addr, sse_dropped_slow, sse_events_sent;
	uint64_t sse_dropped_input, sse_dropped_stalled;
	uint64_t sse_redis_errors, sse_replay_gaps;
	bool sse_redis_connected;
};

struct http_api;

/* Fills *c with the defaults above (listen "127.0.0.1:8080", no Redis). */
void http_api_config_defaults(struct http_api_config *c);

/*
 * Binds cfg->listen on base and serves the provider (copied, ctx borrowed
 * for the server's lifetime). Reads the token file now. With a Redis
 * address, connects the alert feed (reconnecting in the background: Redis
 * being away is not a startup error). Returns a server to free with
 * http_api_free, or NULL with err ("listen 127.0.0.1:8080: Address in use").
 */
struct http_api *http_api_new(struct event_base *base, const struct http_api_config *cfg,
			      const struct http_provider *p, char *err, size_t errlen);

/* Closes the listener, every connection and the Redis feed. NULL-safe. */
void http_api_free(struct http_api *a);

/* The bound TCP port (useful with port 0), or 0 when nothing is bound. */
int http_api_port(const struct http_api *a);

void http_api_get_stats(const struct http_api *a, struct http_api_stats *out);

/* ---- the socket-free core, exported for tests and the fuzzer ---- */

enum http_api_method { HTTP_API_GET, HTTP_API_HEAD, HTTP_API_OPTIONS, HTTP_API_OTHER };

struct http_api_request {
	enum http_api_method method;
	const char *uri;                /* as received: path and query */
	const char *authorization;      /* header or NULL */
	const char *last_event_id;      /* header or NULL */
};

struct http_api_response {
	int status;
	const char *content_type;       /* static string */
	bool allow_header;              /* add "Allow: GET, HEAD" (405, OPTIONS) */
	bool www_authenticate;          /* add "WWW-Authenticate: Bearer" (401) */
	bool html;                      /* the dashboard: add its CSP */
	bool stream;                    /* 200 on the stream: the transport hands over */
	char last_event_id[64];         /* validated resume id, "" for none */
};

/*
 * Routes one request: checks the token, the path, the method and every
 * parameter, calls the provider, and writes the body (JSON, text or HTML)
 * to body and the status and headers to *rs. Does no I/O of its own.
 */
void http_api_dispatch(struct http_api *a, const struct http_api_request *rq,
		       struct evbuffer *body, struct http_api_response *rs);

/* Appends our Prometheus lines (HTTP and SSE counters). */
void http_api_metrics(const struct http_api *a, struct evbuffer *out);

/* Constant-time (in the expected token's length) token comparison. */
bool http_api_token_equal(const char *given, size_t glen, const char *want, size_t wlen);

/* Identity names in a path: report_identity_name_valid's charset, or "~overflow". */
bool http_api_name_valid(const char *s);

/*
 * Splits a listen spec, "host:port" or "[v6]:port" (port 0-65535), into
 * host and port. Returns 0, or -1 when it is not one.
 */
int http_api_parse_listen(const char *spec, char *host, size_t hostlen, uint16_t *port);

/*
 * Strict numbers: decimal digits only, no sign or space, at most max.
 * Returns 0 or -1.
 */
int http_api_parse_size(const char *s, uint64_t max, uint64_t *out);

/* A finite non-negative decimal ("1742380800", "1742380800.25"). Returns 0 or -1. */
int http_api_parse_time(const char *s, double *out);

/*
 * Per-client token buckets in a fixed table keyed (with a random per-process
 * key) by the client's address; a full neighbourhood evicts its least recently
 * seen entry, counted. A request costs one token per 2 ms it held the event
 * loop (at least one).
 */
struct http_api_rl;
struct http_api_rl *http_api_rl_new(size_t cap, double rate_per_s, double burst);
void http_api_rl_free(struct http_api_rl *rl);
/* True if key may make one more request at time now (seconds, monotonic). */
bool http_api_rl_allow(struct http_api_rl *rl, const char *key, double now);
/* Takes tokens more from key (the work its request cost); its bucket may go
 * into debt down to minus one burst, and refills from there. */
void http_api_rl_charge(struct http_api_rl *rl, const char *key, double now, double tokens);
uint64_t http_api_rl_evictions(const struct http_api_rl *rl);

/* The dashboard page (collector/dashboard.c): NUL-terminated HTML. */
extern const char dashboard_html[];
extern const size_t dashboard_html_len;

#endif
