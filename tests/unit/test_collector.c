/*
 * test_collector: the collector's pure modules: config (units, every error
 * as FILE:LINE), windows maths, baselines (the detector's, else the rules'),
 * rules (cap, baseline multiple with floor, allowlist cap and schedule,
 * overrides), episodes and escalation, exactly-once application and the
 * state blobs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector_config.h"
#include "engine.h"
#include "rules.h"
#include "units.h"
#include "test.h"
#include "banned.h"

#define T0 1742342400.0   /* 2025-03-19 00:00:00 UTC, a whole day */

static struct collector_config *cfg_of(const char *text, struct diag *d)
{
	memset(d, 0, sizeof(*d));
	return collector_config_load_string("t.conf", text, d);
}

static bool has_msg(const struct diag *d, const char *want)
{
	for (unsigned i = 0; i < d->count && i < DIAG_MAX; i++)
		if (strstr(d->msg[i], want))
			return true;
	for (unsigned i = 0; i < d->count && i < DIAG_MAX; i++)
		fprintf(stderr, "  diag: %s\n", d->msg[i]);
	fprintf(stderr, "  wanted: %s\n", want);
	return false;
}

static void test_units(void)
{
	uint64_t b;
	double s;
	CHECK(units_parse_bytes("10GB", &b) == 0);
	CHECK_EQ_U64(b, 10000000000ULL);
	CHECK(units_parse_bytes("500MiB", &b) == 0);
	CHECK_EQ_U64(b, 500ULL << 20);
	CHECK(units_parse_bytes("10 XB", &b) == -1);
	CHECK(units_parse_duration("1h", &s) == 0 && s == 3600);
	CHECK(units_parse_duration("7d", &s) == 0 && s == 604800);
	unsigned f, t;
	CHECK(collector_config_parse_hours("01:00-05:00", &f, &t) == 0 && f == 60 && t == 300);
	CHECK(collector_config_parse_hours("22:30-04:00", &f, &t) == 0 && f == 1350 && t == 240);
	CHECK(collector_config_parse_hours("25:00-01:00", &f, &t) == -1);
	CHECK(collector_config_parse_hours("01:00-01:00", &f, &t) == -1);
	CHECK(collector_config_parse_hours("1-5", &f, &t) == -1);
}

static void test_config_example(void)
{
	struct diag d = {0};
	struct collector_config *c = collector_config_load("configs/collector.conf", &d);
	if (!c)
		diag_print(&d, stderr);
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(c->nrules >= 3);
	CHECK(collector_config_rule_index(c, "volume-1h") >= 0);
	CHECK(collector_config_rule_index(c, "daily-24h") >= 0);
	CHECK(collector_config_rule_index(c, "weekly-7d") >= 0);
	CHECK(c->nallows >= 1 && c->ngroups >= 1 && c->nidents >= 1);
	collector_config_free(c);
}

static void test_config_errors(void)
{
	struct diag d;
	const char *text = "[collector]\n"                 /* 1 */
			   "bogus = 1\n"                   /* 2 */
			   "batch = 0\n"                   /* 3 */
			   "[rule r1]\n"                   /* 4 */
			   "window = 90s\n"                /* 5 */
			   "max_bytes = 10XB\n"            /* 6 */
			   "severity = loud\n"             /* 7 */
			   "[rule r2]\n"                   /* 8 */
			   "window = 1h\n"                 /* 9 */
			   "[group g]\n"                   /* 10 */
			   "members = web-*\n"             /* 11 */
			   "nope.max_bytes = 1GB\n"        /* 12 */
			   "r2.bogus = 1\n"                /* 13 */
			   "[allow a]\n"                   /* 14 */
			   "cidrs = 10.0.0.0/33\n"         /* 15 */
			   "hours = 25:00-01:00\n"         /* 16 */
			   "[weird x]\n"                   /* 17 */
			   "k = v\n"                       /* 18 */
			   "no equals sign\n"              /* 19 */
			   "[rule r2]\n"                   /* 20 */
			   "window = 2h\n";                /* 21 */
	struct collector_config *c = cfg_of(text, &d);
	CHECK(c == NULL);
	CHECK(has_msg(&d, "t.conf:2: unknown key \"bogus\" in [collector]"));
	CHECK(has_msg(&d, "t.conf:3: batch"));
	CHECK(has_msg(&d, "t.conf:5: window"));
	CHECK(has_msg(&d, "t.conf:6: max_bytes: not a size"));
	CHECK(has_msg(&d, "t.conf:7: severity"));
	CHECK(has_msg(&d, "t.conf:8: [rule r2]: needs max_bytes or baseline_multiple"));
	CHECK(has_msg(&d, "t.conf:12: override of unknown rule \"nope\""));
	CHECK(has_msg(&d, "t.conf:13: unknown key \"bogus\""));
	CHECK(has_msg(&d, "t.conf:15: cidrs"));
	CHECK(has_msg(&d, "t.conf:16: hours"));
	CHECK(has_msg(&d, "t.conf:17: unknown section [weird x]"));
	CHECK(has_msg(&d, "t.conf:19:"));
	CHECK(has_msg(&d, "t.conf:21: \"window\" set twice in [rule r2]"));
	/* no rules at all is an error too */
	c = cfg_of("[collector]\nbatch = 5\n[detect]\nenabled = off\n", &d);
	CHECK(c == NULL && has_msg(&d, "no [rule NAME] section"));
}

/* Mistakes that used to pass: each at its own line, each once. */
static void test_config_errors_strict(void)
{
	struct diag d;
	const char *text = "[collector]\n"                 /* 1 */
			   "http = 127.0.0.1:99999\n"      /* 2 */
			   "[rule a]\n"                    /* 3 */
			   "window = 1h\n"                 /* 4 */
			   "max_bytes = 1GB\n"             /* 5 */
			   "[rule  a]\n"                   /* 6 */
			   "max_bytes = 1000TB\n"          /* 7 */
			   "[rule b]\n"                    /* 8 */
			   "window = 90x\n"                /* 9 */
			   "max_bytes = 1GB\n"             /* 10 */
			   "[group g]\n"                   /* 11 */
			   "[allow x]\n"                   /* 12 */
			   "cidrs = 203.0.113.7/8\n"       /* 13 */
			   "[allow y]\n"                   /* 14 */
			   "[rule empty]\n"                /* 15 */
			   "[weird]\n"                     /* 16 */
			   "k = v\n";                      /* 17 */
	struct collector_config *c = cfg_of(text, &d);
	CHECK(c == NULL);
	CHECK(has_msg(&d, "t.conf:2: http: \"off\", host:port or [v6]:port"));
	CHECK(has_msg(&d, "t.conf:7: \"max_bytes\" set twice in [rule  a]"));
	CHECK(has_msg(&d, "t.conf:9: window: not a duration"));
	CHECK(has_msg(&d, "t.conf:11: [group g]: no members"));
	CHECK(has_msg(&d, "t.conf:13: cidrs: \"203.0.113.7/8\" has bits set past its prefix length "
			  "(the network is 203.0.0.0/8)"));
	CHECK(has_msg(&d, "t.conf:14: [allow y]: cidrs is required"));
	CHECK(has_msg(&d, "t.conf:15: [rule empty]: window is required"));
	CHECK(has_msg(&d, "t.conf:16: unknown section [weird]"));
	CHECK_EQ_U64(d.count, 9); /* the above and "needs max_bytes" for the empty rule: no echoes */
	for (unsigned i = 0; i < d.count && i < DIAG_MAX; i++)
		CHECK(!strstr(d.msg[i], "[rule b]: window is required") && !strstr(d.msg[i], ":17:"));
	c = cfg_of("[collector]\nhttp = [::1]:0\n[rule r]\nwindow = 1h\nmax_bytes = 1GB\n", &d);
	CHECK(c != NULL);
	collector_config_free(c);
}

