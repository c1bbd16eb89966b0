/*
 * test_decode: decode_packet() on hand-built frames, one per decoder path,
 * every bad-length case, the walk bounds, and every truncation point.
 *
 * Frames are assembled with the small builder below (big-endian writers
 * into a static buffer). Decoding always reads from a heap copy of exactly
 * caplen bytes, so a sanitizer build catches any read past the capture.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/dlt.h>

#include "addr.h"
#include "decode.h"
#include "test.h"
#include "banned.h"

/* ---- frame builder ---- */

static uint8_t fb[4096];
static size_t fl;

static void reset(void)
{
	fl = 0;
}

static void put(const void *p, size_t n)
{
	memcpy(fb + fl, p, n);
	fl += n;
}

static void put8(unsigned v)
{
	fb[fl++] = (uint8_t)v;
}

static void put16(unsigned v)
{
	put8(v >> 8);
	put8(v);
}

static void put32(uint32_t v)
{
	put16(v >> 16);
	put16(v & 0xffff);
}

static void put_zero(size_t n)
{
	memset(fb + fl, 0, n);
	fl += n;
}

static void set16(size_t at, unsigned v)
{
	fb[at] = (uint8_t)(v >> 8);
	fb[at + 1] = (uint8_t)v;
}

static const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0x02};

static void eth(unsigned type)
{
	put(mac_a, 6);
	put(mac_b, 6);
	put16(type);
}

static void vlan(unsigned tpid_next, unsigned vid)
{
	put16(vid);
	put16(tpid_next);
}

static const uint8_t v4_src[4] = {10, 1, 2, 3};
static const uint8_t v4_dst[4] = {198, 51, 100, 7};
static const uint8_t v6_src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t v6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

/* IPv4 header with ihl 32-bit words (options zero-filled), total length
 * tot, fragment field frag, protocol proto. */
static void ipv4(unsigned ihl, unsigned tot, unsigned frag, unsigned proto)
{
	put8(0x40 | ihl);
	put8(0);
	put16(tot);
	put16(0x1234);
	put16(frag);
	put8(64);
	put8(proto);
	put16(0);
	put(v4_src, 4);
	put(v4_dst, 4);
	if (ihl > 5)
		put_zero((ihl - 5) * 4);
}

static void ipv6(unsigned plen, unsigned nh)
{
	put32(0x60000000);
	put16(plen);
	put8(nh);
	put8(64);
	put(v6_src, 16);
	put(v6_dst, 16);
}

/* TCP header: ports, seq, ack, offset 5, flags. */
static void tcp(unsigned sport, unsigned dport, unsigned flags)
{
	put16(sport);
	put16(dport);
	put32(1);
	put32(0);
	put8(0x50);
	put8(flags);
	put16(65535);
	put32(0);
}

static void udp(unsigned sport, unsigned dport, unsigned len)
{
	put16(sport);
	put16(dport);
	put16(len);
	put16(0);
}

/* ---- decoding helpers ---- */

static const struct decode_opts no_opts;

/* Decodes the first caplen bytes of the built frame from an exact-size heap
 * copy, with the given on-wire length (0: caplen). */
static enum decode_result dec_cut(const struct decode_opts *o, int dlt, size_t caplen,
				  uint32_t len, struct pkt_info *pi)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	memcpy(copy, fb, caplen);
	memset(pi, 0xa5, sizeof(*pi)); /* garbage: the decoder must set fields */
	enum decode_result r =
		decode_packet(o, dlt, copy, (uint32_t)caplen, len ? len : (uint32_t)caplen, pi);
	free(copy);
	return r;
}

static enum decode_result dec(int dlt, struct pkt_info *pi)
{
	return dec_cut(&no_opts, dlt, fl, 0, pi);
}

static void check_v4(const struct pkt_info *pi, uint64_t ip_bytes)
{
	ew_addr s, d;
	addr_from_v4(&s, v4_src);
	addr_from_v4(&d, v4_dst);
	CHECK(addr_eq(&pi->src, &s));
	CHECK(addr_eq(&pi->dst, &d));
	CHECK_EQ_U64(pi->ip_version, 4);
	CHECK_EQ_U64(pi->ip_bytes, ip_bytes);
}

static void check_v6(const struct pkt_info *pi, uint64_t ip_bytes)
{
	ew_addr s, d;
	addr_from_v6(&s, v6_src);
	addr_from_v6(&d, v6_dst);
	CHECK(addr_eq(&pi->src, &s));
	CHECK(addr_eq(&pi->dst, &d));
	CHECK_EQ_U64(pi->ip_version, 6);
	CHECK_EQ_U64(pi->ip_bytes, ip_bytes);
}

/* Mirror options whose targets are the test frames' destinations (the outer
 * header's, which the builders share with the inner one). */
static struct decode_opts mirror_opts(bool vxlan, bool geneve, uint16_t vxlan_port)
{
	struct decode_opts o = {.vxlan = vxlan, .geneve = geneve, .vxlan_port = vxlan_port};
	char err[128];
	CHECK(decode_parse_targets("198.51.100.7, 2001:db8::2", &o, err, sizeof(err)) == 0);
	return o;
}

/* Frame: Ethernet, IPv4 (total length 40), TCP 40000 -> 443 SYN. */
static void build_eth_v4_tcp(void)
{
	reset();
	eth(0x0800);
	ipv4(5, 40, 0x4000, 6);
	tcp(40000, 443, 0x02);
}

/* ---- tests ---- */

static void test_ether_ipv4_tcp(void)
{
	struct pkt_info pi;
	build_eth_v4_tcp();
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 1514, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.wire_bytes, 1514);
	CHECK_EQ_U64(pi.proto, 6);
	CHECK_EQ_U64(pi.sport, 40000);
	CHECK_EQ_U64(pi.dport, 443);
	CHECK_EQ_U64(pi.tcp_flags, 0x02);
	CHECK(!pi.fragment);
}

