/*
 * detect_drift: cumulative drift (one-sided CUSUM) for low-and-slow leaks.
 *
 * Owned by the detection engine (detect.c). Pure: a 12-byte state per
 * identity. Each day the engine feeds the day's total, its expectation (the
 * sum of the hourly baselines) and the spread of daily totals; the sum
 * S = max(0, S + (x - mu) / sigma - k) grows by a little every day that the
 * identity sends more than usual, so 1.5 GB a day over 5 GB a day (far
 * below any hourly threshold) crosses h within days (Page, 1954).
 */
#ifndef EW_DETECT_DRIFT_H
#define EW_DETECT_DRIFT_H

#include <stdint.h>

struct detect_cusum {
	float s;                /* the CUSUM statistic, in spreads */
	uint32_t since;         /* capture-clock s of the day S last left 0; 0 when S == 0 */
	float excess;           /* bytes above expectation since then */
};

/* Adds one day (x observed, mu expected, sigma > 0 spread, k slack) ending at day_end. Returns S. */
double detect_cusum_step(struct detect_cusum *c, double x, double mu, double sigma, double k,
			 uint32_t day_start);

/* Forgets the statistic (after the episode is over). */
void detect_cusum_reset(struct detect_cusum *c);

#endif
