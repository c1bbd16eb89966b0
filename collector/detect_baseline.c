/*
 * detect_baseline: seasonal robust EWMA baselines (see detect_baseline.h).
 *
 * Invariants: means and MADs are finite and >= 0; a slot's count only
 * grows (saturating). Every expectation reports the samples behind it so an
 * alert can say how much history judged it.
 */
#include <math.h>
#include <string.h>

#include "detect_baseline.h"
#include "banned.h"

/* A MAD estimates sigma x 0.8 for normal data; 1.25 turns it back into a sigma. */
#define MAD_TO_SIGMA 1.25

void detect_baseline_params_default(struct detect_baseline_params *p)
{
	p->alpha_slot = 0.25f;
	p->alpha_hod = 0.1f;
	p->alpha_all = 0.02f;
	p->alpha_res = 0.15f;
	p->min_samples = 3;
	p->clip = 4.0f;
	p->rel_spread = 0.1f;
}

void detect_baseline_init(struct detect_baseline *b)
{
	memset(b, 0, sizeof(*b));
}

unsigned detect_how(int64_t hour)
{
	/* 1970-01-01 was a Thursday: hour 0 is Thursday 00:00, slot 72. */
	int64_t s = (hour + 72) % DETECT_SLOTS;
	return (unsigned)(s < 0 ? s + DETECT_SLOTS : s);
}

static double spread_of(double mean, double mad, float rel)
{
	double s = MAD_TO_SIGMA * mad, floor = rel * mean;
	return s > floor ? s : floor;
}

/*
 * One robust EWMA step. The weight is 1/(n+1) while young, so the first
 * samples average evenly, then alpha. A sample far above the mean is
 * clipped first: a spike that slipped past the rules moves the mean by at
 * most alpha x clip spreads.
 */
static void ewm_step(float *mean, float *mad, uint32_t n, double alpha, const struct detect_baseline_params *p,
		     double x)
{
	if (!(x >= 0) || !isfinite(x))
		return;
	if (n == 0) {
		*mean = (float)x;
		*mad = 0;
		return;
	}
	if (n >= p->min_samples) {
		double lim = *mean + p->clip * spread_of(*mean, *mad, p->rel_spread);
		if (x > lim)
			x = lim;
	}
	double a = 1.0 / (n + 1);
	if (a < alpha)
		a = alpha;
	double d = x - *mean;
	double m = *mean + a * d;
	double md = *mad + a * (fabs(d) - *mad);
	*mean = (float)(m > 0 ? m : 0);
	*mad = (float)(md > 0 ? md : 0);
}

static void ewm_learn(struct detect_ewm *e, double alpha, const struct detect_baseline_params *p, double x)
{
	ewm_step(&e->mean, &e->mad, e->n, alpha, p, x);
	if (e->n < UINT32_MAX)
		e->n++;
}

void detect_baseline_learn_hour(struct detect_baseline *b, const struct detect_baseline_params *p,
				int64_t hour, double bytes)
{
	unsigned s = detect_how(hour), h = (unsigned)(s % DETECT_HOD);
	ewm_step(&b->slot_mean[s], &b->slot_mad[s], b->slot_n[s], p->alpha_slot, p, bytes);
	if (b->slot_n[s] < 255)
		b->slot_n[s]++;
	ewm_learn(&b->hod[h], p->alpha_hod, p, bytes);
	ewm_learn(&b->all, p->alpha_all, p, bytes);
	if (b->first_learned == 0)
		b->first_learned = (uint32_t)((hour + 1) * 3600);
}

bool detect_baseline_expect_hour(const struct detect_baseline *b,
				 const struct detect_baseline_params *p, int64_t hour,
				 struct detect_expect *out)
{
	unsigned s = detect_how(hour), h = (unsigned)(s % DETECT_HOD);
	const struct detect_ewm *hod = &b->hod[h];
	double hod_spread = hod->n >= p->min_samples ? spread_of(hod->mean, hod->mad, p->rel_spread) : 0;

	memset(out, 0, sizeof(*out));
	if (b->slot_n[s] >= p->min_samples) {
		out->mean = b->slot_mean[s];
		out->spread = spread_of(b->slot_mean[s], b->slot_mad[s], p->rel_spread);
		/* A slot has one sample a week: its MAD is noisy for months, so
		 * the hour-of-day pool's spread (7x the samples) bounds it below. */
		if (out->spread < hod_spread)
			out->spread = hod_spread;
		out->samples = b->slot_n[s];
		out->source = DETECT_SRC_SLOT;
		return true;
	}
	if (hod->n >= p->min_samples) {
		out->mean = hod->mean;
		out->spread = hod_spread;
		out->samples = hod->n;
		out->source = DETECT_SRC_HOD;
		return true;
	}
	if (b->all.n >= 24 && b->all.n >= p->min_samples) {
		out->mean = b->all.mean;
		out->spread = spread_of(b->all.mean, b->all.mad, p->rel_spread);
		out->samples = b->all.n;
		out->source = DETECT_SRC_ALL;
		return true;
	}
	return false;
}

void detect_baseline_learn_residual(struct detect_ewm *e, const struct detect_baseline_params *p,
				    double residual)
{
	if (!isfinite(residual))
		return;
	/* Residuals are signed: keep the mean signed, the MAD robust. */
	if (e->n == 0) {
		e->mean = (float)residual;
		e->mad = (float)fabs(residual);
	} else {
		double a = 1.0 / (e->n + 1);
		if (a < p->alpha_res)
			a = p->alpha_res;
		double d = residual - e->mean;
		double lim = p->clip * MAD_TO_SIGMA * (e->mad > 0 ? e->mad : fabs(d));
		if (e->n >= p->min_samples && fabs(d) > lim)
			d = d > 0 ? lim : -lim;
		e->mean = (float)(e->mean + a * d);
		e->mad = (float)(e->mad + a * (fabs(d) - e->mad));
	}
	if (e->n < UINT32_MAX)
		e->n++;
}

double detect_baseline_total_spread(const struct detect_ewm *res,
				    const struct detect_baseline_params *p, double expected,
				    double fallback)
{
	double s = res->n >= p->min_samples ? MAD_TO_SIGMA * res->mad : fallback;
	double floor = p->rel_spread * expected / 2;
	return s > floor ? s : floor;
}
