/*
 * detect_novelty: new destinations per identity and per organisation (see
 * detect_novelty.h).
 *
 * Invariants: an identity's table holds at most K entries, the org's at
 * most 3/4 of its capacity (open addressing stays short); a prefix is in a
 * Bloom filter only after it graduated, so a Bloom false positive can make
 * a new prefix look known (a missed novelty, ~4% at 300 prefixes per
 * identity), never the reverse.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detect_novelty.h"
#include "banned.h"

#define RECENT_TAU 3600.0
#define ORG_FLAGGED_KEEP (30u * 86400u)

void detect_prefix(const ew_addr *a, unsigned v4len, unsigned v6len, ew_addr *out, uint8_t *plen)
{
	unsigned len = addr_is_v4(a) ? 96 + (v4len > 32 ? 32 : v4len) : (v6len > 128 ? 128 : v6len);
	*out = *a;
	for (unsigned i = 0; i < 16; i++) {
		unsigned bit = i * 8;
		if (bit >= len)
			out->b[i] = 0;
		else if (bit + 8 > len)
			out->b[i] &= (uint8_t)(0xff << (8 - (len - bit)));
	}
	*plen = (uint8_t)len;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/*
 * Keyed: the key is the collector's random seed, so a sender cannot pick
 * prefixes that collide in the org table or the Bloom filters of a run it
 * cannot observe. (common/hash.h's SipHash can replace this once it lands.)
 */
uint64_t detect_prefix_hash(const uint64_t key[2], const ew_addr *prefix, uint8_t plen)
{
	uint64_t w0, w1;
	memcpy(&w0, prefix->b, 8);
	memcpy(&w1, prefix->b + 8, 8);
	uint64_t h = mix(w0 ^ key[0]);
	h = mix(h ^ w1 ^ key[1]);
	return mix(h ^ plen ^ (key[0] << 7));
}

static void bloom_add(uint64_t *bits, size_t nbits, uint64_t h)
{
	uint64_t h2 = (h >> 32) | 1;
	for (unsigned i = 0; i < 3; i++) {
		size_t b = (size_t)((h + i * h2) % nbits);
		bits[b / 64] |= 1ULL << (b % 64);
	}
}

static bool bloom_has(const uint64_t *bits, size_t nbits, uint64_t h)
{
	uint64_t h2 = (h >> 32) | 1;
	for (unsigned i = 0; i < 3; i++) {
		size_t b = (size_t)((h + i * h2) % nbits);
		if (!(bits[b / 64] & (1ULL << (b % 64))))
			return false;
	}
	return true;
}

void detect_novelty_init(struct detect_novelty *n, uint32_t now)
{
	memset(n, 0, sizeof(*n));
	n->bloom_since = now;
}

bool detect_novelty_known(const struct detect_novelty *n, uint64_t h)
{
	return bloom_has(n->bloom[0], DETECT_ID_BLOOM_BITS, h) ||
	       bloom_has(n->bloom[1], DETECT_ID_BLOOM_BITS, h);
}

/* A prefix still in use is carried into the current epoch, so only unused ones age out. */
static void refresh(uint64_t *cur, const uint64_t *old, size_t nbits, uint64_t h)
{
	if (!bloom_has(cur, nbits, h) && bloom_has(old, nbits, h))
		bloom_add(cur, nbits, h);
}

double detect_dest_recent(const struct detect_dest *d, uint32_t now)
{
	double dt = now > d->last_seen ? (double)(now - d->last_seen) : 0;
	return d->recent * exp(-dt / RECENT_TAU);
}

static void count_new(struct detect_novelty *n, const struct detect_dest *d, double bytes)
{
	if (!(d->flags & DETECT_DEST_NEW))
		return;
	if (d->flags & DETECT_DEST_ORG_NEW)
		n->new_org_bytes += (float)bytes;
	else
		n->new_id_bytes += (float)bytes;
}

/* The slot to reuse when the table is full: the LRU known entry, else the smallest new one. */
static size_t victim(const struct detect_dest *tab, size_t K)
{
	size_t best = K, small = 0;
	for (size_t i = 0; i < K; i++) {
		if (!(tab[i].flags & DETECT_DEST_NEW)) {
			if (best == K || tab[i].last_seen < tab[best].last_seen)
				best = i;
		} else if (tab[i].new_bytes < tab[small].new_bytes ||
			   !(tab[small].flags & DETECT_DEST_NEW)) {
			small = i;
		}
	}
	return best < K ? best : small;
}

