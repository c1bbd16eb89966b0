/*
 * diag: a bounded list of "FILE:LINE: message" diagnostics.
 *
 * Config loaders report every problem they find, not just the first, so an
 * operator fixes a file in one pass. The list keeps the first DIAG_MAX
 * messages and counts the rest.
 */
#ifndef EW_DIAG_H
#define EW_DIAG_H

#include <stdio.h>

#define DIAG_MAX 100
#define DIAG_MSG_MAX 256

struct diag {
	char msg[DIAG_MAX][DIAG_MSG_MAX];
	unsigned count;         /* all problems seen, kept or not */
};

/* Replaces control bytes in s by '?': messages quote what files and Redis
 * hold, and an escape sequence must not reach the operator's terminal. */
void diag_printable(char *s);

/* Records one problem (made printable). line 0 means the whole file ("FILE: message"). */
void diag_add(struct diag *d, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Prints every kept message, one a line, and a count of those not kept. */
void diag_print(const struct diag *d, FILE *f);

#endif
