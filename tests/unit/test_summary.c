/*
 * test_summary: the --summary writer streams its JSON by hand; these check
 * that the document is what jansson would write for the same values with
 * JSON_INDENT(2), byte for byte (layout, escapes, reals), and that it holds
 * every count it was given.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "summary.h"
#include "test.h"
#include "banned.h"

/* Writes the summary of in to memory; the caller frees. */
static char *write_summary(const struct summary_input *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	if (!f)
		return NULL;
	CHECK(summary_write(f, in) == 0);
	fclose(f);
	return buf;
}

/* The document as jansson writes it after reading it back, and a newline. */
static char *jansson_redump(const char *doc)
{
	json_error_t err;
	json_t *j = json_loads(doc, 0, &err);
	if (!j) {
		fprintf(stderr, "     not JSON: line %d: %s\n", err.line, err.text);
		return NULL;
	}
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(j);
	char *out = NULL;
	if (s && asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	free(s);
	return out;
}

static struct report_dest dest(const char *addr, uint16_t port, uint8_t proto, uint64_t bytes,
			       uint64_t packets)
{
	struct report_dest d = {.port = port, .proto = proto, .bytes = bytes, .packets = packets};
	CHECK(addr_parse(addr, &d.addr) == 0);
	return d;
}

static void test_layout_matches_jansson(void)
{
	struct report_dest d[3] = {
	    dest("203.0.113.9", 443, 6, 123456789012ULL, 99), dest("2001:db8::1", 53, 17, 1, 1),
	    dest("198.51.100.7", 0, 89, 1500, 1), /* OSPF: a number, not a name */
	};
	struct report_identity ids[3];
	memset(ids, 0, sizeof(ids));
	snprintf(ids[0].name, sizeof(ids[0].name), "billing \"api\"\\\t\x01 caf\xc3\xa9");
	ids[0].out_bytes = 123456790513ULL;
	ids[0].out_packets = 100;
	ids[0].in_bytes = 7;
	ids[0].flows = 3;
	ids[0].dests = d;
	ids[0].ndests = 2;
	snprintf(ids[1].name, sizeof(ids[1].name), "10.0.0.2");
	ids[1].lateral_bytes = 40;
	ids[1].lateral_packets = 1;
	ids[1].dests = d + 2;
	ids[1].ndests = 1;
	snprintf(ids[2].name, sizeof(ids[2].name), "fd00::3"); /* no destinations: [] */
	ids[2].in_packets = 9007199254740993ULL;	       /* past a double's integers */
	struct report r;
	memset(&r, 0, sizeof(r));
	r.ids = ids;
	r.nids = 3;
	struct pipeline_stats st;
	memset(&st, 0, sizeof(st));
	st.packets_seen = 110;
	st.undecoded[DECODE_TRUNCATED] = 4;
	st.undecoded[DECODE_NREASONS - 1] = 2;
	st.packets_undecoded = 6;
	st.first_ns = 1742380800000001000;
	st.last_ns = 1742380849999990000;
	struct summary_input in = {
	    .source = "dir/a \"quoted\" name\x7f.pcap",
	    .link_type = 1,
	    .report = &r,
	    .stats = &st,
	    .agg_memory = 74600344,
	    .read_error = "truncated dump file; tried to read 16 header bytes, only got 3",
	};
	in.totals.egress = (struct agg_counter){100, 123456790513ULL};
	in.totals.pair_overflow = 5;

	char *doc = write_summary(&in);
	char *want = doc ? jansson_redump(doc) : NULL;
	CHECK(want != NULL);
	if (doc && want && strcmp(doc, want) != 0) {
		size_t i = 0;
		while (doc[i] && doc[i] == want[i])
			i++;
		fprintf(stderr,
			"     differs from jansson's at byte %zu: ours \"%.40s\", jansson's "
			"\"%.40s\"\n",
			i, doc + i, want + i);
		CHECK(!"summary layout equals jansson's JSON_INDENT(2)");
	}

	/* And the values are the ones given. */
	json_t *j = doc ? json_loads(doc, 0, NULL) : NULL;
	CHECK(j != NULL);
	if (j) {
		json_t *id0 = json_array_get(json_object_get(j, "identities"), 0);
		CHECK_STREQ(json_string_value(json_object_get(id0, "identity")),
			    "billing \"api\"\\\t\x01 caf\xc3\xa9");
		CHECK_EQ_U64(json_integer_value(json_object_get(id0, "out_bytes")),
			     123456790513ULL);
		json_t *t0 = json_array_get(json_object_get(id0, "top_destinations"), 0);
		CHECK_STREQ(json_string_value(json_object_get(t0, "addr")), "203.0.113.9");
		CHECK_STREQ(json_string_value(json_object_get(t0, "proto")), "tcp");
		json_t *id1 = json_array_get(json_object_get(j, "identities"), 1);
		json_t *t1 = json_array_get(json_object_get(id1, "top_destinations"), 0);
		CHECK_EQ_U64(json_integer_value(json_object_get(t1, "proto")), 89);
		json_t *id2 = json_array_get(json_object_get(j, "identities"), 2);
		CHECK_EQ_U64(json_array_size(json_object_get(id2, "top_destinations")), 0);
		CHECK_EQ_U64(json_object_size(json_object_get(j, "undecoded_reasons")), 2);
		CHECK(json_real_value(json_object_get(j, "end")) == 1742380849.99999);
		CHECK_STREQ(json_string_value(json_object_get(j, "read_error")), in.read_error);
		json_decref(j);
	}
	free(want);
	free(doc);
}

/* A name that is not UTF-8 is written with '?' for its high bytes, so the
 * document stays valid JSON. */
static void test_non_utf8_name(void)
{
	struct report_identity id;
	memset(&id, 0, sizeof(id));
	snprintf(id.name, sizeof(id.name), "bad\xff\xfe-name");
	struct report r;
	memset(&r, 0, sizeof(r));
	r.ids = &id;
	r.nids = 1;
	struct pipeline_stats st;
	memset(&st, 0, sizeof(st));
	struct summary_input in = {.source = "x\xc0.pcap", .report = &r, .stats = &st};
	char *doc = write_summary(&in);
	json_t *j = doc ? json_loads(doc, 0, NULL) : NULL;
	CHECK(j != NULL);
	if (j) {
		json_t *id0 = json_array_get(json_object_get(j, "identities"), 0);
		CHECK_STREQ(json_string_value(json_object_get(id0, "identity")), "bad?"
										 "?-name");
		CHECK_STREQ(json_string_value(json_object_get(j, "source")), "x?.pcap");
		CHECK_EQ_U64(json_object_size(json_object_get(j, "undecoded_reasons")), 0);
		json_decref(j);
	}
	free(doc);
}

/* A document many times the writer's buffer: what crosses its flushes is
 * still jansson's document. */
static void test_large_document(void)
{
	enum { N = 3000 };
	struct report_dest d[2] = {
	    dest("203.0.113.9", 443, 6, 1000, 2),
	    dest("2001:db8::1234:5678", 8443, 17, 77, 1),
	};
	struct report_identity *ids = calloc(N, sizeof(*ids));
	CHECK(ids != NULL);
	if (!ids)
		return;
	for (int i = 0; i < N; i++) {
		snprintf(ids[i].name, sizeof(ids[i].name), "workload-%d\t%s", i,
			 i % 7 ? "" : "\"x\"");
		ids[i].out_bytes = 1000u * (unsigned)(N - i);
		ids[i].flows = (unsigned)i;
		ids[i].dests = d;
		ids[i].ndests = (size_t)(i % 3);
	}
	struct report r;
	memset(&r, 0, sizeof(r));
	r.ids = ids;
	r.nids = N;
	struct pipeline_stats st;
	memset(&st, 0, sizeof(st));
	struct summary_input in = {.source = "big.pcap", .report = &r, .stats = &st};
	char *doc = write_summary(&in);
	char *want = doc ? jansson_redump(doc) : NULL;
	CHECK(doc && strlen(doc) > 4 * 65536);
	CHECK(want != NULL);
	if (doc && want)
		CHECK(strcmp(doc, want) == 0);
	free(want);
	free(doc);
	free(ids);
}

TEST_MAIN(test_layout_matches_jansson, test_non_utf8_name, test_large_document)
