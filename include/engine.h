/*
 * engine: the collector's state and the application of reports to it.
 *
 * Owned by the collector. Pure code (no I/O): the live loop and --backtest
 * feed it the same parsed reports in the same order and get the same state
 * and alerts. Per identity it keeps per-minute sums for the recent 2 h and
 * per-hour sums for 8 days (rings tagged with their minute/hour, so a late
 * report lands where it belongs or is counted as too late), cumulative
 * totals, a bounded top-destinations table, daily allowlist usage and one
 * episode per rule; per sensor the last applied seq (a report with seq <=
 * it changes nothing) and its gaps. "now" is the capture clock: the largest
 * report end seen. The static rules judge a report's identities at that
 * report's own end, so a sensor whose clock runs ahead cannot empty the
 * windows of identities other sensors report. The only outside input is
 * the wall clock, read for plausibility bounds alone (ENGINE_FUTURE_MAX):
 * reports from far ahead of it are rejected, state from past it refused.
 *
 * Everything is bounded: identities past max_identities are folded into
 * OVERFLOW_IDENTITY, and so are the new identities of a sensor that already
 * created max_identities_per_sensor (so one compromised or spoofing sensor
 * cannot crowd the others out of the table); sensors past [collector]
 * max_sensors are rejected (never evicted: a returning sensor's last seq is
 * what keeps its re-delivered reports from counting twice), gaps and dead-letter reasons keep the most recent/first few
 * and count the rest.
 *
 * Persistence is by blob: every identity, every sensor and one meta record
 * serialise to a versioned little-endian byte string the caller stores (the
 * collector keeps them in Redis hashes) and loads back before applying more.
 */
#ifndef EW_ENGINE_H
#define EW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "collector_config.h"
#include "report.h"
#include "rules.h"

#define ENGINE_MIN_SLOTS 120     /* 2 h of minutes */
#define ENGINE_HOUR_SLOTS 192    /* 8 days of hours */
#define ENGINE_TOPK 16
#define ENGINE_ID_SENSORS 4
#define ENGINE_GAPS_MAX 64
#define ENGINE_SENSORS_MAX CCONF_SENSORS_DEFAULT  /* without a config */
#define ENGINE_REASONS_MAX 32
#define ENGINE_OBS_MAX 1000      /* destinations of one record given to the detector */
#define ENGINE_COUNT_MAX INT64_MAX   /* every count saturates here (counters.saturated) */
#define ENGINE_TIME_MAX 9999999999.0 /* the latest time report_parse accepts */
/* A report ending more than this ahead of the collector's wall clock, or
 * whose seq is above the wall clock in microseconds plus this, is
 * dead-lettered; saved state past it is refused as it loads. */
#define ENGINE_FUTURE_MAX 86400.0

struct engine_bucket {
	int64_t tag;            /* minute or hour index since the epoch; INT64_MIN: empty */
	uint64_t bytes, packets;
	uint64_t observed;      /* bytes the rules see: out_bytes minus allowlisted */
};

struct engine_totals {
	uint64_t out_bytes, out_packets, in_bytes, in_packets;
	uint64_t lateral_bytes, lateral_packets, flows, reports;
};

struct engine_window {
	uint64_t bytes, packets, observed;
};

struct engine_dest {
	ew_addr addr;
	uint16_t port;
	uint8_t proto;
	uint64_t bytes, packets;
	double last_seen;
};

struct engine_allow_use {
	uint64_t allow_hash;    /* allow_def.name_hash; 0: unused */
	int64_t day;            /* UTC day index of `used` */
	uint64_t used;
};

