/*
 * report: the sensor -> collector report (DESIGN.md "Report"), as a struct
 * and as JSON.
 *
 * Pure code. report_to_json() shapes what the sensor sends; report_parse()
 * is the collector's gate for anything written to the stream (a sensor, a
 * replay tool, a flow-log importer, an attacker with stream access): it
 * checks every field and every limit and names the first problem.
 */
#ifndef EW_REPORT_H
#define EW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define REPORT_VERSION 1
#define IDENTITY_NAME_MAX 128   /* bytes, without the NUL */
#define SENSOR_NAME_MAX 64
#define REPORT_SPAN_MAX (2 * 86400.0)  /* end - start at most (the flush interval is <= 1 day) */

/* The identity that collects traffic past the aggregation limits. '~' is not
 * allowed in configured names, so it never collides with a real identity. */
#define OVERFLOW_IDENTITY "~overflow"

struct report_dest {
	ew_addr addr;
	uint16_t port;
	uint8_t proto;          /* IP protocol number; JSON "tcp", "udp", "icmp", ... or a number */
	uint64_t bytes, packets;
};

struct report_identity {
	char name[IDENTITY_NAME_MAX + 1];
	uint64_t out_bytes, out_packets, in_bytes, in_packets;
	uint64_t lateral_bytes, lateral_packets, flows;
	bool has_lateral, has_flows;    /* optional fields present */
	struct report_dest *dests;      /* owned by the report */
	size_t ndests;
};

struct report_stats {
	uint64_t packets_seen, packets_undecoded, drops_kernel, drops_iface;
	uint64_t spool_dropped;         /* reports the sensor had to drop (spool full) */
};

struct report {
	char sensor[SENSOR_NAME_MAX + 1];
	uint64_t seq;
	double start, end;              /* capture-clock UNIX seconds */
	struct report_identity *ids;    /* owned by the report */
	size_t nids;
	struct report_stats stats;
};

/* Limits report_parse() enforces (0 means the built-in default). */
struct report_limits {
	size_t max_bytes;               /* JSON text, default 16 MiB */
	size_t max_identities;          /* per report, default 100000 */
	size_t max_dests;               /* per identity, default 1000 */
};

/* Frees what the report owns (ids and their dests) and zeroes it; NULL-safe. */
void report_release(struct report *r);

/*
 * Keeps report_to_json(r) within max_bytes: when an upper bound of its size
 * is over, the identities with the least egress are folded into
 * OVERFLOW_IDENTITY (their counts added, their destinations dropped), so the
 * totals stay exact and a flood of identities cannot make a report the
 * collector rejects. Returns the number of identities folded.
 */
size_t report_fit(struct report *r, size_t max_bytes);

/* An upper bound of strlen(report_to_json(r)): what report_fit compares
 * and report_to_json reserves. */
size_t report_json_bound(const struct report *r);

/*
 * Returns the JSON text of r; caller frees with free(). NULL on allocation
 * failure.
 */
char *report_to_json(const struct report *r);

/*
 * The "end" of a report report_to_json wrote, read from the text's first
 * KiB, where the writer puts it (after "seq" and "start", before the
 * identities): the sensor's heartbeat takes it from each spooled report
 * sent, which may be 64 MiB long. 0 when the head does not hold it.
 */
double report_head_end(const char *json, size_t len);

/*
 * Parses and validates len bytes of JSON into *out (caller releases with
 * report_release, also after failure). Returns 0, or -1 with a one-line
 * reason in err ("identities[3].out_bytes: not a non-negative integer").
 * start and end are times 0..9999999999 with end - start at most
 * REPORT_SPAN_MAX; a number literal of any length is read.
 */
int report_parse(const char *json, size_t len, const struct report_limits *lim,
		 struct report *out, char *err, size_t errlen);

/* Protocol number to its JSON name ("tcp", "udp", "icmp", "icmpv6", or NULL). */
const char *report_proto_name(uint8_t proto);

/* True if s is a valid identity name: 1..IDENTITY_NAME_MAX of [A-Za-z0-9._:@/-]. */
bool report_identity_name_valid(const char *s);

#endif
