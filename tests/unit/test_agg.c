/*
 * Unit tests for agg and direction: attribution by direction, flow counting,
 * top destinations, caps with their overflow counters, the sum invariant
 * (against a brute-force model, with tiny limits and random traffic),
 * O(1) reset, and memory per pair.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg.h"
#include "direction.h"
#include "test.h"
#include "banned.h"

static const struct hash_key test_key = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};

static ew_addr A(const char *s)
{
	ew_addr a;
	memset(&a, 0, sizeof(a));
	if (addr_parse(s, &a))
		fprintf(stderr, "bad test address %s\n", s);
	return a;
}

static struct pkt_info P(const char *src, const char *dst, uint16_t sport, uint16_t dport,
			 uint8_t proto, uint64_t bytes)
{
	struct pkt_info p;
	memset(&p, 0, sizeof(p));
	p.src = A(src);
	p.dst = A(dst);
	p.sport = sport;
	p.dport = dport;
	p.proto = proto;
	p.ip_bytes = bytes;
	p.ip_version = addr_is_v4(&p.src) ? 4 : 6;
	return p;
}

static const char *names[] = {"", "web", "db", "batch"};
static const char *name_of(void *ctx, uint32_t id)
{
	(void)ctx;
	return id < 4 ? names[id] : NULL;
}

static const struct report_identity *row(const struct report *r, const char *name)
{
	for (size_t i = 0; i < r->nids; i++)
		if (strcmp(r->ids[i].name, name) == 0)
			return &r->ids[i];
	fprintf(stderr, "no row \"%s\"\n", name);
	return NULL;
}

static void add(struct agg *a, uint32_t name_id, const char *who, enum ew_dir dir,
		const struct pkt_info *p)
{
	struct agg_ident id = {.name_id = name_id, .addr = A(who)};
	agg_add(a, &id, dir, p);
}

static void test_directions_and_rows(void)
{
	struct agg_limits lim = {100, 1000, 1000, 2};
	struct agg *a = agg_new(&lim, &test_key);
	CHECK(a != NULL);
	struct pkt_info p1 = P("10.0.0.1", "198.51.100.7", 40000, 443, 6, 1000);
	struct pkt_info p2 = P("10.0.0.1", "198.51.100.8", 40001, 443, 6, 300);
	struct pkt_info p3 = P("10.0.0.1", "198.51.100.9", 40002, 53, 17, 300);
	struct pkt_info in = P("198.51.100.7", "10.0.0.1", 443, 40000, 6, 60);
	struct pkt_info lat = P("10.0.0.2", "10.0.0.1", 5000, 22, 6, 77);
	struct pkt_info tr = P("8.8.8.8", "1.1.1.1", 1, 2, 17, 99);
	add(a, 1, "10.0.0.1", DIR_EGRESS, &p1);
	add(a, 1, "10.0.0.1", DIR_EGRESS, &p1);
	add(a, 1, "10.0.0.1", DIR_EGRESS, &p2);
	add(a, 1, "10.0.0.1", DIR_EGRESS, &p3);
	add(a, 1, "10.0.0.1", DIR_INGRESS, &in);
	add(a, 0, "10.0.0.2", DIR_LATERAL, &lat);
	agg_add(a, NULL, DIR_TRANSIT, &tr);
	/* An unnamed identity with egress: its row is its address. */
	struct pkt_info p6 = P("2001:db8::5", "2001:db8:ffff::1", 1, 80, 6, 5000);
	add(a, 0, "2001:db8::5", DIR_EGRESS, &p6);

	const struct agg_totals *t = agg_totals(a);
	CHECK_EQ_U64(t->egress.packets, 5);
	CHECK_EQ_U64(t->egress.bytes, 7600);
	CHECK_EQ_U64(t->ingress.bytes, 60);
	CHECK_EQ_U64(t->lateral.bytes, 77);
	CHECK_EQ_U64(t->transit.packets, 1);
	CHECK_EQ_U64(t->transit.bytes, 99);

	struct report r;
	memset(&r, 0, sizeof(r));
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 3);
	if (r.nids == 3) {
		/* out_bytes descending */
		CHECK_STREQ(r.ids[0].name, "2001:db8::5");
		CHECK_STREQ(r.ids[1].name, "web");
		CHECK_STREQ(r.ids[2].name, "10.0.0.2");
	}
	const struct report_identity *w = row(&r, "web");
	if (w) {
		CHECK_EQ_U64(w->out_bytes, 2600);
		CHECK_EQ_U64(w->out_packets, 4);
		CHECK_EQ_U64(w->in_bytes, 60);
		CHECK_EQ_U64(w->in_packets, 1);
		CHECK_EQ_U64(w->lateral_bytes, 0);
		CHECK_EQ_U64(w->flows, 4); /* three egress 5-tuples and the reply */
		CHECK(w->has_flows && w->has_lateral);
		/* top_n = 2: 198.51.100.7 (2000), then the 300-byte tie by address */
		CHECK_EQ_U64(w->ndests, 2);
		if (w->ndests == 2) {
			char buf[ADDR_STRLEN];
			CHECK_STREQ(addr_format(&w->dests[0].addr, buf, sizeof(buf)), "198.51.100.7");
			CHECK_EQ_U64(w->dests[0].bytes, 2000);
			CHECK_EQ_U64(w->dests[0].packets, 2);
			CHECK_EQ_U64(w->dests[0].port, 443);
			CHECK_EQ_U64(w->dests[0].proto, 6);
			CHECK_STREQ(addr_format(&w->dests[1].addr, buf, sizeof(buf)), "198.51.100.8");
		}
	}
	const struct report_identity *l = row(&r, "10.0.0.2");
	if (l) {
		CHECK_EQ_U64(l->lateral_bytes, 77);
		CHECK_EQ_U64(l->lateral_packets, 1);
		CHECK_EQ_U64(l->out_bytes, 0);
		CHECK_EQ_U64(l->flows, 1);
		CHECK_EQ_U64(l->ndests, 0); /* destinations are egress only */
	}
	const struct report_identity *v6 = row(&r, "2001:db8::5");
	if (v6)
		CHECK_EQ_U64(v6->ndests, 1);

	/* Without name_of, a named identity falls back to its address. */
	CHECK(agg_to_report(a, NULL, NULL, &r) == 0); /* also frees the old rows */
	CHECK(row(&r, "10.0.0.1") != NULL);
	report_release(&r);

	/* Reset empties everything; the next interval starts clean. */
	agg_reset(a);
	CHECK_EQ_U64(agg_totals(a)->egress.bytes, 0);
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 0);
	add(a, 1, "10.0.0.1", DIR_EGRESS, &p1);
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 1);
	if (r.nids == 1) {
		CHECK_EQ_U64(r.ids[0].out_bytes, 1000);
		CHECK_EQ_U64(r.ids[0].flows, 1); /* seen last interval: new again */
		CHECK_EQ_U64(r.ids[0].ndests, 1);
	}
	report_release(&r);
	agg_free(a);
	agg_free(NULL);
}

