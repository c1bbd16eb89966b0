/*
 * test_report: report_parse and report_to_json (report.h): every field,
 * every wrong type, the limits, huge numbers, deep nesting, a round trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report.h"
#include "test.h"
#include "banned.h"

#define GOOD_ID "{\"identity\":\"web-prod\",\"out_bytes\":123456,\"out_packets\":98," \
		"\"in_bytes\":4567,\"in_packets\":40,\"lateral_bytes\":5,\"lateral_packets\":1," \
		"\"flows\":3,\"destinations\":[{\"addr\":\"198.51.100.7\",\"port\":443," \
		"\"proto\":\"tcp\",\"bytes\":120000,\"packets\":90}]}"
#define GOOD_STATS "{\"packets_seen\":1000,\"packets_undecoded\":2,\"drops_kernel\":3}"

static char buf[1 << 16];

/* Builds a report with one field's JSON text replaced. */
static const char *doc(const char *v, const char *sensor, const char *seq, const char *start,
		       const char *end, const char *ids, const char *stats)
{
	snprintf(buf, sizeof(buf),
		 "{\"v\":%s,\"sensor\":%s,\"seq\":%s,\"start\":%s,\"end\":%s,\"identities\":%s,\"stats\":%s}",
		 v, sensor, seq, start, end, ids, stats);
	return buf;
}

static const char *good(void)
{
	return doc("1", "\"gw-eu-1\"", "42", "1742380800.0", "1742380810.5", "[" GOOD_ID "]", GOOD_STATS);
}

static int parse(const char *s, char *err)
{
	struct report r;
	int rc = report_parse(s, strlen(s), NULL, &r, err, 256);
	report_release(&r);
	return rc;
}

/* Expects a rejection whose reason contains want. */
static void rejects(const char *s, const char *want)
{
	char err[256] = "";
	int rc = parse(s, err);
	CHECK(rc == -1);
	if (rc != -1 || !strstr(err, want))
		fprintf(stderr, "  for %.200s\n  got \"%s\", want \"%s\"\n", s, err, want);
	CHECK(strstr(err, want) != NULL);
}

static void test_parse_every_field(void)
{
	struct report r;
	char err[256];
	const char *s = good();
	CHECK(report_parse(s, strlen(s), NULL, &r, err, sizeof(err)) == 0);
	CHECK_STREQ(r.sensor, "gw-eu-1");
	CHECK_EQ_U64(r.seq, 42);
	CHECK(r.start == 1742380800.0 && r.end == 1742380810.5);
	CHECK_EQ_U64(r.nids, 1);
	CHECK_STREQ(r.ids[0].name, "web-prod");
	CHECK_EQ_U64(r.ids[0].out_bytes, 123456);
	CHECK_EQ_U64(r.ids[0].out_packets, 98);
	CHECK_EQ_U64(r.ids[0].in_bytes, 4567);
	CHECK_EQ_U64(r.ids[0].in_packets, 40);
	CHECK_EQ_U64(r.ids[0].lateral_bytes, 5);
	CHECK_EQ_U64(r.ids[0].lateral_packets, 1);
	CHECK(r.ids[0].has_lateral && r.ids[0].has_flows);
	CHECK_EQ_U64(r.ids[0].flows, 3);
	CHECK_EQ_U64(r.ids[0].ndests, 1);
	char ab[ADDR_STRLEN];
	CHECK_STREQ(addr_format(&r.ids[0].dests[0].addr, ab, sizeof(ab)), "198.51.100.7");
	CHECK_EQ_U64(r.ids[0].dests[0].port, 443);
	CHECK_EQ_U64(r.ids[0].dests[0].proto, 6);
	CHECK_EQ_U64(r.ids[0].dests[0].bytes, 120000);
	CHECK_EQ_U64(r.ids[0].dests[0].packets, 90);
	CHECK_EQ_U64(r.stats.packets_seen, 1000);
	CHECK_EQ_U64(r.stats.packets_undecoded, 2);
	CHECK_EQ_U64(r.stats.drops_kernel, 3);
	report_release(&r);
	CHECK(r.ids == NULL && r.nids == 0);
}

