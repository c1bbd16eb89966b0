/*
 * engine: the collector's state and the application of reports (engine.h).
 *
 * Invariants: an identity's totals are the exact sums of every applied
 * report's figures for it (the rings only shape the windows); a sensor's
 * last_seq only rises; every table has a cap and a counter for what did not
 * fit; a sensor's identity count is the number of identities whose creator
 * (sensors[0]) it is, the overflow identity aside. The identity table is an
 * open-addressing index over a pointer array, keyed with a per-process
 * random seed because report senders pick names.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine.h"
#include "banned.h"

struct engine {
	const struct collector_config *cfg;
	uint64_t cfg_gen;
	uint64_t seed;
	struct engine_ident **ids;
	size_t nids, capids;
	uint32_t *index;        /* slot -> ids index + 1; 0 empty */
	size_t index_cap;       /* power of two */
	struct engine_sensor *sensors;
	size_t nsensors, capsensors;
	double now;
	struct engine_gap gaps[ENGINE_GAPS_MAX];
	size_t ngaps, gap_next;
	struct engine_counters c;
	struct engine_reason reasons[ENGINE_REASONS_MAX];
	size_t nreasons;
	size_t *dirty;
	size_t ndirty, capdirty;
	/* The learned detector (detect.h): fed every applied report, ticked
	 * on the capture clock; NULL when [detect] enabled = off. */
	struct detect_engine *det;
	bool det_dirty;                 /* observed since the last detect blob */
	struct detect_dest_obs obs[ENGINE_OBS_MAX];
	double wall_fixed;              /* engine_set_wall_clock; 0: the real clock */
	uint64_t load_rejected;         /* blobs refused by engine_load_* */
	char load_err[160];             /* the last one's reason */
};

/* Counts are kept at most INT64_MAX: every JSON view prints them as signed
 * 64-bit integers, and a figure from a report is at most that, so a + b of
 * two such never wraps before it is clamped. */
static uint64_t sat_add(struct engine *e, uint64_t a, uint64_t b)
{
	uint64_t s = a + b;
	if (s < a || s > ENGINE_COUNT_MAX) {
		e->c.saturated++;
		return ENGINE_COUNT_MAX;
	}
	return s;
}

static double wall_now(const struct engine *e)
{
	if (e->wall_fixed > 0)
		return e->wall_fixed;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void engine_set_wall_clock(struct engine *e, double t) { e->wall_fixed = t; }

static uint64_t fnv64_seeded(uint64_t seed, const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	/* final avalanche (splitmix64) so the low bits index well */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}

static uint64_t name_hash(const char *s)
{
	/* unseeded: persisted keys (rule and allowlist names) */
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

void engine_alerts_clear(struct engine_alerts *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].json);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* A fresh detector under cfg with a random hash key; NULL when disabled. */
static struct detect_engine *detector_new(const struct collector_config *cfg)
{
	if (!cfg || !cfg->detect_enabled)
		return NULL;
	struct detect_config dc = cfg->detect;
	if (getrandom(dc.seed, sizeof(dc.seed), 0) != sizeof(dc.seed)) {
		dc.seed[0] = 0x243f6a8885a308d3ULL;
		dc.seed[1] = 0x13198a2e03707344ULL;
	}
	char err[256];
	return detect_new(&dc, err, sizeof(err));
}

struct engine *engine_new(const struct collector_config *cfg)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cfg = cfg;
	e->cfg_gen = 1;
	if (getrandom(&e->seed, sizeof(e->seed), 0) != sizeof(e->seed))
		e->seed = 0x9e3779b97f4a7c15ULL;
	e->det = detector_new(cfg);
	if (cfg && cfg->detect_enabled && !e->det) {
		free(e);
		return NULL;
	}
	e->index_cap = 1024;
	e->index = calloc(e->index_cap, sizeof(*e->index));
	if (!e->index) {
		free(e);
		return NULL;
	}
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nids; i++)
		free(e->ids[i]);
	free(e->ids);
	free(e->index);
	free(e->sensors);
	free(e->dirty);
	detect_free(e->det);
	free(e);
}

int engine_set_config(struct engine *e, const struct collector_config *cfg, char *err, size_t errlen)
{
	e->cfg = cfg;
	e->cfg_gen++;
	if (!cfg->detect_enabled) {
		detect_free(e->det);
		e->det = NULL;
		return 0;
	}
	if (!e->det) {
		e->det = detector_new(cfg);
		if (!e->det) {
			snprintf(err, errlen, "[detect]: out of memory for the detector");
			return -1;
		}
		return 0;
	}
	/* Sizes and the seed stay; rules, overrides, allowlist and windows change. */
	struct detect_config dc = cfg->detect;
	detect_get_seed(e->det, dc.seed);
	return detect_set_config(e->det, &dc, err, errlen);
}

/* ---- the detector ---- */

struct det_emit_ctx {
	struct engine *e;
	struct engine_alerts *out;
};

static int alerts_push(struct engine_alerts *out, const char *id, char *json)
{
	if (out->n == out->cap) {
		size_t nc = out->cap ? out->cap * 2 : 8;
		struct engine_alert *nv = realloc(out->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		out->v = nv;
		out->cap = nc;
	}
	snprintf(out->v[out->n].id, sizeof(out->v[out->n].id), "%s", id);
	out->v[out->n].json = json;
	out->n++;
	return 0;
}

/* A detector alert's id: the same alert replayed gets the same id, so the
 * store's dedupe makes it once-only after a restart. */
static void det_emit(const struct detect_alert *a, void *ctx)
{
	struct det_emit_ctx *c = ctx;
	char id[33], key[512];
	int n = snprintf(key, sizeof(key), "detect\n%s\n%s\n%.3f\n%d", a->identity, a->rule,
			 a->first_seen, (int)a->severity);
	uint64_t h1 = fnv64_seeded(0, key, (size_t)n), h2 = fnv64_seeded(0x5bd1e995, key, (size_t)n);
	snprintf(id, sizeof(id), "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
	char *json = detect_alert_to_json(a, id);
	if (json && alerts_push(c->out, id, json) == 0)
		c->e->c.alerts++;
	else
		free(json);
}

/* Feeds one applied identity record to the detector. */
static void det_observe(struct engine *e, const struct report *r, const struct report_identity *ri)
{
	size_t n = ri->ndests < ENGINE_OBS_MAX ? ri->ndests : ENGINE_OBS_MAX;
	for (size_t j = 0; j < n; j++) {
		e->obs[j].addr = ri->dests[j].addr;
		e->obs[j].bytes = ri->dests[j].bytes;
	}
	detect_observe(e->det, ri->name, r->start, ri->out_bytes, e->obs, n);
	e->det_dirty = true;
}

bool engine_has_detector(const struct engine *e) { return e->det != NULL; }
bool engine_detect_dirty(const struct engine *e) { return e->det && e->det_dirty; }

unsigned char *engine_detect_blob(struct engine *e, size_t *len)
{
	unsigned char *buf = NULL;
	if (!e->det || detect_save(e->det, &buf, len) != 0)
		return NULL;
	return buf;
}

void engine_detect_saved(struct engine *e) { e->det_dirty = false; }

int engine_load_detect(struct engine *e, const unsigned char *p, size_t len, char *err, size_t errlen)
{
	if (!e->cfg || !e->cfg->detect_enabled)
		return 0;
	struct detect_config dc = e->cfg->detect;
	if (detect_state_seed(p, len, dc.seed) != 0) {
		snprintf(err, errlen, "detector state: not a state of this version");
		e->load_rejected++;
		snprintf(e->load_err, sizeof(e->load_err), "detector: %s", err);
		return -1;
	}
	struct detect_engine *d = detect_load(&dc, p, len, err, errlen);
	if (d && detect_latest(d) > wall_now(e) + ENGINE_FUTURE_MAX) {
		snprintf(err, errlen, "detector state: its clock is more than a day ahead of the wall clock");
		detect_free(d);
		d = NULL;
	}
	if (!d) {
		e->load_rejected++;
		snprintf(e->load_err, sizeof(e->load_err), "detector: %s", err);
		return -1;
	}
	detect_free(e->det);
	e->det = d;
	return 0;
}

void engine_detect_stats(const struct engine *e, struct detect_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (e->det)
		detect_get_stats(e->det, out);
}

bool engine_detect_expected(const struct engine *e, const struct engine_ident *id, double now,
			    double window_s, uint64_t *expected, uint64_t *spread)
{
	return e->det && detect_expected(e->det, id->name, now, window_s, expected, spread) == 0;
}

double engine_now(const struct engine *e) { return e->now; }
const struct engine_counters *engine_counters(const struct engine *e) { return &e->c; }
size_t engine_ident_count(const struct engine *e) { return e->nids; }
const struct engine_ident *engine_ident_at(const struct engine *e, size_t i) { return e->ids[i]; }
size_t engine_sensor_count(const struct engine *e) { return e->nsensors; }
const struct engine_sensor *engine_sensor_at(const struct engine *e, size_t i) { return &e->sensors[i]; }
size_t engine_ident_bytes(void) { return sizeof(struct engine_ident) + 2 * sizeof(uint32_t) + sizeof(void *); }

/* ---- identity table ---- */

static long find_slot(const struct engine *e, const char *name, size_t len, bool *found)
{
	size_t mask = e->index_cap - 1;
	size_t i = (size_t)fnv64_seeded(e->seed, name, len) & mask;
	for (;;) {
		uint32_t v = e->index[i];
		if (!v) {
			*found = false;
			return (long)i;
		}
		if (strcmp(e->ids[v - 1]->name, name) == 0) {
			*found = true;
			return (long)i;
		}
		i = (i + 1) & mask;
	}
}

static int grow_index(struct engine *e)
{
	size_t ncap = e->index_cap * 2;
	uint32_t *ni = calloc(ncap, sizeof(*ni));
	if (!ni)
		return -1;
	free(e->index);
	e->index = ni;
	e->index_cap = ncap;
	for (size_t k = 0; k < e->nids; k++) {
		bool f;
		long s = find_slot(e, e->ids[k]->name, strlen(e->ids[k]->name), &f);
		e->index[s] = (uint32_t)(k + 1);
	}
	return 0;
}

const struct engine_ident *engine_ident_find(const struct engine *e, const char *name)
{
	bool f;
	long s = find_slot(e, name, strlen(name), &f);
	return f ? e->ids[e->index[s] - 1] : NULL;
}

static void ident_init(struct engine_ident *id, const char *name)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->name, sizeof(id->name), "%s", name);
	for (size_t i = 0; i < ENGINE_MIN_SLOTS; i++)
		id->min[i].tag = INT64_MIN;
	for (size_t i = 0; i < ENGINE_HOUR_SLOTS; i++)
		id->hr[i].tag = INT64_MIN;
	id->gi = id->ii = -1;
}

