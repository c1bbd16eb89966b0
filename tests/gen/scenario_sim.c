/*
 * scenario_sim: weeks of synthetic egress reports (DESIGN.md "Report", JSON
 * lines) for dozens of identities, with one injected data theft and its
 * ground truth, to measure detection (tests/scenarios.sh).
 *
 *   scenario_sim -s SCENARIO -o REPORTS.jsonl -t TRUTH.json [--identities N]
 *                [--days D] [--theft-day T] [--seed S] [--interval S] [--fine S]
 *                [--thief N]
 *
 * SCENARIO: benign (no theft: the false-alert run), burst6h (92 GB in 6 h to
 * a prefix new to the organisation), slow5d (92 GB over 5 days shaped like
 * the identity's own traffic, to a cloud prefix the organisation knows but
 * the identity never used), drip (1.5 GB a day for 6 weeks to a prefix the
 * identity already uses), newid (a new identity sending 50 GB in 10 h),
 * knowndest (92 GB over a day to the identity's main destination), split
 * (92 GB over a day split across 10 identities to one new prefix).
 *
 * The background is the same in every scenario (noise is a hash of seed,
 * identity and 10-minute block): identities from 2 KB/s to 30 MB/s, three
 * daily/weekly shapes, log-normal noise, weekday deploy spikes, a nightly
 * backup to the allowlisted 203.0.113.0/24, new small SaaS destinations,
 * a sensor away for 10 h on day 20, and a benign new identity on day 24.
 * Two sensors (gw-a: even identities, gw-b: odd) report every --interval
 * seconds (600), and every --fine seconds (60) around a theft's start so
 * the delay to detect it is measured at a minute's resolution.
 *
 * The truth file is one JSON object: the theft's identities, start, end,
 * total bytes, its cumulative bytes over time, and the target it must be
 * caught by; for the benign run, the identity-weeks judged.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define DAY0 1767571200.0       /* Monday 2026-01-05 00:00 UTC */
#define MAXID 200
#define MAXD 12

static uint64_t g_seed = 1;

static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Uniform [0,1) from (a, b, c): the same draw in every scenario. */
static double u01(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t h = mix(g_seed ^ mix(a * 0x9e3779b97f4a7c15ULL ^ mix(b + 0x632be59bd9b4e019ULL) ^ (c << 17)));
	return (double)(h >> 11) / 9007199254740992.0;
}