static void test_optional_fields(void)
{
	struct report r;
	char err[256];
	const char *s = doc("1", "\"s\"", "1", "10", "20",
			    "[{\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,"
			    "\"in_packets\":0,\"future\":{\"x\":[1,2,{\"y\":null}]}}]",
			    "{\"packets_seen\":0,\"packets_undecoded\":0,\"drops_kernel\":0,\"spool_dropped\":7}");
	CHECK(report_parse(s, strlen(s), NULL, &r, err, sizeof(err)) == 0);
	CHECK(!r.ids[0].has_lateral && !r.ids[0].has_flows && r.ids[0].ndests == 0);
	CHECK_EQ_U64(r.stats.spool_dropped, 7);
	report_release(&r);
	/* an empty identities array is a valid, quiet interval */
	CHECK(parse(doc("1", "\"s\"", "1", "10", "20", "[]", GOOD_STATS), err) == 0);
	/* IPv6 destination, numeric protocol */
	s = doc("1", "\"s\"", "1", "10", "20",
		"[{\"identity\":\"fd00::1\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0,"
		"\"destinations\":[{\"addr\":\"2001:db8::7\",\"proto\":132,\"bytes\":1,\"packets\":1}]}]",
		GOOD_STATS);
	CHECK(report_parse(s, strlen(s), NULL, &r, err, sizeof(err)) == 0);
	CHECK_EQ_U64(r.ids[0].dests[0].proto, 132);
	report_release(&r);
}

static void test_missing_fields(void)
{
	rejects("{\"sensor\":\"s\",\"seq\":1,\"start\":1,\"end\":2,\"identities\":[],\"stats\":" GOOD_STATS "}",
		"v: missing");
	rejects("{\"v\":1,\"seq\":1,\"start\":1,\"end\":2,\"identities\":[],\"stats\":" GOOD_STATS "}",
		"sensor: missing");
	rejects("{\"v\":1,\"sensor\":\"s\",\"start\":1,\"end\":2,\"identities\":[],\"stats\":" GOOD_STATS "}",
		"seq: missing");
	rejects("{\"v\":1,\"sensor\":\"s\",\"seq\":1,\"end\":2,\"identities\":[],\"stats\":" GOOD_STATS "}",
		"start: missing");
	rejects("{\"v\":1,\"sensor\":\"s\",\"seq\":1,\"start\":1,\"identities\":[],\"stats\":" GOOD_STATS "}",
		"end: missing");
	rejects("{\"v\":1,\"sensor\":\"s\",\"seq\":1,\"start\":1,\"end\":2,\"stats\":" GOOD_STATS "}",
		"identities: missing");
	rejects("{\"v\":1,\"sensor\":\"s\",\"seq\":1,\"start\":1,\"end\":2,\"identities\":[]}", "stats: missing");
	rejects(doc("1", "\"s\"", "1", "1", "2", "[]", "{\"packets_seen\":0,\"drops_kernel\":0}"),
		"stats.packets_undecoded: missing");
	rejects(doc("1", "\"s\"", "1", "1", "2", "[{\"identity\":\"a\",\"out_bytes\":1,\"in_bytes\":0,\"in_packets\":0}]",
		    GOOD_STATS), "identities[0].out_packets: missing");
	rejects(doc("1", "\"s\"", "1", "1", "2",
		    "[{\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0,"
		    "\"destinations\":[{\"addr\":\"1.2.3.4\",\"bytes\":1}]}]", GOOD_STATS),
		"identities[0].destinations[0].packets: missing");
}

