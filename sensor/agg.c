/*
 * agg: per-identity accounting for one flush interval (see agg.h).
 *
 * Three open-addressing tables with linear probing, allocated once in
 * agg_new() at 1.5 slots per allowed entry (so a full table is two-thirds
 * loaded and a probe stays short); agg_add() only reads and writes slots.
 *
 *   identities  an index of 64-bit slots over dense entries, each entry a
 *               key (name id, or address when unnamed) + counters. One
 *               entry beyond max_identities is the overflow bucket.
 *   pairs       an index of 32-bit slots over dense entries, each entry
 *               (identity entry, destination, port, proto) + counters,
 *               for egress packets: the source of each identity's top
 *               destinations.
 *   flows       slot = 16 bytes: a 48-bit fingerprint of the keyed hash of
 *               the 5-tuple, a 16-bit generation, and the flow's
 *               attribution: its identity entry and direction, its pair
 *               entry. A flow's addresses fix its direction, identity and
 *               pair for the interval, so a packet of a known flow is
 *               counted from its slot alone: no classification, no
 *               identity lookup, no identity or pair probe (agg_fetch).
 *               The table need not keep the tuple: a new flow shares a
 *               fingerprint with one in its probe with odds of about
 *               2^-47 (at 10,000 new flows a second, once in some 400
 *               years; its packets would then be counted as the other
 *               flow's), and keyed hashing keeps an attacker from
 *               choosing them.
 *
 * Identities and pairs keep their entries dense, in first-use order: the
 * random probes touch a 4- or 8-byte index slot instead of a 48- or 80-byte
 * entry, so the tables' working set (and the memory actually touched, see
 * table_alloc) is a fraction of the allowed maximum, and the report walks
 * the entries in order. A pair index slot i holding e is in use only when
 * e is below the entry count and entry e points back at i (a "sparse
 * set"), so emptying it between intervals is setting the count to zero.
 * An identity index slot holds a generation, 16 bits of the key's hash and
 * the entry: a probe reads an entry only where those bits match, so a
 * source that is not in the table (every packet of a spoofed-source flood,
 * probing a full table) costs its probe's slots, not a cache miss per
 * slot: a million-source flood's packets take about 0.85 of the time.
 * (Pair slots so made took about 0.77 of the flood's time but 1.06 of a
 * normal capture's: twice the index to touch.) The flow and identity slots
 * are in use only when their generation is the current one, so emptying
 * them between intervals is bumping the generation; only when it wraps are
 * the slots cleared.
 *
 * Hashing: an attacker picks addresses and ports, so every hash is keyed by
 * the process's random seed. SipHash of each key would cost more than the
 * rest of agg_add() together, so each address is hashed once per packet
 * with hash_mum() under the seed and the table keys are combined from those
 * (see key_* below). Caps bound memory whatever the hashing.
 *
 * Invariant: every egress, ingress and lateral packet lands in exactly one
 * identity row (a real one or the overflow bucket), so the sum over rows of
 * out/in/lateral equals the totals, to the byte.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "agg.h"
#include "banned.h"

#define FLOW_FP_BITS 48
#define FLOW_FP_MASK ((1ULL << FLOW_FP_BITS) - 1)
#define GEN_MAX 0xffffu
#define GEN_SHIFT 48            /* an identity slot: generation << 48 | fp << 32 | entry */
#define SLOT_KEY(gen, fp) ((uint64_t)(gen) << GEN_SHIFT | (uint64_t)(fp) << 32)
#define SLOT_KEY_OF(v) ((v) >> 32 << 32) /* an identity slot's generation and fp */

#define NO_ENTRY UINT32_MAX

struct ident_ent {
	uint32_t name_id;
	ew_addr addr;
	struct agg_counter by_dir[3]; /* out, in, lateral: indexed by the packet's ew_dir */
	uint64_t flows;
};

