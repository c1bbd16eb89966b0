/*
 * spool: records come back in order with their keys and bytes, survive a
 * restart, a torn last record is cut off and counted (never delivered), and
 * a full spool drops its oldest records, counted, within its byte bound;
 * one corrupt record costs that record alone, counted, and an edited flags
 * word is not taken for "done"; a second open of the same directory is
 * refused; a segment id near 2^64 is left alone instead of wrapping the
 * order; the directory is used by descriptor (it may move, as under a
 * chroot).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "test.h"
#include "banned.h"

static char dir[64];

static void fresh_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_spool.XXXXXX");
	if (!mkdtemp(dir))
		abort();
}

static void rm_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[400];
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Files named seg-* in dir, and their total size. */
static int seg_files(uint64_t *total, char *last, size_t lastlen)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	*total = 0;
	if (last)
		last[0] = '\0';
	while (d && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "seg-", 4) != 0)
			continue;
		char p[400];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) == 0)
			*total += (uint64_t)st.st_size;
		if (last && strcmp(p, last) > 0)
			snprintf(last, lastlen, "%s", p);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void payload(char *buf, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + (key + i) % 26);
}

static int append_key(struct spool *sp, uint64_t key, size_t n)
{
	char buf[4096];
	payload(buf, n, key);
	return spool_append(sp, key, buf, n);
}

/* Pops first..last, checking keys and bytes. */
static void pop_expect(struct spool *sp, uint64_t first, uint64_t last, size_t n)
{
	char want[4096];
	for (uint64_t k = first; k <= last; k++) {
		uint64_t key = 0;
		const void *data = NULL;
		size_t len = 0;
		CHECK(spool_front(sp, &key, &data, &len) == 0);
		CHECK_EQ_U64(key, k);
		CHECK_EQ_U64(len, n);
		payload(want, n, k);
		CHECK(data && len == n && memcmp(data, want, n) == 0);
		CHECK(spool_pop(sp) == 0);
	}
}

/* Pops everything, checking keys run from first to last and bytes match. */
static void check_drain(struct spool *sp, uint64_t first, uint64_t last, size_t n)
{
	pop_expect(sp, first, last, n);
	uint64_t key;
	const void *data;
	size_t len;
	CHECK(spool_front(sp, &key, &data, &len) == 1);
	CHECK(spool_pop(sp) == -1);
	CHECK_EQ_U64(spool_count(sp), 0);
}

static void test_fifo_and_cleanup(void)
{
	fresh_dir();
	char err[256];
	struct spool *sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	for (uint64_t k = 1; k <= 10; k++)
		CHECK(append_key(sp, k, 100 + k) == 0);
	CHECK_EQ_U64(spool_count(sp), 10);
	CHECK_EQ_U64(spool_max_key(sp), 10);
	uint64_t want_bytes = 0;
	for (uint64_t k = 1; k <= 10; k++)
		want_bytes += SPOOL_RECORD_OVERHEAD + 100 + k;
	CHECK_EQ_U64(spool_stats(sp)->bytes, want_bytes);
	for (uint64_t k = 1; k <= 10; k++) {
		uint64_t key;
		const void *data;
		size_t len;
		CHECK(spool_front(sp, &key, &data, &len) == 0);
		CHECK_EQ_U64(key, k);
		CHECK_EQ_U64(len, 100 + k);
		/* front does not consume */
		CHECK(spool_front(sp, &key, &data, &len) == 0);
		CHECK_EQ_U64(key, k);
		CHECK(spool_pop(sp) == 0);
	}
	CHECK_EQ_U64(spool_count(sp), 0);
	CHECK_EQ_U64(spool_stats(sp)->bytes, 0);
	uint64_t total;
	CHECK_EQ_U64(seg_files(&total, NULL, 0), 0);   /* empty spool: no files */
	CHECK(append_key(sp, 11, 50) == 0);
	check_drain(sp, 11, 11, 50);
	spool_close(sp);
	rm_dir();
}

