/*
 * prefix_table: longest-prefix match on 128-bit keys (see prefix_table.h).
 *
 * Every prefix lives in one open-addressing hash table keyed by (masked
 * address, length), fronted by a small blocked Bloom filter; a longest match
 * probes it once per candidate length, longest first. What keeps the
 * candidates few with 100,000 prefixes is an index on the first 16 bits of
 * the address (of the IPv4 address for mapped keys, else of the IPv6 one):
 *
 *   IPv4  each of 65536 /16 buckets has a bitmap of the lengths /17../32
 *         under it, and the best prefix of /16 or shorter covering it
 *         (expanded into the buckets when added). IPv4 prefixes spread over
 *         many /16s, so a lookup probes one or two lengths.
 *   IPv6  is used densely in a few /16s, so a bucket holds the best /16 or
 *         shorter, an expansion of its /17../24 prefixes into 256 /24
 *         entries (made only for buckets that have any), and a flag; the
 *         lengths past /24 are kept as bitmaps per /24, in a hash of the
 *         /24s that have any. A lookup probes only lengths present in its
 *         own /24.
 *   IPv4 /0 is ::ffff:0:0/96, and covers every IPv4 address: one value
 *         (v4_fallback), not a walk. An IPv6 prefix shorter than /96 (::/0)
 *         covers mapped space in the arithmetic, but a user who writes one
 *         means IPv6 addresses, so it covers no IPv4 address.
 *
 * Membership alone (prefix_table_contains: is this address internal?, two
 * per packet) needs no value, so it is answered from four 8 KiB bitmaps
 * over the /16 buckets that stay in cache: "a prefix of /16 or shorter
 * covers all of it" and "a longer prefix lies under it"; only the second
 * case takes a lookup.
 *
 * Invariants: the hash holds exactly the distinct prefixes added; a bitmap
 * has a length's bit iff a prefix of that length lies under it; expanded
 * values are always those of the longest covering prefix (ties: the latest).
 * Lookups only read; adds may allocate.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "prefix_table.h"
#include "banned.h"

#define BUCKETS 65536

struct entry {
	uint64_t hi, lo;        /* masked address, host order */
	uint32_t value;
	uint8_t plen;
	uint8_t used;
};

/* A short value: len is the prefix length + 1 (0 = none) in the family's own
 * space, so /0 can be told from nothing. */
struct v4_bucket {
	uint32_t short_value;
	uint16_t long_lens;     /* bit i: IPv4 length 17 + i present */
	uint8_t short_len;
};

struct v6_bucket {
	uint32_t short_value;
	uint32_t mid;           /* 1 + index of its /24 expansion in mids, or 0 */
	uint8_t short_len;
	uint8_t deep;           /* some prefix longer than /24 lies under it */
};

/* One /24 of a /16 bucket: the best prefix of length 17..24 covering it
 * (len is the length + 1, 0 = none). Prefixes of those lengths are expanded
 * here, 256 entries per /16 that has any, so they cost no probe. */
struct v6_mid {
	uint32_t value;
	uint32_t len;
};

/* IPv6 space is used densely in a few /16s (2001::/16 above all), so the
 * lengths past /24 are indexed per /24, in a hash of the /24s that have any. */
struct v6_node {
	uint32_t top24;
	uint32_t pad;
	uint64_t lens_lo;       /* bit i: length 25 + i (25..88) */
	uint64_t lens_hi;       /* bit i: length 89 + i (89..128) */
};

struct prefix_table {
	struct entry *slots;
	size_t mask, count;
	uint64_t *bloom;        /* a blocked Bloom filter of the slots' keys */
	size_t bloom_mask;
	uint64_t k0, k1;
	struct v4_bucket *v4;   /* NULL until a prefix longer than /96 in IPv4 */
	struct v6_bucket *v6;   /* NULL until a prefix outside IPv4 */
	struct v6_node *nodes;  /* open addressing; empty when both masks are 0 */
	size_t node_mask, nnodes;
	struct v6_mid *mids;    /* 256 per /16 bucket with a /17../24 prefix */
	uint32_t nmids, mids_cap;
	uint32_t v4_fallback;
	uint8_t v4_fallback_len; /* 97 once IPv4 /0 (::ffff:0:0/96) is in, else 0 */
	uint64_t v4_full[BUCKETS / 64], v4_part[BUCKETS / 64];
	uint64_t v6_full[BUCKETS / 64], v6_part[BUCKETS / 64];
};

static inline void bit_set(uint64_t *m, uint32_t b)
{
	m[b >> 6] |= 1ULL << (b & 63);
}

static inline bool bit_get(const uint64_t *m, uint32_t b)
{
	return m[b >> 6] >> (b & 63) & 1;
}

static inline uint64_t rd_be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return __builtin_bswap64(v);
}