struct pair_ent {
	uint32_t slot;          /* its index slot */
	uint32_t ident;         /* its identity's entry */
	ew_addr dst;
	uint16_t port;
	uint8_t proto;
	uint64_t bytes, packets;
};

struct flow_slot {
	uint64_t tag;           /* generation << FLOW_FP_BITS | fingerprint */
	uint32_t ident;         /* identity entry << 2 | direction */
	uint32_t pair;          /* pair entry, NO_ENTRY when not tracked */
};

struct agg {
	struct agg_limits lim;
	struct hash_key key;
	uint32_t gen;           /* 1..GEN_MAX: flow and identity slots of this interval */

	uint64_t *id_index;     /* id_cap slots */
	struct ident_ent *ids;  /* max_identities + 1 (the overflow bucket) */
	uint32_t id_cap, nids;  /* nids: entries in use, the bucket's included */
	uint32_t overflow;      /* the bucket's entry, NO_ENTRY while unused */

	uint32_t *pair_index;
	struct pair_ent *pairs; /* max_pairs */
	uint32_t pair_cap, npairs;

	struct flow_slot *flows;
	uint32_t flow_cap, nflows;

	struct agg_totals totals;
	size_t memory;
	size_t id_index_size, ids_size, pair_index_size, pairs_size, flows_size;
};

/*
 * Table memory: anonymous mappings (zero pages handed out lazily, so an
 * unfilled table costs address space, not memory) with transparent huge
 * pages asked for. Random probes into 100 MB of 4 KiB pages miss the TLB
 * on nearly every packet; 2 MiB pages keep the page walk out of the
 * per-packet cost.
 */
static void *table_alloc(size_t n)
{
	if (n == 0)
		n = 1;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (n >= (2u << 20))
		madvise(p, n, MADV_HUGEPAGE);
#endif
	return p;
}

static void table_free(void *p, size_t n)
{
	if (p)
		munmap(p, n ? n : 1);
}

/* Slots for n entries: 1.5 per entry, and always one more than n so that a
 * probe of a full table meets an empty slot. */
static uint64_t slots_for(uint32_t n)
{
	return (uint64_t)n + n / 2 + 1;
}

/* Maps a 64-bit hash onto [0, n) without a division (Lemire's fastrange). */
static inline uint32_t range(uint64_t h, uint32_t n)
{
	return (uint32_t)(((unsigned __int128)h * n) >> 64);
}

static inline uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t hash_addr(const struct agg *a, const ew_addr *x)
{
	return hash_mum(rd64(x->b) ^ a->key.k0, rd64(x->b + 8) ^ a->key.k1);
}

static inline uint64_t key_ident(const struct agg *a, const struct agg_ident *id)
{
	if (id->name_id)
		return hash_mum(id->name_id ^ a->key.k0, 0x9e3779b97f4a7c15ULL ^ a->key.k1);
	return hash_addr(a, &id->addr);
}

/* The pair hash comes from the identity's key hash, not its slot, so that
 * the pair slot can be fetched while the identity is still being looked up
 * (the slot index is what the pair stores and compares). */
static inline uint64_t key_pair(const struct agg *a, uint64_t hident, uint64_t hdst, uint16_t port,
				uint8_t proto)
{
	uint64_t extra = (uint64_t)port << 8 | proto;
	return hash_mum(hdst ^ a->key.k1 ^ extra, hident ^ a->key.k0 ^ 0xa0761d6478bd642fULL);
}

/* The identity hash the overflow bucket's pairs use. */
#define OVERFLOW_HASH 0x8ebc6af09c88c6e3ULL

static inline uint64_t key_flow(const struct agg *a, uint64_t hsrc, uint64_t hdst,
				const struct pkt_info *p)
{
	uint64_t extra = (uint64_t)p->sport << 24 | (uint64_t)p->dport << 8 | p->proto;
	return hash_mum(hsrc ^ extra ^ a->key.k1, hdst ^ 0xe7037ed1a0b428dbULL);
}

