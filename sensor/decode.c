/*
 * decode: one captured frame to the outermost IP header's addresses, length
 * and ports, for every link type egresswatch captures on.
 *
 * The walk is a small state machine over layers (link header, ethertype,
 * LLC/SNAP, MPLS, PPP, IP) so that nesting (QinQ, MPLS pseudowires, PPPoE
 * over VLAN, a VXLAN mirror's inner Ethernet) never recurses without bound:
 * every step costs one unit of a fixed layer budget, VLAN tags and MPLS
 * labels have their own bounds, and IPv6 extension headers are walked at most
 * DECODE_MAX_EXTHDRS deep. Every read is checked against caplen first, and
 * multi-byte fields are read with the big-endian helpers below, never by
 * casting packet bytes to a struct.
 *
 * What counts as "the IP packet" and its byte size follows DESIGN.md and,
 * where the RFCs leave room, Wireshark (the oracle the corpus tests compare
 * with): an IPv4 or IPv6 source is attributed as soon as the source address
 * is in the frame, even if the rest of the header is cut by the snaplen; a
 * length field of 0 (TSO / BIG TCP) means the frame's length from the IP
 * header on; an IPv4 header with IHL < 5 or a total length below the header
 * length is not an IP packet at all.
 *
 * The hot path (Ethernet, maybe one VLAN tag, IPv4/IPv6, TCP/UDP) is
 * decoded before the general walk, in one pass (decode_fast).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pcap/dlt.h>

#include "decode.h"
#include "banned.h"

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_NFLOG
#define DLT_NFLOG 239
#endif
#ifndef DLT_IPOIB
#define DLT_IPOIB 242
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
/* LINKTYPE_RAW as written in files; libpcap maps it to DLT_RAW, but a
 * caller that passes the file's value still gets raw IP. */
#define LINKTYPE_RAW 101

/* Bounds on every walk. Real traffic needs 3 VLAN tags (QinQinQ), a few
 * MPLS labels and a handful of extension headers; past these the frame is
 * either hostile or broken. */
#define DECODE_MAX_LAYERS 16
#define DECODE_MAX_VLANS 6
#define DECODE_MAX_MPLS 12
#define DECODE_MAX_EXTHDRS 8
#define DECODE_MAX_NFLOG_TLVS 64

#define ETH_HLEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_PBB 0x88e7
#define ETHERTYPE_VNTAG 0x8926
#define ETHERTYPE_ETAG 0x893f
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848
#define ETHERTYPE_PPPOE_SESSION 0x8864
#define ETHERTYPE_TEB 0x6558 /* transparent Ethernet bridging (GENEVE) */
#define ETHER_MAX_LEN_FIELD 1500

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define PPP_MPLS 0x0281
#define PPP_MPLS_MC 0x0283

#define IPPROTO_HOPOPTS_ 0
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ROUTING_ 43
#define IPPROTO_ICMPV6_ 58
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_ 51
#define IPPROTO_DSTOPTS_ 60
#define IPPROTO_MH_ 135
#define IPPROTO_HIP_ 139
#define IPPROTO_SHIM6_ 140
#define IPPROTO_EXP1_ 253
#define IPPROTO_EXP2_ 254

#define IP6OPT_PAD1 0x00
#define IP6OPT_JUMBO 0xc2

#define VXLAN_PORT 4789
#define GENEVE_PORT 6081

static const char *const reason_names[DECODE_NREASONS] = {
	[DECODE_OK] = "ok",
	[DECODE_NOT_IP] = "not_ip",
	[DECODE_UNSUPPORTED_LINK] = "unsupported_link",
	[DECODE_TRUNCATED] = "truncated",
	[DECODE_BAD_VERSION] = "bad_version",
	[DECODE_BAD_HEADER] = "bad_header",
	[DECODE_BAD_LENGTH] = "bad_length",
	[DECODE_TOO_DEEP] = "too_deep",
	[DECODE_MIRROR_FRAGMENT] = "mirror_fragment",
};

const char *decode_reason_name(enum decode_result r)
{
	if ((unsigned)r >= DECODE_NREASONS)
		return "unknown";
	return reason_names[r];
}

