/*
 * direction: which way a packet crosses the boundary of the internal network.
 *
 * Pure code. The internal network is a prefix table (built once from the
 * config's comma-separated CIDR list); a packet is
 *   egress   internal source, external destination;
 *   ingress  external source, internal destination;
 *   lateral  both internal;
 *   transit  neither (a mirror port that sees others' traffic).
 */
#ifndef EW_DIRECTION_H
#define EW_DIRECTION_H

#include <stddef.h>

#include "agg.h"
#include "decode.h"
#include "prefix_table.h"

/* RFC 1918, RFC 6598 shared address space, RFC 4193 unique local. */
#define DIRECTION_DEFAULT_INTERNAL \
	"10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7"

/* Classifies p by its source and destination against internal (borrowed). */
enum ew_dir direction_classify(const struct prefix_table *internal, const struct pkt_info *p);

/* True if a is covered by internal. */
bool direction_is_internal(const struct prefix_table *internal, const ew_addr *a);

/*
 * Builds the internal table from a comma-separated CIDR list (spaces around
 * items allowed; at least one item). Returns 0 with *out set (caller frees
 * with prefix_table_free), or -1 with the offending item named in err and
 * *out untouched.
 */
int direction_parse_internal(const char *list, struct prefix_table **out, char *err, size_t errlen);

/* Stable name of a direction ("egress", "ingress", "lateral", "transit"). */
const char *direction_name(enum ew_dir d);

#endif
