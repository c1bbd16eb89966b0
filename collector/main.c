/*
 * egress-collector: consumes sensor reports from Redis, keeps per-identity
 * windows, evaluates the config's rules and raises alerts.
 *
 *   egress-collector -c CONF [--redis ADDR] [--alerts-file PATH] [--http ADDR|off]
 *   egress-collector --check-config -c CONF
 *   egress-collector --backtest -c CONF [--reports FILE.jsonl] [--against OLD.conf]
 *   egress-collector --dump-state -c CONF [--redis ADDR]
 *
 * The live loop runs on libevent: a timer reads one batch (pending entries
 * first after a start, then new ones), applies it with the engine, and
 * commits it with store_commit() in one MULTI/EXEC; signals and the HTTP
 * hook are events on the same loop, so they run between batches. Any Redis
 * error drops the in-memory state and the connection: the next attempt
 * reloads the committed state and re-reads the pending entries, exactly as a
 * restart after a crash does.
 *
 * Takeover: a session starts by claiming every entry pending on other
 * consumers of the group (a collector that died, or ran under another
 * name), whatever its idle time, before it reads anything new. The state it
 * loaded is the one those consumers committed, so their unacked entries are
 * exactly the next reports to apply: read in stream order ahead of newer
 * ones, their seqs follow the sensors' last applied and nothing is lost or
 * mistaken for a duplicate. While running, entries left pending on another
 * consumer for [collector] claim_idle are claimed too (a second collector
 * on the same stream that then died); their reports may then come after
 * newer ones of the same sensor, where the seq dedupe drops them, counted
 * as duplicates: one writer per state is the supported setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "backtest.h"
#include "collector_config.h"
#include "collector_http.h"
#include "diag.h"
#include "engine.h"
#include "redis_addr.h"
#include "report.h"
#include "sandbox.h"
#include "store.h"
#include "banned.h"

#define RECONCILE_ALERTS 1000
#define IDLE_POLL_S 0.05
#define CLAIM_PAGE 1000
#define TRIMMED_REASON "entry trimmed from the stream before it was applied"

struct app {
	const char *conf_path;
	struct collector_config *cfg;
	struct redis_addr redis;
	bool redis_override;
	char alerts_file[4096];
	bool alerts_override;
	char http[256];
	bool http_override;
	bool exit_when_idle;

	struct engine *engine;
	struct store *store;
	bool pending_phase;
	char pending_after[48];
	double backoff;
	double det_saved_at;            /* monotonic seconds of the last detector save */
	double claim_at;                /* monotonic seconds of the next idle-entry claim */
	int alerts_fd;

	struct event_base *base;
	struct event *timer;
	bool stop;
	struct collector_http *http_hook;
	struct collector_view view;
	struct collector_ingest ingest;
	char prefix[64];                /* the view's: a reload frees cfg, the prefix stays */
};

__attribute__((format(printf, 1, 2))) static void logmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("egress-collector: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wall clock, for the ingest metrics only (never for an alert decision). */
static double wall_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fputs("usage: egress-collector -c CONF [--redis ADDR] [--alerts-file PATH] [--http ADDR|off]\n"
	      "       egress-collector --check-config -c CONF\n"
	      "       egress-collector --backtest -c CONF [--reports FILE.jsonl] [--against OLD.conf]\n"
	      "       egress-collector --dump-state -c CONF [--redis ADDR]\n"
	      "  --exit-when-idle   stop (saving state) once the stream is drained\n",
	      f);
}

static struct report_limits limits_of(const struct collector_config *c)
{
	struct report_limits l = {c->max_report_bytes, 0, 0};
	return l;
}

/* ---- alerts file ---- */

/* Appends one line with a single write, so a crash leaves whole lines or a
 * torn last line that the next start cuts off. */
