/*
 * detect_drift: one-sided CUSUM on daily totals (see detect_drift.h).
 *
 * Invariant: s >= 0 and finite; since != 0 exactly when s > 0.
 */
#include <math.h>
#include <string.h>

#include "detect_drift.h"
#include "banned.h"

double detect_cusum_step(struct detect_cusum *c, double x, double mu, double sigma, double k,
			 uint32_t day_start)
{
	if (!isfinite(x) || !isfinite(mu) || !(sigma > 0))
		return c->s;
	double s = c->s + (x - mu) / sigma - k;
	if (s <= 0 || !isfinite(s)) {
		detect_cusum_reset(c);
		return 0;
	}
	if (c->s <= 0) {
		c->since = day_start;
		c->excess = 0;
	}
	c->s = (float)(s > 1e6 ? 1e6 : s);
	c->excess += (float)(x - mu);
	return c->s;
}

void detect_cusum_reset(struct detect_cusum *c)
{
	memset(c, 0, sizeof(*c));
}
