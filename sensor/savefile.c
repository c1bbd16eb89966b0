/*
 * savefile: classic pcap records in pread blocks (see savefile.h).
 *
 * The error texts are libpcap 1.10's (sf-pcap.c), word for word: a summary
 * names the same reason whichever reader read the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "savefile.h"
#include "banned.h"

#define MAGIC_USEC 0xa1b2c3d4u
#define MAGIC_NSEC 0xa1b23c4du
#define FILE_HDR 24
#define REC_HDR 16

/* A pread asks for this much: the block stays in the L2 cache while its
 * records are decoded (64 KiB read fastest for stdio too; capture.h). */
#define CHUNK (64 * 1024)
/* Room for the bytes left from the last block and a chunk, and for one
 * whole record of the largest size however it straddles the blocks. */
#define BUF_SIZE (REC_HDR + SAVEFILE_MAX_CAPLEN + CHUNK)

struct savefile {
	int fd;
	bool swapped;
	bool scale_up; /* a microsecond file: libpcap scales to ns */
	bool eof;
	uint32_t snapshot;
	const struct bpf_program *filter; /* or NULL */
	uint64_t file_pos;		  /* file offset of buf[len] */
	size_t at, len;			  /* unread bytes: buf[at, len) */
	char err[PCAP_ERRBUF_SIZE];
	unsigned char *buf;
};

static uint32_t get32(const unsigned char *p, bool swapped)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return swapped ? __builtin_bswap32(v) : v;
}

/* The link types libpcap rewrites after reading (pcap_post_process, for a
 * byte-swapped file or always), or allows records past 256 KiB. */
static bool libpcap_only_link(int dlt, bool swapped)
{
	switch (dlt) {
	case DLT_USB_LINUX_MMAPPED:
	case DLT_DBUS:
	case DLT_EBHSCR:
	case DLT_USBPCAP:
		return true;
	case DLT_PFLOG:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_USB_LINUX:
	case DLT_NFLOG:
		return swapped;
	default:
		return false;
	}
}

struct savefile *savefile_open(pcap_t *p)
{
	FILE *fp = pcap_file(p);
	struct stat st;
	unsigned char h[FILE_HDR];
	if (!fp || pcap_get_tstamp_precision(p) != PCAP_TSTAMP_PRECISION_NANO)
		return NULL;
	int fd = fileno(fp);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h))
		return NULL;
	bool swapped = pcap_is_swapped(p) == 1;
	uint32_t magic = get32(h, swapped);
	uint16_t major, minor;
	memcpy(&major, h + 4, 2);
	memcpy(&minor, h + 6, 2);
	if (swapped) {
		major = __builtin_bswap16(major);
		minor = __builtin_bswap16(minor);
	}
	/* Only version 2.4 records hold caplen and len in their order. */
	if ((magic != MAGIC_USEC && magic != MAGIC_NSEC) || major != 2 || minor != 4 ||
	    pcap_major_version(p) != 2 || pcap_minor_version(p) != 4 || pcap_snapshot(p) <= 0 ||
	    libpcap_only_link(pcap_datalink(p), swapped))
		return NULL;
	struct savefile *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->buf = malloc(BUF_SIZE);
	if (!f->buf) {
		free(f);
		return NULL;
	}
	f->fd = fd;
	f->swapped = swapped;
	f->scale_up = magic == MAGIC_USEC;
	f->snapshot = (uint32_t)pcap_snapshot(p);
	f->file_pos = FILE_HDR;
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return f;
}

void savefile_free(struct savefile *f)
{
	if (!f)
		return;
	free(f->buf);
	free(f);
}

void savefile_set_filter(struct savefile *f, const struct bpf_program *prog)
{
	f->filter = prog;
}

const char *savefile_error(const struct savefile *f)
{
	return f->err;
}

uint64_t savefile_offset(const struct savefile *f)
{
	return f->file_pos - (f->len - f->at);
}

/* Reads until need unread bytes are held or the file ends. 0, or -1 with
 * libpcap's text for a read error. */
