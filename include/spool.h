/*
 * spool: the sensor's on-disk queue of reports that Redis has not taken yet.
 *
 * A FIFO of opaque records, each with a 64-bit key (the reporter's seq),
 * kept in append-only segment files "seg-<16 hex digits>" in one directory.
 * A record is length-prefixed and checksummed (CRC-32 over key, length and
 * payload), so a record torn by a crash mid-append is detected on open,
 * cut off and counted, never delivered. Popping the front marks the record
 * done in place (its flags word, no rewrite); a segment whose records are all done
 * is unlinked, and an empty spool leaves no segment behind.
 *
 * Invariants: the live records' bytes (header + payload) never exceed
 * max_bytes; appending past that drops the OLDEST records first, counted
 * in stats.dropped. Disk use is the live bytes plus the done records still
 * sharing the head segment (at most one segment, max_bytes/8 by default).
 * The spool is single-threaded and owns its directory's seg-* files.
 */
#ifndef EW_SPOOL_H
#define EW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_RECORD_MAX (64u << 20)    /* payload bytes; a report is far smaller */
#define SPOOL_RECORD_OVERHEAD 24u       /* header bytes per record */

struct spool;

struct spool_stats {
	uint64_t records, bytes;        /* live: count and header+payload bytes */
	uint64_t appended, popped;      /* since open */
	uint64_t dropped;               /* oldest dropped for room, or too big to hold */
	uint64_t torn;                  /* bad or torn records dropped at open (each counted) */
	uint64_t bad_flags;             /* records with a flags word neither live nor done: kept live */
	uint64_t rejected;              /* segment files left in place unread (cannot be opened
					 * read-write, no segment header, or an id such as one
					 * near 2^64 that this spool never writes) */
	uint64_t io_errors;             /* failed reads/writes (the operation failed) */
	uint64_t segments;              /* segment files in use */
};

/*
 * Opens (creating if needed) the spool in dir and loads what an earlier run
 * left there, cutting off torn tails. sync: fdatasync after each append.
 * Holds an exclusive flock on dir/lock until spool_close, and uses dir by a
 * descriptor from then on (so a chroot afterwards does not matter).
 * Returns NULL with err on a local problem (directory, permissions, or the
 * spool in use by another process).
 */
struct spool *spool_open(const char *dir, uint64_t max_bytes, bool sync, char *err,
			 size_t errlen);

/* Closes the files; the records stay on disk for the next open. NULL-safe. */
void spool_close(struct spool *sp);

/*
 * Appends one record at the back, first dropping the oldest records while
 * it would not fit. Returns 0, or -1 when it could not be kept (larger than
 * max_bytes or SPOOL_RECORD_MAX: counted as dropped; write error: counted
 * in io_errors); the spool is unchanged then.
 */
int spool_append(struct spool *sp, uint64_t key, const void *data, size_t len);

/*
 * The oldest live record: *key, and *data and *len borrowed until the next call
 * on sp. Returns 0, 1 when the spool is empty, or -1 on a read error (the
 * unreadable record is dropped and counted in io_errors; call again).
 */
int spool_front(struct spool *sp, uint64_t *key, const void **data, size_t *len);

/* Drops the oldest live record (after Redis acknowledged it). Returns 0, or -1 if empty. */
int spool_pop(struct spool *sp);

/* Live records; the largest key ever held (0 if none). */
size_t spool_count(const struct spool *sp);
uint64_t spool_max_key(const struct spool *sp);

const struct spool_stats *spool_stats(const struct spool *sp);

/* The spool directory's descriptor, borrowed: for files kept beside the
 * spool (the reporter's seq file) with openat/renameat. */
int spool_dirfd(const struct spool *sp);

#endif
