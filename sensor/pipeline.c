/*
 * pipeline: the per-packet path and the interval clock (see pipeline.h).
 *
 * Invariant: every frame fed in is counted exactly once, either as decoded
 * (in one direction, and for egress/ingress/lateral in one identity or the
 * overflow bucket) or as undecoded with its reason; so packets_seen equals
 * the decoded packets of all directions plus packets_undecoded.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "direction.h"
#include "pipeline.h"
#include "banned.h"

#define STAGES 3        /* a packet is committed STAGES * PIPELINE_DEPTH packets after arriving */

/* Slots in the ring of packets in flight: room for them all, and a power of
 * two, as head counts packets and wraps at 2^32, so head % RING stays
 * continuous only for a power of two. */
#define RING (4 * PIPELINE_DEPTH)
_Static_assert(RING >= STAGES * PIPELINE_DEPTH && (RING & (RING - 1)) == 0,
	       "PIPELINE_DEPTH must be a power of 2");

struct pipeline {
	struct pipeline_params params;
	struct prefix_table *internal;
	struct identity_map *idmap, *next_idmap;
	struct agg *agg;
	pipeline_flush_fn flush;
	void *ctx;
	struct pipeline_stats stats;
	struct pipeline_stats reported;  /* stats at the last flush, for per-report deltas */
	uint64_t drops_kernel, drops_iface, drops_reported_kernel, drops_reported_iface;
	uint64_t interval;               /* flush_interval in ns; 0: one interval */
	uint64_t start, end;             /* current interval [start, end); end 0: none yet */
	/* Decoded packets on their way to being counted, in a ring: a packet
	 * is prepared (its flow hashed, the flow's slot prefetched) on
	 * arrival; fetched PIPELINE_DEPTH packets later (a known flow's
	 * entries prefetched; a new flow's packet classified, its identity
	 * looked up and their index slots prefetched); for a new flow, the
	 * entries those slots name prefetched PIPELINE_DEPTH after that; and
	 * committed (counted) PIPELINE_DEPTH after that, so each dependent
	 * cache miss has the work of PIPELINE_DEPTH other packets to hide
	 * behind. Committed in order; drained before anything reads the
	 * tables. */
	struct pending {
		struct pkt_info p;
		struct agg_ident id;
		enum ew_dir dir;
		struct agg_prep pr;
	} q[RING];
	unsigned head, nq;      /* next slot to fill; packets not yet committed */
};

/* The pending packet that arrived age packets before the newest. */
static struct pending *pending_at(struct pipeline *pl, unsigned age)
{
	return &pl->q[(pl->head - 1 - age) % RING];
}

/* A packet of a flow not yet seen this interval is attributed here, once:
 * the rest of its flow's packets are counted where it was. Out of line,
 * so that the known flow's path stays small. */
static __attribute__((noinline)) void attribute(struct pipeline *pl, struct pending *q)
{
	q->dir = direction_classify(pl->internal, &q->p);
	if (q->dir != DIR_TRANSIT) {
		q->id.addr = q->dir == DIR_INGRESS ? q->p.dst : q->p.src;
		q->id.name_id = pl->idmap ? identity_map_lookup(pl->idmap, &q->id.addr) : 0;
	}
	agg_attribute(pl->agg, q->dir == DIR_TRANSIT ? NULL : &q->id, q->dir, &q->p, &q->pr);
}

static inline void fetch(struct pipeline *pl, struct pending *q)
{
	if (!agg_fetch(pl->agg, &q->pr))
		attribute(pl, q);
}

static void fetch_entries(struct pipeline *pl, struct pending *q)
{
	agg_fetch_entries(pl->agg, &q->pr);
}

static void commit(struct pipeline *pl, struct pending *q)
{
	agg_commit(pl->agg, q->dir == DIR_TRANSIT ? NULL : &q->id, q->dir, &q->p, &q->pr);
}

/* Commits every pending packet, oldest first, after the stages the
 * younger ones have not been through. */
static void drain(struct pipeline *pl)
{
	for (unsigned age = 0; age < pl->nq && age < PIPELINE_DEPTH; age++)
		fetch(pl, pending_at(pl, age));
	for (unsigned age = 0; age < pl->nq && age < 2 * PIPELINE_DEPTH; age++)
		fetch_entries(pl, pending_at(pl, age));
	while (pl->nq) {
		pl->nq--;
		commit(pl, pending_at(pl, pl->nq));
	}
}

struct pipeline *pipeline_new(const struct pipeline_params *p, struct prefix_table *internal,
			      struct identity_map *idmap, const struct hash_key *key,
			      pipeline_flush_fn flush, void *ctx)
{
	struct pipeline *pl = calloc(1, sizeof(*pl));
	if (!pl)
		goto out_free_inputs;
	pl->agg = agg_new(&p->limits, key);
	if (!pl->agg)
		goto out_free_pl;
	pl->params = *p;
	pl->internal = internal;
	pl->idmap = idmap;
	pl->flush = flush;
	pl->ctx = ctx;
	pl->interval = p->flush_interval > 0 ? (uint64_t)llround(p->flush_interval * 1e9) : 0;
	return pl;

out_free_pl:
	free(pl);
out_free_inputs:
	prefix_table_free(internal);
	identity_map_free(idmap);
	return NULL;
}

