/*
 * bare_loop: the baseline every sensor rate is divided by.
 *
 *   bare_loop [-r RUNS] [-b | -s] FILE
 *
 * Reads FILE with pcap_open_offline and pcap_loop, with a callback that
 * only counts packets, captured bytes and frame lengths: what reading the
 * capture costs with nothing else done. With -b, the FILE is opened the way
 * egress-sensor opens it, read through a stdio buffer of CAPTURE_FILE_BUF
 * bytes (capture.h) instead of stdio's default, so that a ratio to it
 * compares the same reading. With -s, the records are read the way the
 * sensor reads a classic pcap file by default, by its own reader
 * (savefile.h; the file opened as with -b): the cheapest reading of the
 * file there is, the baseline for what the sensor's packet path costs
 * beyond reading. RUNS passes (default 3), the best
 * one counted, so the page cache is warm and a passing hiccup does not
 * count. Prints one JSON line on stdout:
 *   {"file": F, "packets": N, "caplen_bytes": C, "wire_bytes": W,
 *    "runs": 3, "best_seconds": S, "packets_per_s": R}
 * Exit status 0; 1 on a usage or read error (a truncated last record is a
 * read error, as it is to the sensor).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture.h"
#include "savefile.h"
#include "banned.h"

struct counts {
	uint64_t packets, caplen_bytes, wire_bytes;
};

static void count(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct counts *c = (struct counts *)user;
	(void)bytes;
	c->packets++;
	c->caplen_bytes += h->caplen;
	c->wire_bytes += h->len;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One pass over the file, through buf when it is not NULL; 0, or -1 with
 * the reason on stderr. */
static int one_pass(const char *path, char *buf, bool own, struct counts *c, double *secs)
{
	char err[PCAP_ERRBUF_SIZE + 512];
	double t0 = now();
	pcap_t *p = buf ? capture_open_file(path, buf, err, sizeof(err)) : pcap_open_offline(path, err);
	if (!p) {
		/* capture_open_file's reason names the file already. */
		fprintf(stderr, "bare_loop: %s%s%s\n", buf ? "" : path, buf ? "" : ": ", err);
		return -1;
	}
	memset(c, 0, sizeof(*c));
	struct savefile *sf = own ? savefile_open(p) : NULL;
	if (own && !sf) {
		fprintf(stderr, "bare_loop: %s: not a file the sensor's own reader reads\n", path);
		pcap_close(p);
		return -1;
	}
	int rc = sf ? savefile_dispatch(sf, -1, count, (u_char *)c) : pcap_loop(p, -1, count, (u_char *)c);
	if (rc == PCAP_ERROR)
		fprintf(stderr, "bare_loop: %s: %s\n", path, sf ? savefile_error(sf) : pcap_geterr(p));
	savefile_free(sf);
	pcap_close(p);
	*secs = now() - t0;
	return rc == PCAP_ERROR ? -1 : 0;
}

int main(int argc, char **argv)
{
	static char buf[CAPTURE_FILE_BUF];
	unsigned long runs = 3;
	bool buffered = false, own = false;
	int opt;
	while ((opt = getopt(argc, argv, "r:bs")) != -1) {
		char *end;
		switch (opt) {
		case 'r':
			errno = 0;
			runs = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || runs < 1 || runs > 100) {
				fprintf(stderr, "bare_loop: bad -r \"%s\"\n", optarg);
				return 1;
			}
			break;
		case 'b':
			buffered = true;
			break;
		case 's':
			buffered = own = true;
			break;
		default:
			goto usage;
		}
	}
	if (argc != optind + 1)
		goto usage;
	const char *path = argv[optind];
	struct counts c = {0};
	double best = 0;
	for (unsigned long i = 0; i < runs; i++) {
		double s;
		if (one_pass(path, buffered ? buf : NULL, own, &c, &s))
			return 1;
		if (i == 0 || s < best)
			best = s;
	}
	printf("{\"file\": \"%s\", \"packets\": %" PRIu64 ", \"caplen_bytes\": %" PRIu64
	       ", \"wire_bytes\": %" PRIu64 ", \"runs\": %lu, \"best_seconds\": %.6f"
	       ", \"packets_per_s\": %.0f}\n",
	       path, c.packets, c.caplen_bytes, c.wire_bytes, runs, best,
	       best > 0 ? (double)c.packets / best : 0.0);
	return 0;

usage:
	fprintf(stderr, "usage: bare_loop [-r RUNS] [-b | -s] FILE\n");
	return 1;
}