static struct engine_sensor *sensor_find(struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->nsensors; i++)
		if (strcmp(e->sensors[i].name, name) == 0)
			return &e->sensors[i];
	return NULL;
}

/* Whether id counts against the sensor that created it (its sensors[0]):
 * the overflow identity belongs to no one. */
static bool has_creator(const struct engine_ident *id)
{
	return id->sensors[0][0] && strcmp(id->name, OVERFLOW_IDENTITY) != 0;
}

/* Counts id for (add) or off (!add) its creator, if that sensor is known. */
static void charge_creator(struct engine *e, const struct engine_ident *id, bool add)
{
	struct engine_sensor *s = has_creator(id) ? sensor_find(e, id->sensors[0]) : NULL;
	if (s && add)
		s->identities++;
	else if (s && s->identities)
		s->identities--;
}

/*
 * Finds or creates name; NULL only on OOM. by is the sensor whose report
 * names it: a new name it creates is charged to it and becomes the
 * overflow identity past either cap (its own max_identities_per_sensor
 * first, so a flooding sensor is the one the counters name, then the
 * global max_identities). by NULL (loading, the overflow identity itself)
 * creates past every cap.
 */
static struct engine_ident *ident_get(struct engine *e, const char *name,
				      struct engine_sensor *by, size_t *pidx)
{
	bool f;
	size_t len = strlen(name);
	long s = find_slot(e, name, len, &f);
	if (f) {
		*pidx = e->index[s] - 1;
		return e->ids[*pidx];
	}
	if (by && strcmp(name, OVERFLOW_IDENTITY) != 0) {
		size_t maxn = e->cfg ? e->cfg->max_identities : 50000;
		size_t maxs = e->cfg ? e->cfg->max_identities_per_sensor : 10000;
		bool sensor_full = by->identities >= maxs;
		if (sensor_full || e->nids >= maxn) {
			/* Every fold counts in overflow_records; the sensor's
			 * own cap also names the sensor. */
			e->c.overflow_records++;
			if (sensor_full) {
				e->c.sensor_cap_records++;
				by->identities_folded++;
			}
			return ident_get(e, OVERFLOW_IDENTITY, NULL, pidx);
		}
	}
	if ((e->nids + 1) * 2 > e->index_cap) {
		if (grow_index(e) != 0)
			return NULL;
		s = find_slot(e, name, len, &f);
	}
	if (e->nids == e->capids) {
		size_t nc = e->capids ? e->capids * 2 : 256;
		struct engine_ident **ni = realloc(e->ids, nc * sizeof(*ni));
		if (!ni)
			return NULL;
		e->ids = ni;
		e->capids = nc;
	}
	struct engine_ident *id = malloc(sizeof(*id));
	if (!id)
		return NULL;
	ident_init(id, name);
	if (by && strcmp(name, OVERFLOW_IDENTITY) != 0) {
		/* sensors[0] is never replaced: it stays the creator */
		snprintf(id->sensors[0], sizeof(id->sensors[0]), "%s", by->name);
		by->identities++;
	}
	e->ids[e->nids] = id;
	e->index[s] = (uint32_t)(e->nids + 1);
	*pidx = e->nids++;
	return id;
}

static void mark_dirty(struct engine *e, struct engine_ident *id, size_t idx)
{
	if (id->dirty)
		return;
	if (e->ndirty == e->capdirty) {
		size_t nc = e->capdirty ? e->capdirty * 2 : 256;
		size_t *nd = realloc(e->dirty, nc * sizeof(*nd));
		if (!nd)
			return;         /* stays clean in the list; written next time */
		e->dirty = nd;
		e->capdirty = nc;
	}
	id->dirty = true;
	e->dirty[e->ndirty++] = idx;
}

size_t engine_dirty(const struct engine *e, const size_t **idx)
{
	*idx = e->dirty;
	return e->ndirty;
}

void engine_clear_dirty(struct engine *e)
{
	for (size_t i = 0; i < e->ndirty; i++)
		e->ids[e->dirty[i]]->dirty = false;
	e->ndirty = 0;
	for (size_t i = 0; i < e->nsensors; i++)
		e->sensors[i].dirty = false;
}

/* ---- sensors and gaps ---- */

/* The sensor table's cap: [collector] max_sensors. */
static size_t max_sensors(const struct engine *e)
{
	return e->cfg && e->cfg->max_sensors ? e->cfg->max_sensors : ENGINE_SENSORS_MAX;
}

/* Finds or creates name; NULL on OOM or, when capped, past max_sensors.
 * Loading is not capped: a lowered max_sensors keeps the sensors saved. */
