/*
 * scenario_score: scores detection runs against their ground truth and
 * prints the results as a markdown table.
 *
 *   scenario_score [--max-fp-rate R] TRUTH.json:ALERTS.jsonl ...
 *
 * For a theft (scenario_sim's truth file): detected (an alert of medium or
 * higher on a thief between the theft's start and a day after its end), the
 * delay from the start, the GB that had left by then (from the truth's
 * cumulative series), the first rule, and whether the target (bytes or
 * delay) was met; alerts on other identities are counted as false. For the
 * benign run: alerts per identity-week after the learning week, and how
 * many were high or critical. Exit status 1 when a target was missed, a
 * benign run had a high/critical alert or more than R (0.02) alerts per
 * identity-week.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"

static int sev_rank(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "critical"))
		return 4;
	if (!strcmp(s, "high"))
		return 3;
	if (!strcmp(s, "medium"))
		return 2;
	if (!strcmp(s, "low"))
		return 1;
	return 0;
}

static double cum_at(json_t *series, double t)
{
	double prev_t = 0, prev_c = 0;
	size_t i;
	json_t *p;
	json_array_foreach(series, i, p) {
		double pt = json_number_value(json_array_get(p, 0)), pc = json_number_value(json_array_get(p, 1));
		if (pt >= t) {
			if (i == 0 || pt == prev_t)
				return pc;
			return prev_c + (pc - prev_c) * (t - prev_t) / (pt - prev_t);
		}
		prev_t = pt;
		prev_c = pc;
	}
	return prev_c;
}

static bool is_thief(json_t *ids, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (name && !strcmp(json_string_value(v), name))
			return true;
	return false;
}

static void fmt_delay(double s, char *buf, size_t n)
{
	if (s < 3600)
		snprintf(buf, n, "%.0f min", s / 60);
	else if (s < 72 * 3600)
		snprintf(buf, n, "%.1f h", s / 3600);
	else
		snprintf(buf, n, "%.1f d", s / 86400);
}

int main(int argc, char **argv)
{
	double max_fp = 0.02;
	int bad = 0, first = 1;
	printf("| scenario | detected | first alert (rule, severity) | delay | GB out before alert | target | met | other alerts (high+) |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--max-fp-rate") && a + 1 < argc) {
			max_fp = strtod(argv[++a], NULL);
			continue;
		}
		char spec[4096];
		snprintf(spec, sizeof(spec), "%s", argv[a]);
		char *colon = strchr(spec, ':');
		if (!colon) {
			fprintf(stderr, "scenario_score: want TRUTH:ALERTS, got %s\n", argv[a]);
			return 2;
		}
		*colon = 0;
		json_error_t jerr;
		json_t *truth = json_load_file(spec, 0, &jerr);
		FILE *af = fopen(colon + 1, "r");
		if (!truth || !af) {
			fprintf(stderr, "scenario_score: cannot read %s or %s\n", spec, colon + 1);
			return 2;
		}
		const char *sname = json_string_value(json_object_get(truth, "scenario"));
		double rate = json_number_value(json_object_get(truth, "thief_mean_bytes_per_hour"));
		char name[96];
		if (rate > 0 && json_array_size(json_object_get(truth, "identities")) == 1)
			snprintf(name, sizeof(name), "%s (%s, %.2g GB/h)", sname ? sname : "?",
				 json_string_value(json_array_get(json_object_get(truth, "identities"), 0)), rate / 1e9);
		else
			snprintf(name, sizeof(name), "%s", sname ? sname : "?");
		json_t *ids = json_object_get(truth, "identities");
		double start = json_number_value(json_object_get(truth, "start"));
		double end = json_number_value(json_object_get(truth, "end"));
		double eval_from = json_number_value(json_object_get(truth, "eval_from"));
		double tbytes = json_number_value(json_object_get(truth, "target_bytes"));
		double tdelay = json_number_value(json_object_get(truth, "target_delay_s"));
		double iw = json_number_value(json_object_get(truth, "identity_weeks"));
		json_t *series = json_object_get(truth, "series");
		bool theft = json_array_size(ids) > 0;
		double det_t = -1;
		char det_rule[64] = "", det_sev[16] = "";
		unsigned other = 0, other_high = 0;
		char *line = NULL;
		size_t cap = 0;
		while (getline(&line, &cap, af) > 0) {
			json_t *al = json_loads(line, 0, &jerr);
			if (!al)
				continue;
			const char *who = json_string_value(json_object_get(al, "identity"));
			const char *sev = json_string_value(json_object_get(al, "severity"));
			double t = json_number_value(json_object_get(al, "time"));
			bool esc = json_is_true(json_object_get(al, "escalation"));
			if (theft && is_thief(ids, who) && t >= start && t <= end + 86400) {
				if (sev_rank(sev) >= 2 && (det_t < 0 || t < det_t)) {
					det_t = t;
					snprintf(det_rule, sizeof(det_rule), "%s", json_string_value(json_object_get(al, "rule")));
					snprintf(det_sev, sizeof(det_sev), "%s", sev);
				}
			} else if (t >= eval_from) {
				/* An escalation is not a new alert, but a high one all the same. */
				if (!esc)
					other++;
				if (sev_rank(sev) >= 3)
					other_high++;
			}
			json_decref(al);
		}
		free(line);
		fclose(af);
		if (!theft) {
			double fp = iw > 0 ? other / iw : 0;
			bool ok = other_high == 0 && fp <= max_fp;
			printf("| %s | - | - | - | - | <= %.2f alerts/identity-week, 0 high | %s | %u in %.0f identity-weeks = %.3f/identity-week (%u) |\n",
			       name, max_fp, ok ? "yes" : "NO", other, iw, fp, other_high);
			bad |= !ok;
		} else {
			char tgt[64], dl[32] = "-", gb[32] = "-";
			bool ok = det_t >= 0;
			if (tbytes > 0)
				snprintf(tgt, sizeof(tgt), "before %.0f GB", tbytes / 1e9);
			else {
				char d[32];
				fmt_delay(tdelay, d, sizeof(d));
				snprintf(tgt, sizeof(tgt), "within %s", d);
			}
			if (det_t >= 0) {
				double out = cum_at(series, det_t);
				fmt_delay(det_t - start, dl, sizeof(dl));
				snprintf(gb, sizeof(gb), "%.2f", out / 1e9);
				if (tbytes > 0 && out >= tbytes)
					ok = false;
				if (tdelay > 0 && det_t - start > tdelay)
					ok = false;
			}
			printf("| %s | %s | %s%s%s%s | %s | %s | %s | %s | %u (%u) |\n", name, det_t >= 0 ? "yes" : "no",
			       det_rule, det_t >= 0 ? " (" : "-", det_sev, det_t >= 0 ? ")" : "", dl, gb, tgt,
			       ok ? "yes" : "NO", other, other_high);
			bad |= !ok;
		}
		first = 0;
		json_decref(truth);
	}
	(void)first;
	return bad ? 1 : 0;
}
