/*
 * backtest: what would a config have raised? Replays stored reports (the
 * Redis stream, read-only, or a JSON-lines file) through a fresh engine
 * under a candidate config, and compares its alerts with a reference: the
 * alerts the live config raised (the alerts stream) or a replay under
 * another config (--against), so a threshold change is judged on last
 * month's traffic before it goes live.
 *
 *   egress-collector --backtest -c NEW.conf [--reports FILE.jsonl] [--against OLD.conf]
 *
 * stdout: the candidate's alerts, one JSON object a line (as live).
 * stderr: the comparison, one line per alert added or dropped, and counts.
 */
#ifndef EW_BACKTEST_H
#define EW_BACKTEST_H

#include <stddef.h>
#include <stdio.h>

#include "collector_config.h"
#include "redis_addr.h"

struct backtest_alerts {
	char **json;            /* owned */
	size_t n, cap;
};

struct backtest_stats {
	size_t reports, rejected;
	unsigned long long duplicates, alerts;
};

void backtest_alerts_free(struct backtest_alerts *a);

/*
 * Replays reports (a file path, "-" for stdin, or NULL: the stream at
 * redis) under cfg, appending every alert to out. 0, or -1 with err.
 */
int backtest_replay(const struct collector_config *cfg, const struct redis_addr *redis,
		    const char *reports, struct backtest_alerts *out, struct backtest_stats *st,
		    char *err, size_t errlen);

/* The alerts stream's alerts, oldest first (at most max). 0, or -1 with err. */
int backtest_stream_alerts(const struct collector_config *cfg, const struct redis_addr *redis,
			   size_t max, struct backtest_alerts *out, char *err, size_t errlen);

/*
 * Compares by identity, rule, severity and episode start (pure). Writes a
 * "+"/"-" line per difference and a summary to f; returns the number of
 * differences.
 */
size_t backtest_diff(FILE *f, const struct backtest_alerts *reference,
		     const struct backtest_alerts *candidate, const char *reference_name);

#endif
