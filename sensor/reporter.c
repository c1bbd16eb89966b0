/*
 * reporter: delivers the sensor's reports to the Redis stream, in order,
 * without ever blocking capture (see reporter.h for the contract).
 *
 * Where a report is, oldest first: the spool (on disk), then the memory
 * queue. Every spooled report is older than every queued one, so the next
 * report to send is always the spool's front, else the queue's front. The
 * queue spills its oldest into the spool when full, and all of it the moment
 * the connection is lost; while Redis is away new reports go straight to the
 * spool, so a crash while Redis is down loses nothing.
 *
 * One XADD is in flight at a time, and a report leaves the spool or queue
 * only when Redis acknowledged it (the in-flight seq is remembered, so a
 * report that the spool dropped meanwhile is never mistaken for the next).
 * Each XADD goes in a MULTI/EXEC with a SET of PREFIX delivered:ID to its
 * seq, so Redis holds the sensor's last delivered seq exactly when it holds
 * the report. When the connection dies with an XADD unanswered, the report
 * may or may not be in the stream: after reconnecting, one GET of that key
 * tells (a bounded check, whatever the stream holds) before it is sent
 * again, so a Redis restart does not duplicate it; so is the spool's front
 * after a restart, which the previous process may have had in flight when
 * it died. An error reply is counted and
 * retried after a backoff.
 *
 * A Redis that answers XADD with an error (WRONGTYPE, NOPERM, OOM,
 * READONLY) or not within OVERDUE_S holds nothing of ours: the memory
 * queue is spilled to the spool and new reports go there too (as while
 * Redis is away) until an XADD is acknowledged, so a crash meanwhile loses
 * nothing. A connection counts as working only once Redis answered on it:
 * the reconnect backoff is reset then, not on connect, so a Redis that
 * accepts and closes is retried ever more slowly, and such failed
 * connections are logged 1st, 2nd, 4th, 8th... time.
 *
 * seq: the next number is written durably to SPOOL_DIR/seq (temp file,
 * fsync, rename) before a report is queued, so no restart reuses a number.
 * A numbering with no seq file starts at the wall clock in microseconds:
 * seqs advance by one a report, far slower than the clock, so it is above
 * every number an earlier numbering handed out. When the seq file cannot be
 * written (ENOSPC, EROFS) the report is still numbered and sent (the number
 * is spent in memory), the failure counted, and the stale file removed so
 * that a restart seeds from the clock instead of reusing numbers; a start
 * that cannot write the file seeds from the clock too.
 *
 * hiredis 0.14 runs reply callbacks with a NULL reply when the connection
 * is freed; those only clear state here, and reconnecting always happens
 * from a timer, never inside a hiredis callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "identity_map.h"
#include "diag.h"
#include "reporter.h"
#include "spool.h"
#include "banned.h"

#define DEFAULT_SPOOL_MAX (1ull << 30)
#define DEFAULT_QUEUE_MAX 64
#define DEFAULT_HEARTBEAT_S 5.0
#define DEFAULT_IDMAP_POLL_S 10.0
#define RECONNECT_MIN_S 0.2
#define RECONNECT_MAX_S 5.0
#define ERROR_RETRY_MIN_S 0.5
#define ERROR_RETRY_MAX_S 30.0
#define CONNECT_TIMEOUT_S 10.0
#define REPLY_TIMEOUT_S 30.0
#define OVERDUE_S 2.0           /* an XADD unanswered this long: spill the queue */
#define IDMAP_MAX_ENTRIES (1u << 20)

enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_AUTH, CONN_READY };

struct qitem {
	uint64_t seq;
	double end;
	char *json;
	size_t len;
};

struct reporter {
	struct event_base *base;
	struct redis_addr redis;
	char *prefix, *sensor_id, *spool_dir;
	char *k_stream, *k_sensor, *k_sensors, *k_idmap, *k_delivered;
	char *seq_path, *seq_tmp;
	char maxlen[24];
	uint64_t spool_max;
	double heartbeat_s, idmap_poll_s;

	redisAsyncContext *ac;
	enum conn_state state;
	bool away;              /* lost or never reached since the last READY */
	bool refusing;          /* XADD answered with an error, or overdue: spool reports */
	bool answered;          /* Redis replied on this connection */
	bool link_logged;       /* "connected" was logged for the current working link */
	uint64_t flaps;         /* connections lost before Redis answered on them */
	bool ever_ready, freeing;
	double backoff, err_backoff;
	struct event *ev_connect, *ev_retry, *ev_watchdog, *ev_hb, *ev_idmap, *ev_deadline;
	struct event *ev_overdue;

	struct qitem *q;        /* ring of qcap */
	size_t qcap, qhead, qlen;
	struct spool *spool;
	uint64_t next_seq;

	bool inflight, retry_wait, uncertain, checking;
	bool tx_direct;         /* the XADD ran outside MULTI (MULTI refused) */
	bool delivered_dirty;   /* delivered:ID may say fix_delivered + 1: set it back */
	uint64_t fix_delivered;
	uint64_t inflight_seq, uncertain_seq;
	unsigned hb_pending;
	bool idmap_busy, idmap_polled;
	uint64_t idmap_hash;
	void (*idmap_cb)(void *ctx, struct identity_map *m);
	struct identity_map *(*idmap_base)(void *ctx);
	void *idmap_ctx;