static void test_restart(void)
{
	fresh_dir();
	char err[256];
	struct spool *sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	for (uint64_t k = 1; k <= 5; k++)
		CHECK(append_key(sp, k, 200) == 0);
	CHECK(spool_pop(sp) == 0);
	CHECK(spool_pop(sp) == 0);
	spool_close(sp);

	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), 3);
	CHECK_EQ_U64(spool_max_key(sp), 5);
	CHECK_EQ_U64(spool_stats(sp)->torn, 0);
	CHECK(append_key(sp, 6, 200) == 0);     /* appends after the loaded ones */
	check_drain(sp, 3, 6, 200);
	spool_close(sp);
	rm_dir();
}

static void test_torn_last_record(void)
{
	fresh_dir();
	char err[256], last[512];
	uint64_t total;
	struct spool *sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	for (uint64_t k = 1; k <= 3; k++)
		CHECK(append_key(sp, k, 300) == 0);
	spool_close(sp);

	/* A crash mid-append: the last record's payload is cut short. */
	CHECK_EQ_U64(seg_files(&total, last, sizeof(last)), 1);
	CHECK(truncate(last, (off_t)(total - 10)) == 0);
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), 2);
	CHECK_EQ_U64(spool_stats(sp)->torn, 1);
	CHECK_EQ_U64(spool_max_key(sp), 2);
	/* The cut is clean: a new record lands right after the good ones. */
	CHECK(append_key(sp, 3, 300) == 0);
	spool_close(sp);

	/* A flipped payload byte (checksum) and a stray half header. */
	CHECK_EQ_U64(seg_files(&total, last, sizeof(last)), 1);
	int fd = open(last, O_RDWR);
	CHECK(fd >= 0);
	char c;
	CHECK(pread(fd, &c, 1, (off_t)(total - 5)) == 1);
	c ^= 0x40;
	CHECK(pwrite(fd, &c, 1, (off_t)(total - 5)) == 1);
	close(fd);
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), 2);
	CHECK_EQ_U64(spool_stats(sp)->torn, 1);
	CHECK(append_key(sp, 3, 300) == 0);
	spool_close(sp);
	fd = open(last, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "EWSR\0\0", 6) == 6);
	close(fd);
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), 3);
	CHECK_EQ_U64(spool_stats(sp)->torn, 1);
	check_drain(sp, 1, 3, 300);
	spool_close(sp);
	rm_dir();
}

static void test_overflow_drops_oldest(void)
{
	fresh_dir();
	char err[256];
	uint64_t rec = SPOOL_RECORD_OVERHEAD + 100;
	struct spool *sp = spool_open(dir, 10 * rec, false, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	for (uint64_t k = 1; k <= 15; k++)
		CHECK(append_key(sp, k, 100) == 0);
	CHECK_EQ_U64(spool_count(sp), 10);
	CHECK_EQ_U64(spool_stats(sp)->dropped, 5);
	CHECK_EQ_U64(spool_stats(sp)->bytes, 10 * rec);
	/* Too big to ever fit: refused and counted, nothing else lost. */
	char big[2000];
	memset(big, 'x', sizeof(big));
	CHECK(spool_append(sp, 99, big, sizeof(big)) == -1);
	CHECK_EQ_U64(spool_stats(sp)->dropped, 6);
	CHECK_EQ_U64(spool_count(sp), 10);
	spool_close(sp);

	/* Reopened with a smaller bound: the newest that fit stay. */
	sp = spool_open(dir, 4 * rec, false, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), 4);
	CHECK_EQ_U64(spool_stats(sp)->dropped, 6);
	check_drain(sp, 12, 15, 100);
	spool_close(sp);
	rm_dir();
}