static void test_bad_types(void)
{
	rejects(doc("\"1\"", "\"s\"", "1", "1", "2", "[]", GOOD_STATS), "v: unsupported version");
	rejects(doc("2", "\"s\"", "1", "1", "2", "[]", GOOD_STATS), "v: unsupported version");
	rejects(doc("1", "7", "1", "1", "2", "[]", GOOD_STATS), "sensor: not a valid sensor name");
	rejects(doc("1", "\"has space\"", "1", "1", "2", "[]", GOOD_STATS), "sensor: not a valid");
	rejects(doc("1", "\"s\"", "\"1\"", "1", "2", "[]", GOOD_STATS), "seq: not a non-negative integer");
	rejects(doc("1", "\"s\"", "-1", "1", "2", "[]", GOOD_STATS), "seq: not a non-negative integer");
	rejects(doc("1", "\"s\"", "1.5", "1", "2", "[]", GOOD_STATS), "seq: not a non-negative integer");
	rejects(doc("1", "\"s\"", "1", "\"x\"", "2", "[]", GOOD_STATS), "start: not a number");
	rejects(doc("1", "\"s\"", "1", "-5", "2", "[]", GOOD_STATS), "start: not a time");
	rejects(doc("1", "\"s\"", "1", "5", "4", "[]", GOOD_STATS), "end: before start");
	rejects(doc("1", "\"s\"", "1", "1", "2", "{}", GOOD_STATS), "identities: not an array");
	rejects(doc("1", "\"s\"", "1", "1", "2", "[5]", GOOD_STATS), "identities[0]: not an object");
	rejects(doc("1", "\"s\"", "1", "1", "2", "[]", "[]"), "stats: not an object");
	rejects(doc("1", "\"s\"", "1", "1", "2", "[]", "{\"packets_seen\":-1,\"packets_undecoded\":0,\"drops_kernel\":0}"),
		"stats.packets_seen: not a non-negative integer");
	const char *fields[] = {"out_bytes", "out_packets", "in_bytes", "in_packets", "lateral_bytes",
				"lateral_packets", "flows"};
	const char *badv[] = {"-1", "1.5", "\"1\"", "null", "true", "[1]", "{}", "1e3"};
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (size_t b = 0; b < sizeof(badv) / sizeof(badv[0]); b++) {
			char ids[512], want[64];
			snprintf(ids, sizeof(ids),
				 "[{\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":1,"
				 "\"in_packets\":1,\"%s_x\":0}]", fields[f]);
			/* replace the field by the bad value: put it first so it wins */
			snprintf(ids, sizeof(ids),
				 "[{\"%s\":%s,\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":1,"
				 "\"in_packets\":1}]", fields[f], badv[b]);
			snprintf(want, sizeof(want), "identities[0].%s: not a non-negative integer", fields[f]);
			if (strcmp(fields[f], "out_bytes") == 0 || strcmp(fields[f], "out_packets") == 0 ||
			    strcmp(fields[f], "in_bytes") == 0 || strcmp(fields[f], "in_packets") == 0) {
				/* duplicate of a later key: the first (bad) value is judged first */
			}
			rejects(doc("1", "\"s\"", "1", "1", "2", ids, GOOD_STATS), want);
		}
	}
	rejects(doc("1", "\"s\"", "1", "1", "2", "[{\"identity\":7,\"out_bytes\":1}]", GOOD_STATS),
		"identities[0].identity: not a string");
	rejects(doc("1", "\"s\"", "1", "1", "2", "[{\"identity\":\"bad name!\",\"out_bytes\":1}]", GOOD_STATS),
		"identities[0].identity: not a valid identity name");
	rejects(doc("1", "\"s\"", "1", "1", "2", "[{\"identity\":\"\",\"out_bytes\":1}]", GOOD_STATS),
		"not a valid identity name");
	const char *dbad[][2] = {
		{"{\"addr\":\"300.1.1.1\",\"bytes\":1,\"packets\":1}", "destinations[0].addr: not an IP address"},
		{"{\"addr\":5,\"bytes\":1,\"packets\":1}", "destinations[0].addr: not an IP address"},
		{"{\"addr\":\"1.1.1.1\",\"port\":70000,\"bytes\":1,\"packets\":1}", "destinations[0].port: too large"},
		{"{\"addr\":\"1.1.1.1\",\"proto\":\"xyz\",\"bytes\":1,\"packets\":1}", "destinations[0].proto: unknown"},
		{"{\"addr\":\"1.1.1.1\",\"proto\":256,\"bytes\":1,\"packets\":1}", "destinations[0].proto: not a protocol"},
		{"{\"addr\":\"1.1.1.1\",\"bytes\":-1,\"packets\":1}", "destinations[0].bytes: not a non-negative"},
		{"7", "destinations[0]: not an object"},
	};
	for (size_t i = 0; i < sizeof(dbad) / sizeof(dbad[0]); i++) {
		char ids[512];
		snprintf(ids, sizeof(ids),
			 "[{\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":1,\"in_packets\":1,"
			 "\"destinations\":[%s]}]", dbad[i][0]);
		rejects(doc("1", "\"s\"", "1", "1", "2", ids, GOOD_STATS), dbad[i][1]);
	}
	rejects(doc("1", "\"s\"", "1", "1", "2",
		    "[{\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":1,\"in_packets\":1,"
		    "\"destinations\":{}}]", GOOD_STATS), "identities[0].destinations: not an array");
}