static struct engine_sensor *sensor_get(struct engine *e, const char *name, bool capped,
					bool *created)
{
	*created = false;
	struct engine_sensor *found = sensor_find(e, name);
	if (found)
		return found;
	if (capped && e->nsensors >= max_sensors(e))
		return NULL;
	if (e->nsensors == e->capsensors) {
		size_t nc = e->capsensors ? e->capsensors * 2 : 16;
		struct engine_sensor *ns = realloc(e->sensors, nc * sizeof(*ns));
		if (!ns)
			return NULL;
		e->sensors = ns;
		e->capsensors = nc;
	}
	struct engine_sensor *s = &e->sensors[e->nsensors++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	/* Its identity count is derived, not stored: identities loaded before
	 * it (or whose sensor blob was lost) are counted now. Once per sensor. */
	for (size_t i = 0; i < e->nids; i++)
		if (has_creator(e->ids[i]) && strcmp(e->ids[i]->sensors[0], s->name) == 0)
			s->identities++;
	*created = true;
	return s;
}

static void add_gap(struct engine *e, const char *sensor, uint64_t sf, uint64_t st, double from,
		    double to)
{
	struct engine_gap *g = &e->gaps[e->gap_next];
	snprintf(g->sensor, sizeof(g->sensor), "%s", sensor);
	g->seq_from = sf;
	g->seq_to = st;
	g->from = from;
	g->to = to;
	e->gap_next = (e->gap_next + 1) % ENGINE_GAPS_MAX;
	if (e->ngaps < ENGINE_GAPS_MAX)
		e->ngaps++;
}

static double gap_overlap(const struct engine *e, double a, double b)
{
	double sum = 0;
	for (size_t i = 0; i < e->ngaps; i++) {
		double lo = fmax(a, e->gaps[i].from), hi = fmin(b, e->gaps[i].to);
		if (hi > lo)
			sum += hi - lo;
	}
	return sum;
}

/* ---- rings and windows ---- */

static void ring_put(struct engine *e, struct engine_bucket *ring, size_t n, int64_t k, uint64_t b,
		     uint64_t p, uint64_t o, uint64_t *late)
{
	struct engine_bucket *s = &ring[(uint64_t)k % n];
	if (s->tag != k) {
		if (s->tag > k) {
			(*late)++;      /* older than the ring reaches */
			return;
		}
		s->tag = k;
		s->bytes = s->packets = s->observed = 0;
	}
	s->bytes = sat_add(e, s->bytes, b);
	s->packets = sat_add(e, s->packets, p);
	s->observed = sat_add(e, s->observed, o);
}

/* v x f rounded, never above v: (double)v of a count near 2^63 rounds up. */
static uint64_t share(uint64_t v, double f)
{
	double x = (double)v * f;
	if (!(x > 0))
		return 0;
	if (x >= (double)v)
		return v;
	uint64_t r = (uint64_t)llround(x);
	return r < v ? r : v;
}

/* Spreads the figures over the units [start, end] covers, in proportion to
 * the overlap, with exact integer sums (the remainder lands in the last). */
static void spread(struct engine *e, struct engine_bucket *ring, size_t n, double unit, double start,
		   double end, uint64_t b, uint64_t p, uint64_t o, uint64_t *late)
{
	int64_t k0 = (int64_t)floor(start / unit);
	int64_t k1 = (int64_t)floor(end / unit);
	if (end > start && (double)k1 * unit == end)
		k1--;                   /* an end on a boundary belongs to the unit before */
	if (k1 <= k0 || end <= start) {
		ring_put(e, ring, n, k1 > k0 ? k1 : k0, b, p, o, late);
		return;
	}
	double dur = end - start;
	int64_t first = k0;
	if (k1 - k0 >= (int64_t)n) {
		first = k1 - (int64_t)n + 1;
		(*late)++;
	}
	/* Cumulative shares rounded once each, so the pieces add up exactly. */
	double f0 = first == k0 ? 0.0 : (((double)first * unit) - start) / dur;
	uint64_t pb = share(b, f0), pp = share(p, f0), po = share(o, f0);
	for (int64_t k = first; k <= k1; k++) {
		double through = k == k1 ? 1.0 : fmin(1.0, (((double)(k + 1) * unit) - start) / dur);
		uint64_t cb = k == k1 ? b : share(b, through);
		uint64_t cp = k == k1 ? p : share(p, through);
		uint64_t co = k == k1 ? o : share(o, through);
		if (cb < pb) cb = pb;
		if (cp < pp) cp = pp;
		if (co < po) co = po;
		ring_put(e, ring, n, k, cb - pb, cp - pp, co - po, late);
		pb = cb, pp = cp, po = co;
	}
}

/* a + b clamped at ENGINE_COUNT_MAX, for sums the views compute */
static uint64_t sat_sum(uint64_t a, uint64_t b)
{
	uint64_t s = a + b;
	return s < a || s > ENGINE_COUNT_MAX ? ENGINE_COUNT_MAX : s;
}

void engine_window(const struct engine_ident *id, double now, double window_s,
		   struct engine_window *out)
{
	const struct engine_bucket *ring = id->min;
	size_t n = ENGINE_MIN_SLOTS;
	double unit = 60;
	if (window_s > ENGINE_MIN_SLOTS * 60.0) {
		ring = id->hr;
		n = ENGINE_HOUR_SLOTS;
		unit = 3600;
	}
	memset(out, 0, sizeof(*out));
	/* Computed in doubles and bounded before the conversion, so no clock
	 * (a corrupt one included) makes the loop longer than the ring. */
	if (!(now >= 0 && now <= ENGINE_TIME_MAX + 86400 * 7) || !(window_s > 0))
		return;
	double hi_d = ceil(now / unit) - 1, lo_d = ceil((now - window_s) / unit);
	if (hi_d - lo_d + 1 > (double)n)
		lo_d = hi_d - (double)n + 1;
	if (hi_d < lo_d || hi_d < 0)
		return;
	int64_t lo = (int64_t)lo_d, hi = (int64_t)hi_d;
	/* Visit only the window's slots, each checked by its tag. */
	size_t slot = (size_t)((uint64_t)lo % n);
	for (int64_t k = lo; k <= hi; k++) {
		const struct engine_bucket *b = &ring[slot];
		if (b->tag == k) {
			out->bytes = sat_sum(out->bytes, b->bytes);
			out->packets = sat_sum(out->packets, b->packets);
			out->observed = sat_sum(out->observed, b->observed);
		}
		if (++slot == n)
			slot = 0;
	}
}

bool engine_baseline(const struct engine *e, const struct engine_ident *id, double now,
		     double window_s, uint64_t *baseline)
{
	*baseline = 0;
	if (!(now >= 0 && now <= ENGINE_TIME_MAX + 86400 * 7) || !(window_s > 0) ||
	    !(id->first_seen >= 0 && id->first_seen <= ENGINE_TIME_MAX))
		return false;
	int64_t he = (int64_t)floor((now - window_s) / 3600);       /* hours < he are history */
	int64_t newest = (int64_t)ceil(now / 3600) - 1;
	int64_t hs = newest - ENGINE_HOUR_SLOTS + 1;
	int64_t fh = (int64_t)floor(id->first_seen / 3600);
	if (fh > hs)
		hs = fh;
	*baseline = 0;
	if (he <= hs)
		return false;
	double dur = (double)(he - hs) * 3600 - gap_overlap(e, (double)hs * 3600, (double)he * 3600);
	if (dur < window_s)
		return false;
	uint64_t sum = 0;
	for (size_t i = 0; i < ENGINE_HOUR_SLOTS; i++)
		if (id->hr[i].tag >= hs && id->hr[i].tag < he)
			sum = sat_sum(sum, id->hr[i].observed);
	*baseline = (uint64_t)llround((double)sum * window_s / dur);
	return true;
}

/* ---- applying ---- */

static void refresh_cache(struct engine *e, struct engine_ident *id)
{
	if (id->cfg_gen == e->cfg_gen)
		return;
	id->cfg_gen = e->cfg_gen;
	id->allow_mask = 0;
	id->gi = id->ii = -1;
	if (!e->cfg)
		return;
	collector_config_match(e->cfg, id->name, &id->gi, &id->ii);
	for (size_t a = 0; a < e->cfg->nallows; a++)
		if (collector_config_allow_applies(&e->cfg->allows[a], id->name))
			id->allow_mask |= 1u << a;
}

static void topk_add(struct engine *e, struct engine_ident *id, const struct report_dest *d, double t)
{
	unsigned victim = 0;
	for (unsigned i = 0; i < id->ndests; i++) {
		struct engine_dest *x = &id->dests[i];
		if (x->port == d->port && x->proto == d->proto && addr_eq(&x->addr, &d->addr)) {
			x->bytes = sat_add(e, x->bytes, d->bytes);
			x->packets = sat_add(e, x->packets, d->packets);
			x->last_seen = t;
			return;
		}
		/* prefer evicting what has gone quiet for a week, then the smallest */
		bool xs = t - x->last_seen > 7 * 86400, vs = t - id->dests[victim].last_seen > 7 * 86400;
		if ((xs && !vs) || (xs == vs && x->bytes < id->dests[victim].bytes))
			victim = i;
	}
	struct engine_dest *x;
	uint64_t base_b = 0, base_p = 0;
	if (id->ndests < ENGINE_TOPK) {
		x = &id->dests[id->ndests++];
	} else {
		x = &id->dests[victim];
		/* space-saving: the newcomer inherits the evicted count as its error */
		if (t - x->last_seen <= 7 * 86400) {
			base_b = x->bytes;
			base_p = x->packets;
		}
	}
	x->addr = d->addr;
	x->port = d->port;
	x->proto = d->proto;
	x->bytes = sat_add(e, base_b, d->bytes);
	x->packets = sat_add(e, base_p, d->packets);
	x->last_seen = t;
}

static struct engine_allow_use *allow_use(struct engine_ident *id, uint64_t h)
{
	struct engine_allow_use *free_slot = NULL;
	for (size_t i = 0; i < CCONF_ALLOWS_MAX; i++) {
		if (id->allow[i].allow_hash == h)
			return &id->allow[i];
		if (!free_slot && id->allow[i].allow_hash == 0)
			free_slot = &id->allow[i];
	}
	if (!free_slot)
		free_slot = &id->allow[h % CCONF_ALLOWS_MAX];   /* a removed list's slot */
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->allow_hash = h;
	free_slot->day = INT64_MIN;
	return free_slot;
}

/* Bytes of this report's destinations the allowlists excuse. */
static uint64_t allowed_bytes(struct engine *e, struct engine_ident *id,
			      const struct report_identity *ri, double t)
{
	if (!id->allow_mask || !e->cfg)
		return 0;
	uint64_t total = 0;
	int64_t day = (int64_t)floor(t / 86400);
	for (size_t j = 0; j < ri->ndests; j++) {
		const struct report_dest *d = &ri->dests[j];
		for (size_t a = 0; a < e->cfg->nallows; a++) {
			const struct allow_def *al = &e->cfg->allows[a];
			if (!(id->allow_mask & (1u << a)) || !collector_config_allow_match(al, &d->addr))
				continue;
			if (!collector_config_allow_in_schedule(al, t))
				break;  /* allowed destination, wrong hour: counts */
			struct engine_allow_use *u = allow_use(id, al->name_hash);
			if (u->day != day) {
				u->day = day;
				u->used = 0;
			}
			uint64_t room = UINT64_MAX;
			if (al->max_bytes_per_day)
				room = al->max_bytes_per_day > u->used ? al->max_bytes_per_day - u->used : 0;
			uint64_t take = d->bytes < room ? d->bytes : room;
			u->used = sat_add(e, u->used, take);
			total = sat_add(e, total, take);
			break;
		}
	}
	return total > ri->out_bytes ? ri->out_bytes : total;
}

static void remember_sensor(struct engine_ident *id, const char *sensor)
{
	for (size_t i = 0; i < ENGINE_ID_SENSORS; i++) {
		if (strcmp(id->sensors[i], sensor) == 0)
			return;
		if (!id->sensors[i][0]) {
			snprintf(id->sensors[i], sizeof(id->sensors[i]), "%s", sensor);
			return;
		}
	}
	/* full: the newest replaces the last slot */
	snprintf(id->sensors[ENGINE_ID_SENSORS - 1], sizeof(id->sensors[0]), "%s", sensor);
}

static struct rules_episode *episode_for(struct engine_ident *id, uint64_t rh)
{
	struct rules_episode *free_ep = NULL;
	for (size_t i = 0; i < CCONF_RULES_MAX; i++) {
		if (id->ep[i].rule_hash == rh)
			return &id->ep[i];
		if (!free_ep && (id->ep[i].rule_hash == 0 || !id->ep[i].open))
			free_ep = &id->ep[i];
	}
	if (!free_ep)
		free_ep = &id->ep[rh % CCONF_RULES_MAX];
	memset(free_ep, 0, sizeof(*free_ep));
	free_ep->rule_hash = rh;
	return free_ep;
}

int engine_ident_severity(const struct engine *e, const struct engine_ident *id)
{
	int best = -1;
	for (size_t r = 0; r < e->cfg->nrules; r++) {
		const struct rule_def *rd = &e->cfg->rules[r];
		uint64_t rh = name_hash(rd->name);
		for (size_t i = 0; i < CCONF_RULES_MAX; i++) {
			const struct rules_episode *ep = &id->ep[i];
			if (ep->rule_hash == rh && rules_episode_active(ep, e->now, rd->window_s) &&
			    (int)rd->p.severity > best)
				best = (int)rd->p.severity;
		}
	}
	return best;
}

static void alert_id(const char *ident, const char *rule, double start, int level, char out[33])
{
	char key[512];
	int n = snprintf(key, sizeof(key), "%s|%s|%.6f|%d", ident, rule, start, level);
	if (n < 0 || (size_t)n >= sizeof(key))
		n = (int)strlen(key);
	uint64_t a = fnv64_seeded(0, key, (size_t)n), b = fnv64_seeded(0x5bd1e995, key, (size_t)n);
	snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, a, b);
}