static int fill(struct savefile *f, size_t need)
{
	size_t have = f->len - f->at;
	memmove(f->buf, f->buf + f->at, have);
	f->at = 0;
	f->len = have;
	while (f->len < need && !f->eof) {
		size_t want = need - f->len > CHUNK ? need - f->len : CHUNK;
		if (want > BUF_SIZE - f->len)
			want = BUF_SIZE - f->len;
		ssize_t n = pread(f->fd, f->buf + f->len, want, (off_t)f->file_pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(f->err, sizeof(f->err), "error reading dump file: %s",
				 strerror(errno));
			return -1;
		}
		if (n == 0)
			f->eof = true;
		f->len += (size_t)n;
		f->file_pos += (uint64_t)n;
	}
	return 0;
}

/* The checks and messages of sf-pcap.c's pcap_next_packet, in its order,
 * for a record whose header is held; 0 when its bytes are held too. */
static int check_record(struct savefile *f, uint32_t caplen)
{
	if (caplen > SAVEFILE_MAX_CAPLEN) {
		if (caplen > f->snapshot)
			snprintf(f->err, sizeof(f->err),
				 "invalid packet capture length %u, bigger than snaplen of %d",
				 caplen, (int)f->snapshot);
		else
			snprintf(f->err, sizeof(f->err),
				 "invalid packet capture length %u, bigger than maximum of %u",
				 caplen, SAVEFILE_MAX_CAPLEN);
		return -1;
	}
	if (f->len - f->at < REC_HDR + (size_t)caplen && fill(f, REC_HDR + (size_t)caplen))
		return -1;
	size_t got = f->len - f->at - REC_HDR;
	if (got >= caplen)
		return 0;
	if (caplen > f->snapshot && got < f->snapshot)
		snprintf(f->err, sizeof(f->err),
			 "truncated dump file; tried to read %d captured bytes, only got %zu",
			 (int)f->snapshot, got);
	else
		snprintf(f->err, sizeof(f->err),
			 "truncated dump file; tried to read %u captured bytes, only got %zu",
			 caplen, got);
	return -1;
}

int savefile_dispatch(struct savefile *f, int cnt, pcap_handler cb, u_char *user)
{
	int n = 0;
	if (cnt <= 0)
		cnt = INT_MAX;
	while (n < cnt) {
		if (f->len - f->at < REC_HDR && fill(f, REC_HDR))
			return PCAP_ERROR;
		size_t have = f->len - f->at;
		if (have < REC_HDR) {
			if (have == 0)
				break;
			snprintf(f->err, sizeof(f->err),
				 "truncated dump file; tried to read %d header bytes, only got %zu",
				 REC_HDR, have);
			return PCAP_ERROR;
		}
		const unsigned char *r = f->buf + f->at;
		struct pcap_pkthdr h;
		/* As libpcap: signed 32-bit fields (pcap_timeval), which its
		 * SWAPLONG turns unsigned in a byte-swapped file. */
		uint32_t sec = get32(r, f->swapped), frac = get32(r + 4, f->swapped);
		h.ts.tv_sec = f->swapped ? (time_t)sec : (time_t)(int32_t)sec;
		h.ts.tv_usec = f->swapped ? (suseconds_t)frac : (suseconds_t)(int32_t)frac;
		h.caplen = get32(r + 8, f->swapped);
		h.len = get32(r + 12, f->swapped);
		if (f->scale_up)
			h.ts.tv_usec *= 1000;
		if (have < REC_HDR + (size_t)h.caplen || h.caplen > SAVEFILE_MAX_CAPLEN) {
			if (check_record(f, h.caplen))
				return PCAP_ERROR;
		}
		const unsigned char *data = f->buf + f->at + REC_HDR;
		f->at += REC_HDR + (size_t)h.caplen;
		if (h.caplen > f->snapshot)
			h.caplen = f->snapshot;
		if (f->filter && !pcap_offline_filter(f->filter, &h, data))
			continue;
		cb(user, &h, data);
		n++;
	}
	return n;
}
