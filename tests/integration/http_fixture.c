/*
 * http_fixture: serves the real HTTP module (API, alert stream, metrics,
 * dashboard) with a fake, deterministic data provider, for the HTTP tests,
 * the browser test and the HTTP benchmark.
 *
 *   http_fixture [--listen 127.0.0.1:0] [--redis unix:/path] [--prefix egress:]
 *                [--token-file F] [--rate R] [--burst B] [--max-request N]
 *                [--cors ORIGIN] [--sse-max-clients N] [--sse-buf BYTES]
 *                [--heartbeat S] [--backlog N] [--ring N] [--top-n N]
 *                [--max-conns N] [--deadline S] [--sse-per-addr N] [--slow-ms N]
 *
 * Prints "port N" on stdout once it listens, runs until SIGTERM or SIGINT,
 * then frees everything (so ASan sees leaks). The provider counts its calls
 * in egresswatch_fixture_provider_calls_total, so a test can prove that a
 * rejected request never reached it.
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>

#include "http_api.h"
#include "redis_addr.h"
#include "banned.h"

#define T0 1742380800.0         /* 2025-03-19 10:40 UTC, the fixture's "now" minus a day */
#define NOW (T0 + 86400.0)

struct fake_identity {
	const char *name;
	double out_per_h, baseline_per_h;       /* bytes per hour */
	double in_ratio;
	const char *severity;                   /* of an open alert, or NULL */
	int flows;
};

static const struct fake_identity ids[] = {
	{"analytics-etl", 2.1e10, 1.1e9, 0.02, "high", 412},
	{"web-prod", 9.6e9, 8.8e9, 0.4, NULL, 98321},
	{"api-gateway", 7.2e9, 7.0e9, 0.6, NULL, 55410},
	{"backup-svc", 5.5e9, 1.6e9, 0.01, "medium", 17},
	{"k8s/payments/worker", 2.4e9, 2.5e9, 0.9, NULL, 3310},
	{"ci-runner-07", 1.9e9, 1.2e9, 1.8, NULL, 1204},
	{"db-replica-1", 8.1e8, 9.0e8, 0.1, NULL, 12},
	{"mail-relay", 3.3e8, 3.1e8, 0.5, NULL, 4410},
	{"vpn-user:alice", 1.2e8, 1.5e8, 3.0, NULL, 230},
	{"10.20.30.44", 4.4e7, 1.0e7, 0.2, "low", 9},
};
#define NIDS (sizeof(ids) / sizeof(ids[0]))

struct fake_alert {
	const char *id, *severity, *rule, *identity;
	double time, observed, baseline, threshold;
	const char *dest;
};

/* Newest first. */
static const struct fake_alert alerts[] = {
	{"a6", "high", "burst-1h", "analytics-etl", NOW - 600, 2.1e10, 1.1e9, 4.4e9, "198.51.100.7"},
	{"a5", "medium", "sustained-24h", "backup-svc", NOW - 3000, 1.3e11, 3.8e10, 1.1e11,
	 "203.0.113.50"},
	{"a4", "low", "new-destination", "10.20.30.44", NOW - 7200, 4.4e7, 1.0e7, 4.0e7,
	 "192.0.2.201"},
	{"a3", "high", "burst-1h", "ci-runner-07", NOW - 40000, 9.0e9, 1.2e9, 4.8e9,
	 "198.51.100.99"},
	{"a2", "critical", "burst-1h", "web-prod", NOW - 60000, 9.9e10, 8.8e9, 3.5e10,
	 "203.0.113.9"},
	{"a1", "medium", "sustained-24h", "db-replica-1", NOW - 80000, 4.0e10, 2.1e10, 3.5e10,
	 "192.0.2.17"},
};
#define NALERTS (sizeof(alerts) / sizeof(alerts[0]))

struct fixture {
	unsigned long long calls;
};

static int sev_rank(const char *s)
{
	static const char *const order[] = {"info", "low", "medium", "high", "critical"};
	for (int i = 0; i < 5; i++)
		if (s && strcmp(s, order[i]) == 0)
			return i;
	return -1;
}

static double window_hours(const char *w)
{
	return strcmp(w, "24h") == 0 ? 24 : strcmp(w, "7d") == 0 ? 168 : 1;
}

/* A day-shaped curve: quiet nights, busy afternoons. */
static double diurnal(double t)
{
	double h = fmod(t / 3600.0, 24.0);
	return 0.55 + 0.45 * sin((h - 8) / 24.0 * 2 * M_PI);
}