static void release_tables(struct agg *a)
{
	table_free(a->flows, a->flows_size);
	table_free(a->pairs, a->pairs_size);
	table_free(a->pair_index, a->pair_index_size);
	table_free(a->ids, a->ids_size);
	table_free(a->id_index, a->id_index_size);
}

struct agg *agg_new(const struct agg_limits *lim, const struct hash_key *key)
{
	struct agg *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->lim = *lim;
	a->key = *key;
	a->gen = 1;
	a->overflow = NO_ENTRY;
	uint64_t ic = slots_for(lim->max_identities), pc = slots_for(lim->max_pairs),
		 fc = slots_for(lim->max_flows);
	/* A flow slot keeps an identity entry in 30 bits (the config allows 10M). */
	if (ic >= UINT32_MAX || pc >= UINT32_MAX || fc >= UINT32_MAX ||
	    lim->max_identities >= (1u << 30))
		goto out_free;
	a->id_cap = (uint32_t)ic;
	a->pair_cap = (uint32_t)pc;
	a->flow_cap = (uint32_t)fc;

	a->id_index_size = ic * sizeof(*a->id_index);
	a->ids_size = ((size_t)lim->max_identities + 1) * sizeof(*a->ids);
	a->pair_index_size = pc * sizeof(*a->pair_index);
	a->pairs_size = (size_t)lim->max_pairs * sizeof(*a->pairs);
	a->flows_size = fc * sizeof(*a->flows);
	a->id_index = table_alloc(a->id_index_size);
	a->ids = table_alloc(a->ids_size);
	a->pair_index = table_alloc(a->pair_index_size);
	a->pairs = table_alloc(a->pairs_size);
	a->flows = table_alloc(a->flows_size);
	if (!a->id_index || !a->ids || !a->pair_index || !a->pairs || !a->flows)
		goto out_free_tables;
	a->memory = sizeof(*a) + a->id_index_size + a->ids_size + a->pair_index_size +
		    a->pairs_size + a->flows_size;
	return a;

out_free_tables:
	release_tables(a);
out_free:
	free(a);
	return NULL;
}

void agg_free(struct agg *a)
{
	if (!a)
		return;
	release_tables(a);
	free(a);
}

/* The identity's entry, claiming a free one if it is new; the overflow
 * bucket when the table holds max_identities already. i, fp: the slot its
 * probe starts at and its hash's fingerprint (agg_attribute's). */
static struct ident_ent *find_ident(struct agg *a, const struct agg_ident *id, uint32_t i,
				    uint16_t fp, uint32_t *idx)
{
	struct ident_ent *s;
	uint64_t want = SLOT_KEY(a->gen, fp);
	if (!id) {
		a->totals.identity_overflow++;
		goto out_overflow;
	}
	for (;;) {
		uint64_t v = a->id_index[i];
		if (v >> GEN_SHIFT != a->gen)
			break;
		s = &a->ids[(uint32_t)v];
		if (SLOT_KEY_OF(v) == want && s->name_id == id->name_id &&
		    (id->name_id || addr_eq(&s->addr, &id->addr))) {
			*idx = (uint32_t)v;
			return s;
		}
		if (++i == a->id_cap)
			i = 0;
	}
	if (a->nids - (a->overflow != NO_ENTRY) >= a->lim.max_identities) {
		a->totals.identity_overflow++;
		goto out_overflow;
	}
	*idx = a->nids++;
	a->id_index[i] = want | *idx;
	s = &a->ids[*idx];
	memset(s, 0, sizeof(*s));
	s->name_id = id->name_id;
	s->addr = id->addr;     /* a named identity's first address: its label without names */
	return s;

out_overflow:
	if (a->overflow == NO_ENTRY) {
		a->overflow = a->nids++;
		s = &a->ids[a->overflow];
		memset(s, 0, sizeof(*s));
	}
	*idx = a->overflow;
	return &a->ids[a->overflow];
}

/* Counts the packet in its pair with identity entry ident, the probe
 * starting at slot i. Returns the pair's entry, NO_ENTRY if untracked. */
