/*
 * addr: IP addresses as one 16-byte type for both families.
 *
 * An IPv4 address is held IPv4-mapped (::ffff:a.b.c.d, RFC 4291 2.5.5.2), so
 * every table, prefix and hash works on one 128-bit key. Mapped addresses are
 * not valid on the wire, so no real IPv6 source collides with an IPv4 one in
 * practice; an IPv6 packet that carries one is treated as its IPv4 address.
 */
#ifndef EW_ADDR_H
#define EW_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
	uint8_t b[16];
} ew_addr;

/* Longest text form: an IPv6 address with an embedded IPv4 one, plus NUL. */
#define ADDR_STRLEN 46

static inline bool addr_is_v4(const ew_addr *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a->b, mapped, 12) == 0;
}

/* Two whole 8-byte stores, not byte stores: the packet path reads the
 * address back at once as 8-byte words (hashes, prefix bitmaps), and a load
 * that spans several smaller pending stores cannot be forwarded from them
 * but waits for them to reach the cache (tens of cycles, every address). */
static inline void addr_from_v4(ew_addr *a, const uint8_t v4[4])
{
	uint8_t lo[8] = {0, 0, 0xff, 0xff, v4[0], v4[1], v4[2], v4[3]};
	uint64_t w;
	memcpy(&w, lo, 8);
	memset(a->b, 0, 8);
	memcpy(a->b + 8, &w, 8);
}

static inline void addr_from_v6(ew_addr *a, const uint8_t v6[16])
{
	memcpy(a->b, v6, 16);
}

static inline bool addr_eq(const ew_addr *x, const ew_addr *y)
{
	return memcmp(x->b, y->b, 16) == 0;
}

/* Parses a dotted IPv4 or an IPv6 address. Returns 0, or -1 if s is not one. */
int addr_parse(const char *s, ew_addr *out);

/*
 * Parses "ADDR" or "ADDR/LEN". *plen is the prefix length in the 128-bit
 * space (an IPv4 /24 gives 120); a bare address is a host prefix. Returns 0;
 * -1 on a malformed string; ADDR_HOST_BITS when bits past the prefix are set
 * ("10.20.0.15/16": a typo that would claim the whole /16), with the
 * network in *out and *plen, for a message that names it.
 */
#define ADDR_HOST_BITS (-2)
int addr_parse_cidr(const char *s, ew_addr *out, unsigned *plen);

/* Writes why addr_parse_cidr(s) returned rc (net, plen: what it gave) into err. */
void addr_cidr_explain(int rc, const char *s, const ew_addr *net, unsigned plen, char *err,
		       size_t n);

/*
 * Writes the text form into buf (n >= ADDR_STRLEN): dotted quad for IPv4,
 * RFC 5952 for IPv6 (as Wireshark prints it). Returns buf.
 */
char *addr_format(const ew_addr *a, char *buf, size_t n);

/* The same text without the NUL, for writers that append: buf has room for
 * ADDR_STRLEN - 1 bytes. Returns the end of what it wrote. */
char *addr_put(const ew_addr *a, char *buf);

/* Clears the bits of a past plen (128-bit space). */
void addr_mask(ew_addr *a, unsigned plen);

/*
 * True if a lies in the network net/plen (net's bits past plen clear, plen
 * in the 128-bit space). An IPv6 network shorter than /96 (::/0) covers
 * mapped space in the arithmetic, but whoever wrote it meant IPv6
 * addresses: it covers no IPv4 one. prefix_table follows the same rule.
 */
bool addr_in_prefix(const ew_addr *a, const ew_addr *net, unsigned plen);

#endif
