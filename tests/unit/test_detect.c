/*
 * detect engine: a burst above a learned seasonal baseline raises one alert
 * per episode with its evidence; an attack is not learned (lagged, frozen
 * learning) and a gap is not learned as silence; new destinations (to the
 * identity, to the organisation), fan-in, caps with per-identity overrides,
 * the allowlist within its cap, cold start against peers, drift; two rules
 * at once rank higher; the state survives save/load and bad input is
 * refused; detect_expected() says what an alert at that moment says.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "test.h"
#include "banned.h"

#define T0 1767571200.0         /* Monday 2026-01-05 00:00 UTC */
#define MB 1e6
#define GB 1e9

struct got {
	int n;
	char rule[64][32], ident[64][32];
	enum detect_severity sev[64];
	double time[64], observed[64], expected[64], threshold[64];
	unsigned samples[64], firing[64];
	char top[64][48];
	bool top_new_org[64];
	char version[64];
};

static void catch_alert(const struct detect_alert *a, void *ctx)
{
	struct got *g = ctx;
	if (g->n >= 64)
		return;
	int i = g->n++;
	snprintf(g->rule[i], sizeof(g->rule[i]), "%s", a->rule);
	snprintf(g->ident[i], sizeof(g->ident[i]), "%s", a->identity);
	g->sev[i] = a->severity;
	g->time[i] = a->time;
	g->observed[i] = a->observed;
	g->expected[i] = a->expected;
	g->threshold[i] = a->threshold;
	g->samples[i] = a->baseline_samples;
	g->firing[i] = a->rules_firing;
	g->top[i][0] = 0;
	if (a->ntop) {
		const uint8_t *b = a->top[0].prefix.b;
		snprintf(g->top[i], sizeof(g->top[i]), "%u.%u.%u.%u/%u", b[12], b[13], b[14], b[15],
			 a->top[0].plen - 96);
		g->top_new_org[i] = a->top[0].new_to_org;
	}
	snprintf(g->version, sizeof(g->version), "%s", a->config_version);
}

static int count(const struct got *g, const char *rule, const char *ident)
{
	int n = 0;
	for (int i = 0; i < g->n; i++)
		if ((!rule || !strcmp(g->rule[i], rule)) && (!ident || !strcmp(g->ident[i], ident)))
			n++;
	return n;
}

static int find(const struct got *g, const char *rule, const char *ident)
{
	for (int i = 0; i < g->n; i++)
		if (!strcmp(g->rule[i], rule) && (!ident || !strcmp(g->ident[i], ident)))
			return i;
	return -1;
}

static ew_addr v4(unsigned a, unsigned b, unsigned c, unsigned d)
{
	uint8_t x[4] = {(uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d};
	ew_addr r;
	addr_from_v4(&r, x);
	return r;
}

static struct detect_config cfg_default(void)
{
	struct detect_config c;
	detect_config_default(&c);
	c.seed[0] = 42;
	c.seed[1] = 43;
	snprintf(c.version, sizeof(c.version), "test-v7");
	return c;
}

/* One identity's hour: bytes to one destination, observed at the hour's start + 1 min. */
static void hour(struct detect_engine *e, const char *id, double h, double bytes, ew_addr dst)
{
	struct detect_dest_obs d = {dst, (uint64_t)bytes};
	CHECK(detect_observe(e, id, T0 + h * 3600 + 60, (uint64_t)bytes, &d, 1) == 0);
}

/* Normal traffic for identities "a".."a+n-1" for hours [h0, h1): 100 MB/h +-10%, to 52.216.<i>.x. */
static void normal(struct detect_engine *e, struct got *g, int n, double h0, double h1)
{
	for (double h = h0; h < h1; h++) {
		for (int i = 0; i < n; i++) {
			char name[16];
			snprintf(name, sizeof(name), "svc-%d", i);
			hour(e, name, h, 100 * MB * (1 + 0.1 * sin(h * 1.3 + i)), v4(52, 216, (unsigned)i, 9));
		}
		detect_tick(e, T0 + (h + 1) * 3600, catch_alert, g);
	}
}

static void test_burst_one_alert_per_episode_with_evidence(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 3, 0, 21 * 24);
	CHECK_EQ_U64(g.n, 0);
	/* 2 GB an hour for three hours to its usual destination. */
	for (double h = 21 * 24; h < 21 * 24 + 3; h++) {
		hour(e, "svc-1", h, 2 * GB, v4(52, 216, 1, 9));
		hour(e, "svc-0", h, 100 * MB, v4(52, 216, 0, 9));
		detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	}
	int i = find(&g, "burst-1h", "svc-1");
	CHECK(i >= 0);
	CHECK_EQ_U64(count(&g, "burst-1h", "svc-1"), 1);  /* one episode, one alert (already critical) */
	CHECK_EQ_U64(count(&g, NULL, "svc-0"), 0);
	if (i >= 0) {
		CHECK(g.sev[i] == DETECT_SEV_CRITICAL); /* 2 GB vs a 400 MB limit: ratio 5 */
		CHECK(g.time[i] == T0 + (21 * 24 + 1) * 3600);
		CHECK(g.expected[i] > 80 * MB && g.expected[i] < 120 * MB);
		CHECK(fabs(g.threshold[i] - 4 * g.expected[i]) < 1e6);
		CHECK(g.samples[i] >= 3);
		CHECK_STREQ(g.top[i], "52.216.1.0/24");
		CHECK_STREQ(g.version, "test-v7");
	}
	detect_free(e);
}

