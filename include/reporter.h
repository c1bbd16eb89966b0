/*
 * reporter: the sensor's side of the report stream, on the sensor's libevent
 * loop.
 *
 * reporter_submit() never blocks capture: it numbers the report (per-sensor
 * seq, persisted in the spool directory so a restart continues it), queues
 * the JSON in memory and returns. hiredis (async, libevent adapter) XADDs
 * queued reports in order, one in flight at a time per connection, and
 * drops each from the queue only when Redis acknowledged it. While Redis is
 * unreachable the memory queue fills and then spills, oldest first, into an
 * on-disk spool (bounded; past it the oldest report is dropped and counted),
 * which survives a restart and is sent before anything newer. When the
 * spool cannot be written either, reports stay in memory and past queue_max
 * the oldest is dropped, counted in spool_dropped. A heartbeat hash keeps
 * the sensor's stats. The Redis identity map (hash
 * PREFIX identity-map) is polled and handed to the caller when it changed.
 */
#ifndef EW_REPORTER_H
#define EW_REPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "redis_addr.h"
#include "report.h"

struct event_base;
struct identity_map;

struct reporter_config {
	struct redis_addr redis;
	const char *prefix;             /* key prefix, "egress:" */
	const char *sensor_id;
	const char *spool_dir;          /* holds the spool and the seq file */
	uint64_t spool_max_bytes;       /* default 1 GiB */
	size_t queue_max;               /* reports held in memory, default 64 */
	double heartbeat_s;             /* wall seconds between heartbeats, default 5 */
	double idmap_poll_s;            /* wall seconds between identity-map polls, default 10; 0 off */
	size_t stream_maxlen;           /* XADD MAXLEN ~, 0 = no trim */
};

struct reporter_stats {
	uint64_t submitted, sent, spooled, spool_dropped, queue_depth, spool_depth;
	uint64_t redis_errors, reconnects;
	uint64_t seq_errors;            /* seq file writes that failed (reports still sent) */
	uint64_t spool_errors;          /* spool reads/writes that failed */
};

struct reporter;

/* Connects lazily; never fails for Redis being away. NULL with err on a local problem
 * (spool dir, or the spool locked by another process). */
struct reporter *reporter_new(struct event_base *base, const struct reporter_config *cfg,
			      char *err, size_t errlen);

/* Frees the reporter; what is still queued in memory is spooled first. NULL-safe. */
void reporter_free(struct reporter *rp);

/* Sets r->sensor and r->seq, then queues it. r stays the caller's. Returns 0, or -1 (counted). */
int reporter_submit(struct reporter *rp, struct report *r);

/* Capture stats for the heartbeat hash (packets, drops, ...), copied. */
void reporter_set_capture_stats(struct reporter *rp, const struct report_stats *st);

/*
 * cb is called with a freshly built identity map when the Redis hash
 * changed; the callee takes ownership (frees with identity_map_free). The
 * map starts as base(ctx) (e.g. the map file's entries; NULL base: empty)
 * and the hash's entries are added on top, so they take precedence for the
 * same prefix.
 */
void reporter_on_identity_map(struct reporter *rp, struct identity_map *(*base)(void *ctx),
			      void (*cb)(void *ctx, struct identity_map *m), void *ctx);

/*
 * Runs the loop until everything queued and spooled is acknowledged or
 * timeout_s wall seconds pass; what is left stays spooled. Returns the
 * number of reports not yet delivered.
 */
size_t reporter_drain(struct reporter *rp, double timeout_s);

const struct reporter_stats *reporter_stats(const struct reporter *rp);

#endif
