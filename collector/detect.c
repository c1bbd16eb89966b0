/*
 * detect: the detection engine (see detect.h): identities, their hour and
 * day rings, lagged learning, the rules, episodes, alerts, and state.
 *
 * Invariants: an identity's ring holds hours cur_hour-167 .. cur_hour,
 * indexed by absolute hour % 168, each with flags saying whether it is a
 * gap, tainted by an alert, learned, or before the identity existed; the
 * cached sums (sum23/exp23, sum167/exp167) cover the complete hours of the
 * last 23 and 167 hours as of the last roll. Nothing here allocates after
 * an identity is created; the identity array grows by doubling up to
 * max_identities.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detect.h"
#include "detect_drift.h"
#include "detect_novelty.h"
#include "banned.h"

#define RING 168
#define DAYS 16
#define DRIFT_MIN_DAYS 7      /* daily residuals learned before drift is judged */

enum {
	H_GAP = 1, H_TAINT = 2, H_LEARNED = 4, H_NOTSEEN = 8,
};

enum rule_id {
	R_CAP1H, R_CAP24H, R_CAP7D, R_BURST1H, R_BURST24H, R_BURST7D, R_NEWID, R_NEWORG,
	R_DRIFT, R_PEER1H, R_PEER24H, R_FANIN, NRULES
};

static const char *const rule_names[NRULES] = {
	"cap-1h", "cap-24h", "cap-7d", "burst-1h", "burst-24h", "burst-7d",
	"new-destination", "new-destination-org", "drift-cusum", "cold-start-1h",
	"cold-start-24h", "fan-in",
};

/* Families: rules of one family holding together count once when combining. */
static const unsigned rule_family[NRULES] = {0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 4, 5};
static const double rule_window[NRULES] = {
	3600, 86400, 604800, 3600, 86400, 604800, 86400, 86400, 86400, 3600, 86400, 86400,
};
/* An episode ends after its rule has not held this long. */
static const double rule_quiet[NRULES] = {
	3600, 86400, 604800, 3600, 86400, 604800, 86400, 86400, 604800, 3600, 86400, 86400,
};

struct episode {
	uint32_t start, last_held;
	uint8_t sev;
};

struct ident {
	char name[DETECT_NAME_MAX + 1];
	int32_t override;               /* index into overrides, -1 for the defaults */
	uint32_t first_seen, last_obs;
	int64_t cur_hour, gap_to_hour;  /* gap_to_hour: pending gap through this hour */
	float hours[RING];
	uint8_t hflags[RING];
	float days[DAYS], day_exp[DAYS];
	uint8_t dflags[DAYS];
	float sum23, exp23, sum167, exp167;
	uint32_t n167;                  /* expected hours in exp167 */
	float allow_used[DETECT_MAX_ALLOW];
	int64_t allow_day;
	struct detect_baseline base;
	struct detect_cusum cusum;
	struct detect_novelty nov;
	struct episode ep[NRULES];
	uint32_t fanin_until;
	float fanin_bytes;
	uint32_t fanin_nids;
	uint32_t fanin_first;
};

struct detect_engine {
	struct detect_config cfg;
	struct detect_override *overrides;
	struct ident *ids;
	struct detect_dest *dests;      /* K per identity */
	size_t nids, alloc;
	uint32_t *index;                /* name hash table: identity index + 1, 0 empty */
	size_t index_cap;
	float *scratch;                 /* peer quantile work, one per identity */
	struct detect_org org;
	int64_t hour;                   /* engine clock: last rolled hour, -1 none */
	int64_t minute;                 /* last evaluated minute */
	uint32_t started;               /* first observation, capture s */
	float peer_q;                   /* peers' quantile of hourly mean volume, 0 none */
	struct detect_stats st;
};

/* ---- config ---- */

void detect_config_default(struct detect_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->version, sizeof(c->version), "default");
	struct detect_rules *r = &c->rules;
	r->burst_mult[DETECT_W1H] = 4;
	r->burst_mult[DETECT_W24H] = 2;
	r->burst_mult[DETECT_W7D] = 1.5;
	r->burst_k[DETECT_W1H] = 6;
	r->burst_k[DETECT_W24H] = 5;
	r->burst_k[DETECT_W7D] = 5;
	r->burst_floor[DETECT_W1H] = 256000000ULL;
	r->burst_floor[DETECT_W24H] = 2000000000ULL;
	r->burst_floor[DETECT_W7D] = 10000000000ULL;
	r->new_id_bytes = 1000000000ULL;
	r->new_org_bytes = 256000000ULL;
	r->drift_k = 1.0;
	r->drift_h = 5;
	r->drift_min_spread = 100000000ULL;
	r->peer_mult = 8;
	r->peer_floor[0] = 1000000000ULL;
	r->peer_floor[1] = 10000000000ULL;
	r->fanin_bytes = 1000000000ULL;
	r->fanin_identities = 3;
	detect_baseline_params_default(&c->baseline);
	c->learning_s = 7 * 86400.0;
	c->org_learning_s = 7 * 86400.0;
	c->new_window_s = 86400.0;
	c->org_new_window_s = 3 * 86400.0;
	c->bloom_rotate_s = 28 * 86400.0;
	c->max_identities = 100000;
	c->known_per_identity = 64;
	c->org_new_capacity = 16384;
	c->org_bloom_bits = 1u << 20;
	c->prefix_v4 = 24;
	c->prefix_v6 = 64;
	c->peer_quantile = 0.5;
}

static int check_rules(const struct detect_rules *r, const char *who, char *err, size_t errlen)
{
	for (int w = 0; w < DETECT_NWIN; w++) {
		if (!(r->burst_mult[w] >= 1) || !(r->burst_k[w] >= 0)) {
			snprintf(err, errlen, "%s: burst multiple must be >= 1 and k >= 0", who);
			return -1;
		}
	}
	if (!(r->drift_k >= 0) || !(r->drift_h > 0) || !(r->peer_mult >= 1)) {
		snprintf(err, errlen, "%s: drift_k >= 0, drift_h > 0, peer_mult >= 1 required", who);
		return -1;
	}
	return 0;
}

