/*
 * detect_novelty: which destinations are new, to an identity and to the
 * whole organisation, in bounded memory.
 *
 * Owned by the detection engine (detect.c). Pure: no I/O, no globals; the
 * caller owns every struct and passes the clock. Destinations are grouped
 * by prefix (/24 for IPv4, /64 for IPv6 by default): a thief's bucket moves
 * within a provider's /24 but rarely leaves it, and a CDN's churn stays
 * inside few prefixes.
 *
 * Per identity: a table of K recently used prefixes (default 64, 36 bytes
 * each) holds the new ones and the LRU of the known ones, with the bytes
 * sent to each while new; a pair of 2048-bit Bloom filters (512 bytes)
 * remembers every prefix that ever GRADUATED to known, far more than K,
 * and ages out by rotation (the older filter is dropped every
 * bloom_rotate_s). A prefix graduates only after it was first seen at least
 * new_window ago and no alert implicated it (lagged learning: a theft's
 * destination never becomes "known" because the theft went on long
 * enough). When the table is full the least recently used known entry is
 * evicted; if all are new, the smallest new one goes and its bytes still
 * count (so spraying many prefixes cannot hide the big one).
 *
 * Organisation-wide: the same with a hash table of new prefixes (default
 * 16384 entries of 56 bytes, open addressing under a keyed hash) that also
 * records up to DETECT_FANIN_IDS identities sending to each (fan-in; the
 * table is kept twice, for its hourly rebuild: 1.8 MB), and a pair of
 * 2^20-bit Bloom filters (256 KiB) for the graduated ones.
 */
#ifndef EW_DETECT_NOVELTY_H
#define EW_DETECT_NOVELTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define DETECT_ID_BLOOM_BITS 2048
#define DETECT_FANIN_IDS 6

enum {
	DETECT_DEST_NEW = 1,        /* not yet graduated to known */
	DETECT_DEST_ORG_NEW = 2,    /* also new to the organisation */
	DETECT_DEST_FLAGGED = 4,    /* implicated in an alert: never graduates */
};

struct detect_dest {
	ew_addr prefix;             /* masked to plen */
	uint8_t plen;               /* in the 128-bit space (IPv4 /24 = 120) */
	uint8_t flags;
	uint16_t unused;
	uint32_t first_seen, last_seen;     /* capture-clock s */
	float new_bytes;            /* bytes sent while new */
	float recent;               /* bytes, decaying with a 1 h time constant, as of last_seen */
};

struct detect_novelty {
	uint64_t bloom[2][DETECT_ID_BLOOM_BITS / 64];
	uint32_t bloom_since;       /* when bloom[0] was started */
	uint32_t evicted_at;        /* when a new entry was last evicted */
	float new_id_bytes;         /* bytes to prefixes new to the identity only */
	float new_org_bytes;        /* bytes to prefixes new to the organisation */
	float evicted_id, evicted_org;      /* bytes of evicted new entries, counted for new_window */
	uint32_t ndests;
	uint32_t evictions;
};

struct detect_org_dest {
	ew_addr prefix;
	uint8_t plen, nids, flags, unused;
	uint32_t first_seen, last_seen;
	float bytes;
	uint32_t ids[DETECT_FANIN_IDS];     /* engine identity indexes, first nids (<= 6) of them */
};

struct detect_org {
	struct detect_org_dest *tab, *scratch;
	size_t cap, used;           /* cap: a power of 2 */
	uint64_t *bloom;            /* 2 x nbits bits: [0..nbits) current, [nbits..2 nbits) previous */
	size_t nbits;
	uint32_t bloom_since;
	uint64_t key[2];            /* hash key: caller's random seed */
	uint64_t overflow;          /* new prefixes not tracked: table full */
};

/* Masks a to its grouping prefix: v4len for IPv4 (e.g. 24), v6len for IPv6 (e.g. 64). */
void detect_prefix(const ew_addr *a, unsigned v4len, unsigned v6len, ew_addr *out, uint8_t *plen);

/* Keyed 64-bit hash of a prefix. */
uint64_t detect_prefix_hash(const uint64_t key[2], const ew_addr *prefix, uint8_t plen);

/* Zeroes n (nothing known) and starts its Bloom epoch at now. */
void detect_novelty_init(struct detect_novelty *n, uint32_t now);

/* True if the identity's Bloom filters hold the prefix of hash h. */
bool detect_novelty_known(const struct detect_novelty *n, uint64_t h);

/*
 * Records bytes from the identity to a prefix (hash h, org_new: the org's
 * verdict) in its table tab[0..K). Returns the entry (borrowed, valid
 * until the next call), never NULL.
 */
struct detect_dest *detect_novelty_observe(struct detect_novelty *n, struct detect_dest *tab, size_t K,
					   const ew_addr *prefix, uint8_t plen, uint64_t h, bool org_new,
					   double bytes, uint32_t now);

/*
 * Hourly upkeep: graduates entries new for >= window (not flagged),
 * rotates the Bloom filters every rotate_s, and recounts the new-bytes
 * sums. org may be NULL; else entries that the org has since graduated
 * stop counting as org-new.
 */
void detect_novelty_sweep(struct detect_novelty *n, struct detect_dest *tab, size_t K,
			  const struct detect_org *org, const uint64_t key[2], uint32_t now, uint32_t window,
			  uint32_t rotate_s);

/* Marks every new entry FLAGGED (an alert implicated them). */
void detect_novelty_flag(struct detect_dest *tab, size_t K);

/* Decayed recent bytes of an entry as of now. */
double detect_dest_recent(const struct detect_dest *d, uint32_t now);

/* Allocates an org table of cap entries (rounded up to a power of 2) and 2 x nbits Bloom bits. Returns 0 or -1. */
int detect_org_init(struct detect_org *o, size_t cap, size_t nbits, const uint64_t key[2], uint32_t now);
void detect_org_release(struct detect_org *o);

/* True if the organisation has not graduated the prefix of hash h. */
bool detect_org_is_new(const struct detect_org *o, uint64_t h);

/*
 * Records bytes from identity id to a prefix. Returns the org's entry when
 * the prefix is new to the organisation and tracked, NULL when it is known
 * (*is_new false) or new but untracked because the table is full (*is_new
 * true, overflow counted).
 */
/* Marks h known to the organisation (its learning period: what it sees
 * then is its normal, never "new" once judging starts). */
void detect_org_learn(struct detect_org *o, uint64_t h);

struct detect_org_dest *detect_org_observe(struct detect_org *o, const ew_addr *prefix, uint8_t plen,
					   uint64_t h, uint32_t id, double bytes, uint32_t now, bool *is_new);

/* Looks a prefix up without changing anything. NULL if not tracked. */
struct detect_org_dest *detect_org_find(const struct detect_org *o, const ew_addr *prefix, uint8_t plen,
					uint64_t h);

/* Hourly upkeep: graduates entries first seen >= window ago and not flagged; drops flagged ones idle for 30 days. */
void detect_org_sweep(struct detect_org *o, uint32_t now, uint32_t window,
		      uint32_t rotate_s);

#endif
