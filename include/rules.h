/*
 * rules: the collector's rule evaluation, pure code.
 *
 * Owned by the collector. Given one identity's figure for a rule's window,
 * its baseline and the rule's effective parameters, rules_evaluate() says
 * whether the rule holds, at what threshold, level and severity; and
 * rules_episode_step() turns a stream of verdicts into alerts: one per
 * identity, rule and episode, and again only on escalation. No I/O, no
 * globals: a smarter baseline engine plugs in by computing a better
 * baseline and calling the same functions.
 *
 * Levels: level L holds when observed >= threshold x 2^L (so each doubling
 * of the bytes is one level); severity is the rule's severity raised one
 * step for every two levels (x4), up to critical. An episode ends when the
 * rule has not held for a full window; while it is open the baseline it
 * opened with stays frozen, so the attack being watched is not learned.
 */
#ifndef EW_RULES_H
#define EW_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "collector_config.h"

#define RULES_LEVEL_MAX 40

struct rules_verdict {
	bool holds;
	uint64_t threshold;     /* the lowest limit in force; 0 if none */
	int level;              /* 0.. when it holds */
	enum severity severity;
};

/*
 * Evaluates p for observed bytes against baseline (has_baseline false: the
 * identity has no history yet, and the baseline-relative limit is its floor
 * min_bytes, or no limit when that is 0).
 */
void rules_evaluate(const struct rule_params *p, uint64_t observed, uint64_t baseline,
		    bool has_baseline, struct rules_verdict *v);

/* One identity's state for one rule, persisted with the identity. */
struct rules_episode {
	uint64_t rule_hash;     /* which rule (hash of its name): survives reloads */
	double start;           /* capture time the episode opened */
	double last_held;       /* last time the rule held */
	uint64_t baseline;      /* frozen at open */
	int32_t level;          /* highest level alerted in this episode */
	bool open;
	bool has_baseline;
};

/* True if ep is an episode still open at now for a window of window_s. */
bool rules_episode_active(const struct rules_episode *ep, double now, double window_s);

/*
 * Advances ep with verdict v at time now. Returns true when an alert is due
 * (a new episode, or a higher level in the open one); *level is then the
 * alert's level. baseline/has_baseline are frozen into a new episode.
 */
bool rules_episode_step(struct rules_episode *ep, const struct rules_verdict *v, double now,
			double window_s, uint64_t baseline, bool has_baseline, int *level);

#endif