static void test_many_segments_bounded(void)
{
	fresh_dir();
	char err[256];
	uint64_t max = 1 << 20;         /* segments of 128 KiB */
	struct spool *sp = spool_open(dir, max, false, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	size_t n = 1000;
	uint64_t rec = SPOOL_RECORD_OVERHEAD + n;
	uint64_t fit = max / rec;
	for (uint64_t k = 1; k <= 3000; k++) {
		CHECK(append_key(sp, k, n) == 0);
		if (k % 7 == 0) {
			uint64_t total;
			seg_files(&total, NULL, 0);
			/* live bytes plus at most one segment of done records */
			CHECK(total <= max + (128 << 10) + 8 * spool_stats(sp)->segments);
		}
	}
	CHECK(spool_stats(sp)->segments > 4);
	CHECK_EQ_U64(spool_count(sp), fit);
	CHECK_EQ_U64(spool_stats(sp)->dropped, 3000 - fit);
	/* Pop half, restart, the rest comes back in order. */
	for (uint64_t i = 0; i < fit / 2; i++)
		CHECK(spool_pop(sp) == 0);
	spool_close(sp);
	sp = spool_open(dir, max, false, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), fit - fit / 2);
	check_drain(sp, 3000 - fit + 1 + fit / 2, 3000, n);
	uint64_t total;
	CHECK_EQ_U64(seg_files(&total, NULL, 0), 0);
	spool_close(sp);
	rm_dir();
}

/* Offset of record i (0-based) in a segment of equal-sized records. */
static off_t rec_off(int i, size_t n)
{
	return (off_t)(8 + (uint64_t)i * (SPOOL_RECORD_OVERHEAD + n));
}

static void test_corrupt_middle_record(void)
{
	fresh_dir();
	char err[256], last[512];
	uint64_t total;
	struct spool *sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	for (uint64_t k = 1; k <= 5; k++)
		CHECK(append_key(sp, k, 300) == 0);
	spool_close(sp);
	CHECK_EQ_U64(seg_files(&total, last, sizeof(last)), 1);
	int fd = open(last, O_RDWR);
	CHECK(fd >= 0);
	/* Record 2's payload gets a flipped byte; record 1's flags word is
	 * edited to 1 (the old "done"): neither may cost the others. */
	char c;
	off_t p = rec_off(1, 300) + SPOOL_RECORD_OVERHEAD + 17;
	CHECK(pread(fd, &c, 1, p) == 1);
	c ^= 0x40;
	CHECK(pwrite(fd, &c, 1, p) == 1);
	unsigned char one[4] = {1, 0, 0, 0};
	CHECK(pwrite(fd, one, 4, rec_off(0, 300) + 4) == 4);
	close(fd);
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), 4);
	CHECK_EQ_U64(spool_stats(sp)->torn, 1);
	CHECK_EQ_U64(spool_stats(sp)->bad_flags, 1);
	CHECK(append_key(sp, 6, 300) == 0);
	pop_expect(sp, 1, 1, 300);
	check_drain(sp, 3, 6, 300);
	spool_close(sp);

	/* An absurd length in record 2's header: the walk resumes at record
	 * 3, the gap counted once; a second open finds it settled. */
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_count(sp), 0);
	for (uint64_t k = 10; k <= 13; k++)
		CHECK(append_key(sp, k, 300) == 0);
	spool_close(sp);
	CHECK_EQ_U64(seg_files(&total, last, sizeof(last)), 1);
	fd = open(last, O_RDWR);
	unsigned char huge[4] = {0xff, 0xff, 0xff, 0xff};
	CHECK(pwrite(fd, huge, 4, rec_off(1, 300) + 16) == 4);
	close(fd);
	for (int round = 0; round < 2; round++) {
		sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
		CHECK(sp != NULL);
		if (!sp)
			return;
		CHECK_EQ_U64(spool_count(sp), 3);
		CHECK_EQ_U64(spool_stats(sp)->torn, round == 0 ? 1 : 0);
		if (round == 1) {
			pop_expect(sp, 10, 10, 300);
			check_drain(sp, 12, 13, 300);
		}
		spool_close(sp);
	}

	/* The same damage found at run time (after open): only that record goes. */
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	for (uint64_t k = 7; k <= 9; k++)
		CHECK(append_key(sp, k, 300) == 0);
	CHECK_EQ_U64(seg_files(&total, last, sizeof(last)), 1);
	fd = open(last, O_RDWR);
	p = (off_t)total - (off_t)(2 * (SPOOL_RECORD_OVERHEAD + 300)) + SPOOL_RECORD_OVERHEAD + 3;
	CHECK(pread(fd, &c, 1, p) == 1);
	c ^= 0x01;
	CHECK(pwrite(fd, &c, 1, p) == 1);
	close(fd);
	uint64_t key;
	const void *data;
	size_t len;
	CHECK(spool_front(sp, &key, &data, &len) == 0);
	CHECK_EQ_U64(key, 7);
	CHECK(spool_pop(sp) == 0);
	CHECK(spool_front(sp, &key, &data, &len) == -1);        /* 8: dropped, counted */
	CHECK_EQ_U64(spool_stats(sp)->dropped, 1);
	check_drain(sp, 9, 9, 300);
	spool_close(sp);
	rm_dir();
}

