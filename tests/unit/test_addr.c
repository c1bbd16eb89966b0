/*
 * Unit tests for addr (parse, CIDR, RFC 5952 printing, masking) and hash
 * (SipHash-1-3 reference vectors, random seeding).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hash.h"
#include "test.h"
#include "banned.h"

static const char *fmt(const char *in)
{
	static char buf[ADDR_STRLEN];
	ew_addr a;
	if (addr_parse(in, &a))
		return "(parse error)";
	return addr_format(&a, buf, sizeof(buf));
}

static void test_parse_v4_is_mapped(void)
{
	ew_addr a;
	CHECK(addr_parse("192.0.2.1", &a) == 0);
	CHECK(addr_is_v4(&a));
	CHECK(a.b[10] == 0xff && a.b[11] == 0xff && a.b[12] == 192 && a.b[15] == 1);
	/* The IPv6 spelling of a mapped address is the same key. */
	ew_addr b;
	CHECK(addr_parse("::ffff:192.0.2.1", &b) == 0);
	CHECK(addr_eq(&a, &b));
	CHECK_STREQ(fmt("::ffff:c000:201"), "192.0.2.1");
}

/* addr_from_v4 (the decoder's) builds its words in registers: every byte of
 * the 16 must still be the mapped form, over whatever the address held. */
static void test_from_v4_bytes(void)
{
	static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7};
	ew_addr a;
	memset(&a, 0xa5, sizeof(a));
	addr_from_v4(&a, want + 12);
	CHECK(memcmp(a.b, want, 16) == 0);
	ew_addr p;
	CHECK(addr_parse("198.51.100.7", &p) == 0);
	CHECK(addr_eq(&a, &p));
}