static void test_attack_is_not_learned(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 1, 0, 21 * 24);
	/* Three weeks at 2.5x: too little for the 1 h rule, plenty for 24 h. */
	for (double h = 21 * 24; h < 42 * 24; h++) {
		hour(e, "svc-0", h, 250 * MB * (1 + 0.1 * sin(h * 1.3)), v4(52, 216, 0, 9));
		detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	}
	/* Raised, then escalated when drift joined it; never on the hourly rule. */
	CHECK(count(&g, "burst-24h", NULL) >= 1);
	CHECK(count(&g, "drift-cusum", NULL) >= 1);
	CHECK_EQ_U64(count(&g, "burst-1h", NULL), 0);
	for (int k = 0; k < g.n; k++)
		printf("#   %s %s day %.1f\n", g.rule[k], detect_severity_name(g.sev[k]), (g.time[k] - T0) / 86400);
	/* Normal for eight days (the episodes end), then a burst. */
	normal(e, &g, 1, 42 * 24, 50 * 24);
	int before = g.n;
	hour(e, "svc-0", 50 * 24 + 5, 2 * GB, v4(52, 216, 0, 9));
	detect_tick(e, T0 + (50 * 24 + 6) * 3600, catch_alert, &g);
	int i = -1;
	for (int k = before; k < g.n; k++)
		if (!strcmp(g.rule[k], "burst-1h"))
			i = k;
	CHECK(i >= 0);
	/* Had the attack's hours been learned, 250 MB would be the norm now. */
	if (i >= 0)
		CHECK(g.expected[i] < 115 * MB);
	detect_free(e);
}

/* Runs three weeks, a two-day outage (marked as a gap or not), a week more; returns the 1 h expectation. */
static double expectation_after_outage(bool mark)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 1, 0, 21 * 24);
	if (mark)
		detect_mark_gap(e, "svc-0", T0 + 21 * 86400, T0 + 23 * 86400);
	for (double h = 21 * 24; h < 23 * 24; h++)
		detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	normal(e, &g, 1, 23 * 24, 28 * 24);
	/* A burst in a slot that had the outage: Monday 05:00 of week 5. */
	hour(e, "svc-0", 28 * 24 + 5, 3 * GB, v4(52, 216, 0, 9));
	detect_tick(e, T0 + (28 * 24 + 6) * 3600, catch_alert, &g);
	int i = find(&g, "burst-1h", "svc-0");
	double x = i >= 0 ? g.expected[i] : -1;
	detect_free(e);
	return x;
}

static void test_gap_is_not_learned_as_silence(void)
{
	double marked = expectation_after_outage(true), unmarked = expectation_after_outage(false);
	CHECK(marked > 95 * MB);
	/* The control: without the mark, the silence drags the slot down. */
	CHECK(unmarked > 0 && unmarked < 90 * MB);
}

