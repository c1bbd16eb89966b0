/*
 * detect: the smart detection engine of egress-collector (issue 4): per
 * identity seasonal baselines, new-destination volume, cumulative drift,
 * cold start against peers, fan-in, absolute caps, combined severities.
 *
 * Owned by the detection engineer; called by collector/main.c (and by
 * tests/gen/detect_replay.c). Pure code: no I/O, no wall clock, no globals;
 * time is the capture clock the caller passes in. Memory is bounded: at
 * most max_identities identities (more are refused and counted), each
 * detect_identity_bytes() = 6,116 bytes with the defaults (3,544 of
 * baselines, hour/day rings, drift, Bloom filters and episodes; 2,304 for
 * 64 destination entries; 12 of index), i.e. 61 MB per 10,000 identities
 * (4,964 bytes with known_per_identity = 32), plus the organisation's
 * new-prefix table and Bloom filters: 2.1 MB with the defaults.
 *
 * How the caller drives it:
 *   detect_observe()  once per identity of each applied report, with the
 *                     report's start time, out_bytes and destinations;
 *   detect_tick()     at least once per capture-clock minute (e.g. after
 *                     each report, with the report's end): rolls hours and
 *                     days, learns, evaluates every identity once per new
 *                     minute and calls emit for each alert;
 *   detect_mark_gap() when a sensor was away (a jump in its reports' times
 *                     or sequence numbers), for the identities it reports
 *                     or all of them: gap hours are neither learned as
 *                     silence nor judged;
 *   detect_save()/detect_load() to persist the whole state (e.g. in Redis);
 *   detect_expected() to show what the burst rules expect (read only).
 *
 * Learning is lagged and guarded: an hour is learned only once it ended at
 * least an hour ago, a day a day after it ended, a week a week after; none
 * is learned if it was a gap, if an alert touched it, or while the identity
 * is anomalous (an open alert episode or a rising drift sum). Identities
 * younger than learning_s are judged only by caps, peers, organisation-wide
 * novelty and fan-in.
 *
 * An alert is raised once per identity, rule and episode, and again when it
 * escalates; an episode ends after the rule has not held for its window.
 * When rules of two or more families hold at once, each alert is raised one
 * severity higher. The rules (alert "rule"), by family:
 *   cap-1h, cap-24h, cap-7d           absolute caps: high (critical at 2x)
 *   burst-1h, burst-24h, burst-7d     above the seasonal baseline: medium,
 *                                     high at 2x the limit, critical at 4x
 *   new-destination                   to prefixes new to the identity: medium
 *   new-destination-org               to prefixes new to the organisation: high
 *   drift-cusum                       cumulative daily excess: medium, high at 2h
 *   cold-start-1h, cold-start-24h     a learning identity far above its peers
 *   fan-in                            one new prefix fed by several identities: high
 */
#ifndef EW_DETECT_H
#define EW_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "detect_baseline.h"

#define DETECT_MAX_ALLOW 16
#define DETECT_TOP 5
#define DETECT_NAME_MAX 128     /* = IDENTITY_NAME_MAX */

enum detect_severity {
	DETECT_SEV_NONE = 0, DETECT_SEV_LOW, DETECT_SEV_MEDIUM, DETECT_SEV_HIGH, DETECT_SEV_CRITICAL
};

enum detect_window { DETECT_W1H, DETECT_W24H, DETECT_W7D, DETECT_NWIN };

/* The rules; the config holds the defaults and per-identity overrides. 0 turns a byte limit's rule off. */
struct detect_rules {
	uint64_t cap[DETECT_NWIN];          /* absolute caps, never learned away: 0 (off), 0, 0 */
	double burst_mult[DETECT_NWIN];     /* above baseline: observed > mult x expected (4, 2, 1.5) */
	double burst_k[DETECT_NWIN];        /* ... and > expected + k x spread (6, 5, 5) */
	uint64_t burst_floor[DETECT_NWIN];  /* ... and > floor (256 MB, 2 GB, 10 GB) */
	uint64_t new_id_bytes;              /* bytes to prefixes new to the identity: medium (1 GB) */
	uint64_t new_org_bytes;             /* bytes to prefixes new to the organisation: high (256 MB) */
	double drift_k, drift_h;            /* CUSUM slack and limit, in daily spreads (1, 5) */
	uint64_t drift_min_spread;          /* daily spread floor (100 MB) */
	double peer_mult;                   /* cold start: > mult x the peers' quantile (8) */
	uint64_t peer_floor[2];             /* ... and > floor, 1 h and 24 h (1 GB, 10 GB) */
	uint64_t fanin_bytes;               /* one new prefix receiving this much ... (1 GB) */
	unsigned fanin_identities;          /* ... from this many identities: high (3) */
};

/* Rules for one identity, or for all whose name starts with identity[0..len-1] when it ends in '*'. */
struct detect_override {
	char identity[DETECT_NAME_MAX + 1];
	struct detect_rules rules;
};

/* An allowlisted destination: bytes to it within cap_per_day (per identity, UTC day) are ignored. */
struct detect_allow {
	ew_addr prefix;
	unsigned plen;                      /* 128-bit space: an IPv4 /24 is 120 */
	uint64_t cap_per_day;               /* 0: no cap (always ignored) */
};

