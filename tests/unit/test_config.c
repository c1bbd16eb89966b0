/*
 * Units, the line-numbered INI reader and the sensor config: values parse to
 * the right numbers, and every bad line is named FILE:LINE.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ini_file.h"
#include "sensor_config.h"
#include "units.h"
#include "test.h"
#include "banned.h"

static void test_bytes_units(void)
{
	uint64_t v;
	CHECK(units_parse_bytes("10GB", &v) == 0);
	CHECK_EQ_U64(v, 10000000000ull);
	CHECK(units_parse_bytes("500MiB", &v) == 0);
	CHECK_EQ_U64(v, 500ull << 20);
	CHECK(units_parse_bytes("1.5 TB", &v) == 0);
	CHECK_EQ_U64(v, 1500000000000ull);
	CHECK(units_parse_bytes("4096", &v) == 0);
	CHECK_EQ_U64(v, 4096);
	CHECK(units_parse_bytes("250gb", &v) == 0);
	CHECK_EQ_U64(v, 250000000000ull);
	CHECK(units_parse_bytes("", &v) == -1);
	CHECK(units_parse_bytes("-1GB", &v) == -1);
	CHECK(units_parse_bytes("10 parsecs", &v) == -1);
	CHECK(units_parse_bytes("GB", &v) == -1);
	CHECK(units_parse_bytes("99999999999PB", &v) == -1);
	CHECK(units_parse_bytes("nan", &v) == -1);
	/* Plain decimals only: strtod would take all of these. */
	CHECK(units_parse_bytes("0x4000000", &v) == -1);
	CHECK(units_parse_bytes("1e7", &v) == -1);
	CHECK(units_parse_bytes("inf", &v) == -1);
	CHECK(units_parse_bytes("+5MB", &v) == -1);
	CHECK(units_parse_bytes(".", &v) == -1);
	CHECK(units_parse_bytes(".5KB", &v) == 0 && v == 500);
	CHECK(units_parse_bytes("2.KiB", &v) == 0 && v == 2048);
	/* Past llround's 2^63, below 2^64: exact, not clamped. */
	CHECK(units_parse_bytes("16EB", &v) == -1); /* no such unit */
	CHECK(units_parse_bytes("10000PB", &v) == 0 && v == 10000000000000000000ull);
	CHECK(units_parse_bytes("20000PB", &v) == -1);
}

static void test_duration_units(void)
{
	double s;
	CHECK(units_parse_duration("10s", &s) == 0 && s == 10);
	CHECK(units_parse_duration("1h", &s) == 0 && s == 3600);
	CHECK(units_parse_duration("7d", &s) == 0 && s == 604800);
	CHECK(units_parse_duration("90m", &s) == 0 && s == 5400);
	CHECK(units_parse_duration("250ms", &s) == 0 && s == 0.25);
	CHECK(units_parse_duration("5", &s) == 0 && s == 5);
	CHECK(units_parse_duration("1 fortnight", &s) == -1);
	CHECK(units_parse_duration("h", &s) == -1);
	CHECK(units_parse_duration("0x1.4p3", &s) == -1);
	CHECK(units_parse_duration("1e1s", &s) == -1);
	CHECK(units_parse_duration("10 s", &s) == 0 && s == 10);
}

static void test_uint_and_bool(void)
{
	uint64_t v;
	int b;
	CHECK(units_parse_uint("65535", 65535, &v) == 0 && v == 65535);
	CHECK(units_parse_uint("65536", 65535, &v) == -1);
	CHECK(units_parse_uint("12x", 100, &v) == -1);
	CHECK(units_parse_uint("-3", 100, &v) == -1);
	CHECK(units_parse_bool("on", &b) == 0 && b == 1);
	CHECK(units_parse_bool("No", &b) == 0 && b == 0);
	CHECK(units_parse_bool("maybe", &b) == -1);
}

/* Every width of u64 against snprintf's digits, 0 and UINT64_MAX included. */
static void test_format_u64(void)
{
	uint64_t vs[] = {0, 7, 10, 99, 1000, 4294967295u, 4294967296u, 1234567890123456789u,
			 UINT64_MAX};
	for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
		char buf[UNITS_U64_DIGITS], got[32], want[32];
		const char *d = units_format_u64(vs[k], buf);
		size_t n = (size_t)(buf + sizeof(buf) - d);
		memcpy(got, d, n);
		got[n] = '\0';
		snprintf(want, sizeof(want), "%llu", (unsigned long long)vs[k]);
		CHECK_STREQ(got, want);
	}
}

