/*
 * agg: per-identity accounting for one flush interval, in bounded memory.
 *
 * Pure code on preallocated tables (open addressing, keyed hashing): agg_add()
 * never allocates. Three tables, each with a cap and an overflow counter:
 *   identities   -> out/in/lateral bytes and packets, flows;
 *   pairs        (identity, destination addr, port, proto) -> bytes, packets,
 *                 from which each identity's top destinations are taken;
 *   flows        (5-tuple) seen this interval, to count new flows.
 * Past max_identities, traffic goes to the OVERFLOW_IDENTITY bucket; past
 * max_pairs, a pair is not tracked (counted) but its identity's totals still
 * are; so the sum over identities always equals the egress total, to the byte.
 */
#ifndef EW_AGG_H
#define EW_AGG_H

#include <stdbool.h>
#include <stdint.h>

#include "decode.h"
#include "hash.h"
#include "report.h"

enum ew_dir { DIR_EGRESS, DIR_INGRESS, DIR_LATERAL, DIR_TRANSIT };

struct agg_limits {
	uint32_t max_identities;        /* default 100000 */
	uint32_t max_pairs;             /* identity-destination pairs, default 1000000 */
	uint32_t max_flows;             /* default 1000000 */
	uint32_t top_n;                 /* destinations reported per identity, default 10 */
};

/* The identity a packet is attributed to: a map name id, or the address. */
struct agg_ident {
	uint32_t name_id;               /* identity_map id; 0 means "the address" */
	ew_addr addr;                   /* the internal address (key when name_id is 0) */
};

struct agg_counter {
	uint64_t packets, bytes;
};

struct agg_totals {
	struct agg_counter egress, ingress, lateral, transit;
	uint64_t identity_overflow;     /* packets sent to the overflow bucket */
	uint64_t pair_overflow;         /* packets whose pair was not tracked */
	uint64_t flow_overflow;         /* packets whose flow was not tracked */
};

struct agg;

/* Preallocates all tables. NULL on allocation failure. Free with agg_free. */
struct agg *agg_new(const struct agg_limits *lim, const struct hash_key *key);
void agg_free(struct agg *a);

/*
 * agg_add in steps, for pipelining. agg_prepare hashes the packet's flow
 * and prefetches its slot. agg_fetch reads the slot: a flow already seen
 * this interval carries its attribution (direction, identity, pair), so
 * it returns true with the entries prefetched and nothing more is needed;
 * false means the caller must attribute the packet (direction, identity)
 * and pass that to agg_attribute, which prefetches the identity and pair
 * index slots. agg_commit counts the packet: a known flow's from its slot
 * (id and dir unused), another's from id and dir. Run the steps a few
 * packets apart (the pipeline does), committing in order, and the cache
 * misses of one packet overlap the work on the others.
 */
struct agg_prep {
	uint64_t hsrc, hdst, hflow; /* keyed hashes: the addresses, the 5-tuple */
	uint32_t sflow;         /* flow slot where the probe starts */
	bool known;             /* agg_fetch found the flow: */
	enum ew_dir dir;        /*   its direction (else agg_attribute's), */
	uint32_t ident, pair;   /*   identity and pair entries (pair NO_ENTRY: untracked) */
	uint32_t sid, spair;    /* else agg_attribute's index slots (spair UINT32_MAX: no pair) */
	uint16_t fid;           /*   and the identity hash's fingerprint */
};
void agg_prepare(struct agg *a, const struct pkt_info *p, struct agg_prep *pr);
bool agg_fetch(const struct agg *a, struct agg_prep *pr);
void agg_attribute(struct agg *a, const struct agg_ident *id, enum ew_dir dir,
		   const struct pkt_info *p, struct agg_prep *pr);
/* For a packet agg_attribute prepared: prefetches the entries its index
 * slots name (only a hint; nothing for a known flow). */
void agg_fetch_entries(const struct agg *a, const struct agg_prep *pr);
void agg_commit(struct agg *a, const struct agg_ident *id, enum ew_dir dir, const struct pkt_info *p,
		const struct agg_prep *pr);

/*
 * Accounts one packet. For egress and lateral, id is the source's identity
 * (id->addr is p->src); for ingress, the destination's (id->addr is
 * p->dst); for transit it is ignored (may be NULL).
 * A flow's attribution is its first packet's: later packets of the same
 * 5-tuple in the interval are counted where it was.
 */
void agg_add(struct agg *a, const struct agg_ident *id, enum ew_dir dir,
	     const struct pkt_info *p);

/* Totals since the last reset. Borrowed. */
const struct agg_totals *agg_totals(const struct agg *a);

/*
 * Fills r->ids with every identity that sent or received anything, sorted by
 * out_bytes descending (name for ties), each with its top_n destinations by
 * bytes. name_of(ctx, name_id) gives a mapped identity's name. Other report
 * fields are left alone. Allocates (flush time only). Returns 0 or -1.
 */
int agg_to_report(const struct agg *a, const char *(*name_of)(void *ctx, uint32_t id),
		  void *ctx, struct report *r);

/* Empties all tables and totals for the next interval; keeps the memory. */
void agg_reset(struct agg *a);

/* Bytes allocated for the tables (for the memory-per-pair figure). */
size_t agg_memory(const struct agg *a);

#endif