struct engine_ident {
	char name[IDENTITY_NAME_MAX + 1];
	struct engine_totals t;
	double first_seen, last_seen;
	struct engine_bucket min[ENGINE_MIN_SLOTS];
	struct engine_bucket hr[ENGINE_HOUR_SLOTS];
	struct engine_dest dests[ENGINE_TOPK];
	unsigned ndests;
	struct engine_allow_use allow[CCONF_ALLOWS_MAX];
	struct rules_episode ep[CCONF_RULES_MAX];
	/* The sensors that reported it; sensors[0] is never replaced: it is
	 * the sensor whose report created it, charged for it under
	 * max_identities_per_sensor ("" when loaded without one). */
	char sensors[ENGINE_ID_SENSORS][SENSOR_NAME_MAX + 1];
	/* not persisted: config match cache, dirty flag */
	uint64_t cfg_gen;
	int gi, ii;
	uint32_t allow_mask;
	bool dirty;
};

struct engine_sensor {
	char name[SENSOR_NAME_MAX + 1];
	uint64_t last_seq;
	double last_end, last_drop;
	uint64_t reports, duplicates, gaps, lost_reports;
	struct report_stats stats;      /* sums over applied reports */
	uint64_t identities_folded;     /* records of new names folded: it was at its cap */
	/* Identities it created (those with it as sensors[0]). Not in the
	 * blob: counted again as identities and sensors load. */
	uint64_t identities;
	bool dirty;
};

struct engine_gap {
	char sensor[SENSOR_NAME_MAX + 1];
	uint64_t seq_from, seq_to;      /* the missing seqs, inclusive */
	double from, to;                /* capture time not covered */
};

/* overflow_records counts every record folded into OVERFLOW_IDENTITY;
 * sensor_cap_records those of them folded by max_identities_per_sensor.
 * The meta blob stores these in order: new counters go at the end. */
struct engine_counters {
	uint64_t applied, duplicates, gaps, lost_reports, dead, overflow_records,
		 late_minute, late_hour, alerts, sensors_rejected, sensor_cap_records,
		 saturated;     /* additions clamped at ENGINE_COUNT_MAX */
};

struct engine_reason {
	char reason[64];
	uint64_t count;
};

/* One alert the engine raised: id and DESIGN.md "Alert" JSON. */
struct engine_alert {
	char id[33];
	char *json;             /* owned by the engine_alerts list */
};

struct engine_alerts {
	struct engine_alert *v;
	size_t n, cap;
};

void engine_alerts_clear(struct engine_alerts *a);

struct engine;

/* A new empty state under cfg (borrowed; see engine_set_config). NULL on OOM. */
struct engine *engine_new(const struct collector_config *cfg);
void engine_free(struct engine *e);

/*
 * Swaps the config (a reload): state is kept; cfg is borrowed. The detector
 * takes the new rules; -1 with err when it cannot (its sizes changed): it
 * then keeps its old rules.
 */
int engine_set_config(struct engine *e, const struct collector_config *cfg, char *err, size_t errlen);

enum engine_result { ENGINE_APPLIED, ENGINE_DUPLICATE, ENGINE_REJECTED };

/*
 * Applies a parsed report exactly once: a duplicate (seq <= the sensor's last)
 * changes nothing but a counter; a seq gap is recorded. Alerts raised go to
 * out (appended). ENGINE_REJECTED (reason in err, the caller dead-letters
 * it): the sensor table is full, the report ends more than
 * ENGINE_FUTURE_MAX ahead of the wall clock, or its seq is above the wall
 * clock in microseconds plus that (no sensor numbers that high: one such
 * report would make every later one a duplicate). A forward seq jump is a
 * gap; the reports it counts lost are at most the gap's seconds + 1 (a
 * sensor reports at most about once a second; a reinstalled sensor starts
 * numbering at the wall clock in microseconds).
 */
enum engine_result engine_apply(struct engine *e, const struct report *r,
				struct engine_alerts *out, char *err, size_t errlen);

/* Tests: a fixed wall clock (UNIX s); 0 goes back to the real one. */
void engine_set_wall_clock(struct engine *e, double t);

/* Counts a dead-lettered report under the class of its reason. */
void engine_count_dead(struct engine *e, const char *reason);

/* The short class of a report_parse reason ("not a non-negative integer"). */
void engine_reason_class(const char *reason, char *out, size_t n);

