/*
 * summary: the `egress-sensor --summary` JSON document (DESIGN.md).
 *
 * Pure shaping: from the whole-capture report, the aggregation totals and the
 * pipeline's counters to one JSON document. Fields beyond the contract
 * (undecoded reasons, table overflow counters, memory) are additive.
 */
#ifndef EW_SUMMARY_H
#define EW_SUMMARY_H

#include <stdio.h>

#include "agg.h"
#include "pipeline.h"
#include "report.h"

struct summary_input {
	const char *source;             /* file name as given */
	int link_type;                  /* pcap_datalink() */
	const struct report *report;    /* identities of the whole capture */
	struct agg_totals totals;
	const struct pipeline_stats *stats;
	size_t agg_memory;
	const char *read_error;         /* libpcap's error when the file ended badly, or NULL */
};

/* Writes the document and a newline to f and flushes it: 0, or -1 when
 * the write failed. */
int summary_write(FILE *f, const struct summary_input *in);

#endif
