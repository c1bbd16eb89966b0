/*
 * egress-sensor: capture -> decode -> direction -> identity -> aggregate ->
 * report (DESIGN.md "Sensor command line").
 *
 * This file is the I/O edge: options, config, the capture handle, the event
 * loop, signals and output. Everything decided per packet lives in
 * pipeline.c and below.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <malloc.h>
#include <math.h>
#include <pcap/pcap.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "direction.h"
#include "hash.h"
#include "identity_map.h"
#include "pipeline.h"
#include "privdrop.h"
#include "redis_addr.h"
#include "reporter.h"
#include "sandbox.h"
#include "savefile.h"
#include "sensor_config.h"
#include "summary.h"
#include "banned.h"

#define IDMAP_FILE_MAX (64u << 20)     /* identities.conf: 100,000 prefixes fit many times */
#define BATCH 4096                      /* frames per event-loop turn when replaying */

struct opts {
	const char *file, *iface, *conf, *internal, *redis, *id, *spool_dir;
	double flush_interval;
	bool summary, check_config, progress, no_progress;
};

struct sensor {
	struct opts o;
	struct sensor_config cfg;
	pcap_t *pcap;
	char *file_buf;                 /* -r: the FILE's read buffer, freed after pcap_close */
	struct savefile *sf;            /* -r: reads the records instead of libpcap, or NULL */
	struct bpf_program file_filter; /* -r: [sensor] filter, compiled for the file's link type */
	int dlt;
	int32_t frac_ns;                /* nanoseconds in a unit of tv_usec: 1, or 1000 where a
					 * device would not give nanoseconds */
	struct pipeline *pl;
	/* --summary: the single whole-capture report */
	struct report whole;
	struct agg_totals whole_totals;
	size_t agg_memory;
	/* reporting */
	struct event_base *base;
	struct reporter *rp;
	struct event *ev_batch, *ev_pcap, *ev_tick, *ev_sigint, *ev_sigterm, *ev_sighup;
	bool eof, stopping;
	uint64_t folded;                /* identities report_fit() moved to ~overflow */
	const char *read_error;
	char read_error_buf[PCAP_ERRBUF_SIZE];
	/* identities.conf as read at start: merged into every map the
	 * reporter loads from Redis (the chroot hides the file later) */
	char *idmap_file;
	size_t idmap_file_len;
	char idmap_path[SENSOR_PATH_MAX * 2];
	/* progress on a terminal */
	long file_size;
	struct timespec t0, last_progress;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: egress-sensor -r FILE [-c CONF] --summary\n"
		"       egress-sensor -r FILE -c CONF        replay a capture into Redis\n"
		"       egress-sensor -i IFACE -c CONF       live capture, report to Redis\n"
		"       egress-sensor --check-config -c CONF\n"
		"options: --internal CIDR[,CIDR...]  --redis host:port|unix:/path  --id NAME\n"
		"         --spool-dir DIR  --flush-interval SECONDS  --no-progress\n");
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_SUMMARY = 256, O_INTERNAL, O_CHECK, O_REDIS, O_ID, O_SPOOL, O_FLUSH, O_NOPROG };
	static const struct option longopts[] = {
		{"summary", no_argument, NULL, O_SUMMARY},
		{"internal", required_argument, NULL, O_INTERNAL},
		{"check-config", no_argument, NULL, O_CHECK},
		{"redis", required_argument, NULL, O_REDIS},
		{"id", required_argument, NULL, O_ID},
		{"spool-dir", required_argument, NULL, O_SPOOL},
		{"flush-interval", required_argument, NULL, O_FLUSH},
		{"no-progress", no_argument, NULL, O_NOPROG},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "r:i:c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->file = optarg; break;
		case 'i': o->iface = optarg; break;
		case 'c': o->conf = optarg; break;
		case O_SUMMARY: o->summary = true; break;
		case O_INTERNAL: o->internal = optarg; break;
		case O_CHECK: o->check_config = true; break;
		case O_REDIS: o->redis = optarg; break;
		case O_ID: o->id = optarg; break;
		case O_SPOOL: o->spool_dir = optarg; break;
		case O_FLUSH: {
			char *end;
			o->flush_interval = strtod(optarg, &end);
			if (*end || !(o->flush_interval >= 1)) {
				fprintf(stderr, "egress-sensor: --flush-interval: expected seconds >= 1\n");
				return -1;
			}
			break;
		}
		case O_NOPROG: o->no_progress = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "egress-sensor: unexpected argument \"%s\"\n", argv[optind]);
		return -1;
	}
	if (o->check_config) {
		if (!o->conf) {
			fprintf(stderr, "egress-sensor: --check-config needs -c CONF\n");
			return -1;
		}
		return 0;
	}
	if (!!o->file + !!o->iface != 1) {
		fprintf(stderr, "egress-sensor: give exactly one of -r FILE or -i IFACE\n");
		usage(stderr);
		return -1;
	}
	if (o->summary && !o->file) {
		fprintf(stderr, "egress-sensor: --summary reads a capture file (-r)\n");
		return -1;
	}
	if (!o->summary && !o->conf) {
		fprintf(stderr, "egress-sensor: reporting to Redis needs -c CONF (or use --summary)\n");
		return -1;
	}
	return 0;
}

