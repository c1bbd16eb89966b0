/*
 * collector_http: the hook where the HTTP API (http_api.h) attaches to the
 * collector.
 *
 * collector/collector_http.c implements the API's provider over the engine
 * and the alerts stream. The collector calls collector_http_start()
 * once after its event loop exists (never with listen "off") and
 * collector_http_stop() at exit. The view is read-only and stays valid
 * until stop; callbacks run on the same event loop as report processing,
 * between two batches, so they always see a committed, consistent state.
 * The HTTP setup (listen address, token file, CORS origin, rate, top_n) is
 * read once at start: a SIGHUP reload changes the rules the API shows, not
 * how it is served.
 */
#ifndef EW_COLLECTOR_HTTP_H
#define EW_COLLECTOR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "collector_config.h"
#include "engine.h"

/* Severity buckets of collector_ingest.alerts: enum severity, then "other". */
#define COLLECTOR_SEV_BUCKETS (SEV_CRITICAL + 2)

/*
 * What the live loop (main.c) knows about ingest that the engine does not:
 * it updates these after each commit; the provider only reads them. Wall
 * clock here, because they measure the pipeline, not the traffic.
 */
struct collector_ingest {
	uint64_t entries;               /* stream entries committed (applied, duplicate or dead) */
	uint64_t batches;               /* commits */
	uint64_t reconnects;            /* Redis sessions dropped after an error */
	uint64_t alerts[COLLECTOR_SEV_BUCKETS]; /* alerts new to the stream, this process */
	double last_commit;             /* UNIX seconds of the last commit; 0: none yet */
	double lag_s;                   /* that commit's time minus its last entry's XADD time */
};

/* Counts one alert (its DESIGN.md JSON) under its severity. */
void collector_ingest_count_alert(struct collector_ingest *in, const char *alert_json);

/* Records a commit of n entries, the last one with stream id last_id, at
 * wall-clock time now (UNIX seconds). */
void collector_ingest_commit(struct collector_ingest *in, size_t n, const char *last_id, double now);

struct collector_view {
	const struct engine *const *engine;             /* *engine may change on reconnect */
	const struct collector_config *const *config;   /* *config changes on reload */
	const struct redis_addr *redis;                 /* effective address (for the alert feed) */
	const char *prefix;                             /* copied at start (a reload keeps it) */
	const struct collector_ingest *ingest;          /* NULL: no ingest metrics */
};

struct collector_http;

/* Starts serving on listen. NULL with err on failure (the collector exits). */
struct collector_http *collector_http_start(struct event_base *base, const char *listen,
					    const struct collector_view *view, char *err,
					    size_t errlen);

/* The bound TCP port (the listen address may say port 0), or 0. */
int collector_http_port(const struct collector_http *h);

/* Stops and frees; NULL-safe. */
void collector_http_stop(struct collector_http *h);

#endif