static void test_new_destinations_org_and_identity(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 3, 0, 10 * 24);
	double h = 10 * 24 + 3;
	/* 300 MB to a prefix nobody used: high (new to the organisation). */
	hour(e, "svc-0", h, 300 * MB, v4(185, 220, 101, 7));
	/* 300 MB to svc-2's prefix (known to the org, new to svc-1): below 1 GB, nothing. */
	hour(e, "svc-1", h, 300 * MB, v4(52, 216, 2, 7));
	detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	int i = find(&g, "new-destination-org", "svc-0");
	CHECK(i >= 0);
	if (i >= 0) {
		CHECK(g.sev[i] == DETECT_SEV_HIGH);
		CHECK_STREQ(g.top[i], "185.220.101.0/24");
		CHECK(g.top_new_org[i]);
	}
	CHECK_EQ_U64(count(&g, NULL, "svc-1"), 0);
	/* 100 MB an hour more, over its usual 100 MB (no burst), for 9 hours: 1.2 GB new to it: medium. */
	for (double k = h + 1; k < h + 10; k++) {
		hour(e, "svc-1", k, 100 * MB, v4(52, 216, 2, 8));
		hour(e, "svc-1", k, 100 * MB, v4(52, 216, 1, 8));
		detect_tick(e, T0 + (k + 1) * 3600, catch_alert, &g);
	}
	i = find(&g, "new-destination", "svc-1");
	CHECK(i >= 0);
	if (i >= 0) {
		CHECK(g.sev[i] == DETECT_SEV_MEDIUM);
		CHECK_EQ_U64(g.firing[i], 1);
		CHECK(g.time[i] >= T0 + (h + 8) * 3600 && g.time[i] <= T0 + (h + 9) * 3600); /* 1 GB crossed */
	}
	CHECK_EQ_U64(count(&g, NULL, "svc-1"), 1);
	CHECK_EQ_U64(count(&g, "new-destination-org", "svc-1"), 0);
	detect_free(e);
}

static void test_fanin_one_new_prefix_many_identities(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 5, 0, 10 * 24);
	double h = 10 * 24 + 3;
	/* 3 x 255 MB, below the per-identity 256 MB limit: nothing yet. */
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "svc-%d", i);
		hour(e, name, h, 255 * MB, v4(185, 220, 103, (unsigned)(10 + i)));
	}
	detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	CHECK_EQ_U64(g.n, 0);
	/* A fourth: 1.02 GB in all from 4 identities. */
	hour(e, "svc-3", h + 1, 255 * MB, v4(185, 220, 103, 20));
	detect_tick(e, T0 + (h + 1) * 3600 + 600, catch_alert, &g);
	CHECK_EQ_U64(count(&g, "fan-in", NULL), 4);
	CHECK_EQ_U64(count(&g, "fan-in", "svc-4"), 0);
	detect_free(e);
}

static void test_caps_overrides_and_allowlist(void)
{
	struct detect_config c = cfg_default();
	struct detect_override ov;
	memset(&ov, 0, sizeof(ov));
	snprintf(ov.identity, sizeof(ov.identity), "db-*");
	ov.rules = c.rules;
	ov.rules.cap[DETECT_W1H] = 1000 * MB;
	c.overrides = &ov;
	c.noverrides = 1;
	c.allow[0].prefix = v4(203, 0, 113, 0);
	c.allow[0].plen = 120;
	c.allow[0].cap_per_day = 10 * GB;
	c.nallow = 1;
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	/* Day one, still learning: only caps judge. */
	hour(e, "db-1", 1, 1500 * MB, v4(52, 216, 0, 1));
	hour(e, "web-1", 1, 1500 * MB, v4(52, 216, 0, 1));
	detect_tick(e, T0 + 2 * 3600, catch_alert, &g);
	CHECK_EQ_U64(count(&g, "cap-1h", "db-1"), 1);
	CHECK_EQ_U64(count(&g, NULL, "web-1"), 0);
	CHECK(g.n == 1 && g.sev[0] == DETECT_SEV_HIGH);
	/* Allowlisted within its cap: not counted, so under the db cap. */
	hour(e, "db-2", 3, 5 * GB, v4(203, 0, 113, 5));
	detect_tick(e, T0 + 4 * 3600, catch_alert, &g);
	CHECK_EQ_U64(count(&g, NULL, "db-2"), 0);
	/* Past the day's cap: 10 GB more, 5 GB of it counted. */
	hour(e, "db-2", 5, 10 * GB, v4(203, 0, 113, 5));
	detect_tick(e, T0 + 6 * 3600, catch_alert, &g);
	int i = find(&g, "cap-1h", "db-2");
	CHECK(i >= 0);
	if (i >= 0)
		CHECK(fabs(g.observed[i] - 5 * GB) < 1e7);
	detect_free(e);
}