static void test_flow_counting(void)
{
	struct agg_limits lim = {100, 1000, 1000, 10};
	struct agg *a = agg_new(&lim, &test_key);
	struct pkt_info p = P("10.0.0.1", "192.0.2.1", 1000, 80, 6, 10);
	for (int i = 0; i < 5; i++)
		add(a, 0, "10.0.0.1", DIR_EGRESS, &p);
	p.sport = 1001;
	add(a, 0, "10.0.0.1", DIR_EGRESS, &p);
	p.proto = 17;
	add(a, 0, "10.0.0.1", DIR_EGRESS, &p);
	p.dst = A("192.0.2.2");
	add(a, 0, "10.0.0.1", DIR_EGRESS, &p);
	struct report r;
	memset(&r, 0, sizeof(r));
	agg_to_report(a, NULL, NULL, &r);
	CHECK_EQ_U64(r.nids, 1);
	if (r.nids)
		CHECK_EQ_U64(r.ids[0].flows, 4);
	report_release(&r);
	agg_free(a);
}

static void test_identity_overflow(void)
{
	struct agg_limits lim = {2, 1000, 1000, 5};
	struct agg *a = agg_new(&lim, &test_key);
	char src[32];
	for (int i = 1; i <= 5; i++) {
		snprintf(src, sizeof(src), "10.0.0.%d", i);
		struct pkt_info p = P(src, "192.0.2.1", 1000, 80, 6, (uint64_t)i * 100);
		add(a, 0, src, DIR_EGRESS, &p);
		add(a, 0, src, DIR_EGRESS, &p);
	}
	/* A named identity past the cap overflows too; existing ones do not. */
	struct pkt_info p = P("10.0.0.9", "192.0.2.1", 1000, 80, 6, 7);
	add(a, 2, "10.0.0.9", DIR_INGRESS, &p);
	p = P("10.0.0.1", "192.0.2.1", 1000, 80, 6, 1);
	add(a, 0, "10.0.0.1", DIR_EGRESS, &p);
	CHECK_EQ_U64(agg_totals(a)->identity_overflow, 7);

	struct report r;
	memset(&r, 0, sizeof(r));
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 3);
	const struct report_identity *o = row(&r, OVERFLOW_IDENTITY);
	if (o) {
		CHECK_EQ_U64(o->out_bytes, 2 * (300 + 400 + 500));
		CHECK_EQ_U64(o->out_packets, 6);
		CHECK_EQ_U64(o->in_bytes, 7);
		CHECK_EQ_U64(o->flows, 3 + 1);
		/* its destinations are tracked like any identity's */
		CHECK_EQ_U64(o->ndests, 1);
		if (o->ndests)
			CHECK_EQ_U64(o->dests[0].bytes, 2400);
	}
	const struct report_identity *one = row(&r, "10.0.0.1");
	if (one)
		CHECK_EQ_U64(one->out_bytes, 201);
	if (r.nids == 3)
		CHECK_STREQ(r.ids[0].name, OVERFLOW_IDENTITY);
	report_release(&r);

	/* A NULL identity for a counted direction is kept in the overflow row. */
	agg_reset(a);
	agg_add(a, NULL, DIR_EGRESS, &p);
	CHECK_EQ_U64(agg_totals(a)->identity_overflow, 1);
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 1);
	if (r.nids)
		CHECK_STREQ(r.ids[0].name, OVERFLOW_IDENTITY);
	report_release(&r);
	agg_free(a);
}