/* Keeps the top n bits (0..64) of x. */
static inline uint64_t keep64(uint64_t x, unsigned n)
{
	return n == 0 ? 0 : n >= 64 ? x : x & (~0ULL << (64 - n));
}

/* A keyed multiply-fold hash: the keys of lookups come off the wire, so the
 * layout must not be predictable, but a SipHash per probe would be several
 * times the cost of the probe itself. */
static inline uint64_t hash_of(const struct prefix_table *t, uint64_t hi, uint64_t lo, unsigned plen)
{
	uint64_t h = hash_mum(hi ^ t->k0, lo ^ t->k1 ^ ((uint64_t)plen << 56) ^ 0x9e3779b97f4a7c15ULL);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/* The filter word of h and the three bits it must have set in it. */
static inline uint64_t bloom_bits(uint64_t h)
{
	return 1ULL << (h >> 58) | 1ULL << ((h >> 52) & 63) | 1ULL << ((h >> 46) & 63);
}

static inline bool bloom_maybe(const struct prefix_table *t, uint64_t h)
{
	uint64_t want = bloom_bits(h);
	return (t->bloom[h & t->bloom_mask] & want) == want;
}

static inline const struct entry *find(const struct prefix_table *t, uint64_t h, uint64_t hi,
				       uint64_t lo, unsigned plen)
{
	size_t i = (size_t)(h >> 8) & t->mask;
	for (;;) {
		const struct entry *e = &t->slots[i];
		if (!e->used)
			return NULL;
		if (e->lo == lo && e->hi == hi && e->plen == plen)
			return e;
		i = (i + 1) & t->mask;
	}
}

/* The lookup path's probe: the filter answers most misses from a small
 * array (one word per four slots), so a candidate length that is not there
 * rarely costs a read of the large slot array. */
static inline const struct entry *probe(const struct prefix_table *t, uint64_t hi, uint64_t lo,
					unsigned plen)
{
	uint64_t h = hash_of(t, hi, lo, plen);
	if (!bloom_maybe(t, h))
		return NULL;
	return find(t, h, hi, lo, plen);
}

struct prefix_table *prefix_table_new(void)
{
	struct prefix_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->mask = 15;
	t->bloom_mask = 3;
	t->slots = calloc(t->mask + 1, sizeof(*t->slots));
	t->bloom = calloc(t->bloom_mask + 1, sizeof(*t->bloom));
	if (!t->slots || !t->bloom) {
		free(t->slots);
		free(t->bloom);
		free(t);
		return NULL;
	}
	struct hash_key k;
	if (hash_seed_random(&k) == 0) {
		t->k0 = k.k0;
		t->k1 = k.k1;
	} else {
		t->k0 = 0x0123456789abcdefULL;
		t->k1 = (uint64_t)(uintptr_t)t;
	}
	return t;
}

void prefix_table_free(struct prefix_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->bloom);
	free(t->v4);
	free(t->v6);
	free(t->nodes);
	free(t->mids);
	free(t);
}

size_t prefix_table_count(const struct prefix_table *t)
{
	return t ? t->count : 0;
}

static int grow(struct prefix_table *t)
{
	size_t nmask = t->mask * 2 + 1, nbmask = (nmask + 1) / 4 - 1;
	struct entry *ns = calloc(nmask + 1, sizeof(*ns));
	uint64_t *nb = calloc(nbmask + 1, sizeof(*nb));
	if (!ns || !nb) {
		free(ns);
		free(nb);
		return -1;
	}
	struct entry *old = t->slots;
	size_t omask = t->mask;
	free(t->bloom);
	t->slots = ns;
	t->mask = nmask;
	t->bloom = nb;
	t->bloom_mask = nbmask;
	for (size_t i = 0; i <= omask; i++) {
		if (!old[i].used)
			continue;
		uint64_t h = hash_of(t, old[i].hi, old[i].lo, old[i].plen);
		size_t j = (size_t)(h >> 8) & nmask;
		while (ns[j].used)
			j = (j + 1) & nmask;
		ns[j] = old[i];
		nb[h & nbmask] |= bloom_bits(h);
	}
	free(old);
	return 0;
}

/* Records in the /16 index that hi/plen exists (family space length len). */
static void index_v4(struct prefix_table *t, uint32_t v4, unsigned len, uint32_t value)
{
	if (len > 16) {
		t->v4[v4 >> 16].long_lens |= (uint16_t)(1u << (len - 17));
		bit_set(t->v4_part, v4 >> 16);
		return;
	}
	uint32_t first = len == 0 ? 0 : (v4 >> 16) & ~((1u << (16 - len)) - 1);
	uint32_t n = 1u << (16 - len);
	for (uint32_t b = first; b < first + n; b++) {
		bit_set(t->v4_full, b);
		if (t->v4[b].short_len <= len + 1) {
			t->v4[b].short_len = (uint8_t)(len + 1);
			t->v4[b].short_value = value;
		}
	}
}

