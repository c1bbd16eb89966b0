/*
 * report_drive: drives the sensor's reporter without a capture, for the
 * integration tests (tests/integration/t_reporter.sh) and for trying a Redis
 * setup by hand.
 *
 *   report_drive --redis ADDR --sensor ID --spool DIR [--count N] [--first K]
 *                [--pace S] [--duration S] [--drain S] [--queue-max N]
 *                [--spool-max BYTES] [--maxlen N] [--prefix P] [--idmap-poll S]
 *                [--heartbeat S] [--credentials FILE]
 *
 * Builds N reports numbered K.. (report i has three identities whose byte
 * counts are functions of i, so every report's content is distinct and
 * checkable: web-prod out_bytes = 1000000 + i, db-1 = 2000000 + i, batch-7
 * = 3000000 + i; start = 1742380800 + 10 (i - 1), end = start + 10), submits
 * one every S seconds from a timer on a libevent loop, keeps the loop running
 * until --duration wall seconds have passed (if given), then drains for up to
 * --drain seconds. Prints "submit seq=Q index=I len=L" per report (L: the
 * JSON length the reporter sends), "idmap prefixes=P names=N" per identity
 * map update, and a final "stats ..." line. Exit 0 when everything was
 * delivered, 3 when some stays spooled.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "identity_map.h"
#include "redis_addr.h"
#include "report.h"
#include "reporter.h"
#include "banned.h"

struct drive {
	struct event_base *base;
	struct reporter *rp;
	struct event *tick;
	uint64_t count, first, done;
	double t0, duration;
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void set_dest(struct report_dest *d, uint8_t last, uint16_t port, uint64_t bytes)
{
	uint8_t v4[4] = {198, 51, 100, last};
	memset(d, 0, sizeof(*d));
	addr_from_v4(&d->addr, v4);
	d->port = port;
	d->proto = 6;
	d->bytes = bytes;
	d->packets = bytes / 1000 + 1;
}

static void submit_one(struct drive *dv)
{
	uint64_t i = dv->first + dv->done;
	static const char *const names[3] = {"web-prod", "db-1", "batch-7"};
	struct report_identity ids[3];
	struct report_dest dests[3];
	memset(ids, 0, sizeof(ids));
	for (int k = 0; k < 3; k++) {
		snprintf(ids[k].name, sizeof(ids[k].name), "%s", names[k]);
		ids[k].out_bytes = (uint64_t)(k + 1) * 1000000 + i;
		ids[k].out_packets = 100 + (uint64_t)k;
		ids[k].in_bytes = 5000 + i;
		ids[k].in_packets = 10;
		ids[k].flows = 1;
		ids[k].has_flows = true;
		set_dest(&dests[k], (uint8_t)(7 + k), 443, ids[k].out_bytes);
		ids[k].dests = &dests[k];
		ids[k].ndests = 1;
	}
	struct report r;
	memset(&r, 0, sizeof(r));
	r.start = 1742380800.0 + 10.0 * (double)(i - 1);
	r.end = r.start + 10.0;
	r.ids = ids;
	r.nids = 3;
	r.stats.packets_seen = 1000 + i;
	if (reporter_submit(dv->rp, &r) == 0) {
		char *json = report_to_json(&r);   /* what the reporter just queued */
		printf("submit seq=%" PRIu64 " index=%" PRIu64 " len=%zu\n", r.seq, i,
		       json ? strlen(json) : 0);
		free(json);
	} else {
		printf("submit failed index=%" PRIu64 "\n", i);
	}
	fflush(stdout);
	struct report_stats cs = {.packets_seen = 1000 + i};
	reporter_set_capture_stats(dv->rp, &cs);
	dv->done++;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct drive *dv = arg;
	if (dv->done < dv->count)
		submit_one(dv);
	bool more = dv->done < dv->count || now_mono() - dv->t0 < dv->duration;
	if (!more)
		event_base_loopbreak(dv->base);
}

static void on_idmap(void *ctx, struct identity_map *m)
{
	(void)ctx;
	printf("idmap prefixes=%zu names=%u\n", identity_map_prefixes(m), identity_map_names(m));
	fflush(stdout);
	identity_map_free(m);
}