static void test_bad_json(void)
{
	char err[256];
	rejects("", "bad JSON");
	rejects("{", "bad JSON");
	rejects("[1,2]", "report: not an object");
	rejects("nul", "bad JSON");
	rejects("null", "report: not an object");
	rejects("\"x\"", "report: not an object");
	rejects("xyz", "bad JSON");
	rejects("{\"v\":1,}", "bad JSON");
	rejects("{\"v\":01}", "v: unsupported");
	rejects("{\"v\":1 \"sensor\":\"s\"}", "bad JSON");
	rejects("{\"v\":1,\"v\":1}", "duplicate key");
	rejects("{\"sensor\":\"a\\u0000b\"}", "bad JSON");
	rejects("{\"sensor\":\"\xff\"}", "bad JSON");
	rejects("{\"x\":\"\\ud800\"}", "bad JSON");
	/* trailing garbage after a complete, valid report */
	snprintf(err, sizeof(err), "%s", "");
	static char t[sizeof(buf) + 8];
	snprintf(t, sizeof(t), "%s x", good());
	rejects(t, "trailing data");
	/* a good report with its fields escaped is still good */
	const char *esc = doc("1", "\"gw\\u002deu\\/1\"", "1", "1", "2", "[]", GOOD_STATS);
	struct report r;
	CHECK(report_parse(esc, strlen(esc), NULL, &r, err, sizeof(err)) == 0);
	CHECK_STREQ(r.sensor, "gw-eu/1");
	report_release(&r);
}

static void test_huge_numbers(void)
{
	rejects(doc("1", "\"s\"", "99999999999999999999999", "1", "2", "[]", GOOD_STATS), "seq: too large");
	rejects(doc("1", "\"s\"", "9223372036854775808", "1", "2", "[]", GOOD_STATS), "seq: too large");
	char err[256];
	CHECK(parse(doc("1", "\"s\"", "9223372036854775807", "1", "2", "[]", GOOD_STATS), err) == 0);
	rejects(doc("1", "\"s\"", "1", "1e400", "2", "[]", GOOD_STATS), "start: not a time");
	rejects(doc("1", "\"s\"", "1", "1", "99999999999", "[]", GOOD_STATS), "end: not a time");
	char big[400];
	memset(big, '9', 300);
	big[300] = '\0';
	rejects(doc("1", "\"s\"", "1", big, "2", "[]", GOOD_STATS), "start: not a time");
}