struct detect_config {
	char version[64];                   /* echoed in alerts ("config_version") */
	struct detect_rules rules;
	const struct detect_override *overrides;    /* copied by detect_new/detect_set_config */
	size_t noverrides;
	struct detect_allow allow[DETECT_MAX_ALLOW];
	size_t nallow;
	struct detect_baseline_params baseline;
	double learning_s;                  /* an identity's learning period (7 d) */
	double org_learning_s;              /* before org-wide novelty is judged (7 d) */
	double new_window_s;                /* a prefix is new to an identity this long (24 h) */
	double org_new_window_s;            /* ... to the organisation (3 d) */
	double bloom_rotate_s;              /* known prefixes age out after 1-2 x this (28 d) */
	size_t max_identities;              /* (100000) */
	size_t known_per_identity;          /* destination entries per identity (64) */
	size_t org_new_capacity;            /* org new-prefix table (16384) */
	size_t org_bloom_bits;              /* (1 << 20) */
	unsigned prefix_v4, prefix_v6;      /* destination grouping (24, 64) */
	double peer_quantile;               /* (0.5) */
	uint64_t seed[2];                   /* hash key: random per deployment, kept in the saved state */
};

/* One destination of an observation. */
struct detect_dest_obs {
	ew_addr addr;
	uint64_t bytes;
};

struct detect_top {
	ew_addr prefix;
	unsigned plen;                      /* 128-bit space */
	double bytes;                       /* recent bytes (1 h decay) */
	double first_seen;
	bool new_to_identity, new_to_org;
};

/* An alert; every pointer is borrowed for the duration of the emit callback. */
struct detect_alert {
	double time;                        /* capture clock when this severity first held */
	double first_seen;                  /* start of the evidence (episode or first new destination) */
	enum detect_severity severity;
	const char *rule;                   /* "burst-1h", "new-destination-org", ... */
	const char *identity;
	double window_s;
	double observed, expected, threshold, spread;      /* bytes */
	double baseline_age_s;
	unsigned baseline_samples;
	double new_dest_bytes, new_org_bytes;
	unsigned rules_firing;              /* rule families holding at once */
	bool escalation;
	struct detect_top top[DETECT_TOP];
	size_t ntop;
	const char *config_version;
	char message[256];
};

typedef void (*detect_emit_fn)(const struct detect_alert *a, void *ctx);

struct detect_stats {
	uint64_t identities, identities_refused, observations, late_dropped, late_after_learning;
	uint64_t org_overflow, dest_evictions, alerts, bad_input;
};

struct detect_engine;

/* Fills c with the documented defaults (seed zero: set it). */
void detect_config_default(struct detect_config *c);

/* Validates c; 0, or -1 with the first problem in err. */
int detect_config_check(const struct detect_config *c, char *err, size_t errlen);

/* Bytes of state per identity under c. */
size_t detect_identity_bytes(const struct detect_config *c);

/* A new engine; free with detect_free. NULL with a reason in err. */
struct detect_engine *detect_new(const struct detect_config *c, char *err, size_t errlen);
void detect_free(struct detect_engine *e);

/*
 * Replaces rules, overrides, allowlist, windows and version (SIGHUP). Sizes
 * (max_identities, known_per_identity, org tables, prefixes, seed) must not
 * change. Returns 0 or -1 with err.
 */
int detect_set_config(struct detect_engine *e, const struct detect_config *c, char *err, size_t errlen);

/*
 * One identity's egress in one report starting at ts (capture s): all its
 * out_bytes and the destinations it knows (may be fewer than all). Returns 0,
 * or -1 when refused (invalid name, identity limit, time too old), counted.
 */
int detect_observe(struct detect_engine *e, const char *identity, double ts, uint64_t out_bytes,
		   const struct detect_dest_obs *dests, size_t ndests);

/* Advances the clock to now and evaluates (once per new minute); emit may be NULL. */
void detect_tick(struct detect_engine *e, double now, detect_emit_fn emit, void *ctx);

/*
 * What the burst rules expect identity to send in the window_s window
 * (3600, 86400 or 604800) ending at now, and its spread, in whole bytes as
 * an alert raised at now reports them ("baseline_bytes", "spread_bytes").
 * Returns 0, or -1 for an unknown identity, one still learning or without
 * a seasonal expectation yet, a 7 d window not yet judged, or any other
 * window. Reads only: changes no state, allocates nothing.
 */
int detect_expected(const struct detect_engine *e, const char *identity, double now, double window_s,
		    uint64_t *expected, uint64_t *spread);

/* Marks [from, to) as a gap for one identity, or for all when identity is NULL. */
void detect_mark_gap(struct detect_engine *e, const char *identity, double from, double to);

/* The whole state as a byte buffer; caller frees *buf with free(). 0 or -1. */
int detect_save(const struct detect_engine *e, unsigned char **buf, size_t *len);

/* An engine restored from detect_save's buffer under c (same sizes). NULL with err if it does not
 * fit, or if any clock, count or figure in it is out of its range (a corrupt buffer). */
struct detect_engine *detect_load(const struct detect_config *c, const void *buf, size_t len, char *err,
				  size_t errlen);

void detect_get_stats(const struct detect_engine *e, struct detect_stats *out);

/* The latest capture time (s) the state has reached: its clock or an
 * identity's current hour, whichever is later; 0 when none. */
double detect_latest(const struct detect_engine *e);

/* The hash seed a detect_save() buffer was made with (load it under the same). 0 or -1. */
int detect_state_seed(const void *buf, size_t len, uint64_t seed[2]);
/* The seed e runs with (a reload keeps it). */
void detect_get_seed(const struct detect_engine *e, uint64_t seed[2]);

/* "medium", "high", ... */
const char *detect_severity_name(enum detect_severity s);

/* The alert as DESIGN.md JSON plus evidence fields; id may be NULL. Caller frees with free(). */
char *detect_alert_to_json(const struct detect_alert *a, const char *id);

#endif
