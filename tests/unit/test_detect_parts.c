/*
 * detect parts: the seasonal baseline falls back from slot to hour-of-day
 * to all hours and resists spikes; CUSUM accumulates a small steady excess
 * and forgets noise; destinations group by prefix, graduate only after
 * their window and never when flagged, keep counting when evicted, and
 * age out of the Bloom filters; the org table records fan-in.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect_baseline.h"
#include "detect_drift.h"
#include "detect_novelty.h"
#include "test.h"
#include "banned.h"

#define H0 (1767571200 / 3600)  /* Monday 2026-01-05 00:00 UTC */

static ew_addr v4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
	ew_addr r;
	addr_from_v4(&r, x);
	return r;
}

static void test_how_monday_is_zero(void)
{
	CHECK_EQ_U64(detect_how(H0), 0);
	CHECK_EQ_U64(detect_how(H0 + 13), 13);
	CHECK_EQ_U64(detect_how(H0 + 24 * 6 + 23), 167);
	CHECK_EQ_U64(detect_how(H0 + 168), 0);
}

static void test_baseline_fallbacks(void)
{
	struct detect_baseline b;
	struct detect_baseline_params p;
	struct detect_expect x;
	detect_baseline_params_default(&p);
	detect_baseline_init(&b);
	CHECK(!detect_baseline_expect_hour(&b, &p, H0, &x));
	CHECK(x.source == DETECT_SRC_NONE);
	/* Three days: hour-of-day pools have 3 samples, Monday's slots 1. */
	for (int h = 0; h < 72; h++)
		detect_baseline_learn_hour(&b, &p, H0 + h, (h % 24) == 10 ? 1000 : 100);
	CHECK(detect_baseline_expect_hour(&b, &p, H0 + 7 * 24 + 10, &x));
	CHECK(x.source == DETECT_SRC_HOD);
	CHECK(fabs(x.mean - 1000) < 1);
	CHECK_EQ_U64(x.samples, 3);
	/* Three weeks: the slot itself. */
	detect_baseline_init(&b);
	for (int h = 0; h < 21 * 24; h++)
		detect_baseline_learn_hour(&b, &p, H0 + h, (h % 168) == 10 ? 5000 : 100);
	CHECK(detect_baseline_expect_hour(&b, &p, H0 + 21 * 24 + 10, &x));
	CHECK(x.source == DETECT_SRC_SLOT);
	CHECK(fabs(x.mean - 5000) < 1);
	CHECK(x.spread >= 500);     /* at least rel_spread x mean */
	/* Tuesday 10:00 did not get Monday's peak. */
	CHECK(detect_baseline_expect_hour(&b, &p, H0 + 22 * 24 + 10, &x));
	CHECK(fabs(x.mean - 100) < 1);
}

static void test_baseline_robust_to_spike(void)
{
	struct detect_baseline b;
	struct detect_baseline_params p;
	struct detect_expect x;
	detect_baseline_params_default(&p);
	detect_baseline_init(&b);
	for (int w = 0; w < 6; w++)
		detect_baseline_learn_hour(&b, &p, H0 + w * 168, 1000 + 50 * (w % 2));
	detect_baseline_learn_hour(&b, &p, H0 + 6 * 168, 1e9);       /* one huge hour */
	CHECK(detect_baseline_expect_hour(&b, &p, H0 + 7 * 168, &x));
	/* Clipped at mean + 4 spreads: it moves the mean by at most alpha x that. */
	CHECK(x.mean < 1000 + 0.25 * 4 * 200 + 50);
	CHECK(x.mean > 1000);
	/* Garbage is ignored. */
	detect_baseline_learn_hour(&b, &p, H0 + 7 * 168, NAN);
	detect_baseline_learn_hour(&b, &p, H0 + 7 * 168, -5);
	CHECK(detect_baseline_expect_hour(&b, &p, H0 + 8 * 168, &x));
	CHECK(isfinite(x.mean) && x.mean > 1000 && x.mean < 1300);
}

static void test_cusum_accumulates_small_excess(void)
{
	struct detect_cusum c;
	detect_cusum_reset(&c);
	/* Noise within +-1 sigma never builds up with k = 1. */
	for (int d = 0; d < 100; d++)
		detect_cusum_step(&c, 100 + ((d % 2) ? 9 : -9), 100, 10, 1.0, (uint32_t)d * 86400);
	CHECK(c.s == 0);
	CHECK_EQ_U64(c.since, 0);
	/* +2.5 sigma a day: 1.5, 3.0, 4.5, 6.0 -> crosses 5 on the fourth day. */
	double s = 0;
	int day = 0;
	while (s < 5 && day < 10)
		s = detect_cusum_step(&c, 125, 100, 10, 1.0, (uint32_t)(200 + day++) * 86400);
	CHECK_EQ_U64(day, 4);
	CHECK_EQ_U64(c.since, 200u * 86400);
	CHECK(fabs(c.excess - 100) < 1e-3);
	CHECK(detect_cusum_step(&c, 100, 100, 0, 1.0, 0) == c.s);     /* sigma 0: ignored */
}