/* Number literals of any length are read by value: a time printed with
 * many digits is a time (literals of 64+ characters were taken as
 * infinite), rounded as strtod rounds the whole literal. */
static double start_of(const char *start)
{
	char err[256] = "";
	struct report r;
	const char *s = doc("1", "\"s\"", "1", start, "1742380810", "[]", GOOD_STATS);
	double v = report_parse(s, strlen(s), NULL, &r, err, sizeof(err)) == 0 ? r.start : -1;
	if (v < 0)
		fprintf(stderr, "  %s: %s\n", start, err);
	report_release(&r);
	return v;
}

static void test_long_literals(void)
{
	static char lit[4096];
	char zeros[3001];
	memset(zeros, '0', 3000);
	zeros[3000] = '\0';
	snprintf(lit, sizeof(lit), "1742380800.%.59s", zeros);
	CHECK(strlen(lit) == 70 && start_of(lit) == 1742380800.0);
	snprintf(lit, sizeof(lit), "1742380800.25%s", zeros);
	CHECK(start_of(lit) == 1742380800.25);
	snprintf(lit, sizeof(lit), "1742380800%.90se-90", zeros);          /* 100 digits */
	CHECK(start_of(lit) == 1742380800.0);
	snprintf(lit, sizeof(lit), "0.%.80s17423808E90", zeros);
	CHECK(start_of(lit) == 1742380800.0);
	/* past the digits kept, a nonzero digit still rounds: the literal is
	 * half an ulp above 1742380800.5 plus a little (at the 101st digit) */
	snprintf(lit, sizeof(lit), "1742380800.50000005960464477539%.70s1", zeros);
	CHECK(start_of(lit) == strtod(lit, NULL));
	snprintf(lit, sizeof(lit), "1742380800.50000005960464477539%.70s", zeros);
	CHECK(start_of(lit) == strtod(lit, NULL));
	snprintf(lit, sizeof(lit), "1742380800.%.500s1", zeros);
	CHECK(start_of(lit) == 1742380800.0);
	snprintf(lit, sizeof(lit), "1%.80s", zeros);                          /* 1e80 */
	rejects(doc("1", "\"s\"", "1", lit, "2", "[]", GOOD_STATS), "start: not a time");
}

/* A report covering more than two days is not one a sensor sends (its
 * flush interval is at most a day): spread over decades, its bytes would
 * land before every window. */
static void test_long_span_rejected(void)
{
	char err[256];
	rejects(doc("1", "\"s\"", "1", "0", "1742380800", "[]", GOOD_STATS),
		"end: more than two days after start");
	rejects(doc("1", "\"s\"", "1", "1742380800", "1742553600.5", "[]", GOOD_STATS),
		"more than two days");
	CHECK(parse(doc("1", "\"s\"", "1", "1742380800", "1742553600", "[]", GOOD_STATS), err) == 0);
}

/* Each identity once a report: a name listed twice would feed the detector
 * the same interval twice. Many distinct names, none refused. */
static void test_duplicate_identity(void)
{
	char err[256];
	rejects(doc("1", "\"s\"", "1", "1742380800", "1742380810",
		    "[" GOOD_ID ",{\"identity\":\"db\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,"
		    "\"in_packets\":0,\"destinations\":[]}," GOOD_ID "]", GOOD_STATS),
		"identities[2]: \"web-prod\" listed twice");
	static char ids[1 << 15];
	size_t n = 0;
	ids[n++] = '[';
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(ids + n, sizeof(ids) - n,
				      "%s{\"identity\":\"w%d\",\"out_bytes\":1,\"out_packets\":1,"
				      "\"in_bytes\":0,\"in_packets\":0,\"destinations\":[]}",
				      i ? "," : "", i);
	snprintf(ids + n, sizeof(ids) - n, "]");
	CHECK(parse(doc("1", "\"s\"", "1", "1742380800", "1742380810", ids, GOOD_STATS), err) == 0);
	memcpy(strstr(ids, "\"w299\""), "\"w100\"", 6);
	rejects(doc("1", "\"s\"", "1", "1742380800", "1742380810", ids, GOOD_STATS),
		"identities[299]: \"w100\" listed twice");
}