static bool capture_loss(const struct engine *e, const struct engine_ident *id, double from,
			 double to)
{
	if (gap_overlap(e, from, to) > 0)
		return true;
	for (size_t i = 0; i < ENGINE_ID_SENSORS && id->sensors[i][0]; i++)
		for (size_t s = 0; s < e->nsensors; s++)
			if (strcmp(e->sensors[s].name, id->sensors[i]) == 0 &&
			    e->sensors[s].last_drop >= from)
				return true;
	return false;
}

static void human_bytes(uint64_t b, char *out, size_t n)
{
	static const char *u[] = {"B", "kB", "MB", "GB", "TB", "PB"};
	double v = (double)b;
	int i = 0;
	while (v >= 1000 && i < 5) {
		v /= 1000;
		i++;
	}
	snprintf(out, n, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static json_t *top_dests_json(const struct engine_ident *id, double since, size_t maxn)
{
	unsigned order[ENGINE_TOPK];
	unsigned n = 0;
	for (unsigned i = 0; i < id->ndests; i++)
		if (id->dests[i].last_seen >= since)
			order[n++] = i;
	for (unsigned i = 1; i < n; i++)        /* insertion sort, bytes descending */
		for (unsigned j = i; j > 0 && id->dests[order[j]].bytes > id->dests[order[j - 1]].bytes; j--) {
			unsigned t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	json_t *arr = json_array();
	char ab[ADDR_STRLEN];
	for (unsigned i = 0; i < n && i < maxn; i++) {
		const struct engine_dest *d = &id->dests[order[i]];
		const char *pn = report_proto_name(d->proto);
		json_t *o = json_pack("{s:s,s:I,s:I,s:i}", "addr", addr_format(&d->addr, ab, sizeof(ab)),
				      "bytes", (json_int_t)d->bytes, "packets", (json_int_t)d->packets,
				      "port", (int)d->port);
		if (o) {
			json_object_set_new(o, "proto", pn ? json_string(pn) : json_integer(d->proto));
			json_array_append_new(arr, o);
		}
	}
	return arr;
}

static void raise_alert(struct engine *e, struct engine_ident *id, double now,
			const struct rule_def *rd, const struct rules_episode *ep,
			const struct rules_verdict *v, int level, const struct engine_window *w,
			uint64_t baseline, struct engine_alerts *out)
{
	char idbuf[33];
	alert_id(id->name, rd->name, ep->start, level, idbuf);
	char ob[32], tb[32], bb[32], msg[512];
	human_bytes(w->observed, ob, sizeof(ob));
	human_bytes(v->threshold, tb, sizeof(tb));
	human_bytes(baseline, bb, sizeof(bb));
	snprintf(msg, sizeof(msg), "%s sent %s in %.0fh (threshold %s, baseline %s%s), rule %s%s",
		 id->name, ob, rd->window_s / 3600, tb, ep->has_baseline ? bb : "none",
		 ep->has_baseline ? "" : " yet", rd->name, level > 0 ? ", escalated" : "");
	json_t *sensors = json_array();
	for (size_t i = 0; i < ENGINE_ID_SENSORS && id->sensors[i][0]; i++)
		json_array_append_new(sensors, json_string(id->sensors[i]));
	json_t *a = json_pack("{s:s,s:f,s:s,s:s,s:s,s:f,s:I,s:I,s:I,s:o,s:o,s:f,s:s}",
			      "id", idbuf, "time", now, "severity",
			      collector_config_severity_name(v->severity), "rule", rd->name,
			      "identity", id->name, "window_s", rd->window_s,
			      "observed_bytes", (json_int_t)w->observed,
			      "baseline_bytes", (json_int_t)baseline,
			      "threshold_bytes", (json_int_t)v->threshold,
			      "top_destinations", top_dests_json(id, now - rd->window_s, 5),
			      "sensors", sensors, "first_seen", ep->start, "message", msg);
	if (!a)
		return;
	json_object_set_new(a, "window_s", json_integer((json_int_t)rd->window_s));
	json_object_set_new(a, "expected_bytes", json_integer((json_int_t)baseline));
	json_object_set_new(a, "has_baseline", json_boolean(ep->has_baseline));
	json_object_set_new(a, "out_bytes", json_integer((json_int_t)w->bytes));
	json_object_set_new(a, "level", json_integer(level));
	json_object_set_new(a, "config_version", json_string(e->cfg ? e->cfg->version : ""));
	json_object_set_new(a, "capture_loss",
			    json_boolean(capture_loss(e, id, now - rd->window_s, now)));
	char *text = json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(a);
	if (!text)
		return;
	if (out->n == out->cap) {
		size_t nc = out->cap ? out->cap * 2 : 8;
		struct engine_alert *nv = realloc(out->v, nc * sizeof(*nv));
		if (!nv) {
			free(text);
			return;
		}
		out->v = nv;
		out->cap = nc;
	}
	memcpy(out->v[out->n].id, idbuf, sizeof(idbuf));
	out->v[out->n].json = text;
	out->n++;
	e->c.alerts++;
}

/* Judges id's rules at now: the clock of the report that named it. */
static void evaluate(struct engine *e, struct engine_ident *id, double now,
		     struct engine_alerts *out)
{
	const struct collector_config *cfg = e->cfg;
	if (!cfg)
		return;
	for (size_t r = 0; r < cfg->nrules; r++) {
		const struct rule_def *rd = &cfg->rules[r];
		struct rule_params p;
		collector_config_params(cfg, r, id->gi, id->ii, &p);
		if (!p.enabled)
			continue;
		struct rules_episode *ep = episode_for(id, name_hash(rd->name));
		struct engine_window w;
		engine_window(id, now, rd->window_s, &w);
		uint64_t base = 0;
		bool has_base;
		if (!ep->open && w.observed <= p.min_bytes &&
		    (!p.max_bytes || w.observed <= p.max_bytes) &&
		    (p.min_bytes || !p.baseline_multiple)) {
			/* Below every floor: cannot hold, whatever the baseline. */
			continue;
		}
		if (rules_episode_active(ep, now, rd->window_s) && ep->has_baseline) {
			/* Frozen while the episode is open, so the transfer being
			 * watched is not learned. An episode opened before there was
			 * any history froze nothing: it takes the baseline once one
			 * exists. */
			base = ep->baseline;
			has_base = ep->has_baseline;
		} else {
			has_base = engine_baseline(e, id, now, rd->window_s, &base);
		}
		struct rules_verdict v;
		rules_evaluate(&p, w.observed, base, has_base, &v);
		int level;
		if (rules_episode_step(ep, &v, now, rd->window_s, base, has_base, &level))
			raise_alert(e, id, now, rd, ep, &v, level, &w, base, out);
	}
}

/*
 * A sensor that loses more than [collector] sensor_blind_rate of its packets
 * in a report (kernel and interface drops; a dropped spooled report counts
 * as a whole report's packets lost) is partly blind: every volume figure is
 * then a lower bound. One alert per sensor per hour of capture clock.
 */
static void sensor_blind(struct engine *e, const struct engine_sensor *s, const struct report *r,
			 struct engine_alerts *out)
{
	if (!e->cfg || e->cfg->sensor_blind_rate <= 0)
		return;
	uint64_t lost = r->stats.drops_kernel + r->stats.drops_iface;
	double seen = (double)r->stats.packets_seen + (double)lost;
	double rate = seen > 0 ? (double)lost / seen : 0;
	if (r->stats.spool_dropped)
		rate = 1;
	if (rate < e->cfg->sensor_blind_rate)
		return;
	char id[33], key[160], msg[256];
	int n = snprintf(key, sizeof(key), "sensor-blind\n%s\n%lld", s->name,
			 (long long)floor(r->end / 3600));
	snprintf(id, sizeof(id), "%016llx%016llx",
		 (unsigned long long)fnv64_seeded(0, key, (size_t)n),
		 (unsigned long long)fnv64_seeded(0x5bd1e995, key, (size_t)n));
	snprintf(msg, sizeof(msg),
		 "sensor %s lost %.1f%% of its packets (%llu dropped, %llu reports dropped from its "
		 "spool): volumes are lower bounds",
		 s->name, rate * 100, (unsigned long long)lost,
		 (unsigned long long)r->stats.spool_dropped);
	char ident[IDENTITY_NAME_MAX + 1];
	snprintf(ident, sizeof(ident), "sensor:%s", s->name);
	json_t *a = json_pack("{s:s, s:f, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:I, s:f, "
			      "s:[], s:[s], s:f, s:s, s:s}",
			      "id", id, "time", r->end, "severity", "high", "rule", "sensor-blind",
			      "identity", ident, "sensor", s->name, "window_s", r->end - r->start,
			      "observed_bytes", (json_int_t)0, "packets_seen",
			      (json_int_t)r->stats.packets_seen, "drops_kernel",
			      (json_int_t)r->stats.drops_kernel, "drops_iface",
			      (json_int_t)r->stats.drops_iface, "spool_dropped",
			      (json_int_t)r->stats.spool_dropped, "drop_rate", rate,
			      "top_destinations", "sensors", s->name, "first_seen", r->start,
			      "message", msg, "config_version", e->cfg->version);
	char *text = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(a);
	if (text && alerts_push(out, id, text) == 0)
		e->c.alerts++;
	else
		free(text);
}

enum engine_result engine_apply(struct engine *e, const struct report *r,
				struct engine_alerts *out, char *err, size_t errlen)
{
	/* Bounds against the wall clock, before the report can touch state:
	 * one report from the far future would otherwise move the capture
	 * clock there, and one seq near 2^63 would make every later report of
	 * its sensor a duplicate. */
	double wall = wall_now(e);
	if (r->end > wall + ENGINE_FUTURE_MAX) {
		snprintf(err, errlen, "end: more than a day ahead of the collector's clock");
		return ENGINE_REJECTED;
	}
	if ((double)r->seq > (wall + ENGINE_FUTURE_MAX) * 1e6) {
		snprintf(err, errlen, "seq: implausible, above the collector's clock in microseconds");
		return ENGINE_REJECTED;
	}
	bool created;
	struct engine_sensor *s = sensor_get(e, r->sensor, true, &created);
	if (!s) {
		/* Never evicted: a returning sensor's last seq is what keeps its
		 * re-delivered reports from counting twice. */
		e->c.sensors_rejected++;
		snprintf(err, errlen, "sensor table full (%zu sensors, [collector] max_sensors)",
			 max_sensors(e));
		return ENGINE_REJECTED;
	}
	if (!created && r->seq <= s->last_seq) {
		s->duplicates++;
		s->dirty = true;
		e->c.duplicates++;
		return ENGINE_DUPLICATE;
	}
	if (!created && r->seq > s->last_seq + 1) {
		/* Lost reports: remembered as unknown time, never as silence.
		 * A sensor reports at most about once a second, so the time the
		 * gap covers bounds how many were lost: a sensor that renumbered
		 * (reinstalled, numbering from the wall clock in microseconds)
		 * jumps by 10^15 without losing 10^15 reports. */
		uint64_t lost = r->seq - s->last_seq - 1;
		double secs = r->start - s->last_end;
		uint64_t cap = secs > 0 ? (uint64_t)fmin(secs, 1e15) + 1 : 1;
		if (lost > cap)
			lost = cap;
		s->gaps++;
		s->lost_reports = sat_add(e, s->lost_reports, lost);
		e->c.gaps++;
		e->c.lost_reports = sat_add(e, e->c.lost_reports, lost);
		add_gap(e, s->name, s->last_seq + 1, r->seq - 1, s->last_end,
			r->start > s->last_end ? r->start : s->last_end);
		/* The sensor's identities are unknown here: no one learns the gap. */
		if (e->det && r->start > s->last_end)
			detect_mark_gap(e->det, NULL, s->last_end, r->start);
	}
	s->last_seq = r->seq;
	s->last_end = r->end;
	s->reports++;
	if (r->stats.drops_kernel || r->stats.drops_iface || r->stats.spool_dropped) {
		s->last_drop = r->end;
		sensor_blind(e, s, r, out);
	}
	s->stats.packets_seen = sat_add(e, s->stats.packets_seen, r->stats.packets_seen);
	s->stats.packets_undecoded = sat_add(e, s->stats.packets_undecoded, r->stats.packets_undecoded);
	s->stats.drops_kernel = sat_add(e, s->stats.drops_kernel, r->stats.drops_kernel);
	s->stats.drops_iface = sat_add(e, s->stats.drops_iface, r->stats.drops_iface);
	s->stats.spool_dropped = sat_add(e, s->stats.spool_dropped, r->stats.spool_dropped);
	s->dirty = true;
	if (r->end > e->now)
		e->now = r->end;
	e->c.applied++;

	for (size_t i = 0; i < r->nids; i++) {
		const struct report_identity *ri = &r->ids[i];
		size_t idx;
		struct engine_ident *id = ident_get(e, ri->name, s, &idx);
		if (!id)
			continue;
		refresh_cache(e, id);
		struct engine_totals *t = &id->t;
		t->out_bytes = sat_add(e, t->out_bytes, ri->out_bytes);
		t->out_packets = sat_add(e, t->out_packets, ri->out_packets);
		t->in_bytes = sat_add(e, t->in_bytes, ri->in_bytes);
		t->in_packets = sat_add(e, t->in_packets, ri->in_packets);
		t->lateral_bytes = sat_add(e, t->lateral_bytes, ri->lateral_bytes);
		t->lateral_packets = sat_add(e, t->lateral_packets, ri->lateral_packets);
		t->flows = sat_add(e, t->flows, ri->flows);
		t->reports++;
		if (id->first_seen == 0 || r->start < id->first_seen)
			id->first_seen = r->start;
		if (r->end > id->last_seen)
			id->last_seen = r->end;
		uint64_t allowed = allowed_bytes(e, id, ri, r->start);
		uint64_t obs = ri->out_bytes - allowed;
		spread(e, id->min, ENGINE_MIN_SLOTS, 60, r->start, r->end, ri->out_bytes,
		       ri->out_packets, obs, &e->c.late_minute);
		spread(e, id->hr, ENGINE_HOUR_SLOTS, 3600, r->start, r->end, ri->out_bytes,
		       ri->out_packets, obs, &e->c.late_hour);
		for (size_t j = 0; j < ri->ndests; j++)
			topk_add(e, id, &ri->dests[j], r->end);
		remember_sensor(id, r->sensor);
		mark_dirty(e, id, idx);
		if (ri->out_bytes)
			evaluate(e, id, r->end, out);
		if (e->det)
			det_observe(e, r, ri);
	}
	if (e->det) {
		struct det_emit_ctx c = {e, out};
		detect_tick(e->det, e->now, det_emit, &c);
	}
	return ENGINE_APPLIED;
}

void engine_reason_class(const char *reason, char *out, size_t n)
{
	const char *c = reason;
	if (strncmp(reason, "bad JSON", 8) == 0)
		c = "bad JSON";
	else if (strstr(reason, ": "))
		c = strrchr(reason, ':') + 2;   /* "identities[3].out_bytes: missing" -> "missing" */
	snprintf(out, n, "%s", c);
	/* a field path kept in the class would make the counter set unbounded */
	for (char *p = out; *p; p++)
		if (*p == '[' || (*p >= '0' && *p <= '9'))
			*p = '#';
}

void engine_count_dead(struct engine *e, const char *reason)
{
	char cls[64];
	engine_reason_class(reason, cls, sizeof(cls));
	e->c.dead++;
	for (size_t i = 0; i < e->nreasons; i++)
		if (strcmp(e->reasons[i].reason, cls) == 0) {
			e->reasons[i].count++;
			return;
		}
	if (e->nreasons < ENGINE_REASONS_MAX) {
		snprintf(e->reasons[e->nreasons].reason, sizeof(e->reasons[0].reason), "%s", cls);
		e->reasons[e->nreasons++].count = 1;
	} else {
		e->reasons[ENGINE_REASONS_MAX - 1].count++;     /* "other" in effect */
	}
}

/* ---- blobs ---- */

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		size_t nc = w->cap ? w->cap : 512;
		while (nc < w->len + n)
			nc *= 2;
		unsigned char *np = realloc(w->p, nc);
		if (!np) {
			w->oom = true;
			return;
		}
		w->p = np;
		w->cap = nc;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	put(w, b, 8);
}

static void put_f64(struct wbuf *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, 8);
	put_u64(w, v);
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);
	unsigned char l = (unsigned char)(n > 255 ? 255 : n);
	put(w, &l, 1);
	put(w, s, l);
}