static void test_ether_ipv6_udp(void)
{
	struct pkt_info pi;
	reset();
	eth(0x86dd);
	ipv6(8 + 4, 17);
	udp(5353, 53, 12);
	put32(0xdeadbeef);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 52);
	CHECK_EQ_U64(pi.proto, 17);
	CHECK_EQ_U64(pi.sport, 5353);
	CHECK_EQ_U64(pi.dport, 53);
	CHECK_EQ_U64(pi.tcp_flags, 0);
}

static void test_ether_not_ip(void)
{
	struct pkt_info pi;
	reset();
	eth(0x0806); /* ARP */
	put_zero(28);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_NOT_IP);
	reset();
	eth(38); /* 802.3 length: LLC, STP */
	put8(0x42);
	put8(0x42);
	put8(0x03);
	put_zero(35);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_NOT_IP);
	reset();
	eth(0x8863); /* PPPoE discovery */
	put_zero(20);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_NOT_IP);
}

static void test_ether_llc_snap(void)
{
	struct pkt_info pi;
	reset();
	eth(8 + 20 + 20); /* 802.3 length, LLC/SNAP carrying IPv4 */
	put8(0xaa);
	put8(0xaa);
	put8(0x03);
	put_zero(3);
	put16(0x0800);
	ipv4(5, 40, 0, 6);
	tcp(1, 2, 0x10);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.dport, 2);
}

static void test_vlan_stacks(void)
{
	struct pkt_info pi;
	/* 802.1Q */
	reset();
	eth(0x8100);
	vlan(0x0800, 100);
	ipv4(5, 40, 0, 6);
	tcp(1000, 22, 0x18);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.dport, 22);
	CHECK_EQ_U64(pi.tcp_flags, 0x18);
	/* 802.1ad QinQ to IPv6 */
	reset();
	eth(0x88a8);
	vlan(0x8100, 10);
	vlan(0x86dd, 20);
	ipv6(8, 17);
	udp(1, 2, 8);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 48);
	/* triple tag with the old 0x9100 TPID */
	reset();
	eth(0x9100);
	vlan(0x88a8, 1);
	vlan(0x8100, 2);
	vlan(0x0800, 3);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 20);
}

/* n VLAN tags then IPv4. */
static void build_vlans(unsigned n)
{
	reset();
	eth(0x8100);
	for (unsigned i = 1; i <= n; i++)
		vlan(i == n ? 0x0800 : 0x8100, i);
	ipv4(5, 20, 0, 1);
}

static void test_vlan_depth_bound(void)
{
	struct pkt_info pi;
	build_vlans(6);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 20);
	build_vlans(7);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_TOO_DEEP);
	build_vlans(200);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_TOO_DEEP);
}

static void test_vntag_and_pbb(void)
{
	struct pkt_info pi;
	reset();
	eth(0x8926);
	put32(0x80010002);
	put16(0x8100);
	vlan(0x0800, 5);
	ipv4(5, 100, 0, 17);
	udp(1, 2, 80);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 100);
	reset();
	eth(0x893f); /* 802.1BR E-TAG */
	put32(0x00001000);
	put16(0);
	put16(0x0800);
	ipv4(5, 60, 0, 17);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 60);
	reset();
	eth(0x88e7);
	put32(0x00001234);
	put(mac_a, 6);
	put(mac_b, 6);
	put16(0x86dd);
	ipv6(0x100, 6);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 0x100 + 40);
}

static void test_mpls(void)
{
	struct pkt_info pi;
	/* two labels, IPv4 */
	reset();
	eth(0x8847);
	put32(0x00010040);
	put32(0x00020140); /* bottom of stack */
	ipv4(5, 60, 0, 6);
	tcp(5, 6, 0x11);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 60);
	CHECK_EQ_U64(pi.sport, 5);
	/* IPv6 after the stack */
	reset();
	eth(0x8848);
	put32(0x00020140);
	ipv6(0, 59);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 200, &pi), DECODE_OK);
	check_v6(&pi, 200 - 18); /* length 0: the frame from IP on */
	/* PW associated channel (first nibble 1): not IP */
	reset();
	eth(0x8847);
	put32(0x00020140);
	put32(0x10000021);
	put_zero(20);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_NOT_IP);
	/* label stack bound */
	reset();
	eth(0x8847);
	for (int i = 0; i < 20; i++)
		put32(0x00010040);
	put32(0x00010140);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_TOO_DEEP);
}

static void test_mpls_pseudowire(void)
{
	struct pkt_info pi;
	/* RFC 4448 with control word, inner Ethernet + VLAN + IPv4 */
	reset();
	eth(0x8847);
	put32(0x00010140);
	put32(0x00000001); /* control word */
	eth(0x8100);
	vlan(0x0800, 7);
	ipv4(5, 52, 0, 6);
	tcp(80, 1234, 0x10);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 52);
	CHECK_EQ_U64(pi.sport, 80);
	/* without control word, MAC starting with a 0 nibble */
	reset();
	eth(0x8847);
	put32(0x00010140);
	eth(0x0800);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 20);
}

static void test_pppoe(void)
{
	struct pkt_info pi;
	/* 2-byte PPP protocol */
	reset();
	eth(0x8864);
	put8(0x11);
	put8(0);
	put16(1);
	put16(42);
	put16(0x0021);
	ipv4(5, 40, 0, 6);
	tcp(1, 80, 0x02);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.dport, 80);
	/* protocol-field compression: 1-byte 0x21 */
	reset();
	eth(0x8100);
	vlan(0x8864, 3);
	put8(0x11);
	put8(0);
	put16(1);
	put16(41);
	put8(0x21);
	ipv4(5, 40, 0, 6);
	tcp(1, 80, 0x02);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.dport, 80);
	/* IPv6 */
	reset();
	eth(0x8864);
	put8(0x11);
	put8(0);
	put16(1);
	put16(42);
	put16(0x0057);
	ipv6(4, 58);
	put32(0x80000000);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 44);
	CHECK_EQ_U64(pi.proto, 58);
	/* LCP: not IP */
	reset();
	eth(0x8864);
	put8(0x11);
	put8(0);
	put16(1);
	put16(10);
	put16(0xc021);
	put_zero(8);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_NOT_IP);
}

