/*
 * fuzz_decode: libFuzzer target for decode_packet().
 *
 * Input layout: byte 0 picks the link type from the supported list below
 * (modulo its size), byte 1 holds option bits (0x01 VXLAN, 0x02 GENEVE) and
 * an extra on-wire length (byte1 >> 2, times 64) so the TSO length path sees
 * captures cut by a snaplen; the rest is the frame. The frame is decoded
 * from an exact-size heap copy so ASan sees any read past caplen.
 *
 * Besides "no crash", it checks the invariants callers rely on: a decoded
 * packet is IPv4 or IPv6, a non-first fragment has no ports, ip_bytes is
 * never 0, and the result is a valid reason; and that decode_packet, with
 * its fast path for common Ethernet frames, answers exactly as the general
 * walk alone (decode_packet_walk) does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/dlt.h>

#include "decode.h"
#include "fuzz.h"
#include "banned.h"

static const int fuzz_dlts[] = {
	DLT_EN10MB, DLT_RAW,     DLT_LINUX_SLL,  DLT_LINUX_SLL2, DLT_NULL,
	DLT_LOOP,   DLT_PPP,     DLT_PPP_SERIAL, DLT_PPP_ETHER,  DLT_C_HDLC,
	DLT_FDDI,   DLT_NFLOG,   DLT_IPOIB,      DLT_IPV4,       DLT_IPV6,
	DLT_ATM_RFC1483, DLT_PPP_WITH_DIR, DLT_C_HDLC_WITH_DIR,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > (1u << 20))
		return 0;
	int dlt = fuzz_dlts[data[0] % (sizeof(fuzz_dlts) / sizeof(fuzz_dlts[0]))];
	/* Every address a mirror target, so every UDP frame to the ports is opened. */
	static struct decode_opts opts;
	if (!opts.ntargets) {
		char err[128];
		if (decode_parse_targets("0.0.0.0/0, ::/0", &opts, err, sizeof(err)))
			abort();
	}
	opts.vxlan = data[1] & 0x01;
	opts.geneve = data[1] & 0x02;
	uint32_t caplen = (uint32_t)(size - 2);
	uint32_t len = caplen + (uint32_t)(data[1] >> 2) * 64;
	uint8_t *frame = malloc(caplen ? caplen : 1);
	if (!frame)
		return 0;
	memcpy(frame, data + 2, caplen);

	struct pkt_info pi;
	enum decode_result r = decode_packet(&opts, dlt, frame, caplen, len, &pi);
	if ((unsigned)r >= DECODE_NREASONS)
		abort();
	if (r == DECODE_OK) {
		if (pi.ip_version != 4 && pi.ip_version != 6)
			abort();
		if (pi.fragment && (pi.sport || pi.dport))
			abort();
		if (pi.ip_bytes == 0 || pi.wire_bytes != len)
			abort();
	}
	struct pkt_info pw;
	if (decode_packet_walk(&opts, dlt, frame, caplen, len, &pw) != r ||
	    (r == DECODE_OK && !pkt_info_equal(&pi, &pw)))
		abort();
	if (!decode_link_supported(dlt) || !decode_reason_name(r))
		abort();
	free(frame);
	return 0;
}