/* Reads all of path (at most max bytes) into a new buffer. */
static int read_whole_file(const char *path, size_t max, char **buf, size_t *len, char *err,
			   size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return -1;
	}
	char *b = malloc(max + 1);
	size_t n = b ? fread(b, 1, max + 1, f) : 0;
	int bad = ferror(f);
	fclose(f);
	if (!b || bad || n > max) {
		snprintf(err, errlen, "%s", !b ? "out of memory" : bad ? "read error" : "larger than 64 MiB");
		free(b);
		return -1;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* Loads config and identity map; every problem goes to d. */
static int load_config(struct sensor *s, struct identity_map **idmap, struct prefix_table **internal,
		       struct diag *d)
{
	char err[256];
	sensor_config_defaults(&s->cfg);
	if (s->o.conf)
		sensor_config_load(&s->cfg, s->o.conf, d);
	if (s->o.internal) {
		if (strlen(s->o.internal) >= sizeof(s->cfg.internal))
			diag_add(d, "--internal", 0, "list too long");
		else
			memcpy(s->cfg.internal, s->o.internal, strlen(s->o.internal) + 1);
	}
	if (s->o.id) { /* the config's id is checked where it is read, with its line */
		if (strlen(s->o.id) >= sizeof(s->cfg.id) || !report_identity_name_valid(s->o.id))
			diag_add(d, "--id", 0, "sensor id \"%s\" is not a valid name", s->o.id);
		snprintf(s->cfg.id, sizeof(s->cfg.id), "%s", s->o.id);
	}
	if (s->o.redis)
		snprintf(s->cfg.redis, sizeof(s->cfg.redis), "%s", s->o.redis);
	if (s->o.spool_dir)
		snprintf(s->cfg.spool_dir, sizeof(s->cfg.spool_dir), "%s", s->o.spool_dir);
	if (s->o.flush_interval > 0)
		s->cfg.flush_interval = s->o.flush_interval;
	if (direction_parse_internal(s->cfg.internal, internal, err, sizeof(err)))
		diag_add(d, s->o.internal ? "--internal" : (s->o.conf ? s->o.conf : "internal"), 0, "%s", err);
	*idmap = NULL;
	if (s->cfg.identities[0]) {
		char path[SENSOR_PATH_MAX * 2];
		/* A relative map path is relative to the config file's folder. */
		if (s->cfg.identities[0] != '/' && s->o.conf && strchr(s->o.conf, '/')) {
			int dirlen = (int)(strrchr(s->o.conf, '/') - s->o.conf);
			snprintf(path, sizeof(path), "%.*s/%s", dirlen, s->o.conf, s->cfg.identities);
		} else {
			snprintf(path, sizeof(path), "%s", s->cfg.identities);
		}
		snprintf(s->idmap_path, sizeof(s->idmap_path), "%s", path);
		*idmap = identity_map_new();
		if (!*idmap)
			diag_add(d, path, 0, "out of memory");
		else if (read_whole_file(path, IDMAP_FILE_MAX, &s->idmap_file, &s->idmap_file_len, err,
					 sizeof(err)))
			diag_add(d, path, 0, "%s", err);
		else
			identity_map_load_buffer(*idmap, path, s->idmap_file, s->idmap_file_len, d);
	}
	struct redis_addr ra = {0};
	if (s->o.redis && redis_addr_parse(s->cfg.redis, &ra, err, sizeof(err)))
		diag_add(d, "--redis", 0, "%s", err); /* the config's is checked where it is read */
	return d->count ? -1 : 0;
}

/* ---- --summary ---- */

static void on_whole_flush(void *ctx, struct report *r)
{
	struct sensor *s = ctx;
	const struct agg *a = pipeline_agg(s->pl);
	s->whole_totals = *agg_totals(a);
	s->agg_memory = agg_memory(a);
	s->whole = *r;                  /* take the identities: the pipeline releases r */
	memset(r, 0, sizeof(*r));
}

static void show_progress(struct sensor *s, bool final)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	double el = (double)(now.tv_sec - s->t0.tv_sec) + (now.tv_nsec - s->t0.tv_nsec) / 1e9;
	double since = (double)(now.tv_sec - s->last_progress.tv_sec) +
		       (now.tv_nsec - s->last_progress.tv_nsec) / 1e9;
	if (!final && since < 0.5)
		return;
	s->last_progress = now;
	uint64_t n = pipeline_stats(s->pl)->packets_seen;
	long pos = s->sf ? (long)savefile_offset(s->sf) : s->pcap ? ftell(pcap_file(s->pcap)) : 0;
	double pct = s->file_size > 0 && pos >= 0 ? 100.0 * (double)pos / (double)s->file_size : 0;
	fprintf(stderr, "\r%llu packets  %.2f Mpps  %5.1f%%%s", (unsigned long long)n,
		el > 0 ? (double)n / el / 1e6 : 0, final ? 100.0 : pct, final ? "\n" : "");
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct sensor *s = (struct sensor *)user;
	pipeline_packet(s->pl, s->dlt, pipeline_ns(h->ts.tv_sec, (int64_t)h->ts.tv_usec * s->frac_ns),
			bytes, h->caplen, h->len);
}