static void test_sll_sll2(void)
{
	struct pkt_info pi;
	reset();
	put16(4); /* outgoing */
	put16(1);
	put16(6);
	put(mac_a, 6);
	put16(0);
	put16(0x0800);
	ipv4(5, 40, 0, 6);
	tcp(1, 2, 0x01);
	CHECK_EQ_U64(dec(DLT_LINUX_SLL, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.tcp_flags, 0x01);
	reset();
	put16(0x86dd);
	put16(0);
	put32(3);
	put16(1);
	put8(0);
	put8(6);
	put(mac_a, 6);
	put16(0);
	ipv6(20, 6);
	tcp(1, 2, 0x04);
	CHECK_EQ_U64(dec(DLT_LINUX_SLL2, &pi), DECODE_OK);
	check_v6(&pi, 60);
	CHECK_EQ_U64(pi.tcp_flags, 0x04);
	reset();
	put16(0x0806);
	put_zero(18);
	put_zero(28);
	CHECK_EQ_U64(dec(DLT_LINUX_SLL2, &pi), DECODE_NOT_IP);
}

static void test_raw_ip(void)
{
	struct pkt_info pi;
	reset();
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_RAW, &pi), DECODE_OK);
	check_v4(&pi, 20);
	CHECK_EQ_U64(dec(DLT_IPV4, &pi), DECODE_OK);
	CHECK_EQ_U64(dec(DLT_IPV6, &pi), DECODE_BAD_VERSION);
	reset();
	ipv6(0x20, 6);
	CHECK_EQ_U64(dec(DLT_RAW, &pi), DECODE_OK);
	check_v6(&pi, 0x20 + 40);
	CHECK_EQ_U64(dec(DLT_IPV6, &pi), DECODE_OK);
	CHECK_EQ_U64(dec(DLT_IPV4, &pi), DECODE_BAD_VERSION);
	fb[0] = 0x55;
	CHECK_EQ_U64(dec(DLT_RAW, &pi), DECODE_BAD_VERSION);
	/* Ethertype and IP version disagree */
	reset();
	eth(0x86dd);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_BAD_VERSION);
}

static void test_null_loop(void)
{
	struct pkt_info pi;
	/* little-endian writer, AF_INET */
	reset();
	put32(0x02000000);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_NULL, &pi), DECODE_OK);
	check_v4(&pi, 20);
	/* big-endian writer, AF_INET */
	reset();
	put32(2);
	ipv4(5, 24, 0, 1);
	put_zero(4);
	CHECK_EQ_U64(dec(DLT_NULL, &pi), DECODE_OK);
	check_v4(&pi, 24);
	CHECK_EQ_U64(dec(DLT_LOOP, &pi), DECODE_OK);
	/* the three BSD AF_INET6 values, both byte orders */
	static const uint32_t fams[] = {24, 28, 30, 0x18000000, 0x1c000000, 0x1e000000};
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		reset();
		put32(fams[i]);
		ipv6(8, 17);
		udp(1, 53, 8);
		CHECK_EQ_U64(dec(DLT_NULL, &pi), DECODE_OK);
		check_v6(&pi, 48);
		CHECK_EQ_U64(pi.dport, 53);
	}
	/* LOOP is always network order: a little-endian family is unknown */
	reset();
	put32(0x02000000);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_LOOP, &pi), DECODE_NOT_IP);
	reset();
	put32(7); /* AF_ISO */
	put_zero(20);
	CHECK_EQ_U64(dec(DLT_NULL, &pi), DECODE_NOT_IP);
}

static void test_ppp_variants(void)
{
	struct pkt_info pi;
	/* with ff03 */
	reset();
	put8(0xff);
	put8(0x03);
	put16(0x0021);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_PPP, &pi), DECODE_OK);
	check_v4(&pi, 20);
	CHECK_EQ_U64(dec(DLT_PPP_SERIAL, &pi), DECODE_OK);
	/* without ff03, IPv6 */
	reset();
	put16(0x0057);
	ipv6(0, 59);
	CHECK_EQ_U64(dec(DLT_PPP, &pi), DECODE_OK);
	check_v6(&pi, 40);
	/* protocol-field compression, ff03 present */
	reset();
	put8(0xff);
	put8(0x03);
	put8(0x21);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_PPP, &pi), DECODE_OK);
	check_v4(&pi, 20);
	/* MPLS over PPP */
	reset();
	put8(0xff);
	put8(0x03);
	put16(0x0281);
	put32(0x00001140);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_PPP, &pi), DECODE_OK);
	check_v4(&pi, 20);
	/* Cisco HDLC framing seen on a DLT_PPP link */
	reset();
	put8(0x0f);
	put8(0x00);
	put16(0x0800);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_PPP_SERIAL, &pi), DECODE_OK);
	check_v4(&pi, 20);
	/* LCP */
	reset();
	put8(0xff);
	put8(0x03);
	put16(0xc021);
	put_zero(10);
	CHECK_EQ_U64(dec(DLT_PPP, &pi), DECODE_NOT_IP);
	/* PPP_ETHER: PPPoE header without Ethernet */
	reset();
	put8(0x11);
	put8(0);
	put16(1);
	put16(22);
	put16(0x0021);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_PPP_ETHER, &pi), DECODE_OK);
	check_v4(&pi, 20);
}

static void test_chdlc(void)
{
	struct pkt_info pi;
	reset();
	put8(0x0f);
	put8(0x00);
	put16(0x0800);
	ipv4(5, 48, 0, 6);
	tcp(4938, 80, 0x02);
	CHECK_EQ_U64(dec(DLT_C_HDLC, &pi), DECODE_OK);
	check_v4(&pi, 48);
	CHECK_EQ_U64(pi.dport, 80);
	reset();
	put8(0x8f);
	put8(0x00);
	put16(0x8035); /* SLARP */
	put_zero(20);
	CHECK_EQ_U64(dec(DLT_C_HDLC, &pi), DECODE_NOT_IP);
}