static void test_deep_nesting(void)
{
	static char deep[200000];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof(deep), "{\"x\":");
	for (int i = 0; i < 50000; i++)
		deep[n++] = '[';
	for (int i = 0; i < 50000; i++)
		deep[n++] = ']';
	deep[n++] = '}';
	deep[n] = '\0';
	rejects(deep, "nesting deeper");
	/* a little nesting in an unknown field is fine */
	char ok[4096];
	snprintf(ok, sizeof(ok),
		 "{\"ext\":[[[{\"a\":[1]}]]],\"v\":1,\"sensor\":\"s\",\"seq\":1,\"start\":1,\"end\":2,"
		 "\"identities\":[],\"stats\":" GOOD_STATS "}");
	char err[256];
	CHECK(parse(ok, err) == 0);
}

static void test_limits(void)
{
	struct report_limits lim = {0, 2, 1};
	struct report r;
	char err[256];
	const char *three = doc("1", "\"s\"", "1", "1", "2",
				"[{\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0},"
				"{\"identity\":\"b\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0},"
				"{\"identity\":\"c\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0}]",
				GOOD_STATS);
	CHECK(report_parse(three, strlen(three), &lim, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "identities: more than 2") != NULL);
	report_release(&r);
	const char *twod = doc("1", "\"s\"", "1", "1", "2",
			       "[{\"identity\":\"a\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0,"
			       "\"destinations\":[{\"addr\":\"1.1.1.1\",\"bytes\":1,\"packets\":1},"
			       "{\"addr\":\"1.1.1.2\",\"bytes\":1,\"packets\":1}]}]", GOOD_STATS);
	CHECK(report_parse(twod, strlen(twod), &lim, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "destinations: more than 1") != NULL);
	report_release(&r);
	struct report_limits small = {100, 0, 0};
	const char *g = good();
	CHECK(report_parse(g, strlen(g), &small, &r, err, sizeof(err)) == -1);
	CHECK(strstr(err, "larger than 100 bytes") != NULL);
	report_release(&r);
	/* identity names: at most IDENTITY_NAME_MAX */
	char name[IDENTITY_NAME_MAX + 2];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	CHECK(!report_identity_name_valid(name));
	name[IDENTITY_NAME_MAX] = '\0';
	CHECK(report_identity_name_valid(name));
	CHECK(!report_identity_name_valid("~overflow"));
}

static void test_round_trip(void)
{
	struct report r;
	char err[256];
	const char *g = good();
	CHECK(report_parse(g, strlen(g), NULL, &r, err, sizeof(err)) == 0);
	r.stats.spool_dropped = 9;
	r.ids[0].dests[0].proto = 200;  /* no name: written as a number */
	char *json = report_to_json(&r);
	CHECK(json != NULL);
	struct report r2;
	CHECK(report_parse(json, strlen(json), NULL, &r2, err, sizeof(err)) == 0);
	CHECK_STREQ(r2.sensor, r.sensor);
	CHECK_EQ_U64(r2.seq, r.seq);
	CHECK(r2.start == r.start && r2.end == r.end);
	CHECK_EQ_U64(r2.ids[0].out_bytes, r.ids[0].out_bytes);
	CHECK_EQ_U64(r2.ids[0].lateral_bytes, r.ids[0].lateral_bytes);
	CHECK_EQ_U64(r2.ids[0].flows, r.ids[0].flows);
	CHECK_EQ_U64(r2.ids[0].dests[0].proto, 200);
	CHECK_EQ_U64(r2.ids[0].dests[0].bytes, 120000);
	CHECK_EQ_U64(r2.stats.spool_dropped, 9);
	CHECK_STREQ(report_proto_name(6), "tcp");
	CHECK(report_proto_name(200) == NULL);
	free(json);
	report_release(&r);
	report_release(&r2);
	/* the overflow identity is accepted from a sensor */
	const char *ov = doc("1", "\"s\"", "1", "1", "2",
			     "[{\"identity\":\"~overflow\",\"out_bytes\":1,\"out_packets\":1,\"in_bytes\":0,\"in_packets\":0}]",
			     GOOD_STATS);
	CHECK(parse(ov, err) == 0);
}

