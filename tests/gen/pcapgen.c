/*
 * pcapgen: deterministic synthetic captures for the benchmarks and the demo.
 *
 *   pcapgen -o FILE [--seed S] [-n PACKETS] [--sources K] [--dests D]
 *           [--fanout F] [--vlan PCT] [--v6 PCT] [--ingress PCT] [--udp PCT]
 *           [--size BYTES] [--snaplen N] [--rate PPS] [--start UNIX]
 *   pcapgen --scenario demo -o FILE [--seed S] [--start UNIX] [--days N]
 *           [--exfil-gb G]
 *   pcapgen --scenario demo --print-identities
 *
 * Writes a classic pcap (Ethernet, nanosecond stamps) with pcap's record
 * format by hand, so the bytes depend on nothing but the arguments: the same
 * arguments always give the same file.
 *
 * Random mode (the default): PACKETS packets (default 1000000) between K
 * internal sources (default 1000; 10.0.0.0/8, and fd00::/8 for the IPv6
 * share) and D external destinations (default 10000; IPv4 from the
 * documentation and benchmark ranges 192.0.2.0/24, 198.51.100.0/24,
 * 203.0.113.0/24, 198.18.0.0/15; IPv6 from 2001:db8::/32), all outside the
 * sensor's default internal networks. Each source talks to F (default 32)
 * destinations of its own, picked with a skew, and sources are picked with a
 * skew too (a few heavy talkers, a long tail), which bounds the
 * source-destination pairs as real traffic does. PCT options are percentages
 * of packets: VLAN-tagged (802.1Q), IPv6, ingress (external to internal; the
 * rest is egress); UDP is a percentage of source-destination pairs (a pair
 * keeps one protocol and service port), so of packets only roughly. IP sizes: 70% at --size (default
 * 1500, up to 65535 as a TSO super-packet), the rest uniform down to the
 * bare headers. --snaplen N stores at most N bytes of each frame (the frame
 * length and the IP length still claim the full size: "header-only"); 0,
 * the default, stores whole frames. Packet k is stamped start + k / rate
 * (default start 1742380800, rate 100000 packets/s).
 *
 * Demo scenario: DAYS (default 3) days of capture clock from START (default
 * 2025-03-17T00:00:00Z, a Monday) in which the identities of
 * demo_idents[] (printed as an identities.conf by --print-identities) send
 * their diurnal traffic to the destinations they always use, as TSO
 * super-packets with a 128-byte snaplen so gigabytes fit in megabytes; on
 * the last day, from 13:00 for two hours, analytics-etl sends G GB (default
 * 6) to 198.51.100.200, where nobody sent before.
 *
 * On success one JSON line on stderr says what was written: packet and
 * byte totals (IP-layer bytes as DESIGN.md counts them) by direction and per
 * source (random mode: "by_source"; demo: "identities" and "exfil"), so a
 * test can hold the sensor's summary against it. Exit status 0; 1 on a
 * usage or write error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

#define FRAME_MAX (14 + 4 + 65535)
#define NS UINT64_C(1000000000)
#define V4_POOL 131840u          /* 3 x 256 TEST-NET addresses + 198.18.0.0/15 */

/* ---- randomness and byte order ---- */

/* splitmix64's finaliser: a good 64-bit mix, used for keyed hashes. */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* splitmix64: small, fast, and fully determined by the seed. */
static uint64_t rnd(uint64_t *st)
{
	return mix64(*st += 0x9e3779b97f4a7c15ull);
}

/* Uniform in [0, 1), from the top 53 bits. */
static double rnd01(uint64_t *st)
{
	return (double)(rnd(st) >> 11) * (1.0 / 9007199254740992.0);
}

