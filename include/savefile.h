/*
 * savefile: the sensor's own reader of classic pcap files.
 *
 * libpcap reads a savefile with two fread calls a record and copies each
 * packet into its buffer: some 390 instructions a packet before the
 * callback runs, as much as the sensor's whole packet path. This reader
 * takes the file in large pread blocks and hands the callback a pointer
 * into its block: no per-record call, no copy. Not mmap: a file cut short
 * while it is read must end as a truncated file, not with SIGBUS (and
 * mapping 6 GB read slower here than pread did).
 *
 * It is libpcap's sf-pcap reader, record for record and error for error:
 * libpcap still opens the file and checks its header (magic, version, link
 * type, snapshot length); this module takes over only where the records are
 * plain, and delivers what pcap_dispatch would (the same struct pcap_pkthdr
 * and bytes, caplen cut to the snapshot length, the same error text for a
 * truncated or oversized record), so the sensor cannot tell them apart.
 * tests/unit/test_savefile.c and fuzz_savefile compare the two record by
 * record. One difference remains: on a read error (EIO) the records handed
 * over before it may be more or fewer than libpcap's, whose stdio reads
 * ahead by other amounts; both end with the same error.
 *
 * The files it does not take stay with libpcap: pcapng, pcap versions
 * other than 2.4, the Kuznetzov format, link types whose pseudo-headers
 * libpcap rewrites, and anything that is not a regular file (a pipe,
 * standard input).
 */
#ifndef EW_SAVEFILE_H
#define EW_SAVEFILE_H

#include <pcap/pcap.h>
#include <stdint.h>

/* libpcap's MAXIMUM_SNAPLEN: no record of a link type read here is longer. */
#define SAVEFILE_MAX_CAPLEN 262144u

struct savefile;

/*
 * A reader for the records of the file libpcap has open in p (opened from a
 * path with nanosecond timestamps; p must outlive the reader, which reads
 * its descriptor), or NULL when libpcap must read them itself (see above)
 * or memory runs out. Reads start after the file header, whatever libpcap
 * has read ahead.
 */
struct savefile *savefile_open(pcap_t *p);

/*
 * As pcap_dispatch: calls cb for up to cnt records (cnt <= 0: all) and
 * returns how many, 0 at the end of the file, or PCAP_ERROR with the reason
 * in savefile_error (records before it delivered). The bytes cb sees are in
 * the reader's block, valid until cb returns, and need not be aligned.
 */
int savefile_dispatch(struct savefile *f, int cnt, pcap_handler cb, u_char *user);

/*
 * Hands over only the records prog accepts, as pcap_setfilter makes
 * pcap_dispatch do (cnt counts the records handed over). prog is the
 * caller's and must outlive the reader; NULL: every record.
 */
void savefile_set_filter(struct savefile *f, const struct bpf_program *prog);

const char *savefile_error(const struct savefile *f);

/* Bytes of the file consumed so far (header included): for progress. */
uint64_t savefile_offset(const struct savefile *f);

void savefile_free(struct savefile *f);

#endif