static inline size_t node_slot(const struct prefix_table *t, uint32_t top24)
{
	return (size_t)(hash_mum(top24 ^ t->k1, 0x9e3779b97f4a7c15ULL ^ t->k0) & t->node_mask);
}

static inline const struct v6_node *find_node(const struct prefix_table *t, uint32_t top24)
{
	size_t i = node_slot(t, top24);
	for (;;) {
		const struct v6_node *n = &t->nodes[i];
		if (!n->lens_lo && !n->lens_hi)
			return NULL;
		if (n->top24 == top24)
			return n;
		i = (i + 1) & t->node_mask;
	}
}

static int nodes_grow(struct prefix_table *t)
{
	size_t nmask = t->node_mask ? t->node_mask * 2 + 1 : 63;
	struct v6_node *nn = calloc(nmask + 1, sizeof(*nn));
	if (!nn)
		return -1;
	struct v6_node *old = t->nodes;
	size_t omask = t->node_mask;
	t->nodes = nn;
	t->node_mask = nmask;
	for (size_t i = 0; old && i <= omask; i++) {
		if (!old[i].lens_lo && !old[i].lens_hi)
			continue;
		size_t j = node_slot(t, old[i].top24);
		while (nn[j].lens_lo || nn[j].lens_hi)
			j = (j + 1) & nmask;
		nn[j] = old[i];
	}
	free(old);
	return 0;
}

static int index_v6(struct prefix_table *t, uint64_t hi, unsigned len, uint32_t value)
{
	uint32_t top = (uint32_t)(hi >> 48);
	struct v6_bucket *bk = &t->v6[top];
	if (len > 16)
		bit_set(t->v6_part, top);       /* before any allocation fails: a false "maybe" is safe */
	if (len > 24) {
		uint32_t top24 = (uint32_t)(hi >> 40);
		struct v6_node *n = (struct v6_node *)(t->nodes ? find_node(t, top24) : NULL);
		if (!n) {
			if ((t->nnodes + 1) * 2 > t->node_mask + 1 && nodes_grow(t))
				return -1;
			size_t i = node_slot(t, top24);
			while (t->nodes[i].lens_lo || t->nodes[i].lens_hi)
				i = (i + 1) & t->node_mask;
			n = &t->nodes[i];
			n->top24 = top24;
			t->nnodes++;
		}
		if (len > 88)
			n->lens_hi |= 1ULL << (len - 89);
		else
			n->lens_lo |= 1ULL << (len - 25);
		bk->deep = 1;
		return 0;
	}
	if (len > 16) {
		if (!bk->mid) {
			if (t->nmids == t->mids_cap) {
				uint32_t ncap = t->mids_cap ? t->mids_cap * 2 : 4;
				struct v6_mid *nm = realloc(t->mids, (size_t)ncap * 256 * sizeof(*nm));
				if (!nm)
					return -1;
				t->mids = nm;
				t->mids_cap = ncap;
			}
			memset(&t->mids[(size_t)t->nmids * 256], 0, 256 * sizeof(*t->mids));
			bk->mid = ++t->nmids;
		}
		struct v6_mid *m = &t->mids[(size_t)(bk->mid - 1) * 256];
		uint32_t sub = (uint32_t)(hi >> 40) & 0xff;
		uint32_t first = sub & ~((1u << (24 - len)) - 1), n = 1u << (24 - len);
		for (uint32_t j = first; j < first + n; j++) {
			if (m[j].len <= len + 1) {
				m[j].len = len + 1;
				m[j].value = value;
			}
		}
		return 0;
	}
	uint32_t first = len == 0 ? 0 : top & ~((1u << (16 - len)) - 1);
	uint32_t n = 1u << (16 - len);
	for (uint32_t b = first; b < first + n; b++) {
		bit_set(t->v6_full, b);
		if (t->v6[b].short_len <= len + 1) {
			t->v6[b].short_len = (uint8_t)(len + 1);
			t->v6[b].short_value = value;
		}
	}
	return 0;
}