/* A capture file gets the configured BPF filter too, alone: the Redis
 * exclusion is for the live interface the sensor reports through. */
static int filter_file(struct sensor *s, char *err, size_t errlen)
{
	if (pcap_compile(s->pcap, &s->file_filter, s->cfg.filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "[sensor] filter: %s", pcap_geterr(s->pcap));
		return -1;
	}
	if (s->sf) {
		savefile_set_filter(s->sf, &s->file_filter);
	} else if (pcap_setfilter(s->pcap, &s->file_filter) < 0) {
		snprintf(err, errlen, "[sensor] filter: %s", pcap_geterr(s->pcap));
		return -1;
	}
	return 0;
}

/* Reads up to cnt frames (-1: all). Returns what pcap_dispatch returned. */
static int read_some(struct sensor *s, int cnt)
{
	int n = s->sf ? savefile_dispatch(s->sf, cnt, on_packet, (u_char *)s)
		      : pcap_dispatch(s->pcap, cnt, on_packet, (u_char *)s);
	if (n < 0) { /* PCAP_ERROR; nothing breaks the loop, so no other */
		snprintf(s->read_error_buf, sizeof(s->read_error_buf), "%s",
			 s->sf ? savefile_error(s->sf) : pcap_geterr(s->pcap));
		s->read_error = s->read_error_buf;
		s->eof = true;
	} else if (n == 0 && s->o.file) {
		s->eof = true;
	}
	return n;
}

static int run_summary(struct sensor *s)
{
	while (!s->eof) {
		read_some(s, 65536);
		if (s->o.progress)
			show_progress(s, false);
	}
	if (s->o.progress)
		show_progress(s, true);
	pipeline_finish(s->pl);
	const struct pipeline_stats *st = pipeline_stats(s->pl);
	struct summary_input in = {
		.source = s->o.file, .link_type = s->dlt, .report = &s->whole,
		.totals = s->whole_totals, .stats = st, .agg_memory = s->agg_memory,
		.read_error = s->read_error,
	};
	int wrc = summary_write(stdout, &in);
	report_release(&s->whole);
	if (wrc != 0) {
		fprintf(stderr, "egress-sensor: writing the summary: %s\n", strerror(errno));
		return 1;
	}
	if (s->read_error) {
		fprintf(stderr, "egress-sensor: %s: %s (summary covers the packets before it)\n",
			s->o.file, s->read_error);
		return 1;
	}
	return 0;
}

/* ---- reporting to Redis ---- */

