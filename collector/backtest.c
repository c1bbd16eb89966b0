/*
 * backtest: replay stored reports under a candidate config and compare its
 * alerts with a reference (backtest.h).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest.h"
#include "engine.h"
#include "report.h"
#include "store.h"
#include "banned.h"

#define STREAM_PAGE 500

void backtest_alerts_free(struct backtest_alerts *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->json[i]);
	free(a->json);
	memset(a, 0, sizeof(*a));
}

static int push(struct backtest_alerts *a, const char *json, size_t len)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 64;
		char **nv = realloc(a->json, nc * sizeof(*nv));
		if (!nv)
			return -1;
		a->json = nv;
		a->cap = nc;
	}
	char *c = strndup(json, len);
	if (!c)
		return -1;
	a->json[a->n++] = c;
	return 0;
}

static void replay_one(struct engine *e, const struct collector_config *cfg, const char *text,
		       size_t len, const char *where, struct backtest_alerts *out,
		       struct backtest_stats *st)
{
	struct report r;
	char reason[256];
	struct report_limits lim = {cfg->max_report_bytes, 0, 0};
	struct engine_alerts al = {0};
	if (report_parse(text, len, &lim, &r, reason, sizeof(reason)) != 0 ||
	    engine_apply(e, &r, &al, reason, sizeof(reason)) == ENGINE_REJECTED) {
		fprintf(stderr, "egress-collector: %s: rejected: %s\n", where, reason);
		st->rejected++;
	}
	st->reports++;
	report_release(&r);
	for (size_t i = 0; i < al.n; i++)
		push(out, al.v[i].json, strlen(al.v[i].json));
	engine_alerts_clear(&al);
}

static int replay_file(struct engine *e, const struct collector_config *cfg, const char *path,
		       struct backtest_alerts *out, struct backtest_stats *st, char *err,
		       size_t errlen)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL, where[4200];
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (!n)
			continue;
		snprintf(where, sizeof(where), "%s:%u", path, lineno);
		replay_one(e, cfg, line, (size_t)n, where, out, st);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return 0;
}

static int replay_stream(struct engine *e, const struct collector_config *cfg,
			 const struct redis_addr *redis, struct backtest_alerts *out,
			 struct backtest_stats *st, char *err, size_t errlen)
{
	struct store *s = store_connect(redis, cfg->prefix, cfg->group, cfg->consumer, 10.0, err,
					errlen);
	if (!s)
		return -1;
	char after[48] = "0", where[64];
	for (;;) {
		struct store_entry *v;
		size_t n;
		if (store_range(s, after, STREAM_PAGE, &v, &n, err, errlen) != 0) {
			store_free(s);
			return -1;
		}
		if (!n)
			break;
		for (size_t i = 0; i < n; i++) {
			snprintf(where, sizeof(where), "entry %s", v[i].id);
			if (v[i].report)
				replay_one(e, cfg, v[i].report, v[i].len, where, out, st);
		}
		snprintf(after, sizeof(after), "%s", v[n - 1].id);
		store_entries_free(v, n);
	}
	store_free(s);
	return 0;
}

int backtest_replay(const struct collector_config *cfg, const struct redis_addr *redis,
		    const char *reports, struct backtest_alerts *out, struct backtest_stats *st,
		    char *err, size_t errlen)
{
	memset(st, 0, sizeof(*st));
	struct engine *e = engine_new(cfg);
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = reports ? replay_file(e, cfg, reports, out, st, err, errlen)
			 : replay_stream(e, cfg, redis, out, st, err, errlen);
	st->duplicates = engine_counters(e)->duplicates;
	st->alerts = engine_counters(e)->alerts;
	engine_free(e);
	return rc;
}

int backtest_stream_alerts(const struct collector_config *cfg, const struct redis_addr *redis,
			   size_t max, struct backtest_alerts *out, char *err, size_t errlen)
{
	struct store *s = store_connect(redis, cfg->prefix, cfg->group, cfg->consumer, 10.0, err,
					errlen);
	if (!s)
		return -1;
	struct store_entry *v;
	size_t n;
	int rc = store_recent_alerts(s, max, &v, &n, err, errlen);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (v[i].report)
			push(out, v[i].report, v[i].len);
	if (rc == 0)
		store_entries_free(v, n);
	store_free(s);
	return rc;
}

/* ---- the comparison (pure) ---- */

struct keyed {
	char key[512];
	const char *json;
};

/* identity, rule, severity and episode start: what an analyst would call
 * "the same alert" under two configs (ids differ with thresholds). */
static void key_of(const char *json, char *key, size_t n)
{
	json_t *a = json_loads(json, 0, NULL);
	const char *id = json_string_value(json_object_get(a, "identity"));
	const char *rule = json_string_value(json_object_get(a, "rule"));
	const char *sev = json_string_value(json_object_get(a, "severity"));
	double fs = json_number_value(json_object_get(a, "first_seen"));
	snprintf(key, n, "%s %s %s %.0f", id ? id : "?", rule ? rule : "?", sev ? sev : "?", fs);
	json_decref(a);
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

static struct keyed *keyed_of(const struct backtest_alerts *a)
{
	struct keyed *k = calloc(a->n + 1, sizeof(*k));
	if (!k)
		return NULL;
	for (size_t i = 0; i < a->n; i++) {
		key_of(a->json[i], k[i].key, sizeof(k[i].key));
		k[i].json = a->json[i];
	}
	qsort(k, a->n, sizeof(*k), by_key);
	return k;
}

size_t backtest_diff(FILE *f, const struct backtest_alerts *reference,
		     const struct backtest_alerts *candidate, const char *reference_name)
{
	struct keyed *r = keyed_of(reference), *c = keyed_of(candidate);
	size_t i = 0, j = 0, added = 0, dropped = 0, kept = 0;
	if (!r || !c) {
		free(r);
		free(c);
		fprintf(f, "backtest: out of memory for the comparison\n");
		return 0;
	}
	while (i < reference->n || j < candidate->n) {
		int cmp = i == reference->n ? 1 : j == candidate->n ? -1 : strcmp(r[i].key, c[j].key);
		if (cmp == 0) {
			kept++;
			i++;
			j++;
		} else if (cmp < 0) {
			fprintf(f, "- would no longer raise: %s\n", r[i++].key);
			dropped++;
		} else {
			fprintf(f, "+ would newly raise:     %s\n", c[j++].key);
			added++;
		}
	}
	fprintf(f, "backtest: %zu alerts under the candidate, %zu under %s: %zu kept, %zu added, "
		   "%zu dropped\n",
		candidate->n, reference->n, reference_name, kept, added, dropped);
	free(r);
	free(c);
	return added + dropped;
}
