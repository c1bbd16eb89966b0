/*
 * Unit tests for identity_map: file format, FILE:LINE diagnostics for every
 * kind of bad line, name interning, longest-prefix attribution and
 * later-wins replacement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "identity_map.h"
#include "report.h"
#include "test.h"
#include "banned.h"

static uint32_t look(const struct identity_map *m, const char *s)
{
	ew_addr a;
	if (addr_parse(s, &a))
		return 0xffffffff;
	return identity_map_lookup(m, &a);
}

static const char *look_name(const struct identity_map *m, const char *s)
{
	const char *n = identity_map_name(m, look(m, s));
	return n ? n : "(none)";
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");
	CHECK(f != NULL);
	if (!f)
		return;
	fwrite(text, 1, len, f);
	fclose(f);
}

static bool diag_has(const struct diag *d, const char *needle)
{
	for (unsigned i = 0; i < d->count && i < DIAG_MAX; i++)
		if (strstr(d->msg[i], needle))
			return true;
	fprintf(stderr, "no diagnostic contains \"%s\"\n", needle);
	return false;
}

static void test_add_and_lookup(void)
{
	struct identity_map *m = identity_map_new();
	char err[256];
	CHECK(identity_map_add(m, "10.0.0.0/8", "corp", err, sizeof(err)) == 0);
	CHECK(identity_map_add(m, "10.1.0.0/16", "web", err, sizeof(err)) == 0);
	CHECK(identity_map_add(m, "10.1.2.3", "db", err, sizeof(err)) == 0);
	CHECK(identity_map_add(m, "2001:db8::/32", "web", err, sizeof(err)) == 0);
	CHECK_EQ_U64(identity_map_names(m), 3);  /* "web" interned once */
	CHECK_EQ_U64(identity_map_prefixes(m), 4);
	CHECK_STREQ(look_name(m, "10.9.9.9"), "corp");
	CHECK_STREQ(look_name(m, "10.1.9.9"), "web");
	CHECK_STREQ(look_name(m, "10.1.2.3"), "db");
	CHECK_STREQ(look_name(m, "2001:db8:1::1"), "web");
	CHECK_EQ_U64(look(m, "2001:db8:1::1"), look(m, "10.1.9.9"));
	CHECK_EQ_U64(look(m, "11.0.0.1"), 0);
	CHECK(identity_map_name(m, 0) == NULL);
	CHECK(identity_map_name(m, 4) == NULL);
	/* ids are 1..N in order of first appearance */
	CHECK_STREQ(identity_map_name(m, 1), "corp");
	CHECK_STREQ(identity_map_name(m, 3), "db");

	/* Later entries replace earlier ones for the same prefix. */
	CHECK(identity_map_add(m, "10.1.2.3/32", "db-new", err, sizeof(err)) == 0);
	CHECK_STREQ(look_name(m, "10.1.2.3"), "db-new");
	CHECK_EQ_U64(identity_map_prefixes(m), 4);

	CHECK(identity_map_add(m, "10.0.0.0/33", "x", err, sizeof(err)) == -1);
	CHECK(strstr(err, "10.0.0.0/33") != NULL);
	CHECK(identity_map_add(m, "10.0.0.0/8", "has space", err, sizeof(err)) == -1);
	CHECK(strstr(err, "not a valid identity name") != NULL);
	CHECK(identity_map_add(m, "10.0.0.0/8", "~overflow", err, sizeof(err)) == -1);
	CHECK(identity_map_add(m, "10.0.0.0/8", "", err, sizeof(err)) == -1);
	char longname[IDENTITY_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname));
	longname[IDENTITY_NAME_MAX] = '\0';
	CHECK(identity_map_add(m, "10.0.0.0/8", longname, err, sizeof(err)) == 0);
	longname[IDENTITY_NAME_MAX] = 'a';
	longname[IDENTITY_NAME_MAX + 1] = '\0';
	CHECK(identity_map_add(m, "10.0.0.0/8", longname, err, sizeof(err)) == -1);
	CHECK(identity_map_add(m, "10.0.0.0/8", "A-z_0.9:@/x", err, sizeof(err)) == 0);
	CHECK_STREQ(look_name(m, "10.200.0.1"), "A-z_0.9:@/x");
	identity_map_free(m);
	identity_map_free(NULL);
}