static void test_pair_and_flow_overflow(void)
{
	struct agg_limits lim = {100, 3, 2, 10};
	struct agg *a = agg_new(&lim, &test_key);
	char dst[32];
	for (int i = 1; i <= 5; i++) {
		snprintf(dst, sizeof(dst), "192.0.2.%d", i);
		struct pkt_info p = P("10.0.0.1", dst, 1000, 80, 6, 100);
		add(a, 1, "10.0.0.1", DIR_EGRESS, &p);
	}
	const struct agg_totals *t = agg_totals(a);
	CHECK_EQ_U64(t->pair_overflow, 2);
	CHECK_EQ_U64(t->flow_overflow, 3);
	struct report r;
	memset(&r, 0, sizeof(r));
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 1);
	if (r.nids) {
		CHECK_EQ_U64(r.ids[0].out_bytes, 500); /* totals keep every byte */
		CHECK_EQ_U64(r.ids[0].ndests, 3);
		CHECK_EQ_U64(r.ids[0].flows, 2);
	}
	report_release(&r);
	agg_free(a);
}

/* A flow's later packets are counted from its flow slot, where its first
 * packet was: in its identity or the overflow row, in its pair or as
 * untracked, with every overflow counter counting packets, not flows. */
static void test_known_flows_count_as_their_first_packet(void)
{
	struct agg_limits lim = {2, 3, 100, 10};
	struct agg *a = agg_new(&lim, &test_key);
	char src[32], dst[32];
	for (int round = 0; round < 3; round++) {
		for (int i = 1; i <= 4; i++) {
			for (int j = 1; j <= 2; j++) {
				snprintf(src, sizeof(src), "10.0.0.%d", i);
				snprintf(dst, sizeof(dst), "192.0.2.%d", j);
				struct pkt_info p = P(src, dst, 1000, 443, 6, (uint64_t)(100 * i + j));
				add(a, 0, src, DIR_EGRESS, &p);
			}
		}
	}
	/* Sources 3 and 4 overflow the identities; the pairs (1, d1), (1, d2)
	 * and (2, d1) fill the pair table, so (2, d2) and the overflow row's
	 * two are untracked. */
	const struct agg_totals *t = agg_totals(a);
	CHECK_EQ_U64(t->egress.packets, 24);
	CHECK_EQ_U64(t->identity_overflow, 12);
	CHECK_EQ_U64(t->pair_overflow, 3 + 12);
	CHECK_EQ_U64(t->flow_overflow, 0);
	struct report r;
	memset(&r, 0, sizeof(r));
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 3);
	const struct report_identity *one = row(&r, "10.0.0.1"), *two = row(&r, "10.0.0.2"),
				     *o = row(&r, OVERFLOW_IDENTITY);
	if (one) {
		CHECK_EQ_U64(one->out_packets, 6);
		CHECK_EQ_U64(one->out_bytes, 3 * (101 + 102));
		CHECK_EQ_U64(one->flows, 2);
		CHECK_EQ_U64(one->ndests, 2);
		if (one->ndests == 2)
			CHECK_EQ_U64(one->dests[0].bytes + one->dests[1].bytes, 3 * (101 + 102));
	}
	if (two) {
		CHECK_EQ_U64(two->out_bytes, 3 * (201 + 202));
		CHECK_EQ_U64(two->ndests, 1);
		if (two->ndests)
			CHECK_EQ_U64(two->dests[0].packets, 3);
	}
	if (o) {
		CHECK_EQ_U64(o->out_packets, 12);
		CHECK_EQ_U64(o->out_bytes, 3 * (301 + 302 + 401 + 402));
		CHECK_EQ_U64(o->flows, 4);
		CHECK_EQ_U64(o->ndests, 0);
	}
	report_release(&r);
	agg_free(a);
}