struct seen {
	char last[256];
	unsigned line;
	int calls;
	char sections[256];     /* headers announced, "[a]@3 [b]@7" */
};

static void on_key(void *user, const char *file, unsigned line, const char *section,
		   const char *name, const char *value, struct diag *d)
{
	struct seen *s = user;
	(void)file;
	(void)d;
	if (!name) {
		size_t n = strlen(s->sections);
		snprintf(s->sections + n, sizeof(s->sections) - n, "%s[%s]@%u", n ? " " : "",
			 section, line);
		return;
	}
	snprintf(s->last, sizeof(s->last), "%s.%s=%s", section, name, value);
	s->line = line;
	s->calls++;
}

/* What inih would take silently is an error at its line; a value's inline
 * comment goes; a section without keys is announced. */
static void test_ini_strict_lines(void)
{
	struct diag d = {0};
	struct seen s = {0};
	const char text[] = "\xef\xbb\xbf[a]   # a comment\n"
			    "x = tcp port 443   # web only\n"
			    "[b] y = 1\n"
			    "y: 2\n"
			    "url = http://h:1/a#b\n"
			    "z = 1\rw = 2\n"
			    "n = 1\0 junk\n"
			    "[empty]\n"
			    "[0123456789012345678901234567890123456789012345678901]\n"
			    "k = v ; old style\n";
	CHECK(ini_file_parse_string_n("s.conf", text, sizeof(text) - 1, on_key, &s, &d) == -1);
	CHECK_EQ_U64(d.count, 5);
	CHECK_STREQ(d.msg[0], "s.conf:3: text after the section header: \"y = 1\"");
	CHECK_STREQ(d.msg[1], "s.conf:4: expected \"name = value\"");
	CHECK(strstr(d.msg[2], "s.conf:6: a carriage return inside the line") == d.msg[2]);
	CHECK_STREQ(d.msg[3], "s.conf:7: the line holds a NUL byte");
	CHECK_STREQ(d.msg[4], "s.conf:9: section name too long (at most 49 bytes)");
	CHECK_STREQ(s.sections, "[a]@1 [empty]@8");
	CHECK_EQ_U64(s.calls, 3);
	CHECK_STREQ(s.last, "empty.k=v");
	CHECK_EQ_U64(s.line, 10);
}

/* A message quotes what a file held: an escape sequence must not reach the
 * terminal that prints it. */
static void test_diag_printable(void)
{
	struct diag d = {0};
	diag_add(&d, "ids.conf", 3, "\"%s\" is not a valid identity name", "a\x1b[2J\tb\x7f");
	CHECK_STREQ(d.msg[0], "ids.conf:3: \"a?[2J?b?\" is not a valid identity name");
}

static void test_ini_inline_comment(void)
{
	struct diag d = {0};
	struct seen s = {0};
	CHECK(ini_file_parse_string("c.conf", "[a]\nfilter = tcp port 443 # web only\n", on_key, &s,
				    &d) == 0);
	CHECK_STREQ(s.last, "a.filter=tcp port 443");
	CHECK(ini_file_parse_string("c.conf", "[a]\nurl = http://h/#frag\n", on_key, &s, &d) == 0);
	CHECK_STREQ(s.last, "a.url=http://h/#frag");
}

static void test_ini_line_numbers(void)
{
	struct diag d = {0};
	struct seen s = {0};
	const char *text = "# comment\n\n[a]\nx = 1\nthis line is wrong\n[b\n  y = two words  \n";
	CHECK(ini_file_parse_string("t.conf", text, on_key, &s, &d) == -1);
	CHECK_EQ_U64(s.calls, 2);
	CHECK_STREQ(s.last, "a.y=two words");
	CHECK_EQ_U64(s.line, 7);
	CHECK_EQ_U64(d.count, 2);
	CHECK_STREQ(d.msg[0], "t.conf:5: expected \"name = value\"");
	CHECK_STREQ(d.msg[1], "t.conf:6: malformed section header");
}