static void test_fddi(void)
{
	struct pkt_info pi;
	reset();
	put8(0x50); /* async LLC frame */
	put(mac_a, 6);
	put(mac_b, 6);
	put8(0xaa);
	put8(0xaa);
	put8(0x03);
	put_zero(3);
	put16(0x0800);
	ipv4(5, 40, 0, 6);
	tcp(1, 2, 0x10);
	CHECK_EQ_U64(dec(DLT_FDDI, &pi), DECODE_OK);
	check_v4(&pi, 40);
	fb[0] = 0x41; /* SMT frame */
	CHECK_EQ_U64(dec(DLT_FDDI, &pi), DECODE_NOT_IP);
}

/* NFLOG TLV in host byte order. */
static void nflog_tlv(unsigned type, const void *val, unsigned n)
{
	uint16_t l = (uint16_t)(4 + n), t = (uint16_t)type;
	put(&l, 2);
	put(&t, 2);
	put(val, n);
	while (fl % 4)
		put8(0);
}

static void test_nflog(void)
{
	struct pkt_info pi;
	uint8_t ip[40];
	reset();
	ipv4(5, 40, 0, 6);
	tcp(1, 2, 0x02);
	memcpy(ip, fb, 40);
	reset();
	put8(2); /* AF_INET */
	put8(0);
	put16(42);
	nflog_tlv(1, "\x08\x00\x01\x00", 4);
	nflog_tlv(10, "pfx", 3); /* prefix, padded */
	nflog_tlv(9, ip, 40);
	CHECK_EQ_U64(dec(DLT_NFLOG, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.tcp_flags, 0x02);
	fb[0] = 10; /* AF_INET6 with an IPv4 payload */
	CHECK_EQ_U64(dec(DLT_NFLOG, &pi), DECODE_BAD_VERSION);
	fb[0] = 7;
	CHECK_EQ_U64(dec(DLT_NFLOG, &pi), DECODE_NOT_IP);
	/* a TLV shorter than its header stops the walk */
	reset();
	put8(2);
	put8(0);
	put16(0);
	put32(0);
	CHECK_EQ_U64(dec(DLT_NFLOG, &pi), DECODE_NOT_IP);
	/* no payload TLV before the end */
	reset();
	put8(2);
	put8(0);
	put16(0);
	nflog_tlv(1, "\x08\x00\x01\x00", 4);
	CHECK_EQ_U64(dec(DLT_NFLOG, &pi), DECODE_TRUNCATED);
}

static void test_ipoib(void)
{
	struct pkt_info pi;
	reset();
	put_zero(40);
	put16(0x0800);
	put16(0);
	ipv4(5, 84, 0, 1);
	CHECK_EQ_U64(dec(DLT_IPOIB, &pi), DECODE_OK);
	check_v4(&pi, 84);
	set16(40, 0x0806);
	CHECK_EQ_U64(dec(DLT_IPOIB, &pi), DECODE_NOT_IP);
}

static void test_unsupported_link(void)
{
	struct pkt_info pi;
	build_eth_v4_tcp();
	CHECK_EQ_U64(dec(DLT_IEEE802_11, &pi), DECODE_UNSUPPORTED_LINK);
	CHECK(!decode_link_supported(DLT_IEEE802_11));
	CHECK(!decode_link_supported(-1));
	static const int ok[] = {DLT_NULL, DLT_EN10MB, DLT_PPP, DLT_FDDI, DLT_RAW,
				 DLT_LOOP, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_C_HDLC,
				 DLT_IPV4, DLT_IPV6, DLT_NFLOG, DLT_IPOIB, DLT_PPP_SERIAL};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECK(decode_link_supported(ok[i]));
}

static void test_reason_names(void)
{
	CHECK_STREQ(decode_reason_name(DECODE_OK), "ok");
	CHECK_STREQ(decode_reason_name(DECODE_NOT_IP), "not_ip");
	CHECK_STREQ(decode_reason_name(DECODE_UNSUPPORTED_LINK), "unsupported_link");
	CHECK_STREQ(decode_reason_name(DECODE_TRUNCATED), "truncated");
	CHECK_STREQ(decode_reason_name(DECODE_BAD_VERSION), "bad_version");
	CHECK_STREQ(decode_reason_name(DECODE_BAD_HEADER), "bad_header");
	CHECK_STREQ(decode_reason_name(DECODE_BAD_LENGTH), "bad_length");
	CHECK_STREQ(decode_reason_name(DECODE_TOO_DEEP), "too_deep");
	CHECK_STREQ(decode_reason_name(DECODE_MIRROR_FRAGMENT), "mirror_fragment");
	CHECK_STREQ(decode_reason_name(DECODE_NREASONS), "unknown");
}

static void test_ipv4_options_and_fragments(void)
{
	struct pkt_info pi;
	/* IHL 7: ports are read after the options */
	reset();
	eth(0x0800);
	ipv4(7, 28 + 20, 0, 6);
	tcp(7, 8, 0x12);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 48);
	CHECK_EQ_U64(pi.sport, 7);
	CHECK_EQ_U64(pi.dport, 8);
	CHECK_EQ_U64(pi.tcp_flags, 0x12);
	/* first fragment (MF, offset 0): ports present */
	reset();
	eth(0x0800);
	ipv4(5, 1500, 0x2000, 17);
	udp(1111, 2222, 3000);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 1500);
	CHECK(!pi.fragment);
	CHECK_EQ_U64(pi.dport, 2222);
	/* later fragment: counted with its own length, no ports */
	reset();
	eth(0x0800);
	ipv4(5, 1020, 185, 17);
	udp(1111, 2222, 3000); /* payload bytes that look like ports */
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v4(&pi, 1020);
	CHECK(pi.fragment);
	CHECK_EQ_U64(pi.sport, 0);
	CHECK_EQ_U64(pi.dport, 0);
	CHECK_EQ_U64(pi.proto, 17);
}

