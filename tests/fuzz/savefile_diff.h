/*
 * savefile_diff: reads one capture file with libpcap and with the sensor's
 * own reader (savefile.h) side by side, and names the first difference: a
 * record's time stamp, lengths or bytes, the number of records, or the
 * error that ends them. Shared by fuzz_savefile, test_savefile and the
 * corpus tool tests/pcap/savefile_diff.
 *
 * The file is opened twice, by path, so the two readers have their own
 * file offsets. The own reader hands records over step at a time (<= 0:
 * all in one call), as the sensor's reading loop does with 65,536. With a
 * filter expression, each reader gets it as the sensor gives it
 * (pcap_setfilter; savefile_set_filter).
 */
#ifndef EW_SAVEFILE_DIFF_H
#define EW_SAVEFILE_DIFF_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "savefile.h"

enum sfd_result {
	SFD_SAME,	    /* every record and the ending agree */
	SFD_LIBPCAP_ONLY,   /* the own reader does not take this file */
	SFD_UNOPENED,	    /* libpcap refuses the file (both times alike) */
	SFD_FILTER_REFUSED, /* the filter does not compile for its link type */
	SFD_DIFFERENT,	    /* why says where */
};

struct sfd_ctx {
	pcap_t *lib;
	unsigned long records;
	bool differs;
	char *why;
	size_t whylen;
};

static void sfd_compare(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct sfd_ctx *c = (struct sfd_ctx *)user;
	struct pcap_pkthdr *lh;
	const u_char *lb;
	if (c->differs)
		return;
	int rc = pcap_next_ex(c->lib, &lh, &lb);
	if (rc != 1) {
		snprintf(c->why, c->whylen, "record %lu: the own reader has one, libpcap %s",
			 c->records,
			 rc == PCAP_ERROR_BREAK ? "is at the end" : pcap_geterr(c->lib));
		c->differs = true;
	} else if (lh->ts.tv_sec != h->ts.tv_sec || lh->ts.tv_usec != h->ts.tv_usec ||
		   lh->caplen != h->caplen || lh->len != h->len ||
		   memcmp(lb, bytes, h->caplen) != 0) {
		snprintf(c->why, c->whylen,
			 "record %lu: libpcap %lld.%09lld caplen %u len %u, own %lld.%09lld caplen "
			 "%u len %u%s",
			 c->records, (long long)lh->ts.tv_sec, (long long)lh->ts.tv_usec,
			 lh->caplen, lh->len, (long long)h->ts.tv_sec, (long long)h->ts.tv_usec,
			 h->caplen, h->len, lh->caplen == h->caplen ? " (bytes differ)" : "");
		c->differs = true;
	}
	c->records++;
}

/* Compares the two readings of path; *records is how many agreed. */
static inline enum sfd_result savefile_diff(const char *path, int step, const char *filter,
					    unsigned long *records, char *why, size_t whylen)
{
	char e1[PCAP_ERRBUF_SIZE] = "", e2[PCAP_ERRBUF_SIZE] = "";
	enum sfd_result res = SFD_SAME;
	pcap_t *lib = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, e1);
	pcap_t *own = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, e2);
	struct savefile *sf = own ? savefile_open(own) : NULL;
	struct sfd_ctx c = {.lib = lib, .why = why, .whylen = whylen};
	why[0] = '\0';
	if (!lib || !own) {
		res = !lib && !own ? SFD_UNOPENED : SFD_DIFFERENT;
		if (res == SFD_DIFFERENT)
			snprintf(why, whylen, "libpcap opened the file once of two tries: %s%s", e1,
				 e2);
		goto out;
	}
	if (!sf) {
		res = SFD_LIBPCAP_ONLY;
		goto out;
	}
	struct bpf_program lprog = {0}, oprog = {0};
	if (filter) {
		int lc = pcap_compile(lib, &lprog, filter, 1, PCAP_NETMASK_UNKNOWN);
		int oc = pcap_compile(own, &oprog, filter, 1, PCAP_NETMASK_UNKNOWN);
		if (lc < 0 || oc < 0) {
			res = SFD_FILTER_REFUSED;
			snprintf(why, whylen, "%s", pcap_geterr(lc < 0 ? lib : own));
			goto out_free_filter;
		}
		if (pcap_setfilter(lib, &lprog) < 0)
			abort();
		savefile_set_filter(sf, &oprog);
	}
	for (;;) {
		int rc = savefile_dispatch(sf, step, sfd_compare, (u_char *)&c);
		if (c.differs) {
			res = SFD_DIFFERENT;
			break;
		}
		if (rc > 0)
			continue;
		if (rc != 0 && rc != PCAP_ERROR) {
			snprintf(why, whylen, "the own reader returned %d", rc);
			res = SFD_DIFFERENT;
			break;
		}
		struct pcap_pkthdr *lh;
		const u_char *lb;
		int lrc = pcap_next_ex(lib, &lh, &lb);
		if (rc == 0 && lrc != PCAP_ERROR_BREAK) {
			snprintf(why, whylen,
				 "after %lu records the own reader is at the end, libpcap %s",
				 c.records, lrc == 1 ? "has another" : pcap_geterr(lib));
			res = SFD_DIFFERENT;
		} else if (rc == PCAP_ERROR &&
			   (lrc != PCAP_ERROR ||
			    strcmp(pcap_geterr(lib), savefile_error(sf)) != 0)) {
			snprintf(why, whylen,
				 "after %lu records the own reader fails (%s), libpcap %s",
				 c.records, savefile_error(sf),
				 lrc == 1		   ? "has another"
				 : lrc == PCAP_ERROR_BREAK ? "is at the end"
							   : pcap_geterr(lib));
			res = SFD_DIFFERENT;
		} else if (rc == PCAP_ERROR) {
			snprintf(why, whylen, "%s", savefile_error(sf)); /* the same ending */
		}
		break;
	}
out_free_filter:
	pcap_freecode(&lprog);
	pcap_freecode(&oprog);
out:
	*records = c.records;
	savefile_free(sf);
	if (own)
		pcap_close(own);
	if (lib)
		pcap_close(lib);
	return res;
}

#endif