static void file_append(int fd, const char *json)
{
	if (fd < 0)
		return;
	size_t n = strlen(json);
	char *line = malloc(n + 1);
	if (!line)
		return;
	memcpy(line, json, n);
	line[n] = '\n';
	ssize_t w = write(fd, line, n + 1);
	if (w != (ssize_t)(n + 1))
		logmsg("alerts file: write failed: %s", w < 0 ? strerror(errno) : "short write");
	free(line);
}

static bool id_in(char **ids, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return true;
	return false;
}

/*
 * Makes the file agree with the stream: cuts a torn last line, then appends
 * the stream's recent alerts the file lacks (a crash between the commit and
 * the append). Only the file's tail is read, which is where they would be.
 */
static void reconcile_alerts(struct app *a)
{
	if (a->alerts_fd < 0)
		return;
	struct stat st;
	if (fstat(a->alerts_fd, &st) != 0)
		return;
	off_t size = st.st_size;
	off_t from = size > (4 << 20) ? size - (4 << 20) : 0;
	size_t len = (size_t)(size - from);
	char *buf = malloc(len + 1);
	if (!buf)
		return;
	ssize_t got = pread(a->alerts_fd, buf, len, from);
	if (got < 0)
		got = 0;
	buf[got] = '\0';
	size_t keep = (size_t)got;
	while (keep && buf[keep - 1] != '\n')
		keep--;
	if (keep != (size_t)got) {
		logmsg("alerts file: cutting a torn last line (%zu bytes)", (size_t)got - keep);
		if (ftruncate(a->alerts_fd, from + (off_t)keep) != 0)
			logmsg("alerts file: truncate: %s", strerror(errno));
		buf[keep] = '\0';
	}
	char **ids = NULL;
	size_t nids = 0;
	for (char *line = buf, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = '\0';
		json_t *j = json_loads(line, 0, NULL);
		const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
		if (id) {
			char **ni = realloc(ids, (nids + 1) * sizeof(*ni));
			if (ni) {
				ids = ni;
				ids[nids] = strdup(id);
				if (ids[nids])
					nids++;
			}
		}
		json_decref(j);
	}
	free(buf);
	struct store_entry *v;
	size_t n;
	char err[256];
	if (store_recent_alerts(a->store, RECONCILE_ALERTS, &v, &n, err, sizeof(err)) == 0) {
		size_t added = 0;
		for (size_t i = 0; i < n; i++) {
			if (!v[i].report)
				continue;
			json_t *j = json_loads(v[i].report, 0, NULL);
			const char *id = j ? json_string_value(json_object_get(j, "id")) : NULL;
			if (id && !id_in(ids, nids, id)) {
				file_append(a->alerts_fd, v[i].report);
				added++;
			}
			json_decref(j);
		}
		if (added)
			logmsg("alerts file: appended %zu alert(s) it was missing", added);
		store_entries_free(v, n);
	} else {
		logmsg("alerts file: reconcile: %s", err);
	}
	for (size_t i = 0; i < nids; i++)
		free(ids[i]);
	free(ids);
}

/* ---- the live loop ---- */

static void drop_connection(struct app *a)
{
	store_free(a->store);
	a->store = NULL;
	engine_free(a->engine);
	a->engine = NULL;
}

static void schedule(struct app *a, double s)
{
	struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
	evtimer_add(a->timer, &tv);
}

/*
 * Dead-letters entries that left the pending list trimmed from the stream
 * (store_claim's deleted ids) and counts them, in one commit. They are out
 * of the pending list already, so a crash before this commit loses their
 * dead letters (never a report: those were gone with the trim).
 */
static int commit_trimmed(struct app *a, const struct store_entry *del, size_t ndel)
{
	char err[512];
	struct store_dead *dead = calloc(ndel, sizeof(*dead));
	if (!dead) {
		logmsg("claim: out of memory");
		return -1;
	}
	for (size_t i = 0; i < ndel; i++) {
		dead[i].entry_id = del[i].id;
		snprintf(dead[i].reason, sizeof(dead[i].reason), TRIMMED_REASON);
		engine_count_dead(a->engine, dead[i].reason);
	}
	int rc = store_commit(a->store, a->engine, NULL, 0, dead, ndel, NULL, NULL, false, err,
			      sizeof(err));
	if (rc != 0)
		logmsg("commit: %s", err);
	free(dead);
	return rc;
}

