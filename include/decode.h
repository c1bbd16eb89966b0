/*
 * decode: one captured frame to the facts egress accounting needs.
 *
 * Pure code: no I/O, no allocation, no globals. The caller hands a frame and
 * its link type; decode_packet() walks link layers (Ethernet, VLAN tags,
 * PPPoE, MPLS, SLL, SLL2, raw IP, loopback, PPP, C-HDLC, ...) to the
 * outermost IP header and reads its addresses and length. The outermost IP
 * header is the one counted: a GRE or IP-in-IP tunnel leaves as its outer
 * packet. Only when the config enables a cloud mirror encapsulation (VXLAN,
 * GENEVE) is the inner packet the one counted, since the outer packet is the
 * mirror's own transport, not the workload's traffic.
 *
 * Byte accounting (DESIGN.md): ip_bytes is IPv4 total length, or IPv6
 * payload length + 40 (a jumbogram: its Jumbo Payload length + 40), right even
 * when the capture is cut by its snaplen. A length field of 0 (TSO / BIG TCP
 * super-packets) counts the bytes present in the frame from the IP header on.
 *
 * Every read is bounds-checked against caplen; every walk (VLAN depth, MPLS
 * labels, IPv6 extension headers) has a fixed bound.
 *
 * Where the RFCs leave room, decode follows Wireshark, the oracle of the
 * corpus tests (tests/pcap/t_decode_oracle.sh): a frame is counted as soon
 * as its IP source address is present, even when the snaplen cuts the rest
 * of the header (ip_bytes is then the header's claimed length, and dst is
 * all zeros if the destination address is cut); an IPv6 extension-header
 * chain longer than the walk's bound is still counted, only without ports.
 *
 * Link types (decode_link_supported): EN10MB (802.1Q/802.1ad/QinQ, VN-Tag,
 * E-TAG, 802.1ah, LLC/SNAP, MPLS incl. Ethernet pseudowires, PPPoE
 * session), LINUX_SLL, LINUX_SLL2, RAW (and LINKTYPE_RAW 101), IPV4, IPV6,
 * NULL, LOOP, PPP, PPP_SERIAL, PPP_ETHER, PPP_WITH_DIR, C_HDLC,
 * C_HDLC_WITH_DIR, FDDI, ATM_RFC1483, NFLOG, IPOIB.
 */
#ifndef EW_DECODE_H
#define EW_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

/* Why a frame was not decoded. DECODE_OK is 0; the rest index counters. */
enum decode_result {
	DECODE_OK = 0,
	DECODE_NOT_IP,        /* ARP, STP, LLDP, PPPoE discovery, ...: no IP inside */
	DECODE_UNSUPPORTED_LINK, /* a link type we do not decode */
	DECODE_TRUNCATED,     /* the frame ends before the IP source/destination */
	DECODE_BAD_VERSION,   /* IP version nibble does not match its framing */
	DECODE_BAD_HEADER,    /* IPv4 IHL < 5, total length < header length, ... */
	DECODE_BAD_LENGTH,    /* IPv6 jumbo option missing/invalid, ... */
	DECODE_TOO_DEEP,      /* VLAN tag / MPLS label / nested-layer bound hit */
	DECODE_MIRROR_FRAGMENT, /* a later fragment of a mirror's transport: the first
				 * fragment's inner packet counted all its bytes */
	DECODE_NREASONS
};

/* Stable names of the reasons, for JSON and metrics ("not_ip", ...). */
const char *decode_reason_name(enum decode_result r);

/* What a decoded frame carries. Borrowed from nothing: plain values. */
struct pkt_info {
	ew_addr src, dst;       /* outermost (or inner, for enabled mirrors) IP */
	uint64_t ip_bytes;      /* IP-layer bytes per the accounting above */
	uint32_t wire_bytes;    /* frame length the capture records */
	uint16_t sport, dport;  /* 0 when not TCP/UDP or not present (fragment) */
	uint8_t proto;          /* IP protocol number after extension headers */
	uint8_t ip_version;     /* 4 or 6 */
	uint8_t tcp_flags;      /* TCP flags byte when present, else 0 */
	bool fragment;          /* a non-first fragment: no ports */
};

/* True if two decoded packets carry the same facts (field by field: the
 * struct has padding). */
static inline bool pkt_info_equal(const struct pkt_info *a, const struct pkt_info *b)
{
	return addr_eq(&a->src, &b->src) && addr_eq(&a->dst, &b->dst) &&
	       a->ip_bytes == b->ip_bytes && a->wire_bytes == b->wire_bytes &&
	       a->sport == b->sport && a->dport == b->dport && a->proto == b->proto &&
	       a->ip_version == b->ip_version && a->tcp_flags == b->tcp_flags &&
	       a->fragment == b->fragment;
}

#define DECODE_MIRROR_TARGETS_MAX 16

/*
 * Decode options from config; zero-initialised means all off. A mirror's
 * transport is opened only when it is sent to one of the mirror targets (the
 * addresses the mirror session delivers to: this sensor's), so a workload
 * that sends its own UDP to port 4789 is counted as itself, not as whatever
 * its payload claims to be.
 */
struct decode_opts {
	bool vxlan;             /* UDP 4789 to a target: count the inner packet */
	bool geneve;            /* UDP 6081 to a target: count the inner packet */
	uint16_t vxlan_port;    /* 0 means 4789 */
	uint16_t geneve_port;   /* 0 means 6081 */
	unsigned ntargets;
	ew_addr target[DECODE_MIRROR_TARGETS_MAX];      /* networks, host bits clear */
	uint8_t target_plen[DECODE_MIRROR_TARGETS_MAX]; /* in the 128-bit space */
};

/*
 * Parses a comma-separated list of addresses or CIDRs into o's mirror
 * targets. Returns 0, or -1 with err (a bad item, or more than
 * DECODE_MIRROR_TARGETS_MAX).
 */
int decode_parse_targets(const char *list, struct decode_opts *o, char *err, size_t errlen);

/* True if we can decode frames of this DLT (libpcap link type). */
bool decode_link_supported(int dlt);

/*
 * Decodes one frame of link type dlt (pcap_datalink()), caplen bytes present
 * of len on the wire. Fills *out and returns DECODE_OK, or returns the reason
 * the frame holds no countable IP packet (then *out is unspecified).
 */
enum decode_result decode_packet(const struct decode_opts *opts, int dlt,
				 const uint8_t *pkt, uint32_t caplen,
				 uint32_t len, struct pkt_info *out);

/*
 * decode_packet without its fast path for the common Ethernet frame: the
 * general walk alone, which must give the same answer on every frame. For
 * the tests that hold the two equal; callers use decode_packet.
 */
enum decode_result decode_packet_walk(const struct decode_opts *opts, int dlt,
				      const uint8_t *pkt, uint32_t caplen,
				      uint32_t len, struct pkt_info *out);

#endif
