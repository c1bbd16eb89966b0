/*
 * floodgen: a capture of a spoofed-source flood, for the bounded-memory tests.
 *
 *   floodgen -o FILE [-n PACKETS] [--seed S] [--sources K] [--v6 PERCENT]
 *
 * Writes a classic pcap (Ethernet, microsecond stamps) of PACKETS packets
 * (default 1000000), each from an internal source (10.0.0.0/8, or fd00::/8
 * for the IPv6 share, default 20%) to a random external destination
 * (2000::/3, or IPv4 outside every private range) on a random port, TCP or
 * UDP, of a random size. Only the headers are stored (caplen 54 or 74); the
 * IP length fields carry the full size, which is what the sensor counts.
 *
 * Sources: with --sources 0 (the default) every packet has its own source,
 * so a flood of N packets is N distinct identities; with --sources K the
 * packets are spread over K sources (a "normal" file of the same size for
 * rate comparisons). Source i's address is a keyed bijection of i, so the
 * addresses look random yet never collide.
 *
 * Everything follows from the seed: the same arguments give the same bytes.
 * On success the totals go to stderr as one JSON line:
 *   {"packets": N, "egress_packets": N, "egress_bytes": B, "ipv4_packets": ..,
 *    "ipv6_packets": .., "distinct_sources": D, "bytes_written": F}
 * Exit status 0, 1 on a usage or write error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define SRC_BITS 24             /* 10.0.0.0/8 has 2^24 addresses */
#define SRC_SPACE (1u << SRC_BITS)
#define T0 1742380800u          /* 2025-03-19T10:40:00Z, the DESIGN.md example */

static uint64_t rng_state;