/*
 * Moves the group's pending entries idle at least min_idle_s to this
 * consumer (the pending phase then reads them in stream order). The number
 * claimed, or -1 on a Redis error.
 */
static long claim_pending(struct app *a, double min_idle_s)
{
	char err[512], cursor[48] = "0-0";
	size_t total = 0, trimmed = 0;
	do {
		size_t claimed, ndel;
		struct store_entry *del;
		if (store_claim(a->store, (long long)(min_idle_s * 1000), cursor, sizeof(cursor),
				CLAIM_PAGE, &claimed, &del, &ndel, err, sizeof(err)) != 0) {
			logmsg("claim: %s", err);
			return -1;
		}
		int rc = ndel ? commit_trimmed(a, del, ndel) : 0;
		store_entries_free(del, ndel);
		if (rc != 0)
			return -1;
		total += claimed;
		trimmed += ndel;
	} while (strcmp(cursor, "0-0") != 0);
	if (total || trimmed)
		logmsg("claimed %zu pending entries idle over %gs (%zu trimmed from the stream: dead-lettered)",
		       total, min_idle_s, trimmed);
	return (long)total;
}

static int start_session(struct app *a)
{
	char err[512], ab[512];
	a->store = store_connect(&a->redis, a->cfg->prefix, a->cfg->group, a->cfg->consumer, 5.0,
				 err, sizeof(err));
	if (!a->store) {
		logmsg("redis %s: %s", redis_addr_str(&a->redis, ab, sizeof(ab)), err);
		return -1;
	}
	a->engine = engine_new(a->cfg);
	size_t corrupt = 0, others = 0;
	bool created = false;
	if (!a->engine || store_ensure_group(a->store, &created, err, sizeof(err)) != 0 ||
	    store_load(a->store, a->engine, &corrupt, err, sizeof(err)) != 0 ||
	    store_pending_others(a->store, &others, err, sizeof(err)) != 0) {
		logmsg("redis %s: %s", redis_addr_str(&a->redis, ab, sizeof(ab)), a->engine ? err : "out of memory");
		drop_connection(a);
		return -1;
	}
	if (corrupt)
		logmsg("state: %zu corrupt record(s) skipped", corrupt);
	if (engine_load_rejected(a->engine))
		logmsg("state: %llu saved record(s) refused, the last: %s",
		       (unsigned long long)engine_load_rejected(a->engine), engine_load_error(a->engine));
	logmsg("connected to %s; state: %zu identities, %zu sensors, now %.3f",
	       redis_addr_str(&a->redis, ab, sizeof(ab)), engine_ident_count(a->engine),
	       engine_sensor_count(a->engine), engine_now(a->engine));
	if (created)
		logmsg("consumer group %s created at entry %s (%s)", a->cfg->group,
		       store_acked(a->store),
		       strcmp(store_acked(a->store), "0") ? "the last one acked" : "the stream's start");
	reconcile_alerts(a);
	/* Takeover before anything new is read (see the top of the file). */
	if (others) {
		logmsg("taking over %zu entries pending on other consumers of %s", others, a->cfg->group);
		if (claim_pending(a, 0) < 0) {
			drop_connection(a);
			return -1;
		}
	}
	a->claim_at = monotonic_s() + a->cfg->claim_idle_s / 2;
	a->pending_phase = true;
	snprintf(a->pending_after, sizeof(a->pending_after), "0");
	return 0;
}

/*
 * Writes the detector's state alone when it learned since its last save
 * (the stream went idle, or the collector stops): every batch is committed
 * already, so this is all the state memory holds that Redis lacks.
 */
static int save_detector(struct app *a, char *err, size_t errlen)
{
	if (!a->engine || !a->store || !engine_detect_dirty(a->engine))
		return 0;
	if (store_commit(a->store, a->engine, NULL, 0, NULL, 0, NULL, NULL, true, err, errlen) != 0)
		return -1;
	engine_detect_saved(a->engine);
	a->det_saved_at = monotonic_s();
	return 0;
}