static void test_prefix_grouping(void)
{
	ew_addr a = v4(198, 51, 100, 77), p;
	uint8_t plen;
	detect_prefix(&a, 24, 64, &p, &plen);
	CHECK_EQ_U64(plen, 120);
	CHECK(addr_eq(&p, &(ew_addr){0}) == false);
	ew_addr q = v4(198, 51, 100, 0);
	CHECK(addr_eq(&p, &q));
	ew_addr b = v4(198, 51, 101, 1), pb;
	detect_prefix(&b, 24, 64, &pb, &plen);
	CHECK(!addr_eq(&p, &pb));
	ew_addr six = {{0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}, p6;
	detect_prefix(&six, 24, 64, &p6, &plen);
	CHECK_EQ_U64(plen, 64);
	CHECK(p6.b[7] == 4 && p6.b[8] == 0 && p6.b[15] == 0);
}

static void test_novelty_graduates_after_window(void)
{
	uint64_t key[2] = {1, 2};
	struct detect_novelty n;
	struct detect_dest tab[8];
	uint32_t t0 = 1767571200;
	detect_novelty_init(&n, t0);
	ew_addr p = v4(203, 0, 113, 0);
	uint64_t h = detect_prefix_hash(key, &p, 120);
	struct detect_dest *d = detect_novelty_observe(&n, tab, 8, &p, 120, h, false, 5e8, t0);
	CHECK(d->flags & DETECT_DEST_NEW);
	detect_novelty_observe(&n, tab, 8, &p, 120, h, false, 5e8, t0 + 600);
	CHECK(fabs(n.new_id_bytes - 1e9) < 1e3);
	CHECK(n.new_org_bytes == 0);
	detect_novelty_sweep(&n, tab, 8, NULL, key, t0 + 86399, 86400, 0);
	CHECK(tab[0].flags & DETECT_DEST_NEW);
	CHECK(fabs(n.new_id_bytes - 1e9) < 1e3);
	detect_novelty_sweep(&n, tab, 8, NULL, key, t0 + 86400, 86400, 0);
	CHECK(!(tab[0].flags & DETECT_DEST_NEW));
	CHECK(n.new_id_bytes == 0);
	CHECK(detect_novelty_known(&n, h));
	/* Known now: more bytes are not "new". */
	detect_novelty_observe(&n, tab, 8, &p, 120, h, false, 5e9, t0 + 90000);
	CHECK(n.new_id_bytes == 0);
}

static void test_novelty_flagged_never_graduates(void)
{
	uint64_t key[2] = {1, 2};
	struct detect_novelty n;
	struct detect_dest tab[8];
	uint32_t t0 = 1767571200;
	detect_novelty_init(&n, t0);
	ew_addr p = v4(185, 220, 101, 9), g;
	uint8_t plen;
	detect_prefix(&p, 24, 64, &g, &plen);
	uint64_t h = detect_prefix_hash(key, &g, plen);
	detect_novelty_observe(&n, tab, 8, &g, plen, h, true, 3e8, t0);
	CHECK(fabs(n.new_org_bytes - 3e8) < 1e3);
	detect_novelty_flag(tab, n.ndests);
	detect_novelty_sweep(&n, tab, 8, NULL, key, t0 + 10 * 86400, 86400, 0);
	CHECK(tab[0].flags & DETECT_DEST_NEW);
	CHECK(!detect_novelty_known(&n, h));
	CHECK(fabs(n.new_org_bytes - 3e8) < 1e3);
}

static void test_novelty_eviction_keeps_counting(void)
{
	uint64_t key[2] = {3, 4};
	struct detect_novelty n;
	struct detect_dest tab[4];
	uint32_t t0 = 1767571200;
	detect_novelty_init(&n, t0);
	/* One big new prefix, then a spray of small ones to push it out. */
	ew_addr big = v4(185, 220, 101, 0);
	detect_novelty_observe(&n, tab, 4, &big, 120, detect_prefix_hash(key, &big, 120), false, 2e9, t0);
	for (unsigned i = 0; i < 20; i++) {
		ew_addr s = v4(45, 1, i, 0);
		detect_novelty_observe(&n, tab, 4, &s, 120, detect_prefix_hash(key, &s, 120), false, 1e3, t0 + i);
	}
	CHECK_EQ_U64(n.ndests, 4);
	CHECK(n.evictions >= 16);
	detect_novelty_sweep(&n, tab, 4, NULL, key, t0 + 3600, 86400, 0);
	CHECK(n.new_id_bytes >= 2e9);       /* the spray did not hide the 2 GB */
	detect_novelty_sweep(&n, tab, 4, NULL, key, t0 + 2 * 86400, 86400, 0);
	CHECK(n.new_id_bytes < 1e6);        /* but it ages out with its window */
}

static void test_novelty_bloom_rotation_forgets_unused(void)
{
	uint64_t key[2] = {5, 6};
	struct detect_novelty n;
	struct detect_dest tab[4];
	uint32_t t0 = 1767571200, rot = 28 * 86400;
	detect_novelty_init(&n, t0);
	ew_addr p = v4(151, 101, 0, 0);
	uint64_t h = detect_prefix_hash(key, &p, 120);
	detect_novelty_observe(&n, tab, 4, &p, 120, h, false, 1e6, t0);
	detect_novelty_sweep(&n, tab, 4, NULL, key, t0 + 86400, 86400, rot);
	CHECK(detect_novelty_known(&n, h));
	/* Evict it from the table (4 other, newer, known prefixes). */
	for (unsigned i = 0; i < 4; i++) {
		ew_addr s = v4(10, 9, i, 0);
		detect_novelty_observe(&n, tab, 4, &s, 120, detect_prefix_hash(key, &s, 120), false, 1, t0 + 86400 + i);
	}
	detect_novelty_sweep(&n, tab, 4, NULL, key, t0 + 3 * 86400, 86400, rot);
	CHECK(detect_novelty_known(&n, h));                    /* still remembered by the Bloom filter */
	detect_novelty_sweep(&n, tab, 4, NULL, key, t0 + rot + 86400, 86400, rot);
	CHECK(detect_novelty_known(&n, h));                    /* in the previous epoch */
	detect_novelty_sweep(&n, tab, 4, NULL, key, t0 + 2 * rot + 2 * 86400, 86400, rot);
	CHECK(!detect_novelty_known(&n, h));                   /* unused for two epochs: forgotten */
}

static void test_org_fanin_and_graduation(void)
{
	uint64_t key[2] = {7, 8};
	struct detect_org o;
	uint32_t t0 = 1767571200;
	CHECK(detect_org_init(&o, 100, 4096, key, t0) == 0);
	CHECK_EQ_U64(o.cap, 128);
	ew_addr p = v4(185, 220, 103, 0);
	uint64_t h = detect_prefix_hash(key, &p, 120);
	bool is_new;
	struct detect_org_dest *e = NULL;
	for (uint32_t id = 0; id < 10; id++)
		e = detect_org_observe(&o, &p, 120, h, id % 4, 1e8, t0 + id, &is_new);
	CHECK(is_new && e);
	CHECK_EQ_U64(e->nids, 4);
	CHECK(fabs(e->bytes - 1e9) < 1e3);
	CHECK_EQ_U64(e->first_seen, t0);
	detect_org_sweep(&o, t0 + 3 * 86400, 3 * 86400, 0);
	CHECK(!detect_org_is_new(&o, h));
	CHECK(detect_org_find(&o, &p, 120, h) == NULL);
	CHECK(detect_org_observe(&o, &p, 120, h, 1, 5, t0 + 4 * 86400, &is_new) == NULL && !is_new);
	/* A full table refuses and counts, and calls the prefix new. */
	size_t refused_before = o.overflow;
	for (unsigned i = 0; i < 200; i++) {
		ew_addr s = v4(45, 2, i, 0);
		detect_org_observe(&o, &s, 120, detect_prefix_hash(key, &s, 120), 0, 1, t0, &is_new);
		CHECK(is_new);
	}
	CHECK_EQ_U64(o.used, 96);
	CHECK_EQ_U64(o.overflow - refused_before, 104);
	detect_org_release(&o);
	detect_org_release(&o);     /* twice is harmless */
}

TEST_MAIN(test_how_monday_is_zero, test_baseline_fallbacks, test_baseline_robust_to_spike,
	  test_cusum_accumulates_small_excess, test_prefix_grouping, test_novelty_graduates_after_window,
	  test_novelty_flagged_never_graduates, test_novelty_eviction_keeps_counting,
	  test_novelty_bloom_rotation_forgets_unused, test_org_fanin_and_graduation)