static void test_ipv4_bad_lengths(void)
{
	struct pkt_info pi;
	/* IHL < 5 */
	for (unsigned ihl = 0; ihl < 5; ihl++) {
		reset();
		eth(0x0800);
		ipv4(5, 40, 0, 6);
		fb[14] = (uint8_t)(0x40 | ihl);
		CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_BAD_HEADER);
	}
	/* total length < header length */
	reset();
	eth(0x0800);
	ipv4(6, 23, 0, 6);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_BAD_HEADER);
	reset();
	eth(0x0800);
	ipv4(5, 19, 0, 6);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_BAD_HEADER);
	/* total length == header length: fine */
	reset();
	eth(0x0800);
	ipv4(5, 20, 0, 6);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	/* claimed length beyond the capture (snaplen): the claim counts */
	reset();
	eth(0x0800);
	ipv4(5, 9000, 0, 6);
	tcp(1, 2, 0x10);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 9014, &pi), DECODE_OK);
	check_v4(&pi, 9000);
	CHECK_EQ_U64(pi.wire_bytes, 9014);
}

static void test_tso_zero_length(void)
{
	struct pkt_info pi;
	/* IPv4 total length 0: the frame's length from the IP header on, by
	 * its on-wire length even when the capture holds less. */
	reset();
	eth(0x0800);
	ipv4(5, 0, 0x4000, 6);
	tcp(1, 2, 0x18);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 65014, &pi), DECODE_OK);
	check_v4(&pi, 65000);
	CHECK_EQ_U64(pi.dport, 2);
	/* behind a VLAN tag the link header is 18 bytes */
	reset();
	eth(0x8100);
	vlan(0x0800, 1);
	ipv4(5, 0, 0, 6);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 80018, &pi), DECODE_OK);
	check_v4(&pi, 80000);
	/* IPv6 payload length 0 without a jumbo option (BIG TCP) */
	reset();
	eth(0x86dd);
	ipv6(0, 6);
	tcp(1, 2, 0x10);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 80054, &pi), DECODE_OK);
	check_v6(&pi, 80040);
	CHECK_EQ_U64(pi.dport, 2);
}

/* IPv6 with a hop-by-hop header holding the given option bytes (padded to
 * 8), then TCP. */
static void build_v6_hbh(unsigned plen, const uint8_t *opt, unsigned optlen)
{
	reset();
	eth(0x86dd);
	ipv6(plen, 0);
	unsigned hl = (2 + optlen + 7) / 8 * 8;
	put8(6);
	put8(hl / 8 - 1);
	put(opt, optlen);
	put_zero(hl - 2 - optlen);
	tcp(9, 10, 0x10);
}

static void test_ipv6_jumbogram(void)
{
	struct pkt_info pi;
	static const uint8_t jumbo[] = {0xc2, 4, 0x00, 0x01, 0x38, 0x98}; /* 80024 */
	build_v6_hbh(0, jumbo, sizeof(jumbo));
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 80078, &pi), DECODE_OK);
	check_v6(&pi, 80064);
	CHECK_EQ_U64(pi.proto, 6);
	CHECK_EQ_U64(pi.dport, 10);
	/* after PadN */
	static const uint8_t padded[] = {0x01, 0, 0xc2, 4, 0x00, 0x10, 0x00, 0x00};
	build_v6_hbh(0, padded, sizeof(padded));
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 0x100000 + 40);
	/* a jumbo option with a wrong length, or a value < 65536: invalid */
	static const uint8_t badlen[] = {0xc2, 3, 0x00, 0x01, 0x38};
	build_v6_hbh(0, badlen, sizeof(badlen));
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_BAD_LENGTH);
	static const uint8_t small[] = {0xc2, 4, 0x00, 0x00, 0x10, 0x00};
	build_v6_hbh(0, small, sizeof(small));
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_BAD_LENGTH);
	/* a non-zero payload length wins over the option (as Wireshark) */
	build_v6_hbh(28, jumbo, sizeof(jumbo));
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 68);
	/* hop-by-hop without a jumbo option, length 0: TSO rule */
	static const uint8_t ra[] = {0x05, 2, 0, 0};
	build_v6_hbh(0, ra, sizeof(ra));
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 9014, &pi), DECODE_OK);
	check_v6(&pi, 9000);
}

static void test_ipv6_ext_headers(void)
{
	struct pkt_info pi;
	/* HBH, routing, destination options, fragment (offset 0), AH, UDP */
	reset();
	eth(0x86dd);
	ipv6(8 + 8 + 8 + 8 + 16 + 8, 0);
	put8(43);
	put8(0);
	put_zero(6);
	put8(60);
	put8(0);
	put_zero(6);
	put8(44);
	put8(0);
	put_zero(6);
	put8(51);
	put8(0);
	put16(0x0001); /* offset 0, M set */
	put32(7);
	put8(17);
	put8(2); /* AH: (2+2)*4 = 16 bytes */
	put_zero(14);
	udp(4000, 4001, 8);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 96);
	CHECK_EQ_U64(pi.proto, 17);
	CHECK_EQ_U64(pi.sport, 4000);
	CHECK_EQ_U64(pi.dport, 4001);
	CHECK(!pi.fragment);
	/* a later fragment: no ports, fragment set */
	reset();
	eth(0x86dd);
	ipv6(8 + 8, 44);
	put8(6);
	put8(0);
	put16(0x0100);
	put32(7);
	tcp(1, 2, 0x10);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 56);
	CHECK(pi.fragment);
	CHECK_EQ_U64(pi.proto, 6);
	CHECK_EQ_U64(pi.sport, 0);
	/* ESP ends the walk */
	reset();
	eth(0x86dd);
	ipv6(16, 50);
	put_zero(16);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	CHECK_EQ_U64(pi.proto, 50);
	CHECK_EQ_U64(pi.sport, 0);
}

/* n destination-options headers then UDP. */
static void build_v6_dstopts(unsigned n)
{
	reset();
	eth(0x86dd);
	ipv6(n * 8 + 8, 60);
	for (unsigned i = 0; i < n; i++) {
		put8(i + 1 == n ? 17 : 60);
		put8(0);
		put_zero(6);
	}
	udp(1, 2, 8);
}

