/*
 * test_engine_bounds: the engine against values from outside its ranges:
 * saved state with a corrupt clock or count, reports from the far future,
 * a sensor clock running ahead, counts near 2^64, seq jumps and seqs near
 * 2^63. Each test names the behaviour it proves; an alarm turns a hang
 * (the failure mode of a corrupt clock) into a failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector_config.h"
#include "detect.h"
#include "engine.h"
#include "test.h"
#include "banned.h"

#define T0 1742342400.0   /* 2025-03-19 00:00:00 UTC */

static const char *conf = "[collector]\nhttp = off\n"
			  "[rule burst-1h]\nwindow = 1h\nmax_bytes = 1MB\nseverity = high\n";

static struct collector_config *cfg_of(const char *text)
{
	struct diag d;
	memset(&d, 0, sizeof(d));
	struct collector_config *c = collector_config_load_string("t.conf", text, &d);
	for (unsigned i = 0; !c && i < d.count && i < DIAG_MAX; i++)
		fprintf(stderr, "  diag: %s\n", d.msg[i]);
	return c;
}

/* Applies a one-identity report; returns the result, err filled. */
static enum engine_result put(struct engine *e, const char *sensor, uint64_t seq, double start,
			      double end, const char *name, uint64_t bytes,
			      struct engine_alerts *al, char *err, size_t errlen)
{
	struct report r;
	struct report_identity id;
	memset(&r, 0, sizeof(r));
	memset(&id, 0, sizeof(id));
	snprintf(r.sensor, sizeof(r.sensor), "%s", sensor);
	r.seq = seq;
	r.start = start;
	r.end = end;
	snprintf(id.name, sizeof(id.name), "%s", name);
	id.out_bytes = bytes;
	id.out_packets = 1;
	r.ids = &id;
	r.nids = 1;
	err[0] = '\0';
	return engine_apply(e, &r, al, err, errlen);
}

static uint64_t rd_u64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void wr_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void wr_f64(unsigned char *p, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	wr_u64(p, v);
}

/* A meta record whose "now" is finite but absurd (1e300, one corrupt
 * exponent byte) is refused with its reason, counted; windows at such a
 * clock return at once (they looped from INT64_MIN to INT64_MAX). */
static void test_meta_with_absurd_now_is_refused(void)
{
	struct collector_config *c = cfg_of(conf);
	struct engine *e = engine_new(c), *f = engine_new(c);
	struct engine_alerts al = {0};
	char err[160];
	CHECK(put(e, "gw", 1, T0, T0 + 10, "web", 1000, &al, err, sizeof(err)) == ENGINE_APPLIED);
	size_t len;
	unsigned char *b = engine_meta_blob(e, &len);
	CHECK(b && engine_load_meta(f, b, len) == 0);
	CHECK(engine_now(f) == T0 + 10);
	wr_f64(b + 8, 1e300);
	CHECK(engine_load_meta(f, b, len) == -1);
	CHECK(engine_now(f) == T0 + 10);        /* nothing changed */
	CHECK_EQ_U64(engine_load_rejected(f), 1);
	CHECK(strstr(engine_load_error(f), "meta: now is out of range") != NULL);
	/* a clock far past the wall clock (a report from 2286 under an older
	 * version) is refused too */
	wr_f64(b + 8, 9999999999.0);
	CHECK(engine_load_meta(f, b, len) == -1);
	free(b);
	struct engine_window w;
	engine_window(engine_ident_find(e, "web"), 1e300, 3600, &w);
	CHECK_EQ_U64(w.bytes, 0);
	engine_window(engine_ident_find(e, "web"), -1e300, 86400 * 7, &w);
	CHECK_EQ_U64(w.bytes, 0);
	uint64_t base;
	CHECK(!engine_baseline(e, engine_ident_find(e, "web"), 1e300, 3600, &base));
	json_t *j = engine_dump(f);
	CHECK(json_integer_value(json_object_get(json_object_get(j, "state_refused"), "records")) == 2);
	json_decref(j);
	engine_alerts_clear(&al);
	engine_free(e);
	engine_free(f);
	collector_config_free(c);
}

/* Identity, sensor and gap records out of range are refused, each with a
 * reason: a ring bucket's time, a saved seq no sensor can have reached. */