/* Applies a batch; fills dead letters. Returns the number applied. */
static void apply_batch(struct app *a, struct store_entry *v, size_t n, struct store_dead *dead,
			size_t *ndead, struct engine_alerts *alerts)
{
	struct report_limits lim = limits_of(a->cfg);
	*ndead = 0;
	for (size_t i = 0; i < n; i++) {
		struct store_dead *d = &dead[*ndead];
		d->entry_id = v[i].id;
		d->raw = v[i].report;
		d->rawlen = v[i].len;
		if (v[i].trimmed) {
			snprintf(d->reason, sizeof(d->reason), TRIMMED_REASON);
		} else if (!v[i].report) {
			snprintf(d->reason, sizeof(d->reason), "no report field");
		} else {
			struct report r;
			int rc = report_parse(v[i].report, v[i].len, &lim, &r, d->reason, sizeof(d->reason));
			if (rc == 0 && engine_apply(a->engine, &r, alerts, d->reason, sizeof(d->reason)) !=
					       ENGINE_REJECTED) {
				report_release(&r);
				continue;
			}
			report_release(&r);
		}
		engine_count_dead(a->engine, d->reason);
		(*ndead)++;
	}
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct app *a = arg;
	char err[512];
	if (a->stop)
		return;
	if (!a->store) {
		if (start_session(a) != 0) {
			a->backoff = a->backoff ? (a->backoff * 2 > 2 ? 2 : a->backoff * 2) : 0.1;
			schedule(a, a->backoff);
			return;
		}
		a->backoff = 0;
	}
	if (!a->pending_phase && monotonic_s() >= a->claim_at) {
		long c = claim_pending(a, a->cfg->claim_idle_s);
		a->claim_at = monotonic_s() + a->cfg->claim_idle_s / 2;
		if (c < 0) {
			a->ingest.reconnects++;
			drop_connection(a);
			schedule(a, 0.1);
			return;
		}
		if (c > 0) {
			a->pending_phase = true;
			snprintf(a->pending_after, sizeof(a->pending_after), "0");
		}
	}
	struct store_entry *v = NULL;
	size_t n = 0;
	if (store_read(a->store, a->pending_phase, a->pending_after, a->cfg->batch, &v, &n, err,
		       sizeof(err)) != 0) {
		logmsg("read: %s; reconnecting", err);
		a->ingest.reconnects++;
		drop_connection(a);
		schedule(a, 0.1);
		return;
	}
	if (n == 0) {
		if (save_detector(a, err, sizeof(err)) != 0) {
			logmsg("commit: %s; reconnecting", err);
			a->ingest.reconnects++;
			drop_connection(a);
			schedule(a, 0.1);
			return;
		}
		if (a->pending_phase) {
			a->pending_phase = false;
			schedule(a, 0);
		} else if (a->exit_when_idle) {
			a->stop = true;
			event_base_loopbreak(a->base);
		} else {
			schedule(a, IDLE_POLL_S);
		}
		return;
	}
	struct store_dead *dead = calloc(n, sizeof(*dead));
	bool *is_new = NULL;
	struct engine_alerts alerts = {0};
	if (!dead) {
		store_entries_free(v, n);
		schedule(a, 0.1);
		return;
	}
	size_t ndead;
	apply_batch(a, v, n, dead, &ndead, &alerts);
	is_new = calloc(alerts.n + 1, sizeof(*is_new));
	/* The detector's state is whole, not per identity: saved when the
	 * stream is caught up, and at least every [detect] checkpoint under
	 * load (a crash loses at most that much learning, never totals). */
	double mono = monotonic_s();
	bool save_det = engine_detect_dirty(a->engine) &&
			(n < a->cfg->batch || mono - a->det_saved_at >= a->cfg->detect_checkpoint_s);
	if (!is_new || store_commit(a->store, a->engine, v, n, dead, ndead, &alerts, is_new, save_det,
				    err, sizeof(err)) != 0) {
		logmsg("commit: %s; reconnecting", is_new ? err : "out of memory");
		a->ingest.reconnects++;
		drop_connection(a);
		schedule(a, 0.1);
	} else {
		if (save_det) {
			engine_detect_saved(a->engine);
			a->det_saved_at = mono;
		}
		for (size_t i = 0; i < alerts.n; i++) {
			if (is_new[i]) {
				file_append(a->alerts_fd, alerts.v[i].json);
				collector_ingest_count_alert(&a->ingest, alerts.v[i].json);
			}
		}
		collector_ingest_commit(&a->ingest, n, v[n - 1].id, wall_s());
		if (a->pending_phase)
			snprintf(a->pending_after, sizeof(a->pending_after), "%s", v[n - 1].id);
		schedule(a, 0);
	}
	free(is_new);
	free(dead);
	engine_alerts_clear(&alerts);
	store_entries_free(v, n);
}

