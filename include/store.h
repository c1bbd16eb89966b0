/*
 * store: the collector's Redis I/O (synchronous hiredis).
 *
 * Owned by the collector. Keys (PREFIX is the config's, "egress:" by default):
 *   PREFIX reports                stream read with XREADGROUP (group, consumer)
 *   PREFIX reports:dead           stream of rejected reports: reason, entry, report
 *   PREFIX alerts                 stream of alerts (field "alert"), and the
 *                                 pub/sub channel of the same name
 *   PREFIX alert:seen:ID          dedupe marker per alert id (SET NX, 45 days)
 *   PREFIX collector:identities   hash identity -> engine blob
 *   PREFIX collector:sensors      hash sensor -> engine blob
 *   PREFIX collector:meta         string: engine meta blob (now, counters, gaps)
 *   PREFIX collector:detect       string: the detector's state (detect_save),
 *                                 written in the same MULTI/EXEC when the
 *                                 caller asks (when idle, else every
 *                                 [detect] checkpoint)
 *   PREFIX collector:acked        string: the highest report entry id a
 *                                 commit acknowledged, written in the
 *                                 batch's MULTI/EXEC; a consumer group that
 *                                 was deleted is recreated there, not at 0
 *
 * Exactly once: store_commit() writes the batch's dirty state, dead letters,
 * alerts (through a dedupe script) and the XACK of the batch's entries in
 * one MULTI/EXEC, so after a crash at any point Redis holds either the state
 * before the batch with its entries still pending, or the state after it
 * with them acked; a restart loads the state and re-reads the pending
 * entries first.
 *
 * Takeover: entries another consumer of the group read and never acked (it
 * died, or runs under a new name now) are moved to this consumer's pending
 * list with store_claim() and read back, in stream order, as its own.
 */
#ifndef EW_STORE_H
#define EW_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "redis_addr.h"

struct store;

struct store_entry {
	char id[48];
	char *report;           /* the "report" field, NULL if absent; owned */
	size_t len;
	bool trimmed;           /* a pending id whose entry is no longer in the stream */
};

struct store_dead {
	const char *entry_id;   /* borrowed */
	const char *raw;        /* borrowed; may be NULL */
	size_t rawlen;
	char reason[256];
};

/* Connects (timeout_s for every command). NULL with err. */
struct store *store_connect(const struct redis_addr *a, const char *prefix, const char *group,
			    const char *consumer, double timeout_s, char *err, size_t errlen);
void store_free(struct store *s);

/*
 * Creates the consumer group (MKSTREAM) if absent: at the last entry a
 * commit acknowledged (PREFIX collector:acked), so a group deleted under a
 * running collector does not make it read the whole stream again; at the
 * stream's start when nothing was ever acked. *created tells which.
 */
int store_ensure_group(struct store *s, bool *created, char *err, size_t errlen);

/* The last acknowledged entry id ("0" when none); borrowed. */
const char *store_acked(const struct store *s);

/* Entries pending on consumers of the group other than this one. */
int store_pending_others(struct store *s, size_t *n, char *err, size_t errlen);

/*
 * One XAUTOCLAIM step: moves up to count entries of the group's pending
 * list, idle at least min_idle_ms, to this consumer (JUSTID: they are read
 * back in order with store_read(pending)). Start with *cursor "0-0"; it is
 * "0-0" again when the whole pending list was scanned. *claimed counts the
 * entries moved (this consumer's own idle ones included). Entries no longer
 * in the stream leave the pending list (Redis 7) and come back in *deleted
 * (trimmed set; free with store_entries_free) for the caller to dead-letter.
 */
int store_claim(struct store *s, long long min_idle_ms, char *cursor, size_t cursorlen,
		size_t count, size_t *claimed, struct store_entry **deleted, size_t *ndeleted,
		char *err, size_t errlen);

/* Loads every identity, sensor and the meta record into e. */
int store_load(struct store *s, struct engine *e, size_t *corrupt, char *err, size_t errlen);

/*
 * Reads up to count entries: pending ones after `after` (pending = true), or
 * new ones (">"). *v is malloc'd (free with store_entries_free).
 */
int store_read(struct store *s, bool pending, const char *after, size_t count,
	       struct store_entry **v, size_t *n, char *err, size_t errlen);
void store_entries_free(struct store_entry *v, size_t n);

/*
 * Commits one batch atomically (see above). is_new[i] (n alerts) tells
 * which alerts were new to Redis (the rest had been raised before).
 * save_detect also writes the detector's state. v may be empty (n 0): a
 * commit of dead letters, counters or the detector alone.
 */
int store_commit(struct store *s, struct engine *e, const struct store_entry *v, size_t n,
		 const struct store_dead *dead, size_t ndead, const struct engine_alerts *alerts,
		 bool *is_new, bool save_detect, char *err, size_t errlen);

/* Reads the report stream read-only in pages (XRANGE), for --backtest. */
int store_range(struct store *s, const char *after, size_t count, struct store_entry **v,
		size_t *n, char *err, size_t errlen);

/* The newest count alerts (id, JSON) of the stream, oldest first. */
int store_recent_alerts(struct store *s, size_t count, struct store_entry **v, size_t *n,
			char *err, size_t errlen);

#endif