/* A report with n identities "id-K" sending K bytes, 5 destinations each. */
static void make_many(struct report *r, size_t n)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->sensor, sizeof(r->sensor), "gw");
	r->ids = calloc(n, sizeof(r->ids[0]));
	r->nids = n;
	for (size_t i = 0; i < n; i++) {
		struct report_identity *id = &r->ids[i];
		snprintf(id->name, sizeof(id->name), "id-%zu", i + 1);
		id->out_bytes = i + 1;
		id->out_packets = 1;
		id->flows = 2;
		id->has_flows = true;
		id->dests = calloc(5, sizeof(id->dests[0]));
		id->ndests = 5;
		for (int j = 0; j < 5; j++)
			id->dests[j] = (struct report_dest){.port = 443, .proto = 6, .bytes = 1, .packets = 1};
	}
}

/* report_head_end finds the end in the writer's head, whatever follows:
 * a long report, its head alone, a longest sensor id; 0 without it. */
static void test_head_end(void)
{
	struct report r;
	make_many(&r, 20000);
	memset(r.sensor, 'g', sizeof(r.sensor) - 1);
	r.sensor[sizeof(r.sensor) - 1] = '\0';
	r.seq = UINT64_MAX;
	r.start = 1742380800.25;
	r.end = 1742380810.125;
	char *json = report_to_json(&r);
	CHECK(json != NULL && strlen(json) > 1000000);
	if (json) {
		CHECK(report_head_end(json, strlen(json)) == 1742380810.125);
		char *e = strstr(json, "\"identities\"");
		CHECK(e && report_head_end(json, (size_t)(e - json)) == 1742380810.125);
		/* cut inside the key, or before the number: not there */
		char *n = strstr(json, ",\"end\":");
		CHECK(n && report_head_end(json, (size_t)(n - json) + 3) == 0);
		CHECK(report_head_end(json, (size_t)(n - json) + 7) == 0);
	}
	free(json);
	report_release(&r);
	CHECK(report_head_end("{\"end\":5}", 10) == 0);           /* no start before it */
	CHECK(report_head_end("{\"start\":1,\"end\":x}", 20) == 0);
	CHECK(report_head_end("{\"start\":1,\"end\":1e999,", 24) == 0);
	CHECK(report_head_end("", 0) == 0);
}

static void test_fit(void)
{
	struct report r;
	make_many(&r, 2000);
	uint64_t want = 2000ull * 2001 / 2;
	CHECK(report_fit(&r, 16u << 20) == 0);          /* fits: untouched */
	CHECK(r.nids == 2000);
	size_t folded = report_fit(&r, 64u << 10);
	CHECK(folded > 0 && r.nids == 2000 - folded + 1);
	char *j = report_to_json(&r);
	CHECK(j && strlen(j) <= 64u << 10);
	uint64_t sum = 0, flows = 0;
	size_t over = 0;
	for (size_t i = 0; i < r.nids; i++) {
		sum += r.ids[i].out_bytes;
		flows += r.ids[i].flows;
		if (strcmp(r.ids[i].name, OVERFLOW_IDENTITY) == 0)
			over++;
		else
			CHECK(r.ids[i].out_bytes > 2000 - (r.nids - 1)); /* the largest stay */
	}
	CHECK_EQ_U64(sum, want);
	CHECK_EQ_U64(flows, 4000);
	CHECK(over == 1);
	/* Fitting again, tighter, folds into the same overflow entry. */
	size_t more = report_fit(&r, 16u << 10);
	CHECK(more > 0);
	sum = 0;
	over = 0;
	for (size_t i = 0; i < r.nids; i++) {
		sum += r.ids[i].out_bytes;
		over += strcmp(r.ids[i].name, OVERFLOW_IDENTITY) == 0;
	}
	CHECK_EQ_U64(sum, want);
	CHECK(over == 1);
	free(j);
	j = report_to_json(&r);
	CHECK(j && strlen(j) <= 16u << 10);
	free(j);
	report_release(&r);
}

