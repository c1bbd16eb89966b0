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
 */
#ifndef EW_COLLECTOR_HTTP_H
#define EW_COLLECTOR_HTTP_H

#include <stddef.h>

#include <event2/event.h>

#include "collector_config.h"
#include "engine.h"

struct collector_view {
	const struct engine *const *engine;             /* *engine may change on reconnect */
	const struct collector_config *const *config;   /* *config changes on reload */
	const struct redis_addr *redis;                 /* effective address (for the alert feed) */
	const char *prefix;
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
