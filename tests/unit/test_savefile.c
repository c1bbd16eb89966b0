/*
 * test_savefile: the sensor's own pcap reader against libpcap, on files
 * written here: every record alike (time stamps, lengths, bytes) across
 * block boundaries, in both byte orders and both time resolutions, records
 * cut to the snapshot length, each way a file can end badly with libpcap's
 * own words, and the files it must leave to libpcap.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuzz/savefile_diff.h"
#include "savefile.h"
#include "test.h"
#include "banned.h"

static char dir[] = "/tmp/test_savefile.XXXXXX";
static char path[256];

struct w {
	FILE *f;
	int be;
};

static void put32(struct w *w, uint32_t v)
{
	unsigned char b[4];
	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(w->be ? v >> (24 - 8 * i) : v >> (8 * i));
	fwrite(b, 1, 4, w->f);
}

static void put16(struct w *w, uint16_t v)
{
	unsigned char b[2] = {(unsigned char)(w->be ? v >> 8 : v),
			      (unsigned char)(w->be ? v : v >> 8)};
	fwrite(b, 1, 2, w->f);
}

/* Starts a file at path: magic, version, snaplen and link type as given. */
static struct w start(const char *name, int be, uint32_t magic, uint16_t major, uint16_t minor,
		      uint32_t snaplen, uint32_t linktype)
{
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	struct w w = {fopen(path, "wb"), be};
	if (!w.f)
		abort();
	put32(&w, magic);
	put16(&w, major);
	put16(&w, minor);
	put32(&w, 0);
	put32(&w, 0);
	put32(&w, snaplen);
	put32(&w, linktype);
	return w;
}

/* A record whose first `have` of caplen bytes are written (all: have = caplen). */
static void record(struct w *w, uint32_t sec, uint32_t frac, uint32_t caplen, uint32_t len,
		   uint32_t have, unsigned seed)
{
	put32(w, sec);
	put32(w, frac);
	put32(w, caplen);
	put32(w, len);
	for (uint32_t i = 0; i < have; i++)
		fputc((int)((i * 131 + seed * 7) & 255), w->f);
}

static unsigned rnd_state = 12345;

static unsigned rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* The two readers agree with every step size; returns the records. */
static unsigned long same_at_every_step(void)
{
	static const int steps[] = {1, 3, 64, 65536, -1};
	unsigned long n = 0, first = 0;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char why[512];
		enum sfd_result r = savefile_diff(path, steps[i], NULL, &n, why, sizeof(why));
		if (r != SFD_SAME)
			fprintf(stderr, "%s, step %d: %s\n", path, steps[i], why);
		CHECK(r == SFD_SAME);
		if (i == 0)
			first = n;
		CHECK_EQ_U64(n, first);
	}
	return n;
}

/* The error the own reader ends path with (savefile_diff checked that it
 * is libpcap's), or "" at a clean end. */
static const char *ending(void)
{
	static char why[512];
	unsigned long n;
	CHECK(savefile_diff(path, 65536, NULL, &n, why, sizeof(why)) == SFD_SAME);
	return why;
}

/* Thousands of records of every size up to the largest, in both byte orders
 * and resolutions, some cut to the snapshot length: they straddle the
 * reader's 64 KiB blocks in every way. */
static void test_records_alike(void)
{
	static const uint32_t magics[] = {0xa1b2c3d4, 0xa1b23c4d};
	for (int be = 0; be < 2; be++)
		for (int m = 0; m < 2; m++) {
			uint32_t snap = m ? SAVEFILE_MAX_CAPLEN : 1500; /* the largest whole */
			struct w w = start("alike.pcap", be, magics[m], 2, 4, snap, 1);
			unsigned want = 3000;
			for (unsigned i = 0; i < want; i++) {
				uint32_t cap = rnd() % 1600;
				if (i % 97 == 0)
					cap = rnd() % 70000; /* cut to snap, or past a block */
				if (i == 1234)
					cap = SAVEFILE_MAX_CAPLEN; /* the largest record there is */
				if (i % 50 == 0)
					cap = 0;
				record(&w, 1700000000u + i, rnd() % 1000000, cap, cap + rnd() % 100,
				       cap, i);
			}
			fclose(w.f);
			CHECK_EQ_U64(same_at_every_step(), want);
			CHECK_STREQ(ending(), "");
		}
}