/* The writer appends without bounds checks into the room the bound
 * reserved: the largest record it can write, a name that is all escapes,
 * every counter at its maximum, the longest addresses, must stay within
 * its share of report_json_bound, and the whole text within the bound. */
static void test_json_bound(void)
{
	struct report r;
	memset(&r, 0, sizeof(r));
	memset(r.sensor, '"', SENSOR_NAME_MAX);
	r.ids = calloc(2, sizeof(r.ids[0]));
	r.nids = 1;
	for (size_t i = 0; i < 2; i++) {
		struct report_identity *id = &r.ids[i];
		memset(id->name, i ? 0x01 : '\\', IDENTITY_NAME_MAX);   /* the second: 6 bytes a byte */
		id->out_bytes = id->out_packets = id->in_bytes = id->in_packets = UINT64_MAX;
		id->lateral_bytes = id->lateral_packets = id->flows = UINT64_MAX;
		id->has_lateral = id->has_flows = true;
		id->dests = calloc(3, sizeof(id->dests[0]));
		id->ndests = 3;
		for (size_t j = 0; j < 3; j++) {
			struct report_dest *d = &id->dests[j];
			memset(d->addr.b, 0xff, sizeof(d->addr.b));
			d->addr.b[0] = 0xfe;    /* no v4 tail: all eight groups */
			d->port = UINT16_MAX;
			d->proto = j ? 255 : 58;        /* a number, and the longest name */
			d->bytes = d->packets = UINT64_MAX;
		}
	}
	char *one = report_to_json(&r);
	size_t bound1 = report_json_bound(&r);
	r.nids = 2;
	char *two = report_to_json(&r);
	size_t bound2 = report_json_bound(&r);
	CHECK(one && two);
	CHECK(strlen(one) < bound1);
	CHECK(strlen(two) < bound2);
	CHECK(strlen(two) - strlen(one) <= bound2 - bound1);
	CHECK(strstr(two, "\"identity\":\"\\u0001\\u0001") != NULL);
	CHECK(strstr(one, "\"addr\":\"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\",\"port\":65535") != NULL);
	CHECK(strstr(one, "\"proto\":\"icmpv6\",\"bytes\":18446744073709551615,") != NULL);
	/* and it is JSON, its strings the names as they were */
	json_error_t jerr;
	json_t *doc = json_loads(two, JSON_DECODE_INT_AS_REAL, &jerr); /* 2^64 - 1 */
	CHECK(doc != NULL);
	char sensor[SENSOR_NAME_MAX + 1] = {0};
	memset(sensor, '"', SENSOR_NAME_MAX);
	CHECK_STREQ(json_string_value(json_object_get(doc, "sensor")), sensor);
	json_t *ids = json_object_get(doc, "identities");
	for (size_t i = 0; i < 2; i++)
		CHECK_STREQ(json_string_value(json_object_get(json_array_get(ids, i), "identity")),
			    r.ids[i].name);
	json_decref(doc);
	free(one);
	free(two);
	report_release(&r);
}

TEST_MAIN(test_json_bound, test_head_end, test_fit, test_parse_every_field, test_optional_fields, test_missing_fields, test_bad_types,
	  test_bad_json, test_huge_numbers, test_deep_nesting, test_limits, test_round_trip,
	  test_long_literals, test_long_span_rejected, test_duplicate_identity)