static uint32_t add_pair(struct agg *a, uint32_t ident, uint32_t i, const struct pkt_info *p)
{
	struct pair_ent *s;
	for (;;) {
		uint32_t e = a->pair_index[i];
		if (e >= a->npairs || a->pairs[e].slot != i)
			break;
		s = &a->pairs[e];
		if (s->ident == ident && s->port == p->dport && s->proto == p->proto &&
		    addr_eq(&s->dst, &p->dst)) {
			s->bytes += p->ip_bytes;
			s->packets++;
			return e;
		}
		if (++i == a->pair_cap)
			i = 0;
	}
	if (a->npairs >= a->lim.max_pairs) {
		a->totals.pair_overflow++;
		return NO_ENTRY;
	}
	a->pair_index[i] = a->npairs;
	s = &a->pairs[a->npairs++];
	s->slot = i;
	s->ident = ident;
	s->dst = p->dst;
	s->port = p->dport;
	s->proto = p->proto;
	s->bytes = p->ip_bytes;
	s->packets = 1;
	return a->npairs - 1;
}

/* A flow slot's tag for flow hash h in the current interval. */
static inline uint64_t flow_tag(const struct agg *a, uint64_t h)
{
	return (uint64_t)a->gen << FLOW_FP_BITS | (h & FLOW_FP_MASK);
}

/* The slot for a new flow of hash h, its probe starting at slot i (the
 * flow is then remembered); NULL if the flow is known already, or if the
 * table is full (counted). */
static struct flow_slot *add_flow(struct agg *a, uint64_t h, uint32_t i)
{
	uint64_t want = flow_tag(a, h);
	for (;;) {
		uint64_t t = a->flows[i].tag;
		if (t >> FLOW_FP_BITS != a->gen)
			break;
		if (t == want)
			return NULL;
		if (++i == a->flow_cap)
			i = 0;
	}
	if (a->nflows >= a->lim.max_flows) {
		a->totals.flow_overflow++;
		return NULL;
	}
	a->flows[i].tag = want;
	a->nflows++;
	return &a->flows[i];
}

/*
 * Prefetches both lines an entry may straddle. The empty volatile asm that
 * takes the address is an effect GCC must keep: the link-time optimiser
 * takes code whose only effects are prefetches for pure, and a part of
 * agg_fetch_entries that partial inlining split off lost its calls so.
 */
#define PREFETCH_ENTRY(e)                                                    \
	do {                                                                 \
		__builtin_prefetch(e);                                       \
		__builtin_prefetch((const char *)((e) + 1) - 1);             \
		__asm__ volatile("" ::"r"(e));                               \
	} while (0)

void agg_prepare(struct agg *a, const struct pkt_info *p, struct agg_prep *pr)
{
	/* The flow's hash and a prefetch of its slot; the caller runs
	 * agg_fetch some packets later, when the slot has arrived. */
	pr->hsrc = hash_addr(a, &p->src);
	pr->hdst = hash_addr(a, &p->dst);
	pr->hflow = key_flow(a, pr->hsrc, pr->hdst, p);
	pr->sflow = range(pr->hflow, a->flow_cap);
	__builtin_prefetch(&a->flows[pr->sflow]);
}

bool agg_fetch(const struct agg *a, struct agg_prep *pr)
{
	uint64_t want = flow_tag(a, pr->hflow);
	uint32_t i = pr->sflow;
	for (;;) {
		const struct flow_slot *f = &a->flows[i];
		if (f->tag >> FLOW_FP_BITS != a->gen)
			break;
		if (f->tag == want) {
			/* Known: its entries, both lines where one straddles two. */
			pr->known = true;
			pr->dir = (enum ew_dir)(f->ident & 3);
			pr->ident = f->ident >> 2;
			pr->pair = f->pair;
			PREFETCH_ENTRY(&a->ids[pr->ident]);
			if (pr->pair != NO_ENTRY)
				PREFETCH_ENTRY(&a->pairs[pr->pair]);
			return true;
		}
		if (++i == a->flow_cap)
			i = 0;
	}
	pr->known = false;
	return false;
}

