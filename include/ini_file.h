/*
 * ini_file: libinih with line numbers, for FILE:LINE diagnostics.
 *
 * inih (Debian's libinih) reports only the first syntax error and does not
 * give handlers a line number, so this wrapper feeds it through a reader that
 * counts lines: the handler learns the line each key came from, and every
 * problem lands in a diag list as FILE:LINE: message.
 */
#ifndef EW_INI_FILE_H
#define EW_INI_FILE_H

#include <stddef.h>

#include "diag.h"

/*
 * Called once per "name = value" in section (empty before any section), and
 * once per section header with name and value NULL (so a section without
 * keys is checked too). A value has its inline comment (whitespace, then #
 * or ;) removed. Report problems with diag_add(d, file, line, ...); parsing
 * always goes on, so every error is found.
 */
typedef void (*ini_file_handler)(void *user, const char *file, unsigned line,
				 const char *section, const char *name, const char *value,
				 struct diag *d);

/* Parses path. Returns 0 when it was read without any new diagnostic, -1 otherwise. */
int ini_file_parse(const char *path, ini_file_handler h, void *user, struct diag *d);

/* The same over a NUL-terminated buffer; name is used in messages. */
int ini_file_parse_string(const char *name, const char *text, ini_file_handler h,
			  void *user, struct diag *d);

/* The same over len bytes, which may hold NULs (they are errors). */
int ini_file_parse_string_n(const char *name, const char *text, size_t len, ini_file_handler h,
			    void *user, struct diag *d);

#endif