static unsigned char *finish(struct wbuf *w, size_t *len)
{
	if (w->oom) {
		free(w->p);
		return NULL;
	}
	*len = w->len;
	return w->p;
}

/*
 * A blob being read. Every value is checked against its range as it is
 * read: the blob comes from Redis, where anything may have written it, and
 * a time or count out of range would make a window, a ring or a loop run
 * for ever. why names the first problem.
 */
struct rbuf {
	const unsigned char *p;
	size_t len, off;
	bool bad;
	const char *why;
	double tmax;            /* the latest time accepted */
};

static void rbad(struct rbuf *r, const char *why)
{
	if (!r->bad)
		r->why = why;
	r->bad = true;
}

static struct rbuf rbuf_of(const struct engine *e, const unsigned char *p, size_t len)
{
	double horizon = wall_now(e) + ENGINE_FUTURE_MAX;
	struct rbuf r = {p, len, 0, false, NULL, fmin(ENGINE_TIME_MAX, horizon)};
	return r;
}

static uint64_t get_u64(struct rbuf *r)
{
	if (r->bad || r->len - r->off < 8) {
		rbad(r, "truncated");
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[r->off + i] << (8 * i);
	r->off += 8;
	return v;
}

static double get_f64(struct rbuf *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, 8);
	if (!isfinite(d)) {
		rbad(r, "a number is not finite");
		return 0;
	}
	return d;
}