static void test_second_open_refused(void)
{
	fresh_dir();
	char err[512] = "";
	struct spool *a = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(a != NULL);
	struct spool *b = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(b == NULL);
	CHECK(strstr(err, dir) != NULL && strstr(err, "in use") != NULL);
	spool_close(b);
	spool_close(a);
	b = spool_open(dir, 1 << 20, true, err, sizeof(err));  /* released on close */
	CHECK(b != NULL);
	spool_close(b);
	rm_dir();
}

static void test_segment_id_near_wrap(void)
{
	fresh_dir();
	char err[256], last[512], big[512];
	uint64_t total;
	struct spool *sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK(append_key(sp, 1, 100) == 0);
	spool_close(sp);
	CHECK_EQ_U64(seg_files(&total, last, sizeof(last)), 1);
	snprintf(big, sizeof(big), "%s/seg-ffffffffffffffff", dir);
	CHECK(rename(last, big) == 0);
	/* And a file named like a segment holding something else. */
	char junk[512];
	snprintf(junk, sizeof(junk), "%s/seg-00000000000000ff", dir);
	FILE *f = fopen(junk, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("not a spool segment at all\n", f);
		fclose(f);
	}
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	CHECK_EQ_U64(spool_stats(sp)->rejected, 2);
	CHECK_EQ_U64(spool_count(sp), 0);
	for (uint64_t k = 2; k <= 4; k++)
		CHECK(append_key(sp, k, 100) == 0);
	spool_close(sp);
	sp = spool_open(dir, 1 << 20, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	check_drain(sp, 2, 4, 100);
	spool_close(sp);
	struct stat st;
	CHECK(stat(big, &st) == 0);     /* left for the operator, not deleted */
	CHECK(stat(junk, &st) == 0);
	rm_dir();
}

/* The directory is used by descriptor: moved away (as a chroot hides its
 * path), the spool still appends, reads, pops and rolls segments. */
static void test_directory_by_descriptor(void)
{
	fresh_dir();
	char err[256], moved[128];
	struct spool *sp = spool_open(dir, 256 << 10, true, err, sizeof(err));
	CHECK(sp != NULL);
	if (!sp)
		return;
	snprintf(moved, sizeof(moved), "%s.moved", dir);
	CHECK(rename(dir, moved) == 0);
	for (uint64_t k = 1; k <= 200; k++)
		CHECK(append_key(sp, k, 1000) == 0);
	CHECK_EQ_U64(spool_stats(sp)->io_errors, 0);
	CHECK(spool_stats(sp)->segments > 1);
	check_drain(sp, 1, 200, 1000);
	CHECK_EQ_U64(spool_stats(sp)->io_errors, 0);
	spool_close(sp);
	CHECK(rename(moved, dir) == 0);
	rm_dir();
}

static void test_bad_dir(void)
{
	char err[256] = "";
	CHECK(spool_open("/proc/no/such/dir", 1 << 20, false, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "/proc/no/such/dir") != NULL);
}

TEST_MAIN(test_fifo_and_cleanup, test_restart, test_torn_last_record,
	  test_overflow_drops_oldest, test_many_segments_bounded, test_corrupt_middle_record,
	  test_second_open_refused, test_segment_id_near_wrap, test_directory_by_descriptor,
	  test_bad_dir)