static void test_records_out_of_range_are_refused(void)
{
	struct collector_config *c = cfg_of(conf);
	struct engine *e = engine_new(c), *f = engine_new(c);
	struct engine_alerts al = {0};
	char err[160];
	CHECK(put(e, "gw", 1, T0, T0 + 10, "web", 1000, &al, err, sizeof(err)) == ENGINE_APPLIED);
	size_t len;
	unsigned char *b = engine_ident_blob(engine_ident_find(e, "web"), &len);
	CHECK(b && engine_load_ident(f, b, len) == 0);
	/* magic, name (1 + 3), 8 totals, first_seen, last_seen, minute ring count, first tag */
	size_t tag = 8 + 4 + 8 * 8 + 16 + 8;
	CHECK(b && rd_u64(b + tag - 8) == 1 && rd_u64(b + tag) == (uint64_t)(T0 / 60));
	if (b) {
		wr_u64(b + tag, (uint64_t)INT64_MAX - 5);
		CHECK(engine_load_ident(f, b, len) == -1);
		CHECK(strstr(engine_load_error(f), "identity web: a ring bucket's time") != NULL);
		wr_u64(b + tag, (uint64_t)(T0 / 60));
		wr_u64(b + 12, UINT64_MAX);     /* out_bytes past 2^63 - 1 */
		CHECK(engine_load_ident(f, b, len) == -1);
	}
	free(b);
	const struct engine_sensor *s = engine_sensor_at(e, 0);
	struct engine_sensor poisoned = *s;
	poisoned.last_seq = INT64_MAX;
	b = engine_sensor_blob(&poisoned, &len);
	CHECK(b && engine_load_sensor(f, b, len) == -1);
	CHECK(strstr(engine_load_error(f), "sensor gw: last_seq is implausible") != NULL);
	free(b);
	b = engine_sensor_blob(s, &len);
	CHECK(b && engine_load_sensor(f, b, len) == 0);
	free(b);
	CHECK_EQ_U64(engine_load_rejected(f), 3);
	engine_alerts_clear(&al);
	engine_free(e);
	engine_free(f);
	collector_config_free(c);
}

/* A detector state whose identity's cur_hour has its sign bit flipped is
 * refused as it loads (advance() rolled hour by hour from -2^63). */