bool decode_link_supported(int dlt)
{
	switch (dlt) {
	case DLT_NULL:
	case DLT_LOOP:
	case DLT_EN10MB:
	case DLT_PPP:
	case DLT_PPP_SERIAL:
	case DLT_PPP_ETHER:
	case DLT_PPP_WITH_DIR:
	case DLT_C_HDLC:
	case DLT_C_HDLC_WITH_DIR:
	case DLT_FDDI:
	case DLT_ATM_RFC1483:
	case DLT_RAW:
	case LINKTYPE_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_NFLOG:
	case DLT_IPOIB:
		return true;
	default:
		return false;
	}
}

static inline uint16_t rd_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t rd_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint32_t rd_le32(const uint8_t *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* NFLOG TLV headers are in the byte order of the host that reads them
 * (libpcap swaps them on reading a file from the other byte order). */
static inline uint16_t rd_host16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* One frame being walked. */
struct dctx {
	const struct decode_opts *opts;
	const uint8_t *pkt;
	uint32_t caplen;
	uint32_t wirelen; /* on-wire length, never below caplen */
	unsigned layers;  /* layer steps taken, <= DECODE_MAX_LAYERS */
	unsigned vlans;   /* VLAN-style tags seen, <= DECODE_MAX_VLANS */
	bool inner;       /* inside a mirror encapsulation: no second one */
};

/* Where the walk goes next. */
enum layer {
	L_ETHER,    /* Ethernet header at off */
	L_ETYPE,    /* payload of ethertype `type` at off */
	L_LLC,      /* 802.2 LLC header at off */
	L_MPLS,     /* MPLS label stack at off */
	L_PPP,      /* PPP protocol field at off */
	L_IP_ANY,   /* IP header, version from its nibble */
	L_IP4,      /* IPv4 header at off */
	L_IP6,      /* IPv6 header at off */
};

static enum decode_result walk(struct dctx *d, enum layer l, uint32_t off, uint16_t type,
			       struct pkt_info *out);

/*
 * The bytes to count when an IP length field is 0: what the frame holds from
 * the IP header on, by its on-wire length (so a snaplen cut does not shrink
 * it), as Wireshark's TSO support does.
 */
static inline uint32_t tso_len(const struct dctx *d, uint32_t off)
{
	return d->wirelen - off;
}

int decode_parse_targets(const char *list, struct decode_opts *o, char *err, size_t errlen)
{
	o->ntargets = 0;
	for (const char *p = list;;) {
		p += strspn(p, ", \t"); /* items apart by commas or blanks */
		size_t n = strcspn(p, ", \t");
		if (!n)
			return 0;
		char item[64];
		if (n >= sizeof(item)) {
			snprintf(err, errlen, "\"%.*s\" is not an address or CIDR", (int)n, p);
			return -1;
		}
		if (o->ntargets == DECODE_MIRROR_TARGETS_MAX) {
			snprintf(err, errlen, "more than %d mirror targets", DECODE_MIRROR_TARGETS_MAX);
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		unsigned plen;
		int rc = addr_parse_cidr(item, &o->target[o->ntargets], &plen);
		if (rc) {
			addr_cidr_explain(rc, item, &o->target[o->ntargets], plen, err, errlen);
			return -1;
		}
		o->target_plen[o->ntargets++] = (uint8_t)plen;
		p += n;
	}
}

static bool to_mirror_target(const struct decode_opts *o, const ew_addr *dst)
{
	for (unsigned i = 0; i < o->ntargets; i++)
		if (addr_in_prefix(dst, &o->target[i], o->target_plen[i]))
			return true;
	return false;
}

/* A later fragment of UDP to a mirror target: part of a mirror's transport
 * whose first fragment was opened (its ports are in that one only). */
static bool mirror_fragment(const struct dctx *d, const struct pkt_info *out)
{
	const struct decode_opts *o = d->opts;
	return o && !d->inner && (o->vxlan || o->geneve) && out->proto == IPPROTO_UDP_ &&
	       to_mirror_target(o, &out->dst);
}

/*
 * With the cloud mirror options on, a UDP packet to the VXLAN or GENEVE port
 * of a mirror target is the mirror's transport: decode its payload instead
 * (one level only). Returns true and sets *res when it took the packet over.
 */
static bool mirror_inner(struct dctx *d, uint16_t dport, uint32_t uoff, struct pkt_info *out,
			 enum decode_result *res)
{
	const struct decode_opts *o = d->opts;
	if (!o || d->inner || !(o->vxlan || o->geneve))
		return false;
	bool vxlan = o->vxlan && dport == (o->vxlan_port ? o->vxlan_port : VXLAN_PORT);
	bool geneve = !vxlan && o->geneve && dport == (o->geneve_port ? o->geneve_port : GENEVE_PORT);
	if (!(vxlan || geneve) || !to_mirror_target(o, &out->dst))
		return false;
	uint32_t poff = uoff + 8; /* after the UDP header */
	if (vxlan) {
		/* RFC 7348: 8-byte VXLAN header, then the inner Ethernet frame. */
		d->inner = true;
		if (d->caplen < poff + 8) {
			*res = DECODE_TRUNCATED;
			return true;
		}
		*res = walk(d, L_ETHER, poff + 8, 0, out);
		return true;
	}
	{
		/* GENEVE, RFC 8926: 8-byte base header, options, then protocol type. */
		d->inner = true;
		if (d->caplen < poff + 8) {
			*res = DECODE_TRUNCATED;
			return true;
		}
		const uint8_t *g = d->pkt + poff;
		if (g[0] >> 6 != 0) {
			*res = DECODE_NOT_IP; /* unknown GENEVE version */
			return true;
		}
		uint32_t ioff = poff + 8 + (uint32_t)(g[0] & 0x3f) * 4;
		uint16_t ptype = rd_be16(g + 2);
		if (ptype == ETHERTYPE_TEB)
			*res = walk(d, L_ETHER, ioff, 0, out);
		else
			*res = walk(d, L_ETYPE, ioff, ptype, out);
		return true;
	}
	return false;
}

/* Ports and TCP flags of a first (or only) fragment, from the L4 header at
 * l4off, as far as the capture holds them. */
static inline void read_ports(const struct dctx *d, uint32_t l4off, uint8_t proto,
			      struct pkt_info *out)
{
	if (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_)
		return;
	if (d->caplen < l4off + 4 || l4off + 4 < l4off)
		return;
	const uint8_t *l4 = d->pkt + l4off;
	out->sport = rd_be16(l4);
	out->dport = rd_be16(l4 + 2);
	if (proto == IPPROTO_TCP_ && d->caplen >= l4off + 14)
		out->tcp_flags = l4[13];
}

/* RFC 791. */
static enum decode_result decode_ipv4(struct dctx *d, uint32_t off, struct pkt_info *out)
{
	if (d->caplen <= off)
		return DECODE_TRUNCATED;
	uint32_t avail = d->caplen - off;
	const uint8_t *ip = d->pkt + off;
	if (ip[0] >> 4 != 4)
		return DECODE_BAD_VERSION;
	uint32_t hlen = (uint32_t)(ip[0] & 0x0f) * 4;
	if (hlen < 20)
		return DECODE_BAD_HEADER;
	if (avail < 4)
		return DECODE_TRUNCATED;
	uint32_t tot = rd_be16(ip + 2);
	if (tot == 0)
		tot = tso_len(d, off);
	if (tot < hlen)
		return DECODE_BAD_HEADER;
	if (avail < 16)
		return DECODE_TRUNCATED;

	addr_from_v4(&out->src, ip + 12);
	if (avail >= 20)
		addr_from_v4(&out->dst, ip + 16);
	else
		memset(&out->dst, 0, sizeof(out->dst));
	out->ip_bytes = tot;
	out->ip_version = 4;
	out->sport = out->dport = 0;
	out->tcp_flags = 0;
	out->proto = avail >= 10 ? ip[9] : 0;
	out->fragment = false;
	if (avail < 20)
		return DECODE_OK;
	if ((rd_be16(ip + 6) & 0x1fff) != 0) {
		out->fragment = true; /* no L4 header in a non-first fragment */
		return mirror_fragment(d, out) ? DECODE_MIRROR_FRAGMENT : DECODE_OK;
	}
	read_ports(d, off + hlen, out->proto, out);
	if (out->proto == IPPROTO_UDP_ && d->opts && !d->inner && d->caplen >= off + hlen + 8) {
		enum decode_result r;
		if (mirror_inner(d, out->dport, off + hlen, out, &r))
			return r;
	}
	return DECODE_OK;
}

/*
 * Looks for a Jumbo Payload option (RFC 2675) in the hop-by-hop header at
 * hoff of hlen bytes (all present). Returns 1 and sets *jumbo when found and
 * well formed, 0 when absent, -1 when present but malformed.
 */
static int find_jumbo(const uint8_t *h, uint32_t hlen, uint32_t *jumbo)
{
	uint32_t i = 2;
	/* Each option advances i by at least 1, so hlen (<= 2048) bounds it. */
	while (i < hlen) {
		uint8_t t = h[i];
		if (t == IP6OPT_PAD1) {
			i++;
			continue;
		}
		if (i + 2 > hlen)
			return 0;
		uint32_t olen = h[i + 1];
		if (t == IP6OPT_JUMBO) {
			if (olen != 4 || i + 6 > hlen)
				return -1;
			*jumbo = rd_be32(h + i + 2);
			return *jumbo > 65535 ? 1 : -1;
		}
		i += 2 + olen;
	}
	return 0;
}

/* RFC 8200. */
static enum decode_result decode_ipv6(struct dctx *d, uint32_t off, struct pkt_info *out)
{
	if (d->caplen <= off)
		return DECODE_TRUNCATED;
	uint32_t avail = d->caplen - off;
	const uint8_t *ip = d->pkt + off;
	if (ip[0] >> 4 != 6)
		return DECODE_BAD_VERSION;
	if (avail < 24)
		return DECODE_TRUNCATED;
	uint32_t plen = rd_be16(ip + 4);
	uint8_t nh = ip[6];

	addr_from_v6(&out->src, ip + 8);
	out->ip_version = 6;
	out->sport = out->dport = 0;
	out->tcp_flags = 0;
	out->fragment = false;
	out->proto = nh;
	if (avail < 40) {
		memset(&out->dst, 0, sizeof(out->dst));
		out->ip_bytes = plen ? (uint64_t)plen + 40 : tso_len(d, off);
		return DECODE_OK;
	}
	addr_from_v6(&out->dst, ip + 24);

	/* Extension headers: bounded walk, only as far as the capture goes.
	 * Running out of capture or of the bound still counts the packet (its
	 * addresses and length are known); it only leaves the ports at 0. */
	uint32_t x = off + 40;
	bool jumbo_seen = false;
	uint32_t jumbo = 0;
	bool l4 = true;
	for (unsigned n = 0;; n++) {
		if (n == DECODE_MAX_EXTHDRS) {
			l4 = false;
			break;
		}
		uint32_t xlen;
		if (nh == IPPROTO_HOPOPTS_ || nh == IPPROTO_ROUTING_ || nh == IPPROTO_DSTOPTS_ ||
		    nh == IPPROTO_MH_ || nh == IPPROTO_HIP_ || nh == IPPROTO_SHIM6_ ||
		    nh == IPPROTO_EXP1_ || nh == IPPROTO_EXP2_) {
			if (d->caplen < x + 2) {
				l4 = false;
				break;
			}
			xlen = ((uint32_t)d->pkt[x + 1] + 1) * 8;
			if (nh == IPPROTO_HOPOPTS_ && n == 0 && plen == 0 && d->caplen >= x + xlen) {
				int j = find_jumbo(d->pkt + x, xlen, &jumbo);
				if (j < 0)
					return DECODE_BAD_LENGTH;
				jumbo_seen = j > 0;
			}
		} else if (nh == IPPROTO_AH_) {
			if (d->caplen < x + 2) {
				l4 = false;
				break;
			}
			xlen = ((uint32_t)d->pkt[x + 1] + 2) * 4;
		} else if (nh == IPPROTO_FRAGMENT_) {
			if (d->caplen < x + 8) {
				l4 = false;
				break;
			}
			if ((rd_be16(d->pkt + x + 2) & 0xfff8) != 0) {
				out->fragment = true;
				l4 = false;
				nh = d->pkt[x];
				out->proto = nh;
				if (mirror_fragment(d, out))
					return DECODE_MIRROR_FRAGMENT;
				break;
			}
			xlen = 8;
		} else {
			break; /* an upper layer (or No Next Header, ESP) */
		}
		nh = d->pkt[x];
		x += xlen;
		if (nh == 59 /* no next header */)
			break;
	}
	out->proto = nh;
	if (plen != 0)
		out->ip_bytes = (uint64_t)plen + 40;
	else if (jumbo_seen)
		out->ip_bytes = (uint64_t)jumbo + 40;
	else
		out->ip_bytes = tso_len(d, off);
	if (l4) {
		read_ports(d, x, nh, out);
		if (nh == IPPROTO_UDP_ && d->opts && !d->inner && d->caplen >= x + 8) {
			enum decode_result r;
			if (mirror_inner(d, out->dport, x, out, &r))
				return r;
		}
	}
	return DECODE_OK;
}

/* An ethertype that looks like the start of a layer we walk: used to tell
 * an MPLS pseudowire's control word from the inner Ethernet header. */
static bool known_ethertype(uint16_t t)
{
	return t == ETHERTYPE_IPV4 || t == ETHERTYPE_IPV6 || t == ETHERTYPE_VLAN ||
	       t == ETHERTYPE_QINQ || t == ETHERTYPE_QINQ_OLD || t == ETHERTYPE_MPLS ||
	       t == ETHERTYPE_MPLS_MC || t == ETHERTYPE_PPPOE_SESSION;
}

/*
 * The general walk from layer l at off (type: the ethertype for L_ETYPE).
 * Returns the result of the IP header it ends at, or why it found none.
 */
static enum decode_result walk(struct dctx *d, enum layer l, uint32_t off, uint16_t type,
			       struct pkt_info *out)
{
	const uint8_t *p = d->pkt;
	uint32_t caplen = d->caplen;
	/* An ethertype <= 1500 is an 802.3 length (then LLC follows) only right
	 * after Ethernet addresses or a VLAN tag; elsewhere it means nothing. */
	bool len_is_llc = false;

	for (;;) {
		if (++d->layers > DECODE_MAX_LAYERS)
			return DECODE_TOO_DEEP;
		switch (l) {
		case L_ETHER:
			if (caplen < off + ETH_HLEN)
				return DECODE_TRUNCATED;
			type = rd_be16(p + off + 12);
			off += ETH_HLEN;
			l = L_ETYPE;
			len_is_llc = true;
			continue;

		case L_ETYPE:
			switch (type) {
			case ETHERTYPE_IPV4:
				return decode_ipv4(d, off, out);
			case ETHERTYPE_IPV6:
				return decode_ipv6(d, off, out);
			case ETHERTYPE_VLAN:
			case ETHERTYPE_QINQ:
			case ETHERTYPE_QINQ_OLD:
				/* IEEE 802.1Q / 802.1ad: TCI, then the next type. */
				if (++d->vlans > DECODE_MAX_VLANS)
					return DECODE_TOO_DEEP;
				if (caplen < off + 4)
					return DECODE_TRUNCATED;
				type = rd_be16(p + off + 2);
				off += 4;
				len_is_llc = true;
				continue;
			case ETHERTYPE_VNTAG:
				/* Cisco VN-Tag: 4 tag bytes, then the next type. */
				if (++d->vlans > DECODE_MAX_VLANS)
					return DECODE_TOO_DEEP;
				if (caplen < off + 6)
					return DECODE_TRUNCATED;
				type = rd_be16(p + off + 4);
				off += 6;
				len_is_llc = true;
				continue;
			case ETHERTYPE_ETAG:
				/* IEEE 802.1BR E-TAG: 6 tag bytes, then the next type. */
				if (++d->vlans > DECODE_MAX_VLANS)
					return DECODE_TOO_DEEP;
				if (caplen < off + 8)
					return DECODE_TRUNCATED;
				type = rd_be16(p + off + 6);
				off += 8;
				len_is_llc = true;
				continue;
			case ETHERTYPE_PBB:
				/* IEEE 802.1ah: I-TAG, customer addresses, type. */
				if (++d->vlans > DECODE_MAX_VLANS)
					return DECODE_TOO_DEEP;
				if (caplen < off + 18)
					return DECODE_TRUNCATED;
				type = rd_be16(p + off + 16);
				off += 18;
				len_is_llc = true;
				continue;
			case ETHERTYPE_MPLS:
			case ETHERTYPE_MPLS_MC:
				l = L_MPLS;
				continue;
			case ETHERTYPE_PPPOE_SESSION:
				/* RFC 2516: ver/type, code, session, length; PPP. */
				if (caplen < off + 6)
					return DECODE_TRUNCATED;
				off += 6;
				l = L_PPP;
				continue;
			default:
				if (type <= ETHER_MAX_LEN_FIELD && len_is_llc) {
					l = L_LLC;
					continue;
				}
				return DECODE_NOT_IP;
			}

		case L_LLC:
			/* IEEE 802.2: DSAP, SSAP, control; SNAP (RFC 1042) adds
			 * an OUI and an ethertype. */
			if (caplen < off + 3)
				return DECODE_TRUNCATED;
			if (p[off] == 0xaa && p[off + 1] == 0xaa && p[off + 2] == 0x03) {
				if (caplen < off + 8)
					return DECODE_TRUNCATED;
				uint32_t oui = (uint32_t)p[off + 3] << 16 | (uint32_t)p[off + 4] << 8 |
					       p[off + 5];
				if (oui != 0x000000 && oui != 0x0000f8)
					return DECODE_NOT_IP;
				type = rd_be16(p + off + 6);
				off += 8;
				l = L_ETYPE;
				len_is_llc = false;
				continue;
			}
			if (p[off] == 0x06 && p[off + 1] == 0x06 && p[off + 2] == 0x03) {
				off += 3; /* SAP 0x06: IP directly */
				l = L_IP4;
				continue;
			}
			return DECODE_NOT_IP;

		case L_MPLS: {
			/* RFC 3032: labels until bottom of stack. */
			unsigned n = 0;
			for (;;) {
				if (caplen < off + 4)
					return DECODE_TRUNCATED;
				bool bos = p[off + 2] & 0x01;
				off += 4;
				if (bos)
					break;
				if (++n == DECODE_MAX_MPLS)
					return DECODE_TOO_DEEP;
			}
			if (caplen <= off)
				return DECODE_TRUNCATED;
			/* RFC 4928 / 4385: the first nibble after the stack tells
			 * IPv4 (4), IPv6 (6), a PW associated channel (1) and a PW
			 * control word (0) apart. */
			switch (p[off] >> 4) {
			case 4:
				l = L_IP4;
				continue;
			case 6:
				l = L_IP6;
				continue;
			case 0:
				/* RFC 4448 Ethernet pseudowire. With a control word
				 * the inner ethertype is at +16, without at +12. */
				if (caplen >= off + 4 + ETH_HLEN &&
				    known_ethertype(rd_be16(p + off + 16)))
					off += 4;
				else if (!(caplen >= off + ETH_HLEN &&
					   known_ethertype(rd_be16(p + off + 12))))
					off += 4;
				l = L_ETHER;
				continue;
			default:
				return DECODE_NOT_IP;
			}
		}

		case L_PPP: {
			/* RFC 1661; a protocol field with its low bit set is the
			 * 1-byte compressed form (protocol-field compression). */
			if (caplen <= off)
				return DECODE_TRUNCATED;
			uint16_t proto;
			if (p[off] & 0x01) {
				proto = p[off];
				off += 1;
			} else {
				if (caplen < off + 2)
					return DECODE_TRUNCATED;
				proto = rd_be16(p + off);
				off += 2;
			}
			switch (proto) {
			case PPP_IPV4:
				l = L_IP4;
				continue;
			case PPP_IPV6:
				l = L_IP6;
				continue;
			case PPP_MPLS:
			case PPP_MPLS_MC:
				l = L_MPLS;
				continue;
			default:
				return DECODE_NOT_IP;
			}
		}

		case L_IP_ANY:
			if (caplen <= off)
				return DECODE_TRUNCATED;
			switch (p[off] >> 4) {
			case 4:
				return decode_ipv4(d, off, out);
			case 6:
				return decode_ipv6(d, off, out);
			default:
				return DECODE_BAD_VERSION;
			}
		case L_IP4:
			return decode_ipv4(d, off, out);
		case L_IP6:
			return decode_ipv6(d, off, out);
		}
		return DECODE_NOT_IP; /* not reached: every layer continues or returns */
	}
}

/* BSD loopback: a 4-byte address family in the writer's byte order (NULL)
 * or network order (LOOP). The values for IPv6 differ between BSDs. */
static enum decode_result decode_null(struct dctx *d, bool loop, struct pkt_info *out)
{
	if (d->caplen < 4)
		return DECODE_TRUNCATED;
	const uint8_t *p = d->pkt;
	if (p[0] == 0xff && p[1] == 0x03)
		return walk(d, L_PPP, 2, 0, out); /* PPP in HDLC-like framing */
	uint32_t fam = rd_be32(p);
	/* A family is small: if the high half is set, the writer was
	 * little-endian (a DLT_NULL header in host byte order). */
	if (!loop && (fam & 0xffff0000u))
		fam = rd_le32(p);
	switch (fam) {
	case 2: /* AF_INET everywhere */
		return walk(d, L_IP4, 4, 0, out);
	case 24: /* AF_INET6: NetBSD, OpenBSD, BSD/OS */
	case 28: /* FreeBSD, DragonFly BSD */
	case 30: /* Darwin */
		return walk(d, L_IP6, 4, 0, out);
	default:
		if (fam > ETHER_MAX_LEN_FIELD && fam <= 0xffff)
			return walk(d, L_ETYPE, 4, (uint16_t)fam, out);
		return DECODE_NOT_IP;
	}
}

/* DLT_PPP / PPP_SERIAL: PPP with or without the ff03 address/control pair;
 * Cisco HDLC frames (address 0x0f or 0x8f) appear on the same links. */
static enum decode_result decode_ppp(struct dctx *d, uint32_t off, struct pkt_info *out)
{
	if (d->caplen < off + 2)
		return DECODE_TRUNCATED;
	const uint8_t *p = d->pkt + off;
	if (p[0] == 0x0f || p[0] == 0x8f) {
		if (d->caplen < off + 4)
			return DECODE_TRUNCATED;
		return walk(d, L_ETYPE, off + 4, rd_be16(p + 2), out);
	}
	if (p[0] == 0xff && p[1] == 0x03)
		off += 2;
	return walk(d, L_PPP, off, 0, out);
}

/* NFLOG (Linux netfilter log): family, version, resource id, then TLVs;
 * the NFULA_PAYLOAD TLV (type 9) is the packet from its IP header on. */
static enum decode_result decode_nflog(struct dctx *d, struct pkt_info *out)
{
	if (d->caplen < 4)
		return DECODE_TRUNCATED;
	uint8_t family = d->pkt[0];
	uint32_t off = 4;
	for (unsigned n = 0; n < DECODE_MAX_NFLOG_TLVS; n++) {
		if (d->caplen < off + 4)
			return DECODE_TRUNCATED;
		uint32_t tlen = rd_host16(d->pkt + off);
		uint16_t ttype = rd_host16(d->pkt + off + 2) & 0x3fff; /* NLA_TYPE_MASK */
		if (tlen < 4)
			return DECODE_NOT_IP; /* a TLV shorter than its header */
		if (ttype == 9) {
			uint32_t ip = off + 4;
			if (family == 2)
				return walk(d, L_IP4, ip, 0, out);
			if (family == 10)
				return walk(d, L_IP6, ip, 0, out);
			return DECODE_NOT_IP;
		}
		off += (tlen + 3) & ~3u;
	}
	return DECODE_TOO_DEEP;
}

/*
 * The hot path, ahead of the walk: Ethernet with at most one 802.1Q tag,
 * then an IPv4 header, or an IPv6 header whose next header is the upper
 * layer, with 14 bytes past it in the capture (a TCP header's flags), a
 * length field that is not 0 and no mirror encapsulation to open. Fills
 * *out as the walk would (fuzz_decode holds the two equal on every input)
 * and returns true; false leaves the frame to the walk. One pass of loads
 * and compares, no layer loop: most frames in the field take it. The
 * caller has checked caplen >= FAST_MIN, which covers every read before
 * the l4off test.
 */
#define FAST_MIN (ETH_HLEN + 4 + 20)

static inline bool decode_fast(const struct decode_opts *opts, const uint8_t *pkt, uint32_t caplen,
			       uint32_t len, struct pkt_info *out)
{
	uint32_t off = ETH_HLEN;
	uint16_t t = rd_be16(pkt + 12);
	if (t == ETHERTYPE_VLAN) {
		t = rd_be16(pkt + 16);
		off += 4;
	}
	const uint8_t *ip = pkt + off;
	uint32_t l4off, bytes;
	uint8_t proto;
	bool v4 = t == ETHERTYPE_IPV4, fragment = false;
	if (v4) {
		uint32_t hlen = (uint32_t)(ip[0] & 0x0f) * 4;
		l4off = off + hlen;
		bytes = rd_be16(ip + 2);
		proto = ip[9];
		fragment = (rd_be16(ip + 6) & 0x1fff) != 0;
		if (ip[0] >> 4 != 4 || hlen < 20 || bytes < hlen)
			return false;
	} else if (t == ETHERTYPE_IPV6) {
		l4off = off + 40;
		bytes = rd_be16(ip + 4) + 40u;
		proto = ip[6];
		if (ip[0] >> 4 != 6 || bytes == 40 ||
		    (proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_ && proto != IPPROTO_ICMPV6_))
			return false;
	} else {
		return false;
	}
	if (caplen < l4off + 14)
		return false;
	if (proto == IPPROTO_UDP_ && opts && (opts->vxlan || opts->geneve))
		return false; /* maybe a mirror's transport or a piece of one: the walk decides */
	if (v4) {
		addr_from_v4(&out->src, ip + 12);
		addr_from_v4(&out->dst, ip + 16);
	} else {
		addr_from_v6(&out->src, ip + 8);
		addr_from_v6(&out->dst, ip + 24);
	}
	out->ip_bytes = bytes;
	out->wire_bytes = len;
	out->ip_version = v4 ? 4 : 6;
	out->proto = proto;
	out->fragment = fragment;
	out->sport = out->dport = 0;
	out->tcp_flags = 0;
	if (!fragment && (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_)) {
		const uint8_t *l4 = pkt + l4off;
		out->sport = rd_be16(l4);
		out->dport = rd_be16(l4 + 2);
		if (proto == IPPROTO_TCP_)
			out->tcp_flags = l4[13];
	}
	return true;
}

enum decode_result decode_packet(const struct decode_opts *opts, int dlt, const uint8_t *pkt,
				 uint32_t caplen, uint32_t len, struct pkt_info *out)
{
	if (dlt == DLT_EN10MB && caplen >= FAST_MIN && decode_fast(opts, pkt, caplen, len, out))
		return DECODE_OK;
	return decode_packet_walk(opts, dlt, pkt, caplen, len, out);
}

enum decode_result decode_packet_walk(const struct decode_opts *opts, int dlt, const uint8_t *pkt,
				      uint32_t caplen, uint32_t len, struct pkt_info *out)
{
	struct dctx d = {
		.opts = opts,
		.pkt = pkt,
		.caplen = caplen,
		.wirelen = len > caplen ? len : caplen,
	};
	out->wire_bytes = len;

	switch (dlt) {
	case DLT_EN10MB:
		return walk(&d, L_ETHER, 0, 0, out);
	case DLT_RAW:
	case LINKTYPE_RAW:
		return walk(&d, L_IP_ANY, 0, 0, out);
	case DLT_IPV4:
		return walk(&d, L_IP4, 0, 0, out);
	case DLT_IPV6:
		return walk(&d, L_IP6, 0, 0, out);
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2: {
		/* SLL: type, ARPHRD, addr len, addr[8], protocol (16 bytes).
		 * SLL2: protocol, reserved, ifindex, ARPHRD, type, addr len,
		 * addr[8] (20 bytes). Protocol 4 is Linux's ETH_P_802_2. */
		uint32_t hl = dlt == DLT_LINUX_SLL ? 16 : 20;
		if (caplen < hl)
			return DECODE_TRUNCATED;
		uint16_t proto = rd_be16(pkt + (dlt == DLT_LINUX_SLL ? 14 : 0));
		if (proto == 0x0004)
			return walk(&d, L_LLC, hl, 0, out);
		return walk(&d, L_ETYPE, hl, proto, out);
	}
	case DLT_NULL:
		return decode_null(&d, false, out);
	case DLT_LOOP:
		return decode_null(&d, true, out);
	case DLT_PPP:
	case DLT_PPP_SERIAL:
		return decode_ppp(&d, 0, out);
	case DLT_PPP_WITH_DIR:
		return decode_ppp(&d, 1, out); /* a direction byte first */
	case DLT_PPP_ETHER:
		if (caplen < 6)
			return DECODE_TRUNCATED;
		return walk(&d, L_PPP, 6, 0, out);
	case DLT_C_HDLC:
	case DLT_C_HDLC_WITH_DIR: {
		/* Cisco HDLC: address, control, ethertype. */
		uint32_t o = dlt == DLT_C_HDLC ? 0 : 1;
		if (caplen < o + 4)
			return DECODE_TRUNCATED;
		return walk(&d, L_ETYPE, o + 4, rd_be16(pkt + o + 2), out);
	}
	case DLT_FDDI:
		/* Frame control, destination, source; LLC frames only. */
		if (caplen < 13)
			return DECODE_TRUNCATED;
		if ((pkt[0] & 0x30) != 0x10)
			return DECODE_NOT_IP;
		return walk(&d, L_LLC, 13, 0, out);
	case DLT_ATM_RFC1483:
		return walk(&d, L_LLC, 0, 0, out);
	case DLT_NFLOG:
		return decode_nflog(&d, out);
	case DLT_IPOIB:
		/* RFC 4391 as libpcap writes it: 40 bytes of link addresses,
		 * then the 4-byte IPoIB header (ethertype, reserved). */
		if (caplen < 44)
			return DECODE_TRUNCATED;
		return walk(&d, L_ETYPE, 44, rd_be16(pkt + 40), out);
	default:
		return DECODE_UNSUPPORTED_LINK;
	}
}