int prefix_table_add(struct prefix_table *t, const ew_addr *addr, unsigned plen, uint32_t value)
{
	if (plen > 128)
		return -1;
	ew_addr a = *addr;
	addr_mask(&a, plen);
	uint64_t hi = rd_be64(a.b), lo = rd_be64(a.b + 8);

	/* Where the prefix lives in the index decides which buckets need
	 * allocating, so allocate before touching the hash table. */
	bool in_v4 = plen > 96 && addr_is_v4(&a);
	if (in_v4 && !t->v4 && !(t->v4 = calloc(BUCKETS, sizeof(*t->v4))))
		return -1;
	if (!in_v4 && !t->v6 && !(t->v6 = calloc(BUCKETS, sizeof(*t->v6))))
		return -1;

	struct entry *e = (struct entry *)find(t, hash_of(t, hi, lo, plen), hi, lo, plen);
	if (!e) {
		if ((t->count + 1) * 2 > t->mask + 1 && grow(t))
			return -1;
		uint64_t h = hash_of(t, hi, lo, plen);
		t->bloom[h & t->bloom_mask] |= bloom_bits(h);
		size_t i = (size_t)(h >> 8) & t->mask;
		while (t->slots[i].used)
			i = (i + 1) & t->mask;
		e = &t->slots[i];
		e->hi = hi;
		e->lo = lo;
		e->plen = (uint8_t)plen;
		e->used = 1;
		t->count++;
	}
	e->value = value;

	if (in_v4) {
		index_v4(t, (uint32_t)lo, plen - 96, value);
		return 0;
	}
	if (index_v6(t, hi, plen, value))
		return -1;
	if (plen == 96 && addr_is_v4(&a)) { /* IPv4 /0 */
		t->v4_fallback_len = 97;
		t->v4_fallback = value;
	}
	return 0;
}

static bool lookup_v4(const struct prefix_table *t, uint32_t v4, uint32_t *value)
{
	if (t->v4) {
		const struct v4_bucket *b = &t->v4[v4 >> 16];
		unsigned lens = b->long_lens;
		while (lens) {
			unsigned bit = 31 - (unsigned)__builtin_clz(lens);
			unsigned len = bit + 17;
			uint64_t lo = (0xffffULL << 32) | (v4 & (~0u << (32 - len)));
			const struct entry *e = probe(t, 0, lo, len + 96);
			if (e) {
				*value = e->value;
				return true;
			}
			lens &= ~(1u << bit);
		}
		if (b->short_len) {
			*value = b->short_value;
			return true;
		}
	}
	if (t->v4_fallback_len) {
		*value = t->v4_fallback;
		return true;
	}
	return false;
}

bool prefix_table_lookup(const struct prefix_table *t, const ew_addr *a, uint32_t *value)
{
	uint64_t hi = rd_be64(a->b), lo = rd_be64(a->b + 8);
	if (hi == 0 && (lo >> 32) == 0xffff)
		return lookup_v4(t, (uint32_t)lo, value);
	if (!t->v6)
		return false;
	const struct v6_bucket *b = &t->v6[hi >> 48];
	if (b->deep) {
		const struct v6_node *n = find_node(t, (uint32_t)(hi >> 40));
		uint64_t lens_hi = n ? n->lens_hi : 0, lens_lo = n ? n->lens_lo : 0;
		while (lens_hi) {
			unsigned bit = 63 - (unsigned)__builtin_clzll(lens_hi);
			unsigned len = 89 + bit;
			const struct entry *e = probe(t, hi, keep64(lo, len - 64), len);
			if (e) {
				*value = e->value;
				return true;
			}
			lens_hi &= ~(1ULL << bit);
		}
		while (lens_lo) {
			unsigned bit = 63 - (unsigned)__builtin_clzll(lens_lo);
			unsigned len = 25 + bit;
			const struct entry *e = len > 64 ? probe(t, hi, keep64(lo, len - 64), len)
							 : probe(t, keep64(hi, len), 0, len);
			if (e) {
				*value = e->value;
				return true;
			}
			lens_lo &= ~(1ULL << bit);
		}
	}
	if (b->mid) {
		const struct v6_mid *m = &t->mids[(size_t)(b->mid - 1) * 256 + ((hi >> 40) & 0xff)];
		if (m->len) {
			*value = m->value;
			return true;
		}
	}
	if (b->short_len) {
		*value = b->short_value;
		return true;
	}
	return false;
}

/* The lookup behind prefix_table_contains, out of line so that the bitmap
 * test, all that most packets need, stays small enough to inline. */
static __attribute__((noinline)) bool contains_lookup(const struct prefix_table *t,
						       const ew_addr *a)
{
	uint32_t v;
	return prefix_table_lookup(t, a, &v);
}

bool prefix_table_contains(const struct prefix_table *t, const ew_addr *a)
{
	uint64_t hi = rd_be64(a->b), lo = rd_be64(a->b + 8);
	if (hi == 0 && (lo >> 32) == 0xffff) {
		uint32_t b = (uint32_t)lo >> 16;
		if (t->v4_fallback_len || bit_get(t->v4_full, b))
			return true;
		return bit_get(t->v4_part, b) && contains_lookup(t, a);
	}
	uint32_t b = (uint32_t)(hi >> 48);
	if (bit_get(t->v6_full, b))
		return true;
	return bit_get(t->v6_part, b) && contains_lookup(t, a);
}