static void on_flush(void *ctx, struct report *r)
{
	struct sensor *s = ctx;
	s->folded += report_fit(r, s->cfg.max_report_bytes);
	reporter_submit(s->rp, r);
}

/*
 * The map a feeder keeps in Redis is built on top of identities.conf (kept
 * in memory: the chroot hides the file later): the file's entries stay, the
 * feeder's take precedence for the same prefix, otherwise the longest prefix
 * decides.
 */
static struct identity_map *identity_map_base(void *ctx)
{
	struct sensor *s = ctx;
	struct identity_map *m = identity_map_new();
	if (m && s->idmap_file) {
		struct diag d = {0};
		identity_map_load_buffer(m, s->idmap_path, s->idmap_file, s->idmap_file_len, &d);
	}
	return m;
}

static void on_identity_map(void *ctx, struct identity_map *m)
{
	struct sensor *s = ctx;
	pipeline_set_identity_map(s->pl, m);
}

static void update_stats(struct sensor *s)
{
	const struct pipeline_stats *st = pipeline_stats(s->pl);
	struct report_stats rs = {.packets_seen = st->packets_seen,
				  .packets_undecoded = st->packets_undecoded};
	struct pcap_stat ps;
	if (s->o.iface && pcap_stats(s->pcap, &ps) == 0) {
		pipeline_set_drops(s->pl, ps.ps_drop, ps.ps_ifdrop);
		rs.drops_kernel = ps.ps_drop;
		rs.drops_iface = ps.ps_ifdrop;
	}
	reporter_set_capture_stats(s->rp, &rs);
}

static void stop(struct sensor *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	update_stats(s);
	pipeline_finish(s->pl);
	event_base_loopexit(s->base, NULL);
}

static void on_batch(evutil_socket_t fd, short what, void *arg)
{
	struct sensor *s = arg;
	(void)fd;
	(void)what;
	if (s->stopping)
		return;
	/* Replaying a file: don't outrun Redis while it keeps up; when it is away
	 * the reporter spools, so capture never waits for long. */
	const struct reporter_stats *rs = reporter_stats(s->rp);
	static double waited_since;
	if (rs->queue_depth >= s->cfg.queue_max / 2 + 1) {
		double now = mono_now();
		if (waited_since == 0)
			waited_since = now;
		if (now - waited_since < 2.0) {
			struct timeval tv = {0, 2000};
			event_add(s->ev_batch, &tv);
			return;
		}
	}
	waited_since = 0;
	read_some(s, BATCH);
	if (s->o.progress)
		show_progress(s, false);
	if (s->eof) {
		if (s->o.progress)
			show_progress(s, true);
		stop(s);
		return;
	}
	event_active(s->ev_batch, EV_TIMEOUT, 0);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct sensor *s = arg;
	(void)fd;
	(void)what;
	read_some(s, -1);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sensor *s = arg;
	(void)fd;
	(void)what;
	update_stats(s);
	if (s->o.iface) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		pipeline_advance(s->pl, pipeline_ns(ts.tv_sec, ts.tv_nsec));
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	stop(arg);
}

/* Opens the spool (and the reporter) while we may still create and own it. */
static int open_reporter(struct sensor *s, const struct redis_addr *ra)
{
	char err[256];
	struct reporter_config rc_cfg = {
		.redis = *ra, .prefix = s->cfg.prefix, .sensor_id = s->cfg.id,
		.spool_dir = s->cfg.spool_dir, .spool_max_bytes = s->cfg.spool_max,
		.queue_max = s->cfg.queue_max, .heartbeat_s = s->cfg.heartbeat,
		.idmap_poll_s = s->cfg.identity_map_poll, .stream_maxlen = s->cfg.stream_maxlen,
	};
	if (mkdir(s->cfg.spool_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "egress-sensor: spool_dir %s: %s\n", s->cfg.spool_dir, strerror(errno));
		return -1;
	}
	if (privdrop_prepare_dir(s->cfg.user, s->cfg.spool_dir, err, sizeof(err))) {
		fprintf(stderr, "egress-sensor: %s\n", err);
		return -1;
	}
	s->base = event_base_new();
	if (!s->base) {
		fprintf(stderr, "egress-sensor: cannot create the event loop\n");
		return -1;
	}
	s->rp = reporter_new(s->base, &rc_cfg, err, sizeof(err));
	if (!s->rp) {
		fprintf(stderr, "egress-sensor: %s\n", err);
		return -1;
	}
	return 0;
}

