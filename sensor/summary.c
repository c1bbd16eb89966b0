/*
 * summary: the --summary JSON document (see summary.h).
 *
 * Streamed straight to the FILE, indented as jansson's JSON_INDENT(2) would:
 * a capture with thousands of identities makes a document of megabytes, and
 * building it as a jansson tree first cost more than a tenth of a whole
 * header-only run.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "summary.h"
#include "units.h"
#include "banned.h"

struct jw {
	FILE *f;
	unsigned depth;
	bool first;             /* nothing yet in the open container */
	bool after_key;         /* the next value follows "key": on its line */
	size_t n;               /* bytes in buf */
	char buf[1 << 16];      /* the document is built here and written whole:
				 * a stdio call per token cost more than the rest */
};

static void flush_buf(struct jw *w)
{
	fwrite_unlocked(w->buf, 1, w->n, w->f);
	w->n = 0;
}

static void out(struct jw *w, const char *s, size_t n)
{
	if (n > sizeof(w->buf) - w->n) {
		flush_buf(w);
		if (n > sizeof(w->buf)) {
			fwrite_unlocked(s, 1, n, w->f);
			return;
		}
	}
	memcpy(w->buf + w->n, s, n);
	w->n += n;
}

static void ch(struct jw *w, char c)
{
	if (w->n == sizeof(w->buf))
		flush_buf(w);
	w->buf[w->n++] = c;
}

static void lit(struct jw *w, const char *s)
{
	out(w, s, strlen(s));
}

/* A line break and the indent of the current depth, in one copy. The
 * summary nests 4 deep; an indent past 16 levels would be capped (it is
 * whitespace only: the document stays the same JSON). */
static void newline(struct jw *w)
{
	static const char nl[] = "\n                                ";
	unsigned n = 2 * w->depth;
	out(w, nl, 1 + (n < sizeof(nl) - 2 ? n : sizeof(nl) - 2));
}

/* Before a key or a value: the comma, the line break and the indent. */
static void item(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->depth) {
		if (!w->first)
			ch(w, ',');
		newline(w);
	}
	w->first = false;
}

static bool utf8_valid(const unsigned char *s)
{
	while (*s) {
		unsigned n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2
			     : (*s & 0xf8) == 0xf0 ? 3 : 4;
		if (n == 4 || (n == 1 && *s < 0xc2))
			return false;
		s++;
		for (unsigned i = 0; i < n; i++, s++)
			if ((*s & 0xc0) != 0x80)
				return false;
	}
	return true;
}

/* The two-character escapes jansson writes for these control bytes. */
static const char *short_escape(unsigned char c)
{
	switch (c) {
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	}
	return NULL;
}

/* A JSON string: quotes, backslashes and control bytes escaped; a string
 * that is not UTF-8 (a file name may not be) has its high bytes as '?',
 * so the document stays valid JSON. */
static void str(struct jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	item(w);
	ch(w, '"');
	/* Most strings (addresses, names) are printable ASCII: one copy. */
	size_t plain = 0;
	while (s[plain] >= 0x20 && s[plain] < 0x7f && s[plain] != '"' && s[plain] != '\\')
		plain++;
	if (!s[plain]) {
		out(w, s, plain);
		ch(w, '"');
		return;
	}
	bool utf8 = utf8_valid((const unsigned char *)s);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* A run that needs no escape goes in one copy. */
		size_t run = 0;
		while (p[run] && p[run] != '"' && p[run] != '\\' && p[run] >= 0x20 &&
		       (utf8 || p[run] < 0x80))
			run++;
		out(w, (const char *)p, run);
		p += run;
		if (!*p)
			break;
		if (*p == '"' || *p == '\\') {
			ch(w, '\\');
			ch(w, *p);
		} else if (*p < 0x20 && short_escape(*p)) {
			lit(w, short_escape(*p));
		} else if (*p < 0x20) {
			lit(w, "\\u00");
			ch(w, hex[*p >> 4]);
			ch(w, hex[*p & 15]);
		} else {
			ch(w, '?'); /* a high byte of a string that is not UTF-8 */
		}
	}
	ch(w, '"');
}

/* Keys are our own ASCII names: nothing to escape. */
static void key(struct jw *w, const char *k)
{
	item(w);
	ch(w, '"');
	lit(w, k);
	lit(w, "\": ");
	w->after_key = true;
}

static void u64(struct jw *w, uint64_t v)
{
	char tmp[UNITS_U64_DIGITS];
	const char *d = units_format_u64(v, tmp);
	item(w);
	out(w, d, (size_t)(tmp + sizeof(tmp) - d));
}

/* As jansson writes a real: 17 significant digits, always a '.' or an
 * exponent so that it reads back as a real, and an exponent without '+'
 * or leading zeros (1e-07 is written 1e-7). */
