/*
 * fuzz_collector_config: libFuzzer target for the collector's config
 * loader (collector_config_load_string).
 *
 * Besides "no crash": a rejected config has at least one diagnostic; an
 * accepted one has rules (or the detector) with windows and limits, and its parameter
 * resolution works for a few names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector_config.h"
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct diag *d = calloc(1, sizeof(*d));
	if (!d) {
		free(text);
		return 0;
	}
	struct collector_config *c = collector_config_load_string("fuzz.conf", text, d);
	if (!c) {
		if (d->count == 0)
			abort();
	} else {
		/* something must be able to alert: rules or the detector */
		if (c->nrules == 0 && !c->detect_enabled)
			abort();
		static const char *names[] = {"web-prod", "db-1", "~overflow", "ci-runner-7"};
		for (size_t n = 0; n < 4; n++) {
			int gi, ii;
			collector_config_match(c, names[n], &gi, &ii);
			for (size_t r = 0; r < c->nrules; r++) {
				struct rule_params p;
				collector_config_params(c, r, gi, ii, &p);
				if (c->rules[r].window_s < 60)
					abort();
			}
			for (size_t a = 0; a < c->nallows; a++)
				collector_config_allow_applies(&c->allows[a], names[n]);
		}
	}
	collector_config_free(c);
	free(d);
	free(text);
	return 0;
}
