/*
 * bench_tables: speed of the per-packet tables, as ratios within one run.
 *
 *   prefix_table  lookups/s with 100,000 mixed IPv4/IPv6 prefixes of many
 *                 lengths, against the same with 10 prefixes (the ratio says
 *                 how lookup cost grows with the table), and with 100,000
 *                 host routes in one /8 (an identity map of hosts);
 *   agg_add       ns per egress packet on random traffic (identity, pair and
 *                 flow lookups), with the default limits;
 *   SipHash-1-3   ns per 40-byte key, for comparison with the above;
 *   memory        agg_memory() / max_pairs.
 *
 * Usage: bench_tables [seconds-scale, default 1]. Prints one "name value"
 * line per figure, then "ok" (the tables agree with themselves) or exits 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agg.h"
#include "hash.h"
#include "prefix_table.h"
#include "banned.h"

static uint64_t rs = 0x2545f4914f6cdd1dULL;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void random_addr(ew_addr *a, bool v4)
{
	if (v4) {
		uint8_t b[4] = {(uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd(), (uint8_t)rnd()};
		addr_from_v4(a, b);
	} else {
		for (int i = 0; i < 16; i++)
			a->b[i] = (uint8_t)rnd();
		a->b[0] = 0x20; /* global unicast, so never mapped */
	}
}

/* Fills t with n prefixes: 60% IPv4 /8../32, 40% IPv6 /16../128. */
static void fill_mixed(struct prefix_table *t, ew_addr *kept, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ew_addr a;
		bool v4 = rnd() % 10 < 6;
		random_addr(&a, v4);
		unsigned plen = v4 ? 96 + 8 + (unsigned)(rnd() % 25) : 16 + (unsigned)(rnd() % 113);
		addr_mask(&a, plen);
		prefix_table_add(t, &a, plen, (uint32_t)i);
		kept[i] = a;
	}
}

/* Half the probes inside a known prefix (hits, with random host bits past
 * /8), half anywhere (mostly misses). */
static ew_addr *make_probes(const ew_addr *kept, size_t nkept, size_t n)
{
	ew_addr *p = malloc(n * sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		if (i % 2) {
			p[i] = kept[rnd() % nkept];
			p[i].b[15] ^= (uint8_t)rnd();
		} else {
			random_addr(&p[i], rnd() % 2);
		}
	}
	return p;
}

static double lookups_per_s(const struct prefix_table *t, const ew_addr *probes, size_t n,
			    double secs, uint64_t *hits)
{
	size_t done = 0;
	double t0 = now_s(), el;
	*hits = 0;
	do {
		for (size_t i = 0; i < n; i++) {
			uint32_t v;
			*hits += prefix_table_lookup(t, &probes[i], &v);
		}
		done += n;
		el = now_s() - t0;
	} while (el < secs);
	return (double)done / el;
}

