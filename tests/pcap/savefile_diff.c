/*
 * savefile_diff: reads each FILE with libpcap and with the sensor's own
 * reader and says whether they agree (tests/fuzz/savefile_diff.h).
 *
 *   savefile_diff [-s STEP] [-f FILTER] FILE...
 *
 * One line a file: "FILE: same N records[, then: ERROR]", "FILE: libpcap
 * only" (the own reader does not take it), "FILE: unopened: ..." (libpcap
 * refuses it) or "FILE: DIFFERENT: ...". Exit status 1 when any differs or
 * on a usage error, else 0. STEP: records a savefile_dispatch call may hand
 * over (default 65536, as the sensor asks; <= 0: all). FILTER: a BPF
 * expression both readers apply ("FILE: filter refused: ..." where it does
 * not compile for the file's link type).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "../fuzz/savefile_diff.h"
#include "banned.h"

int main(int argc, char **argv)
{
	int step = 65536, opt, bad = 0;
	const char *filter = NULL;
	while ((opt = getopt(argc, argv, "s:f:")) != -1) {
		char *end;
		if (opt == 'f') {
			filter = optarg;
			continue;
		}
		errno = 0;
		long v = strtol(optarg, &end, 10);
		if (opt != 's' || errno || *end || end == optarg || v > 1 << 30 || v < -1) {
			fprintf(stderr, "usage: savefile_diff [-s STEP] [-f FILTER] FILE...\n");
			return 1;
		}
		step = (int)v;
	}
	if (optind == argc) {
		fprintf(stderr, "usage: savefile_diff [-s STEP] [-f FILTER] FILE...\n");
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		char why[1024];
		unsigned long n;
		switch (savefile_diff(argv[i], step, filter, &n, why, sizeof(why))) {
		case SFD_SAME:
			printf("%s: same %lu records%s%s\n", argv[i], n, why[0] ? ", then: " : "",
			       why);
			break;
		case SFD_LIBPCAP_ONLY:
			printf("%s: libpcap only\n", argv[i]);
			break;
		case SFD_UNOPENED:
			printf("%s: unopened by libpcap\n", argv[i]);
			break;
		case SFD_FILTER_REFUSED:
			printf("%s: filter refused: %s\n", argv[i], why);
			break;
		case SFD_DIFFERENT:
			printf("%s: DIFFERENT: %s\n", argv[i], why);
			bad = 1;
			break;
		}
	}
	return bad;
}