static void test_ipv6_ext_bound(void)
{
	struct pkt_info pi;
	build_v6_dstopts(7);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 104);
	CHECK_EQ_U64(pi.proto, 17);
	CHECK_EQ_U64(pi.dport, 2);
	/* past the bound: still counted (addresses and length are known), but
	 * the walk stops, so no ports */
	build_v6_dstopts(9);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 120);
	CHECK_EQ_U64(pi.proto, 60);
	CHECK_EQ_U64(pi.dport, 0);
	build_v6_dstopts(300);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	CHECK_EQ_U64(pi.dport, 0);
}

/* Ethernet / IPv4 / UDP to dport / VXLAN / Ethernet / IPv6 / TCP. */
static void build_vxlan(unsigned dport)
{
	reset();
	eth(0x0800);
	ipv4(5, 20 + 8 + 8 + 14 + 40 + 20, 0, 17);
	udp(55555, dport, 8 + 8 + 14 + 40 + 20);
	put32(0x08000000);
	put32(0x00007b00);
	eth(0x86dd);
	ipv6(20, 6);
	tcp(3306, 4444, 0x18);
}

static void test_vxlan_inner_vs_outer(void)
{
	struct pkt_info pi;
	struct decode_opts on = mirror_opts(true, false, 0);
	build_vxlan(4789);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK); /* opts off: the outer */
	check_v4(&pi, 110);
	CHECK_EQ_U64(pi.dport, 4789);
	CHECK_EQ_U64(dec_cut(NULL, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 110);
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_OK); /* the inner */
	check_v6(&pi, 60);
	CHECK_EQ_U64(pi.sport, 3306);
	CHECK_EQ_U64(pi.tcp_flags, 0x18);
	CHECK_EQ_U64(pi.wire_bytes, fl);
	/* GENEVE on does not take VXLAN's port */
	struct decode_opts gen = mirror_opts(false, true, 0);
	CHECK_EQ_U64(dec_cut(&gen, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 110);
	/* a configured port */
	struct decode_opts port = mirror_opts(true, false, 8472);
	CHECK_EQ_U64(dec_cut(&port, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 110);
	build_vxlan(8472);
	CHECK_EQ_U64(dec_cut(&port, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v6(&pi, 60);
	/* a mirror cut inside the inner frame is truncated, not the outer */
	CHECK_EQ_U64(dec_cut(&port, DLT_EN10MB, 14 + 20 + 8 + 8 + 14 + 10, 0, &pi),
		     DECODE_TRUNCATED);
	/* VXLAN inside VXLAN: only one level is opened */
	reset();
	eth(0x0800);
	ipv4(5, 200, 0, 17);
	udp(1, 4789, 180);
	put32(0x08000000);
	put32(0);
	eth(0x0800);
	ipv4(5, 150, 0, 17);
	udp(2, 4789, 130);
	put32(0x08000000);
	put32(0);
	eth(0x86dd);
	ipv6(0, 59);
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 150);
	CHECK_EQ_U64(pi.sport, 2);
}

static void test_geneve_inner_vs_outer(void)
{
	struct pkt_info pi;
	struct decode_opts on = mirror_opts(false, true, 0);
	/* GENEVE with 8 bytes of options, inner Ethernet, IPv4 */
	reset();
	eth(0x86dd);
	ipv6(8 + 16 + 14 + 40, 17);
	udp(1, 6081, 8 + 16 + 14 + 40);
	put8(0x02); /* version 0, 2 words of options */
	put8(0);
	put16(0x6558);
	put32(0x00000100);
	put_zero(8);
	eth(0x0800);
	ipv4(5, 40, 0, 6);
	tcp(22, 5000, 0x10);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_OK);
	check_v6(&pi, 118);
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 40);
	CHECK_EQ_U64(pi.sport, 22);
	/* protocol type IPv4 directly */
	reset();
	eth(0x0800);
	ipv4(5, 20 + 8 + 8 + 20, 0, 17);
	udp(1, 6081, 36);
	put8(0);
	put8(0);
	put16(0x0800);
	put32(0);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 20);
	CHECK_EQ_U64(pi.proto, 1);
	/* unknown version */
	fb[14 + 20 + 8] = 0x40;
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_NOT_IP);
}

/* Only UDP to a mirror target is a mirror's transport: the same VXLAN frame
 * to anyone else is the sender's own upload, counted as itself. A later
 * fragment of the transport is not counted twice. */
