/*
 * spool: append-only, checksummed segment files holding the reports that
 * Redis has not acknowledged yet (see spool.h).
 *
 * Segment file: an 8-byte magic "EWSPOOL1", then records:
 *
 *   u32 magic "EWSR" | u32 flags | u64 key | u32 len |
 *   u32 crc32(key, len, payload) | payload[len]          (little-endian)
 *
 * flags is 0 for a live record and crc ^ DONE_XOR for a done one: popping
 * stays one small in-place write, yet a flags word edited to anything else
 * (a stray 1 included) is not taken for "done"; such a record is counted
 * and kept live (sent again at worst, which the collector dedupes). A
 * record is only ever appended at the end of the last segment, so a crash
 * can tear only the last record of a segment; open() checks every record:
 * one whose checksum fails but whose header is sane is marked done in
 * place and counted lost (the records after it are intact and kept); past a
 * header it cannot walk (bad magic, absurd length) the next intact record
 * is searched for and the gap turned into one done record; with none (a
 * torn tail) the segment is cut there. Live records are always a
 * suffix of the spool (pop and drop take the front), so the front is found
 * by skipping done records from the head segment.
 *
 * All file access goes through a descriptor of the directory opened at
 * spool_open (openat, unlinkat, ...), so the spool keeps working after a
 * chroot; an exclusive flock on DIR/lock keeps a second process off it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "spool.h"
#include "banned.h"

#define SEG_MAGIC "EWSPOOL1"
#define SEG_HDR 8u
#define REC_MAGIC 0x52535745u   /* "EWSR" little-endian */
#define DONE_XOR 0x454e4f44u /* "DONE": flags of a done record = crc ^ DONE_XOR */
/* Segment ids past this are not ours (a sensor appends far fewer segments):
 * taking one would bring next_id near the wrap and reorder delivery. */
#define SEG_ID_MAX (1ull << 62)
#define SEG_MIN (64u << 10)
#define SEG_MAX (64u << 20)

struct seg {
	uint64_t id;
	uint64_t size;          /* bytes in the file that hold whole records (and the header) */
};

struct rec_hdr {
	uint32_t magic, flags;
	uint64_t key;
	uint32_t len, crc;
};

struct spool {
	char *dir;              /* for messages */
	int dirfd, lockfd;
	uint64_t max_bytes, seg_max;
	bool sync;
	struct seg *segs;       /* oldest first */
	size_t nsegs, capsegs;
	uint64_t head_off;      /* in segs[0]: no live record before it */
	int tail_fd;            /* segs[nsegs-1] open for appends, or -1 */
	uint64_t tail_fd_id;
	uint64_t next_id;
	uint64_t max_key;
	unsigned char *buf;     /* the front record's payload, borrowed out */
	size_t bufcap;
	struct spool_stats st;
};

static uint32_t crc_table[256];