/* A record across the edge of the first 64 KiB block at every offset, from
 * its header's first byte to one past its last byte: each must be read
 * whole, from the next block, never from what the buffer held before. */
static void test_block_edges(void)
{
	for (uint32_t d = 1; d <= 120; d++) {
		struct w w = start("edge.pcap", 0, 0xa1b2c3d4, 2, 4, 262144, 1);
		record(&w, 1, 0, 64 * 1024 - 16 - d, 64 * 1024, 64 * 1024 - 16 - d, d);
		record(&w, 2, 0, 100, 100, 100, d + 1);
		record(&w, 3, 0, 10, 10, 10, d + 2);
		fclose(w.f);
		CHECK_EQ_U64(same_at_every_step(), 3);
		CHECK_STREQ(ending(), "");
	}
	/* A last record one byte short, at a block's edge and within one. */
	for (uint32_t d = 100; d <= 120; d += 20) {
		struct w w = start("edge_short.pcap", 0, 0xa1b2c3d4, 2, 4, 262144, 1);
		record(&w, 1, 0, 64 * 1024 - 16 - d, 64 * 1024, 64 * 1024 - 16 - d, d);
		record(&w, 2, 0, 100, 100, 99, d + 1);
		fclose(w.f);
		CHECK_EQ_U64(same_at_every_step(), 1);
		CHECK_STREQ(ending(),
			    "truncated dump file; tried to read 100 captured bytes, only got 99");
	}
}

/* Time stamps: signed 32-bit fields in the host's byte order, unsigned in
 * a swapped file (libpcap's SWAPLONG), scaled to nanoseconds from
 * microseconds and passed through from nanoseconds, unchecked. */
static void test_time_stamps(void)
{
	struct w w = start("ts.pcap", 0, 0xa1b2c3d4, 2, 4, 65535, 1);
	record(&w, 0xfffffffb, 0xfffffff9, 14, 14, 14, 1); /* -5 s, -7 us */
	record(&w, 0x7fffffff, 3999999, 14, 14, 14, 2);	   /* fraction past a second */
	record(&w, 0, 0x80000000, 14, 14, 14, 3);
	fclose(w.f);
	CHECK_EQ_U64(same_at_every_step(), 3);
	w = start("ts_ns.pcap", 1, 0xa1b23c4d, 2, 4, 65535, 1);
	record(&w, 0x80000000, 999999999, 14, 14, 14, 1);
	record(&w, 1, 0xffffffff, 14, 14, 14, 2);
	fclose(w.f);
	CHECK_EQ_U64(same_at_every_step(), 2);
	w = start("ts_swapped_us.pcap", 1, 0xa1b2c3d4, 2, 4, 65535, 1);
	record(&w, 0xfffffffb, 0xfffffff9, 14, 14, 14, 1);
	fclose(w.f);
	CHECK_EQ_U64(same_at_every_step(), 1);
}

/* Each bad ending, in libpcap's words, after the good records before it. */
static void test_bad_endings(void)
{
	static const struct {
		int be;
		uint32_t snaplen, good; /* good records first, of 60 bytes */
		uint32_t caplen, have;	/* then one of caplen, have bytes of it written */
		const char *text;
	} cases[] = {
	    {0, 65535, 1, 0, 0, "truncated dump file; tried to read 16 header bytes, only got 10"},
	    {0, 65535, 1, 1000, 300,
	     "truncated dump file; tried to read 1000 captured bytes, only got 300"},
	    /* past the snapshot length: short of it, then short of the rest */
	    {1, 100, 0, 500, 50,
	     "truncated dump file; tried to read 100 captured bytes, only got 50"},
	    {1, 100, 1, 9000, 5000,
	     "truncated dump file; tried to read 9000 captured bytes, only got 5000"},
	    {0, 65535, 0, 300000, 0,
	     "invalid packet capture length 300000, bigger than snaplen of 65535"},
	    {0, 1000000, 0, SAVEFILE_MAX_CAPLEN + 1, 0,
	     "invalid packet capture length 262145, bigger than maximum of 262144"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct w w =
		    start("bad_end.pcap", cases[i].be, 0xa1b2c3d4, 2, 4, cases[i].snaplen, 1);
		for (uint32_t g = 0; g < cases[i].good; g++)
			record(&w, 1, 0, 60, 60, 60, g);
		if (cases[i].caplen)
			record(&w, 2, 0, cases[i].caplen, cases[i].caplen, cases[i].have, 9);
		else
			fwrite("\1\2\3\4\5\6\7\10\11\12", 1, 10, w.f);
		fclose(w.f);
		CHECK_EQ_U64(same_at_every_step(), cases[i].good);
		CHECK_STREQ(ending(), cases[i].text);
	}
}

/* An Ethernet frame of IPv4 protocol proto (0: ARP), padded to 60 bytes. */
static void frame(struct w *w, uint32_t sec, uint8_t proto)
{
	unsigned char f[60] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, proto ? 0 : 6};
	if (proto) {
		f[14] = 0x45;
		f[17] = 46; /* total length */
		f[22] = 64; /* ttl */
		f[23] = proto;
		memcpy(f + 26, "\x0a\x00\x00\x01\xc6\x33\x64\x07", 8);
	}
	put32(w, sec);
	put32(w, 0);
	put32(w, sizeof(f));
	put32(w, sizeof(f));
	fwrite(f, 1, sizeof(f), w->f);
}

