/*
 * identity_map: internal address -> identity name (see identity_map.h).
 *
 * A prefix_table maps each CIDR to a name id; the names are interned in an
 * array (id - 1 indexes it) with an open-addressing hash from name to id, so
 * the same name given for many prefixes is stored once. The map file is
 * operator input but still bounded: a line longer than LINE_MAX is an error,
 * not a reallocation, and every bad line is reported as FILE:LINE so that
 * one pass over the diagnostics fixes the file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "identity_map.h"
#include "prefix_table.h"
#include "report.h"
#include "banned.h"

/* Longest map-file line, newline excluded: an address, a name of
 * IDENTITY_NAME_MAX and room for a comment. */
#define LINE_MAX_BYTES 1024

struct identity_map {
	struct prefix_table *prefixes;
	char **names;           /* names[id - 1] */
	uint32_t nnames, names_cap;
	uint32_t *index;        /* open addressing: id, 0 = empty */
	uint32_t index_mask;
	struct hash_key key;
};

/* The rule of report_identity_name_valid() (report.h), kept here as a copy
 * so the sensor's map and the collector's report gate agree on one
 * alphabet: 1..IDENTITY_NAME_MAX of [A-Za-z0-9._:@/-]. */
static bool name_valid(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++) {
		char c = s[n];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '-';
		if (!ok || n >= IDENTITY_NAME_MAX)
			return false;
	}
	return n > 0;
}

struct identity_map *identity_map_new(void)
{
	struct identity_map *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->prefixes = prefix_table_new();
	if (!m->prefixes)
		goto out_free_map;
	m->index_mask = 63;
	m->index = calloc(m->index_mask + 1, sizeof(*m->index));
	if (!m->index)
		goto out_free_prefixes;
	if (hash_seed_random(&m->key)) {
		m->key.k0 = 0x6964656e74697479ULL;
		m->key.k1 = (uint64_t)(uintptr_t)m;
	}
	return m;

out_free_prefixes:
	prefix_table_free(m->prefixes);
out_free_map:
	free(m);
	return NULL;
}

void identity_map_free(struct identity_map *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; i < m->nnames; i++)
		free(m->names[i]);
	free(m->names);
	free(m->index);
	prefix_table_free(m->prefixes);
	free(m);
}

static uint32_t *index_slot(const struct identity_map *m, const char *name, size_t len)
{
	uint32_t i = (uint32_t)hash_bytes(&m->key, name, len) & m->index_mask;
	for (;;) {
		uint32_t id = m->index[i];
		if (id == 0)
			return &m->index[i];
		const char *s = m->names[id - 1];
		if (strlen(s) == len && memcmp(s, name, len) == 0)
			return &m->index[i];
		i = (i + 1) & m->index_mask;
	}
}

static int index_grow(struct identity_map *m)
{
	uint32_t nmask = m->index_mask * 2 + 1;
	uint32_t *ni = calloc((size_t)nmask + 1, sizeof(*ni));
	if (!ni)
		return -1;
	free(m->index);
	m->index = ni;
	m->index_mask = nmask;
	for (uint32_t id = 1; id <= m->nnames; id++) {
		const char *s = m->names[id - 1];
		*index_slot(m, s, strlen(s)) = id;
	}
	return 0;
}

