/*
 * capture: opening libpcap handles the way the sensor needs them.
 *
 * Offline files open with nanosecond timestamps (pcap and pcapng). Live
 * interfaces open with the configured snaplen, kernel buffer and BPF filter,
 * non-blocking for the event loop; the filter excludes the sensor's own
 * Redis traffic unless told not to, so reporting never counts itself.
 */
#ifndef EW_CAPTURE_H
#define EW_CAPTURE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redis_addr.h"

/* Opens a capture file; NULL with libpcap's reason in err. */
pcap_t *capture_open_file(const char *path, char *err, size_t errlen);

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