static int run_reporting(struct sensor *s)
{
	int rc = 1;
	reporter_on_identity_map(s->rp, identity_map_base, on_identity_map, s);
	s->ev_sigint = evsignal_new(s->base, SIGINT, on_signal, s);
	s->ev_sigterm = evsignal_new(s->base, SIGTERM, on_signal, s);
	/* A hang-up (the terminal of a foreground replay, or an operator
	 * expecting a reload as the collector does) stops cleanly too: the
	 * default action would lose the interval in hand and the memory queue. */
	s->ev_sighup = evsignal_new(s->base, SIGHUP, on_signal, s);
	s->ev_tick = event_new(s->base, -1, EV_PERSIST, on_tick, s);
	if (!s->ev_sigint || !s->ev_sigterm || !s->ev_sighup || !s->ev_tick)
		goto out;
	event_add(s->ev_sigint, NULL);
	event_add(s->ev_sigterm, NULL);
	event_add(s->ev_sighup, NULL);
	struct timeval sec = {1, 0};
	event_add(s->ev_tick, &sec);
	if (s->o.file) {
		s->ev_batch = event_new(s->base, -1, 0, on_batch, s);
		if (!s->ev_batch)
			goto out;
		event_active(s->ev_batch, EV_TIMEOUT, 0);
	} else {
		int fd = pcap_get_selectable_fd(s->pcap);
		s->ev_pcap = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, s);
		if (fd < 0 || !s->ev_pcap)
			goto out;
		struct timeval poll = {0, 100000};  /* TPACKET_V3 blocks may need a nudge */
		event_add(s->ev_pcap, &poll);
	}
	event_base_dispatch(s->base);
	size_t left = reporter_drain(s->rp, 10.0);
	const struct reporter_stats *st = reporter_stats(s->rp);
	fprintf(stderr, "egress-sensor: %llu packets, %llu reports sent, %zu left in the spool\n",
		(unsigned long long)pipeline_stats(s->pl)->packets_seen, (unsigned long long)st->sent, left);
	if (s->folded)
		fprintf(stderr, "egress-sensor: %llu identities folded into %s to keep reports under "
				"max_report_bytes\n", (unsigned long long)s->folded, OVERFLOW_IDENTITY);
	rc = s->read_error ? 1 : 0;
	if (s->read_error)
		fprintf(stderr, "egress-sensor: %s: %s\n", s->o.file, s->read_error);
out:
	if (s->ev_batch)
		event_free(s->ev_batch);
	if (s->ev_pcap)
		event_free(s->ev_pcap);
	if (s->ev_tick)
		event_free(s->ev_tick);
	if (s->ev_sigint)
		event_free(s->ev_sigint);
	if (s->ev_sigterm)
		event_free(s->ev_sigterm);
	if (s->ev_sighup)
		event_free(s->ev_sighup);
	return rc;
}