	struct reporter_stats st;
	uint64_t lost;          /* dropped: not spooled (write error), memory queue full */
	uint64_t seq_errors;    /* failed writes of the seq file */
	uint64_t submit_errors, idmap_bad, idmap_updates, dups_avoided;
	uint64_t last_seq;
	double last_end;
	struct report_stats cap;
};

static void pump(struct reporter *rp);
static void conn_start(struct reporter *rp);

static void rlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void rlog(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	diag_printable(line); /* it quotes the feeder's hash keys */
	fprintf(stderr, "egress-sensor: reporter: %s\n", line);
}

/* Log the 1st, 2nd, 4th, 8th... occurrence: a Redis outage or a bad reply
 * repeated every second must not flood the log. */
static bool log_worthy(uint64_t n)
{
	return n && (n & (n - 1)) == 0;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timeval tv_of(double s)
{
	if (s < 0)
		s = 0;
	struct timeval tv;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

static void timer_in(struct event *ev, double s)
{
	struct timeval tv = tv_of(s);
	evtimer_add(ev, &tv);
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);
	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

static void refresh_stats(struct reporter *rp)
{
	const struct spool_stats *ss = spool_stats(rp->spool);
	rp->st.queue_depth = rp->qlen;
	rp->st.spool_depth = ss->records;
	rp->st.spool_dropped = ss->dropped + rp->lost;
	rp->st.seq_errors = rp->seq_errors;
	rp->st.spool_errors = ss->io_errors;
}

/* --- seq file -------------------------------------------------------- */

static uint64_t clock_seq(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int load_seq(struct reporter *rp, uint64_t *next, char *err, size_t errlen)
{
	int fd = openat(spool_dirfd(rp->spool), "seq", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			/* A fresh numbering: above anything an earlier one handed out. */
			*next = clock_seq();
			return 0;
		}
		snprintf(err, errlen, "%s: %s", rp->seq_path, strerror(errno));
		return -1;
	}
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	char *end;
	errno = 0;
	unsigned long long v = n > 0 ? strtoull(buf, &end, 10) : 0;
	if (n <= 0 || errno || end == buf || (*end && *end != '\n') || v == 0) {
		/* Guessing would risk reusing numbers the collector already saw. */
		snprintf(err, errlen, "%s: not a sequence number; remove it (the sensor then "
			 "numbers from the clock, above any earlier number)", rp->seq_path);
		return -1;
	}
	*next = v;
	return 0;
}

static int store_seq(struct reporter *rp, uint64_t next)
{
	int dfd = spool_dirfd(rp->spool);
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", next);
	int fd = openat(dfd, "seq.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, buf, (size_t)n) != n || fsync(fd) < 0) {
		int e = errno;
		close(fd);
		unlinkat(dfd, "seq.tmp", 0);
		errno = e;
		return -1;
	}
	close(fd);
	if (renameat(dfd, "seq.tmp", dfd, "seq") < 0) {
		int e = errno;
		unlinkat(dfd, "seq.tmp", 0);
		errno = e;
		return -1;
	}
	fsync(dfd);
	return 0;
}

/* Spends seq numbers up to next-1 durably if it can. When it can't, the
 * stale file goes (unlink needs no free space), so a restart numbers from
 * the clock rather than reuse what this run handed out. */
static void persist_seq(struct reporter *rp, uint64_t next)
{
	if (store_seq(rp, next) == 0)
		return;
	int e = errno;
	rp->seq_errors++;
	bool gone = unlinkat(spool_dirfd(rp->spool), "seq", 0) == 0 || errno == ENOENT;
	if (log_worthy(rp->seq_errors))
		rlog("cannot write %s: %s; reports are still numbered and sent (%s; %" PRIu64
		     " failures so far)", rp->seq_path, strerror(e),
		     gone ? "a restart numbers from the clock" : "cannot remove it either",
		     rp->seq_errors);
}

/* --- where reports wait ---------------------------------------------- */

/* Returns 0 when the spool took the report (or dropped it, counted: too
 * big), -1 when it could not be written (it stays the caller's). */
static int spool_put(struct reporter *rp, uint64_t seq, const char *json, size_t len)
{
	const struct spool_stats *ss = spool_stats(rp->spool);
	uint64_t dropped = ss->dropped, io = ss->io_errors;
	int rc = 0;
	if (spool_append(rp->spool, seq, json, len) == 0) {
		rp->st.spooled++;
	} else if (ss->io_errors != io) {
		if (log_worthy(ss->io_errors))
			rlog("cannot write report %" PRIu64 " to the spool in %s (%" PRIu64
			     " write errors so far): keeping it in memory", seq, rp->spool_dir,
			     ss->io_errors);
		rc = -1;
	}
	uint64_t d = ss->dropped;
	if (d != dropped && log_worthy(d))
		rlog("spool full (%" PRIu64 " bytes): dropped oldest reports, %" PRIu64 " so far",
		     rp->spool_max, d);
	return rc;
}

static void queue_pop_front(struct reporter *rp)
{
	struct qitem *it = &rp->q[rp->qhead];
	free(it->json);
	it->json = NULL;
	rp->qhead = (rp->qhead + 1) % rp->qcap;
	rp->qlen--;
}

/* Moves the queue's oldest to the spool. -1 when the spool can't take it. */
static int spill_oldest(struct reporter *rp)
{
	struct qitem *it = &rp->q[rp->qhead];
	if (spool_put(rp, it->seq, it->json, it->len) < 0)
		return -1;
	queue_pop_front(rp);
	return 0;
}

/* Spills in order, stopping at the first report the spool can't take. */
static void spill_all(struct reporter *rp)
{
	while (rp->qlen && spill_oldest(rp) == 0)
		;
}

/* Makes room for one more in the memory queue: spill the oldest, or, when
 * the spool can't be written either, drop the oldest in memory, counted. */
static void queue_make_room(struct reporter *rp)
{
	if (rp->qlen < rp->qcap || spill_oldest(rp) == 0)
		return;
	rp->lost++;
	if (log_worthy(rp->lost))
		rlog("memory queue full and the spool in %s unwritable: dropped report %" PRIu64
		     " (oldest; %" PRIu64 " dropped so far)", rp->spool_dir, rp->q[rp->qhead].seq,
		     rp->lost);
	queue_pop_front(rp);
}

/* Redis has report seq: take it off whichever holds the oldest. */
static void acked(struct reporter *rp, uint64_t seq)
{
	uint64_t key;
	const void *data;
	size_t len;
	rp->st.sent++;
	rp->last_seq = seq;
	if (spool_count(rp->spool)) {
		if (spool_front(rp->spool, &key, &data, &len) == 0 && key == seq) {
			rp->last_end = report_head_end(data, len);
			spool_pop(rp->spool);
		}
	} else if (rp->qlen && rp->q[rp->qhead].seq == seq) {
		rp->last_end = rp->q[rp->qhead].end;
		queue_pop_front(rp);
	}
	refresh_stats(rp);
}

/* --- connection ------------------------------------------------------ */

static void conn_lost(struct reporter *rp, const char *why)
{
	bool was_ready = rp->state == CONN_READY;
	rp->state = CONN_IDLE;
	rp->inflight = rp->checking = false;
	rp->hb_pending = 0;
	rp->idmap_busy = false;
	evtimer_del(rp->ev_watchdog);
	evtimer_del(rp->ev_retry);
	evtimer_del(rp->ev_overdue);
	rp->retry_wait = false;
	char a[400];
	if (was_ready && !rp->answered) {
		/* Accepts, then closes (maxclients, a proxy, a crash loop): the
		 * 1st, 2nd, 4th... such connection is logged. */
		if (log_worthy(++rp->flaps))
			rlog("redis %s: %s before answering (%" PRIu64 " such connection(s) so "
			     "far; spooling reports to %s, retrying in up to %.0fs)",
			     redis_addr_str(&rp->redis, a, sizeof(a)), why, rp->flaps,
			     rp->spool_dir, RECONNECT_MAX_S);
	} else if (was_ready || !rp->away) {
		rlog("redis %s: %s; spooling reports to %s until it is back",
		     redis_addr_str(&rp->redis, a, sizeof(a)), why, rp->spool_dir);
	}
	rp->away = true;
	rp->answered = false;
	spill_all(rp);
	refresh_stats(rp);
	/* Jitter spreads a fleet of sensors reconnecting after a Redis restart. */
	double wait = rp->backoff * (0.8 + 0.4 * ((double)random() / RAND_MAX));
	timer_in(rp->ev_connect, wait);
	rp->backoff = fmin(rp->backoff * 2, RECONNECT_MAX_S);
}

/* Drops the connection from outside any hiredis callback. */
static void conn_abort(struct reporter *rp, const char *why)
{
	redisAsyncContext *ac = rp->ac;
	if (!ac)
		return;
	rp->ac = NULL;          /* so its disconnect callback is ignored */
	redisAsyncFree(ac);
	conn_lost(rp, why);
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct reporter *rp = arg;
	rp->st.redis_errors++;
	conn_abort(rp, rp->state == CONN_READY ? "no reply in time" : "connect timed out");
}

static void disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct reporter *rp = ac->data;
	(void)status;
	if (rp->freeing || ac != rp->ac)
		return;
	rp->ac = NULL;
	conn_lost(rp, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void check_cb(redisAsyncContext *ac, void *r, void *priv);
static void send_fix(struct reporter *rp);

/* Redis answered on this connection: it works, so the backoff starts over. */
static void link_works(struct reporter *rp)
{
	if (rp->answered)
		return;
	rp->answered = true;
	rp->backoff = RECONNECT_MIN_S;
	if (rp->flaps) {
		char a[400];
		rlog("redis %s: connected (after %" PRIu64 " connection(s) closed before an answer)",
		     redis_addr_str(&rp->redis, a, sizeof(a)), rp->flaps);
		rp->flaps = 0;
	}
}

static void on_ready(struct reporter *rp)
{
	char a[400];
	rp->state = CONN_READY;
	evtimer_del(rp->ev_watchdog);
	if (rp->ever_ready)
		rp->st.reconnects++;
	if (rp->away && !rp->flaps)
		rlog("redis %s: connected", redis_addr_str(&rp->redis, a, sizeof(a)));
	rp->ever_ready = true;
	rp->away = false;
	if (rp->delivered_dirty)
		send_fix(rp);
	if (rp->uncertain) {
		/* Did the XADD that was unanswered when the link died get in? */
		const char *argv[] = {"GET", rp->k_delivered};
		if (redisAsyncCommandArgv(rp->ac, check_cb, rp, 2, argv, NULL) == REDIS_OK) {
			rp->checking = true;
			timer_in(rp->ev_watchdog, REPLY_TIMEOUT_S);
		}
	}
	if (!rp->idmap_polled && rp->idmap_poll_s > 0)
		event_active(rp->ev_idmap, EV_TIMEOUT, 0);
	event_active(rp->ev_hb, EV_TIMEOUT, 0);
	pump(rp);
}

static void auth_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (!reply || rp->freeing || ac != rp->ac)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		rp->st.redis_errors++;
		/* Redis's reply names no secret ("WRONGPASS invalid username-password pair"). */
		char a[400];
		rlog("redis %s: AUTH%s%s refused: %.200s", redis_addr_str(&rp->redis, a, sizeof(a)),
		     rp->redis.user[0] ? " as " : "", rp->redis.user, reply->str);
		redisAsyncDisconnect(ac);
		return;
	}
	on_ready(rp);
}

static void connect_cb(const redisAsyncContext *cac, int status)
{
	struct reporter *rp = cac->data;
	if (rp->freeing || cac != rp->ac)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback returns. */
		rp->ac = NULL;
		conn_lost(rp, cac->errstr[0] ? cac->errstr : "connect failed");
		return;
	}
	redisAsyncContext *ac = rp->ac;
	if (rp->redis.password[0]) {
		rp->state = CONN_AUTH;
		int rc;
		if (rp->redis.user[0]) {
			const char *argv[] = {"AUTH", rp->redis.user, rp->redis.password};
			rc = redisAsyncCommandArgv(ac, auth_cb, rp, 3, argv, NULL);
		} else {
			const char *argv[] = {"AUTH", rp->redis.password};
			rc = redisAsyncCommandArgv(ac, auth_cb, rp, 2, argv, NULL);
		}
		if (rc != REDIS_OK)
			redisAsyncDisconnect(ac);
		return;
	}
	on_ready(rp);
}