/* The id of name, interning it if new; 0 on allocation failure. */
static uint32_t intern(struct identity_map *m, const char *name)
{
	size_t len = strlen(name);
	uint32_t *slot = index_slot(m, name, len);
	if (*slot)
		return *slot;
	if ((m->nnames + 1) * 2 > m->index_mask + 1) {
		if (index_grow(m))
			return 0;
		slot = index_slot(m, name, len);
	}
	if (m->nnames == m->names_cap) {
		uint32_t ncap = m->names_cap ? m->names_cap * 2 : 16;
		char **nn = realloc(m->names, (size_t)ncap * sizeof(*nn));
		if (!nn)
			return 0;
		m->names = nn;
		m->names_cap = ncap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return 0;
	memcpy(copy, name, len + 1);
	m->names[m->nnames++] = copy;
	*slot = m->nnames;
	return m->nnames;
}

int identity_map_add(struct identity_map *m, const char *cidr, const char *name, char *err,
		     size_t errlen)
{
	ew_addr a;
	unsigned plen;
	int rc = addr_parse_cidr(cidr, &a, &plen);
	if (rc) {
		addr_cidr_explain(rc, cidr, &a, plen, err, errlen);
		return -1;
	}
	if (!name_valid(name)) {
		snprintf(err, errlen,
			 "\"%.64s%s\" is not a valid identity name (1..%d of A-Z a-z 0-9 . _ : @ / -)",
			 name, strlen(name) > 64 ? "..." : "", IDENTITY_NAME_MAX);
		return -1;
	}
	uint32_t id = intern(m, name);
	if (id == 0 || prefix_table_add(m->prefixes, &a, plen, id)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* One line without its newline (NUL-terminated, len bytes). Returns 0 if it
 * was blank, a comment or a good entry; -1 after reporting the problem. */
static int parse_line(struct identity_map *m, const char *path, unsigned lineno, char *line,
		      size_t len, struct diag *d)
{
	if (strlen(line) != len) {
		diag_add(d, path, lineno, "line contains a NUL byte");
		return -1;
	}
	char *hash = strchr(line, '#');
	if (hash)
		*hash = '\0';
	char *fields[3];
	int nf = 0;
	char *p = line;
	while (nf < 3) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		fields[nf++] = p;
		while (*p && !is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (nf == 0)
		return 0;
	if (nf == 1) {
		diag_add(d, path, lineno, "expected \"CIDR name\", found only \"%.64s\"", fields[0]);
		return -1;
	}
	if (nf == 3) {
		diag_add(d, path, lineno, "extra field \"%.64s\" after the name", fields[2]);
		return -1;
	}
	char err[200];
	if (identity_map_add(m, fields[0], fields[1], err, sizeof(err))) {
		diag_add(d, path, lineno, "%s", err);
		return -1;
	}
	return 0;
}

int identity_map_load_buffer(struct identity_map *m, const char *name, const char *buf, size_t len,
			     struct diag *d)
{
	char line[LINE_MAX_BYTES + 1];
	unsigned lineno = 0;
	int rc = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		lineno++;
		if (n > LINE_MAX_BYTES) {
			diag_add(d, name, lineno, "line longer than %d bytes", LINE_MAX_BYTES);
			rc = -1;
		} else {
			memcpy(line, buf + pos, n);
			line[n] = '\0';
			if (parse_line(m, name, lineno, line, n, d))
				rc = -1;
		}
		pos += n + (nl ? 1 : 0);
	}
	return rc;
}

int identity_map_load_file(struct identity_map *m, const char *path, struct diag *d)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		diag_add(d, path, 0, "cannot open: %s", strerror(errno));
		return -1;
	}
	char line[LINE_MAX_BYTES + 2];
	unsigned lineno = 0;
	int rc = 0;
	for (;;) {
		/* Read one line by hand: fgets cannot tell an embedded NUL from
		 * the end, and getline would grow without bound. */
		size_t n = 0;
		bool too_long = false;
		int c;
		while ((c = getc(f)) != EOF && c != '\n') {
			if (n < LINE_MAX_BYTES)
				line[n++] = (char)c;
			else
				too_long = true;
		}
		if (c == EOF && n == 0 && !too_long)
			break;
		line[n] = '\0';
		lineno++;
		if (too_long) {
			diag_add(d, path, lineno, "line longer than %d bytes", LINE_MAX_BYTES);
			rc = -1;
		} else if (parse_line(m, path, lineno, line, n, d)) {
			rc = -1;
		}
		if (c == EOF)
			break;
	}
	if (ferror(f)) {
		diag_add(d, path, 0, "read error: %s", strerror(errno));
		rc = -1;
	}
	fclose(f);
	return rc;
}

uint32_t identity_map_lookup(const struct identity_map *m, const ew_addr *a)
{
	uint32_t id;
	if (!m || !prefix_table_lookup(m->prefixes, a, &id))
		return 0;
	return id;
}

const char *identity_map_name(const struct identity_map *m, uint32_t id)
{
	if (!m || id == 0 || id > m->nnames)
		return NULL;
	return m->names[id - 1];
}

uint32_t identity_map_names(const struct identity_map *m)
{
	return m ? m->nnames : 0;
}

size_t identity_map_prefixes(const struct identity_map *m)
{
	return m ? prefix_table_count(m->prefixes) : 0;
}