static void test_parse_rejects_garbage(void)
{
	static const char *bad[] = {
		"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
		"1.2.3.4/8", "::1::", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "g::1", "::ffff:1.2.3",
		"12345::", "hello", ":",
	};
	ew_addr a;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (addr_parse(bad[i], &a) == 0) {
			fprintf(stderr, "accepted bad address \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
	CHECK(addr_parse(NULL, &a) == -1);
}

static void test_format_rfc5952(void)
{
	CHECK_STREQ(fmt("::"), "::");
	CHECK_STREQ(fmt("::1"), "::1");
	CHECK_STREQ(fmt("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
	CHECK_STREQ(fmt("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1"); /* first of equal runs */
	CHECK_STREQ(fmt("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1"); /* one zero: no :: */
	CHECK_STREQ(fmt("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1"); /* longest run */
	CHECK_STREQ(fmt("fe80::"), "fe80::");
	CHECK_STREQ(fmt("2001:0db8:00aa::0001"), "2001:db8:aa::1");
	CHECK_STREQ(fmt("::1.2.3.4"), "::1.2.3.4"); /* IPv4-compatible, as glibc prints */
	CHECK_STREQ(fmt("0.0.0.0"), "0.0.0.0");
	CHECK_STREQ(fmt("255.255.255.255"), "255.255.255.255");
	char small[8];
	ew_addr a;
	addr_parse("::1", &a);
	CHECK_STREQ(addr_format(&a, small, sizeof(small)), "");
}

/* inet_ntop is the oracle: it is what Wireshark prints on Linux. Random
 * addresses with many zero groups exercise every run position. */
static void test_format_matches_inet_ntop(void)
{
	srand(7);
	for (int i = 0; i < 200000; i++) {
		ew_addr a;
		for (int j = 0; j < 8; j++) {
			int r = rand();
			uint16_t w = (r & 3) ? 0 : (uint16_t)(rand() & ((r & 4) ? 0xf : 0xffff));
			if ((r & 0x38) == 0x38)
				w = 0xffff;
			a.b[2 * j] = (uint8_t)(w >> 8);
			a.b[2 * j + 1] = (uint8_t)w;
		}
		char ours[ADDR_STRLEN], want[INET6_ADDRSTRLEN];
		addr_format(&a, ours, sizeof(ours));
		if (addr_is_v4(&a))
			inet_ntop(AF_INET, a.b + 12, want, sizeof(want));
		else
			inet_ntop(AF_INET6, a.b, want, sizeof(want));
		if (strcmp(ours, want) != 0) {
			CHECK_STREQ(ours, want);
			break;
		}
		ew_addr back;
		CHECK(addr_parse(ours, &back) == 0 && addr_eq(&a, &back));
	}
}

static void test_cidr(void)
{
	ew_addr a, want;
	unsigned plen = 999;
	/* Bits past the prefix: a typo that would claim the whole network. */
	CHECK(addr_parse_cidr("10.1.2.3/8", &a, &plen) == ADDR_HOST_BITS);
	CHECK_EQ_U64(plen, 104);
	addr_parse("10.0.0.0", &want);
	CHECK(addr_eq(&a, &want));
	char why[160];
	addr_cidr_explain(ADDR_HOST_BITS, "10.1.2.3/8", &a, plen, why, sizeof(why));
	CHECK_STREQ(why, "\"10.1.2.3/8\" has bits set past its prefix length (the network is 10.0.0.0/8)");
	CHECK(addr_parse_cidr("10.0.0.0/8", &a, &plen) == 0);
	CHECK(addr_eq(&a, &want));
	CHECK(addr_parse_cidr("10.1.2.3", &a, &plen) == 0);
	CHECK_EQ_U64(plen, 128);
	CHECK(addr_parse_cidr("0.0.0.0/0", &a, &plen) == 0);
	CHECK_EQ_U64(plen, 96);
	CHECK(addr_is_v4(&a));
	CHECK(addr_parse_cidr("2001:db8:ffff::1/33", &a, &plen) == ADDR_HOST_BITS);
	CHECK_EQ_U64(plen, 33);
	char buf[ADDR_STRLEN];
	CHECK_STREQ(addr_format(&a, buf, sizeof(buf)), "2001:db8:8000::");
	addr_cidr_explain(ADDR_HOST_BITS, "2001:db8:ffff::1/33", &a, plen, why, sizeof(why));
	CHECK_STREQ(why, "\"2001:db8:ffff::1/33\" has bits set past its prefix length (the network is 2001:db8:8000::/33)");
	CHECK(addr_parse_cidr("2001:db8:8000::/33", &a, &plen) == 0);
	CHECK(addr_parse_cidr("::/0", &a, &plen) == 0);
	CHECK_EQ_U64(plen, 0);
	CHECK(addr_parse_cidr("fc00::/7", &a, &plen) == 0);
	CHECK_EQ_U64(plen, 7);
	CHECK(addr_parse_cidr("1.2.3.4/32", &a, &plen) == 0);
	CHECK_EQ_U64(plen, 128);
	CHECK(addr_parse_cidr("::1/128", &a, &plen) == 0);
	CHECK_EQ_U64(plen, 128);

	static const char *bad[] = {
		"10.0.0.0/33", "::/129", "10.0.0.0/", "/8", "10.0.0.0/-1", "10.0.0.0/+8",
		"10.0.0.0/8/8", "10.0.0.0/ 8", "10.0.0.0/0008", "10.0.0/8", "x/8", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (addr_parse_cidr(bad[i], &a, &plen) == 0) {
			fprintf(stderr, "accepted bad cidr \"%s\"\n", bad[i]);
			CHECK(0);
		}
	}
}

/* One rule for every CIDR match (mirror targets, allowlists, the
 * detector's): an IPv6 network shorter than /96 covers no IPv4 address. */
static void test_in_prefix(void)
{
	ew_addr net, a;
	unsigned plen;
	CHECK(addr_parse_cidr("10.0.0.0/8", &net, &plen) == 0);
	addr_parse("10.200.1.2", &a);
	CHECK(addr_in_prefix(&a, &net, plen));
	addr_parse("11.0.0.1", &a);
	CHECK(!addr_in_prefix(&a, &net, plen));
	CHECK(addr_parse_cidr("::/0", &net, &plen) == 0);
	CHECK(!addr_in_prefix(&a, &net, plen));
	addr_parse("2001:db8::1", &a);
	CHECK(addr_in_prefix(&a, &net, plen));
	CHECK(addr_parse_cidr("::ffff:0:0/96", &net, &plen) == 0); /* IPv4 /0 */
	addr_parse("11.0.0.1", &a);
	CHECK(addr_in_prefix(&a, &net, plen));
}

static void test_mask(void)
{
	ew_addr a;
	memset(a.b, 0xff, 16);
	addr_mask(&a, 13);
	CHECK(a.b[0] == 0xff && a.b[1] == 0xf8 && a.b[2] == 0 && a.b[15] == 0);
	memset(a.b, 0xff, 16);
	addr_mask(&a, 128);
	CHECK(a.b[15] == 0xff);
	addr_mask(&a, 0);
	for (int i = 0; i < 16; i++)
		CHECK(a.b[i] == 0);
}

/* Reference vectors of SipHash-1-3 (veorq/SipHash, as Rust's SipHasher13
 * tests them): key 00..0f, message 00..(len-1). */
static void test_siphash13_vectors(void)
{
	static const uint64_t want[17] = {
		0xabac0158050fc4dcULL, 0xc9f49bf37d57ca93ULL, 0x82cb9b024dc7d44dULL,
		0x8bf80ab8e7ddf7fbULL, 0xcf75576088d38328ULL, 0xdef9d52f49533b67ULL,
		0xc50d2b50c59f22a7ULL, 0xd3927d989bb11140ULL, 0x369095118d299a8eULL,
		0x25a48eb36c063de4ULL, 0x79de85ee92ff097fULL, 0x70c118c1f94dc352ULL,
		0x78a384b157b4d9a2ULL, 0x306f760c1229ffa7ULL, 0x605aa111c0f95d34ULL,
		0xd320d86d2a519956ULL, 0xcc4fdd1a7d908b66ULL,
	};
	struct hash_key k = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
	uint8_t m[17];
	for (int i = 0; i < 17; i++)
		m[i] = (uint8_t)i;
	for (size_t n = 0; n < 17; n++)
		CHECK_EQ_U64(hash_bytes(&k, m, n), want[n]);
	struct hash_key z = {0, 0};
	CHECK_EQ_U64(hash_bytes(&z, "", 0), 0xd1fba762150c532cULL);
}

static void test_seed_random(void)
{
	struct hash_key a = {0, 0}, b = {0, 0};
	CHECK(hash_seed_random(&a) == 0);
	CHECK(hash_seed_random(&b) == 0);
	CHECK(a.k0 != b.k0 || a.k1 != b.k1);
	CHECK(hash_bytes(&a, "x", 1) != hash_bytes(&b, "x", 1));
}

TEST_MAIN(test_parse_v4_is_mapped, test_from_v4_bytes, test_parse_rejects_garbage, test_format_rfc5952,
	  test_format_matches_inet_ntop, test_cidr, test_in_prefix, test_mask, test_siphash13_vectors,
	  test_seed_random)