int main(int argc, char **argv)
{
	static struct sensor s;
	struct diag d;
	struct identity_map *idmap = NULL;
	struct prefix_table *internal = NULL;
	char err[PCAP_ERRBUF_SIZE + 512];
	int rc = 1;

	/* Redis may close a socket the sensor is still writing (CLIENT KILL,
	 * maxclients, a restart): that is a lost connection for the reporter
	 * to handle (EPIPE), not a reason to die with the queue in memory. */
	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &s.o))
		return 2;
	/* A report (up to max_report_bytes) is built, copied into hiredis's
	 * buffer and freed every flush interval: keep freed memory for the
	 * next one instead of returning it and faulting it in, zeroed, again. */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	memset(&d, 0, sizeof(d));
	if (load_config(&s, &idmap, &internal, &d)) {
		diag_print(&d, stderr);
		identity_map_free(idmap);
		prefix_table_free(internal);
		return s.o.check_config ? 1 : 2;
	}
	if (s.o.check_config) {
		printf("%s: OK\n", s.o.conf);
		identity_map_free(idmap);
		prefix_table_free(internal);
		return 0;
	}
	struct redis_addr ra = {0};
	if (redis_addr_parse(s.cfg.redis, &ra, err, sizeof(err))) {
		fprintf(stderr, "egress-sensor: %s\n", err);
		rc = 2;
		goto out_free_config;
	}
	if (s.cfg.credentials_file[0] && !s.o.summary) {
		int cr = redis_addr_load_credentials(s.cfg.credentials_file, &ra, err, sizeof(err));
		if (cr < 0) {
			fprintf(stderr, "egress-sensor: %s\n", err);
			goto out_free_config;
		}
		if (cr > 0)
			fprintf(stderr, "egress-sensor: warning: %s\n", err);
	}

	if (s.o.file) {
		s.file_buf = malloc(CAPTURE_FILE_BUF);
		if (!s.file_buf)
			snprintf(err, sizeof(err), "out of memory");
		else
			s.pcap = capture_open_file(s.o.file, s.file_buf, err, sizeof(err));
		struct stat st;
		if (s.pcap && stat(s.o.file, &st) == 0)
			s.file_size = st.st_size;
		/* Standard input may start anywhere in its file: libpcap reads it. */
		if (s.pcap && !s.cfg.libpcap_reader && strcmp(s.o.file, "-") != 0)
			s.sf = savefile_open(s.pcap);
	} else {
		struct capture_live_opts lo = {
			.iface = s.o.iface, .snaplen = s.cfg.snaplen, .buffer_size = s.cfg.buffer_size,
			.filter = s.cfg.filter, .exclude = s.cfg.exclude_redis ? &ra : NULL,
		};
		s.pcap = capture_open_live(&lo, err, sizeof(err));
	}
	if (!s.pcap) {
		/* A capture libpcap refuses is rejected input, like bad config. */
		fprintf(stderr, "egress-sensor: %s\n", err);
		rc = 2;
		goto out_free_config;
	}
	s.dlt = pcap_datalink(s.pcap);
	/* Asked for nanoseconds (files always give them; a device may not). */
	s.frac_ns = pcap_get_tstamp_precision(s.pcap) == PCAP_TSTAMP_PRECISION_NANO ? 1 : 1000;
	if (!decode_link_supported(s.dlt))
		fprintf(stderr, "egress-sensor: warning: link type %d (%s) is not decoded; "
				"its packets count as undecoded\n",
			s.dlt, pcap_datalink_val_to_name(s.dlt) ? pcap_datalink_val_to_name(s.dlt) : "?");
	if (s.o.file && s.cfg.filter[0] && filter_file(&s, err, sizeof(err))) {
		fprintf(stderr, "egress-sensor: %s: %s\n", s.o.file, err);
		rc = 2;
		goto out_close_pcap;
	}

	if (!s.o.summary && open_reporter(&s, &ra))
		goto out_close_pcap;

	/* Everything privileged is open: give up root before the first packet. */
	if (privdrop_apply(s.cfg.user, s.cfg.chroot_dir, err, sizeof(err))) {
		fprintf(stderr, "egress-sensor: %s\n", err);
		goto out_close_pcap;
	}
	if (s.cfg.seccomp && sandbox_apply(SANDBOX_SENSOR, err, sizeof(err))) {
		fprintf(stderr, "egress-sensor: %s\n", err);
		goto out_close_pcap;
	}

	struct hash_key key;
	if (hash_seed_random(&key)) {
		fprintf(stderr, "egress-sensor: no random seed for hashing\n");
		goto out_close_pcap;
	}
	struct pipeline_params pp = {.decode = s.cfg.decode, .limits = s.cfg.limits,
				     .flush_interval = s.o.summary ? 0 : s.cfg.flush_interval};
	s.pl = pipeline_new(&pp, internal, idmap, &key, s.o.summary ? on_whole_flush : on_flush, &s);
	internal = NULL;
	idmap = NULL;
	if (!s.pl) {
		fprintf(stderr, "egress-sensor: out of memory for the tables (see [limits])\n");
		goto out_close_pcap;
	}
	s.o.progress = s.o.file && !s.o.no_progress && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &s.t0);

	if (s.o.summary) {
		rc = run_summary(&s);
	} else {
		rc = run_reporting(&s);
	}
	pipeline_free(s.pl);
out_close_pcap:
	reporter_free(s.rp);
	if (s.base)
		event_base_free(s.base);
	savefile_free(s.sf);
	pcap_freecode(&s.file_filter);
	pcap_close(s.pcap);
out_free_config:
	free(s.file_buf);
	free(s.idmap_file);
	identity_map_free(idmap);
	prefix_table_free(internal);
	return rc;
}