static void test_two_rules_rank_higher(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 2, 0, 21 * 24);
	double h = 21 * 24 + 3;
	/* 600 MB (6x) to a prefix new to the org: burst-1h medium and new-org high, both raised. */
	hour(e, "svc-0", h, 600 * MB, v4(185, 220, 101, 7));
	detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	int b = find(&g, "burst-1h", "svc-0"), o = find(&g, "new-destination-org", "svc-0");
	CHECK(b >= 0 && o >= 0);
	if (b >= 0 && o >= 0) {
		CHECK(g.sev[b] == DETECT_SEV_HIGH);
		CHECK(g.sev[o] == DETECT_SEV_CRITICAL);
		CHECK_EQ_U64(g.firing[b], 2);
	}
	detect_free(e);
}

static void test_cold_start_against_peers(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 6, 0, 10 * 24);
	double h = 10 * 24 + 3;
	/* A newcomer at 500 MB/h (under the 1 GB floor) is fine ... */
	hour(e, "newbie", h, 500 * MB, v4(52, 216, 1, 1));
	/* ... one at 5 GB/h to a known prefix is not. */
	hour(e, "intruder", h, 5 * GB, v4(52, 216, 1, 1));
	detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	CHECK_EQ_U64(count(&g, NULL, "newbie"), 0);
	int i = find(&g, "cold-start-1h", "intruder");
	CHECK(i >= 0);
	if (i >= 0) {
		CHECK(g.sev[i] >= DETECT_SEV_MEDIUM);
		CHECK(g.threshold[i] >= 1 * GB);
	}
	CHECK_EQ_U64(count(&g, "burst-1h", "intruder"), 0);        /* no baseline yet */
	detect_free(e);
}

static void test_drift_catches_slow_leak(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 1, 0, 28 * 24);
	CHECK_EQ_U64(g.n, 0);
	/* +50% a day (2.4 GB/day over ~2.4 GB) to its own destination: no hourly rule can see it. */
	for (double h = 28 * 24; h < 38 * 24 && !count(&g, "drift-cusum", NULL); h++) {
		hour(e, "svc-0", h, 150 * MB * (1 + 0.1 * sin(h * 1.3)), v4(52, 216, 0, 9));
		detect_tick(e, T0 + (h + 1) * 3600, catch_alert, &g);
	}
	int i = find(&g, "drift-cusum", "svc-0");
	CHECK(i >= 0);
	if (i >= 0)
		CHECK(g.time[i] <= T0 + 31 * 86400);
	CHECK_EQ_U64(count(&g, "burst-1h", NULL), 0);
	detect_free(e);
}

/* Checks each burst alert against detect_expected at the alert's own time and window. */
struct expect_check {
	struct detect_engine *e;
	int burst[DETECT_NWIN], same[DETECT_NWIN];
};

static void check_expected(const struct detect_alert *a, void *ctx)
{
	struct expect_check *c = ctx;
	if (strncmp(a->rule, "burst-", 6) != 0)
		return;
	int w = a->window_s == 3600 ? DETECT_W1H : a->window_s == 86400 ? DETECT_W24H : DETECT_W7D;
	uint64_t x = 0, s = 0;
	int rc = detect_expected(c->e, a->identity, a->time, a->window_s, &x, &s);
	/* the very numbers of the alert's JSON */
	char want[96], *json = detect_alert_to_json(a, NULL);
	snprintf(want, sizeof(want), "\"baseline_bytes\":%llu,\"threshold_bytes\":%llu,\"spread_bytes\":%llu,",
		 (unsigned long long)x, (unsigned long long)(uint64_t)a->threshold, (unsigned long long)s);
	if (rc == 0 && x > 0 && s > 0 && json && strstr(json, want))
		c->same[w]++;
	else
		printf("# %s %s: detect_expected %d: %s; alert %s\n", a->identity, a->rule, rc, want, json);
	free(json);
	c->burst[w]++;
}

