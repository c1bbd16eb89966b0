/*
 * capture: opening libpcap handles the way the sensor needs them.
 *
 * Offline files open with nanosecond timestamps (pcap and pcapng), read
 * through a caller's buffer of CAPTURE_FILE_BUF bytes. Live interfaces open
 * with the configured snaplen, kernel buffer and BPF filter, non-blocking
 * for the event loop; the filter excludes the sensor's own Redis traffic
 * unless told not to, so reporting never counts itself.
 */
#ifndef EW_CAPTURE_H
#define EW_CAPTURE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redis_addr.h"

/*
 * The stdio buffer a capture file is read through. libpcap reads a savefile
 * with two freads a packet from a FILE with stdio's default buffer (4 KiB
 * here): a read(2) every 28 header-only or 3 full-size packets. 64 KiB
 * cuts the calls 16-fold and made a bare loop 1.4-2x as fast; 256 KiB and
 * 1 MiB made it slower than 64 KiB (README, Performance).
 */
#define CAPTURE_FILE_BUF (64 * 1024)

/*
 * Opens a capture file ("-": standard input) read through buf, which must
 * hold CAPTURE_FILE_BUF bytes and outlive the handle (pcap_close closes the
 * FILE but cannot free the buffer). NULL with the reason in err.
 */
pcap_t *capture_open_file(const char *path, char *buf, char *err, size_t errlen);

struct capture_live_opts {
	const char *iface;
	uint32_t snaplen;
	uint64_t buffer_size;
	const char *filter;             /* may be empty */
	const struct redis_addr *exclude; /* TCP Redis to keep out, or NULL */
	bool promisc;
};

/* Opens and activates a live capture, non-blocking. NULL with err. */
pcap_t *capture_open_live(const struct capture_live_opts *o, char *err, size_t errlen);

/*
 * Writes the effective BPF expression into buf: the user's filter ANDed with
 * "not (host H and tcp port P)" for a TCP Redis. Returns 0, or -1 if it does
 * not fit.
 */
int capture_filter_expr(const char *user, const struct redis_addr *exclude, char *buf, size_t n);

#endif