static void stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct app *a = arg;
	logmsg("signal %d: stopping", (int)sig);
	a->stop = true;
	event_base_loopbreak(a->base);
}

static void hup_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct app *a = arg;
	struct diag d = {0};
	struct collector_config *nc = collector_config_load(a->conf_path, &d);
	if (!nc) {
		logmsg("reload of %s failed; keeping config %s:", a->conf_path, a->cfg->version);
		diag_print(&d, stderr);
		return;
	}
	if (strcmp(nc->prefix, a->cfg->prefix) || strcmp(nc->group, a->cfg->group) ||
	    strcmp(nc->consumer, a->cfg->consumer))
		logmsg("reload: prefix/group/consumer changes take effect on restart");
	/* Keep what takes a restart to change. */
	snprintf(nc->prefix, sizeof(nc->prefix), "%s", a->cfg->prefix);
	snprintf(nc->group, sizeof(nc->group), "%s", a->cfg->group);
	snprintf(nc->consumer, sizeof(nc->consumer), "%s", a->cfg->consumer);
	char derr[256];
	if (a->engine && engine_set_config(a->engine, nc, derr, sizeof(derr)) != 0)
		logmsg("reload: %s (the detector keeps its previous rules)", derr);
	collector_config_free(a->cfg);
	a->cfg = nc;
	logmsg("reloaded %s: config %s, %zu rules", a->conf_path, nc->version, nc->nrules);
}