/*
 * detect_expected() says what an alert raised at the same moment says:
 * the same expected and spread in every window; -1 for an
 * unknown identity, one still learning, a window the detector does not
 * model; and reading it changes no state.
 */
static void test_expected_matches_the_alert(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct expect_check k = {.e = e};
	struct got g = {0};
	uint64_t x = 7, s = 7;
	CHECK(detect_expected(e, "svc-0", T0, 3600, &x, &s) == -1);          /* nobody yet */
	normal(e, &g, 3, 0, 2 * 24);
	CHECK(detect_expected(e, "svc-0", T0 + 2 * 86400, 3600, &x, &s) == -1);     /* learning */
	normal(e, &g, 3, 2 * 24, 21 * 24);
	double now = T0 + 21 * 86400;
	CHECK(detect_expected(e, "svc-0", now, 3600, &x, &s) == 0);
	CHECK(x > 80 * MB && x < 120 * MB && s > 0);
	CHECK(detect_expected(e, "svc-0", now, 86400, &x, &s) == 0);
	CHECK(x > 2 * GB && x < 2.8 * GB);
	CHECK(detect_expected(e, "svc-0", now, 604800, &x, &s) == 0);
	CHECK(x > 14 * GB && x < 19 * GB);
	CHECK(detect_expected(e, "nobody", now, 3600, &x, &s) == -1);
	CHECK(detect_expected(e, "svc-0", now, 60, &x, &s) == -1);          /* not a modelled window */
	CHECK(detect_expected(e, "svc-0", NAN, 3600, &x, &s) == -1);
	hour(e, "newbie", 21 * 24, 100 * MB, v4(52, 216, 9, 9));
	detect_tick(e, now + 600, catch_alert, &g);
	CHECK(detect_expected(e, "newbie", now + 600, 3600, &x, &s) == -1);  /* cold */
	CHECK(detect_expected(e, "svc-0", now + 600, 3600, &x, &s) == 0);
	unsigned char *before, *after;
	size_t nb, na;
	CHECK(detect_save(e, &before, &nb) == 0);
	for (int i = 0; i < 3; i++)
		detect_expected(e, "svc-1", now + 600, 86400, &x, &s);
	CHECK(detect_save(e, &after, &na) == 0);
	CHECK(nb == na && memcmp(before, after, nb) == 0);
	free(before);
	free(after);
	/* svc-1 at 2 GB an hour for a day, judged mid-hour and on the hour: every window bursts. */
	for (double h = 21 * 24 + 1; h < 22 * 24; h++) {
		hour(e, "svc-1", h, 2 * GB, v4(52, 216, 1, 9));
		hour(e, "svc-0", h, 100 * MB, v4(52, 216, 0, 9));
		detect_tick(e, T0 + (h + 1) * 3600 - 900, check_expected, &k);
		detect_tick(e, T0 + (h + 1) * 3600, check_expected, &k);
	}
	CHECK(k.burst[DETECT_W1H] >= 1 && k.burst[DETECT_W24H] >= 1 && k.burst[DETECT_W7D] >= 1);
	for (int w = 0; w < DETECT_NWIN; w++)
		CHECK_EQ_U64(k.same[w], k.burst[w]);
	detect_free(e);
}