/* [detect] keys map onto detect_config; [detect PATTERN] inherits what it
 * does not set; [allow] networks become the detector's allowlist. */
static void test_detect_config(void)
{
	struct diag d = {0};
	struct collector_config *c = cfg_of(
		"[detect]\n"
		"cap_1h = 5GB\n"
		"new_org_destination_bytes = 100MB\n"
		"burst_multiple_24h = 3\n"
		"learning = 3d\n"
		"prefix_v4 = 16\n"
		"[detect db-*]\n"
		"cap_1h = 50GB\n"
		"[allow backup]\n"
		"cidrs = 203.0.113.0/24, 2001:db8::/32\n"
		"max_bytes_per_day = 1GB\n"
		"[rule r]\nwindow = 1h\nmax_bytes = 1TB\n",
		&d);
	CHECK(c != NULL);
	if (!c) {
		diag_print(&d, stderr);
		return;
	}
	CHECK(c->detect_enabled);
	CHECK_EQ_U64(c->detect.rules.cap[0], 5000000000ULL);
	CHECK_EQ_U64(c->detect.rules.new_org_bytes, 100000000ULL);
	CHECK(c->detect.rules.burst_mult[1] == 3);
	CHECK(c->detect.learning_s == 3 * 86400.0);
	CHECK(c->detect.prefix_v4 == 16);
	CHECK(c->detect.noverrides == 1 && strcmp(c->detect.overrides[0].identity, "db-*") == 0);
	CHECK_EQ_U64(c->detect.overrides[0].rules.cap[0], 50000000000ULL);
	/* inherited from [detect], set after the override's own section */
	CHECK_EQ_U64(c->detect.overrides[0].rules.new_org_bytes, 100000000ULL);
	CHECK(c->detect.nallow == 2);
	CHECK(c->detect.allow[0].plen == 120 && c->detect.allow[1].plen == 32);
	CHECK_EQ_U64(c->detect.allow[0].cap_per_day, 1000000000ULL);
	CHECK(strcmp(c->detect.version, c->version) == 0);
	collector_config_free(c);

	memset(&d, 0, sizeof(d));
	c = cfg_of("[detect]\ncap_1h = lots\nbogus = 1\n[detect bad name!]\ncap_1h = 1GB\n"
		   "[detect web]\nlearning = 1d\n[rule r]\nwindow = 1h\nmax_bytes = 1TB\n",
		   &d);
	CHECK(c == NULL);
	CHECK(has_msg(&d, "t.conf:2: cap_1h"));
	CHECK(has_msg(&d, "t.conf:3: unknown key \"bogus\" in [detect]"));
	CHECK(has_msg(&d, "t.conf:4: [detect bad name!]"));
	CHECK(has_msg(&d, "t.conf:7: unknown key \"learning\" in [detect web]"));
	collector_config_free(c);
}

static const char *base_conf =
	"[collector]\nmax_identities = 3\n"
	"[rule burst-1h]\nwindow = 1h\nmax_bytes = 1000\nseverity = medium\n"
	"[rule daily-24h]\nwindow = 24h\nbaseline_multiple = 4\nmin_bytes = 500\n"
	"[group web]\nmembers = web-*\nburst-1h.max_bytes = 5000\n"
	"[identity web-prod]\nburst-1h.max_bytes = 100\nburst-1h.severity = high\n"
	"[allow backup]\ncidrs = 203.0.113.0/24\nmax_bytes_per_day = 3000\nhours = 01:00-05:00\n"
	"members = db-*\n";

static void test_overrides(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(base_conf, &d);
	CHECK(c != NULL);
	if (!c)
		return;
	int gi, ii;
	struct rule_params p;
	collector_config_match(c, "web-prod", &gi, &ii);
	CHECK(gi == 0 && ii == 0);
	collector_config_params(c, 0, gi, ii, &p);
	CHECK_EQ_U64(p.max_bytes, 100);         /* identity wins over the group */
	CHECK(p.severity == SEV_HIGH);
	collector_config_match(c, "web-dev", &gi, &ii);
	collector_config_params(c, 0, gi, ii, &p);
	CHECK_EQ_U64(p.max_bytes, 5000);        /* the group's */
	CHECK(p.severity == SEV_MEDIUM);
	collector_config_match(c, "db-1", &gi, &ii);
	CHECK(gi == -1 && ii == -1);
	collector_config_params(c, 0, gi, ii, &p);
	CHECK_EQ_U64(p.max_bytes, 1000);        /* the rule's */
	CHECK(collector_config_allow_applies(&c->allows[0], "db-1"));
	CHECK(!collector_config_allow_applies(&c->allows[0], "web-prod"));
	collector_config_free(c);
}

