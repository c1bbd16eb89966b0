/*
 * ini_file: libinih with line numbers and every error reported (ini_file.h).
 *
 * The reader hands inih one line at a time, so the line count it keeps is
 * the line of the key the handler is called for. It also checks each line's
 * syntax itself, because inih names only the first bad line, and replaces a
 * bad or over-long line by an empty one so inih never misreads it.
 */
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ini_file.h"
#include "banned.h"

#define LINE_MAX_BYTES 4096

struct source {
	const char *name;
	FILE *f;                /* a file, or */
	const char *text;       /* a string */
	unsigned line;
	struct diag *d;
	ini_file_handler h;
	void *user;
};

/* Reads one whole line into buf (without the newline); false at the end. */
static bool next_line(struct source *s, char *buf, size_t n, bool *too_long)
{
	size_t len = 0;
	int c;
	*too_long = false;
	if (s->f) {
		if ((c = fgetc(s->f)) == EOF)
			return false;
		for (; c != EOF && c != '\n'; c = fgetc(s->f)) {
			if (len + 1 < n)
				buf[len++] = (char)c;
			else
				*too_long = true;
		}
	} else {
		if (!*s->text)
			return false;
		for (; *s->text && *s->text != '\n'; s->text++) {
			if (len + 1 < n)
				buf[len++] = *s->text;
			else
				*too_long = true;
		}
		if (*s->text == '\n')
			s->text++;
	}
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	return true;
}

static bool line_ok(struct source *s, const char *line)
{
	const char *p = line + strspn(line, " \t");
	if (!*p || *p == '#' || *p == ';')
		return true;
	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (!end || end == p + 1) {
			diag_add(s->d, s->name, s->line, "malformed section header");
			return false;
		}
		return true;
	}
	const char *eq = strchr(p, '=');
	if (!eq) {
		diag_add(s->d, s->name, s->line, "expected \"name = value\"");
		return false;
	}
	if (eq == p) {
		diag_add(s->d, s->name, s->line, "missing name before '='");
		return false;
	}
	return true;
}

static char *reader(char *str, int num, void *stream)
{
	struct source *s = stream;
	char buf[LINE_MAX_BYTES];
	bool too_long;
	if (!next_line(s, buf, sizeof(buf), &too_long))
		return NULL;
	s->line++;
	if (too_long || strlen(buf) + 2 > (size_t)num) {
		diag_add(s->d, s->name, s->line, "line too long (at most %d bytes)", num - 2);
		buf[0] = '\0';
	} else if (!line_ok(s, buf)) {
		buf[0] = '\0';
	}
	snprintf(str, (size_t)num, "%s\n", buf);
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct source *s = user;
	s->h(s->user, s->name, s->line, section, name, value, s->d);
	return 1;
}

static int parse(struct source *s)
{
	unsigned before = s->d->count;
	/* Debian's libinih keeps its options in globals: one value for all of us. */
	ini_allow_multiline = false;
	ini_max_line = LINE_MAX_BYTES;
	ini_stop_on_first_error = false;
	ini_parse_stream(reader, s, handler, s);
	return s->d->count == before ? 0 : -1;
}

int ini_file_parse(const char *path, ini_file_handler h, void *user, struct diag *d)
{
	struct source s = {.name = path, .d = d, .h = h, .user = user};
	s.f = fopen(path, "r");
	if (!s.f) {
		diag_add(d, path, 0, "cannot open: %m");
		return -1;
	}
	int rc = parse(&s);
	if (ferror(s.f)) {
		diag_add(d, path, 0, "read error");
		rc = -1;
	}
	fclose(s.f);
	return rc;
}

int ini_file_parse_string(const char *name, const char *text, ini_file_handler h,
			  void *user, struct diag *d)
{
	struct source s = {.name = name, .text = text, .d = d, .h = h, .user = user};
	return parse(&s);
}
