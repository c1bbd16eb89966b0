/*
 * pipeline: decode -> direction -> identity -> aggregate -> interval reports.
 *
 * Pure code on the per-packet path (no I/O, no allocation): the caller feeds
 * captured frames; when a frame's capture-clock time passes the end of the
 * current flush interval, the interval is handed to the flush callback as a
 * struct report (identities, start/end, stats) and the tables start afresh.
 * Time comes only from packet timestamps (and pipeline_advance() for idle
 * live links), so a capture file replays exactly as it happened.
 */
#ifndef EW_PIPELINE_H
#define EW_PIPELINE_H

#include <stdint.h>

#include "agg.h"
#include "decode.h"
#include "hash.h"
#include "identity_map.h"
#include "prefix_table.h"
#include "report.h"

struct pipeline_stats {
	uint64_t packets_seen;
	uint64_t undecoded[DECODE_NREASONS]; /* [DECODE_OK] unused */
	uint64_t packets_undecoded;          /* sum of the reasons */
	uint64_t intervals;                  /* reports flushed */
	uint64_t late_packets;               /* timestamps before the current interval */
	uint64_t first_ns, last_ns;          /* capture clock of the first and last frame */
};

/*
 * The pipeline's clock: nanoseconds since the epoch, an integer, so that an
 * interval's boundary is exact (a double holds today's time to about 240
 * ns, and would put a frame 100 ns before a boundary past it). Negative
 * times clamp to 0, times past the year 2554 to the last nanosecond.
 */
#define PIPELINE_NS_PER_S UINT64_C(1000000000)

static inline uint64_t pipeline_ns(int64_t sec, int64_t nsec)
{
	/* A test the per-packet path takes once: both parts in range (sec up to
	 * a nanosecond clock's end less 2^32 ns, nsec below 2^32, negatives
	 * cast out of it), so the sum cannot overflow. */
	const uint64_t sec_max = (UINT64_MAX - 1 - UINT32_MAX) / PIPELINE_NS_PER_S;
	if ((uint64_t)sec <= sec_max && (uint64_t)nsec <= UINT32_MAX)
		return (uint64_t)sec * PIPELINE_NS_PER_S + (uint64_t)nsec;
	if (sec < 0)
		return 0;
	uint64_t s = (uint64_t)sec, f = nsec < 0 ? 0 : (uint64_t)nsec;
	if (s > (UINT64_MAX - 1 - f) / PIPELINE_NS_PER_S)
		return UINT64_MAX - 1;
	return s * PIPELINE_NS_PER_S + f;
}

/* Seconds, as reports and summaries give times (to the double's precision). */
static inline double pipeline_seconds(uint64_t ns)
{
	return (double)(ns / PIPELINE_NS_PER_S) + (double)(ns % PIPELINE_NS_PER_S) / 1e9;
}

/*
 * Called at the end of each interval with its report (identities filled,
 * start/end set, stats set; sensor and seq left for the reporter). The
 * report is borrowed for the call only.
 */
typedef void (*pipeline_flush_fn)(void *ctx, struct report *r);

struct pipeline_params {
	struct decode_opts decode;
	struct agg_limits limits;
	double flush_interval;          /* seconds; 0: one interval, flushed by pipeline_finish */
};

#define PIPELINE_DEPTH 4      /* packets between a packet's pipeline stages (a power of 2) */

struct pipeline;

/*
 * Takes ownership of internal and idmap (idmap may be NULL: identities are
 * addresses), also on failure. NULL on allocation failure.
 */
struct pipeline *pipeline_new(const struct pipeline_params *p, struct prefix_table *internal,
			      struct identity_map *idmap, const struct hash_key *key,
			      pipeline_flush_fn flush, void *ctx);
void pipeline_free(struct pipeline *pl);

/* Accounts one frame of link type dlt captured at ts (pipeline_ns). */
void pipeline_packet(struct pipeline *pl, int dlt, uint64_t ts, const uint8_t *frame,
		     uint32_t caplen, uint32_t len);

/* Flushes every interval that ended before now (pipeline_ns), for idle links. */
void pipeline_advance(struct pipeline *pl, uint64_t now);

/* Flushes the interval in progress (end of capture). */
void pipeline_finish(struct pipeline *pl);

/* Swaps in a new identity map at the next interval boundary; takes ownership. */
void pipeline_set_identity_map(struct pipeline *pl, struct identity_map *m);

/* Kernel drop counters from pcap_stats, carried into the next report. */
void pipeline_set_drops(struct pipeline *pl, uint64_t kernel, uint64_t iface);

const struct pipeline_stats *pipeline_stats(const struct pipeline *pl);

/* The aggregation of the interval in progress (totals, memory). Borrowed. */
const struct agg *pipeline_agg(struct pipeline *pl);

#endif
