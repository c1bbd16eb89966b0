/*
 * Unit tests for prefix_table: longest-prefix match against a brute-force
 * reference over thousands of random, overlapping IPv4/IPv6 prefixes, plus
 * the edges (/0, /128, IPv4 vs. prefixes of /96 or less, replacement).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "prefix_table.h"
#include "test.h"
#include "banned.h"

struct ref_prefix {
	ew_addr a;
	unsigned plen;
	uint32_t value;
};

static bool covers(const struct ref_prefix *p, const ew_addr *a)
{
	ew_addr m = *a;
	addr_mask(&m, p->plen);
	return addr_eq(&m, &p->a);
}

/* The longest covering prefix; for equal prefixes the last added wins. */
static bool ref_lookup(const struct ref_prefix *ps, size_t n, const ew_addr *a, uint32_t *v)
{
	int best = -1;
	for (size_t i = 0; i < n; i++)
		if (covers(&ps[i], a) && (ps[i].plen >= 96 || !addr_is_v4(a)) &&
		    (best < 0 || ps[i].plen >= ps[best].plen))
			best = (int)i;
	if (best < 0)
		return false;
	*v = ps[best].value;
	return true;
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void add_cidr(struct prefix_table *t, const char *s, uint32_t v)
{
	ew_addr a;
	unsigned plen;
	CHECK(addr_parse_cidr(s, &a, &plen) == 0);
	CHECK(prefix_table_add(t, &a, plen, v) == 0);
}

static uint32_t lookup_s(const struct prefix_table *t, const char *s)
{
	ew_addr a;
	uint32_t v = 0;
	if (addr_parse(s, &a))
		return 0xdeadbeef;
	if (!prefix_table_lookup(t, &a, &v))
		return 0;
	return v;
}

static void test_basic_and_edges(void)
{
	struct prefix_table *t = prefix_table_new();
	CHECK(lookup_s(t, "10.1.2.3") == 0);
	CHECK(lookup_s(t, "2001:db8::1") == 0);
	add_cidr(t, "10.0.0.0/8", 1);
	add_cidr(t, "10.1.0.0/16", 2);
	add_cidr(t, "10.1.2.0/24", 3);
	add_cidr(t, "10.1.2.3/32", 4);
	add_cidr(t, "2001:db8::/32", 5);
	add_cidr(t, "2001:db8::1/128", 6);
	CHECK_EQ_U64(lookup_s(t, "10.1.2.3"), 4);
	CHECK_EQ_U64(lookup_s(t, "10.1.2.4"), 3);
	CHECK_EQ_U64(lookup_s(t, "10.1.3.4"), 2);
	CHECK_EQ_U64(lookup_s(t, "10.2.3.4"), 1);
	CHECK_EQ_U64(lookup_s(t, "11.0.0.0"), 0);
	CHECK_EQ_U64(lookup_s(t, "2001:db8::1"), 6);
	CHECK_EQ_U64(lookup_s(t, "2001:db8::2"), 5);
	CHECK_EQ_U64(lookup_s(t, "2001:db9::1"), 0);
	CHECK_EQ_U64(prefix_table_count(t), 6);

	/* Replacement keeps the count and changes the value. */
	add_cidr(t, "10.1.2.0/24", 33);
	CHECK_EQ_U64(prefix_table_count(t), 6);
	CHECK_EQ_U64(lookup_s(t, "10.1.2.4"), 33);
	add_cidr(t, "10.1.0.0/16", 22); /* the same prefix again: replaces */
	CHECK_EQ_U64(prefix_table_count(t), 6);
	CHECK_EQ_U64(lookup_s(t, "10.1.3.4"), 22);

	/* IPv4 /0 is /96: it covers all of IPv4 and no IPv6. */
	add_cidr(t, "0.0.0.0/0", 7);
	CHECK_EQ_U64(lookup_s(t, "11.0.0.0"), 7);
	CHECK_EQ_U64(lookup_s(t, "2001:db9::1"), 0);
	/* ::/0 covers all of IPv6, but loses to anything longer. */
	add_cidr(t, "::/0", 8);
	CHECK_EQ_U64(lookup_s(t, "2001:db9::1"), 8);
	CHECK_EQ_U64(lookup_s(t, "11.0.0.0"), 7);
	CHECK_EQ_U64(lookup_s(t, "10.2.3.4"), 1);
	CHECK_EQ_U64(prefix_table_count(t), 8);
	/* Replacement of prefixes held outside the hash probes: IPv4 /0 (the
	 * all-IPv4 fallback), ::/0 and a /12 (expanded into /16 buckets). */
	add_cidr(t, "0.0.0.0/0", 70);
	add_cidr(t, "::/0", 80);
	add_cidr(t, "172.16.0.0/12", 9);
	add_cidr(t, "172.16.0.0/12", 90);
	add_cidr(t, "fc00::/7", 10);
	add_cidr(t, "fc00::/7", 100);
	CHECK_EQ_U64(lookup_s(t, "11.0.0.0"), 70);
	CHECK_EQ_U64(lookup_s(t, "2001:db9::1"), 80);
	CHECK_EQ_U64(lookup_s(t, "172.31.255.255"), 90);
	CHECK_EQ_U64(lookup_s(t, "172.32.0.0"), 70);
	CHECK_EQ_U64(lookup_s(t, "fdff:1::1"), 100);
	CHECK_EQ_U64(prefix_table_count(t), 10);
	prefix_table_free(t);

	/* IPv6 at each layer of the index: /16 and shorter (expanded over /16
	 * buckets), /17../24 (expanded over /24s), /25 and longer (probed). */
	t = prefix_table_new();
	add_cidr(t, "2000::/3", 1);
	add_cidr(t, "2001:1000::/20", 2);
	add_cidr(t, "2001:1d00::/24", 3);
	add_cidr(t, "2001::/18", 4);       /* shorter than the /20: must not win under it */
	add_cidr(t, "2001:1db8:8000::/33", 5);
	add_cidr(t, "2001:1db8:8000::1/128", 6);
	CHECK_EQ_U64(lookup_s(t, "2001:1db8:8000::1"), 6);
	CHECK_EQ_U64(lookup_s(t, "2001:1db8:8000::2"), 5);
	CHECK_EQ_U64(lookup_s(t, "2001:1db8:7fff::2"), 3);
	CHECK_EQ_U64(lookup_s(t, "2001:1e99::1"), 2);
	CHECK_EQ_U64(lookup_s(t, "2001:2c99::1"), 4);
	CHECK_EQ_U64(lookup_s(t, "2001:f00::1"), 4);
	CHECK_EQ_U64(lookup_s(t, "2001:4000::1"), 1);
	CHECK_EQ_U64(lookup_s(t, "3fff::1"), 1);
	CHECK_EQ_U64(lookup_s(t, "4000::1"), 0);
	add_cidr(t, "2001:1000::/20", 22); /* replace an expanded value */
	CHECK_EQ_U64(lookup_s(t, "2001:1e99::1"), 22);
	CHECK_EQ_U64(lookup_s(t, "2001:1db8:7fff::2"), 3);
	CHECK_EQ_U64(prefix_table_count(t), 6);
	prefix_table_free(t);

	/* IPv6 prefixes shorter than /96 cover mapped space in the arithmetic,
	 * but mean IPv6 addresses: no IPv4 address falls under them. */
	t = prefix_table_new();
	add_cidr(t, "::/0", 5);
	add_cidr(t, "::/64", 1);
	add_cidr(t, "::fffe:0:0/95", 3);
	CHECK_EQ_U64(lookup_s(t, "1.2.3.4"), 0);
	CHECK(!prefix_table_contains(t, &(ew_addr){{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}}));
	CHECK_EQ_U64(lookup_s(t, "::1"), 1);
	CHECK_EQ_U64(lookup_s(t, "::fffe:1:1"), 3);
	CHECK_EQ_U64(lookup_s(t, "2001:db8::1"), 5);
	add_cidr(t, "::ffff:0:0/96", 2); /* IPv4 /0 written as IPv6: it does */
	CHECK_EQ_U64(lookup_s(t, "1.2.3.4"), 2);
	add_cidr(t, "1.2.3.4/31", 4);
	CHECK_EQ_U64(lookup_s(t, "1.2.3.5"), 4);
	CHECK_EQ_U64(lookup_s(t, "1.2.3.6"), 2);
	prefix_table_free(t);
	prefix_table_free(NULL);
}

static void random_prefix(struct ref_prefix *p, const ew_addr *bases, size_t nbases)
{
	/* Mostly derived from a few bases so that prefixes nest and overlap. */
	ew_addr a = bases[rnd() % nbases];
	unsigned flips = (unsigned)(rnd() % 3);
	for (unsigned i = 0; i < flips; i++)
		a.b[8 + rnd() % 8] ^= (uint8_t)(1u << (rnd() % 8));
	unsigned plen;
	if (addr_is_v4(&a)) {
		/* Occasionally a prefix shorter than /96: IPv6, covering no IPv4. */
		plen = rnd() % 50 ? 96 + (unsigned)(rnd() % 33) : (unsigned)(rnd() % 97);
	} else {
		for (unsigned i = 0; i < flips; i++)
			a.b[rnd() % 8] ^= (uint8_t)(1u << (rnd() % 8));
		plen = (unsigned)(rnd() % 129);
	}
	addr_mask(&a, plen);
	p->a = a;
	p->plen = plen;
	p->value = (uint32_t)rnd();
}

static void random_addr(ew_addr *a, const struct ref_prefix *ps, size_t n, const ew_addr *bases,
			size_t nbases)
{
	uint64_t r = rnd() % 4;
	if (r == 0) {
		for (int i = 0; i < 16; i++)
			a->b[i] = (uint8_t)rnd();
		if (rnd() % 2) {
			uint8_t v4[4] = {(uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd()};
			addr_from_v4(a, v4);
		}
		return;
	}
	if (r == 1) {
		*a = bases[rnd() % nbases];
		a->b[15] ^= (uint8_t)rnd();
		return;
	}
	/* Inside a known prefix, with random host bits. */
	const struct ref_prefix *p = &ps[rnd() % n];
	*a = p->a;
	for (unsigned bit = p->plen; bit < 128; bit++)
		if (rnd() & 1)
			a->b[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

static void test_random_against_reference(void)
{
	enum { NBASES = 24, NPREFIX = 3000, NLOOKUP = 30000 };
	ew_addr bases[NBASES];
	for (int i = 0; i < NBASES; i++) {
		for (int j = 0; j < 16; j++)
			bases[i].b[j] = (uint8_t)rnd();
		if (i % 2 == 0) {
			uint8_t v4[4] = {(uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd()};
			if (i % 4 == 0)
				v4[0] = 10;
			addr_from_v4(&bases[i], v4);
		}
	}
	bases[1].b[0] = 0; /* one IPv6 base near :: and mapped space */
	bases[1].b[1] = 0;

	struct ref_prefix *ps = calloc(NPREFIX + 1, sizeof(*ps));
	struct prefix_table *t = prefix_table_new();
	size_t n = 0;
	for (int i = 0; i < NPREFIX; i++) {
		if (i > 0 && rnd() % 20 == 0) {
			ps[n] = ps[rnd() % n]; /* re-add an existing prefix: replaces */
			ps[n].value = (uint32_t)rnd();
		} else {
			random_prefix(&ps[n], bases, NBASES);
		}
		CHECK(prefix_table_add(t, &ps[n].a, ps[n].plen, ps[n].value) == 0);
		n++;
		/* Check as the table grows, not only at the end. */
		if (i % 500 == 499 || i < 20) {
			for (int k = 0; k < 300; k++) {
				ew_addr a;
				random_addr(&a, ps, n, bases, NBASES);
				uint32_t want = 0, got = 0;
				bool wf = ref_lookup(ps, n, &a, &want);
				bool gf = prefix_table_lookup(t, &a, &got);
				CHECK(wf == gf);
				CHECK(prefix_table_contains(t, &a) == wf);
				CHECK_EQ_U64(got, wf ? want : 0);
			}
		}
	}
	/* Distinct prefixes: count by brute force. */
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++) {
		bool dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = ps[j].plen == ps[i].plen && addr_eq(&ps[j].a, &ps[i].a);
		distinct += !dup;
	}
	CHECK_EQ_U64(prefix_table_count(t), distinct);

	unsigned found = 0, mismatches = 0;
	for (int k = 0; k < NLOOKUP; k++) {
		ew_addr a;
		random_addr(&a, ps, n, bases, NBASES);
		uint32_t want = 0, got = 0;
		bool wf = ref_lookup(ps, n, &a, &want);
		bool gf = prefix_table_lookup(t, &a, &got);
		found += wf;
		if (wf != gf || (wf && want != got) || prefix_table_contains(t, &a) != wf)
			mismatches++;
	}
	CHECK_EQ_U64(mismatches, 0);
	CHECK(found > NLOOKUP / 2); /* the test exercised matches, not just misses */
	prefix_table_free(t);
	free(ps);
}

static void test_host_routes_v4_v6(void)
{
	/* Every /32 and /128 of a dense block, as an identity map holds hosts. */
	struct prefix_table *t = prefix_table_new();
	for (uint32_t i = 0; i < 20000; i++) {
		uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		ew_addr a;
		addr_from_v4(&a, v4);
		CHECK(prefix_table_add(t, &a, 128, i + 1) == 0);
		addr_parse("2001:db8::", &a);
		a.b[14] = (uint8_t)(i >> 8);
		a.b[15] = (uint8_t)i;
		CHECK(prefix_table_add(t, &a, 128, 100000 + i) == 0);
	}
	CHECK_EQ_U64(prefix_table_count(t), 40000);
	unsigned bad = 0;
	for (uint32_t i = 0; i < 20000; i++) {
		uint8_t v4[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		ew_addr a;
		uint32_t v = 0;
		addr_from_v4(&a, v4);
		bad += !prefix_table_lookup(t, &a, &v) || v != i + 1;
		addr_parse("2001:db8::", &a);
		a.b[14] = (uint8_t)(i >> 8);
		a.b[15] = (uint8_t)i;
		bad += !prefix_table_lookup(t, &a, &v) || v != 100000 + i;
	}
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(lookup_s(t, "10.0.78.32"), 0); /* 20000 = 0x4e20: one past */
	CHECK_EQ_U64(lookup_s(t, "2001:db8::1:0"), 0);
	prefix_table_free(t);
}

/* Small tables (the internal networks are a handful of prefixes): many of
 * them against the reference, checked after every add, re-adds included. */
static void test_small_tables(void)
{
	enum { NBASES = 6 };
	ew_addr bases[NBASES];
	for (int i = 0; i < NBASES; i++) {
		for (int j = 0; j < 16; j++)
			bases[i].b[j] = (uint8_t)rnd();
		if (i % 2 == 0) {
			uint8_t v4[4] = {10, (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd()};
			addr_from_v4(&bases[i], v4);
		}
	}
	unsigned mismatches = 0, found = 0, lookups = 0;
	for (int round = 0; round < 400; round++) {
		struct ref_prefix ps[12];
		struct prefix_table *t = prefix_table_new();
		size_t n = 1 + rnd() % 11;
		for (size_t i = 0; i < n; i++) {
			if (i > 0 && rnd() % 4 == 0) {
				ps[i] = ps[rnd() % i];
				ps[i].value = (uint32_t)rnd();
			} else {
				random_prefix(&ps[i], bases, NBASES);
			}
			CHECK(prefix_table_add(t, &ps[i].a, ps[i].plen, ps[i].value) == 0);
			for (int k = 0; k < 50; k++) {
				ew_addr a;
				random_addr(&a, ps, i + 1, bases, NBASES);
				uint32_t want = 0, got = 0;
				bool wf = ref_lookup(ps, i + 1, &a, &want);
				bool gf = prefix_table_lookup(t, &a, &got);
				found += wf;
				lookups++;
				if (wf != gf || (wf && want != got) || prefix_table_contains(t, &a) != wf)
					mismatches++;
			}
		}
		prefix_table_free(t);
	}
	CHECK_EQ_U64(mismatches, 0);
	CHECK(found > lookups / 4);
}

TEST_MAIN(test_basic_and_edges, test_random_against_reference, test_host_routes_v4_v6,
	  test_small_tables)
