/*
 * Unit tests for pipeline: packets in flight between its steps land in the
 * interval they were captured in, a read of the tables first counts every
 * packet fed so far, and every frame is counted once (decoded in one
 * direction, or undecoded by reason), across many wraps of the ring.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "direction.h"
#include "pipeline.h"
#include "test.h"
#include "banned.h"

static const struct hash_key test_key = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};

/* An Ethernet/IPv4/UDP frame from 10.0.0.<src> to 192.0.2.<dst> whose IP
 * length says ip_len (the frame holds the headers only). */
static size_t frame(uint8_t *f, uint8_t src, uint8_t dst, uint16_t ip_len)
{
	memset(f, 0, 42);
	f[12] = 0x08;                           /* IPv4 */
	uint8_t *ip = f + 14;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[8] = 64;
	ip[9] = 17;                             /* UDP */
	ip[12] = 10, ip[15] = src;
	ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = dst;
	ip[20] = 0x30, ip[21] = 0x39;           /* ports 12345 -> 443 */
	ip[22] = 0x01, ip[23] = 0xbb;
	return 42;
}

#define MAX_REPORTS 16

struct seen {
	size_t n;
	double start[MAX_REPORTS], end[MAX_REPORTS];
	uint64_t out_bytes[MAX_REPORTS], out_packets[MAX_REPORTS], seen[MAX_REPORTS];
};

static void on_flush(void *ctx, struct report *r)
{
	struct seen *s = ctx;
	if (s->n == MAX_REPORTS)
		return;
	s->start[s->n] = r->start;
	s->end[s->n] = r->end;
	for (size_t i = 0; i < r->nids; i++) {
		s->out_bytes[s->n] += r->ids[i].out_bytes;
		s->out_packets[s->n] += r->ids[i].out_packets;
	}
	s->seen[s->n] = r->stats.packets_seen;
	s->n++;
}

/* A pipeline with 10.0.0.0/8 internal whose reports land in *s (emptied);
 * NULL, counted as a failed check, if it cannot be made. */