/* A bijection on [0, 2^24): xor-shift and odd multiplies, keyed. */
static uint32_t perm24(uint32_t x, uint64_t key)
{
	const uint32_t m = (1u << 24) - 1;
	for (int r = 0; r < 3; r++) {
		x = (x ^ (uint32_t)(key >> (r * 16))) & m;
		x = (x * 0x2c1b3du) & m;
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
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
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

/* ---- the writer ---- */

/* One packet to write. Addresses are 16 bytes; IPv4 uses the first 4. */
struct pkt {
	uint64_t ts_ns;
	uint64_t seq;             /* tie-break so sorting stays deterministic */
	uint8_t src[16], dst[16];
	bool v6, udp;
	uint16_t vlan;            /* 0: untagged */
	uint16_t sport, dport;
	uint32_t iplen;           /* IPv4 total length; IPv6 payload length + 40 */
	uint32_t owner;           /* demo: identity index; dir in bit 31 */
};

struct writer {
	FILE *f;
	uint32_t snaplen;         /* 0: whole frames */
	uint64_t rng;             /* for header fields that do not matter */
	bool ok;
	uint64_t packets, file_bytes, wire_bytes, v6, vlan, udp, tcp;
	uint32_t max_caplen;
	uint64_t first_ns, last_ns;
	uint8_t rec[16 + FRAME_MAX]; /* record header, then the frame */
};

static int writer_open(struct writer *w, const char *path, uint32_t snaplen, uint64_t seed)
{
	memset(w, 0, sizeof(*w));
	w->f = fopen(path, "wb");
	if (!w->f) {
		fprintf(stderr, "pcapgen: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* Big stdio buffer: writing is most of the generator's time. */
	setvbuf(w->f, NULL, _IOFBF, 4 << 20);
	w->snaplen = snaplen;
	w->rng = seed ^ 0x5eedf00dull;
	w->ok = true;
	/* A payload pattern, so full frames look like something in a hex dump. */
	for (size_t i = 16; i < sizeof(w->rec); i++)
		w->rec[i] = (uint8_t)(0x20 + i % 95);
	uint8_t gh[24];
	put32le(gh, 0xa1b23c4d);                /* nanosecond pcap */
	gh[4] = 2, gh[5] = 0, gh[6] = 4, gh[7] = 0;     /* version 2.4, little-endian */
	memset(gh + 8, 0, 8);
	put32le(gh + 16, snaplen ? snaplen : 262144);
	put32le(gh + 20, 1);                    /* LINKTYPE_ETHERNET */
	w->ok = fwrite(gh, sizeof(gh), 1, w->f) == 1;
	w->file_bytes = sizeof(gh);
	return 0;
}

static int writer_close(struct writer *w, const char *path)
{
	if (fclose(w->f) || !w->ok) {
		fprintf(stderr, "pcapgen: writing %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Builds and writes one frame: Ethernet [802.1Q] IPv4|IPv6 TCP|UDP payload. */
static void writer_put(struct writer *w, const struct pkt *p)
{
	uint8_t *fr = w->rec + 16, *q = fr;
	memcpy(q, "\x02\x00\x5e\x00\x00\x01\x02\x00\x5e\x00\x00\x02", 12);
	q += 12;
	if (p->vlan) {
		put16(q, 0x8100);
		put16(q + 2, p->vlan & 0x0fff);
		q += 4;
	}
	put16(q, p->v6 ? 0x86dd : 0x0800);
	q += 2;
	uint8_t *ip = q, *l4;
	uint8_t proto = p->udp ? 17 : 6;
	uint64_t r = rnd(&w->rng);
	if (p->v6) {
		put32(ip, 0x60000000u | (uint32_t)(r & 0xfffff));
		put16(ip + 4, p->iplen - 40);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, p->src, 16);
		memcpy(ip + 24, p->dst, 16);
		l4 = ip + 40;
	} else {
		ip[0] = 0x45;
		ip[1] = 0;
		put16(ip + 2, p->iplen);
		put16(ip + 4, (uint32_t)(r >> 20));
		put16(ip + 6, 0x4000);          /* DF */
		ip[8] = 64;
		ip[9] = proto;
		put16(ip + 10, 0);
		memcpy(ip + 12, p->src, 4);
		memcpy(ip + 16, p->dst, 4);
		put16(ip + 10, ip4_checksum(ip));
		l4 = ip + 20;
	}
	put16(l4, p->sport);
	put16(l4 + 2, p->dport);
	if (p->udp) {
		uint32_t ul = p->iplen - (uint32_t)(l4 - ip);
		put16(l4 + 4, ul > 0xffff ? 0 : ul);
		put16(l4 + 6, 0);
	} else {
		put32(l4 + 4, (uint32_t)(r >> 32));
		put32(l4 + 8, (uint32_t)mix64(r));
		l4[12] = 0x50;
		l4[13] = 0x18;                  /* PSH ACK */
		put16(l4 + 14, 502);
		put32(l4 + 16, 0);
	}
	uint32_t len = (uint32_t)(ip - fr) + p->iplen;
	uint32_t caplen = w->snaplen && w->snaplen < len ? w->snaplen : len;
	uint8_t *rh = w->rec;
	put32le(rh, (uint32_t)(p->ts_ns / NS));
	put32le(rh + 4, (uint32_t)(p->ts_ns % NS));
	put32le(rh + 8, caplen);
	put32le(rh + 12, len);
	if (w->ok && fwrite(w->rec, 16 + caplen, 1, w->f) != 1)
		w->ok = false;
	if (!w->packets)
		w->first_ns = p->ts_ns;
	w->last_ns = p->ts_ns;
	w->packets++;
	w->file_bytes += 16 + caplen;
	w->wire_bytes += len;
	w->v6 += p->v6;
	w->vlan += p->vlan != 0;
	w->udp += p->udp;
	w->tcp += !p->udp;
	if (caplen > w->max_caplen)
		w->max_caplen = caplen;
}

static void json_str_addr(FILE *f, const uint8_t *a, bool v6)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
	fprintf(f, "\"%s\"", buf);
}

static void json_writer_totals(FILE *f, const struct writer *w)
{
	fprintf(f,
		"\"packets\": %" PRIu64 ", \"bytes_written\": %" PRIu64 ", \"wire_bytes\": %" PRIu64
		", \"ipv6_packets\": %" PRIu64 ", \"vlan_packets\": %" PRIu64 ", \"tcp_packets\": %" PRIu64
		", \"udp_packets\": %" PRIu64 ", \"max_caplen\": %" PRIu32
		", \"first_ts\": %" PRIu64 ".%09" PRIu64 ", \"last_ts\": %" PRIu64 ".%09" PRIu64,
		w->packets, w->file_bytes, w->wire_bytes, w->v6, w->vlan, w->tcp, w->udp, w->max_caplen,
		w->first_ns / NS, w->first_ns % NS, w->last_ns / NS, w->last_ns % NS);
}

/* ---- random mode ---- */

struct opts {
	const char *out, *scenario;
	bool print_identities;
	uint64_t seed, packets, sources, dests, fanout, size, snaplen, rate, start, days;
	double vlan, v6, ingress, udp, exfil_gb;
};

struct dir_count {
	uint64_t out_p, out_b, in_p, in_b;
};

/* Internal source i of its family: 10.0.0.0/8, or fd<key>::/8 for IPv6. */
static void source_addr(uint8_t a[16], bool v6, uint32_t i, uint64_t key)
{
	memset(a, 0, 16);
	if (!v6) {
		put32(a, 0x0a000000u | perm24(i, key));
		return;
	}
	uint64_t h = mix64(key ^ i);
	a[0] = 0xfd;
	memcpy(a + 1, &key, 5);                 /* the site's "global ID" */
	put16(a + 6, i >> 16);
	put32(a + 8, (uint32_t)(h >> 32));
	put16(a + 12, (uint32_t)h);
	put16(a + 14, i & 0xffff);
}

/* External destination j of its family: distinct for distinct j. */
static void dest_addr(uint8_t a[16], bool v6, uint32_t j, uint64_t key)
{
	memset(a, 0, 16);
	if (!v6) {
		/* 2654435761 is prime, so this is a bijection on the pool. */
		uint32_t k = (uint32_t)(((uint64_t)j * 2654435761ull + (key % V4_POOL)) % V4_POOL);
		static const uint32_t nets[3] = {0xc0000200u, 0xc6336400u, 0xcb007100u};
		put32(a, k < 768 ? nets[k / 256] | (k % 256) : 0xc6120000u + (k - 768));
		return;
	}
	uint64_t h = mix64(key ^ ((uint64_t)j << 32));
	put32(a, 0x20010db8u);
	put16(a + 4, j >> 16);
	put16(a + 6, j & 0xffff);
	put32(a + 8, (uint32_t)(h >> 32));
	put32(a + 12, (uint32_t)h | 1);
}

static uint16_t service_port(bool udp, uint64_t h)
{
	static const uint16_t tcp_ports[] = {443, 443, 443, 443, 443, 443, 80, 80, 22, 8443, 993, 25};
	static const uint16_t udp_ports[] = {443, 443, 53, 53, 123, 500, 4500, 51820};
	return udp ? udp_ports[h % (sizeof(udp_ports) / sizeof(udp_ports[0]))]
		   : tcp_ports[h % (sizeof(tcp_ports) / sizeof(tcp_ports[0]))];
}

static bool bit_test_set(uint8_t *bits, uint64_t i)
{
	bool was = bits[i >> 3] & (1u << (i & 7));
	bits[i >> 3] |= (uint8_t)(1u << (i & 7));
	return was;
}

static int run_random(const struct opts *o)
{
	static struct writer w;
	if (writer_open(&w, o->out, (uint32_t)o->snaplen, o->seed))
		return 1;
	uint64_t st = o->seed, key = rnd(&st);
	uint32_t k6 = (uint32_t)(o->sources * o->v6 / 100.0 + 0.5);
	uint32_t d6 = (uint32_t)(o->dests * o->v6 / 100.0 + 0.5);
	if (o->v6 > 0 && !k6)
		k6 = 1;
	if (o->v6 > 0 && !d6)
		d6 = 1;
	if (o->v6 < 100 && k6 >= o->sources)
		k6 = (uint32_t)o->sources - 1;
	if (o->v6 < 100 && d6 >= o->dests)
		d6 = (uint32_t)o->dests - 1;
	uint32_t k4 = (uint32_t)o->sources - k6, d4 = (uint32_t)o->dests - d6;
	if (d4 > V4_POOL) {
		fprintf(stderr, "pcapgen: at most %u IPv4 destinations\n", V4_POOL);
		fclose(w.f);
		return 1;
	}
	struct dir_count *per = calloc(o->sources, sizeof(*per));
	uint8_t *dused = calloc(o->dests / 8 + 1, 1), *sused = calloc(o->sources / 8 + 1, 1);
	if (!per || !dused || !sused) {
		fprintf(stderr, "pcapgen: out of memory\n");
		fclose(w.f);
		free(per), free(dused), free(sused);
		return 1;
	}
	uint64_t eg_p = 0, eg_b = 0, in_p = 0, in_b = 0, nsrc = 0, ndst = 0;
	uint64_t start_ns = o->start * NS;
	for (uint64_t k = 0; k < o->packets && w.ok; k++) {
		struct pkt p = {.ts_ns = start_ns + k * NS / o->rate, .seq = k};
		p.v6 = rnd01(&st) * 100.0 < o->v6;
		bool ingress = rnd01(&st) * 100.0 < o->ingress;
		bool vlan = rnd01(&st) * 100.0 < o->vlan;
		uint32_t nk = p.v6 ? k6 : k4, nd = p.v6 ? d6 : d4;
		if (!nk || !nd) {               /* the family has no hosts: the other one */
			p.v6 = !p.v6;
			nk = p.v6 ? k6 : k4, nd = p.v6 ? d6 : d4;
		}
		/* Skewed picks (u^2): heavy talkers and favourite destinations. */
		double u = rnd01(&st);
		uint32_t i = (uint32_t)(nk * u * u);
		u = rnd01(&st);
		uint32_t slot = (uint32_t)(o->fanout * u * u);
		uint32_t j = (uint32_t)(mix64(key + ((uint64_t)i << 20) + slot + (p.v6 ? 1ull << 60 : 0)) % nd);
		uint32_t gi = p.v6 ? k4 + i : i;        /* global source index */
		uint32_t gj = p.v6 ? d4 + j : j;
		uint8_t sa[16], da[16];
		source_addr(sa, p.v6, i, key);
		dest_addr(da, p.v6, j, key);
		uint64_t pair = mix64(key ^ ((uint64_t)gi << 32 | gj));
		/* A pair keeps its protocol and service port, as a real one does. */
		p.udp = (double)(pair >> 40) * 100.0 < o->udp * (double)(1u << 24);
		uint16_t svc = service_port(p.udp, pair);
		uint16_t eph = (uint16_t)(32768 + (pair >> 16) % 28000 + rnd(&st) % 4);
		if (vlan)
			p.vlan = (uint16_t)(100 + gi % 8);
		uint32_t minlen = (p.v6 ? 40 : 20) + (p.udp ? 8 : 20);
		uint32_t sz = (uint32_t)o->size < minlen ? minlen : (uint32_t)o->size;
		u = rnd01(&st);
		p.iplen = u < 0.7 ? sz : minlen + (uint32_t)((sz - minlen + 1) * (u - 0.7) / 0.3);
		if (p.iplen > sz)
			p.iplen = sz;
		if (ingress) {
			memcpy(p.src, da, 16), memcpy(p.dst, sa, 16);
			p.sport = svc, p.dport = eph;
			per[gi].in_p++, per[gi].in_b += p.iplen;
			in_p++, in_b += p.iplen;
		} else {
			memcpy(p.src, sa, 16), memcpy(p.dst, da, 16);
			p.sport = eph, p.dport = svc;
			per[gi].out_p++, per[gi].out_b += p.iplen;
			eg_p++, eg_b += p.iplen;
		}
		nsrc += !bit_test_set(sused, gi);
		ndst += !bit_test_set(dused, gj);
		writer_put(&w, &p);
	}
	int rc = writer_close(&w, o->out) ? 1 : 0;
	if (!rc) {
		fprintf(stderr, "{\"mode\": \"random\", \"seed\": %" PRIu64 ", ", o->seed);
		json_writer_totals(stderr, &w);
		fprintf(stderr,
			", \"egress\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "}"
			", \"ingress\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "}"
			", \"sources\": %" PRIu64 ", \"sources_used\": %" PRIu64
			", \"destinations\": %" PRIu64 ", \"destinations_used\": %" PRIu64
			", \"by_source\": [",
			eg_p, eg_b, in_p, in_b, o->sources, nsrc, o->dests, ndst);
		bool first = true;
		for (uint32_t gi = 0; gi < o->sources; gi++) {
			const struct dir_count *c = &per[gi];
			if (!c->out_p && !c->in_p)
				continue;
			bool v6 = gi >= k4;
			uint8_t a[16];
			source_addr(a, v6, v6 ? gi - k4 : gi, key);
			fprintf(stderr, "%s{\"addr\": ", first ? "" : ", ");
			json_str_addr(stderr, a, v6);
			fprintf(stderr,
				", \"out_packets\": %" PRIu64 ", \"out_bytes\": %" PRIu64
				", \"in_packets\": %" PRIu64 ", \"in_bytes\": %" PRIu64 "}",
				c->out_p, c->out_b, c->in_p, c->in_b);
			first = false;
		}
		fprintf(stderr, "]}\n");
	}
	free(per), free(dused), free(sused);
	return rc;
}

/* ---- demo scenario ---- */

enum profile { OFFICE, SERVER, NIGHTLY, FLAT };

struct demo_dest {
	const char *addr;
	uint16_t port;
	bool udp;
};

struct demo_ident {
	const char *name, *addr;
	enum profile prof;
	double out_mb_day, in_mb_day;   /* normal volume, MB (10^6) a day */
	struct demo_dest dests[4];
};

/* Ten identities and the only destinations they ever use (before the theft). */
static const struct demo_ident demo_idents[] = {
	{"web-prod-1", "10.10.1.11", SERVER, 400, 40,
	 {{"203.0.113.10", 443, false}, {"203.0.113.11", 443, false}, {"192.0.2.53", 53, true}}},
	{"web-prod-2", "10.10.1.12", SERVER, 380, 38,
	 {{"203.0.113.10", 443, false}, {"203.0.113.11", 443, false}, {"192.0.2.53", 53, true}}},
	{"api-gateway", "10.10.2.20", SERVER, 300, 75,
	 {{"198.51.100.20", 443, false}, {"198.51.100.21", 443, false}, {"203.0.113.40", 8443, false}}},
	{"build-runner", "10.10.3.30", OFFICE, 250, 300,
	 {{"198.51.100.30", 443, false}, {"203.0.113.50", 443, false}, {"203.0.113.51", 22, false}}},
	{"db-backup", "10.10.4.40", NIGHTLY, 800, 5,
	 {{"198.51.100.40", 443, false}}},
	{"mail-relay", "10.10.5.50", FLAT, 60, 25,
	 {{"192.0.2.25", 25, false}, {"192.0.2.26", 25, false}, {"198.51.100.25", 25, false}}},
	{"laptop-alice", "10.20.0.15", OFFICE, 40, 100,
	 {{"203.0.113.80", 443, false}, {"203.0.113.81", 443, true}, {"198.51.100.80", 993, false}}},
	{"laptop-bob", "10.20.0.16", OFFICE, 30, 75,
	 {{"203.0.113.80", 443, false}, {"203.0.113.82", 443, false}, {"198.51.100.80", 993, false}}},
	{"k8s-ingest", "fd00:10:6::60", SERVER, 200, 150,
	 {{"2001:db8:100::10", 443, false}, {"2001:db8:100::11", 443, false}}},
	{"analytics-etl", "10.10.7.70", SERVER, 250, 60,
	 {{"198.51.100.70", 443, false}, {"203.0.113.70", 443, false}}},
};
#define DEMO_N (sizeof(demo_idents) / sizeof(demo_idents[0]))
#define DEMO_EXFIL 9                    /* analytics-etl */
#define DEMO_EXFIL_DST "198.51.100.200"
#define DEMO_EXFIL_HOUR 13              /* of the last day, for two hours */
#define DEMO_EXFIL_MINUTES 120
#define DEMO_START 1742169600ull        /* 2025-03-17T00:00:00Z, a Monday */

/* Relative traffic in hour h (0..23, UTC) for a profile. */
static double profile_weight(enum profile pr, int h)
{
	switch (pr) {
	case OFFICE:
		return h >= 8 && h < 18 ? 1.0 - (h - 13) * (h - 13) / 50.0 : 0.04;
	case SERVER:
		return 0.45 + 0.4 * ((h >= 6 && h < 22) ? 1.0 - (h - 14) * (h - 14) / 64.0 : 0.0);
	case NIGHTLY:
		return h >= 1 && h < 3 ? 1.0 : 0.01;
	case FLAT:
		return 1.0;
	}
	return 1.0;
}

static int print_identities(void)
{
	printf("# identities.conf for `pcapgen --scenario demo`: \"CIDR-or-address name\" a line.\n");
	for (size_t i = 0; i < DEMO_N; i++)
		printf("%s %s\n", demo_idents[i].addr, demo_idents[i].name);
	return 0;
}

static int parse_addr(const char *s, uint8_t a[16], bool *v6)
{
	memset(a, 0, 16);
	*v6 = strchr(s, ':') != NULL;
	return inet_pton(*v6 ? AF_INET6 : AF_INET, s, a) == 1 ? 0 : -1;
}

static int cmp_pkt(const void *x, const void *y)
{
	const struct pkt *a = x, *b = y;
	if (a->ts_ns != b->ts_ns)
		return a->ts_ns < b->ts_ns ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct minute_buf {
	struct pkt *v;
	size_t n, cap;
};

static struct pkt *minute_push(struct minute_buf *mb)
{
	if (mb->n == mb->cap) {
		size_t cap = mb->cap ? mb->cap * 2 : 4096;
		struct pkt *nv = realloc(mb->v, cap * sizeof(*nv));
		if (!nv)
			return NULL;
		mb->v = nv, mb->cap = cap;
	}
	struct pkt *p = &mb->v[mb->n++];
	memset(p, 0, sizeof(*p));
	return p;
}

static int run_demo(const struct opts *o)
{
	static struct writer w;
	if (writer_open(&w, o->out, (uint32_t)(o->snaplen ? o->snaplen : 128), o->seed))
		return 1;
	uint64_t st = o->seed;
	double sumw[4] = {0};
	for (int pr = 0; pr < 4; pr++)
		for (int h = 0; h < 24; h++)
			sumw[pr] += profile_weight((enum profile)pr, h);
	struct dir_count per[DEMO_N];
	double debt[DEMO_N][2];
	memset(per, 0, sizeof(per));
	memset(debt, 0, sizeof(debt));
	struct dir_count ex = {0};
	double ex_debt = 0, ex_target = o->exfil_gb * 1e9 / DEMO_EXFIL_MINUTES;
	uint64_t ex_first = 0, ex_last = 0;
	struct minute_buf mb = {0};
	uint64_t seq = 0, minutes = o->days * 1440;
	uint64_t ex_from = (o->days - 1) * 1440 + DEMO_EXFIL_HOUR * 60;
	double noise[DEMO_N][2] = {{0}};
	int rc = 0;
	for (uint64_t m = 0; m < minutes && w.ok && !rc; m++) {
		int h = (int)(m / 60 % 24);
		uint64_t mstart = (o->start + m * 60) * NS;
		mb.n = 0;
		for (size_t id = 0; id < DEMO_N && !rc; id++) {
			const struct demo_ident *di = &demo_idents[id];
			uint8_t self[16];
			bool v6;
			parse_addr(di->addr, self, &v6);
			size_t nd = 0;
			while (nd < 4 && di->dests[nd].addr)
				nd++;
			for (int dir = 0; dir < 2; dir++) {
				/* Each hour gets its own +-25% so days differ a little. */
				if (m % 60 == 0)
					noise[id][dir] = 0.75 + 0.5 * rnd01(&st);
				double mb_day = dir ? di->in_mb_day : di->out_mb_day;
				debt[id][dir] += mb_day * 1e6 * profile_weight(di->prof, h) /
						 sumw[di->prof] / 60.0 * noise[id][dir];
				uint32_t minlen = v6 ? 60 : 40;
				for (;;) {
					/*
					 * Mostly TCP super-packets to one of its TCP
					 * destinations; 5% small UDP (DNS, QUIC) where it
					 * has a UDP one.
					 */
					size_t tcp_n = 0, udp_i = nd;
					for (size_t k = 0; k < nd; k++)
						if (di->dests[k].udp)
							udp_i = k;
						else
							tcp_n++;
					const struct demo_dest *dd;
					uint32_t len;
					if (udp_i < nd && rnd01(&st) < 0.05) {
						dd = &di->dests[udp_i];
						len = 80 + (uint32_t)(rnd(&st) % 1421);
					} else {
						size_t pick = (size_t)(rnd(&st) % tcp_n);
						dd = &di->dests[0];
						for (size_t k = 0; k < nd; k++)
							if (!di->dests[k].udp && pick-- == 0) {
								dd = &di->dests[k];
								break;
							}
						len = rnd01(&st) < 0.05 ? 1500 : 32768 + (uint32_t)(rnd(&st) % 32768);
					}
					if (debt[id][dir] < len)
						break;
					struct pkt *p = minute_push(&mb);
					if (!p) {
						rc = 1;
						break;
					}
					uint8_t far[16];
					bool fv6;
					parse_addr(dd->addr, far, &fv6);
					p->ts_ns = mstart + rnd(&st) % (60 * NS);
					p->seq = seq++;
					p->v6 = v6, p->udp = dd->udp;
					p->iplen = len < minlen ? minlen : len;
					uint16_t eph = (uint16_t)(40000 + rnd(&st) % 64);
					memcpy(dir ? p->src : p->dst, far, 16);
					memcpy(dir ? p->dst : p->src, self, 16);
					p->sport = dir ? dd->port : eph;
					p->dport = dir ? eph : dd->port;
					p->owner = (uint32_t)id | (uint32_t)dir << 31;
					debt[id][dir] -= p->iplen;
				}
			}
		}
		if (!rc && m >= ex_from && m < ex_from + DEMO_EXFIL_MINUTES) {
			const struct demo_ident *di = &demo_idents[DEMO_EXFIL];
			uint8_t self[16], far[16];
			bool v6;
			parse_addr(di->addr, self, &v6);
			parse_addr(DEMO_EXFIL_DST, far, &v6);
			ex_debt += ex_target;
			while (ex_debt >= 65535 && !rc) {
				struct pkt *p = minute_push(&mb);
				if (!p) {
					rc = 1;
					break;
				}
				p->ts_ns = mstart + rnd(&st) % (60 * NS);
				p->seq = seq++;
				p->iplen = 60000 + (uint32_t)(rnd(&st) % 5536);
				memcpy(p->src, self, 16), memcpy(p->dst, far, 16);
				p->sport = 51515, p->dport = 443;
				p->owner = DEMO_EXFIL | 1u << 30;
				ex_debt -= p->iplen;
			}
		}
		qsort(mb.v, mb.n, sizeof(*mb.v), cmp_pkt);
		for (size_t i = 0; i < mb.n; i++) {
			const struct pkt *p = &mb.v[i];
			size_t id = p->owner & 0xffff;
			if (p->owner >> 31) {
				per[id].in_p++, per[id].in_b += p->iplen;
			} else {
				per[id].out_p++, per[id].out_b += p->iplen;
			}
			if (p->owner & 1u << 30) {
				if (!ex.out_p)
					ex_first = p->ts_ns;
				ex_last = p->ts_ns;
				ex.out_p++, ex.out_b += p->iplen;
			}
			writer_put(&w, p);
		}
	}
	free(mb.v);
	if (rc)
		fprintf(stderr, "pcapgen: out of memory\n");
	if (writer_close(&w, o->out) || rc)
		return 1;
	uint64_t eg_p = 0, eg_b = 0, in_p = 0, in_b = 0;
	for (size_t id = 0; id < DEMO_N; id++)
		eg_p += per[id].out_p, eg_b += per[id].out_b, in_p += per[id].in_p, in_b += per[id].in_b;
	fprintf(stderr, "{\"scenario\": \"demo\", \"seed\": %" PRIu64 ", ", o->seed);
	json_writer_totals(stderr, &w);
	fprintf(stderr,
		", \"egress\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "}"
		", \"ingress\": {\"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 "}, \"identities\": [",
		eg_p, eg_b, in_p, in_b);
	for (size_t id = 0; id < DEMO_N; id++)
		fprintf(stderr,
			"%s{\"identity\": \"%s\", \"addr\": \"%s\", \"out_packets\": %" PRIu64
			", \"out_bytes\": %" PRIu64 ", \"in_packets\": %" PRIu64 ", \"in_bytes\": %" PRIu64 "}",
			id ? ", " : "", demo_idents[id].name, demo_idents[id].addr, per[id].out_p,
			per[id].out_b, per[id].in_p, per[id].in_b);
	fprintf(stderr,
		"], \"exfil\": {\"identity\": \"%s\", \"addr\": \"%s\", \"dst\": \"%s\", \"port\": 443"
		", \"packets\": %" PRIu64 ", \"bytes\": %" PRIu64 ", \"start\": %" PRIu64 ".%09" PRIu64
		", \"end\": %" PRIu64 ".%09" PRIu64 "}}\n",
		demo_idents[DEMO_EXFIL].name, demo_idents[DEMO_EXFIL].addr, DEMO_EXFIL_DST, ex.out_p,
		ex.out_b, ex_first / NS, ex_first % NS, ex_last / NS, ex_last % NS);
	return 0;
}

/* ---- command line ---- */

static int usage(FILE *f)
{
	fprintf(f,
		"usage: pcapgen -o FILE [--seed S] [-n PACKETS] [--sources K] [--dests D] [--fanout F]\n"
		"               [--vlan PCT] [--v6 PCT] [--ingress PCT] [--udp PCT] [--size BYTES]\n"
		"               [--snaplen N] [--rate PPS] [--start UNIX]\n"
		"       pcapgen --scenario demo -o FILE [--seed S] [--start UNIX] [--days N] [--exfil-gb G]\n"
		"       pcapgen --scenario demo --print-identities\n");
	return 1;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_pct(const char *s, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0 && v <= max))
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_SEED = 256, O_SOURCES, O_DESTS, O_FANOUT, O_VLAN, O_V6, O_INGRESS, O_UDP, O_SIZE,
	       O_SNAPLEN, O_RATE, O_START, O_SCENARIO, O_PRINT, O_DAYS, O_EXFIL };
	static const struct option lo[] = {
		{"seed", required_argument, NULL, O_SEED},
		{"packets", required_argument, NULL, 'n'},
		{"sources", required_argument, NULL, O_SOURCES},
		{"dests", required_argument, NULL, O_DESTS},
		{"fanout", required_argument, NULL, O_FANOUT},
		{"vlan", required_argument, NULL, O_VLAN},
		{"v6", required_argument, NULL, O_V6},
		{"ingress", required_argument, NULL, O_INGRESS},
		{"udp", required_argument, NULL, O_UDP},
		{"size", required_argument, NULL, O_SIZE},
		{"snaplen", required_argument, NULL, O_SNAPLEN},
		{"rate", required_argument, NULL, O_RATE},
		{"start", required_argument, NULL, O_START},
		{"scenario", required_argument, NULL, O_SCENARIO},
		{"print-identities", no_argument, NULL, O_PRINT},
		{"days", required_argument, NULL, O_DAYS},
		{"exfil-gb", required_argument, NULL, O_EXFIL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct opts o = {.seed = 1, .packets = 1000000, .sources = 1000, .dests = 10000,
			 .fanout = 32, .size = 1500, .rate = 100000, .start = 1742380800ull,
			 .days = 3, .v6 = 20, .ingress = 30, .udp = 20, .exfil_gb = 6};
	bool start_given = false;
	int c;
	while ((c = getopt_long(argc, argv, "o:n:h", lo, NULL)) != -1) {
		int bad = 0;
		switch (c) {
		case 'o': o.out = optarg; break;
		case 'n': bad = parse_u64(optarg, 0, UINT32_MAX, &o.packets); break;
		case O_SEED: bad = parse_u64(optarg, 0, UINT64_MAX, &o.seed); break;
		case O_SOURCES: bad = parse_u64(optarg, 1, 1u << 24, &o.sources); break;
		case O_DESTS: bad = parse_u64(optarg, 1, 1u << 24, &o.dests); break;
		case O_FANOUT: bad = parse_u64(optarg, 1, 1u << 20, &o.fanout); break;
		case O_VLAN: bad = parse_pct(optarg, 100, &o.vlan); break;
		case O_V6: bad = parse_pct(optarg, 100, &o.v6); break;
		case O_INGRESS: bad = parse_pct(optarg, 100, &o.ingress); break;
		case O_UDP: bad = parse_pct(optarg, 100, &o.udp); break;
		case O_SIZE: bad = parse_u64(optarg, 28, 65535, &o.size); break;
		case O_SNAPLEN: bad = parse_u64(optarg, 0, 262144, &o.snaplen); break;
		case O_RATE: bad = parse_u64(optarg, 1, 1000000000, &o.rate); break;
		case O_START:
			bad = parse_u64(optarg, 0, UINT32_MAX, &o.start);
			start_given = true;
			break;
		case O_SCENARIO: o.scenario = optarg; break;
		case O_PRINT: o.print_identities = true; break;
		case O_DAYS: bad = parse_u64(optarg, 1, 60, &o.days); break;
		case O_EXFIL: bad = parse_pct(optarg, 1000, &o.exfil_gb); break;
		case 'h': usage(stdout); return 0;
		default: return usage(stderr);
		}
		if (bad) {
			fprintf(stderr, "pcapgen: bad value \"%s\" for %s\n", optarg, argv[optind - 1]);
			return usage(stderr);
		}
	}
	if (optind != argc)
		return usage(stderr);
	if (o.snaplen && o.snaplen < 96) {
		fprintf(stderr, "pcapgen: --snaplen below 96 would cut IPv6/VLAN headers\n");
		return 1;
	}
	if (o.scenario) {
		if (strcmp(o.scenario, "demo") != 0) {
			fprintf(stderr, "pcapgen: unknown scenario \"%s\" (known: demo)\n", o.scenario);
			return 1;
		}
		if (o.print_identities)
			return print_identities();
		if (!start_given)
			o.start = DEMO_START;
		if (!o.out)
			return usage(stderr);
		return run_demo(&o);
	}
	if (!o.out || o.print_identities)
		return usage(stderr);
	return run_random(&o);
}