/* A capture time: 0 .. the latest report_parse accepts and the wall clock allows. */
static double get_time(struct rbuf *r, const char *what)
{
	double d = get_f64(r);
	if (!r->bad && !(d >= 0 && d <= r->tmax))
		rbad(r, what);
	return d;
}

/* A count saturated at ENGINE_COUNT_MAX. */
static uint64_t get_count(struct rbuf *r)
{
	uint64_t v = get_u64(r);
	if (!r->bad && v > ENGINE_COUNT_MAX)
		rbad(r, "a count is above 2^63-1");
	return v;
}

/* A unit index (minute, hour, day) of a time get_time accepts. */
static int64_t get_index(struct rbuf *r, double unit, const char *what)
{
	int64_t v = (int64_t)get_u64(r);
	if (!r->bad && !(v >= 0 && (double)v <= floor(r->tmax / unit)))
		rbad(r, what);
	return v;
}

static void get_str(struct rbuf *r, char *out, size_t n)
{
	if (r->bad || r->off >= r->len) {
		rbad(r, "truncated");
		return;
	}
	size_t l = r->p[r->off++];
	if (l >= n || r->len - r->off < l) {
		rbad(r, "a name is too long");
		return;
	}
	memcpy(out, r->p + r->off, l);
	out[l] = '\0';
	r->off += l;
}

static void get_bytes(struct rbuf *r, void *out, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		rbad(r, "truncated");
		return;
	}
	memcpy(out, r->p + r->off, n);
	r->off += n;
}

#define MAGIC_IDENT 0x31444945574531ULL   /* version 1 blobs */
#define MAGIC_SENSOR_V1 0x31534e45574531ULL /* before identities_folded */
#define MAGIC_SENSOR 0x32534e45574531ULL
#define MAGIC_META 0x314d5445574531ULL

static void put_ring(struct wbuf *w, const struct engine_bucket *ring, size_t n)
{
	uint64_t used = 0;
	for (size_t i = 0; i < n; i++)
		used += ring[i].tag != INT64_MIN;
	put_u64(w, used);
	for (size_t i = 0; i < n; i++) {
		if (ring[i].tag == INT64_MIN)
			continue;
		put_u64(w, (uint64_t)ring[i].tag);
		put_u64(w, ring[i].bytes);
		put_u64(w, ring[i].packets);
		put_u64(w, ring[i].observed);
	}
}

static void get_ring(struct rbuf *r, struct engine_bucket *ring, size_t n, double unit)
{
	uint64_t used = get_u64(r);
	if (used > n) {
		rbad(r, "more ring buckets than slots");
		return;
	}
	for (uint64_t i = 0; i < used && !r->bad; i++) {
		struct engine_bucket b;
		b.tag = get_index(r, unit, "a ring bucket's time is out of range");
		b.bytes = get_count(r);
		b.packets = get_count(r);
		b.observed = get_count(r);
		if (r->bad)
			return;
		struct engine_bucket *slot = &ring[(uint64_t)b.tag % n];
		if (slot->tag != INT64_MIN) {
			rbad(r, "two ring buckets in one slot");
			return;
		}
		*slot = b;
	}
}