static void test_state_round_trip_and_bad_state(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	struct got g = {0};
	normal(e, &g, 3, 0, 21 * 24);
	unsigned char *buf;
	size_t len;
	CHECK(detect_save(e, &buf, &len) == 0);
	struct detect_engine *r = detect_load(&c, buf, len, err, sizeof(err));
	CHECK(r != NULL);
	struct got g1 = {0}, g2 = {0};
	hour(e, "svc-1", 21 * 24, 2 * GB, v4(52, 216, 1, 9));
	detect_tick(e, T0 + (21 * 24 + 1) * 3600, catch_alert, &g1);
	if (r) {
		hour(r, "svc-1", 21 * 24, 2 * GB, v4(52, 216, 1, 9));
		detect_tick(r, T0 + (21 * 24 + 1) * 3600, catch_alert, &g2);
	}
	CHECK(g1.n == 1 && g2.n == 1);
	CHECK(g1.expected[0] == g2.expected[0]);
	/* Truncated, corrupted, or under another seed: refused, no crash. */
	CHECK(detect_load(&c, buf, len - 1, err, sizeof(err)) == NULL);
	CHECK(detect_load(&c, buf, 10, err, sizeof(err)) == NULL);
	buf[0] ^= 0xff;
	CHECK(detect_load(&c, buf, len, err, sizeof(err)) == NULL);
	buf[0] ^= 0xff;
	struct detect_config c2 = c;
	c2.seed[0] = 99;
	CHECK(detect_load(&c2, buf, len, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "seed") != NULL);
	free(buf);
	detect_free(r);
	detect_free(e);
	detect_free(NULL);
}

static void test_bad_input_is_refused(void)
{
	struct detect_config c = cfg_default();
	char err[256];
	c.max_identities = 2;
	struct detect_engine *e = detect_new(&c, err, sizeof(err));
	ew_addr a = v4(1, 2, 3, 4);
	struct detect_dest_obs d = {a, 5};
	CHECK(detect_observe(e, "", T0, 5, &d, 1) == -1);
	CHECK(detect_observe(e, "bad name", T0, 5, &d, 1) == -1);
	CHECK(detect_observe(e, "ok", NAN, 5, &d, 1) == -1);
	CHECK(detect_observe(e, "ok", T0, 5, NULL, 3) == -1);
	CHECK(detect_observe(e, "a", T0, 5, &d, 1) == 0);
	CHECK(detect_observe(e, "b", T0, 5, &d, 1) == 0);
	CHECK(detect_observe(e, "c", T0, 5, &d, 1) == -1);      /* over max_identities */
	CHECK(detect_observe(e, "a", T0 - 200 * 3600, 5, &d, 1) == -1);     /* older than the ring */
	detect_tick(e, T0 + 60, NULL, NULL);
	CHECK(detect_observe(e, "a", T0 + 50 * 3600, 5, &d, 1) == -1);      /* far ahead of the clock */
	CHECK(detect_observe(e, "a", T0 + 3 * 3600, 5, &d, 1) == 0);
	detect_tick(e, -1, NULL, NULL);
	detect_mark_gap(e, NULL, 10, 5);
	struct detect_stats st;
	detect_get_stats(e, &st);
	CHECK_EQ_U64(st.identities, 2);
	CHECK_EQ_U64(st.identities_refused, 1);
	CHECK_EQ_U64(st.late_dropped, 1);
	CHECK_EQ_U64(st.bad_input, 7);
	struct detect_config bad = cfg_default();
	bad.prefix_v4 = 40;
	CHECK(detect_new(&bad, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "prefix") != NULL);
	detect_free(e);
}

static void test_identity_state_is_bounded(void)
{
	struct detect_config c = cfg_default();
	size_t per = detect_identity_bytes(&c);
	printf("# bytes per identity: %zu (known_per_identity %zu)\n", per, c.known_per_identity);
	CHECK(per < 8192);
	c.known_per_identity = 32;
	CHECK(detect_identity_bytes(&c) < per);
}

TEST_MAIN(test_burst_one_alert_per_episode_with_evidence, test_attack_is_not_learned,
	  test_gap_is_not_learned_as_silence, test_new_destinations_org_and_identity,
	  test_fanin_one_new_prefix_many_identities, test_caps_overrides_and_allowlist,
	  test_two_rules_rank_higher, test_cold_start_against_peers, test_drift_catches_slow_leak,
	  test_expected_matches_the_alert, test_state_round_trip_and_bad_state, test_bad_input_is_refused,
	  test_identity_state_is_bounded)