static void test_rules_cap_and_baseline(void)
{
	struct rule_params p = {.enabled = true, .max_bytes = 1000, .severity = SEV_MEDIUM};
	struct rules_verdict v;
	rules_evaluate(&p, 1000, 0, false, &v);
	CHECK(!v.holds && v.threshold == 1000);         /* at the cap is not over it */
	rules_evaluate(&p, 1001, 0, false, &v);
	CHECK(v.holds && v.level == 0 && v.severity == SEV_MEDIUM);
	rules_evaluate(&p, 2000, 0, false, &v);
	CHECK(v.holds && v.level == 1 && v.severity == SEV_MEDIUM);
	rules_evaluate(&p, 4000, 0, false, &v);
	CHECK(v.level == 2 && v.severity == SEV_HIGH);  /* x4: one severity step */
	rules_evaluate(&p, 1000000, 0, false, &v);
	CHECK(v.severity == SEV_CRITICAL);
	p.enabled = false;
	rules_evaluate(&p, 1000000, 0, false, &v);
	CHECK(!v.holds);

	struct rule_params b = {.enabled = true, .baseline_multiple = 4, .min_bytes = 500,
				.severity = SEV_LOW};
	rules_evaluate(&b, 450, 100, true, &v);         /* 4 x 100 = 400 < floor 500 */
	CHECK(!v.holds && v.threshold == 500);
	rules_evaluate(&b, 501, 100, true, &v);
	CHECK(v.holds && v.threshold == 500);
	rules_evaluate(&b, 3000, 1000, true, &v);       /* 4 x 1000 = 4000 */
	CHECK(!v.holds && v.threshold == 4000);
	rules_evaluate(&b, 4001, 1000, true, &v);
	CHECK(v.holds);
	rules_evaluate(&b, 600, 0, false, &v);          /* no history: the floor */
	CHECK(v.holds && v.threshold == 500);
	b.min_bytes = 0;
	rules_evaluate(&b, 1u << 30, 0, false, &v);     /* no history, no floor: cannot judge */
	CHECK(!v.holds && v.threshold == 0);
	/* both limits: the lower one is in force */
	struct rule_params both = {.enabled = true, .max_bytes = 3000, .baseline_multiple = 2,
				   .min_bytes = 100};
	rules_evaluate(&both, 2500, 1000, true, &v);
	CHECK(v.holds && v.threshold == 2000);
	rules_evaluate(&both, 2500, 5000, true, &v);
	CHECK(!v.holds && v.threshold == 3000);
	/* huge numbers do not overflow */
	struct rule_params h = {.enabled = true, .max_bytes = 1};
	rules_evaluate(&h, UINT64_MAX, 0, false, &v);
	CHECK(v.holds && v.level <= RULES_LEVEL_MAX);
}

static void test_episodes(void)
{
	struct rules_episode ep;
	memset(&ep, 0, sizeof(ep));
	struct rules_verdict hold0 = {true, 1000, 0, SEV_LOW}, hold1 = {true, 1000, 1, SEV_LOW},
			     hold3 = {true, 1000, 3, SEV_MEDIUM}, no = {false, 1000, 0, SEV_LOW};
	int lvl = -1;
	double w = 3600;
	CHECK(rules_episode_step(&ep, &hold0, 100, w, 7, true, &lvl) && lvl == 0);
	CHECK(ep.open && ep.start == 100 && ep.baseline == 7);
	CHECK(!rules_episode_step(&ep, &hold0, 200, w, 9, true, &lvl));   /* same episode */
	CHECK(ep.baseline == 7);                                            /* frozen */
	CHECK(rules_episode_step(&ep, &hold1, 300, w, 9, true, &lvl) && lvl == 1);  /* doubled */
	CHECK(!rules_episode_step(&ep, &hold1, 400, w, 9, true, &lvl));
	CHECK(!rules_episode_step(&ep, &hold0, 450, w, 9, true, &lvl));    /* lower: no re-raise */
	CHECK(rules_episode_step(&ep, &hold3, 500, w, 9, true, &lvl) && lvl == 3);
	/* stops holding, but for less than a window: still the same episode */
	CHECK(!rules_episode_step(&ep, &no, 600, w, 9, true, &lvl));
	CHECK(!rules_episode_step(&ep, &hold0, 600 + w - 200, w, 9, true, &lvl));
	CHECK(ep.start == 100);
	/* quiet for a full window: the episode ends, the next hold is a new one */
	CHECK(!rules_episode_step(&ep, &no, 600 + 2 * w, w, 9, true, &lvl));
	CHECK(!ep.open);
	CHECK(rules_episode_step(&ep, &hold0, 600 + 2 * w + 10, w, 11, true, &lvl) && lvl == 0);
	CHECK(ep.start == 600 + 2 * w + 10 && ep.baseline == 11);
}

/* A one-identity report. */
static void mk(struct report *r, struct report_identity *id, struct report_dest *dst,
	       const char *sensor, uint64_t seq, double start, double end, const char *name,
	       uint64_t bytes, const char *daddr, uint64_t dbytes)
{
	memset(r, 0, sizeof(*r));
	memset(id, 0, sizeof(*id));
	snprintf(r->sensor, sizeof(r->sensor), "%s", sensor);
	r->seq = seq;
	r->start = start;
	r->end = end;
	snprintf(id->name, sizeof(id->name), "%s", name);
	id->out_bytes = bytes;
	id->out_packets = bytes / 100;
	id->in_bytes = 1;
	r->ids = id;
	r->nids = 1;
	if (daddr) {
		memset(dst, 0, sizeof(*dst));
		addr_parse(daddr, &dst->addr);
		dst->bytes = dbytes;
		dst->packets = 1;
		dst->port = 443;
		dst->proto = 6;
		id->dests = dst;
		id->ndests = 1;
	}
}