double engine_now(const struct engine *e);
const struct engine_counters *engine_counters(const struct engine *e);
size_t engine_ident_count(const struct engine *e);
const struct engine_ident *engine_ident_at(const struct engine *e, size_t i);
const struct engine_ident *engine_ident_find(const struct engine *e, const char *name);
size_t engine_sensor_count(const struct engine *e);
const struct engine_sensor *engine_sensor_at(const struct engine *e, size_t i);

/* Bytes of state one identity takes in memory. */
size_t engine_ident_bytes(void);

/* Sums of id's buckets in the sliding window (now - window_s, now]. */
void engine_window(const struct engine_ident *id, double now, double window_s,
		   struct engine_window *out);

/*
 * The baseline for a window_s window: the mean observed bytes per window_s
 * over id's history before the window (hour buckets, at most 8 days, minus
 * the time sensors' gaps cover). false when that history is shorter than
 * one window.
 */
bool engine_baseline(const struct engine *e, const struct engine_ident *id, double now,
		     double window_s, uint64_t *baseline);

/* The highest severity (enum severity) of id's rule episodes still open at
 * the engine's now, or -1 when none is. */
int engine_ident_severity(const struct engine *e, const struct engine_ident *id);

/* ---- the learned detector (detect.h) ---- */

bool engine_has_detector(const struct engine *e);
/* True when the detector has learned something since engine_detect_saved. */
bool engine_detect_dirty(const struct engine *e);
/* The detector's state as a blob (caller frees); NULL without a detector or on OOM. */
unsigned char *engine_detect_blob(struct engine *e, size_t *len);
void engine_detect_saved(struct engine *e);
/* Replaces the detector with one loaded from a blob. 0, or -1 with err. */
int engine_load_detect(struct engine *e, const unsigned char *p, size_t len, char *err, size_t errlen);
void engine_detect_stats(const struct engine *e, struct detect_stats *out);
/*
 * The detector's expectation and spread for id in a 1 h, 24 h or 7 d window
 * ending at now (detect_expected: what its alerts would say). false without
 * a detector, or when it has none for id yet (learning, unknown, folded).
 */
bool engine_detect_expected(const struct engine *e, const struct engine_ident *id, double now,
			    double window_s, uint64_t *expected, uint64_t *spread);

/* ---- persistence ---- */

/* Identities changed since the last engine_clear_dirty (indices for engine_ident_at). */
size_t engine_dirty(const struct engine *e, const size_t **idx);
void engine_clear_dirty(struct engine *e);

/* Serialises into a malloc'd buffer (caller frees); NULL on OOM. */
unsigned char *engine_ident_blob(const struct engine_ident *id, size_t *len);
unsigned char *engine_sensor_blob(const struct engine_sensor *s, size_t *len);
unsigned char *engine_meta_blob(const struct engine *e, size_t *len);

/* Loads one blob. Returns 0, or -1 if it is corrupt (nothing changed): a
 * field out of its range (a time past ENGINE_TIME_MAX or ENGINE_FUTURE_MAX
 * ahead of the wall clock, a count past its table) refuses the record.
 * Each refusal is counted; engine_load_error says the last one's reason. */
int engine_load_ident(struct engine *e, const unsigned char *p, size_t len);
int engine_load_sensor(struct engine *e, const unsigned char *p, size_t len);
int engine_load_meta(struct engine *e, const unsigned char *p, size_t len);
/* Records refused by engine_load_* (and engine_load_detect) in this
 * process, and the last reason ("" when none). */
uint64_t engine_load_rejected(const struct engine *e);
const char *engine_load_error(const struct engine *e);

/* ---- views ---- */

/*
 * The whole state as JSON (new reference): {"now", "counters", "dead_reasons",
 * "sensors": [...], "identities": [{"identity", "totals": {...}, "windows":
 * {"1h","24h","7d": {"out_bytes","out_packets"}}, ...}]}, sorted by name.
 */
json_t *engine_dump(const struct engine *e);

#endif
