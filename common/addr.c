/*
 * addr: parsing, printing and masking of ew_addr (see addr.h).
 *
 * Parsing is strict (inet_pton's grammar: no leading zeros in a dotted quad,
 * no zone ids, no surrounding spaces), since these strings come from config
 * files, Redis and reports that we do not trust. Printing follows RFC 5952
 * exactly as glibc's inet_ntop() does (which is what Wireshark calls), so the
 * text matches the corpus oracles byte for byte; an IPv4-mapped address
 * prints as its dotted quad because that is how we hold IPv4.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "banned.h"

int addr_parse(const char *s, ew_addr *out)
{
	uint8_t buf[16];

	if (!s || !*s)
		return -1;
	if (inet_pton(AF_INET, s, buf) == 1) {
		addr_from_v4(out, buf);
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		addr_from_v6(out, buf);
		return 0;
	}
	return -1;
}

void addr_mask(ew_addr *a, unsigned plen)
{
	if (plen >= 128)
		return;
	unsigned byte = plen / 8, bits = plen % 8;
	if (bits) {
		a->b[byte] &= (uint8_t)(0xff00u >> bits);
		byte++;
	}
	memset(a->b + byte, 0, 16 - byte);
}

bool addr_in_prefix(const ew_addr *a, const ew_addr *net, unsigned plen)
{
	if (plen < 96 && addr_is_v4(a))
		return false;
	ew_addr m = *a;
	addr_mask(&m, plen);
	return addr_eq(&m, net);
}

int addr_parse_cidr(const char *s, ew_addr *out, unsigned *plen)
{
	char text[ADDR_STRLEN + 1];
	const char *slash;
	size_t alen;
	unsigned len = 0;

	if (!s)
		return -1;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(text))
		return -1;
	memcpy(text, s, alen);
	text[alen] = '\0';

	/* Which grammar the text matched decides the length's range: an IPv4
	 * "/24" is 24 of 32, an IPv6 "::ffff:0:0/104" is 104 of 128. */
	uint8_t buf[16];
	bool v4 = false;
	if (inet_pton(AF_INET, text, buf) == 1) {
		addr_from_v4(out, buf);
		v4 = true;
	} else if (inet_pton(AF_INET6, text, buf) == 1) {
		addr_from_v6(out, buf);
	} else {
		return -1;
	}

	if (slash) {
		const char *d = slash + 1;
		size_t nd = 0;
		if (!*d)
			return -1;
		for (; *d; d++, nd++) {
			if (*d < '0' || *d > '9' || nd >= 3)
				return -1;
			len = len * 10 + (unsigned)(*d - '0');
		}
		if (len > (v4 ? 32u : 128u))
			return -1;
		if (v4)
			len += 96;
	} else {
		len = 128;
	}
	ew_addr given = *out;
	addr_mask(out, len);
	*plen = len;
	return addr_eq(&given, out) ? 0 : ADDR_HOST_BITS;
}

void addr_cidr_explain(int rc, const char *s, const ew_addr *net, unsigned plen, char *err,
		       size_t n)
{
	char buf[ADDR_STRLEN];
	if (rc == ADDR_HOST_BITS)
		snprintf(err, n, "\"%.64s\" has bits set past its prefix length (the network is %s/%u)",
			 s, addr_format(net, buf, sizeof(buf)), addr_is_v4(net) ? plen - 96 : plen);
	else
		snprintf(err, n, "\"%.64s\" is not an address or CIDR", s);
}

/* Formatting without printf: reports and summaries format an address for
 * every destination of every identity, and snprintf was a tenth of a
 * reporting sensor's time. buf always has ADDR_STRLEN bytes. */
static char *put_u8(char *o, unsigned v)
{
	if (v >= 100)
		*o++ = (char)('0' + v / 100);
	if (v >= 10)
		*o++ = (char)('0' + v / 10 % 10);
	*o++ = (char)('0' + v % 10);
	return o;
}

static char *put_v4(char *o, const uint8_t *b)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			*o++ = '.';
		o = put_u8(o, b[i]);
	}
	return o;
}

static char *put_hex16(char *o, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	int shift = 12;
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*o++ = hex[(v >> shift) & 15];
	return o;
}

/* RFC 5952 section 4 as glibc's inet_ntop6 implements it: lower-case hex
 * without leading zeros, the longest run (first on a tie) of two or more zero
 * groups as "::", and an embedded IPv4 address for ::a.b.c.d
 * (IPv4-compatible) addresses. */
static char *put_v6(char *o, const uint8_t *b)
{
	uint16_t w[8];
	int best_base = -1, best_len = 0, cur_base = -1, cur_len = 0;

	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	for (int i = 0; i < 8; i++) {
		if (w[i] == 0) {
			if (cur_base < 0) {
				cur_base = i;
				cur_len = 1;
			} else {
				cur_len++;
			}
		} else if (cur_base >= 0) {
			if (best_base < 0 || cur_len > best_len) {
				best_base = cur_base;
				best_len = cur_len;
			}
			cur_base = -1;
		}
	}
	if (cur_base >= 0 && (best_base < 0 || cur_len > best_len)) {
		best_base = cur_base;
		best_len = cur_len;
	}
	if (best_base >= 0 && best_len < 2)
		best_base = -1;

	for (int i = 0; i < 8; i++) {
		if (best_base >= 0 && i >= best_base && i < best_base + best_len) {
			if (i == best_base)
				*o++ = ':';
			continue;
		}
		if (i != 0)
			*o++ = ':';
		if (i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)))
			return put_v4(o, b + 12);
		o = put_hex16(o, w[i]);
	}
	if (best_base >= 0 && best_base + best_len == 8)
		*o++ = ':';
	return o;
}

char *addr_put(const ew_addr *a, char *buf)
{
	return addr_is_v4(a) ? put_v4(buf, a->b + 12) : put_v6(buf, a->b);
}

char *addr_format(const ew_addr *a, char *buf, size_t n)
{
	if (n == 0)
		return buf;
	if (n < ADDR_STRLEN) {
		buf[0] = '\0';
		return buf;
	}
	*addr_put(a, buf) = '\0';
	return buf;
}