void agg_attribute(struct agg *a, const struct agg_ident *id, enum ew_dir dir,
		   const struct pkt_info *p, struct agg_prep *pr)
{
	pr->dir = dir;
	if (dir == DIR_TRANSIT)
		return;
	/* The probes' first slots, prefetched for agg_commit. The pair hash
	 * comes from the identity's hash, not its entry, so both slots can be
	 * fetched at once. */
	uint64_t hid = 0;
	if (id)
		hid = id->name_id ? key_ident(a, id) : dir == DIR_INGRESS ? pr->hdst : pr->hsrc;
	pr->sid = range(hid, a->id_cap);
	pr->fid = (uint16_t)hid;
	__builtin_prefetch(&a->id_index[pr->sid]);
	pr->spair = NO_ENTRY;
	if (dir == DIR_EGRESS && a->lim.top_n) {
		pr->spair = range(key_pair(a, hid, pr->hdst, p->dport, p->proto), a->pair_cap);
		__builtin_prefetch(&a->pair_index[pr->spair]);
	}
}

void agg_fetch_entries(const struct agg *a, const struct agg_prep *pr)
{
	if (pr->known || pr->dir == DIR_TRANSIT)
		return;
	/* The entry in the probe's first slot, where its fingerprint matches:
	 * likely the one agg_commit finds (a packet still in flight may claim
	 * the slot first; any entry named is mapped). */
	uint64_t v = a->id_index[pr->sid];
	if (SLOT_KEY_OF(v) == SLOT_KEY(a->gen, pr->fid))
		PREFETCH_ENTRY(&a->ids[(uint32_t)v]);
	if (pr->spair != NO_ENTRY) {
		uint32_t e = a->pair_index[pr->spair];
		if (e < a->lim.max_pairs)
			PREFETCH_ENTRY(&a->pairs[e]);
	}
}

/* Where each direction's total is, so the packet path indexes it instead of
 * branching on a direction that is as random as the traffic. */
static const size_t total_at[] = {
	[DIR_EGRESS] = offsetof(struct agg_totals, egress),
	[DIR_INGRESS] = offsetof(struct agg_totals, ingress),
	[DIR_LATERAL] = offsetof(struct agg_totals, lateral),
	[DIR_TRANSIT] = offsetof(struct agg_totals, transit),
};

static inline void count_total(struct agg *a, enum ew_dir dir, uint64_t bytes)
{
	struct agg_counter *total = (struct agg_counter *)((char *)&a->totals + total_at[dir]);
	total->packets++;
	total->bytes += bytes;
}

/* A packet of a known flow: counted where its flow's first packet was. */
static void commit_known(struct agg *a, const struct pkt_info *p, const struct agg_prep *pr)
{
	uint64_t bytes = p->ip_bytes;
	count_total(a, pr->dir, bytes);
	struct ident_ent *s = &a->ids[pr->ident];
	s->by_dir[pr->dir].bytes += bytes;
	s->by_dir[pr->dir].packets++;
	if (pr->ident == a->overflow)
		a->totals.identity_overflow++;
	if (pr->pair != NO_ENTRY) {
		a->pairs[pr->pair].bytes += bytes;
		a->pairs[pr->pair].packets++;
	} else if (pr->dir == DIR_EGRESS && a->lim.top_n) {
		a->totals.pair_overflow++;
	}
}