/* A filter hands over the records libpcap's would, and only those. */
static void test_filter(void)
{
	static const uint8_t protos[] = {17, 6, 0, 17, 1, 17, 6};
	for (int be = 0; be < 2; be++) {
		struct w w = start("filter.pcap", be, 0xa1b2c3d4, 2, 4, 65535, 1);
		unsigned udp = 0;
		for (uint32_t i = 0; i < 7000; i++) {
			frame(&w, i, protos[i % 7]);
			udp += protos[i % 7] == 17;
		}
		fclose(w.f);
		static const int steps[] = {1, 5, -1};
		for (size_t i = 0; i < 3; i++) {
			char why[512];
			unsigned long n;
			enum sfd_result r =
			    savefile_diff(path, steps[i], "udp", &n, why, sizeof(why));
			if (r != SFD_SAME)
				fprintf(stderr, "filter, step %d: %s\n", steps[i], why);
			CHECK(r == SFD_SAME);
			CHECK_EQ_U64(n, udp);
			CHECK(savefile_diff(path, steps[i], "not ip", &n, why, sizeof(why)) ==
			      SFD_SAME);
			CHECK_EQ_U64(n, 1000);
		}
		CHECK_EQ_U64(same_at_every_step(), 7000);
	}
	/* The filter sees the record as cut to the snapshot length: a test of
	 * a byte past it fails, whatever the file holds there. */
	struct w w = start("filter_cut.pcap", 0, 0xa1b2c3d4, 2, 4, 60, 1);
	for (uint32_t i = 0; i < 3; i++) {
		put32(&w, i);
		put32(&w, 0);
		put32(&w, 100);
		put32(&w, 100);
		for (int b = 0; b < 100; b++)
			fputc(0x55, w.f);
	}
	fclose(w.f);
	char why[512];
	unsigned long n = 9;
	CHECK(savefile_diff(path, 65536, "ether[80] = 0x55", &n, why, sizeof(why)) == SFD_SAME);
	CHECK_EQ_U64(n, 0);
	CHECK(savefile_diff(path, 65536, "ether[50] = 0x55", &n, why, sizeof(why)) == SFD_SAME);
	CHECK_EQ_U64(n, 3);
}

static void count_records(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	(void)h;
	(void)bytes;
	(*(unsigned long *)user)++;
}

/* Opens path as the sensor does and asks for the own reader. */
static struct savefile *own_reader(pcap_t **p)
{
	char err[PCAP_ERRBUF_SIZE];
	*p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
	CHECK(*p != NULL);
	return *p ? savefile_open(*p) : NULL;
}