static json_t *dests_of(size_t i)
{
	static const char *const addrs[] = {"198.51.100.7", "203.0.113.50", "192.0.2.17",
					    "2001:db8:40::12", "198.51.100.99"};
	static const int ports[] = {443, 443, 22, 443, 8443};
	json_t *a = json_array();
	double share = 0.62;
	for (size_t k = 0; k < 5; k++) {
		double b = ids[i].out_per_h * share;
		json_array_append_new(a, json_pack("{s:s, s:i, s:s, s:I, s:I}", "addr",
						   addrs[(i + k) % 5], "port", ports[(i + k) % 5],
						   "proto", "tcp", "bytes", (json_int_t)b, "packets",
						   (json_int_t)(b / 1200)));
		share *= 0.45;
	}
	return a;
}

static double point(size_t i, double t)
{
	double v = ids[i].baseline_per_h / 6 * diurnal(t);
	/* The alerting identities ramp up over the last two hours. */
	if (ids[i].severity && t > NOW - 7200)
		v = ids[i].out_per_h / 6 * (0.7 + 0.3 * diurnal(t));
	return v;
}

static json_t *fx_identities(void *ctx, const char *window, size_t limit, size_t offset)
{
	struct fixture *f = ctx;
	f->calls++;
	double hrs = window_hours(window);
	json_t *arr = json_array();
	for (size_t i = offset; i < NIDS && i < offset + limit; i++) {
		json_t *series = json_array();
		for (int k = 0; k < 48; k++)
			json_array_append_new(
				series, json_integer((json_int_t)point(i, NOW - (47 - k) * 1800.0)));
		double out = ids[i].severity ? ids[i].baseline_per_h * (hrs - 1) + ids[i].out_per_h
					     : ids[i].out_per_h * hrs;
		json_array_append_new(
			arr, json_pack("{s:s, s:I, s:I, s:I, s:I, s:i, s:f, s:s?, s:o}", "identity",
				       ids[i].name, "out_bytes", (json_int_t)out, "baseline_bytes",
				       (json_int_t)(ids[i].baseline_per_h * hrs), "in_bytes",
				       (json_int_t)(out * ids[i].in_ratio), "lateral_bytes",
				       (json_int_t)(out * 0.01), "flows", ids[i].flows, "last_seen",
				       NOW - 5, "severity", ids[i].severity, "series", series));
	}
	return json_pack("{s:o, s:i}", "identities", arr, "total", (int)NIDS);
}

static json_t *alert_json(const struct fake_alert *a)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "%s sent %.1f GB in the window, %.1fx its baseline", a->identity,
		 a->observed / 1e9, a->observed / a->baseline);
	return json_pack("{s:s, s:f, s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:[{s:s, s:I}], s:[s], "
			 "s:f, s:s}",
			 "id", a->id, "time", a->time, "severity", a->severity, "rule", a->rule,
			 "identity", a->identity, "window_s", 3600, "observed_bytes",
			 (json_int_t)a->observed, "baseline_bytes", (json_int_t)a->baseline,
			 "threshold_bytes", (json_int_t)a->threshold, "top_destinations", "addr",
			 a->dest, "bytes", (json_int_t)(a->observed * 0.9), "sensors", "gw-eu-1",
			 "first_seen", a->time - 1800, "message", msg);
}

static json_t *fx_identity(void *ctx, const char *name)
{
	struct fixture *f = ctx;
	f->calls++;
	size_t i;
	for (i = 0; i < NIDS; i++)
		if (strcmp(ids[i].name, name) == 0)
			break;
	if (i == NIDS)
		return NULL;
	json_t *series = json_array();
	for (int k = 0; k < 144; k++) {
		double t = NOW - (143 - k) * 600.0;
		json_array_append_new(series,
				      json_pack("{s:f, s:I, s:I}", "t", t, "out_bytes",
						(json_int_t)point(i, t), "baseline_bytes",
						(json_int_t)(ids[i].baseline_per_h / 6 * diurnal(t))));
	}
	json_t *windows = json_object();
	static const char *const ws[] = {"1h", "24h", "7d"};
	for (int k = 0; k < 3; k++) {
		double h = window_hours(ws[k]);
		json_object_set_new(windows, ws[k],
				    json_pack("{s:I, s:I}", "out_bytes",
					      (json_int_t)(ids[i].out_per_h * h), "baseline_bytes",
					      (json_int_t)(ids[i].baseline_per_h * h)));
	}
	json_t *al = json_array();
	for (size_t k = 0; k < NALERTS; k++)
		if (strcmp(alerts[k].identity, name) == 0)
			json_array_append_new(al, alert_json(&alerts[k]));
	return json_pack("{s:s, s:o, s:o, s:o, s:[s,s], s:o, s:i}", "identity", name, "windows",
			 windows, "series", series, "top_destinations", dests_of(i), "sensors",
			 "gw-eu-1", "gw-us-1", "alerts", al, "flows", ids[i].flows);
}