static void conn_start(struct reporter *rp)
{
	if (rp->ac || rp->freeing)
		return;
	evtimer_del(rp->ev_connect);
	redisAsyncContext *ac = rp->redis.path[0] ? redisAsyncConnectUnix(rp->redis.path)
						  : redisAsyncConnect(rp->redis.host, rp->redis.port);
	if (!ac || ac->err) {
		char why[160];
		snprintf(why, sizeof(why), "%s", ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		conn_lost(rp, why);
		return;
	}
	ac->data = rp;
	if (redisLibeventAttach(ac, rp->base) != REDIS_OK) {
		redisAsyncFree(ac);
		conn_lost(rp, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, connect_cb);
	redisAsyncSetDisconnectCallback(ac, disconnect_cb);
	rp->ac = ac;
	rp->state = CONN_CONNECTING;
	timer_in(rp->ev_watchdog, CONNECT_TIMEOUT_S);
}

static void connect_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_start(arg);
}

/* Asks for a connection soon, unless one is up or already coming. */
static void want_connection(struct reporter *rp)
{
	if (!rp->ac && !evtimer_pending(rp->ev_connect, NULL))
		timer_in(rp->ev_connect, 0);
}

/* --- sending --------------------------------------------------------- */

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct reporter *rp = arg;
	rp->retry_wait = false;
	pump(rp);
}

