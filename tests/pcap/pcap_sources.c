/*
 * pcap_sources: per-source totals of a capture, in the tshark oracle's form.
 *
 *   pcap_sources [-v] FILE
 *   pcap_sources -b ROUNDS FILE
 *
 * Reads FILE with libpcap (pcap_open_offline, pcap_next_ex), decodes every
 * frame with decode_packet() and all options off, and prints one TSV row per
 * outer IP source address, exactly as /work/shared/pcaps/oracle/<file>.tsv:
 *
 *   src  packets  ip_bytes  wire_bytes  cap_bytes
 *
 * sorted as `LC_ALL=C sort` sorts the lines, IPv6 in RFC 5952 form. With -v,
 * the count of frames per decode result goes to stderr.
 *
 * With -b, it instead loads every frame into memory and times ROUNDS passes
 * of decode_packet() over them, printing nanoseconds per packet: a quick
 * check that the decoder stays far below the sensor's per-packet budget
 * (7 Mpps on one core is about 140 ns for everything).
 *
 * Exit status: 0 when the whole file was read; 2 when libpcap could not open
 * or read it (its error goes to stderr; the rows of the frames read before
 * the error are still printed); 1 on a usage error or out of memory.
 *
 * This is a test tool, so unlike the sensor it may grow its table with the
 * number of sources.
 */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "addr.h"
#include "decode.h"
#include "banned.h"

struct source {
	ew_addr addr;
	uint64_t packets, ip_bytes, wire_bytes, cap_bytes;
	bool used;
};

struct table {
	struct source *slot;
	size_t cap; /* a power of two */
	size_t n;
};

/* FNV-1a over the 16 address bytes: the input is a test file, not an
 * attacker, so an unkeyed hash is fine here. */
static size_t addr_hash(const ew_addr *a)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < 16; i++) {
		h ^= a->b[i];
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32));
}

static struct source *table_find(struct table *t, const ew_addr *a)
{
	size_t i = addr_hash(a) & (t->cap - 1);
	while (t->slot[i].used && !addr_eq(&t->slot[i].addr, a))
		i = (i + 1) & (t->cap - 1);
	return &t->slot[i];
}

static int table_grow(struct table *t)
{
	struct table nt = {.cap = t->cap ? t->cap * 2 : 1024};
	nt.slot = calloc(nt.cap, sizeof(*nt.slot));
	if (!nt.slot)
		return -1;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slot[i].used)
			continue;
		*table_find(&nt, &t->slot[i].addr) = t->slot[i];
		nt.n++;
	}
	free(t->slot);
	*t = nt;
	return 0;
}

static struct source *table_get(struct table *t, const ew_addr *a)
{
	if ((t->n + 1) * 2 > t->cap && table_grow(t) != 0)
		return NULL;
	struct source *s = table_find(t, a);
	if (!s->used) {
		memset(s, 0, sizeof(*s));
		s->addr = *a;
		s->used = true;
		t->n++;
	}
	return s;
}

struct row {
	char text[ADDR_STRLEN];
	const struct source *s;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	return strcmp(x->text, y->text);
}

static int print_table(const struct table *t)
{
	struct row *rows = calloc(t->n ? t->n : 1, sizeof(*rows));
	if (!rows)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slot[i].used)
			continue;
		addr_format(&t->slot[i].addr, rows[n].text, sizeof(rows[n].text));
		rows[n].s = &t->slot[i];
		n++;
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	printf("src\tpackets\tip_bytes\twire_bytes\tcap_bytes\n");
	for (size_t i = 0; i < n; i++) {
		const struct source *s = rows[i].s;
		printf("%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", rows[i].text,
		       s->packets, s->ip_bytes, s->wire_bytes, s->cap_bytes);
	}
	free(rows);
	return 0;
}

struct frame {
	const uint8_t *data;
	uint32_t caplen, len;
};