static int want_cmp(const void *x, const void *y)
{
	const uint64_t *a = x, *b = y; /* {bytes, index}: bytes desc, then address asc */
	if (a[0] != b[0])
		return a[0] > b[0] ? -1 : 1;
	return a[1] < b[1] ? -1 : a[1] > b[1];
}

/* The top destinations are exactly the best top_n by bytes, ties by address,
 * for several identities at once (counted into one table). */
static void test_top_destinations_exact(void)
{
	enum { NDST = 300, TOPN = 7 };
	struct agg_limits lim = {100, 10000, 10000, TOPN};
	struct agg *a = agg_new(&lim, &test_key);
	uint64_t want[3][NDST][2];
	memset(want, 0, sizeof(want));
	char src[32], dst[32];
	unsigned seed = 12345;
	for (int k = 0; k < 6000; k++) {
		seed = seed * 1103515245u + 12345u;
		int who = (int)((seed >> 8) % 3), d = (int)((seed >> 12) % NDST);
		uint64_t bytes = 100 * (1 + (seed >> 20) % 4); /* coarse: many ties */
		snprintf(src, sizeof(src), "10.0.0.%d", who + 1);
		snprintf(dst, sizeof(dst), "192.0.%d.%d", d / 256, d % 256);
		struct pkt_info p = P(src, dst, 1, 443, 6, bytes);
		add(a, 0, src, DIR_EGRESS, &p);
		want[who][d][0] += bytes;
		want[who][d][1] = (uint64_t)d;
	}
	struct report r;
	memset(&r, 0, sizeof(r));
	CHECK(agg_to_report(a, NULL, NULL, &r) == 0);
	CHECK_EQ_U64(r.nids, 3);
	for (int who = 0; who < 3; who++) {
		qsort(want[who], NDST, sizeof(want[who][0]), want_cmp);
		snprintf(src, sizeof(src), "10.0.0.%d", who + 1);
		const struct report_identity *ri = row(&r, src);
		if (!ri)
			continue;
		CHECK_EQ_U64(ri->ndests, TOPN);
		for (size_t j = 0; j < ri->ndests && j < TOPN; j++) {
			ew_addr e;
			uint8_t v4[4] = {192, 0, (uint8_t)(want[who][j][1] / 256), (uint8_t)(want[who][j][1] % 256)};
			addr_from_v4(&e, v4);
			CHECK(addr_eq(&ri->dests[j].addr, &e));
			CHECK_EQ_U64(ri->dests[j].bytes, want[who][j][0]);
		}
	}
	report_release(&r);
	agg_free(a);
}