/* An XADD unanswered for OVERDUE_S (a stalled or paused Redis): keep what
 * waits on disk while the watchdog gives it until REPLY_TIMEOUT_S. */
static void overdue_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct reporter *rp = arg;
	if (!rp->inflight)
		return;
	rp->refusing = true;
	spill_all(rp);
	refresh_stats(rp);
}

static void xadd_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (rp->freeing)
		return;
	if (!rp->inflight)
		return;
	rp->inflight = false;
	if (!reply || ac != rp->ac) {
		/* The link died with this XADD unanswered: it may be in the stream. */
		rp->uncertain = true;
		rp->uncertain_seq = rp->inflight_seq;
		return;
	}
	evtimer_del(rp->ev_watchdog);
	evtimer_del(rp->ev_overdue);
	if (reply->type != REDIS_REPLY_ERROR)
		link_works(rp);
	/* EXEC: [entry id, OK] when the XADD went in; an error element or an
	 * EXECABORT when it did not (unless it ran alone, MULTI refused). */
	bool ok = rp->tx_direct;
	const redisReply *why = reply;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1) {
		why = reply->element[0];
		ok = why->type == REDIS_REPLY_STRING || why->type == REDIS_REPLY_STATUS;
	}
	if (!ok) {
		if (reply->type == REDIS_REPLY_ARRAY) {
			rp->delivered_dirty = true;
			rp->fix_delivered = rp->inflight_seq - 1;
			send_fix(rp);
		}
		reply = (redisReply *)why;
		rp->st.redis_errors++;
		/* Redis holds nothing of ours while it refuses: keep reports on disk. */
		rp->refusing = true;
		spill_all(rp);
		refresh_stats(rp);
		if (log_worthy(rp->st.redis_errors))
			rlog("XADD %s of report %" PRIu64 " failed: %.200s (retrying in %.1fs; %" PRIu64
			     " errors so far)", rp->k_stream, rp->inflight_seq,
			     reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply",
			     rp->err_backoff, rp->st.redis_errors);
		rp->retry_wait = true;
		timer_in(rp->ev_retry, rp->err_backoff);
		rp->err_backoff = fmin(rp->err_backoff * 2, ERROR_RETRY_MAX_S);
		return;
	}
	rp->err_backoff = ERROR_RETRY_MIN_S;
	rp->refusing = false;
	acked(rp, rp->inflight_seq);
	pump(rp);
}

