/*
 * detect_baseline: one identity's seasonal expectation of egress volume.
 *
 * Owned by the detection engine (detect.c); pure maths on a caller-held
 * struct, no I/O, no globals, no allocation. An identity's hourly egress is
 * learned per hour-of-week slot (168 slots, Monday 00:00 UTC = slot 0) as a
 * robust EWMA of the mean and of the mean absolute deviation (MAD), with two
 * pooled fallbacks while the slots are young: per hour-of-day (24) and one
 * pool for all hours. Daily and weekly totals are judged against the sum of
 * their hours' expectations, with their own EWMA of the residual's spread.
 *
 * Learning is robust: a sample above mean + clip x spread is clipped before
 * it moves the mean, so one spike cannot double a baseline. The caller
 * decides WHEN to learn (lagged, never while anomalous, never a gap): this
 * module only learns what it is given.
 *
 * Size: sizeof(struct detect_baseline) = 1,840 bytes (see detect.h).
 */
#ifndef EW_DETECT_BASELINE_H
#define EW_DETECT_BASELINE_H

#include <stdbool.h>
#include <stdint.h>

#define DETECT_SLOTS 168        /* hours in a week */
#define DETECT_HOD 24

/* An EWMA pair: mean and mean absolute deviation, with its sample count. */
struct detect_ewm {
	float mean, mad;
	uint32_t n;
};

struct detect_baseline {
	float slot_mean[DETECT_SLOTS], slot_mad[DETECT_SLOTS];
	uint8_t slot_n[DETECT_SLOTS];   /* saturates at 255 */
	struct detect_ewm hod[DETECT_HOD];
	struct detect_ewm all;          /* every learned hour */
	struct detect_ewm day_res;      /* daily total - sum of hourly expectations */
	struct detect_ewm week_res;     /* weekly total - sum of hourly expectations */
	uint32_t first_learned;         /* capture-clock s of the first learned hour; 0 none */
};

struct detect_baseline_params {
	float alpha_slot;       /* weight of a new sample in its slot (default 0.25) */
	float alpha_hod;        /* hour-of-day pool (default 0.1) */
	float alpha_all;        /* all-hours pool (default 0.02) */
	float alpha_res;        /* daily/weekly residuals (default 0.15) */
	unsigned min_samples;   /* a slot or pool is used from this many samples (3) */
	float clip;             /* robust clip, in spreads above the mean (default 4) */
	float rel_spread;       /* spread is at least this fraction of the mean (0.1) */
};

/* Which estimate an expectation came from. */
enum detect_source { DETECT_SRC_NONE, DETECT_SRC_ALL, DETECT_SRC_HOD, DETECT_SRC_SLOT };

struct detect_expect {
	double mean;            /* expected bytes */
	double spread;          /* robust standard deviation estimate, bytes */
	unsigned samples;       /* samples behind the estimate used */
	enum detect_source source;
};

/* Default parameters (documented above). */
void detect_baseline_params_default(struct detect_baseline_params *p);

/* Zeroes b: nothing learned. */
void detect_baseline_init(struct detect_baseline *b);

/* Hour-of-week slot (Monday 00 UTC = 0) and hour-of-day of an absolute hour index (unix s / 3600). */
unsigned detect_how(int64_t hour);

/* Learns that the identity sent bytes in absolute hour `hour` (ts = hour end, s). */
void detect_baseline_learn_hour(struct detect_baseline *b, const struct detect_baseline_params *p,
				int64_t hour, double bytes);

/*
 * Expectation for absolute hour `hour`: the slot when it has min_samples,
 * else the hour-of-day pool, else the all-hours pool. Returns false (and
 * source NONE) when none has enough samples yet.
 */
bool detect_baseline_expect_hour(const struct detect_baseline *b,
				 const struct detect_baseline_params *p, int64_t hour,
				 struct detect_expect *out);

/* Learns one residual (observed - expected) into a daily or weekly residual EWMA. */
void detect_baseline_learn_residual(struct detect_ewm *e, const struct detect_baseline_params *p,
				    double residual);

/*
 * Spread of a multi-hour total whose expectation is `expected`: from the
 * residual EWMA when it has min_samples, else `fallback`; never below
 * rel_spread x expected / 2.
 */
double detect_baseline_total_spread(const struct detect_ewm *res,
				    const struct detect_baseline_params *p, double expected,
				    double fallback);

#endif