unsigned char *engine_ident_blob(const struct engine_ident *id, size_t *len)
{
	struct wbuf w = {0};
	put_u64(&w, MAGIC_IDENT);
	put_str(&w, id->name);
	const uint64_t *t = &id->t.out_bytes;
	for (size_t i = 0; i < sizeof(id->t) / 8; i++)
		put_u64(&w, t[i]);
	put_f64(&w, id->first_seen);
	put_f64(&w, id->last_seen);
	put_ring(&w, id->min, ENGINE_MIN_SLOTS);
	put_ring(&w, id->hr, ENGINE_HOUR_SLOTS);
	put_u64(&w, id->ndests);
	for (unsigned i = 0; i < id->ndests; i++) {
		const struct engine_dest *d = &id->dests[i];
		put(&w, d->addr.b, 16);
		put_u64(&w, (uint64_t)d->port | (uint64_t)d->proto << 16);
		put_u64(&w, d->bytes);
		put_u64(&w, d->packets);
		put_f64(&w, d->last_seen);
	}
	for (size_t i = 0; i < CCONF_ALLOWS_MAX; i++) {
		put_u64(&w, id->allow[i].allow_hash);
		put_u64(&w, (uint64_t)id->allow[i].day);
		put_u64(&w, id->allow[i].used);
	}
	for (size_t i = 0; i < CCONF_RULES_MAX; i++) {
		const struct rules_episode *ep = &id->ep[i];
		put_u64(&w, ep->rule_hash);
		put_f64(&w, ep->start);
		put_f64(&w, ep->last_held);
		put_u64(&w, ep->baseline);
		put_u64(&w, (uint64_t)(uint32_t)ep->level | (uint64_t)ep->open << 32 |
				    (uint64_t)ep->has_baseline << 33);
	}
	for (size_t i = 0; i < ENGINE_ID_SENSORS; i++)
		put_str(&w, id->sensors[i]);
	return finish(&w, len);
}

/* Counts a refused blob and keeps its reason; returns -1. */
static int load_refused(struct engine *e, const char *kind, const char *name, const struct rbuf *r)
{
	e->load_rejected++;
	const char *why = !r->bad && r->off != r->len ? "trailing bytes" : r->why ? r->why : "corrupt";
	snprintf(e->load_err, sizeof(e->load_err), "%s%s%s: %s", kind, name && name[0] ? " " : "",
		 name ? name : "", why);
	return -1;
}

uint64_t engine_load_rejected(const struct engine *e) { return e->load_rejected; }
const char *engine_load_error(const struct engine *e) { return e->load_err; }

int engine_load_ident(struct engine *e, const unsigned char *p, size_t len)
{
	struct rbuf r = rbuf_of(e, p, len);
	struct engine_ident *tmp = malloc(sizeof(*tmp));
	if (!tmp)
		return -1;
	char name[IDENTITY_NAME_MAX + 1] = "";
	if (get_u64(&r) != MAGIC_IDENT)
		rbad(&r, "not an identity record of this version");
	get_str(&r, name, sizeof(name));
	ident_init(tmp, name);
	uint64_t *t = &tmp->t.out_bytes;
	for (size_t i = 0; i < sizeof(tmp->t) / 8; i++)
		t[i] = get_count(&r);
	tmp->first_seen = get_time(&r, "first_seen is out of range");
	tmp->last_seen = get_time(&r, "last_seen is out of range");
	get_ring(&r, tmp->min, ENGINE_MIN_SLOTS, 60);
	get_ring(&r, tmp->hr, ENGINE_HOUR_SLOTS, 3600);
	uint64_t nd = get_u64(&r);
	if (nd > ENGINE_TOPK)
		rbad(&r, "more destinations than the table holds");
	for (uint64_t i = 0; i < nd && !r.bad; i++) {
		struct engine_dest *d = &tmp->dests[i];
		get_bytes(&r, d->addr.b, 16);
		uint64_t pp = get_u64(&r);
		if (pp >> 24)
			rbad(&r, "a destination's port or protocol is out of range");
		d->port = (uint16_t)pp;
		d->proto = (uint8_t)(pp >> 16);
		d->bytes = get_count(&r);
		d->packets = get_count(&r);
		d->last_seen = get_time(&r, "a destination's last_seen is out of range");
	}
	tmp->ndests = (unsigned)nd;
	for (size_t i = 0; i < CCONF_ALLOWS_MAX; i++) {
		tmp->allow[i].allow_hash = get_u64(&r);
		uint64_t day = get_u64(&r);
		tmp->allow[i].day = (int64_t)day;
		if ((int64_t)day != INT64_MIN &&
		    !((int64_t)day >= 0 && (double)day <= floor(r.tmax / 86400)))
			rbad(&r, "an allowlist day is out of range");
		tmp->allow[i].used = get_count(&r);
	}
	for (size_t i = 0; i < CCONF_RULES_MAX; i++) {
		struct rules_episode *ep = &tmp->ep[i];
		ep->rule_hash = get_u64(&r);
		ep->start = get_time(&r, "an episode's start is out of range");
		ep->last_held = get_time(&r, "an episode's last hold is out of range");
		ep->baseline = get_count(&r);
		uint64_t f = get_u64(&r);
		if ((f >> 34) || (uint32_t)f > RULES_LEVEL_MAX)
			rbad(&r, "an episode's level or flags are out of range");
		ep->level = (int32_t)(uint32_t)f;
		ep->open = (f >> 32) & 1;
		ep->has_baseline = (f >> 33) & 1;
	}
	for (size_t i = 0; i < ENGINE_ID_SENSORS; i++)
		get_str(&r, tmp->sensors[i], sizeof(tmp->sensors[i]));
	if (!r.bad && !(report_identity_name_valid(name) || strcmp(name, OVERFLOW_IDENTITY) == 0))
		rbad(&r, "not a valid identity name");
	if (r.bad || r.off != r.len) {
		free(tmp);
		return load_refused(e, "identity", name, &r);
	}
	size_t idx;
	struct engine_ident *id = ident_get(e, name, NULL, &idx);
	if (!id) {
		free(tmp);
		return -1;
	}
	/* The sensors' identity counts follow the creators (sensors[0]), so
	 * state from before the per-sensor cap counts right as it loads. */
	charge_creator(e, id, false);
	*id = *tmp;
	charge_creator(e, id, true);
	free(tmp);
	return 0;
}

unsigned char *engine_sensor_blob(const struct engine_sensor *s, size_t *len)
{
	struct wbuf w = {0};
	put_u64(&w, MAGIC_SENSOR);
	put_str(&w, s->name);
	put_u64(&w, s->last_seq);
	put_f64(&w, s->last_end);
	put_f64(&w, s->last_drop);
	put_u64(&w, s->reports);
	put_u64(&w, s->duplicates);
	put_u64(&w, s->gaps);
	put_u64(&w, s->lost_reports);
	put_u64(&w, s->stats.packets_seen);
	put_u64(&w, s->stats.packets_undecoded);
	put_u64(&w, s->stats.drops_kernel);
	put_u64(&w, s->stats.drops_iface);
	put_u64(&w, s->stats.spool_dropped);
	put_u64(&w, s->identities_folded);
	return finish(&w, len);
}

int engine_load_sensor(struct engine *e, const unsigned char *p, size_t len)
{
	struct rbuf r = rbuf_of(e, p, len);
	struct engine_sensor t;
	memset(&t, 0, sizeof(t));
	uint64_t magic = get_u64(&r);
	if (magic != MAGIC_SENSOR && magic != MAGIC_SENSOR_V1)
		rbad(&r, "not a sensor record of this version");
	get_str(&r, t.name, sizeof(t.name));
	t.last_seq = get_u64(&r);
	/* The bound engine_apply holds every seq to: a saved seq past it
	 * would make every later report of the sensor a duplicate. */
	if (!r.bad && (double)t.last_seq > r.tmax * 1e6)
		rbad(&r, "last_seq is implausible (above the wall clock in microseconds)");
	t.last_end = get_time(&r, "last_end is out of range");
	t.last_drop = get_time(&r, "last_drop is out of range");
	t.reports = get_count(&r);
	t.duplicates = get_count(&r);
	t.gaps = get_count(&r);
	t.lost_reports = get_count(&r);
	t.stats.packets_seen = get_count(&r);
	t.stats.packets_undecoded = get_count(&r);
	t.stats.drops_kernel = get_count(&r);
	t.stats.drops_iface = get_count(&r);
	t.stats.spool_dropped = get_count(&r);
	if (magic == MAGIC_SENSOR)
		t.identities_folded = get_count(&r);
	if (!r.bad && !t.name[0])
		rbad(&r, "no name");
	if (r.bad || r.off != r.len)
		return load_refused(e, "sensor", t.name, &r);
	bool created;
	struct engine_sensor *s = sensor_get(e, t.name, false, &created);
	if (!s)
		return -1;
	t.identities = s->identities;   /* derived from the identities, not the blob */
	*s = t;
	return 0;
}