static void check_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (rp->freeing || !rp->checking)
		return;
	rp->checking = false;
	if (!reply || ac != rp->ac)
		return;         /* still uncertain; checked on the next connection */
	evtimer_del(rp->ev_watchdog);
	if (reply->type != REDIS_REPLY_ERROR)
		link_works(rp);
	rp->uncertain = false;
	if (reply->type == REDIS_REPLY_STRING) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(reply->str, &end, 10);
		if (errno || end == reply->str || *end) {
			rp->st.redis_errors++;          /* not ours: send again, deduped */
		} else if (v >= rp->uncertain_seq) {
			rp->dups_avoided++;
			rlog("report %" PRIu64 " is already in %s (its reply was lost): "
			     "not sent again", rp->uncertain_seq, rp->k_stream);
			acked(rp, rp->uncertain_seq);
		}
	} else if (reply->type != REDIS_REPLY_NIL) {
		/* Can't tell: send it again; the collector dedupes by (sensor, seq). */
		rp->st.redis_errors++;
	}
	pump(rp);
}

static void fix_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (rp->freeing || !reply || ac != rp->ac)
		return;
	if (reply->type == REDIS_REPLY_STATUS)
		rp->delivered_dirty = false;
}

/* An XADD that failed at run time (WRONGTYPE) inside MULTI still let the
 * SET after it run: set delivered:ID back below the report, before any
 * later command on the link (a check, a retry) can read it. */
static void send_fix(struct reporter *rp)
{
	char v[24];
	snprintf(v, sizeof(v), "%" PRIu64, rp->fix_delivered);
	const char *argv[] = {"SET", rp->k_delivered, v};
	redisAsyncCommandArgv(rp->ac, fix_cb, rp, 3, argv, NULL);
}

/* MULTI's reply: refused (an ACL without it), the XADD runs on its own. */
static void multi_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (rp->freeing || !reply || ac != rp->ac)
		return;
	rp->tx_direct = reply->type == REDIS_REPLY_ERROR;
}

/* The XADD's own reply: QUEUED inside MULTI; an entry id when it ran alone. */
static void xadd_queued_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (rp->freeing || !reply || ac != rp->ac)
		return;
	if (rp->tx_direct && reply->type != REDIS_REPLY_STRING)
		rp->tx_direct = false;  /* it failed alone: nothing landed */
}

static void pump(struct reporter *rp)
{
	if (rp->state != CONN_READY || !rp->ac || rp->inflight || rp->retry_wait ||
	    rp->uncertain || rp->checking)
		return;
	uint64_t seq;
	const void *data;
	size_t len;
	for (;;) {
		if (spool_count(rp->spool)) {
			int rc = spool_front(rp->spool, &seq, &data, &len);
			if (rc < 0)
				continue;       /* unreadable record dropped and counted */
			if (rc == 1)
				return;
			break;
		}
		if (!rp->qlen)
			return;
		struct qitem *it = &rp->q[rp->qhead];
		seq = it->seq;
		data = it->json;
		len = it->len;
		break;
	}
	const char *argv[8];
	size_t argvlen[8];
	int argc = 0;
	argv[argc++] = "XADD";
	argv[argc++] = rp->k_stream;
	if (rp->maxlen[0]) {
		argv[argc++] = "MAXLEN";
		argv[argc++] = "~";
		argv[argc++] = rp->maxlen;
	}
	argv[argc++] = "*";
	argv[argc++] = "report";
	argv[argc++] = data;
	for (int i = 0; i < argc - 1; i++)
		argvlen[i] = strlen(argv[i]);
	argvlen[argc - 1] = len;        /* a spooled payload has no NUL */
	/* hiredis copies each command into its output buffer right away. */
	char seqs[24];
	snprintf(seqs, sizeof(seqs), "%" PRIu64, seq);
	const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
	const char *set[] = {"SET", rp->k_delivered, seqs};
	rp->tx_direct = false;
	if (redisAsyncCommandArgv(rp->ac, multi_cb, rp, 1, multi, NULL) != REDIS_OK ||
	    redisAsyncCommandArgv(rp->ac, xadd_queued_cb, rp, argc, argv, argvlen) != REDIS_OK ||
	    redisAsyncCommandArgv(rp->ac, NULL, NULL, 3, set, NULL) != REDIS_OK ||
	    redisAsyncCommandArgv(rp->ac, xadd_cb, rp, 1, exec, NULL) != REDIS_OK)
		return;
	rp->inflight = true;
	rp->inflight_seq = seq;
	timer_in(rp->ev_watchdog, REPLY_TIMEOUT_S);
	timer_in(rp->ev_overdue, OVERDUE_S);
}

/* --- heartbeat and identity map ---------------------------------------- */

static void hb_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (rp->freeing || !reply || ac != rp->ac)
		return;
	if (reply->type != REDIS_REPLY_ERROR)
		link_works(rp);     /* "-ERR max number of clients" is no answer */
	if (rp->hb_pending)
		rp->hb_pending--;
	if (reply->type == REDIS_REPLY_ERROR) {
		rp->st.redis_errors++;
		if (log_worthy(rp->st.redis_errors))
			rlog("heartbeat %s: %.200s", rp->k_sensor, reply->str);
	}
}