void agg_commit(struct agg *a, const struct agg_ident *id, enum ew_dir dir, const struct pkt_info *p,
		const struct agg_prep *pr)
{
	if (pr->known) {
		commit_known(a, p, pr);
		return;
	}
	uint64_t bytes = p->ip_bytes;
	count_total(a, dir, bytes);
	if (dir == DIR_TRANSIT)
		return;

	uint32_t idx, pair = NO_ENTRY;
	struct ident_ent *s = find_ident(a, id, pr->sid, pr->fid, &idx);
	s->by_dir[dir].bytes += bytes;
	s->by_dir[dir].packets++;
	if (pr->spair != NO_ENTRY) {
		uint32_t i = pr->spair;
		if (idx == a->overflow)
			i = range(key_pair(a, OVERFLOW_HASH, pr->hdst, p->dport, p->proto), a->pair_cap);
		pair = add_pair(a, idx, i, p);
	}
	struct flow_slot *f = add_flow(a, pr->hflow, pr->sflow);
	if (f) {
		f->ident = idx << 2 | dir;
		f->pair = pair;
		s->flows++;
	}
}

void agg_add(struct agg *a, const struct agg_ident *id, enum ew_dir dir, const struct pkt_info *p)
{
	struct agg_prep pr;
	agg_prepare(a, p, &pr);
	if (!agg_fetch(a, &pr))
		agg_attribute(a, id, dir, p, &pr);
	agg_commit(a, id, dir, p, &pr);
}

const struct agg_totals *agg_totals(const struct agg *a)
{
	return &a->totals;
}

void agg_reset(struct agg *a)
{
	memset(&a->totals, 0, sizeof(a->totals));
	a->nids = 0;
	a->overflow = NO_ENTRY;
	a->npairs = 0;
	a->nflows = 0;
	/* A flow or identity slot is empty when its generation is not the
	 * current one; only when that wraps must the slots really be cleared,
	 * or a key of 2^16 intervals ago would look current. */
	if (++a->gen > GEN_MAX) {
		memset(a->flows, 0, a->flows_size);
		memset(a->id_index, 0, a->id_index_size);
		a->gen = 1;
	}
}

size_t agg_memory(const struct agg *a)
{
	return a->memory;
}

/* ---- the report (flush time: allocates) ---- */

/* A pair copied out of the table at flush time, grouped by identity, so
 * that choosing each identity's top destinations reads contiguous memory. */
struct dest {
	ew_addr dst;
	uint64_t bytes, packets;
	uint16_t port;
	uint8_t proto;
};

/* Order of destinations: more bytes first, then by address, port, proto,
 * so equal inputs give byte-identical reports. */
static int dest_cmp(const struct dest *x, const struct dest *y)
{
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	int c = memcmp(x->dst.b, y->dst.b, 16);
	if (c)
		return c;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return (int)x->proto - (int)y->proto;
}

static int dest_qcmp(const void *x, const void *y)
{
	return dest_cmp(x, y);
}

static void swap_dest(struct dest *x, struct dest *y)
{
	struct dest t = *x;
	*x = *y;
	*y = t;
}

/* Moves the best k of d[0..n) to d[0..k), sorted: a min-heap of the best
 * k seen (worst on top) in d[0..k), fed from the rest. */
static void top_k(struct dest *d, size_t n, size_t k)
{
	if (n <= k) {
		qsort(d, n, sizeof(*d), dest_qcmp);
		return;
	}
	for (size_t i = 1; i < k; i++)
		for (size_t c = i; c > 0 && dest_cmp(&d[c], &d[(c - 1) / 2]) > 0; c = (c - 1) / 2)
			swap_dest(&d[c], &d[(c - 1) / 2]);
	for (size_t j = k; j < n; j++) {
		if (dest_cmp(&d[j], &d[0]) >= 0)
			continue;
		swap_dest(&d[j], &d[0]);
		size_t i = 0;
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, w = i;
			if (l < k && dest_cmp(&d[l], &d[w]) > 0)
				w = l;
			if (r < k && dest_cmp(&d[r], &d[w]) > 0)
				w = r;
			if (w == i)
				break;
			swap_dest(&d[i], &d[w]);
			i = w;
		}
	}
	qsort(d, k, sizeof(*d), dest_qcmp);
}