/* ---- random traffic against a brute-force model ---- */

static uint64_t rs = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

struct model_row {
	char name[IDENTITY_NAME_MAX + 1];
	uint64_t out_b, out_p, in_b, in_p, lat_b, lat_p, flows;
};

struct model_flow {
	struct pkt_info p;
	int row;
};

static int model_row(struct model_row *rows, int *n, const char *name)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(rows[i].name, name) == 0)
			return i;
	memset(&rows[*n], 0, sizeof(rows[0]));
	snprintf(rows[*n].name, sizeof(rows[0].name), "%s", name);
	return (*n)++;
}

static bool same_flow(const struct pkt_info *x, const struct pkt_info *y)
{
	return addr_eq(&x->src, &y->src) && addr_eq(&x->dst, &y->dst) && x->sport == y->sport &&
	       x->dport == y->dport && x->proto == y->proto;
}

static void random_interval(struct agg *a, const struct agg_limits *lim, int npkts, bool exact)
{
	enum { NHOSTS = 40, NEXT = 60 };
	static struct model_row rows[NHOSTS + 1];
	static struct model_flow flows[4096];
	int nrows = 0, nflows = 0;
	struct agg_totals want;
	memset(&want, 0, sizeof(want));

	for (int i = 0; i < npkts; i++) {
		char in_s[64], ex_s[64];
		unsigned h = (unsigned)(rnd() % NHOSTS), e = (unsigned)(rnd() % NEXT);
		if (h % 5 == 4)
			snprintf(in_s, sizeof(in_s), "fd00::%x", h);
		else
			snprintf(in_s, sizeof(in_s), "10.0.%u.%u", h / 7, h);
		if (e % 4 == 3)
			snprintf(ex_s, sizeof(ex_s), "2001:db8::%x", e);
		else
			snprintf(ex_s, sizeof(ex_s), "198.51.100.%u", e);
		enum ew_dir dir = (enum ew_dir)(rnd() % 4);
		uint16_t sp = (uint16_t)(1000 + rnd() % 3), dp = (uint16_t)(rnd() % 2 ? 443 : 53);
		uint8_t proto = dp == 53 ? 17 : 6;
		uint64_t bytes = 40 + rnd() % 1460;
		struct pkt_info p;
		const char *who;
		switch (dir) {
		case DIR_EGRESS: p = P(in_s, ex_s, sp, dp, proto, bytes); who = in_s; break;
		case DIR_INGRESS: p = P(ex_s, in_s, dp, sp, proto, bytes); who = in_s; break;
		case DIR_LATERAL: {
			char in2[64];
			snprintf(in2, sizeof(in2), "10.9.9.%u", e % 5);
			p = P(in_s, in2, sp, dp, proto, bytes);
			who = in_s;
			break;
		}
		default: p = P(ex_s, "203.0.113.1", sp, dp, proto, bytes); who = NULL; break;
		}
		/* hosts 0..2 share the name "web"; 3 is "db"; the rest unnamed */
		uint32_t nid = h < 3 ? 1 : h == 3 ? 2 : 0;
		if (who) {
			struct agg_ident id = {.name_id = nid, .addr = A(who)};
			agg_add(a, &id, dir, &p);
		} else {
			agg_add(a, NULL, dir, &p);
		}
		if (!exact)
			continue;
		struct agg_counter *c = dir == DIR_EGRESS ? &want.egress : dir == DIR_INGRESS ? &want.ingress
					: dir == DIR_LATERAL ? &want.lateral : &want.transit;
		c->bytes += bytes;
		c->packets++;
		if (!who)
			continue;
		char nm[IDENTITY_NAME_MAX + 1];
		if (nid)
			snprintf(nm, sizeof(nm), "%s", names[nid]);
		else {
			ew_addr x = A(who);
			addr_format(&x, nm, sizeof(nm));
		}
		int ri = model_row(rows, &nrows, nm);
		if (dir == DIR_EGRESS) {
			rows[ri].out_b += bytes;
			rows[ri].out_p++;
		} else if (dir == DIR_INGRESS) {
			rows[ri].in_b += bytes;
			rows[ri].in_p++;
		} else {
			rows[ri].lat_b += bytes;
			rows[ri].lat_p++;
		}
		bool seen = false;
		for (int f = 0; f < nflows && !seen; f++)
			seen = same_flow(&flows[f].p, &p);
		if (!seen && nflows < 4096) {
			flows[nflows].p = p;
			flows[nflows++].row = ri;
			rows[ri].flows++;
		}
	}

	struct report r;
	memset(&r, 0, sizeof(r));
	CHECK(agg_to_report(a, name_of, NULL, &r) == 0);
	const struct agg_totals *t = agg_totals(a);
	/* The invariant, whatever the limits. */
	uint64_t ob = 0, op = 0, ib = 0, ip = 0, lb = 0, lp = 0;
	for (size_t i = 0; i < r.nids; i++) {
		ob += r.ids[i].out_bytes;
		op += r.ids[i].out_packets;
		ib += r.ids[i].in_bytes;
		ip += r.ids[i].in_packets;
		lb += r.ids[i].lateral_bytes;
		lp += r.ids[i].lateral_packets;
		CHECK(r.ids[i].ndests <= lim->top_n);
		for (size_t d = 1; d < r.ids[i].ndests; d++)
			CHECK(r.ids[i].dests[d - 1].bytes >= r.ids[i].dests[d].bytes);
		if (i > 0)
			CHECK(r.ids[i - 1].out_bytes >= r.ids[i].out_bytes);
	}
	CHECK(r.nids <= (size_t)lim->max_identities + 1);
	CHECK_EQ_U64(ob, t->egress.bytes);
	CHECK_EQ_U64(op, t->egress.packets);
	CHECK_EQ_U64(ib, t->ingress.bytes);
	CHECK_EQ_U64(ip, t->ingress.packets);
	CHECK_EQ_U64(lb, t->lateral.bytes);
	CHECK_EQ_U64(lp, t->lateral.packets);
	CHECK_EQ_U64(t->egress.packets + t->ingress.packets + t->lateral.packets + t->transit.packets,
		     (uint64_t)npkts);

	if (exact) {
		CHECK_EQ_U64(t->egress.bytes, want.egress.bytes);
		CHECK_EQ_U64(t->transit.bytes, want.transit.bytes);
		CHECK_EQ_U64(r.nids, (uint64_t)nrows);
		for (int i = 0; i < nrows; i++) {
			const struct report_identity *g = row(&r, rows[i].name);
			if (!g) {
				CHECK(0);
				continue;
			}
			CHECK_EQ_U64(g->out_bytes, rows[i].out_b);
			CHECK_EQ_U64(g->out_packets, rows[i].out_p);
			CHECK_EQ_U64(g->in_bytes, rows[i].in_b);
			CHECK_EQ_U64(g->in_packets, rows[i].in_p);
			CHECK_EQ_U64(g->lateral_bytes, rows[i].lat_b);
			CHECK_EQ_U64(g->lateral_packets, rows[i].lat_p);
			CHECK_EQ_U64(g->flows, rows[i].flows);
		}
	}
	report_release(&r);
}