static void test_ini_long_line(void)
{
	struct diag d = {0};
	struct seen s = {0};
	char text[9000];
	memset(text, 'x', sizeof(text));
	memcpy(text, "[a]\nk = ", 8);
	memcpy(text + sizeof(text) - 12, "\nk2 = v\n", 9);
	CHECK(ini_file_parse_string("long.conf", text, on_key, &s, &d) == -1);
	CHECK_EQ_U64(d.count, 1);
	CHECK(strstr(d.msg[0], "long.conf:2: line too long") == d.msg[0]);
	CHECK_STREQ(s.last, "a.k2=v");
	CHECK_EQ_U64(s.line, 3);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_sensor_config_values(void)
{
	char path[] = "/tmp/ew_test_sensor_conf_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	write_file(path, "[sensor]\nid = gw-1\nflush_interval = 1m\nsnaplen = 128\ninternal = 10.0.0.0/8\n"
			 "[limits]\nmax_pairs = 5000\n[decode]\nvxlan = on\nmirror_targets = 10.0.200.5, fd00::/64\n"
			 "[redis]\nspool_max = 2GiB\n");
	struct sensor_config c;
	struct diag d = {0};
	sensor_config_defaults(&c);
	CHECK(sensor_config_load(&c, path, &d) == 0);
	CHECK_STREQ(c.id, "gw-1");
	CHECK(c.flush_interval == 60);
	CHECK_EQ_U64(c.snaplen, 128);
	CHECK_STREQ(c.internal, "10.0.0.0/8");
	CHECK_EQ_U64(c.limits.max_pairs, 5000);
	CHECK_EQ_U64(c.limits.max_identities, 100000);
	CHECK(c.decode.vxlan && !c.decode.geneve);
	CHECK_EQ_U64(c.decode.ntargets, 2);
	CHECK_EQ_U64(c.spool_max, 2ull << 30);
	/* a mirror without targets opens nothing: an error at the line that turned it on */
	write_file(path, "[decode]\n\ngeneve = on\n");
	sensor_config_defaults(&c);
	memset(&d, 0, sizeof(d));
	CHECK(sensor_config_load(&c, path, &d) == -1);
	CHECK_EQ_U64(d.count, 1);
	char want[512];
	snprintf(want, sizeof(want), "%s:3: [decode] geneve: needs mirror_targets", path);
	CHECK(strncmp(d.msg[0], want, strlen(want)) == 0);
	unlink(path);
}

static void test_sensor_config_errors(void)
{
	char path[] = "/tmp/ew_test_sensor_conf_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	write_file(path, "[sensor]\nid = gw-1\nsnaplen = 10\ncolour = blue\n[limits]\nmax_pairs = lots\n"
			 "[nosuch]\nk = v\n[sensor]\ninternal = 10.0.0.0/33\nflush_interval = 1 fortnight\n"
			 "[limts]\n[sensor]\nid = gw-2\nid: a=b\nfilter = tcp port\n"
			 "user = no-such-user-here\ninternal = 10.1.2.3/8\n[redis]\naddress = redis:99999\n"
			 "identity_map_poll = 1ms\nheartbeat = 0x10\n");
	struct sensor_config c;
	struct diag d = {0};
	char want[512];
	sensor_config_defaults(&c);
	CHECK(sensor_config_load(&c, path, &d) == -1);
	static const char *const want_msgs[] = {
		"3: [sensor] snaplen:",
		"4: unknown key \"colour\" in [sensor]",
		"6: [limits] max_pairs:",
		"7: unknown section [nosuch]",
		"10: [sensor] internal:",
		"11: [sensor] flush_interval:",
		"12: unknown section [limts]",
		"14: [sensor] id: set twice (first at line 2)",
		"15: expected \"name = value\"",
		"16: [sensor] filter: can't parse filter expression",
		"17: [sensor] user: no user \"no-such-user-here\" on this machine",
		"18: [sensor] internal: set twice (first at line 10)",
		"20: [redis] address:",
		"21: [redis] identity_map_poll: expected 0 (off) or a duration",
		"22: [redis] heartbeat:",
	};
	size_t nwant = sizeof(want_msgs) / sizeof(want_msgs[0]);
	CHECK_EQ_U64(d.count, nwant);
	for (size_t i = 0; i < nwant && i < d.count; i++) {
		snprintf(want, sizeof(want), "%s:%s", path, want_msgs[i]);
		if (strncmp(d.msg[i], want, strlen(want)) != 0) {
			fprintf(stderr, "message %zu: got \"%s\", want \"%s...\"\n", i, d.msg[i], want);
			CHECK(0);
		}
	}
	CHECK_EQ_U64(c.snaplen, 256); /* a bad value leaves the default */
	CHECK_STREQ(c.id, "gw-1");
	unlink(path);
}

TEST_MAIN(test_bytes_units, test_duration_units, test_uint_and_bool, test_format_u64,
	  test_ini_line_numbers, test_ini_long_line, test_ini_strict_lines, test_ini_inline_comment,
	  test_diag_printable,
	  test_sensor_config_values,
	  test_sensor_config_errors)
