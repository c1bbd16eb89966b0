/*
 * prefix_table: longest-prefix match over IPv4 and IPv6 prefixes.
 *
 * Keys are ew_addr (IPv4 mapped into the 128-bit space, so an IPv4 /24 is a
 * /120 here). Each prefix carries a uint32_t value chosen by the caller (an
 * index into its own table of names). Built once, then read on the
 * per-packet path: lookups do not allocate and stay fast with 100,000+
 * prefixes. Adding the same prefix twice replaces its value.
 */
#ifndef EW_PREFIX_TABLE_H
#define EW_PREFIX_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

struct prefix_table;

/* Returns an empty table, or NULL on allocation failure. Free with prefix_table_free. */
struct prefix_table *prefix_table_new(void);
void prefix_table_free(struct prefix_table *t);

/* Adds addr/plen (plen 0..128, 128-bit space) with value. Returns 0, or -1 on allocation failure. */
int prefix_table_add(struct prefix_table *t, const ew_addr *addr, unsigned plen, uint32_t value);

/* Longest match for a: true and *value set, or false when no prefix covers a. */
bool prefix_table_lookup(const struct prefix_table *t, const ew_addr *a, uint32_t *value);

/* Whether any prefix covers a: prefix_table_lookup's answer without the
 * value, mostly from small bitmaps that stay in cache. */
bool prefix_table_contains(const struct prefix_table *t, const ew_addr *a);

/* Number of distinct prefixes held. */
size_t prefix_table_count(const struct prefix_table *t);

#endif
