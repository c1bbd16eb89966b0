/*
 * fuzz_savefile: libFuzzer target for the sensor's own pcap reader.
 *
 * Input layout: byte 0 picks how many records a savefile_dispatch call may
 * hand over (1, 2, 7, 64 or all: byte 0 % 5) and whether both readers
 * filter with "tcp or udp" (byte 0 / 5 odd); the rest is a capture file. The file is
 * read by libpcap and by savefile (savefile_diff.h), and any difference in
 * a record, in the number of records or in the error that ends them aborts:
 * the reader must be libpcap's, record for record, on any bytes at all.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "savefile_diff.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int steps[] = {1, 2, 7, 64, -1};
	if (size < 1 || size > (1u << 20))
		return 0;
	int fd = memfd_create("fuzz_savefile", 0);
	if (fd < 0)
		abort();
	size_t off = 1;
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	char path[64], why[512];
	unsigned long records;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	enum sfd_result r =
	    savefile_diff(path, steps[data[0] % 5], data[0] / 5 % 2 ? "tcp or udp" : NULL, &records,
			  why, sizeof(why));
	close(fd);
	if (r == SFD_DIFFERENT) {
		fprintf(stderr, "fuzz_savefile: %s\n", why);
		abort();
	}
	return 0;
}