static json_t *fx_alerts(void *ctx, double since, const char *severity, const char *identity,
			 size_t limit, const char *cursor)
{
	struct fixture *f = ctx;
	f->calls++;
	size_t start = 0;
	if (cursor) {
		char *end;
		unsigned long v = strtoul(cursor, &end, 10);
		if (*end || v > NALERTS)
			return NULL;
		start = v;
	}
	json_t *arr = json_array();
	size_t i, n = 0;
	for (i = start; i < NALERTS && n < limit; i++) {
		const struct fake_alert *a = &alerts[i];
		if (a->time < since || (severity && sev_rank(a->severity) < sev_rank(severity)) ||
		    (identity && strcmp(identity, a->identity) != 0))
			continue;
		json_array_append_new(arr, alert_json(a));
		n++;
	}
	json_t *next = json_null();
	if (i < NALERTS) {
		char c[32];
		snprintf(c, sizeof(c), "%zu", i);
		next = json_string(c);
	}
	return json_pack("{s:o, s:o}", "alerts", arr, "next_cursor", next);
}

static json_t *fx_sensors(void *ctx)
{
	struct fixture *f = ctx;
	f->calls++;
	return json_pack(
		"{s:[{s:s, s:i, s:f, s:i, s:I, s:i, s:i, s:i, s:i, s:b, s:i},"
		"{s:s, s:i, s:f, s:i, s:I, s:i, s:i, s:i, s:i, s:b, s:n},"
		"{s:s, s:i, s:f, s:i, s:I, s:i, s:i, s:i, s:i, s:b, s:i}]}",
		"sensors", "sensor", "gw-eu-1", "last_seq", 8640, "last_report", NOW - 4.0,
		"reports", 8640, "packets_seen", (json_int_t)981234567, "packets_undecoded", 12,
		"drops_kernel", 0, "drops_iface", 0, "spool_dropped", 0, "stale", 0, "spool_depth", 0,
		"sensor", "gw-us-1", "last_seq", 8637, "last_report", NOW - 9.0, "reports", 8637,
		"packets_seen", (json_int_t)455001234, "packets_undecoded", 3, "drops_kernel", 15230,
		"drops_iface", 2, "spool_dropped", 0, "stale", 0, "spool_depth", "sensor", "gw-ap-1",
		"last_seq",
		7710, "last_report", NOW - 5400.0, "reports", 7710, "packets_seen",
		(json_int_t)120004000, "packets_undecoded", 0, "drops_kernel", 0, "drops_iface", 0,
		"spool_dropped", 40, "stale", 1, "spool_depth", 3);
}

static json_t *fx_config(void *ctx)
{
	struct fixture *f = ctx;
	f->calls++;
	return json_pack("{s:s, s:s, s:f, s:[s,s,s]}", "version", "fixture-1", "prefix", "egress:",
			 "loaded_at", T0, "rules", "burst-1h", "sustained-24h", "new-destination");
}

/* --slow-ms: how long /metrics holds the event loop (an expensive request). */
static size_t slow_ms;

