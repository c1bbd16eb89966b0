/*
 * fuzz_report: libFuzzer target for report_parse() (and the engine behind
 * it in the collector).
 *
 * The input is the report text, parsed from an exact-size heap copy so
 * ASan sees any read past the end. Besides "no crash": a rejected report
 * has a reason; an accepted one survives report_to_json -> report_parse
 * with the same figures, and applies to an engine without trouble.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "fuzz.h"
#include "report.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	struct report r, r2;
	struct report_limits lim = {1 << 20, 1000, 100};
	char err[256] = "";
	if (report_parse(text, size, &lim, &r, err, sizeof(err)) != 0) {
		if (!err[0])
			abort();        /* a rejection always says why */
		report_release(&r);
		free(text);
		return 0;
	}
	char *json = report_to_json(&r);
	if (!json || report_parse(json, strlen(json), &lim, &r2, err, sizeof(err)) != 0)
		abort();
	if (r2.seq != r.seq || r2.nids != r.nids || strcmp(r2.sensor, r.sensor) != 0)
		abort();
	for (size_t i = 0; i < r.nids; i++)
		if (r2.ids[i].out_bytes != r.ids[i].out_bytes || r2.ids[i].ndests != r.ids[i].ndests ||
		    strcmp(r2.ids[i].name, r.ids[i].name) != 0)
			abort();
	struct engine *e = engine_new(NULL);
	struct engine_alerts al = {0};
	if (e) {
		engine_apply(e, &r, &al, err, sizeof(err));
		engine_apply(e, &r, &al, err, sizeof(err));     /* a duplicate */
		if (r.nids && engine_counters(e)->duplicates != 1)
			abort();
	}
	engine_alerts_clear(&al);
	engine_free(e);
	free(json);
	report_release(&r2);
	report_release(&r);
	free(text);
	return 0;
}