static void test_random_invariant(void)
{
	/* Roomy limits: exact against the model, over several intervals. */
	struct agg_limits big = {1000, 10000, 10000, 3};
	struct agg *a = agg_new(&big, &test_key);
	for (int iv = 0; iv < 6; iv++) {
		random_interval(a, &big, 3000, true);
		agg_reset(a);
	}
	agg_free(a);

	/* Tiny limits: every cap overflows, the sums still hold. */
	static const struct agg_limits tiny[] = {
		{1, 1, 1, 1}, {3, 5, 7, 2}, {0, 0, 0, 0}, {16, 16, 16, 1000}, {7, 200, 3, 4},
	};
	for (size_t k = 0; k < sizeof(tiny) / sizeof(tiny[0]); k++) {
		a = agg_new(&tiny[k], &test_key);
		CHECK(a != NULL);
		if (!a)
			continue;
		for (int iv = 0; iv < 4; iv++) {
			random_interval(a, &tiny[k], 2000, false);
			const struct agg_totals *t = agg_totals(a);
			if (tiny[k].max_identities < 40)
				CHECK(t->identity_overflow > 0);
			agg_reset(a);
		}
		agg_free(a);
	}
}

/* The flow slots carry a 24-bit generation; when it wraps the table is
 * cleared for real, or flows of 2^24 intervals ago would count as seen. */
