/*
 * rules: pure rule evaluation and episode logic (rules.h).
 */
#include <stdint.h>

#include "rules.h"
#include "banned.h"

void rules_evaluate(const struct rule_params *p, uint64_t observed, uint64_t baseline,
		    bool has_baseline, struct rules_verdict *v)
{
	v->holds = false;
	v->threshold = 0;
	v->level = 0;
	v->severity = p->severity;
	if (!p->enabled)
		return;
	uint64_t thr = UINT64_MAX;
	if (p->max_bytes)
		thr = p->max_bytes;
	if (p->baseline_multiple > 0) {
		uint64_t rel = p->min_bytes;
		if (has_baseline) {
			double x = p->baseline_multiple * (double)baseline;
			uint64_t bx = x >= 1.8e19 ? UINT64_MAX : (uint64_t)x;
			if (bx > rel)
				rel = bx;
		}
		/* No history and no floor: a baseline rule cannot judge yet. */
		if ((has_baseline || p->min_bytes) && rel < thr)
			thr = rel;
	}
	if (thr == UINT64_MAX)
		return;
	if (thr == 0)
		thr = 1;
	v->threshold = thr;
	if (observed <= thr)
		return;
	v->holds = true;
	int lvl = 0;
	while (lvl < RULES_LEVEL_MAX && thr <= (UINT64_MAX >> (lvl + 1)) &&
	       observed >= (thr << (lvl + 1)))
		lvl++;
	v->level = lvl;
	int sev = (int)p->severity + lvl / 2;
	v->severity = sev > SEV_CRITICAL ? SEV_CRITICAL : (enum severity)sev;
}

bool rules_episode_active(const struct rules_episode *ep, double now, double window_s)
{
	return ep->open && now - ep->last_held < window_s;
}

bool rules_episode_step(struct rules_episode *ep, const struct rules_verdict *v, double now,
			double window_s, uint64_t baseline, bool has_baseline, int *level)
{
	bool active = rules_episode_active(ep, now, window_s);
	if (!v->holds) {
		if (ep->open && !active)
			ep->open = false;
		return false;
	}
	if (!active) {
		ep->open = true;
		ep->start = now;
		ep->last_held = now;
		ep->level = v->level;
		ep->baseline = baseline;
		ep->has_baseline = has_baseline;
		*level = v->level;
		return true;
	}
	/* Each report is judged at its own clock: a late one never moves the
	 * episode's last hold back. */
	if (now > ep->last_held)
		ep->last_held = now;
	if (v->level > ep->level) {
		ep->level = v->level;
		*level = v->level;
		return true;
	}
	return false;
}