static void hb_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct reporter *rp = arg;
	if (rp->state != CONN_READY || !rp->ac) {
		want_connection(rp);
		return;
	}
	if (rp->hb_pending)
		return;
	refresh_stats(rp);
	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	const struct spool_stats *ss = spool_stats(rp->spool);
	enum { NF = 15 };
	char v[NF][32];
	snprintf(v[0], 32, "%" PRIu64, rp->cap.packets_seen);
	snprintf(v[1], 32, "%" PRIu64, rp->cap.packets_undecoded);
	snprintf(v[2], 32, "%" PRIu64, rp->cap.drops_kernel);
	snprintf(v[3], 32, "%" PRIu64, rp->cap.drops_iface);
	snprintf(v[4], 32, "%" PRIu64, rp->st.queue_depth);
	snprintf(v[5], 32, "%" PRIu64, rp->st.spool_depth);
	snprintf(v[6], 32, "%" PRIu64, rp->st.spool_dropped);
	snprintf(v[7], 32, "%" PRIu64, rp->st.sent);
	snprintf(v[8], 32, "%" PRIu64, rp->last_seq);
	snprintf(v[9], 32, "%.6f", rp->last_end);
	snprintf(v[10], 32, "%.3f", (double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
	snprintf(v[11], 32, "%" PRIu64, rp->seq_errors);
	snprintf(v[12], 32, "%" PRIu64, ss->io_errors);
	snprintf(v[13], 32, "%" PRIu64, ss->torn);
	snprintf(v[14], 32, "%" PRIu64, ss->rejected);
	static const char *const names[NF] = {
		"packets_seen", "packets_undecoded", "drops_kernel", "drops_iface",
		"queue_depth", "spool_depth", "spool_dropped", "sent", "last_report_seq",
		"last_report_end", "wall_time", "seq_write_errors", "spool_write_errors",
		"spool_corrupt", "spool_rejected",
	};
	const char *argv[2 + 2 * NF];
	int argc = 0;
	argv[argc++] = "HSET";
	argv[argc++] = rp->k_sensor;
	for (int i = 0; i < NF; i++) {
		argv[argc++] = names[i];
		argv[argc++] = v[i];
	}
	char ttl[24];
	/* Outlives a few missed beats, so a dashboard sees "stale", then "gone". */
	snprintf(ttl, sizeof(ttl), "%ld", (long)fmax(ceil(rp->heartbeat_s * 3), 10));
	const char *ex[] = {"EXPIRE", rp->k_sensor, ttl};
	const char *sadd[] = {"SADD", rp->k_sensors, rp->sensor_id};
	if (redisAsyncCommandArgv(rp->ac, hb_reply_cb, rp, argc, argv, NULL) == REDIS_OK)
		rp->hb_pending++;
	if (redisAsyncCommandArgv(rp->ac, hb_reply_cb, rp, 3, ex, NULL) == REDIS_OK)
		rp->hb_pending++;
	if (redisAsyncCommandArgv(rp->ac, hb_reply_cb, rp, 3, sadd, NULL) == REDIS_OK)
		rp->hb_pending++;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t fnv1a(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static void idmap_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct reporter *rp = priv;
	redisReply *reply = r;
	if (rp->freeing || !reply || ac != rp->ac)
		return;
	rp->idmap_busy = false;
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
		rp->st.redis_errors++;
		if (log_worthy(rp->st.redis_errors))
			rlog("HGETALL %s: %.200s", rp->k_idmap,
			     reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
		return;
	}
	rp->idmap_polled = true;
	size_t n = reply->elements / 2;
	if (n > IDMAP_MAX_ENTRIES) {
		rp->idmap_bad++;
		if (log_worthy(rp->idmap_bad))
			rlog("%s has %zu entries, more than %u: not used", rp->k_idmap, n,
			     IDMAP_MAX_ENTRIES);
		return;
	}
	/* Order-independent, so the same content in another order is no change. */
	uint64_t h = mix64(n + 1);
	for (size_t i = 0; i < n; i++) {
		const redisReply *k = reply->element[2 * i], *v = reply->element[2 * i + 1];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
			continue;
		uint64_t e = fnv1a(0xcbf29ce484222325ull, k->str, k->len);
		e = fnv1a(e, "", 1);
		e = fnv1a(e, v->str, v->len);
		h += mix64(e);
	}
	if (!rp->idmap_cb || h == rp->idmap_hash)
		return;
	/* The feeder's entries go on top of the base (the map file): added
	 * later, they take precedence for the same prefix. */
	struct identity_map *m = rp->idmap_base ? rp->idmap_base(rp->idmap_ctx) : identity_map_new();
	if (!m)
		return;         /* tried again at the next poll */
	size_t bad = 0;
	for (size_t i = 0; i < n; i++) {
		const redisReply *k = reply->element[2 * i], *v = reply->element[2 * i + 1];
		char err[256];
		if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    strlen(k->str) != k->len || strlen(v->str) != v->len) {
			bad++;
			continue;
		}
		if (identity_map_add(m, k->str, v->str, err, sizeof(err)) < 0) {
			if (bad++ < 5)
				rlog("%s: entry \"%.64s\": %s (skipped)", rp->k_idmap, k->str, err);
		}
	}
	rp->idmap_bad += bad;
	rp->idmap_hash = h;
	rp->idmap_updates++;
	rlog("identity map from %s: %zu entries, %zu skipped", rp->k_idmap, n - bad, bad);
	rp->idmap_cb(rp->idmap_ctx, m);
}

static void idmap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct reporter *rp = arg;
	if (rp->state != CONN_READY || !rp->ac || rp->idmap_busy)
		return;
	const char *argv[] = {"HGETALL", rp->k_idmap};
	if (redisAsyncCommandArgv(rp->ac, idmap_reply_cb, rp, 2, argv, NULL) == REDIS_OK)
		rp->idmap_busy = true;
}