static void test_load_file_good_and_bad(void)
{
	char path[] = "/tmp/test_identity_map_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	char text[4096], longline[1200];
	/* 1100 bytes: a good entry, but past the 1024-byte line limit. */
	memset(longline, ' ', sizeof(longline));
	memcpy(longline, "10.5.0.0/16 x", 13);
	longline[1100] = '\0';
	int n = snprintf(text, sizeof(text),
			 "# a comment\n"                       /* 1 */
			 "\n"                                  /* 2 */
			 "   \t  \n"                           /* 3 */
			 "10.0.0.0/8 corp\n"                   /* 4 */
			 "10.1.0.0/16\tweb   # trailing\r\n"   /* 5 */
			 "10.1.2.3 db extra\n"                 /* 6: extra field */
			 "10.0.0.300 bad\n"                    /* 7: bad address */
			 "10.2.0.0/16 bad!name\n"              /* 8: bad name */
			 "10.3.0.0/16\n"                       /* 9: no name */
			 "%s\n"                                /* 10: over-long */
			 "fd00::/8 v6\n"                       /* 11 */
			 "10.4.0.0/16 last",                   /* 12: no final newline */
			 longline);
	CHECK(n > 1100 && n < (int)sizeof(text));
	write_file(path, text, (size_t)n);

	struct identity_map *m = identity_map_new();
	struct diag *d = calloc(1, sizeof(*d));
	CHECK(identity_map_load_file(m, path, d) == -1);
	CHECK_EQ_U64(d->count, 5);
	char want[512];
	snprintf(want, sizeof(want), "%s:6: extra field \"extra\"", path);
	CHECK(diag_has(d, want));
	snprintf(want, sizeof(want), "%s:7: \"10.0.0.300\" is not an address", path);
	CHECK(diag_has(d, want));
	snprintf(want, sizeof(want), "%s:8: \"bad!name\" is not a valid identity name", path);
	CHECK(diag_has(d, want));
	snprintf(want, sizeof(want), "%s:9: expected \"CIDR name\"", path);
	CHECK(diag_has(d, want));
	snprintf(want, sizeof(want), "%s:10: line longer than", path);
	CHECK(diag_has(d, want));
	/* Good lines were still added. */
	CHECK_STREQ(look_name(m, "10.9.0.1"), "corp");
	CHECK_STREQ(look_name(m, "10.1.2.3"), "web");
	CHECK_STREQ(look_name(m, "fd00::1"), "v6");
	CHECK_STREQ(look_name(m, "10.4.1.1"), "last");
	CHECK_STREQ(look_name(m, "10.5.1.1"), "corp");
	CHECK_EQ_U64(identity_map_names(m), 4);
	CHECK_EQ_U64(identity_map_prefixes(m), 4);
	identity_map_free(m);

	/* A clean file loads with no diagnostics. */
	const char *good = "10.0.0.1 a\n10.0.0.2 b\n# end\n";
	write_file(path, good, strlen(good));
	memset(d, 0, sizeof(*d));
	m = identity_map_new();
	CHECK(identity_map_load_file(m, path, d) == 0);
	CHECK_EQ_U64(d->count, 0);
	CHECK_STREQ(look_name(m, "10.0.0.2"), "b");
	identity_map_free(m);

	/* A missing file is one whole-file diagnostic. */
	unlink(path);
	memset(d, 0, sizeof(*d));
	m = identity_map_new();
	CHECK(identity_map_load_file(m, path, d) == -1);
	CHECK_EQ_U64(d->count, 1);
	snprintf(want, sizeof(want), "%s: cannot open", path);
	CHECK(diag_has(d, want));
	identity_map_free(m);
	free(d);
}

static void test_load_buffer_nul_and_lines(void)
{
	static const char text[] = "10.0.0.1 a\0b\n10.0.0.2 ok\n\n10.0.0.3 x y\n";
	struct identity_map *m = identity_map_new();
	struct diag *d = calloc(1, sizeof(*d));
	CHECK(identity_map_load_buffer(m, "buf", text, sizeof(text) - 1, d) == -1);
	CHECK_EQ_U64(d->count, 2);
	CHECK(diag_has(d, "buf:1: line contains a NUL byte"));
	CHECK(diag_has(d, "buf:4: extra field"));
	CHECK_STREQ(look_name(m, "10.0.0.2"), "ok");
	CHECK_EQ_U64(look(m, "10.0.0.1"), 0);
	identity_map_free(m);
	free(d);
}

static void test_many_names(void)
{
	struct identity_map *m = identity_map_new();
	char err[128], cidr[64], name[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", i / 256, i % 256);
		snprintf(name, sizeof(name), "host-%d", i % 1000);
		CHECK(identity_map_add(m, cidr, name, err, sizeof(err)) == 0);
	}
	CHECK_EQ_U64(identity_map_names(m), 1000);
	CHECK_EQ_U64(identity_map_prefixes(m), 5000);
	CHECK_STREQ(look_name(m, "10.19.135.77"), "host-999"); /* 19*256+135 = 4999 */
	identity_map_free(m);
}

TEST_MAIN(test_add_and_lookup, test_load_file_good_and_bad, test_load_buffer_nul_and_lines,
	  test_many_names)