void pipeline_free(struct pipeline *pl)
{
	if (!pl)
		return;
	agg_free(pl->agg);
	prefix_table_free(pl->internal);
	identity_map_free(pl->idmap);
	identity_map_free(pl->next_idmap);
	free(pl);
}

static const char *name_of(void *ctx, uint32_t id)
{
	return identity_map_name(ctx, id);
}

/* Hands the current interval [start, end) to the callback and starts afresh. */
static void flush_interval(struct pipeline *pl, uint64_t end)
{
	drain(pl);
	struct report r;
	memset(&r, 0, sizeof(r));
	r.start = pipeline_seconds(pl->start);
	r.end = pipeline_seconds(end);
	if (pl->idmap)
		agg_to_report(pl->agg, name_of, pl->idmap, &r);
	else
		agg_to_report(pl->agg, NULL, NULL, &r);
	r.stats.packets_seen = pl->stats.packets_seen - pl->reported.packets_seen;
	r.stats.packets_undecoded = pl->stats.packets_undecoded - pl->reported.packets_undecoded;
	r.stats.drops_kernel = pl->drops_kernel - pl->drops_reported_kernel;
	r.stats.drops_iface = pl->drops_iface - pl->drops_reported_iface;
	pl->drops_reported_kernel = pl->drops_kernel;
	pl->drops_reported_iface = pl->drops_iface;
	pl->reported = pl->stats;
	pl->stats.intervals++;
	if (pl->flush)
		pl->flush(pl->ctx, &r);
	report_release(&r);
	agg_reset(pl->agg);
	if (pl->next_idmap) {
		identity_map_free(pl->idmap);
		pl->idmap = pl->next_idmap;
		pl->next_idmap = NULL;
	}
}

/* end + iv, or the last nanosecond where that would not fit. */
static uint64_t end_of(uint64_t start, uint64_t iv)
{
	return start < UINT64_MAX - iv ? start + iv : UINT64_MAX;
}

/* Starts the first interval at t, or closes the current one, t being past
 * it, and covers a silent stretch with one empty report (the sensor saw
 * nothing, which is not the same as not watching). */
static __attribute__((noinline)) void clock_move(struct pipeline *pl, uint64_t t)
{
	uint64_t iv = pl->interval;
	if (pl->end == 0) {
		if (pl->stats.packets_seen == 0)
			pl->stats.first_ns = t;
		pl->start = iv ? t - t % iv : t;
		pl->end = iv ? end_of(pl->start, iv) : UINT64_MAX;
		return;
	}
	flush_interval(pl, pl->end);
	uint64_t next = t - t % iv;
	if (next > pl->end) {
		pl->start = pl->end;
		flush_interval(pl, next);
	}
	pl->start = next;
	pl->end = end_of(next, iv);
}

/* Moves the clock to t; per packet, so the common case (t in the current
 * interval) is one comparison here (end is 0 before the first frame, and
 * pipeline_ns() stops short of UINT64_MAX) and the rest is out of line. */
static inline void clock_to(struct pipeline *pl, uint64_t t)
{
	if (t >= pl->end)
		clock_move(pl, t);
}

void pipeline_packet(struct pipeline *pl, int dlt, uint64_t ts, const uint8_t *frame,
		     uint32_t caplen, uint32_t len)
{
	clock_to(pl, ts);
	if (ts < pl->start)
		pl->stats.late_packets++;
	if (ts > pl->stats.last_ns)
		pl->stats.last_ns = ts;
	pl->stats.packets_seen++;
	struct pending *q = &pl->q[pl->head % RING];
	enum decode_result rc = decode_packet(&pl->params.decode, dlt, frame, caplen, len, &q->p);
	if (rc != DECODE_OK) {
		pl->stats.undecoded[rc]++;
		pl->stats.packets_undecoded++;
		return;
	}
	agg_prepare(pl->agg, &q->p, &q->pr);
	pl->head++;
	if (++pl->nq > PIPELINE_DEPTH)
		fetch(pl, pending_at(pl, PIPELINE_DEPTH));
	if (pl->nq > 2 * PIPELINE_DEPTH)
		fetch_entries(pl, pending_at(pl, 2 * PIPELINE_DEPTH));
	if (pl->nq == STAGES * PIPELINE_DEPTH) {
		pl->nq--;
		commit(pl, pending_at(pl, pl->nq));
	}
}

void pipeline_advance(struct pipeline *pl, uint64_t now)
{
	if (pl->end != 0 && pl->interval != 0)
		clock_to(pl, now);
}

void pipeline_finish(struct pipeline *pl)
{
	if (pl->end == 0)
		return;
	/* With no flush interval, the one interval ends where it started: the
	 * caller sets the real span. */
	flush_interval(pl, pl->interval ? pl->end : pl->start);
	pl->end = 0;
}

void pipeline_set_identity_map(struct pipeline *pl, struct identity_map *m)
{
	identity_map_free(pl->next_idmap);
	pl->next_idmap = m;
}

void pipeline_set_drops(struct pipeline *pl, uint64_t kernel, uint64_t iface)
{
	pl->drops_kernel = kernel;
	pl->drops_iface = iface;
}

const struct pipeline_stats *pipeline_stats(const struct pipeline *pl)
{
	return &pl->stats;
}

const struct agg *pipeline_agg(struct pipeline *pl)
{
	drain(pl);
	return pl->agg;
}