/* -b: time decode_packet() over the frames of pc, held in memory. */
static int bench(pcap_t *pc, const char *file, unsigned long rounds)
{
	int dlt = pcap_datalink(pc);
	size_t n = 0, cap = 1024, bytes = 0, bcap = 1 << 20;
	struct frame *fr = malloc(cap * sizeof(*fr));
	uint8_t *buf = malloc(bcap);
	size_t *offs = malloc(cap * sizeof(*offs));
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc, status = 0;
	while (fr && buf && offs && (rc = pcap_next_ex(pc, &h, &data)) == 1) {
		if (n == cap) {
			cap *= 2;
			struct frame *nf = realloc(fr, cap * sizeof(*fr));
			size_t *no = realloc(offs, cap * sizeof(*offs));
			if (nf)
				fr = nf;
			if (no)
				offs = no;
			if (!nf || !no)
				break;
		}
		while (bytes + h->caplen > bcap) {
			uint8_t *nb = realloc(buf, bcap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
		}
		if (!buf)
			break;
		memcpy(buf + bytes, data, h->caplen);
		offs[n] = bytes;
		fr[n].caplen = h->caplen;
		fr[n].len = h->len;
		bytes += h->caplen;
		n++;
	}
	if (!fr || !buf || !offs || n == 0) {
		fprintf(stderr, "pcap_sources: %s: no frames to time (or out of memory)\n", file);
		status = 1;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++)
		fr[i].data = buf + offs[i];

	const struct decode_opts opts = {0};
	uint64_t ok = 0, sum = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long r = 0; r < rounds; r++) {
		for (size_t i = 0; i < n; i++) {
			struct pkt_info pi;
			if (decode_packet(&opts, dlt, fr[i].data, fr[i].caplen, fr[i].len, &pi) ==
			    DECODE_OK) {
				ok++;
				sum += pi.ip_bytes + pi.src.b[15] + pi.sport;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
	double pkts = (double)n * (double)rounds;
	printf("%s: %zu frames x %lu rounds: %.1f ns/packet (%.1f Mpps decode only), %" PRIu64
	       " decoded, checksum %" PRIu64 "\n",
	       file, n, rounds, ns / pkts, pkts / ns * 1e3, ok, sum);
out_free:
	free(offs);
	free(buf);
	free(fr);
	return status;
}

int main(int argc, char **argv)
{
	bool verbose = false;
	unsigned long rounds = 0;
	int argi = 1;
	if (argi < argc && strcmp(argv[argi], "-v") == 0) {
		verbose = true;
		argi++;
	} else if (argi + 1 < argc && strcmp(argv[argi], "-b") == 0) {
		rounds = strtoul(argv[argi + 1], NULL, 10);
		argi += 2;
	}
	if (argi + 1 != argc || (argi > 1 && !verbose && rounds == 0)) {
		fprintf(stderr, "usage: pcap_sources [-v] FILE | pcap_sources -b ROUNDS FILE\n");
		return 1;
	}
	const char *file = argv[argi];

	char errbuf[PCAP_ERRBUF_SIZE];
	pcap_t *pc = pcap_open_offline(file, errbuf);
	if (!pc) {
		fprintf(stderr, "pcap_sources: %s: %s\n", file, errbuf);
		return 2;
	}
	if (rounds) {
		int st = bench(pc, file, rounds);
		pcap_close(pc);
		return st;
	}
	int dlt = pcap_datalink(pc);
	if (!decode_link_supported(dlt))
		fprintf(stderr, "pcap_sources: %s: link type %d (%s) not decoded\n", file, dlt,
			pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?");

	struct table t = {0};
	if (table_grow(&t) != 0) {
		fprintf(stderr, "pcap_sources: out of memory\n");
		pcap_close(pc);
		return 1;
	}
	uint64_t reasons[DECODE_NREASONS] = {0};
	const struct decode_opts opts = {0};
	int status = 0;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc = 0;
	/* Each frame is decoded from the end of a heap buffer, so that a read
	 * past caplen runs off the allocation (libpcap's own buffer would hide
	 * it) and a sanitizer build of this tool catches it. */
	size_t fcap = 1 << 16;
	uint8_t *fbuf = malloc(fcap);
	while (fbuf && (rc = pcap_next_ex(pc, &h, &data)) == 1) {
		if (h->caplen > fcap) {
			free(fbuf);
			fcap = h->caplen;
			fbuf = malloc(fcap);
			if (!fbuf)
				break;
		}
		uint8_t *frame = fbuf + fcap - h->caplen;
		memcpy(frame, data, h->caplen);
		struct pkt_info pi;
		enum decode_result r = decode_packet(&opts, dlt, frame, h->caplen, h->len, &pi);
		reasons[r]++;
		if (r != DECODE_OK)
			continue;
		struct source *s = table_get(&t, &pi.src);
		if (!s) {
			fprintf(stderr, "pcap_sources: out of memory\n");
			status = 1;
			break;
		}
		s->packets++;
		s->ip_bytes += pi.ip_bytes;
		s->wire_bytes += h->len;
		s->cap_bytes += h->caplen;
	}
	if (!fbuf) {
		fprintf(stderr, "pcap_sources: out of memory\n");
		status = 1;
	} else if (rc == PCAP_ERROR) {
		fprintf(stderr, "pcap_sources: %s: %s\n", file, pcap_geterr(pc));
		status = 2;
	}
	if (print_table(&t) != 0) {
		fprintf(stderr, "pcap_sources: out of memory\n");
		status = 1;
	}
	if (verbose) {
		for (int i = 0; i < DECODE_NREASONS; i++)
			if (reasons[i])
				fprintf(stderr, "%s\t%" PRIu64 "\n",
					decode_reason_name((enum decode_result)i), reasons[i]);
	}
	free(fbuf);
	free(t.slot);
	pcap_close(pc);
	return status;
}