static double gauss(uint64_t a, uint64_t b, uint64_t c)
{
	double u = u01(a, b, c), v = u01(a, b, c + 1000003);
	if (u < 1e-12)
		u = 1e-12;
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

struct dest {
	uint8_t a[4];
	double w;
	double from, to;        /* active time span (SaaS adopted later) */
	double rate;            /* fixed bytes/s instead of a weight, when > 0 */
};

struct ident {
	char name[32];
	int sensor;             /* 0 gw-a, 1 gw-b */
	double rate;            /* mean bytes/s */
	int shape;
	double from;            /* exists from */
	struct dest d[MAXD];
	int nd;
	int backup;
};

struct theft {
	int ids[16], nids;
	double start, end, total;
	uint8_t dst[4];
	int shaped;             /* follow the identity's own shape */
	int dest_index;         /* use the identity's own destination, -1 for dst */
	double target_bytes, target_delay;
	const char *name;
};

static double shape(const struct ident *id, double t)
{
	double hod = fmod((t - DAY0) / 3600.0, 24.0);
	int dow = (int)floor((t - DAY0) / 86400.0) % 7; /* 0 Monday */
	double wk = dow >= 5;
	switch (id->shape) {
	case 0: /* office hours */
		return (0.25 + 1.6 * exp(-pow((hod - 13.5) / 3.5, 2))) * (wk ? 0.35 : 1.0);
	case 1: /* batch, busy at night */
		return 0.6 + 1.2 * exp(-pow((hod - 3) / 2.0, 2)) + 0.3 * (hod > 12 && hod < 20);
	default: /* user-facing: smooth diurnal */
		return (0.7 + 0.5 * sin((hod - 9) / 24.0 * 2 * M_PI)) * (wk ? 0.75 : 1.0);
	}
}

static void put_addr(FILE *f, const uint8_t a[4], unsigned host)
{
	fprintf(f, "\"%u.%u.%u.%u\"", a[0], a[1], a[2], host);
}

static int setup(struct ident *ids, int n)
{
	for (int i = 0; i < n; i++) {
		struct ident *id = &ids[i];
		memset(id, 0, sizeof(*id));
		snprintf(id->name, sizeof(id->name), "svc-%02d", i);
		id->sensor = i % 2;
		id->rate = 2e3 * pow(15000.0, n > 1 ? (double)i / (n - 1) : 0.5);
		id->shape = i % 3;
		id->backup = i % 5 == 0;
		id->from = 0;
		/* Main destination: a cloud-storage /24 shared by a few identities. */
		int k = 0;
		struct dest *d = &id->d[k++];
		d->a[0] = 52; d->a[1] = 216; d->a[2] = (uint8_t)(i % 12);
		d->w = 0.55; d->to = 1e18;
		d = &id->d[k++];
		d->a[0] = 140; d->a[1] = 82; d->a[2] = (uint8_t)(112 + i % 6);
		d->w = 0.2; d->to = 1e18;
		d = &id->d[k++];
		d->a[0] = 198; d->a[1] = 18; d->a[2] = (uint8_t)i; /* its partner API */
		d->w = 0.15; d->to = 1e18;
		d = &id->d[k++];
		d->a[0] = 151; d->a[1] = 101; d->a[2] = (uint8_t)(i % 4);
		d->w = 0.1; d->to = 1e18;
		id->nd = k;
	}
	return 0;
}

/* New small SaaS: per identity, a prefix adopted on a random day at 1-30 MB/day. */
static void add_saas(struct ident *ids, int n, int days)
{
	for (int i = 0; i < n; i++) {
		for (int day = 3; day < days && ids[i].nd < MAXD - 2; day++) {
			if (u01(7001, (uint64_t)i, (uint64_t)day) > 0.06)
				continue;
			struct dest *d = &ids[i].d[ids[i].nd++];
			d->a[0] = 45; d->a[1] = (uint8_t)(60 + day); d->a[2] = (uint8_t)i;
			d->from = DAY0 + day * 86400.0 + 3600 * (8 + 8 * u01(7002, (uint64_t)i, (uint64_t)day));
			d->to = 1e18;
			d->rate = (1e6 + 29e6 * u01(7003, (uint64_t)i, (uint64_t)day)) / 86400.0;
		}
	}
	/* A SaaS the whole team adopts: 4 identities at 20 MB/day each, every 10 days. */
	for (int day = 9; day < days; day += 10) {
		for (int j = 0; j < 4; j++) {
			int i = (day * 7 + j * 5) % n;
			if (ids[i].nd >= MAXD)
				continue;
			struct dest *d = &ids[i].d[ids[i].nd++];
			d->a[0] = 104; d->a[1] = 18; d->a[2] = (uint8_t)day;
			d->from = DAY0 + day * 86400.0 + 3600 * (9 + j);
			d->to = 1e18;
			d->rate = 20e6 / 86400.0;
		}
	}
}

static double theft_bytes(const struct theft *th, const struct ident *id, double t0, double t1)
{
	if (t1 <= th->start || t0 >= th->end)
		return 0;
	double a = t0 > th->start ? t0 : th->start, b = t1 < th->end ? t1 : th->end;
	double per = th->total / th->nids;
	if (!th->shaped)
		return per * (b - a) / (th->end - th->start);
	/* Shaped: proportional to the identity's own shape, normalised over the span. */
	double norm = 0;
	for (double t = th->start; t < th->end; t += 600)
		norm += shape(id, t) * 600;
	double part = 0;
	for (double t = a; t < b; t += 60)
		part += shape(id, t) * (b - t < 60 ? b - t : 60);
	return per * part / norm;
}

int main(int argc, char **argv)
{
	const char *scen = "benign", *out = NULL, *truth = NULL;
	int n = 40, days = 0, theft_day = 28, thief = -1;
	double interval = 600, fine = 60;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *a = argv[i], *v = argv[i + 1];
		if (!strcmp(a, "-s"))
			scen = v;
		else if (!strcmp(a, "-o"))
			out = v;
		else if (!strcmp(a, "-t"))
			truth = v;
		else if (!strcmp(a, "--identities"))
			n = (int)strtol(v, NULL, 10);
		else if (!strcmp(a, "--days"))
			days = (int)strtol(v, NULL, 10);
		else if (!strcmp(a, "--theft-day"))
			theft_day = (int)strtol(v, NULL, 10);
		else if (!strcmp(a, "--thief"))
			thief = (int)strtol(v, NULL, 10);
		else if (!strcmp(a, "--seed"))
			g_seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--interval"))
			interval = strtod(v, NULL);
		else if (!strcmp(a, "--fine"))
			fine = strtod(v, NULL);
		else {
			fprintf(stderr, "scenario_sim: unknown option %s\n", a);
			return 2;
		}
	}
	if (!out || !truth || n < 12 || n > MAXID - 1 || theft_day < 1 || !(interval >= 60) ||
	    fmod(interval, fine) != 0 || fmod(3600, interval) != 0) {
		fprintf(stderr, "usage: scenario_sim -s SCENARIO -o REPORTS -t TRUTH [--identities 12..199] "
				"[--days D] [--theft-day T] [--seed S] [--interval S (divides 3600)] [--fine S]\n");
		return 2;
	}
	static struct ident ids[MAXID];
	setup(ids, n);
	struct theft th;
	memset(&th, 0, sizeof(th));
	th.dest_index = -1;
	th.name = scen;
	double T = DAY0 + theft_day * 86400.0 + 10 * 3600;
	uint8_t evil[4] = {185, 220, 101, 0};
	int mid = n / 2, nn = n;
	if (!strcmp(scen, "benign")) {
		if (!days)
			days = 56;
	} else if (!strcmp(scen, "burst6h")) {
		th.ids[th.nids++] = mid;
		th.start = T; th.end = T + 6 * 3600; th.total = 92e9;
		th.target_bytes = 2e9;
	} else if (!strcmp(scen, "slow5d")) {
		th.ids[th.nids++] = mid + n / 10;
		th.start = T; th.end = T + 5 * 86400; th.total = 92e9;
		th.shaped = 1;
		evil[0] = 52; evil[1] = 216; evil[2] = 11;  /* used by others, not by it */
		if (ids[th.ids[0]].d[0].a[2] == 11)
			evil[2] = 10;
		th.target_bytes = 5e9;
	} else if (!strcmp(scen, "drip")) {
		th.ids[th.nids++] = n * 3 / 10;
		th.start = T; th.end = T + 42 * 86400.0; th.total = 42 * 1.5e9;
		th.dest_index = 2;
		th.target_delay = 72 * 3600;
	} else if (!strcmp(scen, "newid")) {
		struct ident *x = &ids[nn++];
		memset(x, 0, sizeof(*x));
		snprintf(x->name, sizeof(x->name), "svc-intruder");
		x->from = T;
		th.ids[th.nids++] = nn - 1;
		th.start = T; th.end = T + 10 * 3600; th.total = 50e9;
		evil[2] = 102;
		th.target_bytes = 2e9;
	} else if (!strcmp(scen, "knowndest")) {
		th.ids[th.nids++] = n * 4 / 10;
		th.start = T; th.end = T + 86400; th.total = 92e9;
		th.dest_index = 0;
		th.target_bytes = 10e9;
	} else if (!strcmp(scen, "split")) {
		for (int k = 0; k < 10; k++)
			th.ids[th.nids++] = n / 4 + k;
		th.start = T; th.end = T + 86400; th.total = 92e9;
		evil[2] = 103;
		th.target_delay = 4 * 3600;
	} else {
		fprintf(stderr, "scenario_sim: unknown scenario %s\n", scen);
		return 2;
	}
	memcpy(th.dst, evil, 4);
	/* --thief N: the (first) thief is svc-N instead, to probe other scales. */
	if (thief >= 0 && thief < n && th.nids && strcmp(scen, "newid") != 0)
		th.ids[0] = thief;
	if (!days)
		days = (int)ceil((th.end - DAY0) / 86400.0) + 2;
	/* The benign new identity, on day 24. */
	if (days > 24 && nn < MAXID) {
		struct ident *x = &ids[nn++];
		memset(x, 0, sizeof(*x));
		snprintf(x->name, sizeof(x->name), "svc-newbie");
		x->sensor = 0;
		x->rate = 50e3;
		x->shape = 2;
		x->from = DAY0 + 24 * 86400.0 + 11 * 3600;
		x->d[0] = ids[0].d[0];
		x->d[1] = ids[1].d[1];
		x->nd = 2;
	}
	add_saas(ids, n, days);

	FILE *f = fopen(out, "w");
	if (!f) {
		fprintf(stderr, "scenario_sim: %s: %s\n", out, strerror(errno));
		return 1;
	}
	uint64_t seq[2] = {0, 0};
	double t = DAY0, stop = DAY0 + days * 86400.0;
	double fine_from = th.nids ? th.start - 3600 : 0, fine_to = th.nids ? th.start + 8 * 3600 : 0;
	double gap_from = DAY0 + 20 * 86400.0 + 6 * 3600, gap_to = gap_from + 10 * 3600;
	FILE *tf = fopen(truth, "w");
	if (!tf) {
		fprintf(stderr, "scenario_sim: %s: %s\n", truth, strerror(errno));
		return 1;
	}
	fprintf(tf, "{\"scenario\":\"%s\",\"identities\":[", scen);
	for (int k = 0; k < th.nids; k++)
		fprintf(tf, "%s\"%s\"", k ? "," : "", ids[th.ids[k]].name);
	fprintf(tf, "],\"thief_mean_bytes_per_hour\":%.0f", th.nids ? ids[th.ids[0]].rate * 3600 : 0);
	fprintf(tf, ",\"start\":%.0f,\"end\":%.0f,\"total_bytes\":%.0f,\"target_bytes\":%.0f,"
		    "\"target_delay_s\":%.0f,\"eval_from\":%.0f,\"identity_weeks\":%.2f,\"series\":[",
		th.start, th.end, th.total, th.target_bytes, th.target_delay, DAY0 + 7 * 86400.0,
		n * (days - 7) / 7.0);
	double cum = 0;
	int first_pt = 1;
	while (t < stop) {
		double step = (t >= fine_from && t < fine_to) ? fine : interval;
		double t1 = t + step;
		uint64_t blk = (uint64_t)((t - DAY0) / 600);
		int day = (int)((t - DAY0) / 86400);
		double hod = fmod((t - DAY0) / 3600.0, 24.0);
		double theft_step = 0;
		for (int s = 0; s < 2; s++) {
			if (s == 1 && t >= gap_from && t < gap_to)
				continue;       /* gw-b is away: nothing reported */
			fprintf(f, "{\"v\":1,\"sensor\":\"gw-%c\",\"seq\":%llu,\"start\":%.1f,\"end\":%.1f,"
				   "\"identities\":[",
				'a' + s, (unsigned long long)++seq[s], t, t1);
			int first = 1;
			for (int i = 0; i < nn; i++) {
				struct ident *id = &ids[i];
				if (id->sensor != s || t < id->from)
					continue;
				double bytes[MAXD + 2];
				uint8_t addr[MAXD + 2][4];
				int nd = 0;
				double base = id->rate * shape(id, t) * step *
					      exp(0.12 * gauss(11, (uint64_t)i, (uint64_t)day) - 0.0072) *
					      exp(0.45 * gauss(12, (uint64_t)i, blk) - 0.101);
				/* Deploys: some weekdays, 3x for 10-30 minutes in office hours. */
				int dow = day % 7;
				if (dow < 5 && u01(13, (uint64_t)i, (uint64_t)day) < 0.3) {
					double at = 10 + 7 * u01(14, (uint64_t)i, (uint64_t)day);
					double len = (10 + 20 * u01(15, (uint64_t)i, (uint64_t)day)) / 60;
					if (hod >= at && hod < at + len)
						base *= 3;
				}
				for (int k = 0; k < id->nd; k++) {
					struct dest *d = &id->d[k];
					if (t < d->from || t >= d->to)
						continue;
					double b = d->rate > 0 ? d->rate * step * (0.5 + u01(16, (uint64_t)i, blk * 31 + (uint64_t)k))
							       : base * d->w;
					if (b < 1)
						continue;
					bytes[nd] = b;
					memcpy(addr[nd], d->a, 4);
					nd++;
				}
				if (id->backup && hod >= 2 && hod < 3) {
					bytes[nd] = id->rate * 86400 * 0.15 * step / 3600;
					addr[nd][0] = 203; addr[nd][1] = 0; addr[nd][2] = 113;
					nd++;
				}
				for (int k = 0; k < th.nids; k++) {
					if (th.ids[k] != i)
						continue;
					double b = theft_bytes(&th, id, t, t1);
					if (b <= 0)
						break;
					theft_step += b;
					int hit = -1;
					if (th.dest_index >= 0)
						for (int j = 0; j < nd; j++)
							if (!memcmp(addr[j], id->d[th.dest_index].a, 4))
								hit = j;
					if (hit >= 0) {
						bytes[hit] += b;
					} else {
						bytes[nd] = b;
						memcpy(addr[nd], th.dest_index >= 0 ? id->d[th.dest_index].a : th.dst, 4);
						nd++;
					}
				}
				double total = 0;
				for (int k = 0; k < nd; k++)
					total += bytes[k];
				if (total < 1)
					continue;
				fprintf(f, "%s{\"identity\":\"%s\",\"out_bytes\":%.0f,\"out_packets\":%.0f,"
					   "\"in_bytes\":%.0f,\"in_packets\":%.0f,\"destinations\":[",
					first ? "" : ",", id->name, total, total / 1200 + 1, total / 20, total / 1200 + 1);
				first = 0;
				for (int k = 0; k < nd; k++) {
					fprintf(f, "%s{\"addr\":", k ? "," : "");
					put_addr(f, addr[k], 1 + (unsigned)(u01(17, (uint64_t)i, blk * 13 + (uint64_t)k) * 250));
					fprintf(f, ",\"port\":443,\"proto\":\"tcp\",\"bytes\":%.0f,\"packets\":%.0f}",
						bytes[k], bytes[k] / 1200 + 1);
				}
				fprintf(f, "]}");
			}
			fprintf(f, "],\"stats\":{\"packets_seen\":1,\"packets_undecoded\":0,\"drops_kernel\":0}}\n");
		}
		if (theft_step > 0 || (th.nids && t1 >= th.start && t <= th.end)) {
			cum += theft_step;
			fprintf(tf, "%s[%.0f,%.0f]", first_pt ? "" : ",", t1, cum);
			first_pt = 0;
		}
		t = t1;
	}
	fprintf(tf, "]}\n");
	if (fclose(f) != 0 || fclose(tf) != 0) {
		fprintf(stderr, "scenario_sim: write failed\n");
		return 1;
	}
	return 0;
}
