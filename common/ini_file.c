/*
 * ini_file: libinih with line numbers and every error reported (ini_file.h).
 *
 * The reader hands inih one line at a time, so the line count it keeps is
 * the line of the key the handler is called for. It also checks each line's
 * syntax itself, because inih names only the first bad line and takes some
 * mistakes silently (text after a section's "]", "name: value", a NUL, a
 * section name cut to its buffer), and replaces a bad or over-long line by
 * an empty one so inih never misreads it. Section headers are announced to
 * the handler here, since inih says nothing of a section without keys.
 */
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ini_file.h"
#include "banned.h"

#define LINE_MAX_BYTES 4096
#define NAME_MAX_BYTES 49      /* inih's section and name buffers hold 50 with the NUL */

struct source {
	const char *name;
	FILE *f;                /* a file, or */
	const char *text, *end; /* a string */
	unsigned line;
	struct diag *d;
	ini_file_handler h;
	void *user;
};

/* Reads one whole line into buf (without the newline), its length into *got;
 * false at the end. */
static bool next_line(struct source *s, char *buf, size_t n, size_t *got, bool *too_long)
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
		if (s->text == s->end)
			return false;
		for (; s->text != s->end && *s->text != '\n'; s->text++) {
			if (len + 1 < n)
				buf[len++] = *s->text;
			else
				*too_long = true;
		}
		if (s->text != s->end)
			s->text++;
	}
	if (len && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	*got = len;
	return true;
}

/* inih strips these from a value when whitespace precedes them. */
static bool is_comment(const char *p)
{
	return *p == '#' || *p == ';';
}

static bool line_ok(struct source *s, const char *line, size_t len)
{
	const char *p = line;
	if (s->line == 1 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* a UTF-8 byte order mark, which inih skips too */
	p += strspn(p, " \t");
	if (strlen(line) != len) {
		diag_add(s->d, s->name, s->line, "the line holds a NUL byte");
		return false;
	}
	if (strchr(p, '\r')) {
		diag_add(s->d, s->name, s->line,
			 "a carriage return inside the line (lines must end in \\n or \\r\\n)");
		return false;
	}
	if (!*p || is_comment(p))
		return true;
	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (!end || end == p + 1) {
			diag_add(s->d, s->name, s->line, "malformed section header");
			return false;
		}
		const char *rest = end + 1 + strspn(end + 1, " \t");
		if (*rest && !is_comment(rest)) {
			diag_add(s->d, s->name, s->line, "text after the section header: \"%s\"", rest);
			return false;
		}
		size_t nlen = (size_t)(end - p - 1);
		if (nlen > NAME_MAX_BYTES) {
			diag_add(s->d, s->name, s->line, "section name too long (at most %d bytes)",
				 NAME_MAX_BYTES);
			return false;
		}
		char section[NAME_MAX_BYTES + 1];
		memcpy(section, p + 1, nlen);
		section[nlen] = '\0';
		s->h(s->user, s->name, s->line, section, NULL, NULL, s->d);
		return true;
	}
	size_t nlen = strcspn(p, "=:");
	if (p[nlen] != '=') {
		diag_add(s->d, s->name, s->line, "expected \"name = value\"");
		return false;
	}
	while (nlen && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
		nlen--;
	if (!nlen) {
		diag_add(s->d, s->name, s->line, "missing name before '='");
		return false;
	}
	if (nlen > NAME_MAX_BYTES) {
		diag_add(s->d, s->name, s->line, "name too long (at most %d bytes)", NAME_MAX_BYTES);
		return false;
	}
	return true;
}

static char *reader(char *str, int num, void *stream)
{
	struct source *s = stream;
	char buf[LINE_MAX_BYTES];
	bool too_long;
	size_t len;
	if (!next_line(s, buf, sizeof(buf), &len, &too_long))
		return NULL;
	s->line++;
	if (too_long || len + 2 > (size_t)num) {
		diag_add(s->d, s->name, s->line, "line too long (at most %d bytes)", num - 2);
		buf[0] = '\0';
	} else if (!line_ok(s, buf, len)) {
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
	ini_allow_bom = true;
	ini_start_comment_prefixes = (char *)"#;";
	ini_allow_inline_comments = true;       /* "key = value  # why", as in our examples */
	ini_inline_comment_prefixes = (char *)"#;";
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

int ini_file_parse_string_n(const char *name, const char *text, size_t len, ini_file_handler h,
			    void *user, struct diag *d)
{
	struct source s = {.name = name, .text = text, .end = text + len, .d = d, .h = h,
			   .user = user};
	return parse(&s);
}

int ini_file_parse_string(const char *name, const char *text, ini_file_handler h,
			  void *user, struct diag *d)
{
	return ini_file_parse_string_n(name, text, strlen(text), h, user, d);
}
