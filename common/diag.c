/*
 * diag: a bounded list of FILE:LINE diagnostics (see diag.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "diag.h"
#include "banned.h"

void diag_printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void diag_add(struct diag *d, const char *file, unsigned line, const char *fmt, ...)
{
	if (d->count < DIAG_MAX) {
		char *m = d->msg[d->count];
		int n = line ? snprintf(m, DIAG_MSG_MAX, "%s:%u: ", file, line)
			     : snprintf(m, DIAG_MSG_MAX, "%s: ", file);
		if (n >= 0 && n < DIAG_MSG_MAX) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(m + n, DIAG_MSG_MAX - (size_t)n, fmt, ap);
			va_end(ap);
		}
		diag_printable(m);
	}
	d->count++;
}

void diag_print(const struct diag *d, FILE *f)
{
	unsigned kept = d->count < DIAG_MAX ? d->count : DIAG_MAX;
	for (unsigned i = 0; i < kept; i++)
		fprintf(f, "%s\n", d->msg[i]);
	if (d->count > kept)
		fprintf(f, "... and %u more problems\n", d->count - kept);
}