static void test_mirror_targets(void)
{
	struct pkt_info pi;
	struct decode_opts on = mirror_opts(true, true, 0), elsewhere = {.vxlan = true, .geneve = true};
	char err[160];
	CHECK(decode_parse_targets("192.0.2.1 ::/0", &elsewhere, err, sizeof(err)) == 0);
	CHECK_EQ_U64(elsewhere.ntargets, 2);
	build_vxlan(4789);
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v6(&pi, 60); /* to a target: the inner */
	CHECK_EQ_U64(dec_cut(&elsewhere, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	check_v4(&pi, 110); /* to 198.51.100.7, not a target (::/0 covers no IPv4) */
	CHECK_EQ_U64(pi.dport, 4789);

	/* a later fragment of UDP to a target, IPv4 and IPv6 */
	reset();
	eth(0x0800);
	ipv4(5, 20 + 64, 0x0010, 17); /* offset 128 bytes */
	put_zero(64);
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_MIRROR_FRAGMENT);
	CHECK_EQ_U64(dec_cut(&elsewhere, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	CHECK(pi.fragment);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	fb[14 + 9] = 6; /* TCP: never a mirror's */
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	reset();
	eth(0x86dd);
	ipv6(8 + 32, 44);
	put8(17);
	put8(0);
	put16(0x0100); /* offset 32 */
	put32(7);
	put_zero(32);
	CHECK_EQ_U64(dec_cut(&on, DLT_EN10MB, fl, 0, &pi), DECODE_MIRROR_FRAGMENT);
	CHECK_EQ_U64(dec_cut(&elsewhere, DLT_EN10MB, fl, 0, &pi), DECODE_MIRROR_FRAGMENT);
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, fl, 0, &pi), DECODE_OK);
	CHECK_STREQ(decode_reason_name(DECODE_MIRROR_FRAGMENT), "mirror_fragment");

	/* the list: commas or blanks, at most DECODE_MIRROR_TARGETS_MAX, each a network */
	struct decode_opts o = {0};
	CHECK(decode_parse_targets(" 10.0.0.5 ,, fd00::/64\t10.1.0.0/16 ", &o, err, sizeof(err)) == 0);
	CHECK_EQ_U64(o.ntargets, 3);
	CHECK(decode_parse_targets("10.0.0.5/8", &o, err, sizeof(err)) == -1);
	CHECK_STREQ(err, "\"10.0.0.5/8\" has bits set past its prefix length (the network is 10.0.0.0/8)");
	CHECK(decode_parse_targets("10.0.0.5, nope", &o, err, sizeof(err)) == -1);
	CHECK_STREQ(err, "\"nope\" is not an address or CIDR");
	char many[512] = "";
	for (int i = 0; i <= DECODE_MIRROR_TARGETS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "10.0.0.%d,", i);
	CHECK(decode_parse_targets(many, &o, err, sizeof(err)) == -1);
	CHECK_STREQ(err, "more than 16 mirror targets");
}

/*
 * Every cut of a frame: before src_end bytes it is truncated (or the
 * given early reason), from src_end on it is decoded with the claimed
 * length. Run under ASan, this also proves no read past caplen.
 */
static void check_all_cuts(int dlt, size_t src_end, uint64_t ip_bytes, const char *what)
{
	struct pkt_info pi;
	for (size_t cut = 0; cut <= fl; cut++) {
		enum decode_result r = dec_cut(&no_opts, dlt, cut, (uint32_t)fl, &pi);
		if (cut < src_end) {
			if (r != DECODE_TRUNCATED) {
				fprintf(stderr, "%s: cut %zu: %s, want truncated\n", what, cut,
					decode_reason_name(r));
				CHECK(r == DECODE_TRUNCATED);
			}
		} else if (r != DECODE_OK || pi.ip_bytes != ip_bytes || pi.wire_bytes != fl) {
			fprintf(stderr, "%s: cut %zu: %s, ip_bytes %llu\n", what, cut,
				decode_reason_name(r), (unsigned long long)pi.ip_bytes);
			CHECK(r == DECODE_OK && pi.ip_bytes == ip_bytes);
		}
	}
}

static void test_truncation_every_offset(void)
{
	/* Ethernet/VLAN/IPv4/TCP: src ends at 14+4+16 */
	reset();
	eth(0x8100);
	vlan(0x0800, 1);
	ipv4(6, 44, 0, 6);
	tcp(1, 2, 0x02);
	check_all_cuts(DLT_EN10MB, 34, 44, "vlan-ipv4");
	/* Ethernet/IPv6/HBH(jumbo)/TCP: src ends at 14+24 */
	static const uint8_t jumbo[] = {0xc2, 4, 0x00, 0x01, 0x38, 0x98};
	build_v6_hbh(0, jumbo, sizeof(jumbo));
	/* until the hop-by-hop header is whole, length 0 means TSO */
	struct pkt_info pi;
	for (size_t cut = 0; cut <= fl; cut++) {
		enum decode_result r = dec_cut(&no_opts, DLT_EN10MB, cut, (uint32_t)fl, &pi);
		if (cut < 38)
			CHECK_EQ_U64(r, DECODE_TRUNCATED);
		else if (cut < 14 + 40 + 8)
			CHECK(r == DECODE_OK && pi.ip_bytes == fl - 14);
		else
			CHECK(r == DECODE_OK && pi.ip_bytes == 80064);
	}
	/* MPLS/PPPoE-ish chains and the other link types */
	reset();
	eth(0x8847);
	put32(0x00010040);
	put32(0x00020140);
	ipv4(5, 40, 0, 6);
	tcp(1, 2, 0x10);
	check_all_cuts(DLT_EN10MB, 14 + 8 + 16, 40, "mpls");
	reset();
	eth(0x8100);
	vlan(0x8864, 3);
	put8(0x11);
	put8(0);
	put16(1);
	put16(41);
	put8(0x21);
	ipv4(5, 40, 0, 6);
	tcp(1, 2, 0x02);
	check_all_cuts(DLT_EN10MB, 14 + 4 + 6 + 1 + 16, 40, "pppoe");
	reset();
	put16(0x86dd);
	put16(0);
	put32(3);
	put16(1);
	put8(0);
	put8(6);
	put(mac_a, 6);
	put16(0);
	ipv6(20, 6);
	tcp(1, 2, 0x04);
	check_all_cuts(DLT_LINUX_SLL2, 20 + 24, 60, "sll2");
	reset();
	put32(0x1e000000);
	ipv6(8, 17);
	udp(1, 2, 8);
	check_all_cuts(DLT_NULL, 4 + 24, 48, "null");
	reset();
	put8(0x50);
	put(mac_a, 6);
	put(mac_b, 6);
	put8(0xaa);
	put8(0xaa);
	put8(0x03);
	put_zero(3);
	put16(0x0800);
	ipv4(5, 40, 0, 6);
	tcp(1, 2, 0x10);
	check_all_cuts(DLT_FDDI, 21 + 16, 40, "fddi");
	reset();
	put_zero(40);
	put16(0x0800);
	put16(0);
	ipv4(5, 84, 0, 1);
	check_all_cuts(DLT_IPOIB, 44 + 16, 84, "ipoib");
	reset();
	put16(0x0057);
	ipv6(0, 59);
	put_zero(10);
	for (size_t cut = 0; cut <= fl; cut++) {
		enum decode_result r = dec_cut(&no_opts, DLT_PPP, cut, (uint32_t)fl, &pi);
		CHECK(cut < 26 ? r == DECODE_TRUNCATED : r == DECODE_OK);
	}
}

static void test_truncated_between_addresses(void)
{
	struct pkt_info pi;
	build_eth_v4_tcp();
	/* source whole, destination cut: counted, destination unknown (0) */
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, 14 + 18, 74, &pi), DECODE_OK);
	ew_addr s, zero = {{0}};
	addr_from_v4(&s, v4_src);
	CHECK(addr_eq(&pi.src, &s));
	CHECK(addr_eq(&pi.dst, &zero));
	CHECK_EQ_U64(pi.ip_bytes, 40);
	CHECK_EQ_U64(pi.sport, 0);
	/* a bad IHL is caught even in a short capture */
	fb[14] = 0x43;
	CHECK_EQ_U64(dec_cut(&no_opts, DLT_EN10MB, 15, 74, &pi), DECODE_BAD_HEADER);
}

