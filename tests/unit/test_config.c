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
};

static void on_key(void *user, const char *file, unsigned line, const char *section,
		   const char *name, const char *value, struct diag *d)
{
	struct seen *s = user;
	(void)file;
	(void)d;
	snprintf(s->last, sizeof(s->last), "%s.%s=%s", section, name, value);
	s->line = line;
	s->calls++;
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
			 "[limits]\nmax_pairs = 5000\n[decode]\nvxlan = on\n[redis]\nspool_max = 2GiB\n");
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
	CHECK_EQ_U64(c.spool_max, 2ull << 30);
	unlink(path);
}

static void test_sensor_config_errors(void)
{
	char path[] = "/tmp/ew_test_sensor_conf_XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	write_file(path, "[sensor]\nid = gw-1\nsnaplen = 10\ncolour = blue\n[limits]\nmax_pairs = lots\n"
			 "[nosuch]\nk = v\n[sensor]\ninternal = 10.0.0.0/33\nflush_interval = 1 fortnight\n");
	struct sensor_config c;
	struct diag d = {0};
	char want[512];
	sensor_config_defaults(&c);
	CHECK(sensor_config_load(&c, path, &d) == -1);
	CHECK_EQ_U64(d.count, 6);
	snprintf(want, sizeof(want), "%s:3: [sensor] snaplen:", path);
	CHECK(strncmp(d.msg[0], want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "%s:4: unknown key \"colour\" in [sensor]", path);
	CHECK_STREQ(d.msg[1], want);
	snprintf(want, sizeof(want), "%s:6: [limits] max_pairs:", path);
	CHECK(strncmp(d.msg[2], want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "%s:8: unknown section [nosuch]", path);
	CHECK_STREQ(d.msg[3], want);
	snprintf(want, sizeof(want), "%s:10: [sensor] internal:", path);
	CHECK(strncmp(d.msg[4], want, strlen(want)) == 0);
	snprintf(want, sizeof(want), "%s:11: [sensor] flush_interval:", path);
	CHECK(strncmp(d.msg[5], want, strlen(want)) == 0);
	CHECK_EQ_U64(c.snaplen, 256); /* a bad value leaves the default */
	unlink(path);
}

TEST_MAIN(test_bytes_units, test_duration_units, test_uint_and_bool, test_format_u64,
	  test_ini_line_numbers, test_ini_long_line, test_sensor_config_values,
	  test_sensor_config_errors)