static void crc_init(void)
{
	if (crc_table[1])
		return;
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc_update(uint32_t crc, const void *p, size_t n)
{
	const unsigned char *b = p;
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint32_t rec_crc(uint64_t key, uint32_t len, const void *data)
{
	unsigned char kl[12];
	put64(kl, key);
	put32(kl + 8, len);
	return crc_update(crc_update(0, kl, sizeof(kl)), data, len);
}

static void encode_hdr(unsigned char *p, const struct rec_hdr *h)
{
	put32(p, h->magic);
	put32(p + 4, h->flags);
	put64(p + 8, h->key);
	put32(p + 16, h->len);
	put32(p + 20, h->crc);
}

static void decode_hdr(const unsigned char *p, struct rec_hdr *h)
{
	h->magic = get32(p);
	h->flags = get32(p + 4);
	h->key = get64(p + 8);
	h->len = get32(p + 16);
	h->crc = get32(p + 20);
}

static void seg_path(const struct spool *sp, uint64_t id, char *buf, size_t n)
{
	(void)sp;
	snprintf(buf, n, "seg-%016" PRIx64, id);
}

static int seg_open(const struct spool *sp, uint64_t id, int flags)
{
	char name[32];
	seg_path(sp, id, name, sizeof(name));
	return openat(sp->dirfd, name, flags | O_CLOEXEC, 0600);
}

static bool rec_done(const struct rec_hdr *h)
{
	return h->flags == (h->crc ^ DONE_XOR);
}

/* Writes the done mark of the record at off (header h) in place. */
static int mark_done(int fd, const struct rec_hdr *h, uint64_t off)
{
	unsigned char fl[4];
	put32(fl, h->crc ^ DONE_XOR);
	return pwrite(fd, fl, sizeof(fl), (off_t)(off + 4)) == (ssize_t)sizeof(fl) ? 0 : -1;
}

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	unsigned char *p = buf;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int grow_buf(struct spool *sp, size_t n)
{
	if (n <= sp->bufcap)
		return 0;
	size_t cap = sp->bufcap ? sp->bufcap : 4096;
	while (cap < n)
		cap *= 2;
	unsigned char *nb = realloc(sp->buf, cap);
	if (!nb)
		return -1;
	sp->buf = nb;
	sp->bufcap = cap;
	return 0;
}

static void sync_dir(const struct spool *sp)
{
	if (sp->sync)
		fsync(sp->dirfd);
}

static void close_tail(struct spool *sp)
{
	if (sp->tail_fd >= 0)
		close(sp->tail_fd);
	sp->tail_fd = -1;
}

static void remove_seg(struct spool *sp, size_t i)
{
	char name[32];
	if (sp->tail_fd >= 0 && sp->tail_fd_id == sp->segs[i].id)
		close_tail(sp);
	seg_path(sp, sp->segs[i].id, name, sizeof(name));
	unlinkat(sp->dirfd, name, 0);
	memmove(&sp->segs[i], &sp->segs[i + 1], (sp->nsegs - i - 1) * sizeof(sp->segs[0]));
	sp->nsegs--;
	if (i == 0)
		sp->head_off = SEG_HDR;
	sp->st.segments = sp->nsegs;
}

/* With no live record left, no segment file is worth keeping. */
static void clear_if_empty(struct spool *sp)
{
	if (sp->st.records)
		return;
	while (sp->nsegs)
		remove_seg(sp, sp->nsegs - 1);
	sp->head_off = SEG_HDR;
}

/* Positions head_off on the oldest live record and reads its header.
 * Returns 0, 1 when empty, -1 on a read error. */
static int locate_front(struct spool *sp, struct rec_hdr *h)
{
	while (sp->st.records && sp->nsegs) {
		if (sp->head_off >= sp->segs[0].size) {
			remove_seg(sp, 0);
			continue;
		}
		int fd = seg_open(sp, sp->segs[0].id, O_RDONLY);
		unsigned char hb[SPOOL_RECORD_OVERHEAD];
		int rc = fd < 0 ? -1 : pread_full(fd, hb, sizeof(hb), sp->head_off);
		if (fd >= 0)
			close(fd);
		if (rc < 0)
			return -1;
		decode_hdr(hb, h);
		if (h->magic != REC_MAGIC)
			return -1;
		if (rec_done(h)) {
			sp->head_off += SPOOL_RECORD_OVERHEAD + (uint64_t)h->len;
			continue;
		}
		return 0;
	}
	return 1;
}

/* Marks the front record (located, header h) done and steps past it. */
static void consume_front(struct spool *sp, const struct rec_hdr *h)
{
	int fd = seg_open(sp, sp->segs[0].id, O_WRONLY);
	/* A lost mark (power cut) only makes a report be sent again, which the
	 * collector dedupes; so no fsync here. */
	if (fd < 0 || mark_done(fd, h, sp->head_off) < 0)
		sp->st.io_errors++;
	if (fd >= 0)
		close(fd);
	uint64_t rs = SPOOL_RECORD_OVERHEAD + (uint64_t)h->len;
	sp->head_off += rs;
	sp->st.records--;
	sp->st.bytes -= rs;
	clear_if_empty(sp);
	if (sp->nsegs > 1 && sp->head_off >= sp->segs[0].size)
		remove_seg(sp, 0);
}

/* Recounts the live records of every segment after the head one was lost,
 * cutting a segment at a record it can't walk past. */
static void recount(struct spool *sp)
{
	sp->st.records = sp->st.bytes = 0;
	for (size_t i = 0; i < sp->nsegs; i++) {
		int fd = seg_open(sp, sp->segs[i].id, O_RDONLY);
		uint64_t off = i == 0 ? sp->head_off : SEG_HDR;
		while (fd >= 0 && off + SPOOL_RECORD_OVERHEAD <= sp->segs[i].size) {
			unsigned char hb[SPOOL_RECORD_OVERHEAD];
			struct rec_hdr h;
			if (pread_full(fd, hb, sizeof(hb), off) < 0)
				break;
			decode_hdr(hb, &h);
			uint64_t rs = SPOOL_RECORD_OVERHEAD + (uint64_t)h.len;
			if (h.magic != REC_MAGIC || off + rs > sp->segs[i].size)
				break;
			if (!rec_done(&h)) {
				sp->st.records++;
				sp->st.bytes += rs;
			}
			off += rs;
		}
		if (fd >= 0)
			close(fd);
		sp->segs[i].size = off;
	}
}

/* The front record cannot be read: give up the rest of its segment (the
 * records after a bad one can't be located reliably), counted as dropped. */
static void drop_unreadable_head(struct spool *sp)
{
	sp->st.io_errors++;
	uint64_t before = sp->st.records;
	if (sp->nsegs)
		remove_seg(sp, 0);
	recount(sp);
	if (before > sp->st.records)
		sp->st.dropped += before - sp->st.records;
	clear_if_empty(sp);
}

int spool_front(struct spool *sp, uint64_t *key, const void **data, size_t *len)
{
	struct rec_hdr h;
	int rc = locate_front(sp, &h);
	if (rc == 1)
		return 1;
	if (rc == 0 && h.len <= SPOOL_RECORD_MAX &&
	    sp->head_off + SPOOL_RECORD_OVERHEAD + h.len <= sp->segs[0].size &&
	    grow_buf(sp, h.len ? h.len : 1) == 0) {
		int fd = seg_open(sp, sp->segs[0].id, O_RDONLY);
		rc = fd < 0 ? -1
			    : pread_full(fd, sp->buf, h.len, sp->head_off + SPOOL_RECORD_OVERHEAD);
		if (fd >= 0)
			close(fd);
		if (rc == 0 && rec_crc(h.key, h.len, sp->buf) == h.crc) {
			*key = h.key;
			*data = sp->buf;
			*len = h.len;
			return 0;
		}
		if (rc == 0) {
			/* Only this record went bad: the ones after it are still
			 * where their lengths say. Drop it alone, counted. */
			sp->st.io_errors++;
			sp->st.dropped++;
			consume_front(sp, &h);
			return -1;
		}
	}
	drop_unreadable_head(sp);
	return -1;
}

int spool_pop(struct spool *sp)
{
	struct rec_hdr h;
	int rc = locate_front(sp, &h);
	if (rc == 1)
		return -1;
	if (rc < 0) {
		drop_unreadable_head(sp);
		return 0;
	}
	consume_front(sp, &h);
	sp->st.popped++;
	return 0;
}

static int open_tail(struct spool *sp)
{
	struct seg *t = &sp->segs[sp->nsegs - 1];
	if (sp->tail_fd >= 0 && sp->tail_fd_id == t->id)
		return 0;
	close_tail(sp);
	sp->tail_fd = seg_open(sp, t->id, O_WRONLY);
	sp->tail_fd_id = t->id;
	return sp->tail_fd < 0 ? -1 : 0;
}

static int push_seg(struct spool *sp, uint64_t id, uint64_t size)
{
	if (sp->nsegs == sp->capsegs) {
		size_t cap = sp->capsegs ? sp->capsegs * 2 : 8;
		struct seg *ns = realloc(sp->segs, cap * sizeof(*ns));
		if (!ns)
			return -1;
		sp->segs = ns;
		sp->capsegs = cap;
	}
	sp->segs[sp->nsegs].id = id;
	sp->segs[sp->nsegs].size = size;
	sp->nsegs++;
	sp->st.segments = sp->nsegs;
	return 0;
}

static int new_seg(struct spool *sp)
{
	char name[32];
	if (sp->next_id > SEG_ID_MAX)
		return -1;
	uint64_t id = sp->next_id++;
	seg_path(sp, id, name, sizeof(name));
	int fd = openat(sp->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, SEG_MAGIC, SEG_HDR) != (ssize_t)SEG_HDR || push_seg(sp, id, SEG_HDR) < 0) {
		close(fd);
		unlinkat(sp->dirfd, name, 0);
		return -1;
	}
	close_tail(sp);
	sp->tail_fd = fd;
	sp->tail_fd_id = id;
	if (sp->sync)
		fdatasync(fd);
	sync_dir(sp);
	return 0;
}

int spool_append(struct spool *sp, uint64_t key, const void *data, size_t len)
{
	uint64_t rs = SPOOL_RECORD_OVERHEAD + (uint64_t)len;
	if (len > SPOOL_RECORD_MAX || rs > sp->max_bytes) {
		sp->st.dropped++;
		return -1;
	}
	while (sp->st.records && sp->st.bytes + rs > sp->max_bytes) {
		struct rec_hdr h;
		int rc = locate_front(sp, &h);
		if (rc == 1)
			break;
		if (rc < 0) {
			drop_unreadable_head(sp);
			continue;
		}
		consume_front(sp, &h);
		sp->st.dropped++;
	}
	if (sp->nsegs == 0 || (sp->segs[sp->nsegs - 1].size + rs > sp->seg_max &&
			       sp->segs[sp->nsegs - 1].size > SEG_HDR)) {
		if (new_seg(sp) < 0) {
			sp->st.io_errors++;
			return -1;
		}
	}
	if (open_tail(sp) < 0) {
		sp->st.io_errors++;
		return -1;
	}
	struct seg *t = &sp->segs[sp->nsegs - 1];
	unsigned char hb[SPOOL_RECORD_OVERHEAD];
	struct rec_hdr h = {REC_MAGIC, 0, key, (uint32_t)len, rec_crc(key, (uint32_t)len, data)};
	encode_hdr(hb, &h);
	struct iovec iov[2] = {{hb, sizeof(hb)}, {(void *)(uintptr_t)data, len}};
	ssize_t w = pwritev(sp->tail_fd, iov, 2, (off_t)t->size);
	if (w != (ssize_t)rs || (sp->sync && fdatasync(sp->tail_fd) < 0)) {
		/* Leave no half record behind for the next append to follow. */
		if (ftruncate(sp->tail_fd, (off_t)t->size) < 0)
			close_tail(sp);
		sp->st.io_errors++;
		return -1;
	}
	t->size += rs;
	sp->st.records++;
	sp->st.bytes += rs;
	sp->st.appended++;
	if (key > sp->max_key)
		sp->max_key = key;
	return 0;
}

/*
 * A header at off that can't be walked past (bad magic, absurd length): the
 * next intact record after it (magic, sane length, checksum), if any. The
 * gap becomes one done record (a filler header written at off), so every
 * walk skips it and the records after it are kept. Returns the next
 * record's offset, or 0 when there is none (a torn tail: cut it).
 */
static uint64_t resync(struct spool *sp, int fd, uint64_t off, uint64_t fsize)
{
	uint64_t rem = fsize - off;
	if (rem < 2 * SPOOL_RECORD_OVERHEAD || rem > (uint64_t)SEG_MAX + SPOOL_RECORD_MAX)
		return 0;
	unsigned char *b = malloc(rem);
	if (!b || pread_full(fd, b, rem, off) < 0) {
		free(b);
		return 0;
	}
	uint64_t found = 0;
	for (uint64_t p = SPOOL_RECORD_OVERHEAD; p + SPOOL_RECORD_OVERHEAD <= rem; p++) {
		if (get32(b + p) != REC_MAGIC)
			continue;
		struct rec_hdr h;
		decode_hdr(b + p, &h);
		if (h.len > SPOOL_RECORD_MAX || rem - p - SPOOL_RECORD_OVERHEAD < h.len ||
		    rec_crc(h.key, h.len, b + p + SPOOL_RECORD_OVERHEAD) != h.crc)
			continue;
		found = p;
		break;
	}
	free(b);
	if (!found || found - SPOOL_RECORD_OVERHEAD > SPOOL_RECORD_MAX)
		return 0;
	struct rec_hdr filler = {REC_MAGIC, DONE_XOR, 0,
				 (uint32_t)(found - SPOOL_RECORD_OVERHEAD), 0};
	unsigned char hb[SPOOL_RECORD_OVERHEAD];
	encode_hdr(hb, &filler);
	if (pwrite(fd, hb, sizeof(hb), (off_t)off) != (ssize_t)sizeof(hb)) {
		sp->st.io_errors++;
		return 0;
	}
	return off + found;
}

/* Checks every record of one segment: a record whose checksum fails but
 * whose header can be walked past is marked done, counted lost; past a
 * header it can't walk, the segment resumes at the next intact record (the
 * gap counted as one lost record) or, with none, is cut there. Returns the number of live records,
 * -1 to drop the file (no header: created, never written), -2 to leave it
 * alone (cannot be opened read-write, or no segment header). */
static long load_seg(struct spool *sp, uint64_t id, uint64_t *size)
{
	int fd = seg_open(sp, id, O_RDWR);
	if (fd < 0)
		return -2;
	struct stat st;
	char magic[SEG_HDR];
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < SEG_HDR) {
		/* Created but its header never made it: nothing to keep. */
		if (fstat(fd, &st) == 0 && st.st_size > 0)
			sp->st.torn++;
		close(fd);
		return -1;
	}
	if (pread_full(fd, magic, SEG_HDR, 0) < 0 || memcmp(magic, SEG_MAGIC, SEG_HDR) != 0) {
		/* Not a segment we wrote: not ours to delete. */
		close(fd);
		return -2;
	}
	uint64_t fsize = (uint64_t)st.st_size, off = SEG_HDR;
	long live = 0;
	while (off < fsize) {
		unsigned char hb[SPOOL_RECORD_OVERHEAD];
		struct rec_hdr h;
		if (fsize - off < SPOOL_RECORD_OVERHEAD || pread_full(fd, hb, sizeof(hb), off) < 0)
			break;
		decode_hdr(hb, &h);
		uint64_t rs = SPOOL_RECORD_OVERHEAD + (uint64_t)h.len;
		if (h.magic != REC_MAGIC || h.len > SPOOL_RECORD_MAX || fsize - off < rs) {
			uint64_t next = resync(sp, fd, off, fsize);
			if (!next)
				break;
			sp->st.torn++;
			off = next;
			continue;
		}
		if (grow_buf(sp, h.len ? h.len : 1) < 0 ||
		    pread_full(fd, sp->buf, h.len, off + SPOOL_RECORD_OVERHEAD) < 0)
			break;
		if (rec_crc(h.key, h.len, sp->buf) != h.crc) {
			if (!rec_done(&h)) {
				sp->st.torn++;
				if (mark_done(fd, &h, off) < 0) {
					sp->st.io_errors++;
					break;  /* can't skip it for good: cut here */
				}
			}
			off += rs;
			continue;
		}
		if (h.flags != 0 && !rec_done(&h))
			sp->st.bad_flags++;     /* kept live: sent again at worst */
		if (!rec_done(&h)) {
			live++;
			sp->st.records++;
			sp->st.bytes += rs;
			if (h.key > sp->max_key)
				sp->max_key = h.key;
		}
		off += rs;
	}
	if (off < fsize) {
		sp->st.torn++;  /* the torn record at off; nothing intact follows it */
		if (ftruncate(fd, (off_t)off) < 0)
			sp->st.io_errors++;
		else if (sp->sync)
			fsync(fd);
	}
	close(fd);
	*size = off;
	return live;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int load(struct spool *sp, char *err, size_t errlen)
{
	int dfd = dup(sp->dirfd);
	DIR *d = dfd < 0 ? NULL : fdopendir(dfd);
	if (!d) {
		snprintf(err, errlen, "spool %s: %s", sp->dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		if (strncmp(nm, "seg-", 4) != 0 || strlen(nm) != 20 ||
		    strspn(nm + 4, "0123456789abcdef") != 16)
			continue;
		uint64_t id = strtoull(nm + 4, NULL, 16);
		if (id == 0 || id > SEG_ID_MAX) {
			/* Not one we wrote: left in place, counted, never read. */
			sp->st.rejected++;
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *ni = realloc(ids, cap * sizeof(*ni));
			if (!ni) {
				free(ids);
				closedir(d);
				snprintf(err, errlen, "spool %s: out of memory", sp->dir);
				return -1;
			}
			ids = ni;
		}
		ids[n++] = id;
	}
	closedir(d);
	if (n)
		qsort(ids, n, sizeof(*ids), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		uint64_t size = 0;
		long live = load_seg(sp, ids[i], &size);
		if (ids[i] >= sp->next_id)
			sp->next_id = ids[i] + 1;
		if (live == -2) {
			/* Can't open it read-write (permissions, a read-only file)
			 * or not our format: its reports may be live, so keep it
			 * for the operator. */
			sp->st.rejected++;
			continue;
		}
		if (live <= 0 || push_seg(sp, ids[i], size) < 0) {
			char name[32];
			seg_path(sp, ids[i], name, sizeof(name));
			unlinkat(sp->dirfd, name, 0);
		}
	}
	free(ids);
	sp->head_off = SEG_HDR;
	return 0;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes, bool sync, char *err,
			 size_t errlen)
{
	crc_init();
	if (strlen(dir) > 4000) {
		snprintf(err, errlen, "spool directory name too long");
		return NULL;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
		return NULL;
	}
	struct spool *sp = calloc(1, sizeof(*sp));
	if (!sp) {
		snprintf(err, errlen, "spool: out of memory");
		return NULL;
	}
	sp->lockfd = -1;
	sp->dir = strdup(dir);
	if (!sp->dir) {
		snprintf(err, errlen, "spool: out of memory");
		goto out_free;
	}
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0) {
		snprintf(err, errlen, "spool %s: %s", dir, strerror(errno));
		goto out_free;
	}
	/* Two processes on one spool would hand out the same seqs (the seq file
	 * lives here too) and the collector would drop one's reports as
	 * duplicates. The lock goes with the process, a crash included. */
	sp->lockfd = openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->lockfd < 0) {
		snprintf(err, errlen, "spool %s/lock: %s", dir, strerror(errno));
		goto out_close_dir;
	}
	if (flock(sp->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			snprintf(err, errlen, "spool %s is in use by another process (a running "
				 "sensor?); give this one its own spool_dir", dir);
		else
			snprintf(err, errlen, "spool %s/lock: %s", dir, strerror(errno));
		goto out_close_lock;
	}
	sp->max_bytes = max_bytes;
	sp->seg_max = max_bytes / 8;
	if (sp->seg_max < SEG_MIN)
		sp->seg_max = SEG_MIN;
	if (sp->seg_max > SEG_MAX)
		sp->seg_max = SEG_MAX;
	sp->sync = sync;
	sp->tail_fd = -1;
	sp->next_id = 1;
	sp->head_off = SEG_HDR;
	if (load(sp, err, errlen) < 0)
		goto out_close_lock;
	/* A smaller limit than last run's: keep the newest that fit. */
	while (sp->st.bytes > sp->max_bytes && sp->st.records) {
		struct rec_hdr h;
		int rc = locate_front(sp, &h);
		if (rc == 1)
			break;
		if (rc < 0) {
			drop_unreadable_head(sp);
			continue;
		}
		consume_front(sp, &h);
		sp->st.dropped++;
	}
	clear_if_empty(sp);
	return sp;
out_close_lock:
	close(sp->lockfd);
out_close_dir:
	close(sp->dirfd);
out_free:
	free(sp->segs);
	free(sp->dir);
	free(sp);
	return NULL;
}

void spool_close(struct spool *sp)
{
	if (!sp)
		return;
	close_tail(sp);
	close(sp->lockfd);
	close(sp->dirfd);
	free(sp->segs);
	free(sp->buf);
	free(sp->dir);
	free(sp);
}

int spool_dirfd(const struct spool *sp)
{
	return sp->dirfd;
}

size_t spool_count(const struct spool *sp)
{
	return (size_t)sp->st.records;
}

uint64_t spool_max_key(const struct spool *sp)
{
	return sp->max_key;
}

const struct spool_stats *spool_stats(const struct spool *sp)
{
	return &sp->st;
}