static void test_layer_budget(void)
{
	struct pkt_info pi;
	/* MPLS pseudowires nested as deep as the frame allows: the overall
	 * layer budget stops the walk. */
	reset();
	eth(0x8847);
	for (int i = 0; i < 40; i++) {
		put32(0x00010140);
		put32(0x00000000); /* control word */
		eth(0x8847);
	}
	put32(0x00010140);
	ipv4(5, 20, 0, 1);
	CHECK_EQ_U64(dec(DLT_EN10MB, &pi), DECODE_TOO_DEEP);
}

/* Decodes the first caplen bytes both ways (decode_packet, with its fast
 * path, and the walk alone) and counts a disagreement. */
static unsigned fast_vs_walk(const struct decode_opts *o, size_t caplen, uint32_t len)
{
	uint8_t *copy = malloc(caplen ? caplen : 1);
	memcpy(copy, fb, caplen);
	struct pkt_info a, b;
	memset(&a, 0xa5, sizeof(a));
	memset(&b, 0x5a, sizeof(b));
	enum decode_result ra = decode_packet(o, DLT_EN10MB, copy, (uint32_t)caplen, len, &a);
	enum decode_result rb = decode_packet_walk(o, DLT_EN10MB, copy, (uint32_t)caplen, len, &b);
	free(copy);
	if (ra != rb)
		return 1;
	return ra == DECODE_OK && !pkt_info_equal(&a, &b);
}

/* decode_packet's fast path for common Ethernet frames answers as the walk
 * does: frames it takes and frames it must leave (VLAN, IPv4 options,
 * fragments, TSO lengths, IPv6 extension headers, mirror ports), each cut
 * at every length and with every value of the bytes the fast path tests. */
static void test_fast_path_equals_walk(void)
{
	const struct decode_opts mirrors = mirror_opts(true, true, 0);
	/* Offsets of the tested bytes, from the IP header: IPv4 version/IHL,
	 * total length, fragment field, protocol; IPv6 version, payload
	 * length, next header. */
	static const unsigned v4_bytes[] = {0, 2, 3, 6, 7, 9}, v6_bytes[] = {0, 4, 5, 6};
	unsigned frames = 0, bad = 0, fast = 0;
	for (unsigned kind = 0; kind < 10; kind++) {
		bool tag = kind & 1, v6 = kind >= 6;
		reset();
		eth(tag ? 0x8100 : (v6 ? 0x86dd : 0x0800));
		if (tag)
			vlan(v6 ? 0x86dd : 0x0800, 7);
		size_t ip = fl;
		switch (kind / 2) {
		case 0: ipv4(5, 40, 0x4000, 6), tcp(40000, 443, 0x18); break;
		case 1: ipv4(7, 36, 0, 17), udp(5353, 4789, 8), put_zero(16); break;
		case 2: ipv4(5, 0, 0x2000, 17), udp(1, 6081, 8), put_zero(16); break;
		case 3: ipv6(20, 6), tcp(40000, 443, 0x10); break;
		default: ipv6(8, 17), udp(53, 4789, 8), put_zero(16); break;
		}
		const unsigned *at = v6 ? v6_bytes : v4_bytes;
		size_t nat = v6 ? 4 : 6;
		uint8_t saved[256];
		memcpy(saved, fb, fl);
		for (size_t k = 0; k <= nat; k++) {
			for (unsigned v = 0; v < (k < nat ? 256u : 1u); v++) {
				memcpy(fb, saved, fl);
				if (k < nat)
					fb[ip + at[k]] = (uint8_t)v;
				for (size_t cut = 0; cut <= fl; cut++) {
					for (int o = 0; o < 2; o++) {
						const struct decode_opts *opts = o ? &mirrors : &no_opts;
						bad += fast_vs_walk(opts, cut, (uint32_t)fl + 100);
						frames++;
					}
				}
			}
		}
		/* Every unmutated frame, whole, decodes (by the fast path or, for
		 * the TSO kinds 4 and 5, the walk), so the comparisons above
		 * cover decoded packets and not only rejections. */
		memcpy(fb, saved, fl);
		struct pkt_info pi;
		if (dec_cut(&no_opts, DLT_EN10MB, fl, 0, &pi) == DECODE_OK)
			fast++;
	}
	CHECK_EQ_U64(bad, 0);
	CHECK(frames > 100000);
	CHECK_EQ_U64(fast, 10);
}

TEST_MAIN(test_fast_path_equals_walk, test_ether_ipv4_tcp, test_ether_ipv6_udp, test_ether_not_ip, test_ether_llc_snap,
	  test_vlan_stacks, test_vlan_depth_bound, test_vntag_and_pbb, test_mpls,
	  test_mpls_pseudowire, test_pppoe, test_sll_sll2, test_raw_ip, test_null_loop,
	  test_ppp_variants, test_chdlc, test_fddi, test_nflog, test_ipoib,
	  test_unsupported_link, test_reason_names, test_ipv4_options_and_fragments,
	  test_ipv4_bad_lengths, test_tso_zero_length, test_ipv6_jumbogram,
	  test_ipv6_ext_headers, test_ipv6_ext_bound, test_vxlan_inner_vs_outer,
	  test_geneve_inner_vs_outer, test_mirror_targets, test_truncation_every_offset,
	  test_truncated_between_addresses, test_layer_budget)
