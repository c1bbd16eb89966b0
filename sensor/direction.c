/*
 * direction: egress / ingress / lateral / transit by the internal prefix
 * table (see direction.h). Pure: two lookups per packet, no state.
 */
#include <stdio.h>
#include <string.h>

#include "direction.h"
#include "banned.h"

bool direction_is_internal(const struct prefix_table *internal, const ew_addr *a)
{
	return internal && prefix_table_contains(internal, a);
}

/* flatten: the two membership tests inlined (under link-time optimisation,
 * across modules), as this runs for every packet. */
__attribute__((flatten)) enum ew_dir direction_classify(const struct prefix_table *internal,
							 const struct pkt_info *p)
{
	bool src = direction_is_internal(internal, &p->src);
	bool dst = direction_is_internal(internal, &p->dst);
	if (src)
		return dst ? DIR_LATERAL : DIR_EGRESS;
	return dst ? DIR_INGRESS : DIR_TRANSIT;
}

int direction_parse_internal(const char *list, struct prefix_table **out, char *err, size_t errlen)
{
	if (!list) {
		snprintf(err, errlen, "internal: no networks given");
		return -1;
	}
	struct prefix_table *t = prefix_table_new();
	if (!t) {
		snprintf(err, errlen, "internal: out of memory");
		return -1;
	}
	const char *p = list;
	unsigned item = 0;
	for (;;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		while (n && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		item++;
		char cidr[64];
		ew_addr a;
		unsigned plen;
		if (n == 0) {
			snprintf(err, errlen, "internal: item %u is empty", item);
			goto out_free;
		}
		if (n >= sizeof(cidr)) {
			snprintf(err, errlen, "internal: item %u is not a CIDR (too long)", item);
			goto out_free;
		}
		memcpy(cidr, s, n);
		cidr[n] = '\0';
		int rc = addr_parse_cidr(cidr, &a, &plen);
		if (rc) {
			char why[160];
			addr_cidr_explain(rc, cidr, &a, plen, why, sizeof(why));
			snprintf(err, errlen, "internal: %s", why);
			goto out_free;
		}
		if (prefix_table_add(t, &a, plen, 1)) {
			snprintf(err, errlen, "internal: out of memory");
			goto out_free;
		}
		if (!end)
			break;
		p = end + 1;
	}
	*out = t;
	return 0;

out_free:
	prefix_table_free(t);
	return -1;
}

const char *direction_name(enum ew_dir d)
{
	switch (d) {
	case DIR_EGRESS: return "egress";
	case DIR_INGRESS: return "ingress";
	case DIR_LATERAL: return "lateral";
	case DIR_TRANSIT: return "transit";
	}
	return "unknown";
}