static struct pipeline *new_pipeline(double interval, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	struct prefix_table *internal;
	char err[128];
	if (direction_parse_internal("10.0.0.0/8", &internal, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		CHECK(!"internal networks");
		return NULL;
	}
	struct pipeline_params pp;
	memset(&pp, 0, sizeof(pp));
	pp.limits = (struct agg_limits){1000, 1000, 1000, 4};
	pp.flush_interval = interval;
	struct pipeline *pl = pipeline_new(&pp, internal, NULL, &test_key, on_flush, s);
	CHECK(pl != NULL);
	return pl;
}

/* Interval k (10 s long) gets k + 1 packets of 100 + k bytes each, the last
 * of them just before the boundary, so whatever is still in flight when the
 * next interval's first packet arrives must be counted in its own report. */
static void test_in_flight_packets_stay_in_their_interval(void)
{
	static struct seen s;
	struct pipeline *pl = new_pipeline(10, &s);
	if (!pl)
		return;
	uint8_t f[64];
	for (int k = 0; k < 6; k++)
		for (int j = 0; j <= k; j++) {
			size_t n = frame(f, (uint8_t)(1 + j % 3), (uint8_t)(1 + j), (uint16_t)(100 + k));
			uint64_t ts = (1000 + 10 * (uint64_t)k) * PIPELINE_NS_PER_S +
				      UINT64_C(9999000000) * (uint64_t)(j + 1) / (uint64_t)(k + 1);
			pipeline_packet(pl, 1, ts, f, (uint32_t)n, 14 + 100 + (uint32_t)k);
		}
	pipeline_finish(pl);
	CHECK_EQ_U64(s.n, 6);
	for (size_t k = 0; k < s.n && k < 6; k++) {
		CHECK(s.start[k] == 1000 + 10.0 * (double)k);
		CHECK_EQ_U64(s.out_packets[k], k + 1);
		CHECK_EQ_U64(s.out_bytes[k], (k + 1) * (100 + k));
		CHECK_EQ_U64(s.seen[k], k + 1);
	}
	pipeline_free(pl);
}

/* pipeline_agg() commits what is in flight: after every packet, the totals
 * are exactly the packets fed so far, across many wraps of the ring. */
static void test_tables_read_after_every_packet(void)
{
	static struct seen s;
	struct pipeline *pl = new_pipeline(0, &s);
	if (!pl)
		return;
	uint8_t f[64];
	uint64_t bytes = 0;
	int bad = 0;
	for (int i = 0; i < 200; i++) {
		uint16_t len = (uint16_t)(60 + i);
		size_t n = frame(f, (uint8_t)(1 + i % 7), (uint8_t)(1 + i % 11), len);
		pipeline_packet(pl, 1, 1000 * PIPELINE_NS_PER_S + (uint64_t)i * 1000000, f, (uint32_t)n,
				14 + len);
		bytes += len;
		/* Every packet early on (in flight: up to twice the depth), then
		 * at irregular points. */
		if (i < 4 * PIPELINE_DEPTH || i % 13 == 0) {
			const struct agg_totals *t = agg_totals(pipeline_agg(pl));
			bad += t->egress.packets != (uint64_t)i + 1 || t->egress.bytes != bytes;
		}
	}
	CHECK_EQ_U64(bad, 0);
	pipeline_finish(pl);
	CHECK_EQ_U64(s.n, 1);
	CHECK_EQ_U64(s.out_packets[0], 200);
	CHECK_EQ_U64(s.out_bytes[0], bytes);
	pipeline_free(pl);
}

/* Undecodable frames between decodable ones are counted once, by reason,
 * and leave the ring's order alone. */
static void test_every_frame_counted_once(void)
{
	static struct seen s;
	struct pipeline *pl = new_pipeline(0, &s);
	if (!pl)
		return;
	uint8_t f[64];
	uint64_t good = 0, bytes = 0;
	for (int i = 0; i < 100; i++) {
		size_t n = frame(f, 1, 2, 200);
		if (i % 3 == 0)
			f[14] = 0x35;                   /* IP version 3 */
		else
			good++, bytes += 200;
		pipeline_packet(pl, 1, 1000 * PIPELINE_NS_PER_S + (uint64_t)i * 10000000, f, (uint32_t)n,
				214);
	}
	pipeline_finish(pl);
	const struct pipeline_stats *st = pipeline_stats(pl);
	CHECK_EQ_U64(st->packets_seen, 100);
	CHECK_EQ_U64(st->packets_undecoded, 100 - good);
	CHECK_EQ_U64(st->undecoded[DECODE_BAD_VERSION], 100 - good);
	CHECK_EQ_U64(s.out_packets[0], good);
	CHECK_EQ_U64(s.out_bytes[0], bytes);
	pipeline_free(pl);
}

/* The clock is exact to the nanosecond at today's times: a frame 100 ns
 * before a boundary is in the interval that ends there (as a double, its
 * time would round up onto the boundary), the next one at the boundary is
 * not. */
static void test_boundary_to_the_nanosecond(void)
{
	static struct seen s;
	struct pipeline *pl = new_pipeline(10, &s);
	if (!pl)
		return;
	const uint64_t t0 = UINT64_C(1742380800) * PIPELINE_NS_PER_S;
	const uint64_t at[] = {t0, t0 + 10 * PIPELINE_NS_PER_S - 100, t0 + 10 * PIPELINE_NS_PER_S};
	uint8_t f[64];
	for (size_t i = 0; i < 3; i++) {
		size_t n = frame(f, 1, 2, 100);
		pipeline_packet(pl, 1, at[i], f, (uint32_t)n, 114);
	}
	pipeline_finish(pl);
	CHECK_EQ_U64(s.n, 2);
	CHECK_EQ_U64(s.out_packets[0], 2);
	CHECK_EQ_U64(s.out_packets[1], 1);
	CHECK(s.end[0] == 1742380810.0 && s.start[1] == 1742380810.0);
	CHECK(pipeline_stats(pl)->last_ns == at[2]);
	pipeline_free(pl);
}

/* Times a capture file can claim that no clock can: before the epoch
 * clamps to 0, past 2554 to the last nanosecond, and neither ends the one
 * interval of a summary run early. */
static void test_clock_extremes(void)
{
	CHECK(pipeline_ns(-5, 3) == 0);
	CHECK(pipeline_ns(1, -1) == PIPELINE_NS_PER_S);
	CHECK(pipeline_ns(INT64_MAX, 0) == UINT64_MAX - 1);
	CHECK(pipeline_ns(18446744073, 709551614) == UINT64_MAX - 1);
	CHECK(pipeline_ns(18446744073, 709551613) == UINT64_MAX - 2);
	CHECK(pipeline_seconds(UINT64_C(1742380800000001000)) == 1742380800.000001);
	static struct seen s;
	struct pipeline *pl = new_pipeline(0, &s);
	if (!pl)
		return;
	uint8_t f[64];
	const int64_t secs[] = {-1, INT64_MAX, 1742380800};
	for (size_t i = 0; i < 3; i++) {
		size_t n = frame(f, 1, 2, 100);
		pipeline_packet(pl, 1, pipeline_ns(secs[i], 0), f, (uint32_t)n, 114);
	}
	pipeline_finish(pl);
	CHECK_EQ_U64(s.n, 1);
	CHECK_EQ_U64(s.out_packets[0], 3);
	CHECK(pipeline_stats(pl)->first_ns == 0 && pipeline_stats(pl)->last_ns == UINT64_MAX - 1);
	pipeline_free(pl);
}

TEST_MAIN(test_in_flight_packets_stay_in_their_interval, test_tables_read_after_every_packet,
	  test_every_frame_counted_once, test_boundary_to_the_nanosecond, test_clock_extremes)