static void usage(void)
{
	fprintf(stderr, "usage: report_drive --redis ADDR --sensor ID --spool DIR [--count N] "
			"[--first K] [--pace S] [--duration S] [--drain S] [--queue-max N] "
			"[--spool-max BYTES] [--maxlen N] [--prefix P] [--idmap-poll S] "
			"[--heartbeat S] [--credentials FILE]\n");
	exit(2);
}

static double num(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || v < 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"redis", 1, 0, 'r'},     {"sensor", 1, 0, 's'},     {"spool", 1, 0, 'S'},
		{"count", 1, 0, 'n'},     {"first", 1, 0, 'f'},      {"pace", 1, 0, 'p'},
		{"duration", 1, 0, 'd'},  {"drain", 1, 0, 'D'},      {"queue-max", 1, 0, 'q'},
		{"spool-max", 1, 0, 'm'}, {"maxlen", 1, 0, 'M'},     {"prefix", 1, 0, 'P'},
		{"idmap-poll", 1, 0, 'i'}, {"heartbeat", 1, 0, 'h'}, {"credentials", 1, 0, 'c'},
		{0, 0, 0, 0},
	};
	struct reporter_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	const char *redis = NULL, *cred = NULL;
	struct drive dv = {.count = 10, .first = 1};
	double pace = 0.05, drain = 30;
	cfg.idmap_poll_s = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': redis = optarg; break;
		case 's': cfg.sensor_id = optarg; break;
		case 'S': cfg.spool_dir = optarg; break;
		case 'n': dv.count = (uint64_t)num(optarg); break;
		case 'f': dv.first = (uint64_t)num(optarg); break;
		case 'p': pace = num(optarg); break;
		case 'd': dv.duration = num(optarg); break;
		case 'D': drain = num(optarg); break;
		case 'q': cfg.queue_max = (size_t)num(optarg); break;
		case 'm': cfg.spool_max_bytes = (uint64_t)num(optarg); break;
		case 'M': cfg.stream_maxlen = (size_t)num(optarg); break;
		case 'P': cfg.prefix = optarg; break;
		case 'i': cfg.idmap_poll_s = num(optarg); break;
		case 'h': cfg.heartbeat_s = num(optarg); break;
		case 'c': cred = optarg; break;
		default: usage();
		}
	}
	if (!redis || !cfg.sensor_id || !cfg.spool_dir || dv.first == 0)
		usage();
	char err[512];
	if (redis_addr_parse(redis, &cfg.redis, err, sizeof(err)) < 0) {
		fprintf(stderr, "report_drive: %s\n", err);
		return 2;
	}
	if (cred) {
		int rc = redis_addr_load_credentials(cred, &cfg.redis, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "report_drive: %s\n", err);
			return 2;
		}
		if (rc > 0)
			fprintf(stderr, "report_drive: warning: %s\n", err);
	}
	signal(SIGPIPE, SIG_IGN);
	dv.base = event_base_new();
	dv.rp = reporter_new(dv.base, &cfg, err, sizeof(err));
	if (!dv.rp) {
		fprintf(stderr, "report_drive: %s\n", err);
		return 2;
	}
	reporter_on_identity_map(dv.rp, NULL, on_idmap, NULL);
	dv.tick = event_new(dv.base, -1, EV_PERSIST, tick_cb, &dv);
	struct timeval tv = {(time_t)pace, (suseconds_t)((pace - (double)(time_t)pace) * 1e6)};
	if (tv.tv_sec == 0 && tv.tv_usec == 0)
		tv.tv_usec = 1;
	dv.t0 = now_mono();
	event_add(dv.tick, &tv);
	if (dv.count || dv.duration > 0)
		event_base_dispatch(dv.base);
	event_free(dv.tick);
	size_t left = reporter_drain(dv.rp, drain);
	const struct reporter_stats *st = reporter_stats(dv.rp);
	printf("stats submitted=%" PRIu64 " sent=%" PRIu64 " spooled=%" PRIu64
	       " spool_dropped=%" PRIu64 " queue_depth=%" PRIu64 " spool_depth=%" PRIu64
	       " redis_errors=%" PRIu64 " reconnects=%" PRIu64 " undelivered=%zu\n",
	       st->submitted, st->sent, st->spooled, st->spool_dropped, st->queue_depth,
	       st->spool_depth, st->redis_errors, st->reconnects, left);
	reporter_free(dv.rp);
	event_base_free(dv.base);
	return left ? 3 : 0;
}