static void real(struct jw *w, double d)
{
	char tmp[40];
	snprintf(tmp, sizeof(tmp), "%.17g", d);
	item(w);
	char *e = strchr(tmp, 'e');
	if (!e) {
		lit(w, tmp);
		if (!strpbrk(tmp, ".n"))        /* "n": inf and nan have no '.' to add */
			lit(w, ".0");
		return;
	}
	out(w, tmp, (size_t)(e - tmp) + 1);
	char *x = e + 1;
	if (*x == '-')
		ch(w, *x);
	if (*x == '-' || *x == '+')
		x++;
	while (x[0] == '0' && x[1])
		x++;
	lit(w, x);
}

static void open_(struct jw *w, char c)
{
	item(w);
	ch(w, c);
	w->depth++;
	w->first = true;
}

static void close_(struct jw *w, char c)
{
	w->depth--;
	if (!w->first)
		newline(w);
	ch(w, c);
	w->first = false;
}

static void kv_u64(struct jw *w, const char *k, uint64_t v)
{
	key(w, k);
	u64(w, v);
}

static void counter(struct jw *w, const char *k, const struct agg_counter *c)
{
	key(w, k);
	open_(w, '{');
	kv_u64(w, "packets", c->packets);
	kv_u64(w, "bytes", c->bytes);
	close_(w, '}');
}

static void destination(struct jw *w, const struct report_dest *d)
{
	char addr[ADDR_STRLEN];
	const char *pname = report_proto_name(d->proto);
	open_(w, '{');
	key(w, "addr");
	str(w, addr_format(&d->addr, addr, sizeof(addr)));
	kv_u64(w, "bytes", d->bytes);
	kv_u64(w, "packets", d->packets);
	kv_u64(w, "port", d->port);
	key(w, "proto");
	if (pname)
		str(w, pname);
	else
		u64(w, d->proto);
	close_(w, '}');
}

static void identity(struct jw *w, const struct report_identity *id)
{
	open_(w, '{');
	key(w, "identity");
	str(w, id->name);
	kv_u64(w, "out_packets", id->out_packets);
	kv_u64(w, "out_bytes", id->out_bytes);
	kv_u64(w, "in_packets", id->in_packets);
	kv_u64(w, "in_bytes", id->in_bytes);
	kv_u64(w, "lateral_packets", id->lateral_packets);
	kv_u64(w, "lateral_bytes", id->lateral_bytes);
	kv_u64(w, "flows", id->flows);
	key(w, "top_destinations");
	open_(w, '[');
	for (size_t i = 0; i < id->ndests; i++)
		destination(w, &id->dests[i]);
	close_(w, ']');
	close_(w, '}');
}

int summary_write(FILE *f, const struct summary_input *in)
{
	const struct pipeline_stats *st = in->stats;
	struct jw w = {.f = f};
	open_(&w, '{');
	key(&w, "source");
	str(&w, in->source);
	kv_u64(&w, "link_type", (uint64_t)(in->link_type < 0 ? 0 : in->link_type));
	kv_u64(&w, "packets_seen", st->packets_seen);
	kv_u64(&w, "packets_undecoded", st->packets_undecoded);
	key(&w, "undecoded_reasons");
	open_(&w, '{');
	for (int r = DECODE_OK + 1; r < DECODE_NREASONS; r++)
		if (st->undecoded[r])
			kv_u64(&w, decode_reason_name(r), st->undecoded[r]);
	close_(&w, '}');
	counter(&w, "egress", &in->totals.egress);
	counter(&w, "ingress", &in->totals.ingress);
	counter(&w, "lateral", &in->totals.lateral);
	counter(&w, "transit", &in->totals.transit);
	key(&w, "start");
	real(&w, pipeline_seconds(st->first_ns));
	key(&w, "end");
	real(&w, pipeline_seconds(st->last_ns));
	key(&w, "overflow");
	open_(&w, '{');
	kv_u64(&w, "identity_packets", in->totals.identity_overflow);
	kv_u64(&w, "pair_packets", in->totals.pair_overflow);
	kv_u64(&w, "flow_packets", in->totals.flow_overflow);
	close_(&w, '}');
	kv_u64(&w, "memory_bytes", in->agg_memory);
	if (in->read_error) {
		key(&w, "read_error");
		str(&w, in->read_error);
	}
	key(&w, "identities");
	open_(&w, '[');
	for (size_t i = 0; i < in->report->nids; i++)
		identity(&w, &in->report->ids[i]);
	close_(&w, ']');
	close_(&w, '}');
	ch(&w, '\n');
	flush_buf(&w);
	return fflush(f) == 0 && !ferror(f) ? 0 : -1;
}