static void test_detector_state_with_corrupt_hour_is_refused(void)
{
	struct collector_config *c = cfg_of("[collector]\nhttp = off\n[detect]\nenabled = on\n");
	CHECK(c != NULL);
	if (!c)
		return;
	struct engine *e = engine_new(c);
	CHECK(e && engine_has_detector(e));
	struct engine_alerts al = {0};
	char err[256] = "";
	for (int s = 1; s <= 30; s++)
		put(e, "gw", (uint64_t)s, T0 + 600 * s, T0 + 600 * s + 600, "web", 1000, &al, err,
		    sizeof(err));
	size_t len = 0;
	unsigned char *b = engine_detect_blob(e, &len);
	CHECK(b != NULL);
	if (!b)
		goto out;
	CHECK(engine_load_detect(e, b, len, err, sizeof(err)) == 0);
	/* web's record starts with its name; its cur_hour is the first int64
	 * after it equal to the hour of the last report's start */
	int64_t hour = (int64_t)((T0 + 600 * 30) / 3600);
	unsigned char pat[8];
	wr_u64(pat, (uint64_t)hour);
	unsigned char *name = memmem(b, len, "web\0", 4);
	unsigned char *at = name ? memmem(name, len - (size_t)(name - b), pat, 8) : NULL;
	CHECK(at != NULL);
	if (at) {
		at[7] ^= 0x80;
		CHECK(engine_load_detect(e, b, len, err, sizeof(err)) == -1);
		CHECK(strstr(err, "cur_hour out of range") != NULL);
		CHECK(strstr(engine_load_error(e), "detector: ") != NULL);
		at[7] ^= 0x80;
		/* a clock ahead of the wall clock (a report from far ahead) too */
		wr_u64(at, (uint64_t)hour + 24 * 400);
		CHECK(engine_load_detect(e, b, len, err, sizeof(err)) == -1);
		wr_u64(at, (uint64_t)hour);
		engine_set_wall_clock(e, T0 - 10 * 86400.0);
		CHECK(engine_load_detect(e, b, len, err, sizeof(err)) == -1);
		CHECK(strstr(err, "ahead of the wall clock") != NULL);
		engine_set_wall_clock(e, 0);
		CHECK(engine_load_detect(e, b, len, err, sizeof(err)) == 0);
	}
	free(b);
	/* the engine still runs on the detector it had */
	CHECK(put(e, "gw", 31, T0 + 600 * 31, T0 + 600 * 32, "web", 1000, &al, err, sizeof(err)) ==
	      ENGINE_APPLIED);
out:
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

/* A report ending more than a day ahead of the collector's wall clock is
 * rejected (dead-lettered by the caller) and moves no clock. */
static void test_report_from_the_future_is_rejected(void)
{
	struct collector_config *c = cfg_of(conf);
	struct engine *e = engine_new(c);
	engine_set_wall_clock(e, T0 + 3600);
	struct engine_alerts al = {0};
	char err[160];
	CHECK(put(e, "gw", 1, T0, T0 + 10, "web", 1000, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK(put(e, "rogue", 1, T0, 9999999999.0, "junk", 1, &al, err, sizeof(err)) ==
	      ENGINE_REJECTED);
	CHECK(strstr(err, "end: more than a day ahead") != NULL);
	CHECK(put(e, "gw", 2, T0 + 3600 + 86400, T0 + 3601 + 86400, "web", 1, &al, err,
		  sizeof(err)) == ENGINE_REJECTED);
	CHECK(engine_now(e) == T0 + 10);
	CHECK(engine_sensor_count(e) == 1);
	/* just inside the bound is a report like any other */
	CHECK(put(e, "gw", 2, T0 + 3590 + 86400, T0 + 3600 + 86400, "web", 1, &al, err,
		  sizeof(err)) == ENGINE_APPLIED);
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

static size_t alerts_for(const struct engine_alerts *al, const char *ident)
{
	char pat[160];
	snprintf(pat, sizeof(pat), "\"identity\":\"%s\"", ident);
	size_t n = 0;
	for (size_t i = 0; i < al->n; i++)
		n += strstr(al->v[i].json, pat) != NULL;
	return n;
}

/* A sensor whose clock runs 3 h ahead does not empty the windows of the
 * identities another sensor reports: each report's identities are judged
 * at that report's own clock. */
static void test_rules_judge_at_the_reports_clock(void)
{
	struct collector_config *c = cfg_of(conf);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	char err[160];
	CHECK(put(e, "gw-1", 1, T0, T0 + 10, "web", 1000, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK(put(e, "gw-skewed", 1, T0 + 10800, T0 + 10810, "other", 1000, &al, err, sizeof(err)) ==
	      ENGINE_APPLIED);
	for (uint64_t s = 2; s <= 10; s++)
		CHECK(put(e, "gw-1", s, T0 + 10.0 * (double)s, T0 + 10.0 * (double)s + 10, "web",
			  100000000, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK(alerts_for(&al, "web") >= 1);
	CHECK(engine_now(e) == T0 + 10810);     /* the capture clock is still the latest end */
	/* the alert is stamped with the report's clock, not the skewed one */
	CHECK(al.n && strstr(al.v[0].json, "\"time\":1742342430") != NULL);
	/* a late report judged at its own clock never moves an open
	 * episode's last hold back */
	struct rules_episode ep;
	memset(&ep, 0, sizeof(ep));
	struct rules_verdict v = {true, 10, 0, SEV_HIGH};
	int lvl;
	CHECK(rules_episode_step(&ep, &v, 1000, 3600, 0, false, &lvl));
	CHECK(!rules_episode_step(&ep, &v, 500, 3600, 0, false, &lvl));
	CHECK(ep.last_held == 1000);
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

/* Counts saturate at 2^63 - 1 (counted) instead of wrapping past 2^64 to
 * a small number, and print as that in every JSON view. */
static void test_counts_saturate(void)
{
	struct collector_config *c = cfg_of(conf);
	struct engine *e = engine_new(c);
	struct engine_alerts al = {0};
	char err[160];
	const uint64_t M = INT64_MAX;
	for (uint64_t s = 1; s <= 3; s++)
		CHECK(put(e, "gw", s, T0 + 10.0 * (double)s, T0 + 10.0 * (double)s + 10, "web", M, &al,
			  err, sizeof(err)) == ENGINE_APPLIED);
	CHECK(put(e, "gw", 4, T0 + 40, T0 + 50, "web", 5, &al, err, sizeof(err)) == ENGINE_APPLIED);
	const struct engine_ident *id = engine_ident_find(e, "web");
	CHECK_EQ_U64(id->t.out_bytes, M);
	struct engine_window w;
	engine_window(id, T0 + 50, 3600, &w);
	CHECK_EQ_U64(w.bytes, M);
	engine_window(id, T0 + 50, 86400, &w);
	CHECK_EQ_U64(w.bytes, M);
	CHECK(engine_counters(e)->saturated >= 3);
	json_t *j = engine_dump(e);
	json_t *ids = json_object_get(j, "identities");
	CHECK(json_integer_value(json_object_get(json_array_get(ids, 0), "out_bytes")) == INT64_MAX);
	json_t *w1 = json_object_get(json_object_get(json_array_get(ids, 0), "windows"), "1h");
	CHECK(json_integer_value(json_object_get(w1, "out_bytes")) == INT64_MAX);
	CHECK(json_integer_value(json_object_get(json_object_get(j, "counters"), "saturated")) >= 3);
	json_decref(j);
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

/* A seq jump (a reinstalled sensor numbering from the wall clock in
 * microseconds) is a gap whose lost reports are bounded by its time; a
 * seq above the wall clock in microseconds plus a day is rejected, so it
 * cannot make every later report of its sensor a duplicate. */
static void test_seq_jumps_and_implausible_seqs(void)
{
	struct collector_config *c = cfg_of(conf);
	struct engine *e = engine_new(c);
	engine_set_wall_clock(e, 1764000000.0);
	struct engine_alerts al = {0};
	char err[160];
	CHECK(put(e, "gw", 5000, T0, T0 + 10, "web", 1, &al, err, sizeof(err)) == ENGINE_APPLIED);
	const uint64_t reinstalled = 1763999000000000ULL;
	CHECK(put(e, "gw", reinstalled, T0 + 30, T0 + 40, "web", 1, &al, err, sizeof(err)) ==
	      ENGINE_APPLIED);
	CHECK_EQ_U64(engine_counters(e)->gaps, 1);
	CHECK_EQ_U64(engine_counters(e)->lost_reports, 21);     /* 20 s: at most 21 */
	CHECK_EQ_U64(engine_sensor_at(e, 0)->lost_reports, 21);
	/* overlapping times: at most one */
	CHECK(put(e, "gw", reinstalled + 10, T0 + 35, T0 + 50, "web", 1, &al, err, sizeof(err)) ==
	      ENGINE_APPLIED);
	CHECK_EQ_U64(engine_counters(e)->lost_reports, 22);
	CHECK(put(e, "gw", INT64_MAX, T0 + 50, T0 + 60, "web", 1, &al, err, sizeof(err)) ==
	      ENGINE_REJECTED);
	CHECK(strstr(err, "seq: implausible") != NULL);
	CHECK(put(e, "gw", reinstalled + 11, T0 + 60, T0 + 70, "web", 7, &al, err, sizeof(err)) ==
	      ENGINE_APPLIED);
	CHECK_EQ_U64(engine_ident_find(e, "web")->t.out_bytes, 10);
	CHECK_EQ_U64(engine_counters(e)->duplicates, 0);
	engine_alerts_clear(&al);
	engine_free(e);
	collector_config_free(c);
}

/* [collector] max_sensors caps the sensor table: reports of new names
 * past it are rejected with a reason naming the key, counted; known
 * sensors go on, and saved ones all load under a lowered cap. */
static void test_max_sensors(void)
{
	struct diag d;
	memset(&d, 0, sizeof(d));
	struct collector_config *bad = collector_config_load_string(
		"t.conf", "[collector]\nmax_sensors = 0\n[rule r]\nwindow = 1h\nmax_bytes = 1MB\n", &d);
	CHECK(bad == NULL && d.count == 1 && strstr(d.msg[0], "t.conf:2: max_sensors: an integer 1..65536"));
	collector_config_free(bad);
	struct collector_config *def = cfg_of(conf);
	CHECK(def && def->max_sensors == 4096);
	struct collector_config *c = cfg_of("[collector]\nmax_sensors = 2\n"
					    "[rule r]\nwindow = 1h\nmax_bytes = 1MB\n");
	CHECK(c && c->max_sensors == 2);
	if (!c || !def)
		goto out;
	struct engine *e = engine_new(def);
	struct engine_alerts al = {0};
	char err[160];
	CHECK(put(e, "gw-a", 1, T0, T0 + 10, "a", 1, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK(put(e, "gw-b", 1, T0, T0 + 10, "b", 1, &al, err, sizeof(err)) == ENGINE_APPLIED);
	CHECK(put(e, "gw-c", 1, T0, T0 + 10, "c", 1, &al, err, sizeof(err)) == ENGINE_APPLIED);
	struct engine *f = engine_new(c);
	size_t len;
	for (size_t i = 0; i < 3; i++) {
		unsigned char *b = engine_sensor_blob(engine_sensor_at(e, i), &len);
		CHECK(b && engine_load_sensor(f, b, len) == 0);
		free(b);
	}
	CHECK(engine_sensor_count(f) == 3);
	CHECK(put(f, "gw-d", 1, T0, T0 + 10, "d", 1, &al, err, sizeof(err)) == ENGINE_REJECTED);
	CHECK(strstr(err, "sensor table full (2 sensors, [collector] max_sensors)") != NULL);
	CHECK_EQ_U64(engine_counters(f)->sensors_rejected, 1);
	CHECK(put(f, "gw-a", 2, T0 + 10, T0 + 20, "a", 1, &al, err, sizeof(err)) == ENGINE_APPLIED);
	engine_alerts_clear(&al);
	engine_free(e);
	engine_free(f);
out:
	collector_config_free(c);
	collector_config_free(def);
}

static void test_no_hang(void)
{
	alarm(60);      /* a corrupt clock's loop fails the run instead of hanging it */
}

TEST_MAIN(test_no_hang, test_meta_with_absurd_now_is_refused, test_records_out_of_range_are_refused,
	  test_detector_state_with_corrupt_hour_is_refused, test_report_from_the_future_is_rejected,
	  test_rules_judge_at_the_reports_clock, test_counts_saturate,
	  test_seq_jumps_and_implausible_seqs, test_max_sensors)