static void test_windows(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(base_conf, &d);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	/* 10 reports of 60 s each from T0, 100 bytes each; then one 10-minute
	 * report of 600 bytes spanning minutes 10..19 */
	for (int i = 0; i < 10; i++) {
		mk(&r, &id, &dst, "s1", (uint64_t)i + 1, T0 + i * 60, T0 + (i + 1) * 60, "db-1", 100, NULL, 0);
		CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	}
	mk(&r, &id, &dst, "s1", 11, T0 + 600, T0 + 1200, "db-1", 600, NULL, 0);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	const struct engine_ident *x = engine_ident_find(e, "db-1");
	CHECK(x != NULL);
	if (!x)
		goto out;
	CHECK(engine_now(e) == T0 + 1200);
	struct engine_window w;
	engine_window(x, T0 + 1200, 3600, &w);
	CHECK_EQ_U64(w.bytes, 1600);
	engine_window(x, T0 + 1200, 300, &w);           /* last 5 minutes: half the long report */
	CHECK_EQ_U64(w.bytes, 300);
	engine_window(x, T0 + 1200, 660, &w);           /* 11 minutes: 600 + minute 9 */
	CHECK_EQ_U64(w.bytes, 700);
	engine_window(x, T0 + 3600 + 120, 3600, &w);    /* the first two minutes have slid out */
	CHECK_EQ_U64(w.bytes, 1400);
	engine_window(x, T0 + 1200, 86400, &w);
	CHECK_EQ_U64(w.bytes, 1600);
	engine_window(x, T0 + 86400 + 3600, 86400, &w); /* a day later: hour 0 is out */
	CHECK_EQ_U64(w.bytes, 0);
	CHECK_EQ_U64(x->t.out_bytes, 1600);
	CHECK_EQ_U64(x->t.reports, 11);
	/* A late report older than the minute ring still counts in totals and
	 * the hour ring. */
	mk(&r, &id, &dst, "s1", 12, T0 - 4 * 3600, T0 - 4 * 3600 + 60, "db-1", 50, NULL, 0);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	engine_window(x, T0 + 1200, 86400, &w);
	CHECK_EQ_U64(w.bytes, 1650);
	CHECK_EQ_U64(x->t.out_bytes, 1650);
out:
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

static size_t count_rule(const struct engine_alerts *al, const char *rule)
{
	char pat[96];
	snprintf(pat, sizeof(pat), "\"rule\":\"%s\"", rule);
	size_t n = 0;
	for (size_t i = 0; i < al->n; i++)
		n += strstr(al->v[i].json, pat) != NULL;
	return n;
}

static void test_baseline(void)
{
	struct diag d;
	struct collector_config *c = cfg_of("[rule burst-1h]\nwindow = 1h\nmax_bytes = 1000\n"
					   "[rule daily-24h]\nwindow = 24h\nbaseline_multiple = 4\n"
					   "min_bytes = 10000\n", &d);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	/* 48 hours of 360 bytes per hour, one report per hour */
	for (int h = 0; h < 48; h++) {
		mk(&r, &id, &dst, "s1", (uint64_t)h + 1, T0 + h * 3600, T0 + (h + 1) * 3600, "db-1", 360, NULL, 0);
		engine_apply(e, &r, &al, err, sizeof(err));
	}
	const struct engine_ident *x = engine_ident_find(e, "db-1");
	uint64_t b = 0;
	CHECK(engine_baseline(e, x, T0 + 48 * 3600, 3600, &b));
	CHECK_EQ_U64(b, 360);
	CHECK(engine_baseline(e, x, T0 + 48 * 3600, 86400, &b));
	CHECK_EQ_U64(b, 360 * 24);
	/* history shorter than the window: no baseline */
	CHECK(!engine_baseline(e, x, T0 + 48 * 3600, 7 * 86400, &b));
	/* 8640 a day stays under the floor (10000): nothing held */
	CHECK_EQ_U64(al.n, 0);
	/* 24 h at 4x+ the baseline: daily-24h raises once (burst-1h too: its
	 * cap is 1000 a hour) */
	engine_alerts_clear(&al);
	mk(&r, &id, &dst, "s1", 49, T0 + 48 * 3600, T0 + 49 * 3600, "db-1", 40000, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	bool daily = false, burst = false;
	for (size_t i = 0; i < al.n; i++) {
		daily |= strstr(al.v[i].json, "\"rule\":\"daily-24h\"") != NULL;
		burst |= strstr(al.v[i].json, "\"rule\":\"burst-1h\"") != NULL;
		if (strstr(al.v[i].json, "daily-24h")) {
			CHECK(strstr(al.v[i].json, "\"baseline_bytes\":8640") != NULL);
			CHECK(strstr(al.v[i].json, "\"threshold_bytes\":34560") != NULL);
		}
	}
	CHECK(daily && burst);
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

static void test_alerts_and_escalation(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(base_conf, &d);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	/* web-prod's burst cap is 100 (identity override), severity high */
	mk(&r, &id, &dst, "s1", 1, T0, T0 + 10, "web-prod", 150, "198.51.100.7", 150);
	engine_apply(e, &r, &al, err, sizeof(err));
	CHECK_EQ_U64(count_rule(&al, "burst-1h"), 1);
	CHECK(al.n >= 1 && strstr(al.v[0].json, "\"severity\":\"high\"") != NULL);
	CHECK(al.n >= 1 && strstr(al.v[0].json, "\"identity\":\"web-prod\"") != NULL);
	CHECK(al.n >= 1 && strstr(al.v[0].json, "\"threshold_bytes\":100") != NULL);
	CHECK(al.n >= 1 && strstr(al.v[0].json, "\"addr\":\"198.51.100.7\"") != NULL);
	CHECK(al.n >= 1 && strstr(al.v[0].json, "\"sensors\":[\"s1\"]") != NULL);
	CHECK(al.n >= 1 && strstr(al.v[0].json, "\"window_s\":3600") != NULL);
	char first_id[33];
	snprintf(first_id, sizeof(first_id), "%s", al.n ? al.v[0].id : "");
	engine_alerts_clear(&al);
	/* more, but not doubled: nothing */
	mk(&r, &id, &dst, "s1", 2, T0 + 10, T0 + 20, "web-prod", 20, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	CHECK_EQ_U64(count_rule(&al, "burst-1h"), 0);
	/* doubled (200 >= 2 x 100): escalation, level 1 */
	mk(&r, &id, &dst, "s1", 3, T0 + 20, T0 + 30, "web-prod", 40, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	CHECK_EQ_U64(count_rule(&al, "burst-1h"), 1);
	CHECK(al.n >= 1 && strstr(al.v[0].json, "\"level\":1") != NULL);
	CHECK(al.n >= 1 && strcmp(al.v[0].id, first_id) != 0);
	engine_alerts_clear(&al);
	/* quiet for two hours (another identity moves the clock), then again:
	 * a new episode */
	mk(&r, &id, &dst, "s1", 4, T0 + 7200, T0 + 7210, "db-1", 1, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	mk(&r, &id, &dst, "s1", 5, T0 + 7210, T0 + 7220, "web-prod", 150, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	CHECK_EQ_U64(count_rule(&al, "burst-1h"), 1);
	CHECK(al.n >= 1 && strstr(al.v[al.n - 1].json, "\"level\":0") != NULL);
	CHECK(al.n >= 1 && strcmp(al.v[al.n - 1].id, first_id) != 0);
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

static void test_allowlist(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(base_conf, &d);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	const double night = T0 + 2 * 3600;     /* 02:00 UTC: inside 01:00-05:00 */
	/* 900 bytes to the backup net at night: allowed (cap 3000/day), not observed */
	mk(&r, &id, &dst, "s1", 1, night, night + 10, "db-1", 900, "203.0.113.9", 900);
	engine_apply(e, &r, &al, err, sizeof(err));
	const struct engine_ident *x = engine_ident_find(e, "db-1");
	struct engine_window w;
	engine_window(x, engine_now(e), 3600, &w);
	CHECK_EQ_U64(w.bytes, 900);
	CHECK_EQ_U64(w.observed, 0);
	CHECK_EQ_U64(count_rule(&al, "burst-1h"), 0);
	/* 2500 more: 2100 fit the day's cap, 400 count again */
	mk(&r, &id, &dst, "s1", 2, night + 10, night + 20, "db-1", 2500, "203.0.113.9", 2500);
	engine_apply(e, &r, &al, err, sizeof(err));
	engine_window(x, engine_now(e), 3600, &w);
	CHECK_EQ_U64(w.bytes, 3400);
	CHECK_EQ_U64(w.observed, 400);
	CHECK_EQ_U64(x->t.out_bytes, 3400);     /* totals keep everything */
	/* the same traffic at noon is outside the schedule: all observed */
	const double noon = T0 + 12 * 3600;
	mk(&r, &id, &dst, "s1", 3, noon, noon + 10, "db-1", 700, "203.0.113.9", 700);
	engine_apply(e, &r, &al, err, sizeof(err));
	engine_window(x, engine_now(e), 3600, &w);
	CHECK_EQ_U64(w.observed, 700);
	/* the next day the cap is fresh */
	const double night2 = night + 86400;
	mk(&r, &id, &dst, "s1", 4, night2, night2 + 10, "db-1", 1000, "203.0.113.9", 1000);
	engine_apply(e, &r, &al, err, sizeof(err));
	engine_window(x, engine_now(e), 3600, &w);
	CHECK_EQ_U64(w.observed, 0);
	/* someone not a member gets no allowance */
	mk(&r, &id, &dst, "s1", 5, night2 + 10, night2 + 20, "web-x", 1000, "203.0.113.9", 1000);
	engine_apply(e, &r, &al, err, sizeof(err));
	engine_window(engine_ident_find(e, "web-x"), engine_now(e), 3600, &w);
	CHECK_EQ_U64(w.observed, 1000);
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

static void test_exactly_once_and_gaps(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(base_conf, &d);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	mk(&r, &id, &dst, "s1", 5, T0, T0 + 10, "db-1", 10, NULL, 0);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_DUPLICATE);
	mk(&r, &id, &dst, "s1", 4, T0 - 10, T0, "db-1", 10, NULL, 0);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_DUPLICATE);
	CHECK_EQ_U64(engine_ident_find(e, "db-1")->t.out_bytes, 10);
	CHECK_EQ_U64(engine_counters(e)->duplicates, 2);
	/* 6, 7 lost */
	mk(&r, &id, &dst, "s1", 8, T0 + 30, T0 + 40, "db-1", 10, NULL, 0);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK_EQ_U64(engine_counters(e)->gaps, 1);
	CHECK_EQ_U64(engine_counters(e)->lost_reports, 2);
	CHECK_EQ_U64(engine_sensor_at(e, 0)->last_seq, 8);
	/* another sensor has its own sequence */
	mk(&r, &id, &dst, "s2", 1, T0 + 40, T0 + 50, "db-1", 10, NULL, 0);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK_EQ_U64(engine_ident_find(e, "db-1")->t.out_bytes, 30);
	/* max_identities = 3: the fourth new name folds into ~overflow */
	mk(&r, &id, &dst, "s1", 9, T0 + 40, T0 + 50, "a1", 1, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	mk(&r, &id, &dst, "s1", 10, T0 + 40, T0 + 50, "a2", 1, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	mk(&r, &id, &dst, "s1", 11, T0 + 40, T0 + 50, "a3", 7, NULL, 0);
	engine_apply(e, &r, &al, err, sizeof(err));
	CHECK(engine_ident_find(e, "a3") == NULL);
	CHECK(engine_ident_find(e, OVERFLOW_IDENTITY) != NULL);
	CHECK_EQ_U64(engine_ident_find(e, OVERFLOW_IDENTITY)->t.out_bytes, 7);
	CHECK_EQ_U64(engine_counters(e)->overflow_records, 1);
	/* dead-letter reasons are counted by class, not by field path */
	engine_count_dead(e, "identities[3].out_bytes: not a non-negative integer");
	engine_count_dead(e, "identities[9].in_bytes: not a non-negative integer");
	engine_count_dead(e, "bad JSON at byte 7: expected ':'");
	CHECK_EQ_U64(engine_counters(e)->dead, 3);
	char cls[64];
	engine_reason_class("identities[3].out_bytes: missing", cls, sizeof(cls));
	CHECK_STREQ(cls, "missing");
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

static void test_blobs_round_trip(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(base_conf, &d);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	for (int i = 0; i < 30; i++) {
		mk(&r, &id, &dst, "s1", (uint64_t)i + 1, T0 + i * 600, T0 + i * 600 + 600, "web-prod",
		   (uint64_t)(50 + i), "198.51.100.7", 50);
		engine_apply(e, &r, &al, err, sizeof(err));
	}
	struct engine *f = engine_new(c);
	size_t len;
	unsigned char *b = engine_ident_blob(engine_ident_find(e, "web-prod"), &len);
	CHECK(b && engine_load_ident(f, b, len) == 0);
	CHECK(b && engine_load_ident(f, b, len - 1) == -1);     /* truncated: corrupt */
	if (b) {
		b[9] ^= 0x55;   /* a name byte */
		CHECK(engine_load_ident(f, b, len) == -1 || engine_ident_count(f) == 2);
	}
	free(b);
	b = engine_sensor_blob(engine_sensor_at(e, 0), &len);
	CHECK(b && engine_load_sensor(f, b, len) == 0);
	free(b);
	b = engine_meta_blob(e, &len);
	CHECK(b && engine_load_meta(f, b, len) == 0);
	free(b);
	const struct engine_ident *x = engine_ident_find(e, "web-prod"), *y = engine_ident_find(f, "web-prod");
	CHECK(y != NULL);
	if (y) {
		CHECK(memcmp(&x->t, &y->t, sizeof(x->t)) == 0);
		CHECK(memcmp(x->hr, y->hr, sizeof(x->hr)) == 0);
		CHECK(memcmp(x->min, y->min, sizeof(x->min)) == 0);
		CHECK(memcmp(x->ep, y->ep, sizeof(x->ep)) == 0);
		CHECK_EQ_U64(y->ndests, x->ndests);
	}
	CHECK(engine_now(f) == engine_now(e));
	CHECK_EQ_U64(engine_sensor_at(f, 0)->last_seq, 30);
	CHECK_EQ_U64(engine_counters(f)->alerts, engine_counters(e)->alerts);
	/* Continuing both gives the same alerts: state is all in the blobs. */
	struct engine_alerts a1 = {0}, a2 = {0};
	mk(&r, &id, &dst, "s1", 31, T0 + 30 * 600, T0 + 31 * 600, "web-prod", 100000, NULL, 0);
	engine_apply(e, &r, &a1, err, sizeof(err));
	engine_apply(f, &r, &a2, err, sizeof(err));
	CHECK(a1.n > 0 && a1.n == a2.n);
	for (size_t i = 0; i < a1.n && i < a2.n; i++)
		CHECK_STREQ(a1.v[i].json, a2.v[i].json);
	CHECK(engine_ident_bytes() < 16384);
	engine_alerts_clear(&a1);
	engine_alerts_clear(&a2);
	engine_alerts_clear(&al);
	engine_free(e);
	engine_free(f);
	collector_config_free(c);
}

/* The detector runs inside the engine: after the learning period, bytes
 * to a network nobody in the organisation used raise a detector alert on
 * the engine's alert list, with its evidence; duplicates do not feed it;
 * its state survives a save and load. */
static void test_engine_detector(void)
{
	struct diag d = {0};
	struct collector_config *c = cfg_of("[detect]\nlearning = 2h\norg_learning = 2h\n"
					    "new_org_destination_bytes = 100MB\n"
					    "[rule r]\nwindow = 1h\nmax_bytes = 1TB\n",
					    &d);
	CHECK(c != NULL);
	if (!c)
		return;
	struct engine *e = engine_new(c);
	CHECK(e && engine_has_detector(e));
	struct engine_alerts out = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	double t0 = 1742385600;
	uint64_t seq = 1;
	/* 4 hours: two identities, a minute each, to their usual networks */
	for (int m = 0; m < 240; m++) {
		mk(&r, &id, &dst, "gw", seq++, t0 + m * 60, t0 + m * 60 + 60, "web", 1000000,
		   "198.51.100.7", 1000000);
		CHECK(engine_apply(e, &r, &out, err, sizeof(err)) == ENGINE_APPLIED);
		mk(&r, &id, &dst, "gw", seq++, t0 + m * 60, t0 + m * 60 + 60, "db", 2000000,
		   "203.0.113.9", 2000000);
		CHECK(engine_apply(e, &r, &out, err, sizeof(err)) == ENGINE_APPLIED);
	}
	for (size_t i = 0; i < out.n; i++)
		fprintf(stderr, "  unexpected: %s\n", out.v[i].json);
	CHECK(out.n == 0);
	CHECK(engine_detect_dirty(e));
	/* a save/load round trip keeps what was learned */
	size_t len = 0;
	unsigned char *blob = engine_detect_blob(e, &len);
	CHECK(blob && len > 0);
	CHECK(engine_load_detect(e, blob, len, err, sizeof(err)) == 0);
	if (err[0])
		fprintf(stderr, "  load: %s\n", err);
	free(blob);
	/* then db sends 500 MB in ten minutes to a network new to everyone */
	double t = t0 + 240 * 60;
	for (int m = 0; m < 10; m++) {
		mk(&r, &id, &dst, "gw", seq++, t + m * 60, t + m * 60 + 60, "db", 52000000,
		   "192.0.2.77", 50000000);
		CHECK(engine_apply(e, &r, &out, err, sizeof(err)) == ENGINE_APPLIED);
	}
	/* the same report again feeds nothing */
	CHECK(engine_apply(e, &r, &out, err, sizeof(err)) == ENGINE_DUPLICATE);
	size_t found = 0;
	for (size_t i = 0; i < out.n; i++) {
		json_t *a = json_loads(out.v[i].json, 0, NULL);
		const char *rule = json_string_value(json_object_get(a, "rule"));
		if (rule && strncmp(rule, "new-destination", 15) == 0 &&
		    strcmp(json_string_value(json_object_get(a, "identity")), "db") == 0) {
			found++;
			CHECK(strcmp(json_string_value(json_object_get(a, "id")), out.v[i].id) == 0);
			CHECK(json_object_get(a, "severity") && json_object_get(a, "top_destinations"));
			CHECK(strcmp(json_string_value(json_object_get(a, "config_version")), c->version) == 0);
		}
		const char *who = json_string_value(json_object_get(a, "identity"));
		CHECK(who && strcmp(who, "db") == 0);  /* web did nothing new */
		json_decref(a);
	}
	CHECK(found >= 1);
	engine_alerts_clear(&out);
	engine_free(e);
	collector_config_free(c);
}

/* Feeds "db" 1 MB an hour, one report per hour, for hours [h0, h1). */
static void steady_hours(struct engine *e, int h0, int h1)
{
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	for (int h = h0; h < h1; h++) {
		mk(&r, &id, &dst, "s1", (uint64_t)h + 1, T0 + h * 3600, T0 + (h + 1) * 3600, "db", 1000000,
		   "198.51.100.7", 1000000);
		CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	}
	CHECK_EQ_U64(al.n, 0);
	engine_alerts_clear(&al);
}

/*
 * What the API shows as an identity's expectation: the detector's once it
 * has learned one (engine_detect_expected), for the windows it models; no
 * figure from it while it is off, the identity learns or has too little
 * history, or for a window it does not model, and then the rules' baseline
 * (engine_baseline) stands in.
 */
static void test_detect_expected_or_rules(void)
{
	struct diag d;
	const char *rules = "[rule r]\nwindow = 1h\nmax_bytes = 1TB\n";
	char on_text[128], off_text[128];
	snprintf(on_text, sizeof(on_text), "[detect]\nlearning = 6h\n%s", rules);
	snprintf(off_text, sizeof(off_text), "[detect]\nenabled = off\n%s", rules);
	struct collector_config *con = cfg_of(on_text, &d), *coff = cfg_of(off_text, &d);
	CHECK(con && coff);
	if (!con || !coff)
		goto out_config;
	struct engine *on = engine_new(con), *off = engine_new(coff);
	uint64_t x = 7, s = 7, b = 0;
	steady_hours(on, 0, 4);
	steady_hours(off, 0, 4);
	const struct engine_ident *a = engine_ident_find(on, "db"), *z = engine_ident_find(off, "db");
	CHECK(a && z);
	if (!a || !z)
		goto out;
	/* learning: the rules' baseline only */
	CHECK(!engine_detect_expected(on, a, engine_now(on), 3600, &x, &s));
	CHECK(engine_baseline(on, a, engine_now(on), 3600, &b) && b == 1000000);
	/* past learning, but under a day of learned hours: still none */
	steady_hours(on, 4, 12);
	CHECK(!engine_detect_expected(on, a, engine_now(on), 3600, &x, &s));
	steady_hours(on, 12, 36);
	steady_hours(off, 4, 36);
	double now = engine_now(on);
	CHECK(now == T0 + 36 * 3600);
	CHECK(engine_detect_expected(on, a, now, 3600, &x, &s));
	CHECK(x >= 999000 && x <= 1001000);
	CHECK(s >= 99000 && s <= 101000);       /* no variation: the 10% floor */
	CHECK(engine_detect_expected(on, a, now, 86400, &x, &s));
	CHECK(x > 20000000 && x < 25000000);
	/* a week not yet expected; minutes never modelled */
	CHECK(!engine_detect_expected(on, a, now, 7 * 86400, &x, &s));
	CHECK(!engine_detect_expected(on, a, now, 60, &x, &s));
	CHECK(engine_baseline(on, a, now, 60, &b));
	/* detector off: nothing from it, the rules' baseline as before */
	CHECK(!engine_has_detector(off));
	CHECK(!engine_detect_expected(off, z, now, 3600, &x, &s));
	CHECK(engine_baseline(off, z, now, 3600, &b) && b == 1000000);
out:
	engine_free(on);
	engine_free(off);
out_config:
	collector_config_free(con);
	collector_config_free(coff);
}

/* A report that lost more than sensor_blind_rate of its packets raises
 * one sensor-blind alert for its sensor per hour; a healthy one none. */
static void test_sensor_blind(void)
{
	struct diag d = {0};
	struct collector_config *c = cfg_of("[collector]\nsensor_blind_rate = 0.05\n[detect]\nenabled = off\n"
					    "[rule r]\nwindow = 1h\nmax_bytes = 1TB\n", &d);
	CHECK(c != NULL);
	if (!c)
		return;
	struct engine *e = engine_new(c);
	struct engine_alerts out = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	double t0 = 1742385600;
	mk(&r, &id, &dst, "gw", 1, t0, t0 + 60, "web", 1000, NULL, 0);
	r.stats.packets_seen = 1000;
	r.stats.drops_kernel = 40;      /* 3.8 %: below */
	engine_apply(e, &r, &out, err, sizeof(err));
	CHECK(out.n == 0);
	mk(&r, &id, &dst, "gw", 2, t0 + 60, t0 + 120, "web", 1000, NULL, 0);
	r.stats.packets_seen = 1000;
	r.stats.drops_kernel = 300;     /* 23 %: blind */
	engine_apply(e, &r, &out, err, sizeof(err));
	mk(&r, &id, &dst, "gw", 3, t0 + 120, t0 + 180, "web", 1000, NULL, 0);
	r.stats.packets_seen = 1000;
	r.stats.drops_iface = 500;      /* the same hour: the same alert id */
	engine_apply(e, &r, &out, err, sizeof(err));
	CHECK(out.n == 2 && strcmp(out.v[0].id, out.v[1].id) == 0);
	if (out.n) {
		json_t *a = json_loads(out.v[0].json, 0, NULL);
		CHECK(strcmp(json_string_value(json_object_get(a, "rule")), "sensor-blind") == 0);
		CHECK(strcmp(json_string_value(json_object_get(a, "sensor")), "gw") == 0);
		CHECK(json_integer_value(json_object_get(a, "drops_kernel")) == 300);
		json_decref(a);
	}
	engine_alerts_clear(&out);
	engine_free(e);
	collector_config_free(c);
}

/* A per-sensor identity cap of 3 under a global one of 10. */
static const char *cap_conf =
	"[collector]\nmax_identities = 10\nmax_identities_per_sensor = 3\n"
	"[detect]\nenabled = off\n"
	"[rule r]\nwindow = 1h\nmax_bytes = 1TB\n";

static uint64_t sum_out_bytes(const struct engine *e)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < engine_ident_count(e); i++)
		sum += engine_ident_at(e, i)->t.out_bytes;
	return sum;
}

static const struct engine_sensor *sensor_named(const struct engine *e, const char *name)
{
	for (size_t i = 0; i < engine_sensor_count(e); i++)
		if (strcmp(engine_sensor_at(e, i)->name, name) == 0)
			return engine_sensor_at(e, i);
	return NULL;
}

/* A sensor's field, or UINT64_MAX when it is unknown. */
#define SENSOR_FIELD(e, name, field) \
	(sensor_named(e, name) ? sensor_named(e, name)->field : UINT64_MAX)

/* ~overflow's out_bytes, or UINT64_MAX when it does not exist. */
static uint64_t overflow_bytes(const struct engine *e)
{
	const struct engine_ident *ov = engine_ident_find(e, OVERFLOW_IDENTITY);
	return ov ? ov->t.out_bytes : UINT64_MAX;
}

/* Applies a one-identity report; the caller's seq counter rises by one. */
static void send1(struct engine *e, const char *sensor, uint64_t *seq, const char *name,
		  uint64_t bytes)
{
	struct engine_alerts al = {0};
	struct report r;
	struct report_identity id;
	struct report_dest dst;
	char err[128];
	uint64_t n = ++*seq;
	mk(&r, &id, &dst, sensor, n, T0 + (double)n * 60, T0 + (double)n * 60 + 60, name, bytes,
	   NULL, 0);
	CHECK(engine_apply(e, &r, &al, err, sizeof(err)) == ENGINE_APPLIED);
	engine_alerts_clear(&al);
}

/* max_identities_per_sensor: a sensor past its cap folds its new names
 * into ~overflow (totals exact, counted for it), while another sensor
 * still creates its own; the key is checked like the others. */
static void test_sensor_identity_cap(void)
{
	struct diag d;
	struct collector_config *c = cfg_of("[collector]\nmax_identities_per_sensor = 0\n"
					    "[rule r]\nwindow = 1h\nmax_bytes = 1TB\n", &d);
	CHECK(c == NULL &&
	      has_msg(&d, "t.conf:2: max_identities_per_sensor: an integer 1..10000000"));
	c = cfg_of("[rule r]\nwindow = 1h\nmax_bytes = 1TB\n", &d);
	CHECK(c && c->max_identities_per_sensor == 10000);
	collector_config_free(c);
	c = cfg_of(cap_conf, &d);
	CHECK(c != NULL);
	if (!c)
		return;
	struct engine *e = engine_new(c);
	uint64_t sa = 0, sb = 0, sent = 0;
	const char *names[] = {"a1", "a2", "a3", "a4", "a5"};
	for (int i = 0; i < 5; i++) {
		send1(e, "gw-a", &sa, names[i], 100 + (uint64_t)i);
		sent += 100 + (uint64_t)i;
	}
	send1(e, "gw-a", &sa, "a1", 7);         /* its own, already there: no fold */
	sent += 7;
	CHECK(engine_ident_find(e, "a3") != NULL);
	CHECK(engine_ident_find(e, "a4") == NULL && engine_ident_find(e, "a5") == NULL);
	CHECK_EQ_U64(overflow_bytes(e), 103 + 104);
	CHECK(engine_ident_find(e, "a1") && engine_ident_find(e, "a1")->t.out_bytes == 107);
	CHECK_EQ_U64(sum_out_bytes(e), sent);
	CHECK_EQ_U64(engine_counters(e)->sensor_cap_records, 2);
	CHECK_EQ_U64(engine_counters(e)->overflow_records, 2);
	const struct engine_sensor *a = sensor_named(e, "gw-a");
	CHECK(a && a->identities == 3 && a->identities_folded == 2);
	/* the other sensor is not crowded out */
	send1(e, "gw-b", &sb, "b1", 1000);
	send1(e, "gw-b", &sb, "b2", 2000);
	sent += 3000;
	CHECK(engine_ident_find(e, "b1") != NULL && engine_ident_find(e, "b2") != NULL);
	CHECK_EQ_U64(sum_out_bytes(e), sent);
	const struct engine_sensor *b = sensor_named(e, "gw-b");
	CHECK(b && b->identities == 2 && b->identities_folded == 0);
	CHECK_EQ_U64(engine_counters(e)->sensor_cap_records, 2);
	/* the counters are in the state dump */
	json_t *dump = engine_dump(e);
	CHECK(json_integer_value(json_object_get(json_object_get(dump, "counters"),
						 "sensor_cap_records")) == 2);
	json_t *ds = json_array_get(json_object_get(dump, "sensors"), 0);
	CHECK(json_integer_value(json_object_get(ds, "identities")) == 3 &&
	      json_integer_value(json_object_get(ds, "identities_folded")) == 2);
	json_decref(dump);
	engine_free(e);
	collector_config_free(c);
}

/* The cap limits creating, never updating: an identity another sensor
 * created keeps being updated by a sensor past its own cap. */
static void test_sensor_cap_existing_identity(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(cap_conf, &d);
	CHECK(c != NULL);
	if (!c)
		return;
	struct engine *e = engine_new(c);
	uint64_t sa = 0, sb = 0;
	send1(e, "gw-a", &sa, "shared", 10);
	send1(e, "gw-b", &sb, "b1", 1);
	send1(e, "gw-b", &sb, "b2", 1);
	send1(e, "gw-b", &sb, "b3", 1);
	send1(e, "gw-b", &sb, "b4", 5);         /* past its cap: folds */
	send1(e, "gw-b", &sb, "shared", 20);    /* exists: updated */
	const struct engine_ident *sh = engine_ident_find(e, "shared");
	CHECK(sh != NULL);
	if (sh) {
		CHECK_EQ_U64(sh->t.out_bytes, 30);
		CHECK_EQ_U64(sh->t.reports, 2);
		CHECK_STREQ(sh->sensors[0], "gw-a");    /* still charged to its creator */
	}
	CHECK(engine_ident_find(e, "b4") == NULL);
	CHECK_EQ_U64(overflow_bytes(e), 5);
	CHECK_EQ_U64(engine_counters(e)->sensor_cap_records, 1);
	CHECK_EQ_U64(SENSOR_FIELD(e, "gw-a", identities), 1);
	CHECK_EQ_U64(SENSOR_FIELD(e, "gw-b", identities), 3);
	CHECK_EQ_U64(SENSOR_FIELD(e, "gw-b", identities_folded), 1);
	CHECK_EQ_U64(sum_out_bytes(e), 10 + 3 + 5 + 20);
	engine_free(e);
	collector_config_free(c);
}

/* Saves e as the store does: every identity, every sensor, the meta. */
static void copy_state(struct engine *e, struct engine *f, bool sensors_first)
{
	size_t len;
	unsigned char *b;
	for (int pass = 0; pass < 2; pass++) {
		if ((pass == 0) == sensors_first) {
			for (size_t i = 0; i < engine_sensor_count(e); i++) {
				b = engine_sensor_blob(engine_sensor_at(e, i), &len);
				CHECK(b && engine_load_sensor(f, b, len) == 0);
				free(b);
			}
		} else {
			for (size_t i = 0; i < engine_ident_count(e); i++) {
				b = engine_ident_blob(engine_ident_at(e, i), &len);
				CHECK(b && engine_load_ident(f, b, len) == 0);
				free(b);
			}
		}
	}
	b = engine_meta_blob(e, &len);
	CHECK(b && engine_load_meta(f, b, len) == 0);
	free(b);
}

/* The per-sensor count survives a save and load (in either order, and an
 * identity loaded twice counts once): a sensor at its cap before still
 * folds after. Blobs from before the cap still load. */
static void test_sensor_cap_blobs(void)
{
	struct diag d;
	struct collector_config *c = cfg_of(cap_conf, &d);
	CHECK(c != NULL);
	if (!c)
		return;
	struct engine *e = engine_new(c);
	uint64_t sa = 0, sb = 0;
	send1(e, "gw-a", &sa, "a1", 1);
	send1(e, "gw-a", &sa, "a2", 1);
	send1(e, "gw-b", &sb, "b1", 1);
	send1(e, "gw-a", &sa, "a3", 1);
	send1(e, "gw-a", &sa, "a4", 1);         /* folds */
	for (int order = 0; order < 2; order++) {
		struct engine *f = engine_new(c);
		copy_state(e, f, order == 0);
		if (order == 1)
			copy_state(e, f, false);        /* a reload changes no count */
		CHECK_EQ_U64(SENSOR_FIELD(f, "gw-a", identities), 3);
		CHECK_EQ_U64(SENSOR_FIELD(f, "gw-a", identities_folded), 1);
		CHECK_EQ_U64(SENSOR_FIELD(f, "gw-b", identities), 1);
		CHECK_EQ_U64(engine_counters(f)->sensor_cap_records, 1);
		uint64_t fa = sa, fb = sb;
		send1(f, "gw-a", &fa, "a5", 9);         /* still at its cap */
		send1(f, "gw-b", &fb, "b2", 1);         /* still has room */
		CHECK(engine_ident_find(f, "a5") == NULL && engine_ident_find(f, "b2") != NULL);
		CHECK_EQ_U64(overflow_bytes(f), 1 + 9);
		CHECK_EQ_U64(SENSOR_FIELD(f, "gw-a", identities_folded), 2);
		CHECK_EQ_U64(engine_counters(f)->sensor_cap_records, 2);
		engine_free(f);
	}
	/* A version 1 sensor blob (no identities_folded) and a meta blob with
	 * one counter fewer, as written before the cap, load with 0s. */
	struct engine *g = engine_new(c);
	size_t len;
	for (size_t i = 0; i < engine_ident_count(e); i++) {
		unsigned char *b = engine_ident_blob(engine_ident_at(e, i), &len);
		CHECK(b && engine_load_ident(g, b, len) == 0);
		free(b);
	}
	unsigned char *b = engine_sensor_blob(sensor_named(e, "gw-a"), &len);
	CHECK(b && engine_load_sensor(g, b, len - 8) == -1);    /* v2 needs the field */
	if (b) {
		b[6] = '1';
		CHECK(engine_load_sensor(g, b, len - 8) == 0);
	}
	free(b);
	CHECK_EQ_U64(SENSOR_FIELD(g, "gw-a", identities), 3);
	CHECK_EQ_U64(SENSOR_FIELD(g, "gw-a", identities_folded), 0);
	b = engine_meta_blob(e, &len);
	if (b) {
		/* magic, now, count, 10 counters; the 2 after (sensor_cap_records,
		 * saturated) cut */
		size_t at = 8 + 8 + 8 + 10 * 8;
		b[16] = 10;
		memmove(b + at, b + at + 16, len - at - 16);
		CHECK(engine_load_meta(g, b, len - 16) == 0);
		CHECK_EQ_U64(engine_counters(g)->sensor_cap_records, 0);
		CHECK_EQ_U64(engine_counters(g)->overflow_records, 1);
	}
	free(b);
	engine_free(g);
	engine_free(e);
	collector_config_free(c);
}

TEST_MAIN(test_sensor_blind, test_engine_detector, test_detect_expected_or_rules, test_detect_config,
	  test_units, test_config_example, test_config_errors, test_config_errors_strict, test_overrides,
	  test_rules_cap_and_baseline, test_episodes, test_windows, test_baseline,
	  test_alerts_and_escalation, test_allowlist, test_exactly_once_and_gaps,
	  test_blobs_round_trip, test_sensor_identity_cap, test_sensor_cap_existing_identity,
	  test_sensor_cap_blobs)