/* splitmix64: small, fast, and fully determined by the seed. */
static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A bijection on [0, 2^24): xor-shift and odd multiplies, keyed by the seed. */
static uint32_t perm24(uint32_t x, uint64_t key)
{
	const uint32_t m = SRC_SPACE - 1;
	for (int r = 0; r < 3; r++) {
		x = (x ^ (uint32_t)(key >> (r * 16))) & m;
		x = (x * 0x2c1b3du) & m;     /* odd: invertible mod 2^24 */
		x ^= x >> 11;
	}
	return x & m;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* An IPv4 destination outside 10/8, 172.16/12, 192.168/16, 100.64/10, 0/8, 127/8. */
static uint32_t external_v4(void)
{
	for (;;) {
		uint32_t a = (uint32_t)rnd();
		uint8_t o1 = (uint8_t)(a >> 24), o2 = (uint8_t)(a >> 16);
		if (o1 == 10 || o1 == 0 || o1 == 127 || o1 >= 224 ||
		    (o1 == 172 && (o2 & 0xf0) == 16) || (o1 == 192 && o2 == 168) ||
		    (o1 == 100 && (o2 & 0xc0) == 64))
			continue;
		return a;
	}
}

static uint16_t ip4_checksum(const uint8_t *h)
{
	uint32_t s = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int usage(void)
{
	fprintf(stderr, "usage: floodgen -o FILE [-n PACKETS] [--seed S] [--sources K] [--v6 PERCENT]\n");
	return 1;
}

static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	uint64_t n = 1000000, seed = 1, sources = 0, v6pct = 20;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			return usage();
		if (strcmp(a, "-o") == 0)
			out = v;
		else if (strcmp(a, "-n") == 0 ? parse_u64(v, SRC_SPACE, &n)
			 : strcmp(a, "--seed") == 0 ? parse_u64(v, UINT64_MAX, &seed)
			 : strcmp(a, "--sources") == 0 ? parse_u64(v, SRC_SPACE, &sources)
			 : strcmp(a, "--v6") == 0 ? parse_u64(v, 100, &v6pct)
						   : -1) {
			fprintf(stderr, "floodgen: bad %s \"%s\"\n", a, v);
			return usage();
		}
		i++;
	}
	if (!out)
		return usage();
	FILE *f = fopen(out, "wb");
	if (!f) {
		fprintf(stderr, "floodgen: %s: %s\n", out, strerror(errno));
		return 1;
	}
	static uint8_t used[SRC_SPACE / 8]; /* which source indices appeared */
	rng_state = seed;
	uint64_t key = rnd();
	uint64_t ip4 = 0, ip6 = 0, bytes = 0, distinct = 0, written = 0;

	uint8_t gh[24];
	put32le(gh, 0xa1b2c3d4);
	gh[4] = 2, gh[5] = 0, gh[6] = 4, gh[7] = 0;     /* version 2.4, little-endian */
	memset(gh + 8, 0, 8);
	put32le(gh + 16, 65535);
	put32le(gh + 20, 1);                            /* LINKTYPE_ETHERNET */
	bool ok = fwrite(gh, sizeof(gh), 1, f) == 1;
	written += sizeof(gh);

	for (uint64_t i = 0; i < n && ok; i++) {
		uint32_t idx = sources ? (uint32_t)(rnd() % sources) : (uint32_t)i;
		if (!(used[idx >> 3] & (1u << (idx & 7)))) {
			used[idx >> 3] |= (uint8_t)(1u << (idx & 7));
			distinct++;
		}
		uint32_t host = perm24(idx, key);
		/* A source keeps one family: decided by its index, not the packet. */
		bool v6 = (perm24(idx ^ 0x5a5a5a, key >> 7) % 100) < v6pct;
		bool tcp = rnd() & 1;
		uint32_t l4len = tcp ? 20 : 8;
		uint32_t payload = (uint32_t)(rnd() % 1401);
		uint8_t pkt[14 + 40 + 20];
		memset(pkt, 0, sizeof(pkt));
		memcpy(pkt, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
		uint8_t *ip = pkt + 14, *l4;
		uint32_t iplen;
		if (v6) {
			put16(pkt + 12, 0x86dd);
			iplen = 40 + l4len + payload;
			put32(ip, 0x60000000);
			put16(ip + 4, l4len + payload);
			ip[6] = tcp ? 6 : 17;
			ip[7] = 64;
			ip[8] = 0xfd;                   /* fd00::/8, the unique-local half of fc00::/7 */
			put32(ip + 20, host);
			uint64_t d = rnd(), e = rnd();
			put32(ip + 24, (uint32_t)(0x20000000u | ((uint32_t)(d >> 32) & 0x1fffffffu)));
			put32(ip + 28, (uint32_t)d);
			put32(ip + 32, (uint32_t)(e >> 32));
			put32(ip + 36, (uint32_t)e);
			l4 = ip + 40;
			ip6++;
		} else {
			put16(pkt + 12, 0x0800);
			iplen = 20 + l4len + payload;
			ip[0] = 0x45;
			put16(ip + 2, iplen);
			put16(ip + 4, (uint32_t)i);
			ip[8] = 64;
			ip[9] = tcp ? 6 : 17;
			put32(ip + 12, 0x0a000000u | host);
			put32(ip + 16, external_v4());
			put16(ip + 10, ip4_checksum(ip));
			l4 = ip + 20;
			ip4++;
		}
		uint32_t ports = (uint32_t)rnd();
		put16(l4, 1024 + (ports >> 16) % 60000);
		put16(l4 + 2, ports & 0xffff);
		if (tcp) {
			put32(l4 + 4, (uint32_t)rnd());
			l4[12] = 0x50;
			l4[13] = 0x18;                  /* PSH ACK */
			put16(l4 + 14, 65535);
		} else {
			put16(l4 + 4, l4len + payload);
		}
		uint32_t caplen = (uint32_t)(l4 + l4len - pkt);
		uint64_t usec = i * 100;                /* 10 kpps: 1M packets = 100 s */
		uint8_t rh[16];
		put32le(rh, T0 + (uint32_t)(usec / 1000000));
		put32le(rh + 4, (uint32_t)(usec % 1000000));
		put32le(rh + 8, caplen);
		put32le(rh + 12, 14 + iplen);
		ok = fwrite(rh, sizeof(rh), 1, f) == 1 && fwrite(pkt, caplen, 1, f) == 1;
		written += sizeof(rh) + caplen;
		bytes += iplen;
	}
	if (fclose(f) || !ok) {
		fprintf(stderr, "floodgen: writing %s: %s\n", out, strerror(errno));
		return 1;
	}
	fprintf(stderr,
		"{\"packets\": %" PRIu64 ", \"egress_packets\": %" PRIu64 ", \"egress_bytes\": %" PRIu64
		", \"ipv4_packets\": %" PRIu64 ", \"ipv6_packets\": %" PRIu64
		", \"distinct_sources\": %" PRIu64 ", \"bytes_written\": %" PRIu64 "}\n",
		n, n, bytes, ip4, ip6, distinct, written);
	return 0;
}