/* A flow seen in one interval is new in a later one, however many intervals
 * later: in particular a whole number of generations later, when the flow
 * slot's generation (16 bits; 24 before) has come round to the same value. */
static void test_generation_wrap(void)
{
	struct agg_limits lim = {16, 16, 16, 2};
	struct agg *a = agg_new(&lim, &test_key);
	static const uint32_t later[] = {(1u << 16) - 1, 1u << 16, (1u << 24) - 1, 1u << 24};
	enum { N = sizeof(later) / sizeof(later[0]) };
	struct pkt_info p[N];
	for (uint16_t k = 0; k < N; k++) {
		p[k] = P("10.0.0.1", "192.0.2.1", (uint16_t)(1 + k), 2, 6, 10);
		add(a, 0, "10.0.0.1", DIR_EGRESS, &p[k]);
	}
	struct report r;
	memset(&r, 0, sizeof(r));
	for (uint32_t i = 1; i <= 1u << 24; i++) {
		agg_reset(a);
		for (size_t k = 0; k < N; k++) {
			if (i != later[k])
				continue;
			add(a, 0, "10.0.0.1", DIR_EGRESS, &p[k]);
			CHECK(agg_to_report(a, NULL, NULL, &r) == 0);
			CHECK_EQ_U64(r.nids, 1);
			if (r.nids) {
				CHECK_EQ_U64(r.ids[0].flows, 1);
				CHECK_EQ_U64(r.ids[0].out_bytes, 10);
				CHECK_EQ_U64(r.ids[0].ndests, 1);
				if (r.ids[0].ndests)
					CHECK_EQ_U64(r.ids[0].dests[0].bytes, 10);
			}
		}
	}
	report_release(&r);
	agg_free(a);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_memory_and_reset_cost(void)
{
	struct agg_limits lim = {100000, 1000000, 1000000, 10};
	struct agg *a = agg_new(&lim, &test_key);
	CHECK(a != NULL);
	if (!a)
		return;
	double per_pair = (double)agg_memory(a) / lim.max_pairs;
	printf("     agg_memory %zu bytes, %.1f bytes per pair (limit 150)\n", agg_memory(a), per_pair);
	CHECK(per_pair <= 150.0);
	CHECK(per_pair >= 40.0); /* a pair's key and counters alone are 40 bytes */

	/* Fill a good share of the pair table, then reset many times: the
	 * cost must not scale with the table. */
	char dst[64];
	for (int i = 0; i < 200000; i++) {
		snprintf(dst, sizeof(dst), "2001:db8::%x:%x", i >> 16, i & 0xffff);
		struct pkt_info p = P("10.0.0.1", dst, 1, 443, 6, 100);
		add(a, 0, "10.0.0.1", DIR_EGRESS, &p);
	}
	double t0 = now_s();
	for (int i = 0; i < 1000; i++)
		agg_reset(a);
	double per_reset = (now_s() - t0) / 1000;
	printf("     agg_reset %.3f us with 1M-entry tables\n", per_reset * 1e6);
	CHECK(per_reset < 1e-4);
	CHECK_EQ_U64(agg_totals(a)->egress.packets, 0);
	agg_free(a);
}

static void test_direction(void)
{
	struct prefix_table *t = NULL;
	char err[256];
	CHECK(direction_parse_internal(DIRECTION_DEFAULT_INTERNAL, &t, err, sizeof(err)) == 0);
	CHECK_EQ_U64(prefix_table_count(t), 5);
	struct pkt_info p = P("10.1.1.1", "8.8.8.8", 1, 2, 6, 1);
	CHECK(direction_classify(t, &p) == DIR_EGRESS);
	p = P("8.8.8.8", "192.168.1.1", 1, 2, 6, 1);
	CHECK(direction_classify(t, &p) == DIR_INGRESS);
	p = P("172.16.0.1", "100.127.255.255", 1, 2, 6, 1);
	CHECK(direction_classify(t, &p) == DIR_LATERAL);
	p = P("172.32.0.1", "100.128.0.0", 1, 2, 6, 1);
	CHECK(direction_classify(t, &p) == DIR_TRANSIT);
	p = P("fd12::1", "2001:db8::1", 1, 2, 6, 1);
	CHECK(direction_classify(t, &p) == DIR_EGRESS);
	p = P("fe80::1", "fc00::1", 1, 2, 6, 1);
	CHECK(direction_classify(t, &p) == DIR_INGRESS);
	CHECK_STREQ(direction_name(DIR_LATERAL), "lateral");
	prefix_table_free(t);

	t = NULL;
	CHECK(direction_parse_internal(" 0.0.0.0/0 , ::/0 ", &t, err, sizeof(err)) == 0);
	p = P("8.8.8.8", "2001:db8::1", 1, 2, 6, 1);
	CHECK(direction_classify(t, &p) == DIR_LATERAL);
	prefix_table_free(t);

	t = NULL;
	CHECK(direction_parse_internal("10.0.0.0/8,,fc00::/7", &t, err, sizeof(err)) == -1);
	CHECK(strstr(err, "item 2 is empty") != NULL);
	CHECK(t == NULL);
	CHECK(direction_parse_internal("10.0.0.0/8,10.0.0.0/40", &t, err, sizeof(err)) == -1);
	CHECK(strstr(err, "\"10.0.0.0/40\"") != NULL);
	CHECK(direction_parse_internal("", &t, err, sizeof(err)) == -1);
	CHECK(direction_parse_internal("10.0.0.0/8,", &t, err, sizeof(err)) == -1);
	CHECK(t == NULL);
}

TEST_MAIN(test_directions_and_rows, test_flow_counting, test_top_destinations_exact, test_identity_overflow,
	  test_pair_and_flow_overflow, test_known_flows_count_as_their_first_packet,
	  test_random_invariant, test_generation_wrap,
	  test_memory_and_reset_cost, test_direction)