static void fx_metrics(void *ctx, struct evbuffer *out, size_t top_n)
{
	struct fixture *f = ctx;
	if (slow_ms) {
		struct timespec ts = {(time_t)(slow_ms / 1000), (long)(slow_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	evbuffer_add_printf(out,
			    "# HELP egresswatch_fixture_provider_calls_total Provider callbacks "
			    "made (not counting metrics).\n"
			    "# TYPE egresswatch_fixture_provider_calls_total counter\n"
			    "egresswatch_fixture_provider_calls_total %llu\n"
			    "# HELP egresswatch_identity_out_bytes Egress bytes in the last hour.\n"
			    "# TYPE egresswatch_identity_out_bytes gauge\n",
			    f->calls);
	for (size_t i = 0; i < NIDS && i < top_n; i++)
		evbuffer_add_printf(out, "egresswatch_identity_out_bytes{identity=\"%s\"} %.0f\n",
				    ids[i].name, ids[i].out_per_h);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

static void usage(void)
{
	fprintf(stderr, "usage: http_fixture [--listen ADDR] [--redis ADDR] [--prefix P] "
			"[--token-file F] [--rate R] [--burst B] [--max-request N] [--cors O] "
			"[--sse-max-clients N] [--sse-buf N] [--heartbeat S] [--backlog N] "
			"[--ring N] [--top-n N] [--max-conns N] [--deadline S] "
			"[--sse-per-addr N] [--slow-ms N]\n");
	exit(2);
}

static size_t num(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end)
		usage();
	return (size_t)v;
}

int main(int argc, char **argv)
{
	struct http_api_config cfg;
	http_api_config_defaults(&cfg);
	snprintf(cfg.listen, sizeof(cfg.listen), "127.0.0.1:0");
	cfg.rate_per_s = 0;
	static const struct option opts[] = {
		{"listen", 1, NULL, 'l'}, {"redis", 1, NULL, 'r'}, {"prefix", 1, NULL, 'p'},
		{"token-file", 1, NULL, 't'}, {"rate", 1, NULL, 'R'}, {"burst", 1, NULL, 'B'},
		{"max-request", 1, NULL, 'm'}, {"cors", 1, NULL, 'c'},
		{"sse-max-clients", 1, NULL, 'C'}, {"sse-buf", 1, NULL, 'b'},
		{"heartbeat", 1, NULL, 'h'}, {"backlog", 1, NULL, 'k'}, {"top-n", 1, NULL, 'n'}, {"ring", 1, NULL, 'g'},
		{"max-conns", 1, NULL, 'M'}, {"deadline", 1, NULL, 'D'}, {"sse-per-addr", 1, NULL, 'A'},
		{"slow-ms", 1, NULL, 'S'},
		{NULL, 0, NULL, 0}};
	int o;
	char err[256];
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			snprintf(cfg.listen, sizeof(cfg.listen), "%s", optarg);
			break;
		case 'r':
			if (redis_addr_parse(optarg, &cfg.redis, err, sizeof(err)) != 0) {
				fprintf(stderr, "--redis: %s\n", err);
				return 2;
			}
			break;
		case 'p':
			snprintf(cfg.prefix, sizeof(cfg.prefix), "%s", optarg);
			break;
		case 't':
			snprintf(cfg.token_file, sizeof(cfg.token_file), "%s", optarg);
			break;
		case 'R':
			cfg.rate_per_s = strtod(optarg, NULL);
			break;
		case 'B':
			cfg.rate_burst = strtod(optarg, NULL);
			break;
		case 'm':
			cfg.max_request_bytes = num(optarg);
			break;
		case 'c':
			snprintf(cfg.cors_origin, sizeof(cfg.cors_origin), "%s", optarg);
			break;
		case 'C':
			cfg.sse_max_clients = num(optarg);
			break;
		case 'b':
			cfg.sse_client_buf_max = num(optarg);
			break;
		case 'h':
			cfg.sse_heartbeat_s = strtod(optarg, NULL);
			break;
		case 'k':
			cfg.sse_backlog = num(optarg);
			break;
		case 'n':
			cfg.metrics_top_n = num(optarg);
			break;
		case 'g':
			cfg.sse_ring = num(optarg);
			break;
		case 'M':
			cfg.max_connections = num(optarg);
			break;
		case 'D':
			cfg.request_deadline_s = strtod(optarg, NULL);
			break;
		case 'A':
			cfg.sse_max_per_addr = num(optarg);
			break;
		case 'S':
			slow_ms = num(optarg);
			break;
		default:
			usage();
		}
	}
	signal(SIGPIPE, SIG_IGN);
	struct fixture fx = {0};
	struct http_provider prov = {
		.ctx = &fx, .identities = fx_identities, .identity = fx_identity,
		.alerts = fx_alerts, .sensors = fx_sensors, .config = fx_config,
		.metrics = fx_metrics,
	};
	struct event_base *base = event_base_new();
	if (!base)
		return 1;
	struct http_api *api = http_api_new(base, &cfg, &prov, err, sizeof(err));
	if (!api) {
		fprintf(stderr, "http_fixture: %s\n", err);
		event_base_free(base);
		return 1;
	}
	struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	printf("port %d\n", http_api_port(api));
	fflush(stdout);
	event_base_dispatch(base);
	http_api_free(api);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	return 0;
}