int detect_config_check(const struct detect_config *c, char *err, size_t errlen)
{
	if (check_rules(&c->rules, "rules", err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < c->noverrides; i++) {
		if (!c->overrides[i].identity[0]) {
			snprintf(err, errlen, "override %zu: empty identity", i);
			return -1;
		}
		if (check_rules(&c->overrides[i].rules, c->overrides[i].identity, err, errlen) < 0)
			return -1;
	}
	if (c->nallow > DETECT_MAX_ALLOW) {
		snprintf(err, errlen, "at most %d allowlisted prefixes", DETECT_MAX_ALLOW);
		return -1;
	}
	if (c->max_identities < 1 || c->max_identities > 10000000 || c->known_per_identity < 4 ||
	    c->known_per_identity > 4096 || c->org_new_capacity < 64 || c->org_bloom_bits < 1024) {
		snprintf(err, errlen, "table sizes out of range");
		return -1;
	}
	if (c->prefix_v4 < 8 || c->prefix_v4 > 32 || c->prefix_v6 < 16 || c->prefix_v6 > 128) {
		snprintf(err, errlen, "prefix lengths out of range (v4 8..32, v6 16..128)");
		return -1;
	}
	if (!(c->learning_s >= 0) || !(c->new_window_s >= 3600) || !(c->org_new_window_s >= 3600) ||
	    !(c->peer_quantile > 0 && c->peer_quantile < 1) || c->baseline.min_samples < 1 ||
	    !(c->baseline.alpha_slot > 0 && c->baseline.alpha_slot <= 1)) {
		snprintf(err, errlen, "windows, quantile or baseline parameters out of range");
		return -1;
	}
	return 0;
}

size_t detect_identity_bytes(const struct detect_config *c)
{
	return sizeof(struct ident) + c->known_per_identity * sizeof(struct detect_dest) +
	       2 * sizeof(uint32_t) /* index */ + sizeof(float) /* scratch */;
}

static const struct detect_rules *rules_of(const struct detect_engine *e, const struct ident *id)
{
	if (id->override >= 0 && (size_t)id->override < e->cfg.noverrides)
		return &e->overrides[id->override].rules;
	return &e->cfg.rules;
}

static int32_t find_override(const struct detect_engine *e, const char *name)
{
	int32_t prefix_match = -1;
	size_t best = 0;
	for (size_t i = 0; i < e->cfg.noverrides; i++) {
		const char *pat = e->overrides[i].identity;
		size_t n = strlen(pat);
		if (n && pat[n - 1] == '*') {
			if (strncmp(pat, name, n - 1) == 0 && n - 1 >= best) {
				best = n - 1;
				prefix_match = (int32_t)i;
			}
		} else if (strcmp(pat, name) == 0) {
			return (int32_t)i;
		}
	}
	return prefix_match;
}

static int copy_config(struct detect_engine *e, const struct detect_config *c)
{
	struct detect_override *ov = NULL;
	if (c->noverrides) {
		ov = calloc(c->noverrides, sizeof(*ov));
		if (!ov)
			return -1;
		memcpy(ov, c->overrides, c->noverrides * sizeof(*ov));
		for (size_t i = 0; i < c->noverrides; i++)
			ov[i].identity[DETECT_NAME_MAX] = 0;
	}
	free(e->overrides);
	e->overrides = ov;
	e->cfg = *c;
	e->cfg.overrides = ov;
	e->cfg.version[sizeof(e->cfg.version) - 1] = 0;
	return 0;
}

/* ---- identities ---- */

static uint64_t name_hash(const struct detect_engine *e, const char *s)
{
	uint64_t h = 1469598103934665603ULL ^ e->cfg.seed[0];
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	h ^= e->cfg.seed[1];
	h ^= h >> 31;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static struct ident *lookup(const struct detect_engine *e, const char *name, size_t *slot)
{
	size_t i = (size_t)(name_hash(e, name) & (e->index_cap - 1));
	for (;;) {
		uint32_t v = e->index[i];
		if (v == 0) {
			*slot = i;
			return NULL;
		}
		if (strcmp(e->ids[v - 1].name, name) == 0) {
			*slot = i;
			return &e->ids[v - 1];
		}
		i = (i + 1) & (e->index_cap - 1);
	}
}

static bool name_ok(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		unsigned char ch = (unsigned char)s[n];
		if (n >= DETECT_NAME_MAX || ch <= ' ' || ch >= 0x7f)
			return false;
	}
	return n > 0;
}

static int grow(struct detect_engine *e)
{
	size_t n = e->alloc ? e->alloc * 2 : 64;
	if (n > e->cfg.max_identities)
		n = e->cfg.max_identities;
	if (n <= e->alloc)
		return -1;
	size_t K = e->cfg.known_per_identity;
	struct ident *ids = realloc(e->ids, n * sizeof(*ids));
	if (!ids)
		return -1;
	e->ids = ids;
	struct detect_dest *d = realloc(e->dests, n * K * sizeof(*d));
	if (!d)
		return -1;
	e->dests = d;
	float *sc = realloc(e->scratch, n * sizeof(*sc));
	if (!sc)
		return -1;
	e->scratch = sc;
	e->alloc = n;
	return 0;
}

static struct detect_dest *dests_of(const struct detect_engine *e, const struct ident *id)
{
	return e->dests + (size_t)(id - e->ids) * e->cfg.known_per_identity;
}

static struct ident *get_ident(struct detect_engine *e, const char *name, uint32_t now)
{
	size_t slot;
	struct ident *id = lookup(e, name, &slot);
	if (id)
		return id;
	if (e->nids >= e->cfg.max_identities || (e->nids == e->alloc && grow(e) < 0)) {
		e->st.identities_refused++;
		return NULL;
	}
	id = &e->ids[e->nids];
	memset(id, 0, sizeof(*id));
	memset(dests_of(e, id), 0, e->cfg.known_per_identity * sizeof(struct detect_dest));
	memcpy(id->name, name, strlen(name) + 1);
	id->override = find_override(e, name);
	id->first_seen = now;
	id->cur_hour = now / 3600;
	id->gap_to_hour = -1;
	id->allow_day = -1;
	memset(id->hflags, H_NOTSEEN, sizeof(id->hflags));
	id->hflags[id->cur_hour % RING] = 0;
	memset(id->dflags, H_NOTSEEN, sizeof(id->dflags));
	detect_baseline_init(&id->base);
	detect_novelty_init(&id->nov, now);
	e->nids++;
	e->index[slot] = (uint32_t)e->nids;
	e->st.identities = e->nids;
	return id;
}

static int rebuild_index(struct detect_engine *e)
{
	memset(e->index, 0, e->index_cap * sizeof(*e->index));
	for (size_t i = 0; i < e->nids; i++) {
		size_t slot;
		if (lookup(e, e->ids[i].name, &slot))
			return -1;      /* duplicate name: corrupt state */
		e->index[slot] = (uint32_t)(i + 1);
	}
	return 0;
}

/* ---- engine ---- */

struct detect_engine *detect_new(const struct detect_config *c, char *err, size_t errlen)
{
	if (detect_config_check(c, err, errlen) < 0)
		return NULL;
	struct detect_engine *e = calloc(1, sizeof(*e));
	if (!e)
		goto out_nomem;
	if (copy_config(e, c) < 0)
		goto out_free;
	e->index_cap = 64;
	while (e->index_cap < 2 * c->max_identities)
		e->index_cap <<= 1;
	e->index = calloc(e->index_cap, sizeof(*e->index));
	if (!e->index)
		goto out_free;
	if (detect_org_init(&e->org, c->org_new_capacity, c->org_bloom_bits, c->seed, 0) < 0)
		goto out_free;
	e->hour = -1;
	e->minute = -1;
	return e;
out_free:
	detect_free(e);
out_nomem:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

void detect_free(struct detect_engine *e)
{
	if (!e)
		return;
	detect_org_release(&e->org);
	free(e->overrides);
	free(e->ids);
	free(e->dests);
	free(e->index);
	free(e->scratch);
	free(e);
}

int detect_set_config(struct detect_engine *e, const struct detect_config *c, char *err, size_t errlen)
{
	const struct detect_config *o = &e->cfg;
	if (detect_config_check(c, err, errlen) < 0)
		return -1;
	if (c->max_identities != o->max_identities || c->known_per_identity != o->known_per_identity ||
	    c->org_new_capacity != o->org_new_capacity || c->org_bloom_bits != o->org_bloom_bits ||
	    c->prefix_v4 != o->prefix_v4 || c->prefix_v6 != o->prefix_v6 || c->seed[0] != o->seed[0] ||
	    c->seed[1] != o->seed[1]) {
		snprintf(err, errlen, "table sizes, prefixes and seed cannot change without a restart");
		return -1;
	}
	if (copy_config(e, c) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < e->nids; i++)
		e->ids[i].override = find_override(e, e->ids[i].name);
	return 0;
}

void detect_get_stats(const struct detect_engine *e, struct detect_stats *out)
{
	*out = e->st;
	out->org_overflow = e->org.overflow;
	uint64_t ev = 0;
	for (size_t i = 0; i < e->nids; i++)
		ev += e->ids[i].nov.evictions;
	out->dest_evictions = ev;
}

/* ---- hours and days ---- */

static bool frozen(const struct detect_engine *e, const struct ident *id, uint32_t now)
{
	(void)e;
	for (int r = 0; r < NRULES; r++)
		if (id->ep[r].sev && now < id->ep[r].last_held + rule_quiet[r])
			return true;
	return false;
}

static bool in_ring(const struct ident *id, int64_t h)
{
	return h <= id->cur_hour && h > id->cur_hour - RING && h >= 0;
}

static bool hour_usable(const struct ident *id, int64_t h)
{
	return in_ring(id, h) && !(id->hflags[h % RING] & (H_GAP | H_NOTSEEN));
}

static void learn_hour(struct detect_engine *e, struct ident *id, int64_t h, uint32_t now)
{
	if (!in_ring(id, h))
		return;
	uint8_t *f = &id->hflags[h % RING];
	if (*f & (H_LEARNED | H_GAP | H_NOTSEEN | H_TAINT))
		return;
	if (frozen(e, id, now))
		return;
	detect_baseline_learn_hour(&id->base, &e->cfg.baseline, h, id->hours[h % RING]);
	*f |= H_LEARNED;
}

static double expect(const struct detect_engine *e, const struct ident *id, int64_t h, double *spread)
{
	struct detect_expect x;
	if (!detect_baseline_expect_hour(&id->base, &e->cfg.baseline, h, &x)) {
		if (spread)
			*spread = 0;
		return -1;
	}
	if (spread)
		*spread = x.spread;
	return x.mean;
}

static void close_day(struct detect_engine *e, struct ident *id, int64_t day, uint32_t now)
{
	const struct detect_rules *r = rules_of(e, id);
	double total = 0, exp_sum = 0;
	unsigned gaps = 0, taint = 0, missing = 0;
	for (int64_t h = day * 24; h < day * 24 + 24; h++) {
		if (!in_ring(id, h)) {
			missing++;
			continue;
		}
		uint8_t f = id->hflags[h % RING];
		if (f & H_NOTSEEN) {
			missing++;
			continue;
		}
		if (f & H_GAP) {
			gaps++;
			continue;
		}
		if (f & H_TAINT)
			taint++;
		double x = expect(e, id, h, NULL);
		if (x < 0)
			missing++;
		else
			exp_sum += x;
		total += id->hours[h % RING];
	}
	size_t d = (size_t)(day % DAYS);
	id->days[d] = (float)total;
	id->day_exp[d] = (float)exp_sum;
	id->dflags[d] = (uint8_t)((missing ? H_NOTSEEN : 0) | (gaps > 4 ? H_GAP : 0) | (taint ? H_TAINT : 0));

	/*
	 * Drift: judged on whole days once the daily residuals have a week of
	 * history (so their bias and spread are known), against the hours'
	 * expectations plus the learned bias of daily totals.
	 */
	const struct detect_ewm *res = &id->base.day_res;
	if (!missing && gaps <= 4 && now >= id->first_seen + e->cfg.learning_s && res->n >= DRIFT_MIN_DAYS) {
		double scale = 24.0 / (24 - gaps);
		double mu = exp_sum * scale + res->mean;
		double sigma = detect_baseline_total_spread(res, &e->cfg.baseline, 2 * mu, 0.25 * mu);
		if (sigma < (double)r->drift_min_spread)
			sigma = (double)r->drift_min_spread;
		detect_cusum_step(&id->cusum, total * scale, mu, sigma, r->drift_k, (uint32_t)(day * 86400));
	}

	/* Lagged: the day before this one ended a day ago now. A rising drift
	 * sum holds the daily residuals still, but not the hours: if the
	 * baseline was wrong, learning the hours brings the sum back down. */
	int64_t prev = day - 1;
	size_t p = (size_t)(prev % DAYS);
	if (prev >= 0 && !id->dflags[p] && !frozen(e, id, now) && id->cusum.s <= r->drift_h / 2)
		detect_baseline_learn_residual(&id->base.day_res, &e->cfg.baseline,
					       id->days[p] - id->day_exp[p]);
	/* And the week that ended a week ago. */
	int64_t wend = day - 7;
	bool clean = wend >= 6;
	double wsum = 0, wexp = 0;
	for (int64_t k = wend - 6; clean && k <= wend; k++) {
		size_t q = (size_t)(k % DAYS);
		if (id->dflags[q])
			clean = false;
		wsum += id->days[q];
		wexp += id->day_exp[q];
	}
	if (clean && !frozen(e, id, now))
		detect_baseline_learn_residual(&id->base.week_res, &e->cfg.baseline, wsum - wexp);
}

static void recompute_sums(struct detect_engine *e, struct ident *id)
{
	double s23 = 0, e23 = 0, s167 = 0, e167 = 0;
	uint32_t n = 0;
	for (int64_t k = 1; k < RING; k++) {
		int64_t h = id->cur_hour - k;
		if (!hour_usable(id, h))
			continue;
		double x = expect(e, id, h, NULL);
		double v = id->hours[h % RING];
		if (x >= 0) {
			e167 += x;
			n++;
		}
		s167 += v;
		if (k <= 23) {
			s23 += v;
			if (x >= 0)
				e23 += x;
		}
	}
	id->sum23 = (float)s23;
	id->exp23 = (float)e23;
	id->sum167 = (float)s167;
	id->exp167 = (float)e167;
	id->n167 = n;
}

static void advance(struct detect_engine *e, struct ident *id, int64_t H)
{
	if (H <= id->cur_hour)
		return;
	int64_t x = id->cur_hour + 1;
	/* Compared as x < H - (RING + 48), not H - x > RING + 48: H - x of a
	 * corrupt cur_hour overflows, and the loop below then runs for ever. */
	if (x < H - (RING + 48)) {
		/* Idle for over a week: only the last week and two days are rolled
		 * (as silence, unless marked as a gap); the drift sum starts over. */
		detect_cusum_reset(&id->cusum);
		x = H - RING - 48;
	}
	for (; x <= H; x++) {
		size_t s = (size_t)(x % RING);
		id->hours[s] = 0;
		id->hflags[s] = x <= id->gap_to_hour ? H_GAP : 0;
		id->cur_hour = x;
		uint32_t now = (uint32_t)(x * 3600);
		learn_hour(e, id, x - 2, now);
		if (x % 24 == 0)
			close_day(e, id, x / 24 - 1, now);
		detect_novelty_sweep(&id->nov, dests_of(e, id), e->cfg.known_per_identity, &e->org,
				     e->cfg.seed, now, (uint32_t)e->cfg.new_window_s,
				     (uint32_t)e->cfg.bloom_rotate_s);
	}
	recompute_sums(e, id);
}

/* ---- observe ---- */

static bool allow_match(const struct detect_allow *a, const ew_addr *x)
{
	return a->plen <= 128 && addr_in_prefix(x, &a->prefix, a->plen);
}

static void fanin_hit(struct detect_engine *e, struct detect_org_dest *od, uint32_t now)
{
	od->flags |= DETECT_DEST_FLAGGED;
	unsigned n = od->nids < DETECT_FANIN_IDS ? od->nids : DETECT_FANIN_IDS;
	for (unsigned i = 0; i < n; i++) {
		if (od->ids[i] >= e->nids)
			continue;
		struct ident *c = &e->ids[od->ids[i]];
		c->fanin_until = now + 3600;
		c->fanin_bytes = od->bytes;
		c->fanin_nids = od->nids;
		c->fanin_first = od->first_seen;
	}
}

int detect_observe(struct detect_engine *e, const char *identity, double ts, uint64_t out_bytes,
		   const struct detect_dest_obs *dests, size_t ndests)
{
	if (!identity || !name_ok(identity) || !(ts >= 0 && ts < 4e9) || (ndests && !dests)) {
		e->st.bad_input++;
		return -1;
	}
	uint32_t now = (uint32_t)ts;
	/* A report from far ahead of the clock would roll the identity past all
	 * the data still to come: refuse it rather than lose those. */
	if (e->hour >= 0 && (int64_t)(now / 3600) > e->hour + 48) {
		e->st.bad_input++;
		return -1;
	}
	struct ident *id = get_ident(e, identity, now);
	if (!id)
		return -1;
	if (!e->started)
		e->started = now;
	e->st.observations++;
	int64_t X = now / 3600;
	if (X > id->cur_hour)
		advance(e, id, X);
	if (!in_ring(id, X)) {
		e->st.late_dropped++;
		return -1;
	}
	const struct detect_rules *r = rules_of(e, id);
	int64_t day = now / 86400;
	if (day != id->allow_day) {
		memset(id->allow_used, 0, sizeof(id->allow_used));
		id->allow_day = day;
	}
	bool org_judged = now >= e->started + e->cfg.org_learning_s;
	double excluded = 0;
	uint32_t idx = (uint32_t)(id - e->ids);
	struct detect_dest *tab = dests_of(e, id);
	for (size_t i = 0; i < ndests; i++) {
		double b = (double)dests[i].bytes;
		for (size_t j = 0; j < e->cfg.nallow; j++) {
			const struct detect_allow *a = &e->cfg.allow[j];
			if (!allow_match(a, &dests[i].addr))
				continue;
			double room = a->cap_per_day ? (double)a->cap_per_day - id->allow_used[j] : b;
			double take = b < room ? b : (room > 0 ? room : 0);
			id->allow_used[j] += (float)take;
			excluded += take;
			b -= take;
			break;
		}
		if (b <= 0)
			continue;
		ew_addr pfx;
		uint8_t plen;
		detect_prefix(&dests[i].addr, e->cfg.prefix_v4, e->cfg.prefix_v6, &pfx, &plen);
		uint64_t h = detect_prefix_hash(e->cfg.seed, &pfx, plen);
		bool org_new = false;
		struct detect_org_dest *od = NULL;
		if (org_judged)
			od = detect_org_observe(&e->org, &pfx, plen, h, idx, b, now, &org_new);
		else
			detect_org_learn(&e->org, h);
		detect_novelty_observe(&id->nov, tab, e->cfg.known_per_identity, &pfx, plen, h, org_new, b, now);
		if (od && org_judged && r->fanin_bytes && od->nids >= r->fanin_identities &&
		    od->bytes >= (double)r->fanin_bytes)
			fanin_hit(e, od, now);
	}
	double counted = (double)out_bytes - excluded;
	if (counted < 0)
		counted = 0;
	size_t s = (size_t)(X % RING);
	id->hours[s] += (float)counted;
	if (X < id->cur_hour) {
		if (id->hflags[s] & H_LEARNED)
			e->st.late_after_learning++;
		if (X >= id->cur_hour - 23)
			id->sum23 += (float)counted;
		id->sum167 += (float)counted;
	}
	if (now > id->last_obs)
		id->last_obs = now;
	return 0;
}

void detect_mark_gap(struct detect_engine *e, const char *identity, double from, double to)
{
	if (!(from >= 0) || !(to > from) || to > 4e9) {
		e->st.bad_input++;
		return;
	}
	int64_t h0 = (int64_t)(from / 3600), h1 = (int64_t)((to - 1) / 3600);
	for (size_t i = 0; i < e->nids; i++) {
		struct ident *id = &e->ids[i];
		if (identity && strcmp(identity, id->name) != 0)
			continue;
		for (int64_t h = h0 > id->cur_hour - RING + 1 ? h0 : id->cur_hour - RING + 1;
		     h <= h1 && h <= id->cur_hour; h++)
			if (!(id->hflags[h % RING] & H_LEARNED))
				id->hflags[h % RING] |= H_GAP;
		if (h1 > id->gap_to_hour)
			id->gap_to_hour = h1;
		recompute_sums(e, id);
	}
}

/* ---- evaluation ---- */

struct verdict {
	uint8_t sev;
	double observed, expected, threshold, spread, window;
	unsigned samples;
};

static uint8_t sev_by_ratio(double r, uint8_t base)
{
	uint8_t s = base;
	if (r >= 2)
		s++;
	if (r >= 4)
		s++;
	return s > DETECT_SEV_CRITICAL ? DETECT_SEV_CRITICAL : s;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static void update_peers(struct detect_engine *e, uint32_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < e->nids; i++) {
		const struct ident *id = &e->ids[i];
		if (now >= id->first_seen + e->cfg.learning_s && id->base.all.n >= 24)
			e->scratch[n++] = id->base.all.mean;
	}
	if (n < 5) {
		e->peer_q = 0;
		return;
	}
	qsort(e->scratch, n, sizeof(float), cmp_float);
	size_t k = (size_t)(e->cfg.peer_quantile * (double)(n - 1));
	e->peer_q = e->scratch[k];
}

static void fill_top(const struct detect_engine *e, const struct ident *id, uint32_t now,
		     struct detect_alert *a)
{
	const struct detect_dest *tab = dests_of(e, id);
	a->ntop = 0;
	for (size_t i = 0; i < id->nov.ndests; i++) {
		double b = detect_dest_recent(&tab[i], now);
		if (b < 1)
			continue;
		size_t pos = a->ntop;
		while (pos > 0 && a->top[pos - 1].bytes < b)
			pos--;
		if (pos >= DETECT_TOP)
			continue;
		size_t last = a->ntop < DETECT_TOP ? a->ntop : DETECT_TOP - 1;
		memmove(&a->top[pos + 1], &a->top[pos], (last - pos) * sizeof(a->top[0]));
		a->top[pos].prefix = tab[i].prefix;
		a->top[pos].plen = tab[i].plen;
		a->top[pos].bytes = b;
		a->top[pos].first_seen = tab[i].first_seen;
		a->top[pos].new_to_identity = tab[i].flags & DETECT_DEST_NEW;
		a->top[pos].new_to_org = tab[i].flags & DETECT_DEST_ORG_NEW;
		if (a->ntop < DETECT_TOP)
			a->ntop++;
	}
}

static void taint(struct detect_engine *e, struct ident *id, int rule)
{
	int64_t back = rule_window[rule] >= 604800 ? RING - 1 : (int64_t)(rule_window[rule] / 3600);
	for (int64_t k = 0; k <= back; k++)
		if (in_ring(id, id->cur_hour - k))
			id->hflags[(id->cur_hour - k) % RING] |= H_TAINT;
	if (rule == R_DRIFT && id->cusum.since) {
		for (int64_t d = id->cusum.since / 86400; d <= id->cur_hour / 24; d++)
			id->dflags[d % DAYS] |= H_TAINT;
	}
	if (rule == R_NEWID || rule == R_NEWORG) {
		struct detect_dest *tab = dests_of(e, id);
		detect_novelty_flag(tab, id->nov.ndests);
		for (size_t i = 0; i < id->nov.ndests; i++) {
			if (!(tab[i].flags & DETECT_DEST_ORG_NEW))
				continue;
			uint64_t h = detect_prefix_hash(e->cfg.seed, &tab[i].prefix, tab[i].plen);
			struct detect_org_dest *od = detect_org_find(&e->org, &tab[i].prefix, tab[i].plen, h);
			if (od)
				od->flags |= DETECT_DEST_FLAGGED;
		}
	}
}

/* The part of the current hour gone at now: the 1 h and 24 h windows slide by that much. */
static double hour_frac(const struct ident *id, uint32_t now)
{
	double f = (double)(now % 3600) / 3600.0;
	if (f == 0 && now / 3600 > id->cur_hour)
		f = 1;
	return f;
}

/* What the burst rules expect of each window, with the spread and samples behind it. */
struct win_expect {
	double ex[DETECT_NWIN], sp[DETECT_NWIN];
	unsigned n[DETECT_NWIN];
	bool judged[DETECT_NWIN];
};

/*
 * The seasonal expectation of the 1 h, 24 h and 7 d windows ending at now,
 * as the burst rules judge them. The one computation behind both the
 * alerts and detect_expected(), so the API shows what an alert would say.
 * false while the identity learns or its current and previous hours have
 * no expectation; the 7 d window is judged only once a week of hours is
 * expected.
 */
static bool window_expect(const struct detect_engine *e, const struct ident *id, uint32_t now,
			  struct win_expect *w)
{
	int64_t H = id->cur_hour;
	double f = hour_frac(id, now);
	double sH, sH1, sH24;
	double eH = expect(e, id, H, &sH), eH1 = expect(e, id, H - 1, &sH1);
	double eH24 = expect(e, id, H - 24, &sH24);
	if (now < id->first_seen + e->cfg.learning_s || eH < 0 || eH1 < 0)
		return false;
	bool u1 = hour_usable(id, H - 1), u24 = hour_usable(id, H - 24);
	bool uH = hour_usable(id, H);
	struct detect_expect xe;
	detect_baseline_expect_hour(&id->base, &e->cfg.baseline, H, &xe);
	w->ex[0] = (uH ? eH * f : 0) + (u1 ? eH1 * (1 - f) : 0);
	w->sp[0] = (uH ? sH * f : 0) + (u1 ? sH1 * (1 - f) : 0);
	w->n[0] = xe.samples;
	w->ex[1] = (uH ? eH * f : 0) + id->exp23 + (u24 && eH24 >= 0 ? eH24 * (1 - f) : 0);
	w->sp[1] = detect_baseline_total_spread(&id->base.day_res, &e->cfg.baseline, w->ex[1],
						0.25 * w->ex[1]);
	w->n[1] = id->base.day_res.n;
	w->ex[2] = (uH ? eH * f : 0) + id->exp167;
	w->sp[2] = detect_baseline_total_spread(&id->base.week_res, &e->cfg.baseline, w->ex[2],
						0.2 * w->ex[2]);
	w->n[2] = id->base.week_res.n;
	w->judged[DETECT_W1H] = w->judged[DETECT_W24H] = true;
	w->judged[DETECT_W7D] = id->n167 >= RING - 1 - 12;
	return true;
}

static void evaluate(struct detect_engine *e, struct ident *id, uint32_t now, detect_emit_fn emit,
		     void *ctx)
{
	const struct detect_rules *r = rules_of(e, id);
	struct verdict v[NRULES];
	memset(v, 0, sizeof(v));
	int64_t H = id->cur_hour;
	double f = hour_frac(id, now);
	bool learning = now < id->first_seen + e->cfg.learning_s;
	bool u1 = hour_usable(id, H - 1), u24 = hour_usable(id, H - 24);
	bool uH = hour_usable(id, H);

	double o1 = (uH ? id->hours[H % RING] : 0) + (u1 ? id->hours[(H - 1) % RING] * (1 - f) : 0);
	double o24 = (uH ? id->hours[H % RING] : 0) + id->sum23 +
		     (u24 ? id->hours[(H - 24) % RING] * (1 - f) : 0);
	double o7 = (uH ? id->hours[H % RING] : 0) + id->sum167;
	double obs[DETECT_NWIN] = {o1, o24, o7};

	for (int w = 0; w < DETECT_NWIN; w++) {
		if (r->cap[w] && obs[w] > (double)r->cap[w]) {
			struct verdict *x = &v[R_CAP1H + w];
			x->sev = obs[w] > 2.0 * (double)r->cap[w] ? DETECT_SEV_CRITICAL : DETECT_SEV_HIGH;
			x->observed = obs[w];
			x->threshold = (double)r->cap[w];
		}
	}

	struct win_expect we;
	if (!learning && window_expect(e, id, now, &we)) {
		const double *ex = we.ex, *sp = we.sp;
		const unsigned *n = we.n;
		for (int w = 0; w < DETECT_NWIN; w++) {
			if (!we.judged[w])
				continue;
			double thr = r->burst_mult[w] * ex[w];
			if (ex[w] + r->burst_k[w] * sp[w] > thr)
				thr = ex[w] + r->burst_k[w] * sp[w];
			if ((double)r->burst_floor[w] > thr)
				thr = (double)r->burst_floor[w];
			if (thr > 0 && obs[w] > thr) {
				struct verdict *x = &v[R_BURST1H + w];
				x->sev = sev_by_ratio(obs[w] / thr, DETECT_SEV_MEDIUM);
				x->observed = obs[w];
				x->expected = ex[w];
				x->spread = sp[w];
				x->threshold = thr;
				x->samples = n[w];
			}
		}
	}

	double nid = id->nov.new_id_bytes, norg = id->nov.new_org_bytes;
	if (!learning && r->new_id_bytes && nid >= (double)r->new_id_bytes) {
		struct verdict *x = &v[R_NEWID];
		x->sev = sev_by_ratio(nid / (double)r->new_id_bytes / 2, DETECT_SEV_MEDIUM);
		x->observed = nid;
		x->threshold = (double)r->new_id_bytes;
	}
	bool org_judged = e->started && now >= e->started + e->cfg.org_learning_s;
	if (org_judged && r->new_org_bytes && norg >= (double)r->new_org_bytes) {
		struct verdict *x = &v[R_NEWORG];
		x->sev = norg >= 8.0 * (double)r->new_org_bytes ? DETECT_SEV_CRITICAL : DETECT_SEV_HIGH;
		x->observed = norg;
		x->threshold = (double)r->new_org_bytes;
	}
	if (id->cusum.s >= r->drift_h) {
		struct verdict *x = &v[R_DRIFT];
		x->sev = id->cusum.s >= 2 * r->drift_h ? DETECT_SEV_HIGH : DETECT_SEV_MEDIUM;
		x->observed = id->cusum.excess;
		x->threshold = r->drift_h;
		x->spread = id->cusum.s;
		x->samples = id->base.day_res.n;
	}
	if (learning && org_judged) {
		double q = e->peer_q;
		double t1 = r->peer_mult * q, t24 = r->peer_mult * q * 24;
		if (t1 < (double)r->peer_floor[0])
			t1 = (double)r->peer_floor[0];
		if (t24 < (double)r->peer_floor[1])
			t24 = (double)r->peer_floor[1];
		if (o1 > t1) {
			v[R_PEER1H].sev = sev_by_ratio(o1 / t1, DETECT_SEV_MEDIUM);
			v[R_PEER1H].observed = o1;
			v[R_PEER1H].expected = q;
			v[R_PEER1H].threshold = t1;
		}
		if (o24 > t24) {
			v[R_PEER24H].sev = sev_by_ratio(o24 / t24, DETECT_SEV_MEDIUM);
			v[R_PEER24H].observed = o24;
			v[R_PEER24H].expected = q * 24;
			v[R_PEER24H].threshold = t24;
		}
	}
	if (now < id->fanin_until && org_judged) {
		struct verdict *x = &v[R_FANIN];
		x->sev = id->fanin_nids >= 2 * r->fanin_identities ? DETECT_SEV_CRITICAL : DETECT_SEV_HIGH;
		x->observed = id->fanin_bytes;
		x->threshold = (double)r->fanin_bytes;
		x->samples = id->fanin_nids;
	}

	unsigned fam = 0, nf = 0;
	for (int k = 0; k < NRULES; k++) {
		if (v[k].sev && !(fam & (1u << rule_family[k]))) {
			fam |= 1u << rule_family[k];
			nf++;
		}
	}
	for (int k = 0; k < NRULES; k++) {
		struct episode *ep = &id->ep[k];
		if (!v[k].sev) {
			if (ep->sev && now >= ep->last_held + rule_quiet[k])
				memset(ep, 0, sizeof(*ep));
			continue;
		}
		uint8_t sev = v[k].sev;
		if (nf >= 2 && sev < DETECT_SEV_CRITICAL)
			sev++;
		bool open = ep->sev == 0, esc = !open && sev > ep->sev;
		if (open) {
			ep->start = now;
			taint(e, id, k);
		}
		ep->last_held = now;
		if (!open && !esc)
			continue;
		ep->sev = sev;
		e->st.alerts++;
		if (!emit)
			continue;
		struct detect_alert a;
		memset(&a, 0, sizeof(a));
		a.time = now;
		a.first_seen = ep->start;
		a.severity = (enum detect_severity)sev;
		a.rule = rule_names[k];
		a.identity = id->name;
		a.window_s = rule_window[k];
		a.observed = v[k].observed;
		a.expected = v[k].expected;
		a.threshold = v[k].threshold;
		a.spread = v[k].spread;
		a.baseline_age_s = id->base.first_learned && now > id->base.first_learned
					   ? now - id->base.first_learned : 0;
		a.baseline_samples = v[k].samples;
		a.new_dest_bytes = nid + norg;
		a.new_org_bytes = norg;
		a.rules_firing = nf;
		a.escalation = esc;
		a.config_version = e->cfg.version;
		fill_top(e, id, now, &a);
		if (k == R_NEWID || k == R_NEWORG) {
			for (size_t i = 0; i < a.ntop; i++)
				if ((a.top[i].new_to_identity) && a.top[i].first_seen < a.first_seen)
					a.first_seen = a.top[i].first_seen;
		} else if (k == R_FANIN && id->fanin_first) {
			a.first_seen = id->fanin_first;
		} else if (k == R_DRIFT && id->cusum.since) {
			a.first_seen = id->cusum.since;
		}
		if (k == R_DRIFT)
			snprintf(a.message, sizeof(a.message),
				 "%s: %.2f GB above its baseline since the drift began (CUSUM %.1f >= %.1f)",
				 id->name, a.observed / 1e9, id->cusum.s, r->drift_h);
		else if (k == R_NEWID || k == R_NEWORG || k == R_FANIN)
			snprintf(a.message, sizeof(a.message), "%s: %.2f GB to destinations new to %s (limit %.2f GB)",
				 id->name, a.observed / 1e9, k == R_NEWID ? "the identity" : "the organisation",
				 a.threshold / 1e9);
		else
			snprintf(a.message, sizeof(a.message), "%s: %.2f GB in %.0f h, expected %.2f GB, limit %.2f GB",
				 id->name, a.observed / 1e9, a.window_s / 3600, a.expected / 1e9, a.threshold / 1e9);
		emit(&a, ctx);
	}
	/* Frozen while anomalous: the hour in hand is not learned. */
	for (int k = 0; k < NRULES; k++)
		if (id->ep[k].sev) {
			id->hflags[H % RING] |= H_TAINT;
			break;
		}
}

void detect_tick(struct detect_engine *e, double now_d, detect_emit_fn emit, void *ctx)
{
	if (!(now_d >= 0 && now_d < 4e9)) {
		e->st.bad_input++;
		return;
	}
	uint32_t now = (uint32_t)now_d;
	int64_t minute = now / 60, H = now / 3600;
	if (minute <= e->minute)
		return;
	/* A tick exactly on the hour evaluates the hour that just ended. */
	int64_t Hroll = (now % 3600 == 0) ? H - 1 : H;
	if (Hroll > e->hour) {
		detect_org_sweep(&e->org, (uint32_t)(Hroll * 3600), (uint32_t)e->cfg.org_new_window_s,
				 (uint32_t)e->cfg.bloom_rotate_s);
		for (size_t i = 0; i < e->nids; i++)
			advance(e, &e->ids[i], Hroll);
		update_peers(e, now);
		e->hour = Hroll;
	}
	e->minute = minute;
	for (size_t i = 0; i < e->nids; i++)
		evaluate(e, &e->ids[i], now, emit, ctx);
}

/* Bytes as a whole number, as alerts print them: truncated; a float sum can
 * pass int64 only from absurd input, so it is clamped below that. */
static uint64_t whole_bytes(double v)
{
	if (!(v > 0))
		return 0;
	if (v >= 9.2e18)
		return 9200000000000000000ULL;
	return (uint64_t)v;
}

int detect_expected(const struct detect_engine *e, const char *identity, double now, double window_s,
		    uint64_t *expected, uint64_t *spread)
{
	int w;
	if (window_s == 3600)
		w = DETECT_W1H;
	else if (window_s == 86400)
		w = DETECT_W24H;
	else if (window_s == 604800)
		w = DETECT_W7D;
	else
		return -1;
	if (!e || !identity || !name_ok(identity) || !(now >= 0 && now < 4e9))
		return -1;
	size_t slot;
	const struct ident *id = lookup(e, identity, &slot);
	struct win_expect we;
	if (!id || !window_expect(e, id, (uint32_t)now, &we) || !we.judged[w])
		return -1;
	*expected = whole_bytes(we.ex[w]);
	*spread = whole_bytes(we.sp[w]);
	return 0;
}

/* ---- state ---- */

#define STATE_MAGIC 0x45574454u        /* "EWDT" */
#define STATE_VERSION 1

struct state_header {
	uint32_t magic, version;
	uint32_t ident_size, dest_size, org_dest_size, unused;
	uint64_t nids, known, org_cap, org_used, org_nbits, org_overflow;
	uint64_t seed[2];
	int64_t hour, minute;
	uint32_t started, org_bloom_since;
	float peer_q;
	uint32_t unused2;
	struct detect_stats st;
};

int detect_save(const struct detect_engine *e, unsigned char **buf, size_t *len)
{
	struct state_header h;
	memset(&h, 0, sizeof(h));
	h.magic = STATE_MAGIC;
	h.version = STATE_VERSION;
	h.ident_size = sizeof(struct ident);
	h.dest_size = sizeof(struct detect_dest);
	h.org_dest_size = sizeof(struct detect_org_dest);
	h.nids = e->nids;
	h.known = e->cfg.known_per_identity;
	h.org_cap = e->org.cap;
	h.org_used = e->org.used;
	h.org_nbits = e->org.nbits;
	h.org_overflow = e->org.overflow;
	h.seed[0] = e->cfg.seed[0];
	h.seed[1] = e->cfg.seed[1];
	h.hour = e->hour;
	h.minute = e->minute;
	h.started = e->started;
	h.org_bloom_since = e->org.bloom_since;
	h.peer_q = e->peer_q;
	h.st = e->st;
	size_t n_id = e->nids * sizeof(struct ident);
	size_t n_d = e->nids * e->cfg.known_per_identity * sizeof(struct detect_dest);
	size_t n_o = e->org.cap * sizeof(struct detect_org_dest);
	size_t n_b = 2 * e->org.nbits / 8;
	size_t total = sizeof(h) + n_id + n_d + n_o + n_b;
	unsigned char *p = malloc(total);
	if (!p)
		return -1;
	size_t off = 0;
	memcpy(p + off, &h, sizeof(h));
	off += sizeof(h);
	if (n_id)
		memcpy(p + off, e->ids, n_id);
	off += n_id;
	if (n_d)
		memcpy(p + off, e->dests, n_d);
	off += n_d;
	memcpy(p + off, e->org.tab, n_o);
	off += n_o;
	memcpy(p + off, e->org.bloom, n_b);
	*buf = p;
	*len = total;
	return 0;
}

int detect_state_seed(const void *buf, size_t len, uint64_t seed[2])
{
	struct state_header h;
	if (!buf || len < sizeof(h))
		return -1;
	memcpy(&h, buf, sizeof(h));
	if (h.magic != STATE_MAGIC || h.version != STATE_VERSION)
		return -1;
	seed[0] = h.seed[0];
	seed[1] = h.seed[1];
	return 0;
}

void detect_get_seed(const struct detect_engine *e, uint64_t seed[2])
{
	seed[0] = e->cfg.seed[0];
	seed[1] = e->cfg.seed[1];
}

/* The last hour a capture-clock second below 4e9 (the detector's range) falls in. */
#define HOUR_LAST ((int64_t)(4000000000u / 3600))

static bool fin_pos(float x)
{
	return isfinite(x) && x >= 0;
}

static bool ewm_ok(const struct detect_ewm *w, bool signed_mean)
{
	return isfinite(w->mean) && (signed_mean || w->mean >= 0) && fin_pos(w->mad);
}

/* Why a loaded identity is out of range, or NULL when it is usable. */
static const char *ident_invalid(const struct detect_engine *e, const struct ident *id, int64_t hour)
{
	if (!(id->cur_hour >= 0 && id->cur_hour <= HOUR_LAST))
		return "cur_hour out of range";
	/* observe() refuses reports over 48 h ahead of the engine's clock */
	if (hour >= 0 && id->cur_hour > hour + 49)
		return "cur_hour ahead of the engine's clock";
	if (!(id->gap_to_hour >= -1 && id->gap_to_hour <= HOUR_LAST))
		return "gap_to_hour out of range";
	if (!(id->allow_day >= -1 && id->allow_day <= HOUR_LAST / 24))
		return "allow_day out of range";
	for (int k = 0; k < RING; k++)
		if (!fin_pos(id->hours[k]) || id->hflags[k] > 15)
			return "an hour's bytes or flags out of range";
	for (int k = 0; k < DAYS; k++)
		if (!fin_pos(id->days[k]) || !fin_pos(id->day_exp[k]) || id->dflags[k] > 15)
			return "a day's bytes or flags out of range";
	if (!fin_pos(id->sum23) || !fin_pos(id->exp23) || !fin_pos(id->sum167) ||
	    !fin_pos(id->exp167) || id->n167 > RING)
		return "cached sums out of range";
	for (int k = 0; k < DETECT_MAX_ALLOW; k++)
		if (!fin_pos(id->allow_used[k]))
			return "allowlist usage out of range";
	const struct detect_baseline *b = &id->base;
	for (int k = 0; k < DETECT_SLOTS; k++)
		if (!fin_pos(b->slot_mean[k]) || !fin_pos(b->slot_mad[k]))
			return "baseline slot out of range";
	for (int k = 0; k < DETECT_HOD; k++)
		if (!ewm_ok(&b->hod[k], false))
			return "baseline hour of day out of range";
	if (!ewm_ok(&b->all, false) || !ewm_ok(&b->day_res, true) || !ewm_ok(&b->week_res, true))
		return "baseline pools out of range";
	if (!(fin_pos(id->cusum.s) && id->cusum.s <= 1e6) || !isfinite(id->cusum.excess))
		return "drift sum out of range";
	const struct detect_novelty *n = &id->nov;
	if (n->ndests > e->cfg.known_per_identity)
		return "more destinations than the table holds";
	if (!fin_pos(n->new_id_bytes) || !fin_pos(n->new_org_bytes) || !fin_pos(n->evicted_id) ||
	    !fin_pos(n->evicted_org))
		return "new-destination bytes out of range";
	const struct detect_dest *tab = dests_of(e, id);
	for (size_t k = 0; k < n->ndests; k++)
		if (tab[k].plen > 128 || tab[k].flags > 7 || !fin_pos(tab[k].new_bytes) ||
		    !fin_pos(tab[k].recent))
			return "a destination out of range";
	for (int k = 0; k < NRULES; k++)
		if (id->ep[k].sev > DETECT_SEV_CRITICAL)
			return "an episode's severity out of range";
	if (!fin_pos(id->fanin_bytes))
		return "fan-in bytes out of range";
	return NULL;
}

/* Why a loaded organisation table is unusable: its open addressing needs
 * free slots (probe() would search a full table for ever). */
static const char *org_invalid(const struct detect_org *o)
{
	size_t used = 0;
	for (size_t i = 0; i < o->cap; i++) {
		const struct detect_org_dest *d = &o->tab[i];
		if (d->plen == 0)
			continue;
		if (d->plen > 128 || !fin_pos(d->bytes))
			return "an entry out of range";
		used++;
	}
	if (used != o->used || used > o->cap / 4 * 3)
		return "entries do not match its count";
	return NULL;
}

double detect_latest(const struct detect_engine *e)
{
	int64_t h = e->hour;
	for (size_t i = 0; i < e->nids; i++)
		if (e->ids[i].cur_hour > h)
			h = e->ids[i].cur_hour;
	return h < 0 ? 0 : (double)h * 3600;
}

struct detect_engine *detect_load(const struct detect_config *c, const void *buf, size_t len, char *err,
				  size_t errlen)
{
	struct state_header h;
	const unsigned char *p = buf;
	if (!buf || len < sizeof(h)) {
		snprintf(err, errlen, "state: too short");
		return NULL;
	}
	memcpy(&h, p, sizeof(h));
	if (h.magic != STATE_MAGIC || h.version != STATE_VERSION || h.ident_size != sizeof(struct ident) ||
	    h.dest_size != sizeof(struct detect_dest) || h.org_dest_size != sizeof(struct detect_org_dest)) {
		snprintf(err, errlen, "state: not a detect state of this version");
		return NULL;
	}
	struct detect_engine *e = detect_new(c, err, errlen);
	if (!e)
		return NULL;
	if (h.known != c->known_per_identity || h.nids > c->max_identities || h.org_cap != e->org.cap ||
	    h.org_nbits != e->org.nbits || h.seed[0] != c->seed[0] || h.seed[1] != c->seed[1] ||
	    h.org_used > h.org_cap) {
		snprintf(err, errlen, "state: sizes or seed differ from the config");
		goto out_free;
	}
	size_t n_id = h.nids * sizeof(struct ident);
	size_t n_d = h.nids * h.known * sizeof(struct detect_dest);
	size_t n_o = h.org_cap * sizeof(struct detect_org_dest);
	size_t n_b = 2 * h.org_nbits / 8;
	if (len != sizeof(h) + n_id + n_d + n_o + n_b) {
		snprintf(err, errlen, "state: length %zu does not match its header", len);
		goto out_free;
	}
	while (e->alloc < h.nids)
		if (grow(e) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out_free;
		}
	size_t off = sizeof(h);
	if (n_id)
		memcpy(e->ids, p + off, n_id);
	off += n_id;
	if (n_d)
		memcpy(e->dests, p + off, n_d);
	off += n_d;
	memcpy(e->org.tab, p + off, n_o);
	off += n_o;
	memcpy(e->org.bloom, p + off, n_b);
	e->nids = h.nids;
	e->org.used = h.org_used;
	e->org.overflow = h.org_overflow;
	e->org.bloom_since = h.org_bloom_since;
	e->hour = h.hour;
	e->minute = h.minute;
	e->started = h.started;
	e->peer_q = isfinite(h.peer_q) ? h.peer_q : 0;
	e->st = h.st;
	/* The buffer came from outside: every index, string, clock and figure
	 * is checked before use, since a flipped bit in a clock (an hour of
	 * -2^63) makes advance() roll hours for ever and a negative one
	 * indexes the rings out of bounds. */
	if (!(h.hour >= -1 && h.hour <= HOUR_LAST) || !(h.minute >= -1 && h.minute <= HOUR_LAST * 60 + 59) ||
	    !(h.peer_q >= 0)) {
		snprintf(err, errlen, "state: clock out of range (hour %lld, minute %lld)",
			 (long long)h.hour, (long long)h.minute);
		goto out_free;
	}
	for (size_t i = 0; i < e->nids; i++) {
		struct ident *id = &e->ids[i];
		id->name[DETECT_NAME_MAX] = 0;
		if (!name_ok(id->name)) {
			snprintf(err, errlen, "state: identity %zu has a bad name", i);
			goto out_free;
		}
		const char *why = ident_invalid(e, id, h.hour);
		if (why) {
			snprintf(err, errlen, "state: identity %s: %s", id->name, why);
			goto out_free;
		}
		id->override = find_override(e, id->name);
	}
	const char *why = org_invalid(&e->org);
	if (why) {
		snprintf(err, errlen, "state: organisation table: %s", why);
		goto out_free;
	}
	if (rebuild_index(e) < 0) {
		snprintf(err, errlen, "state: duplicate identity");
		goto out_free;
	}
	return e;
out_free:
	detect_free(e);
	return NULL;
}

/* ---- output ---- */

const char *detect_severity_name(enum detect_severity s)
{
	static const char *const names[] = {"none", "low", "medium", "high", "critical"};
	return (unsigned)s <= DETECT_SEV_CRITICAL ? names[s] : "none";
}

/* Bytes as a JSON integer (see whole_bytes). */
static json_t *jbytes(double v)
{
	return json_integer((json_int_t)whole_bytes(v));
}

char *detect_alert_to_json(const struct detect_alert *a, const char *id)
{
	json_t *o = json_object(), *top = json_array();
	if (!o || !top) {
		json_decref(o);
		json_decref(top);
		return NULL;
	}
	char addr[ADDR_STRLEN + 8];
	for (size_t i = 0; i < a->ntop && i < DETECT_TOP; i++) {
		const struct detect_top *t = &a->top[i];
		const uint8_t *b = t->prefix.b;
		if (addr_is_v4(&t->prefix))
			snprintf(addr, sizeof(addr), "%u.%u.%u.%u/%u", b[12], b[13], b[14], b[15], t->plen - 96);
		else
			snprintf(addr, sizeof(addr), "%x:%x:%x:%x::/%u", (b[0] << 8) | b[1], (b[2] << 8) | b[3],
				 (b[4] << 8) | b[5], (b[6] << 8) | b[7], t->plen);
		json_array_append_new(top, json_pack("{s:s,s:o,s:f,s:b,s:b}", "addr", addr, "bytes",
						     jbytes(t->bytes), "first_seen", t->first_seen,
						     "new_to_identity", t->new_to_identity, "new_to_org",
						     t->new_to_org));
	}
	json_object_set_new(o, "id", json_string(id ? id : ""));
	json_object_set_new(o, "time", json_real(a->time));
	json_object_set_new(o, "severity", json_string(detect_severity_name(a->severity)));
	json_object_set_new(o, "rule", json_string(a->rule));
	json_object_set_new(o, "identity", json_string(a->identity));
	json_object_set_new(o, "window_s", json_integer((json_int_t)a->window_s));
	json_object_set_new(o, "observed_bytes", jbytes(a->observed));
	json_object_set_new(o, "baseline_bytes", jbytes(a->expected));
	json_object_set_new(o, "threshold_bytes", jbytes(a->threshold));
	json_object_set_new(o, "spread_bytes", jbytes(a->spread));
	json_object_set_new(o, "baseline_age_s", jbytes(a->baseline_age_s));
	json_object_set_new(o, "baseline_samples", json_integer(a->baseline_samples));
	json_object_set_new(o, "new_destination_bytes", jbytes(a->new_dest_bytes));
	json_object_set_new(o, "new_to_org_bytes", jbytes(a->new_org_bytes));
	json_object_set_new(o, "rules_firing", json_integer(a->rules_firing));
	json_object_set_new(o, "escalation", json_boolean(a->escalation));
	json_object_set_new(o, "top_destinations", top);
	json_object_set_new(o, "sensors", json_array());
	json_object_set_new(o, "first_seen", json_real(a->first_seen));
	json_object_set_new(o, "config_version", json_string(a->config_version ? a->config_version : ""));
	json_object_set_new(o, "message", json_string(a->message));
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(o);
	return s;
}
