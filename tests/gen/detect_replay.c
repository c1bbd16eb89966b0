/*
 * detect_replay: runs reports (DESIGN.md "Report", JSON lines) through the
 * detection engine and prints its alerts (DESIGN.md "Alert", JSON lines),
 * so detection can be measured without Redis or the collector.
 *
 *   detect_replay [-r REPORTS.jsonl|-] [-o ALERTS.jsonl] [--allow CIDR[=BYTES_PER_DAY]]...
 *                 [--version V] [--reload-every N] [--stats]
 *
 * A report whose start is later than its sensor's previous end marks the
 * time between as a gap for the identities that sensor reported, as the
 * collector does. --reload-every N saves the engine's state every N reports
 * and continues from a fresh engine loaded from it (a crash-restore drill:
 * the alerts must not change).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "banned.h"

#define MAX_SENSORS 64
#define MAX_SENSOR_IDS 4096
#define MAX_DESTS 1000

struct sensor {
	char name[65];
	double prev_end;
	char (*ids)[DETECT_NAME_MAX + 1];
	size_t nids;
};

struct out {
	FILE *f;
	unsigned long n;
};

static void emit(const struct detect_alert *a, void *ctx)
{
	struct out *o = ctx;
	char id[32];
	snprintf(id, sizeof(id), "a%lu", ++o->n);
	char *s = detect_alert_to_json(a, id);
	if (s) {
		fprintf(o->f, "%s\n", s);
		free(s);
	}
}

static int parse_addr(const char *s, ew_addr *a)
{
	uint8_t b[16];
	if (inet_pton(AF_INET, s, b) == 1) {
		addr_from_v4(a, b);
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		addr_from_v6(a, b);
		return 0;
	}
	return -1;
}

static int parse_allow(const char *arg, struct detect_allow *al)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", arg);
	char *eq = strchr(buf, '=');
	al->cap_per_day = 0;
	if (eq) {
		*eq = 0;
		errno = 0;
		char *end;
		al->cap_per_day = strtoull(eq + 1, &end, 10);
		if (errno || *end)
			return -1;
	}
	char *slash = strchr(buf, '/');
	unsigned len = 0;
	if (slash) {
		*slash = 0;
		len = (unsigned)strtoul(slash + 1, NULL, 10);
	}
	if (parse_addr(buf, &al->prefix) < 0)
		return -1;
	bool v4 = addr_is_v4(&al->prefix);
	if (!slash)
		len = v4 ? 32 : 128;
	al->plen = v4 ? 96 + len : len;
	return al->plen <= 128 ? 0 : -1;
}

static struct sensor *sensor_of(struct sensor *s, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	if (*n >= MAX_SENSORS)
		return NULL;
	struct sensor *x = &s[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->prev_end = -1;
	x->ids = calloc(MAX_SENSOR_IDS, sizeof(*x->ids));
	return x->ids ? x : NULL;
}

static void sensor_note(struct sensor *s, const char *id)
{
	for (size_t i = 0; i < s->nids; i++)
		if (strcmp(s->ids[i], id) == 0)
			return;
	if (s->nids < MAX_SENSOR_IDS)
		snprintf(s->ids[s->nids++], DETECT_NAME_MAX + 1, "%s", id);
}

int main(int argc, char **argv)
{
	const char *in_path = "-", *out_path = NULL;
	unsigned long reload_every = 0;
	bool stats = false;
	struct detect_config cfg;
	detect_config_default(&cfg);
	cfg.seed[0] = 0x5eed5eed12345678ULL;
	cfg.seed[1] = 0x0badc0ffee123457ULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-r") && v) {
			in_path = v;
			i++;
		} else if (!strcmp(a, "-o") && v) {
			out_path = v;
			i++;
		} else if (!strcmp(a, "--allow") && v) {
			if (cfg.nallow >= DETECT_MAX_ALLOW || parse_allow(v, &cfg.allow[cfg.nallow]) < 0) {
				fprintf(stderr, "detect_replay: bad --allow %s\n", v);
				return 2;
			}
			cfg.nallow++;
			i++;
		} else if (!strcmp(a, "--version") && v) {
			snprintf(cfg.version, sizeof(cfg.version), "%s", v);
			i++;
		} else if (!strcmp(a, "--reload-every") && v) {
			reload_every = strtoul(v, NULL, 10);
			i++;
		} else if (!strcmp(a, "--stats")) {
			stats = true;
		} else {
			fprintf(stderr, "usage: detect_replay [-r REPORTS] [-o ALERTS] [--allow CIDR[=CAP]]... "
					"[--version V] [--reload-every N] [--stats]\n");
			return 2;
		}
	}
	FILE *in = strcmp(in_path, "-") ? fopen(in_path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "detect_replay: %s: %s\n", in_path, strerror(errno));
		return 1;
	}
	struct out o = {stdout, 0};
	if (out_path && !(o.f = fopen(out_path, "w"))) {
		fprintf(stderr, "detect_replay: %s: %s\n", out_path, strerror(errno));
		return 1;
	}
	char err[256];
	struct detect_engine *e = detect_new(&cfg, err, sizeof(err));
	if (!e) {
		fprintf(stderr, "detect_replay: %s\n", err);
		return 1;
	}
	static struct sensor sensors[MAX_SENSORS];
	size_t nsensors = 0;
	struct detect_dest_obs *obs = calloc(MAX_DESTS, sizeof(*obs));
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long nrep = 0, bad = 0;
	while ((len = getline(&line, &cap, in)) > 0) {
		json_error_t jerr;
		json_t *r = json_loadb(line, (size_t)len, 0, &jerr);
		const char *sname = r ? json_string_value(json_object_get(r, "sensor")) : NULL;
		json_t *ids = r ? json_object_get(r, "identities") : NULL;
		double start = r ? json_number_value(json_object_get(r, "start")) : 0;
		double end = r ? json_number_value(json_object_get(r, "end")) : 0;
		struct sensor *s = sname ? sensor_of(sensors, &nsensors, sname) : NULL;
		if (!s || !json_is_array(ids) || !(end >= start)) {
			bad++;
			json_decref(r);
			continue;
		}
		if (s->prev_end >= 0 && start > s->prev_end + 1)
			for (size_t k = 0; k < s->nids; k++)
				detect_mark_gap(e, s->ids[k], s->prev_end, start);
		s->prev_end = end;
		size_t i;
		json_t *id;
		json_array_foreach(ids, i, id) {
			const char *name = json_string_value(json_object_get(id, "identity"));
			json_t *ob = json_object_get(id, "out_bytes");
			if (!name || !json_is_integer(ob) || json_integer_value(ob) < 0) {
				bad++;
				continue;
			}
			size_t nd = 0, j;
			json_t *d;
			json_array_foreach(json_object_get(id, "destinations"), j, d) {
				const char *as = json_string_value(json_object_get(d, "addr"));
				json_t *db = json_object_get(d, "bytes");
				if (nd < MAX_DESTS && as && json_is_integer(db) && json_integer_value(db) >= 0 &&
				    parse_addr(as, &obs[nd].addr) == 0) {
					obs[nd].bytes = (uint64_t)json_integer_value(db);
					nd++;
				}
			}
			sensor_note(s, name);
			detect_observe(e, name, start, (uint64_t)json_integer_value(ob), obs, nd);
		}
		json_decref(r);
		detect_tick(e, end, emit, &o);
		nrep++;
		if (reload_every && nrep % reload_every == 0) {
			unsigned char *buf;
			size_t blen;
			if (detect_save(e, &buf, &blen) < 0) {
				fprintf(stderr, "detect_replay: save failed\n");
				return 1;
			}
			detect_free(e);
			e = detect_load(&cfg, buf, blen, err, sizeof(err));
			free(buf);
			if (!e) {
				fprintf(stderr, "detect_replay: load: %s\n", err);
				return 1;
			}
		}
	}
	if (stats) {
		struct detect_stats st;
		detect_get_stats(e, &st);
		fprintf(stderr,
			"reports %lu bad %lu identities %llu refused %llu alerts %llu late_dropped %llu "
			"org_overflow %llu evictions %llu bytes/identity %zu\n",
			nrep, bad, (unsigned long long)st.identities, (unsigned long long)st.identities_refused,
			(unsigned long long)st.alerts, (unsigned long long)st.late_dropped,
			(unsigned long long)st.org_overflow, (unsigned long long)st.dest_evictions,
			detect_identity_bytes(&cfg));
	}
	free(line);
	free(obs);
	for (size_t k = 0; k < nsensors; k++)
		free(sensors[k].ids);
	detect_free(e);
	if (in != stdin)
		fclose(in);
	if (o.f != stdout)
		fclose(o.f);
	return 0;
}