static int run(struct app *a)
{
	int rc = 1;
	if (a->alerts_file[0]) {
		a->alerts_fd = open(a->alerts_file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (a->alerts_fd < 0) {
			logmsg("alerts file %s: %s", a->alerts_file, strerror(errno));
			return 1;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	a->base = event_base_new();
	if (!a->base)
		return 1;
	struct event *sterm = evsignal_new(a->base, SIGTERM, stop_cb, a);
	struct event *sint = evsignal_new(a->base, SIGINT, stop_cb, a);
	struct event *shup = evsignal_new(a->base, SIGHUP, hup_cb, a);
	a->timer = evtimer_new(a->base, poll_cb, a);
	if (!sterm || !sint || !shup || !a->timer)
		goto out_events;
	evsignal_add(sterm, NULL);
	evsignal_add(sint, NULL);
	evsignal_add(shup, NULL);
	a->view.engine = (const struct engine *const *)&a->engine;
	a->view.config = (const struct collector_config *const *)&a->cfg;
	a->view.redis = &a->redis;
	snprintf(a->prefix, sizeof(a->prefix), "%s", a->cfg->prefix);
	a->view.prefix = a->prefix;
	a->view.ingest = &a->ingest;
	if (strcmp(a->http, "off") != 0) {
		char err[256];
		a->http_hook = collector_http_start(a->base, a->http, &a->view, err, sizeof(err));
		if (!a->http_hook) {
			logmsg("http %s: %s", a->http, err);
			goto out_events;
		}
		logmsg("http: listening on %s (port %d)", a->http, collector_http_port(a->http_hook));
	}
	/* Connect while everything is still allowed; Redis being away is not a
	 * startup error: the loop retries, under the filter, as on any later
	 * reconnect. */
	if (start_session(a) != 0)
		a->backoff = 0.1;
	/* Listener bound, Redis connected, files open: from here on only the
	 * calls the collector's loop needs (Redis reconnects included), and
	 * no report or HTTP request has been parsed yet. */
	if (a->cfg->seccomp) {
		char err[256];
		if (sandbox_apply(SANDBOX_COLLECTOR, err, sizeof(err))) {
			logmsg("%s", err);
			goto out_events;
		}
	}
	schedule(a, a->backoff);
	event_base_dispatch(a->base);
	/* Every batch is committed before its callback returns; the detector's
	 * learning since its last save is all that is left to write. */
	char serr[512];
	if (!a->engine)
		logmsg("stopped; not connected");
	else if (save_detector(a, serr, sizeof(serr)) != 0)
		logmsg("stopped; the detector's state since its last save is lost: %s", serr);
	else
		logmsg("stopped; state saved");
	rc = 0;
	collector_http_stop(a->http_hook);
out_events:
	if (a->timer)
		event_free(a->timer);
	if (shup)
		event_free(shup);
	if (sint)
		event_free(sint);
	if (sterm)
		event_free(sterm);
	event_base_free(a->base);
	drop_connection(a);
	if (a->alerts_fd >= 0)
		close(a->alerts_fd);
	return rc;
}

/* ---- one-shot modes ---- */

/* --backtest: the candidate's alerts on stdout, the comparison on stderr. */
static int backtest(struct app *a, const char *reports, const char *against)
{
	char err[512];
	struct backtest_alerts cand = {0}, ref = {0};
	struct backtest_stats st;
	const char *ref_name = NULL;
	int rc = 1;
	if (backtest_replay(a->cfg, &a->redis, reports, &cand, &st, err, sizeof(err)) != 0) {
		logmsg("backtest: %s", err);
		goto out;
	}
	for (size_t i = 0; i < cand.n; i++)
		puts(cand.json[i]);
	fflush(stdout);
	logmsg("backtest: %zu reports, %zu rejected, %llu duplicates, %llu alerts", st.reports,
	       st.rejected, st.duplicates, st.alerts);
	if (against) {
		struct diag d = {0};
		struct collector_config *old = collector_config_load(against, &d);
		struct backtest_stats ost;
		if (!old) {
			diag_print(&d, stderr);
			goto out;
		}
		if (backtest_replay(old, &a->redis, reports, &ref, &ost, err, sizeof(err)) != 0) {
			logmsg("backtest: %s", err);
			collector_config_free(old);
			goto out;
		}
		collector_config_free(old);
		ref_name = against;
	} else if (!reports) {
		if (backtest_stream_alerts(a->cfg, &a->redis, 100000, &ref, err, sizeof(err)) != 0) {
			logmsg("backtest: %s", err);
			goto out;
		}
		ref_name = "the live config (alerts stream)";
	}
	if (ref_name)
		backtest_diff(stderr, &ref, &cand, ref_name);
	rc = 0;
out:
	backtest_alerts_free(&cand);
	backtest_alerts_free(&ref);
	return rc;
}

static int dump_state(struct app *a)
{
	char err[512];
	struct store *s = store_connect(&a->redis, a->cfg->prefix, a->cfg->group, a->cfg->consumer,
					10.0, err, sizeof(err));
	if (!s) {
		logmsg("redis: %s", err);
		return 1;
	}
	struct engine *e = engine_new(a->cfg);
	size_t corrupt = 0;
	int rc = 1;
	if (e && store_load(s, e, &corrupt, err, sizeof(err)) == 0) {
		json_t *j = engine_dump(e);
		json_object_set_new(j, "corrupt_records", json_integer((json_int_t)corrupt));
		char *text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
		if (text) {
			puts(text);
			rc = 0;
		}
		free(text);
		json_decref(j);
	} else {
		logmsg("redis: %s", e ? err : "out of memory");
	}
	engine_free(e);
	store_free(s);
	return rc;
}

int main(int argc, char **argv)
{
	enum { OPT_REDIS = 256, OPT_ALERTS, OPT_HTTP, OPT_CHECK, OPT_BACKTEST, OPT_REPORTS, OPT_AGAINST,
	       OPT_DUMP, OPT_IDLE, OPT_HELP };
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"redis", required_argument, NULL, OPT_REDIS},
		{"alerts-file", required_argument, NULL, OPT_ALERTS},
		{"http", required_argument, NULL, OPT_HTTP},
		{"check-config", no_argument, NULL, OPT_CHECK},
		{"backtest", no_argument, NULL, OPT_BACKTEST},
		{"reports", required_argument, NULL, OPT_REPORTS},
		{"against", required_argument, NULL, OPT_AGAINST},
		{"dump-state", no_argument, NULL, OPT_DUMP},
		{"exit-when-idle", no_argument, NULL, OPT_IDLE},
		{"help", no_argument, NULL, OPT_HELP},
		{NULL, 0, NULL, 0},
	};
	struct app a;
	memset(&a, 0, sizeof(a));
	a.alerts_fd = -1;
	const char *redis_spec = NULL, *reports = NULL, *against = NULL;
	bool check = false, bt = false, dump = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': a.conf_path = optarg; break;
		case OPT_REDIS: redis_spec = optarg; break;
		case OPT_ALERTS:
			snprintf(a.alerts_file, sizeof(a.alerts_file), "%s", optarg);
			a.alerts_override = true;
			break;
		case OPT_HTTP:
			snprintf(a.http, sizeof(a.http), "%s", optarg);
			a.http_override = true;
			break;
		case OPT_CHECK: check = true; break;
		case OPT_BACKTEST: bt = true; break;
		case OPT_REPORTS: reports = optarg; break;
		case OPT_AGAINST: against = optarg; break;
		case OPT_DUMP: dump = true; break;
		case OPT_IDLE: a.exit_when_idle = true; break;
		case 'h':
		case OPT_HELP: usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !a.conf_path || (reports && !bt) || (check + bt + dump) > 1) {
		usage(stderr);
		return 2;
	}
	struct diag d = {0};
	a.cfg = collector_config_load(a.conf_path, &d);
	if (!a.cfg) {
		diag_print(&d, stderr);
		return 1;
	}
	if (check) {
		printf("%s: ok (config %s, %zu rules, %zu groups, %zu identity overrides, %zu allowlists)\n",
		       a.conf_path, a.cfg->version, a.cfg->nrules, a.cfg->ngroups, a.cfg->nidents,
		       a.cfg->nallows);
		collector_config_free(a.cfg);
		return 0;
	}
	a.redis = a.cfg->redis;
	if (!a.cfg->has_redis)
		{
		char e0[64];
		redis_addr_parse("127.0.0.1:6379", &a.redis, e0, sizeof(e0));
	}
	if (redis_spec) {
		char err[256];
		struct redis_addr ra = a.redis;     /* keeps the config's credentials */
		if (redis_addr_parse(redis_spec, &ra, err, sizeof(err)) != 0) {
			fprintf(stderr, "egress-collector: --redis %s: %s\n", redis_spec, err);
			collector_config_free(a.cfg);
			return 2;
		}
		a.redis = ra;
	}
	if (!a.alerts_override)
		snprintf(a.alerts_file, sizeof(a.alerts_file), "%s", a.cfg->alerts_file);
	if (!a.http_override)
		snprintf(a.http, sizeof(a.http), "%s", a.cfg->http);
	int rc;
	if (bt)
		rc = backtest(&a, reports, against);
	else if (dump)
		rc = dump_state(&a);
	else
		rc = run(&a);
	collector_config_free(a.cfg);
	return rc;
}