int main(int argc, char **argv)
{
	double scale = argc > 1 ? strtod(argv[1], NULL) : 1.0;
	if (scale <= 0)
		scale = 1.0;
	enum { BIG = 100000, SMALL = 10, NPROBE = 1 << 20 };

	ew_addr *kept = malloc(BIG * sizeof(*kept));
	struct prefix_table *big = prefix_table_new(), *small = prefix_table_new(),
			    *hosts = prefix_table_new();
	if (!kept || !big || !small || !hosts)
		return 1;
	fill_mixed(big, kept, BIG);
	ew_addr *probes_big = make_probes(kept, BIG, NPROBE);
	fill_mixed(small, kept, SMALL);
	ew_addr *probes_small = make_probes(kept, SMALL, NPROBE);
	for (uint32_t i = 0; i < BIG; i++) {
		uint8_t b[4] = {10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i};
		addr_from_v4(&kept[i], b);
		prefix_table_add(hosts, &kept[i], 128, i);
	}
	ew_addr *probes_hosts = make_probes(kept, BIG, NPROBE);

	uint64_t hb, hs, hh;
	double lb = lookups_per_s(big, probes_big, NPROBE, 0.5 * scale, &hb);
	double ls = lookups_per_s(small, probes_small, NPROBE, 0.5 * scale, &hs);
	double lh = lookups_per_s(hosts, probes_hosts, NPROBE, 0.5 * scale, &hh);
	printf("prefix_table_100k_mixed_lookups_per_s %.0f (%.1f ns, %zu prefixes)\n", lb, 1e9 / lb,
	       prefix_table_count(big));
	printf("prefix_table_10_lookups_per_s %.0f (%.1f ns)\n", ls, 1e9 / ls);
	printf("prefix_table_100k_vs_10_ratio %.2f\n", ls / lb);
	printf("prefix_table_100k_hosts_lookups_per_s %.0f (%.1f ns)\n", lh, 1e9 / lh);

	/* agg_add: 20,000 internal hosts, 200,000 destinations, random ports:
	 * the tables fill to their caps, so this includes the full-table case. */
	struct agg_limits lim = {100000, 1000000, 1000000, 10};
	struct hash_key key;
	hash_seed_random(&key);
	struct agg *a = agg_new(&lim, &key);
	if (!a)
		return 1;
	enum { NPKT = 1 << 20 };
	struct pkt_info *pk = calloc(NPKT, sizeof(*pk));
	struct agg_ident *ids = calloc(NPKT, sizeof(*ids));
	for (size_t i = 0; i < NPKT; i++) {
		uint32_t h = (uint32_t)(rnd() % 20000);
		uint8_t s4[4] = {10, 1, (uint8_t)(h >> 8), (uint8_t)h};
		addr_from_v4(&pk[i].src, s4);
		if (rnd() % 4 == 0) {
			random_addr(&pk[i].dst, false);
			pk[i].dst.b[15] = (uint8_t)(rnd() % 50);
			memset(pk[i].dst.b + 2, 0, 10);
		} else {
			uint32_t d = (uint32_t)(rnd() % 150000);
			uint8_t d4[4] = {198, (uint8_t)(d >> 16), (uint8_t)(d >> 8), (uint8_t)d};
			addr_from_v4(&pk[i].dst, d4);
		}
		pk[i].sport = (uint16_t)(32768 + rnd() % 8);
		pk[i].dport = rnd() % 2 ? 443 : 80;
		pk[i].proto = 6;
		pk[i].ip_bytes = 64 + rnd() % 1400;
		ids[i].addr = pk[i].src;
		ids[i].name_id = h % 3 == 0 ? h / 3 + 1 : 0;
	}
	/* Warm: the first pass claims the slots, the timed passes find them. */
	for (size_t i = 0; i < NPKT; i++)
		agg_add(a, &ids[i], DIR_EGRESS, &pk[i]);
	size_t done = 0;
	double t0 = now_s(), el;
	do {
		for (size_t i = 0; i < NPKT; i++)
			agg_add(a, &ids[i], DIR_EGRESS, &pk[i]);
		done += NPKT;
		el = now_s() - t0;
	} while (el < 0.5 * scale);
	printf("agg_add_egress_ns_per_packet %.1f (steady state)\n", el * 1e9 / (double)done);

	/* The first-packet path: every pass starts from an empty interval. */
	done = 0;
	t0 = now_s();
	do {
		agg_reset(a);
		for (size_t i = 0; i < NPKT; i++)
			agg_add(a, &ids[i], DIR_EGRESS, &pk[i]);
		done += NPKT;
		el = now_s() - t0;
	} while (el < 0.5 * scale);
	printf("agg_add_egress_ns_per_packet_fresh_interval %.1f\n", el * 1e9 / (double)done);
	/* Capture-like traffic: 4,096 active flows, so the slots stay in cache
	 * and what is measured is agg_add's own work. */
	agg_reset(a);
	done = 0;
	t0 = now_s();
	do {
		for (size_t i = 0; i < NPKT; i++)
			agg_add(a, &ids[i & 4095], DIR_EGRESS, &pk[i & 4095]);
		done += NPKT;
		el = now_s() - t0;
	} while (el < 0.5 * scale);
	printf("agg_add_egress_ns_per_packet_4k_flows %.1f\n", el * 1e9 / (double)done);
	agg_reset(a);
	for (size_t i = 0; i < NPKT; i++)
		agg_add(a, &ids[i], DIR_EGRESS, &pk[i]);

	const struct agg_totals *tot = agg_totals(a);
	printf("agg_pair_overflow_packets %llu flow_overflow_packets %llu (last interval)\n",
	       (unsigned long long)tot->pair_overflow, (unsigned long long)tot->flow_overflow);

	struct report r;
	memset(&r, 0, sizeof(r));
	t0 = now_s();
	agg_to_report(a, NULL, NULL, &r);
	printf("agg_to_report_ms %.1f (%zu identities)\n", (now_s() - t0) * 1e3, r.nids);
	uint64_t sum = 0;
	for (size_t i = 0; i < r.nids; i++)
		sum += r.ids[i].out_bytes;
	bool ok = sum == tot->egress.bytes;
	report_release(&r);

	uint8_t buf[40] = {1};
	uint64_t acc = 0;
	done = 0;
	t0 = now_s();
	do {
		for (int i = 0; i < 1000000; i++) {
			buf[0] = (uint8_t)i;
			acc += hash_bytes(&key, buf, sizeof(buf));
		}
		done += 1000000;
		el = now_s() - t0;
	} while (el < 0.2 * scale);
	printf("siphash13_40_bytes_ns %.1f (x%u)\n", el * 1e9 / (double)done, (unsigned)(acc & 1) + 1);

	printf("agg_memory_bytes %zu\n", agg_memory(a));
	printf("agg_bytes_per_pair %.1f\n", (double)agg_memory(a) / lim.max_pairs);

	t0 = now_s();
	for (int i = 0; i < 10000; i++)
		agg_reset(a);
	printf("agg_reset_us %.3f\n", (now_s() - t0) * 1e6 / 10000);

	agg_free(a);
	free(pk);
	free(ids);
	free(probes_big);
	free(probes_small);
	free(probes_hosts);
	free(kept);
	prefix_table_free(big);
	prefix_table_free(small);
	prefix_table_free(hosts);
	if (!ok || hb == 0 || hh == 0) {
		printf("FAIL: tables disagree\n");
		return 1;
	}
	printf("ok\n");
	return 0;
}
