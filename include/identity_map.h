/*
 * identity_map: internal address -> identity name, by longest prefix match.
 *
 * Built from configs/identities.conf (one "CIDR-or-address name" a line) and,
 * on the sensor, from the Redis hash that an inventory feeder keeps; entries
 * added later take precedence over earlier ones for the same prefix. Names
 * are interned: each distinct name gets a stable id (1..count), so the
 * per-packet path carries a uint32_t, never a string.
 */
#ifndef EW_IDENTITY_MAP_H
#define EW_IDENTITY_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "diag.h"

struct identity_map;

/* Returns an empty map, or NULL on allocation failure. */
struct identity_map *identity_map_new(void);
void identity_map_free(struct identity_map *m);

/*
 * Adds "cidr -> name". Returns 0, or -1 with the reason in err (bad address,
 * bad name, allocation).
 */
int identity_map_add(struct identity_map *m, const char *cidr, const char *name,
		     char *err, size_t errlen);

/*
 * Loads a map file: '#' comments, blank lines, "CIDR name" lines. Every bad
 * line goes to d as FILE:LINE. Returns 0 if the file was read without
 * problems, -1 otherwise (good lines are still added).
 */
int identity_map_load_file(struct identity_map *m, const char *path, struct diag *d);

/*
 * As identity_map_load_file, for len bytes at buf already in memory; name
 * labels the diagnostics (NAME:LINE). Used by the fuzz target and by callers
 * that read the file themselves.
 */
int identity_map_load_buffer(struct identity_map *m, const char *name, const char *buf, size_t len,
			     struct diag *d);

/* Name id of the longest prefix covering a, or 0 when none does. */
uint32_t identity_map_lookup(const struct identity_map *m, const ew_addr *a);

/* The name of id (1..identity_map_names()); borrowed while m lives. */
const char *identity_map_name(const struct identity_map *m, uint32_t id);

/* Number of distinct names; number of prefixes. */
uint32_t identity_map_names(const struct identity_map *m);
size_t identity_map_prefixes(const struct identity_map *m);

#endif