struct detect_dest *detect_novelty_observe(struct detect_novelty *n, struct detect_dest *tab, size_t K,
					   const ew_addr *prefix, uint8_t plen, uint64_t h, bool org_new,
					   double bytes, uint32_t now)
{
	if (!(bytes >= 0) || !isfinite(bytes))
		bytes = 0;
	for (size_t i = 0; i < n->ndests; i++) {
		struct detect_dest *d = &tab[i];
		if (d->plen == plen && addr_eq(&d->prefix, prefix)) {
			d->recent = (float)(detect_dest_recent(d, now) + bytes);
			if (now > d->last_seen)
				d->last_seen = now;
			if (d->flags & DETECT_DEST_NEW) {
				d->new_bytes += (float)bytes;
				count_new(n, d, bytes);
			}
			return d;
		}
	}
	size_t slot;
	if (n->ndests < K) {
		slot = n->ndests++;
	} else {
		slot = victim(tab, K);
		struct detect_dest *v = &tab[slot];
		if (v->flags & DETECT_DEST_NEW) {
			/* Its bytes keep counting until the window passes. */
			if (v->flags & DETECT_DEST_ORG_NEW)
				n->evicted_org += v->new_bytes;
			else
				n->evicted_id += v->new_bytes;
			n->evicted_at = now;
		}
		n->evictions++;
	}
	struct detect_dest *d = &tab[slot];
	memset(d, 0, sizeof(*d));
	d->prefix = *prefix;
	d->plen = plen;
	d->first_seen = d->last_seen = now;
	d->recent = (float)bytes;
	/* The identity's own memory wins: it may know a prefix the org has not graduated yet. */
	if (!detect_novelty_known(n, h)) {
		d->flags = DETECT_DEST_NEW | (org_new ? DETECT_DEST_ORG_NEW : 0);
		d->new_bytes = (float)bytes;
		count_new(n, d, bytes);
	}
	return d;
}

void detect_novelty_sweep(struct detect_novelty *n, struct detect_dest *tab, size_t K,
			  const struct detect_org *org, const uint64_t key[2], uint32_t now, uint32_t window,
			  uint32_t rotate_s)
{
	if (n->ndests > K)
		n->ndests = (uint32_t)K;
	if (rotate_s && now >= n->bloom_since + rotate_s) {
		memcpy(n->bloom[1], n->bloom[0], sizeof(n->bloom[0]));
		memset(n->bloom[0], 0, sizeof(n->bloom[0]));
		n->bloom_since = now;
	}
	if (n->evicted_at && now >= n->evicted_at + window) {
		n->evicted_id = n->evicted_org = 0;
		n->evicted_at = 0;
	}
	n->new_id_bytes = n->evicted_id;
	n->new_org_bytes = n->evicted_org;
	for (size_t i = 0; i < n->ndests; i++) {
		struct detect_dest *d = &tab[i];
		uint64_t h = detect_prefix_hash(key, &d->prefix, d->plen);
		if ((d->flags & DETECT_DEST_NEW) && !(d->flags & DETECT_DEST_FLAGGED) &&
		    now >= d->first_seen + window) {
			d->flags &= (uint8_t)~(DETECT_DEST_NEW | DETECT_DEST_ORG_NEW);
			d->new_bytes = 0;
		}
		if ((d->flags & DETECT_DEST_ORG_NEW) && org && !(d->flags & DETECT_DEST_FLAGGED) &&
		    !detect_org_is_new(org, h))
			d->flags &= (uint8_t)~DETECT_DEST_ORG_NEW;
		if (!(d->flags & DETECT_DEST_NEW))
			bloom_add(n->bloom[0], DETECT_ID_BLOOM_BITS, h); /* refreshes the epoch too */
		else
			count_new(n, d, d->new_bytes);
	}
}

void detect_novelty_flag(struct detect_dest *tab, size_t K)
{
	for (size_t i = 0; i < K; i++)
		if (tab[i].flags & DETECT_DEST_NEW)
			tab[i].flags |= DETECT_DEST_FLAGGED;
}

/* ---- organisation ---- */

static size_t pow2_at_least(size_t n)
{
	size_t p = 64;
	while (p < n && p < ((size_t)1 << 30))
		p <<= 1;
	return p;
}