/* --- the interface ----------------------------------------------------- */

static bool sensor_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > SENSOR_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
		    !strchr("._:@/-", c))
			return false;
	}
	return true;
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

struct reporter *reporter_new(struct event_base *base, const struct reporter_config *cfg,
			      char *err, size_t errlen)
{
	if (!sensor_id_valid(cfg->sensor_id)) {
		snprintf(err, errlen, "sensor id must be 1..%d of [A-Za-z0-9._:@/-]",
			 SENSOR_NAME_MAX);
		return NULL;
	}
	if (!cfg->spool_dir || !cfg->spool_dir[0]) {
		snprintf(err, errlen, "no spool directory");
		return NULL;
	}
	if (!cfg->redis.path[0] && !cfg->redis.host[0]) {
		snprintf(err, errlen, "no redis address");
		return NULL;
	}
	struct reporter *rp = calloc(1, sizeof(*rp));
	if (!rp) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rp->base = base;
	rp->redis = cfg->redis;
	rp->spool_max = cfg->spool_max_bytes ? cfg->spool_max_bytes : DEFAULT_SPOOL_MAX;
	rp->qcap = cfg->queue_max ? cfg->queue_max : DEFAULT_QUEUE_MAX;
	rp->heartbeat_s = cfg->heartbeat_s > 0 ? cfg->heartbeat_s : DEFAULT_HEARTBEAT_S;
	rp->idmap_poll_s = cfg->idmap_poll_s < 0 ? DEFAULT_IDMAP_POLL_S : cfg->idmap_poll_s;
	if (cfg->stream_maxlen)
		snprintf(rp->maxlen, sizeof(rp->maxlen), "%zu", cfg->stream_maxlen);
	rp->backoff = RECONNECT_MIN_S;
	rp->err_backoff = ERROR_RETRY_MIN_S;
	const char *prefix = cfg->prefix ? cfg->prefix : "egress:";
	rp->prefix = strdup(prefix);
	rp->sensor_id = strdup(cfg->sensor_id);
	rp->spool_dir = strdup(cfg->spool_dir);
	rp->k_stream = join(prefix, "reports");
	rp->k_sensors = join(prefix, "sensors");
	rp->k_idmap = join(prefix, "identity-map");
	char *kd = join(prefix, "delivered:");
	rp->k_delivered = kd ? join(kd, cfg->sensor_id) : NULL;
	free(kd);
	char *ks = join(prefix, "sensor:");
	rp->k_sensor = ks ? join(ks, cfg->sensor_id) : NULL;
	free(ks);
	rp->seq_path = join(cfg->spool_dir, "/seq");
	rp->seq_tmp = join(cfg->spool_dir, "/seq.tmp");
	rp->q = calloc(rp->qcap, sizeof(*rp->q));
	rp->ev_connect = evtimer_new(base, connect_timer_cb, rp);
	rp->ev_retry = evtimer_new(base, retry_cb, rp);
	rp->ev_watchdog = evtimer_new(base, watchdog_cb, rp);
	rp->ev_deadline = evtimer_new(base, noop_cb, rp);
	rp->ev_overdue = evtimer_new(base, overdue_cb, rp);
	rp->ev_hb = event_new(base, -1, EV_PERSIST, hb_cb, rp);
	rp->ev_idmap = event_new(base, -1, EV_PERSIST, idmap_cb, rp);
	if (!rp->prefix || !rp->sensor_id || !rp->spool_dir || !rp->k_stream || !rp->k_sensors ||
	    !rp->k_idmap || !rp->k_sensor || !rp->k_delivered || !rp->seq_path || !rp->seq_tmp || !rp->q ||
	    !rp->ev_connect || !rp->ev_retry || !rp->ev_watchdog || !rp->ev_deadline ||
	    !rp->ev_overdue ||
	    !rp->ev_hb || !rp->ev_idmap) {
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	rp->spool = spool_open(cfg->spool_dir, rp->spool_max, true, err, errlen);
	if (!rp->spool)
		goto out_free;
	const struct spool_stats *ss = spool_stats(rp->spool);
	if (ss->torn)
		rlog("spool %s: %" PRIu64 " torn or corrupt record(s) discarded", cfg->spool_dir,
		     ss->torn);
	if (ss->bad_flags)
		rlog("spool %s: %" PRIu64 " record(s) with a corrupt flags word: sent again",
		     cfg->spool_dir, ss->bad_flags);
	if (ss->rejected)
		rlog("spool %s: %" PRIu64 " segment file(s) left in place unread (cannot be opened "
		     "read-write, or not named as this spool names them)", cfg->spool_dir,
		     ss->rejected);
	if (ss->records) {
		rlog("spool %s: %" PRIu64 " report(s) from an earlier run to send first",
		     cfg->spool_dir, ss->records);
		/* The earlier run may have died with the front's XADD unanswered
		 * (a kill while Redis went away): look for it before sending. */
		uint64_t key;
		const void *data;
		size_t len;
		if (spool_front(rp->spool, &key, &data, &len) == 0) {
			rp->uncertain = true;
			rp->uncertain_seq = key;
		}
	}
	if (load_seq(rp, &rp->next_seq, err, errlen) < 0)
		goto out_free;
	if (spool_max_key(rp->spool) >= rp->next_seq)
		rp->next_seq = spool_max_key(rp->spool) + 1;
	/* A seq file that can't be rewritten may be stale (an earlier run
	 * numbered past it without persisting): number from the clock. */
	if (store_seq(rp, rp->next_seq) < 0) {
		rp->seq_errors++;
		uint64_t c = clock_seq();
		if (c > rp->next_seq)
			rp->next_seq = c;
		rlog("cannot write %s: %s; numbering from the clock (%" PRIu64 ")", rp->seq_path,
		     strerror(errno), rp->next_seq);
	}
	struct timeval hb = tv_of(rp->heartbeat_s);
	event_add(rp->ev_hb, &hb);
	if (rp->idmap_poll_s > 0) {
		struct timeval ip = tv_of(rp->idmap_poll_s);
		event_add(rp->ev_idmap, &ip);
	}
	/* Lazy: the first attempt runs from the loop, never in here. */
	want_connection(rp);
	refresh_stats(rp);
	return rp;
out_free:
	reporter_free(rp);
	return NULL;
}

void reporter_free(struct reporter *rp)
{
	if (!rp)
		return;
	rp->freeing = true;
	if (rp->spool) {
		spill_all(rp);
		if (rp->qlen)
			rlog("%zu report(s) could not be written to the spool in %s: lost",
			     rp->qlen, rp->spool_dir);
	}
	if (rp->ac) {
		redisAsyncContext *ac = rp->ac;
		rp->ac = NULL;
		redisAsyncFree(ac);
	}
	struct event *evs[] = {rp->ev_connect, rp->ev_retry, rp->ev_watchdog,
			       rp->ev_deadline, rp->ev_hb, rp->ev_idmap, rp->ev_overdue};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	for (size_t i = 0; rp->q && i < rp->qcap; i++)
		free(rp->q[i].json);
	free(rp->q);
	spool_close(rp->spool);
	free(rp->prefix);
	free(rp->sensor_id);
	free(rp->spool_dir);
	free(rp->k_stream);
	free(rp->k_sensor);
	free(rp->k_sensors);
	free(rp->k_idmap);
	free(rp->k_delivered);
	free(rp->seq_path);
	free(rp->seq_tmp);
	explicit_bzero(&rp->redis, sizeof(rp->redis));
	free(rp);
}

int reporter_submit(struct reporter *rp, struct report *r)
{
	if (!rp || !r)
		return -1;
	snprintf(r->sensor, sizeof(r->sensor), "%s", rp->sensor_id);
	r->seq = rp->next_seq;
	refresh_stats(rp);
	r->stats.spool_dropped = rp->st.spool_dropped;
	char *json = report_to_json(r);
	size_t len = json ? strlen(json) : 0;
	if (!json || len > SPOOL_RECORD_MAX) {
		rp->submit_errors++;
		rlog("report %" PRIu64 ": %s (not sent)", r->seq,
		     json ? "larger than a spool record" : "out of memory");
		free(json);
		return -1;
	}
	/* The number is spent durably first where the disk allows: no restart
	 * can hand it out again (see persist_seq for when it can't). */
	persist_seq(rp, rp->next_seq + 1);
	rp->next_seq++;
	rp->st.submitted++;
	queue_make_room(rp);
	struct qitem *it = &rp->q[(rp->qhead + rp->qlen) % rp->qcap];
	it->seq = r->seq;
	it->end = r->end;
	it->json = json;
	it->len = len;
	rp->qlen++;
	/* While Redis is away or refusing, a report waits on disk, where a
	 * crash keeps it. */
	if (rp->away || rp->refusing)
		spill_all(rp);
	refresh_stats(rp);
	want_connection(rp);
	pump(rp);
	return 0;
}

void reporter_set_capture_stats(struct reporter *rp, const struct report_stats *st)
{
	rp->cap = *st;
}

void reporter_on_identity_map(struct reporter *rp, struct identity_map *(*base)(void *ctx),
			      void (*cb)(void *ctx, struct identity_map *m), void *ctx)
{
	rp->idmap_base = base;
	rp->idmap_cb = cb;
	rp->idmap_ctx = ctx;
}

static size_t undelivered(const struct reporter *rp)
{
	return rp->qlen + spool_count(rp->spool);
}

size_t reporter_drain(struct reporter *rp, double timeout_s)
{
	double deadline = now_mono() + timeout_s;
	want_connection(rp);
	while (undelivered(rp)) {
		double left = deadline - now_mono();
		if (left <= 0)
			break;
		/* The deadline timer bounds each loop pass when nothing else fires. */
		timer_in(rp->ev_deadline, left);
		event_base_loop(rp->base, EVLOOP_ONCE);
	}
	evtimer_del(rp->ev_deadline);
	refresh_stats(rp);
	return undelivered(rp);
}

const struct reporter_stats *reporter_stats(const struct reporter *rp)
{
	return &rp->st;
}