unsigned char *engine_meta_blob(const struct engine *e, size_t *len)
{
	struct wbuf w = {0};
	put_u64(&w, MAGIC_META);
	put_f64(&w, e->now);
	const uint64_t *c = &e->c.applied;
	put_u64(&w, sizeof(e->c) / 8);
	for (size_t i = 0; i < sizeof(e->c) / 8; i++)
		put_u64(&w, c[i]);
	put_u64(&w, e->ngaps);
	put_u64(&w, e->gap_next);
	for (size_t i = 0; i < e->ngaps; i++) {
		put_str(&w, e->gaps[i].sensor);
		put_u64(&w, e->gaps[i].seq_from);
		put_u64(&w, e->gaps[i].seq_to);
		put_f64(&w, e->gaps[i].from);
		put_f64(&w, e->gaps[i].to);
	}
	put_u64(&w, e->nreasons);
	for (size_t i = 0; i < e->nreasons; i++) {
		put_str(&w, e->reasons[i].reason);
		put_u64(&w, e->reasons[i].count);
	}
	return finish(&w, len);
}

int engine_load_meta(struct engine *e, const unsigned char *p, size_t len)
{
	struct rbuf r = rbuf_of(e, p, len);
	struct engine *tmp = calloc(1, sizeof(*tmp));
	if (!tmp)
		return -1;
	if (get_u64(&r) != MAGIC_META)
		rbad(&r, "not a meta record of this version");
	tmp->now = get_time(&r, "now is out of range");
	/* New counters go at the end of engine_counters: an older blob has
	 * fewer, and the ones it lacks start at 0. */
	uint64_t nc = get_u64(&r);
	if (nc > sizeof(tmp->c) / 8)
		rbad(&r, "more counters than this version has");
	uint64_t *c = &tmp->c.applied;
	for (size_t i = 0; i < nc && !r.bad; i++)
		c[i] = get_count(&r);
	uint64_t ng = get_u64(&r), gn = get_u64(&r);
	if (ng > ENGINE_GAPS_MAX || gn >= ENGINE_GAPS_MAX)
		rbad(&r, "more gaps than the table holds");
	for (uint64_t i = 0; i < ng && !r.bad; i++) {
		struct engine_gap *g = &tmp->gaps[i];
		get_str(&r, g->sensor, sizeof(g->sensor));
		g->seq_from = get_u64(&r);
		g->seq_to = get_u64(&r);
		g->from = get_time(&r, "a gap's start is out of range");
		g->to = get_time(&r, "a gap's end is out of range");
		if (!r.bad && (g->seq_from > g->seq_to || g->seq_to > INT64_MAX || g->from > g->to))
			rbad(&r, "a gap ends before it starts");
	}
	uint64_t nr = get_u64(&r);
	if (nr > ENGINE_REASONS_MAX)
		rbad(&r, "more dead-letter reasons than the table holds");
	for (uint64_t i = 0; i < nr && !r.bad; i++) {
		get_str(&r, tmp->reasons[i].reason, sizeof(tmp->reasons[i].reason));
		tmp->reasons[i].count = get_count(&r);
	}
	if (r.bad || r.off != r.len) {
		free(tmp);
		return load_refused(e, "meta", NULL, &r);
	}
	e->now = tmp->now;
	e->c = tmp->c;
	memcpy(e->gaps, tmp->gaps, sizeof(e->gaps));
	e->ngaps = (size_t)ng;
	e->gap_next = (size_t)gn;
	memcpy(e->reasons, tmp->reasons, sizeof(e->reasons));
	e->nreasons = (size_t)nr;
	free(tmp);
	return 0;
}

/* ---- dump ---- */

static int cmp_ident(const void *a, const void *b)
{
	const struct engine_ident *x = *(const struct engine_ident *const *)a;
	const struct engine_ident *y = *(const struct engine_ident *const *)b;
	return strcmp(x->name, y->name);
}

static json_t *win_json(const struct engine_ident *id, double now, double w)
{
	struct engine_window x;
	engine_window(id, now, w, &x);
	return json_pack("{s:I,s:I,s:I}", "out_bytes", (json_int_t)x.bytes, "out_packets",
			 (json_int_t)x.packets, "observed_bytes", (json_int_t)x.observed);
}

json_t *engine_dump(const struct engine *e)
{
	json_t *root = json_object();
	json_object_set_new(root, "now", json_real(e->now));
	json_object_set_new(root, "state_bytes_per_identity", json_integer((json_int_t)engine_ident_bytes()));
	json_object_set_new(root, "counters",
			    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
				      "applied", (json_int_t)e->c.applied,
				      "duplicates", (json_int_t)e->c.duplicates,
				      "gaps", (json_int_t)e->c.gaps,
				      "lost_reports", (json_int_t)e->c.lost_reports,
				      "dead", (json_int_t)e->c.dead,
				      "overflow_records", (json_int_t)e->c.overflow_records,
				      "sensor_cap_records", (json_int_t)e->c.sensor_cap_records,
				      "late_minute", (json_int_t)e->c.late_minute,
				      "late_hour", (json_int_t)e->c.late_hour,
				      "alerts", (json_int_t)e->c.alerts,
				      "sensors_rejected", (json_int_t)e->c.sensors_rejected,
				      "saturated", (json_int_t)e->c.saturated));
	if (e->load_rejected)
		json_object_set_new(root, "state_refused",
				    json_pack("{s:I,s:s}", "records", (json_int_t)e->load_rejected,
					      "last_reason", e->load_err));
	json_t *dr = json_object();
	for (size_t i = 0; i < e->nreasons; i++)
		json_object_set_new(dr, e->reasons[i].reason, json_integer((json_int_t)e->reasons[i].count));
	json_object_set_new(root, "dead_reasons", dr);
	json_t *gaps = json_array();
	for (size_t i = 0; i < e->ngaps; i++) {
		const struct engine_gap *g = &e->gaps[(e->gap_next + ENGINE_GAPS_MAX - e->ngaps + i) % ENGINE_GAPS_MAX];
		json_array_append_new(gaps, json_pack("{s:s,s:I,s:I,s:f,s:f}", "sensor", g->sensor,
						      "seq_from", (json_int_t)g->seq_from, "seq_to",
						      (json_int_t)g->seq_to, "from", g->from, "to", g->to));
	}
	json_object_set_new(root, "gaps", gaps);
	json_t *ss = json_array();
	for (size_t i = 0; i < e->nsensors; i++) {
		const struct engine_sensor *s = &e->sensors[i];
		json_array_append_new(ss, json_pack(
			"{s:s,s:I,s:f,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"sensor", s->name, "last_seq", (json_int_t)s->last_seq, "last_report", s->last_end,
			"reports", (json_int_t)s->reports, "duplicates", (json_int_t)s->duplicates,
			"gaps", (json_int_t)s->gaps, "lost_reports", (json_int_t)s->lost_reports,
			"packets_seen", (json_int_t)s->stats.packets_seen,
			"packets_undecoded", (json_int_t)s->stats.packets_undecoded,
			"drops_kernel", (json_int_t)s->stats.drops_kernel,
			"identities", (json_int_t)s->identities,
			"identities_folded", (json_int_t)s->identities_folded));
	}
	json_object_set_new(root, "sensors", ss);
	const struct engine_ident **v = malloc((e->nids ? e->nids : 1) * sizeof(*v));
	json_t *ids = json_array();
	if (v) {
		for (size_t i = 0; i < e->nids; i++)
			v[i] = e->ids[i];
		qsort(v, e->nids, sizeof(*v), cmp_ident);
		for (size_t i = 0; i < e->nids; i++) {
			const struct engine_ident *id = v[i];
			const struct engine_totals *t = &id->t;
			json_t *o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f}",
				"identity", id->name, "out_bytes", (json_int_t)t->out_bytes,
				"out_packets", (json_int_t)t->out_packets, "in_bytes", (json_int_t)t->in_bytes,
				"in_packets", (json_int_t)t->in_packets, "lateral_bytes", (json_int_t)t->lateral_bytes,
				"lateral_packets", (json_int_t)t->lateral_packets, "flows", (json_int_t)t->flows,
				"reports", (json_int_t)t->reports, "first_seen", id->first_seen,
				"last_seen", id->last_seen);
			json_t *w = json_object();
			json_object_set_new(w, "1h", win_json(id, e->now, 3600));
			json_object_set_new(w, "24h", win_json(id, e->now, 86400));
			json_object_set_new(w, "7d", win_json(id, e->now, 7 * 86400));
			json_object_set_new(o, "windows", w);
			json_object_set_new(o, "top_destinations", top_dests_json(id, 0, ENGINE_TOPK));
			json_array_append_new(ids, o);
		}
		free(v);
	}
	json_object_set_new(root, "identities", ids);
	return root;
}