int detect_org_init(struct detect_org *o, size_t cap, size_t nbits, const uint64_t key[2], uint32_t now)
{
	memset(o, 0, sizeof(*o));
	o->cap = pow2_at_least(cap);
	o->nbits = pow2_at_least(nbits);
	o->tab = calloc(o->cap, sizeof(*o->tab));
	o->scratch = calloc(o->cap, sizeof(*o->scratch));
	o->bloom = calloc(2 * o->nbits / 64, sizeof(uint64_t));
	if (!o->tab || !o->scratch || !o->bloom) {
		detect_org_release(o);
		return -1;
	}
	o->key[0] = key[0];
	o->key[1] = key[1];
	o->bloom_since = now;
	return 0;
}

void detect_org_release(struct detect_org *o)
{
	free(o->tab);
	free(o->scratch);
	free(o->bloom);
	memset(o, 0, sizeof(*o));
}

bool detect_org_is_new(const struct detect_org *o, uint64_t h)
{
	return !bloom_has(o->bloom, o->nbits, h) && !bloom_has(o->bloom + o->nbits / 64, o->nbits, h);
}

/* Empty slots have plen 0 (a real prefix has plen >= 1 after grouping). */
static size_t probe(const struct detect_org_dest *tab, size_t cap, const ew_addr *prefix, uint8_t plen,
		    uint64_t h)
{
	size_t i = (size_t)(h & (cap - 1));
	for (;;) {
		const struct detect_org_dest *e = &tab[i];
		if (e->plen == 0 || (e->plen == plen && addr_eq(&e->prefix, prefix)))
			return i;
		i = (i + 1) & (cap - 1);
	}
}

struct detect_org_dest *detect_org_find(const struct detect_org *o, const ew_addr *prefix, uint8_t plen,
					uint64_t h)
{
	if (!o->tab || plen == 0)
		return NULL;
	struct detect_org_dest *e = &o->tab[probe(o->tab, o->cap, prefix, plen, h)];
	return e->plen ? e : NULL;
}

void detect_org_learn(struct detect_org *o, uint64_t h)
{
	if (o->tab)
		bloom_add(o->bloom, o->nbits, h);
}

struct detect_org_dest *detect_org_observe(struct detect_org *o, const ew_addr *prefix, uint8_t plen,
					   uint64_t h, uint32_t id, double bytes, uint32_t now, bool *is_new)
{
	*is_new = false;
	if (!o->tab || plen == 0)
		return NULL;
	if (!detect_org_is_new(o, h)) {
		refresh(o->bloom, o->bloom + o->nbits / 64, o->nbits, h);
		return NULL;
	}
	*is_new = true;
	if (!(bytes >= 0) || !isfinite(bytes))
		bytes = 0;
	struct detect_org_dest *e = &o->tab[probe(o->tab, o->cap, prefix, plen, h)];
	if (e->plen == 0) {
		if (o->used + 1 > o->cap / 4 * 3) {
			o->overflow++;
			return NULL;
		}
		o->used++;
		e->prefix = *prefix;
		e->plen = plen;
		e->first_seen = now;
	}
	if (now > e->last_seen)
		e->last_seen = now;
	e->bytes += (float)bytes;
	for (unsigned i = 0; i < e->nids && i < DETECT_FANIN_IDS; i++)
		if (e->ids[i] == id)
			return e;
	if (e->nids < DETECT_FANIN_IDS)
		e->ids[e->nids] = id;
	if (e->nids < 255)
		e->nids++;
	return e;
}

void detect_org_sweep(struct detect_org *o, uint32_t now, uint32_t window, uint32_t rotate_s)
{
	if (!o->tab)
		return;
	size_t words = o->nbits / 64;
	if (rotate_s && now >= o->bloom_since + rotate_s) {
		memcpy(o->bloom + words, o->bloom, words * sizeof(uint64_t));
		memset(o->bloom, 0, words * sizeof(uint64_t));
		o->bloom_since = now;
	}
	/* Rebuild rather than delete in place: linear probing has no cheap delete. */
	memset(o->scratch, 0, o->cap * sizeof(*o->scratch));
	size_t used = 0;
	for (size_t i = 0; i < o->cap; i++) {
		struct detect_org_dest *e = &o->tab[i];
		if (e->plen == 0)
			continue;
		uint64_t h = detect_prefix_hash(o->key, &e->prefix, e->plen);
		if (e->flags & DETECT_DEST_FLAGGED) {
			if (now >= e->last_seen + ORG_FLAGGED_KEEP)
				continue;
		} else if (now >= e->first_seen + window) {
			bloom_add(o->bloom, o->nbits, h);
			continue;
		}
		o->scratch[probe(o->scratch, o->cap, &e->prefix, e->plen, h)] = *e;
		used++;
	}
	struct detect_org_dest *t = o->tab;
	o->tab = o->scratch;
	o->scratch = t;
	o->used = used;
}