static int ident_qcmp(const void *x, const void *y)
{
	const struct report_identity *a = x, *b = y;
	if (a->out_bytes != b->out_bytes)
		return a->out_bytes > b->out_bytes ? -1 : 1;
	return strcmp(a->name, b->name);
}

int agg_to_report(const struct agg *a, const char *(*name_of)(void *ctx, uint32_t id), void *ctx,
		  struct report *r)
{
	uint32_t n = a->nids, np = a->npairs;
	uint32_t *off = NULL;
	struct dest *dests = NULL;
	struct report_identity *ids = NULL;
	int rc = -1;

	for (size_t i = 0; i < r->nids; i++)
		free(r->ids[i].dests);
	free(r->ids);
	r->ids = NULL;
	r->nids = 0;
	if (n == 0)
		return 0;

	ids = calloc(n, sizeof(*ids));
	off = calloc((size_t)n + 1, sizeof(*off));
	dests = malloc(((size_t)np + 1) * sizeof(*dests));
	if (!ids || !off || !dests)
		goto out_free;

	for (uint32_t k = 0; k < n; k++) {
		const struct ident_ent *s = &a->ids[k];
		struct report_identity *ri = &ids[k];
		const char *name = NULL;
		if (k == a->overflow)
			name = OVERFLOW_IDENTITY;
		else if (s->name_id && name_of)
			name = name_of(ctx, s->name_id);
		if (name)
			snprintf(ri->name, sizeof(ri->name), "%s", name);
		else
			addr_format(&s->addr, ri->name, sizeof(ri->name));
		ri->out_bytes = s->by_dir[DIR_EGRESS].bytes;
		ri->out_packets = s->by_dir[DIR_EGRESS].packets;
		ri->in_bytes = s->by_dir[DIR_INGRESS].bytes;
		ri->in_packets = s->by_dir[DIR_INGRESS].packets;
		ri->lateral_bytes = s->by_dir[DIR_LATERAL].bytes;
		ri->lateral_packets = s->by_dir[DIR_LATERAL].packets;
		ri->flows = s->flows;
		ri->has_lateral = true;
		ri->has_flows = true;
	}

	/* Counting sort of the pairs by identity: count, then place. */
	for (uint32_t k = 0; k < np; k++)
		off[a->pairs[k].ident + 1]++;
	for (uint32_t k = 0; k < n; k++)
		off[k + 1] += off[k];
	for (uint32_t k = 0; k < np; k++) {
		const struct pair_ent *ps = &a->pairs[k];
		struct dest *d = &dests[off[ps->ident]++];
		d->dst = ps->dst;
		d->bytes = ps->bytes;
		d->packets = ps->packets;
		d->port = ps->port;
		d->proto = ps->proto;
	}
	/* off[k] is now the end of row k's run, which starts at off[k - 1]. */
	for (uint32_t k = 0; k < n; k++) {
		uint32_t start = k ? off[k - 1] : 0, cnt = off[k] - start;
		size_t keep = cnt < a->lim.top_n ? cnt : a->lim.top_n;
		if (keep == 0)
			continue;
		top_k(dests + start, cnt, keep);
		struct report_dest *rd = calloc(keep, sizeof(*rd));
		if (!rd)
			goto out_free_dests;
		for (size_t j = 0; j < keep; j++) {
			const struct dest *d = &dests[start + j];
			rd[j].addr = d->dst;
			rd[j].port = d->port;
			rd[j].proto = d->proto;
			rd[j].bytes = d->bytes;
			rd[j].packets = d->packets;
		}
		ids[k].dests = rd;
		ids[k].ndests = keep;
	}
	qsort(ids, n, sizeof(*ids), ident_qcmp);
	r->ids = ids;
	r->nids = n;
	ids = NULL;
	rc = 0;

out_free_dests:
	if (ids)
		for (uint32_t k = 0; k < n; k++)
			free(ids[k].dests);
out_free:
	free(dests);
	free(off);
	free(ids);
	return rc;
}