/* Files the own reader must leave to libpcap, and the one it takes. */
static void test_takes_only_plain_files(void)
{
	static const struct {
		int be;
		uint32_t magic;
		uint16_t major, minor;
		uint32_t linktype;
		int taken;
	} cases[] = {
	    {0, 0xa1b2c3d4, 2, 4, 1, 1},
	    {1, 0xa1b23c4d, 2, 4, 101, 1},
	    {0, 0xa1b2c3d4, 2, 3, 1, 0}, /* caplen and len may be swapped */
	    {0, 0xa1b2c3d4, 2, 2, 1, 0},
	    {0, 0xa1b2cd34, 2, 4, 1, 0},   /* Kuznetzov: longer record headers */
	    {0, 0xa1b2c3d4, 2, 4, 113, 1}, /* Linux SLL in this host's order */
	    {1, 0xa1b2c3d4, 2, 4, 113, 0}, /* swapped: libpcap rewrites it */
	    {1, 0xa1b2c3d4, 2, 4, 276, 0}, /* SLL2, likewise */
	    {0, 0xa1b2c3d4, 2, 4, 276, 1},
	    {1, 0xa1b2c3d4, 2, 4, 117, 0}, /* PFLOG, NFLOG, USB: swapped, rewritten */
	    {0, 0xa1b2c3d4, 2, 4, 117, 1},
	    {1, 0xa1b2c3d4, 2, 4, 239, 0},
	    {0, 0xa1b2c3d4, 2, 4, 239, 1},
	    {1, 0xa1b2c3d4, 2, 4, 189, 0},
	    {0, 0xa1b2c3d4, 2, 4, 189, 1},
	    {0, 0xa1b2c3d4, 2, 4, 220, 0}, /* USB mmapped: always rewritten */
	    {0, 0xa1b2c3d4, 2, 4, 231, 0}, /* D-Bus, EBHSCR, USBPCAP: records past 256 KiB */
	    {0, 0xa1b2c3d4, 2, 4, 279, 0},
	    {0, 0xa1b2c3d4, 2, 4, 249, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct w w = start("which.pcap", cases[i].be, cases[i].magic, cases[i].major,
				   cases[i].minor, 65535, cases[i].linktype);
		record(&w, 1, 2, 40, 40, 40, 1);
		fclose(w.f);
		pcap_t *p;
		struct savefile *sf = own_reader(&p);
		if ((sf != NULL) != cases[i].taken)
			fprintf(stderr, "case %zu: taken %d\n", i, sf != NULL);
		CHECK((sf != NULL) == cases[i].taken);
		savefile_free(sf);
		if (p)
			pcap_close(p);
		if (cases[i].taken) {
			CHECK_EQ_U64(same_at_every_step(), 1);
		} else {
			char why[512];
			unsigned long n;
			CHECK(savefile_diff(path, 1, NULL, &n, why, sizeof(why)) ==
			      SFD_LIBPCAP_ONLY);
		}
	}
	/* Not a regular file: a pipe. */
	int fds[2];
	CHECK(pipe(fds) == 0);
	FILE *wf = fdopen(fds[1], "wb");
	struct w w = {wf, 0};
	put32(&w, 0xa1b2c3d4);
	put16(&w, 2);
	put16(&w, 4);
	for (int i = 0; i < 4; i++)
		put32(&w, i == 2 ? 65535 : i == 3 ? 1 : 0);
	fclose(wf);
	char err[PCAP_ERRBUF_SIZE];
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fdopen(fds[0], "rb"),
							     PCAP_TSTAMP_PRECISION_NANO, err);
	CHECK(p != NULL);
	CHECK(p && savefile_open(p) == NULL);
	if (p)
		pcap_close(p);
}

/* The offset counts what was consumed, and reaches the file's size. */
static void test_offset(void)
{
	struct w w = start("offset.pcap", 0, 0xa1b2c3d4, 2, 4, 65535, 1);
	for (unsigned i = 0; i < 500; i++)
		record(&w, i, 0, 333, 333, 333, i);
	fclose(w.f);
	pcap_t *p;
	struct savefile *sf = own_reader(&p);
	CHECK(sf != NULL);
	if (!sf)
		return;
	CHECK_EQ_U64(savefile_offset(sf), 24);
	unsigned long n = 0;
	CHECK(savefile_dispatch(sf, 10, count_records, (u_char *)&n) == 10);
	CHECK_EQ_U64(savefile_offset(sf), 24 + 10 * (16 + 333));
	CHECK(savefile_dispatch(sf, -1, count_records, (u_char *)&n) == 490);
	CHECK(savefile_dispatch(sf, -1, count_records, (u_char *)&n) == 0);
	struct stat st;
	CHECK(stat(path, &st) == 0 && savefile_offset(sf) == (uint64_t)st.st_size);
	CHECK_EQ_U64(n, 500);
	savefile_free(sf);
	pcap_close(p);
}

static void cleanup(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (e->d_name[0] != '.')
			unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void test_setup(void)
{
	CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);
}

TEST_MAIN(test_setup, test_records_alike, test_block_edges, test_filter, test_time_stamps,
	  test_bad_endings, test_takes_only_plain_files, test_offset)
