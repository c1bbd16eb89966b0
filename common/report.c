/*
 * report: the sensor -> collector report as JSON (report.h, DESIGN.md
 * "Report").
 *
 * report_to_json() writes the text by hand into one buffer reserved from
 * an upper bound of its size (report_json_bound), so the sensor pays for
 * neither a jansson tree nor a check per field at each flush.
 *
 * report_parse() is a gate for hostile input: a strict JSON reader walks
 * the text against the schema (see "parsing" below): every required field
 * present and of its type, every count a non-negative integer up to
 * INT64_MAX, every limit enforced, the first problem named with its path
 * ("identities[3].out_bytes: ..."). Unknown fields are checked for syntax
 * and ignored, so a newer sender's additions do not break us.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "report.h"
#include "units.h"
#include "banned.h"

#define DEFAULT_MAX_BYTES (16u << 20)
#define DEFAULT_MAX_IDENTITIES 100000
#define DEFAULT_MAX_DESTS 1000

void report_release(struct report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nids; i++)
		free(r->ids[i].dests);
	free(r->ids);
	memset(r, 0, sizeof(*r));
}

static const struct {
	uint8_t num;
	const char *name;
} proto_names[] = {
	{1, "icmp"}, {6, "tcp"}, {17, "udp"}, {58, "icmpv6"},
	{47, "gre"}, {50, "esp"}, {132, "sctp"},
};

const char *report_proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].num == proto)
			return proto_names[i].name;
	return NULL;
}

static int proto_from_name(const char *s, uint8_t *out)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (strcmp(proto_names[i].name, s) == 0) {
			*out = proto_names[i].num;
			return 0;
		}
	return -1;
}

static bool name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == ':' || c == '@' || c == '/' || c == '-';
}

bool report_identity_name_valid(const char *s)
{
	size_t n = 0;
	if (!s)
		return false;
	for (; s[n]; n++)
		if (n >= IDENTITY_NAME_MAX || !name_char_ok((unsigned char)s[n]))
			return false;
	return n > 0;
}

/* Sensor names follow the identity charset, shorter. */
static bool sensor_name_valid(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= SENSOR_NAME_MAX && report_identity_name_valid(s);
}

static bool identity_ok(const char *s)
{
	return report_identity_name_valid(s) || strcmp(s, OVERFLOW_IDENTITY) == 0;
}

/* ---- writing ----
 *
 * Every part of the text has an upper bound on its size (fit_* below), so
 * report_to_json() reserves the whole text at once and writes each
 * identity's record with plain stores: no bounds check, call or
 * reallocation per field (the writer was a seventh of a reporting sensor's
 * time). The header and the stats go through the checked sb_printf.
 */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_grow(struct sbuf *b, size_t need)
{
	if (b->oom || b->len + need < b->cap)
		return;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap <= b->len + need)
		cap *= 2;
	char *np = realloc(b->p, cap);
	if (!np) {
		b->oom = true;
		return;
	}
	b->p = np;
	b->cap = cap;
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	for (int tries = 0; tries < 2 && !b->oom; tries++) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = b->p ? vsnprintf(b->p + b->len, room, fmt, ap) : -2;
		va_end(ap);
		if (n == -1) {
			b->oom = true;
			return;
		}
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		sb_grow(b, n > 0 ? (size_t)n + 1 : 256);
	}
}

/* The unchecked writers: each takes where to write, in room the caller
 * reserved, and returns the end of what it wrote. */
#define PUT_LIT(w, s) ((w) = (char *)memcpy((w), (s), sizeof(s) - 1) + sizeof(s) - 1)

static char *put_u64(char *w, uint64_t v)
{
	char tmp[UNITS_U64_DIGITS];
	const char *d = units_format_u64(v, tmp);
	size_t n = (size_t)(tmp + sizeof(tmp) - d);
	memcpy(w, d, n);
	return w + n;
}

/* s as a JSON string, at most 6 * strlen(s) + 2 bytes: names are validated
 * on the way in, but the writer must not depend on that. */
static char *put_str(char *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	*w++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*w++ = '\\';
			*w++ = (char)c;
		} else if (c < 0x20) {
			PUT_LIT(w, "\\u00");
			*w++ = hex[c >> 4];
			*w++ = hex[c & 15];
		} else {
			*w++ = (char)c;
		}
	}
	*w++ = '"';
	return w;
}

static char *put_dest(char *w, const struct report_dest *d)
{
	const char *pn = report_proto_name(d->proto);
	PUT_LIT(w, "{\"addr\":\"");
	w = addr_put(&d->addr, w);
	PUT_LIT(w, "\",\"port\":");
	w = put_u64(w, d->port);
	PUT_LIT(w, ",\"proto\":");
	if (pn) {
		size_t n = strlen(pn);
		*w++ = '"';
		memcpy(w, pn, n);
		w += n;
		*w++ = '"';
	} else {
		w = put_u64(w, d->proto);
	}
	PUT_LIT(w, ",\"bytes\":");
	w = put_u64(w, d->bytes);
	PUT_LIT(w, ",\"packets\":");
	w = put_u64(w, d->packets);
	*w++ = '}';
	return w;
}

/* One identity's record, at most fit_ident(id) bytes. */
static char *put_identity(char *w, const struct report_identity *id)
{
	PUT_LIT(w, "{\"identity\":");
	w = put_str(w, id->name);
	PUT_LIT(w, ",\"out_bytes\":");
	w = put_u64(w, id->out_bytes);
	PUT_LIT(w, ",\"out_packets\":");
	w = put_u64(w, id->out_packets);
	PUT_LIT(w, ",\"in_bytes\":");
	w = put_u64(w, id->in_bytes);
	PUT_LIT(w, ",\"in_packets\":");
	w = put_u64(w, id->in_packets);
	if (id->has_lateral) {
		PUT_LIT(w, ",\"lateral_bytes\":");
		w = put_u64(w, id->lateral_bytes);
		PUT_LIT(w, ",\"lateral_packets\":");
		w = put_u64(w, id->lateral_packets);
	}
	if (id->has_flows) {
		PUT_LIT(w, ",\"flows\":");
		w = put_u64(w, id->flows);
	}
	PUT_LIT(w, ",\"destinations\":[");
	for (size_t j = 0; j < id->ndests; j++) {
		if (j)
			*w++ = ',';
		w = put_dest(w, &id->dests[j]);
	}
	PUT_LIT(w, "]}");
	return w;
}

/* Upper bounds of report_to_json's output: six bytes a name byte (\u
 * escapes), twenty a number, every key and comma counted. */
#define FIT_HEAD 1024
#define FIT_DEST 160

static size_t fit_ident(const struct report_identity *id)
{
	return 300 + 6 * strlen(id->name) + FIT_DEST * id->ndests;
}

size_t report_json_bound(const struct report *r)
{
	size_t need = FIT_HEAD + 6 * strlen(r->sensor);
	for (size_t i = 0; i < r->nids; i++)
		need += fit_ident(&r->ids[i]);
	return need;
}

static int by_out_bytes_desc(const void *a, const void *b)
{
	const struct report_identity *x = a, *y = b;
	return x->out_bytes < y->out_bytes ? 1 : x->out_bytes > y->out_bytes ? -1 : 0;
}

static void fold_into(struct report_identity *o, struct report_identity *id)
{
	o->out_bytes += id->out_bytes;
	o->out_packets += id->out_packets;
	o->in_bytes += id->in_bytes;
	o->in_packets += id->in_packets;
	o->lateral_bytes += id->lateral_bytes;
	o->lateral_packets += id->lateral_packets;
	o->flows += id->flows;
	o->has_lateral |= id->has_lateral;
	o->has_flows |= id->has_flows;
	free(id->dests);
	id->dests = NULL;
	id->ndests = 0;
}

size_t report_fit(struct report *r, size_t max_bytes)
{
	if (report_json_bound(r) <= max_bytes || r->nids == 0)
		return 0;
	/* The existing overflow entry, if any, goes last and stays out of the sort. */
	struct report_identity over = {.has_lateral = true, .has_flows = true};
	memcpy(over.name, OVERFLOW_IDENTITY, sizeof(OVERFLOW_IDENTITY));
	size_t n = r->nids;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(r->ids[i].name, OVERFLOW_IDENTITY) == 0) {
			over = r->ids[i];
			r->ids[i] = r->ids[--n];
			break;
		}
	}
	qsort(r->ids, n, sizeof(r->ids[0]), by_out_bytes_desc);
	size_t used = FIT_HEAD + 6 * strlen(r->sensor) + fit_ident(&over), keep = 0;
	while (keep < n && used + fit_ident(&r->ids[keep]) <= max_bytes)
		used += fit_ident(&r->ids[keep++]);
	/* Folding may push the overflow's own destinations past the budget. */
	while (over.ndests && used > max_bytes) {
		over.ndests--;
		used -= FIT_DEST;
	}
	for (size_t i = keep; i < n; i++)
		fold_into(&over, &r->ids[i]);
	r->ids[keep] = over;    /* keep < nids: at least one slot is free or was over's */
	r->nids = keep + 1;
	return n - keep;
}

double report_head_end(const char *json, size_t len)
{
	static const char start[] = "\"start\":", key[] = ",\"end\":";
	const char *lim = json + (len < 1024 ? len : 1024);
	const char *p = memmem(json, (size_t)(lim - json), start, sizeof(start) - 1);
	p = p ? memmem(p, (size_t)(lim - p), key, sizeof(key) - 1) : NULL;
	if (!p)
		return 0;
	p += sizeof(key) - 1;
	char num[64];
	size_t n = 0;
	while (n < sizeof(num) - 1 && p + n < lim && p[n] && strchr("0123456789.eE+-", p[n]))
		n++;
	memcpy(num, p, n);
	num[n] = '\0';
	char *end;
	double v = strtod(num, &end);
	return end == num || *end || !isfinite(v) ? 0 : v;
}

char *report_to_json(const struct report *r)
{
	struct sbuf b = {0};

	sb_grow(&b, report_json_bound(r));
	sb_printf(&b, "{\"v\":%d,\"sensor\":", REPORT_VERSION);
	sb_grow(&b, 6 * strlen(r->sensor) + 2);
	if (!b.oom)
		b.len = (size_t)(put_str(b.p + b.len, r->sensor) - b.p);
	sb_printf(&b, ",\"seq\":%" PRIu64 ",\"start\":%.6f,\"end\":%.6f,\"identities\":[", r->seq,
		  r->start, r->end);
	for (size_t i = 0; i < r->nids && !b.oom; i++) {
		sb_grow(&b, fit_ident(&r->ids[i]));     /* reserved above: only a check */
		if (b.oom)
			break;
		char *w = b.p + b.len;
		if (i)
			*w++ = ',';
		b.len = (size_t)(put_identity(w, &r->ids[i]) - b.p);
	}
	sb_printf(&b,
		  "],\"stats\":{\"packets_seen\":%" PRIu64 ",\"packets_undecoded\":%" PRIu64
		  ",\"drops_kernel\":%" PRIu64 ",\"drops_iface\":%" PRIu64
		  ",\"spool_dropped\":%" PRIu64 "}}",
		  r->stats.packets_seen, r->stats.packets_undecoded, r->stats.drops_kernel,
		  r->stats.drops_iface, r->stats.spool_dropped);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	/* The bound is well over the text: hand the rest back to the heap. */
	char *text = realloc(b.p, b.len + 1);
	return text ? text : b.p;
}

/* ---- parsing ----
 *
 * A strict, schema-driven JSON reader (RFC 8259) over the caller's buffer:
 * no tree, no allocation but the report's own arrays, so the collector can
 * take hundreds of thousands of identity records a second. It checks the
 * grammar of everything, including the values of unknown fields it skips
 * (nesting bounded by MAX_DEPTH), rejects duplicate keys, and stops at the
 * first problem with its path or byte offset.
 */

#define MAX_DEPTH 32

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

struct jp {
	const char *s, *p, *end;
	char *err;
	size_t errlen;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static int fail(struct jp *j, const char *fmt, ...)
{
	if (j->failed)
		return -1;
	j->failed = true;
	va_list ap;
	va_start(ap, fmt);
	if (j->err && j->errlen)
		vsnprintf(j->err, j->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int syntax(struct jp *j, const char *what)
{
	return fail(j, "bad JSON at byte %zu: %s", (size_t)(j->p - j->s), what);
}

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static bool peek(struct jp *j, char c)
{
	ws(j);
	return j->p < j->end && *j->p == c;
}

static int expect(struct jp *j, char c)
{
	if (!peek(j, c)) {
		char what[32];
		snprintf(what, sizeof(what), "expected '%c'", c);
		return syntax(j, what);
	}
	j->p++;
	return 0;
}

static int hex4(struct jp *j, unsigned *out)
{
	if (j->end - j->p < 4)
		return syntax(j, "short \\u escape");
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = j->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
		else return syntax(j, "bad \\u escape");
	}
	j->p += 4;
	*out = v;
	return 0;
}

/* Length of a valid UTF-8 sequence at p (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;
	if (c < 0x80) return 1;
	if (c >= 0xc2 && c <= 0xdf) n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef) n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4) n = 4, cp = c & 0x07;
	else return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * Reads a string. With out, decodes up to cap-1 bytes into it (NUL added);
 * a longer or NUL-containing one sets *toolong / fails. Without out, skips.
 */
static int string(struct jp *j, char *out, size_t cap, size_t *olen, bool *toolong)
{
	size_t n = 0;
	if (toolong)
		*toolong = false;
	if (expect(j, '"') != 0)
		return -1;
	for (;;) {
		if (j->p >= j->end)
			return syntax(j, "unterminated string");
		/* the common case: a run of plain ASCII, copied at once */
		const char *run = j->p;
		while (j->p < j->end && (unsigned char)*j->p >= 0x20 && (unsigned char)*j->p < 0x80 &&
		       *j->p != '"' && *j->p != '\\')
			j->p++;
		if (j->p > run && out) {
			size_t rl = (size_t)(j->p - run);
			if (n + rl < cap) {
				memcpy(out + n, run, rl);
				n += rl;
			} else if (toolong) {
				*toolong = true;
			}
		}
		if (j->p >= j->end)
			return syntax(j, "unterminated string");
		unsigned char c = (unsigned char)*j->p;
		char buf[4];
		size_t bl;
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20)
			return syntax(j, "control character in string");
		if (c == '\\') {
			j->p++;
			if (j->p >= j->end)
				return syntax(j, "unterminated string");
			char e = *j->p++;
			unsigned cp;
			switch (e) {
			case '"': case '\\': case '/': buf[0] = e; bl = 1; break;
			case 'b': buf[0] = '\b'; bl = 1; break;
			case 'f': buf[0] = '\f'; bl = 1; break;
			case 'n': buf[0] = '\n'; bl = 1; break;
			case 'r': buf[0] = '\r'; bl = 1; break;
			case 't': buf[0] = '\t'; bl = 1; break;
			case 'u':
				if (hex4(j, &cp) != 0)
					return -1;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					unsigned lo;
					if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u')
						return syntax(j, "lone surrogate");
					j->p += 2;
					if (hex4(j, &lo) != 0)
						return -1;
					if (lo < 0xdc00 || lo > 0xdfff)
						return syntax(j, "bad surrogate pair");
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					return syntax(j, "lone surrogate");
				}
				if (cp == 0)
					return syntax(j, "\\u0000 in string");
				if (cp < 0x80) {
					buf[0] = (char)cp; bl = 1;
				} else if (cp < 0x800) {
					buf[0] = (char)(0xc0 | cp >> 6); buf[1] = (char)(0x80 | (cp & 0x3f)); bl = 2;
				} else if (cp < 0x10000) {
					buf[0] = (char)(0xe0 | cp >> 12); buf[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
					buf[2] = (char)(0x80 | (cp & 0x3f)); bl = 3;
				} else {
					buf[0] = (char)(0xf0 | cp >> 18); buf[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
					buf[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); buf[3] = (char)(0x80 | (cp & 0x3f)); bl = 4;
				}
				break;
			default:
				return syntax(j, "bad escape");
			}
		} else {
			bl = utf8_len((const unsigned char *)j->p, (const unsigned char *)j->end);
			if (!bl)
				return syntax(j, "invalid UTF-8");
			memcpy(buf, j->p, bl);
			j->p += bl;
		}
		if (out) {
			if (n + bl < cap) {
				memcpy(out + n, buf, bl);
				n += bl;
			} else if (toolong) {
				*toolong = true;
			}
		}
	}
	if (out)
		out[n] = '\0';
	if (olen)
		*olen = n;
	return 0;
}

struct num {
	bool is_int, neg, big;  /* big: an integer past INT64_MAX */
	uint64_t u;
	double d;
};

/* Significant digits a long literal keeps: a double's halfway points in
 * the range of times have fewer, so with a sticky digit for the rest the
 * rounding is strtod's on the whole literal. */
#define LONG_DIGITS 60

/*
 * The value of a number literal [s, end) too long for one strtod buffer
 * (JSON grammar already checked): its significant digits, bounded, and its
 * decimal exponent, rewritten as "0.DIGITSeEXP". A long literal is a valid
 * number ("1742380800.000...0" from a tool printing many digits), not an
 * error.
 */
static double long_literal(const char *s, const char *end)
{
	char digits[LONG_DIGITS + 1];
	size_t nd = 0;
	bool neg = false, nonzero = false, sticky = false;
	long exp10 = 0;         /* the point's place after the first nonzero digit */
	if (s < end && *s == '-') {
		neg = true;
		s++;
	}
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (*s == '0' && !nonzero)
			continue;
		nonzero = true;
		if (nd < LONG_DIGITS)
			digits[nd++] = *s;
		else if (*s != '0')
			sticky = true;
		if (exp10 < 1000000)
			exp10++;
	}
	if (s < end && *s == '.') {
		for (s++; s < end && *s >= '0' && *s <= '9'; s++) {
			if (*s == '0' && !nonzero) {
				if (exp10 > -1000000)
					exp10--;
				continue;
			}
			nonzero = true;
			if (nd < LONG_DIGITS)
				digits[nd++] = *s;
			else if (*s != '0')
				sticky = true;
		}
	}
	long e = 0;
	if (s < end && (*s == 'e' || *s == 'E')) {
		bool eneg = false;
		s++;
		if (s < end && (*s == '+' || *s == '-'))
			eneg = *s++ == '-';
		for (; s < end && *s >= '0' && *s <= '9'; s++)
			if (e < 1000000)
				e = e * 10 + (*s - '0');
		if (eneg)
			e = -e;
	}
	if (!nonzero)
		return neg ? -0.0 : 0.0;
	/* a nonzero digit past the kept ones: round as the whole literal does */
	char buf[LONG_DIGITS + 32];
	snprintf(buf, sizeof(buf), "%s0.%.*s%se%ld", neg ? "-" : "", (int)nd, digits,
		 sticky ? "1" : "", exp10 + e);
	return strtod(buf, NULL);
}

static int number(struct jp *j, struct num *n)
{
	const char *b = j->p;
	memset(n, 0, sizeof(*n));
	n->is_int = true;
	if (j->p < j->end && *j->p == '-') {
		n->neg = true;
		j->p++;
	}
	if (j->p >= j->end || *j->p < '0' || *j->p > '9')
		return syntax(j, "bad number");
	if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
		return syntax(j, "leading zero");
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
		unsigned dgt = (unsigned)(*j->p - '0');
		if (n->u > (UINT64_C(9223372036854775807) - dgt) / 10)
			n->big = true;
		else
			n->u = n->u * 10 + dgt;
		j->p++;
	}
	if (j->p < j->end && *j->p == '.') {
		n->is_int = false;
		j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return syntax(j, "bad fraction");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		n->is_int = false;
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || *j->p < '0' || *j->p > '9')
			return syntax(j, "bad exponent");
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	}
	if (n->is_int && !n->big) {
		n->d = n->neg ? -(double)n->u : (double)n->u;
		return 0;
	}
	char tmp[64];
	size_t len = (size_t)(j->p - b);
	if (len < sizeof(tmp)) {
		memcpy(tmp, b, len);
		tmp[len] = '\0';
		n->d = strtod(tmp, NULL);
	} else {
		n->d = long_literal(b, j->p);
	}
	return 0;
}

static int skip_value(struct jp *j, int depth);

static int skip_container(struct jp *j, int depth, char close)
{
	if (depth >= MAX_DEPTH)
		return fail(j, "bad JSON at byte %zu: nesting deeper than %d", (size_t)(j->p - j->s), MAX_DEPTH);
	j->p++;
	if (peek(j, close)) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (close == '}') {
			if (string(j, NULL, 0, NULL, NULL) != 0 || expect(j, ':') != 0)
				return -1;
		}
		if (skip_value(j, depth + 1) != 0)
			return -1;
		if (peek(j, ',')) {
			j->p++;
			continue;
		}
		return expect(j, close);
	}
}

static int literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return syntax(j, "unexpected character");
	j->p += n;
	return 0;
}

static int skip_value(struct jp *j, int depth)
{
	ws(j);
	if (j->p >= j->end)
		return syntax(j, "unexpected end");
	struct num n;
	switch (*j->p) {
	case '{': return skip_container(j, depth, '}');
	case '[': return skip_container(j, depth, ']');
	case '"': return string(j, NULL, 0, NULL, NULL);
	case 't': return literal(j, "true");
	case 'f': return literal(j, "false");
	case 'n': return literal(j, "null");
	default: return number(j, &n);
	}
}

/* What the next value is, without consuming it. */
static char kind(struct jp *j)
{
	ws(j);
	if (j->p >= j->end)
		return 0;
	char c = *j->p;
	if (c == '-' || (c >= '0' && c <= '9'))
		return '0';
	return c;
}

/* A non-negative integer up to max; where/key name it in errors. */
static int u64_field(struct jp *j, const char *where, const char *key, uint64_t max, uint64_t *out)
{
	if (kind(j) != '0')
		return fail(j, "%s%s: not a non-negative integer", where, key);
	struct num n;
	if (number(j, &n) != 0)
		return -1;
	if (!n.is_int || (n.neg && (n.u || n.big)))
		return fail(j, "%s%s: not a non-negative integer", where, key);
	if (n.big || n.u > max)
		return fail(j, "%s%s: too large", where, key);
	*out = n.u;
	return 0;
}

static int time_field(struct jp *j, const char *key, double *out)
{
	if (kind(j) != '0')
		return fail(j, "%s: not a number", key);
	struct num n;
	if (number(j, &n) != 0)
		return -1;
	/* Up to the year 2286: far past any capture, and exact to microseconds. */
	if (!isfinite(n.d) || n.d < 0 || n.d > 9999999999.0 || (n.neg && n.d != 0))
		return fail(j, "%s: not a time (0..9999999999)", key);
	*out = n.d;
	return 0;
}

/*
 * Walks one object: for each key, calls field(j, ctx, index of key in keys,
 * or -1 for unknown). Rejects duplicates among known keys (and unknown keys
 * repeated are left to the skip). *seen gets a bit per known key met.
 */
typedef int (*field_fn)(struct jp *j, void *ctx, int k);

static int object(struct jp *j, const char *where, const char *const *keys, int nkeys,
		  field_fn fn, void *ctx, uint32_t *seen)
{
	*seen = 0;
	if (kind(j) != '{')
		return fail(j, "%s: not an object", where);
	j->p++;
	if (peek(j, '}')) {
		j->p++;
		return 0;
	}
	for (;;) {
		char key[32];
		bool toolong;
		if (string(j, key, sizeof(key), NULL, &toolong) != 0 || expect(j, ':') != 0)
			return -1;
		int k = -1;
		for (int i = 0; !toolong && i < nkeys; i++)
			if (key[0] == keys[i][0] && strcmp(key, keys[i]) == 0) {
				k = i;
				break;
			}
		if (k >= 0) {
			if (*seen & (1u << k))
				return fail(j, "%s%s%s: duplicate key", where, *where ? "." : "", keys[k]);
			*seen |= 1u << k;
			if (fn(j, ctx, k) != 0)
				return -1;
		} else if (skip_value(j, 1) != 0) {
			return -1;
		}
		if (peek(j, ',')) {
			j->p++;
			continue;
		}
		return expect(j, '}');
	}
}

/* Walks an array, calling fn(j, ctx, index) on each element, at most max. */
typedef int (*elem_fn)(struct jp *j, void *ctx, size_t i);

static int array(struct jp *j, const char *where, size_t max, elem_fn fn, void *ctx)
{
	if (kind(j) != '[')
		return fail(j, "%s: not an array", where);
	j->p++;
	if (peek(j, ']')) {
		j->p++;
		return 0;
	}
	for (size_t i = 0;; i++) {
		if (i >= max)
			return fail(j, "%s: more than %zu", where, max);
		if (fn(j, ctx, i) != 0)
			return -1;
		if (peek(j, ',')) {
			j->p++;
			continue;
		}
		return expect(j, ']');
	}
}

/* Growable arrays for the report's identities and destinations. */
static void *grow(void *v, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return v;
	size_t nc = *cap ? *cap * 2 : 8;
	while (nc < need)
		nc *= 2;
	void *nv = realloc(v, nc * elem);
	if (nv) {
		memset((char *)nv + *cap * elem, 0, (nc - *cap) * elem);
		*cap = nc;
	}
	return nv;
}

struct pctx {
	struct report *r;
	const struct report_limits *lim;
	size_t capids;
	struct report_identity *id;
	size_t idx, capdests, didx;
	struct report_dest *d;
	char where[96];         /* "identities[i].destinations[j]", made on error */
	char idw[64];           /* "identities[i]." */
};

static const char *const dest_keys[] = {"addr", "port", "proto", "bytes", "packets"};

static int dest_field(struct jp *j, void *vctx, int k)
{
	struct pctx *c = vctx;
	struct report_dest *d = c->d;
	uint64_t x;
	char s[64];
	bool toolong;
	switch (k) {
	case 0:
		if (kind(j) != '"')
			return fail(j, "%s.addr: not an IP address", c->where);
		if (string(j, s, sizeof(s), NULL, &toolong) != 0)
			return -1;
		if (toolong || addr_parse(s, &d->addr) != 0)
			return fail(j, "%s.addr: not an IP address", c->where);
		return 0;
	case 1:
		if (u64_field(j, c->where, ".port", 65535, &x) != 0)
			return -1;
		d->port = (uint16_t)x;
		return 0;
	case 2:
		if (kind(j) == '"') {
			if (string(j, s, sizeof(s), NULL, &toolong) != 0)
				return -1;
			if (toolong || proto_from_name(s, &d->proto) != 0)
				return fail(j, "%s.proto: unknown protocol name", c->where);
			return 0;
		}
		if (kind(j) != '0')
			return fail(j, "%s.proto: not a protocol name or number 0..255", c->where);
		{
			struct num n;
			if (number(j, &n) != 0)
				return -1;
			if (!n.is_int || n.neg || n.big || n.u > 255)
				return fail(j, "%s.proto: not a protocol name or number 0..255", c->where);
			d->proto = (uint8_t)n.u;
		}
		return 0;
	case 3: return u64_field(j, c->where, ".bytes", INT64_MAX, &d->bytes);
	case 4: return u64_field(j, c->where, ".packets", INT64_MAX, &d->packets);
	}
	return 0;
}

static int dest_elem(struct jp *j, void *vctx, size_t i)
{
	struct pctx *c = vctx;
	struct report_identity *id = c->id;
	struct report_dest *nd = grow(id->dests, &c->capdests, i + 1, sizeof(*nd));
	if (!nd)
		return fail(j, "out of memory");
	id->dests = nd;
	id->ndests = i + 1;
	c->d = &nd[i];
	c->didx = i;
	memcpy(c->where, "destination", 12);
	uint32_t seen;
	int rc = object(j, c->where, dest_keys, 5, dest_field, c, &seen);
	if (rc == 0 && (seen & 25) == 25)
		return 0;
	/* Name the destination in full only when something is wrong with it. */
	snprintf(c->where, sizeof(c->where), "identities[%zu].destinations[%zu]", c->idx, i);
	if (rc != 0) {
		if (j->err && strncmp(j->err, "destination", 11) == 0) {
			char tail[256];
			snprintf(tail, sizeof(tail), "%s", j->err + 11);
			snprintf(j->err, j->errlen, "%s%s", c->where, tail);
		}
		return -1;
	}
	if (!(seen & 1))
		return fail(j, "%s.addr: missing", c->where);
	if (!(seen & 8))
		return fail(j, "%s.bytes: missing", c->where);
	if (!(seen & 16))
		return fail(j, "%s.packets: missing", c->where);
	return 0;
}

static const char *const ident_keys[] = {"identity", "out_bytes", "out_packets", "in_bytes",
					 "in_packets", "lateral_bytes", "lateral_packets", "flows",
					 "destinations"};

static int ident_field(struct jp *j, void *vctx, int k)
{
	struct pctx *c = vctx;
	struct report_identity *id = c->id;
	const char *w = c->idw;
	switch (k) {
	case 0: {
		bool toolong;
		if (kind(j) != '"')
			return fail(j, "%sidentity: not a string", w);
		if (string(j, id->name, sizeof(id->name), NULL, &toolong) != 0)
			return -1;
		if (toolong || !identity_ok(id->name))
			return fail(j, "%sidentity: not a valid identity name", w);
		return 0;
	}
	case 1: return u64_field(j, w, "out_bytes", INT64_MAX, &id->out_bytes);
	case 2: return u64_field(j, w, "out_packets", INT64_MAX, &id->out_packets);
	case 3: return u64_field(j, w, "in_bytes", INT64_MAX, &id->in_bytes);
	case 4: return u64_field(j, w, "in_packets", INT64_MAX, &id->in_packets);
	case 5: id->has_lateral = true; return u64_field(j, w, "lateral_bytes", INT64_MAX, &id->lateral_bytes);
	case 6: id->has_lateral = true; return u64_field(j, w, "lateral_packets", INT64_MAX, &id->lateral_packets);
	case 7: id->has_flows = true; return u64_field(j, w, "flows", INT64_MAX, &id->flows);
	case 8: {
		char dw[96];
		snprintf(dw, sizeof(dw), "%sdestinations", w);
		c->capdests = 0;
		return array(j, dw, c->lim->max_dests, dest_elem, c);
	}
	}
	return 0;
}

static int ident_elem(struct jp *j, void *vctx, size_t i)
{
	struct pctx *c = vctx;
	struct report *r = c->r;
	struct report_identity *ni = grow(r->ids, &c->capids, i + 1, sizeof(*ni));
	if (!ni)
		return fail(j, "out of memory");
	r->ids = ni;
	r->nids = i + 1;
	c->id = &ni[i];
	c->idx = i;
	/* "identities[i]." without printf: this runs once per identity record */
	char num[UNITS_U64_DIGITS];
	const char *d = units_format_u64(i, num);
	size_t nl = (size_t)(num + sizeof(num) - d);
	char *w = c->idw;
	memcpy(w, "identities[", 11);
	memcpy(w + 11, d, nl);
	size_t wl = 11 + nl;
	w[wl++] = ']';
	w[wl] = '.';
	w[wl + 1] = '\0';
	char bare[64];
	memcpy(bare, w, wl);
	bare[wl] = '\0';
	uint32_t seen;
	if (object(j, bare, ident_keys, 9, ident_field, c, &seen) != 0)
		return -1;
	for (int k = 0; k < 5; k++)
		if (!(seen & (1u << k)))
			return fail(j, "%s.%s: missing", bare, ident_keys[k]);
	return 0;
}

static const char *const stats_keys[] = {"packets_seen", "packets_undecoded", "drops_kernel",
					 "drops_iface", "spool_dropped"};

static int stats_field(struct jp *j, void *vctx, int k)
{
	struct pctx *c = vctx;
	struct report_stats *s = &c->r->stats;
	uint64_t *dst[] = {&s->packets_seen, &s->packets_undecoded, &s->drops_kernel,
			   &s->drops_iface, &s->spool_dropped};
	return u64_field(j, "stats.", stats_keys[k], INT64_MAX, dst[k]);
}

static const char *const root_keys[] = {"v", "sensor", "seq", "start", "end", "identities", "stats"};

static int root_field(struct jp *j, void *vctx, int k)
{
	struct pctx *c = vctx;
	struct report *r = c->r;
	uint64_t v;
	bool toolong;
	uint32_t seen;
	switch (k) {
	case 0:
		if (kind(j) != '0' || u64_field(j, "", "v", INT64_MAX, &v) != 0 || v != REPORT_VERSION) {
			j->failed = false;
			return fail(j, "v: unsupported version (want %d)", REPORT_VERSION);
		}
		return 0;
	case 1:
		if (kind(j) != '"')
			return fail(j, "sensor: not a valid sensor name");
		if (string(j, r->sensor, sizeof(r->sensor), NULL, &toolong) != 0)
			return -1;
		if (toolong || !sensor_name_valid(r->sensor))
			return fail(j, "sensor: not a valid sensor name");
		return 0;
	case 2: return u64_field(j, "", "seq", INT64_MAX, &r->seq);
	case 3: return time_field(j, "start", &r->start);
	case 4: return time_field(j, "end", &r->end);
	case 5: return array(j, "identities", c->lim->max_identities, ident_elem, c);
	case 6:
		if (object(j, "stats", stats_keys, 5, stats_field, c, &seen) != 0)
			return -1;
		for (int i = 0; i < 3; i++)
			if (!(seen & (1u << i)))
				return fail(j, "stats.%s: missing", stats_keys[i]);
		return 0;
	}
	return 0;
}

/*
 * Returns the index of an identity named twice in r, or -1. One open-
 * addressed table of indices over the names' FNV-1a hashes: linear in the
 * identities, which a report may carry by the hundred thousand.
 */
static long duplicate_identity(const struct report *r)
{
	if (r->nids < 2)
		return -1;
	size_t cap = 2;
	while (cap < r->nids * 2)
		cap <<= 1;
	uint32_t *slot = calloc(cap, sizeof(*slot)); /* index + 1, 0: empty */
	if (!slot)
		return -1; /* no memory to check: the engine sums a repeated name */
	long dup = -1;
	for (size_t i = 0; i < r->nids && dup < 0; i++) {
		uint64_t h = 0xcbf29ce484222325ULL;
		for (const unsigned char *p = (const unsigned char *)r->ids[i].name; *p; p++)
			h = (h ^ *p) * 0x100000001b3ULL;
		for (size_t k = (size_t)h & (cap - 1);; k = (k + 1) & (cap - 1)) {
			if (!slot[k]) {
				slot[k] = (uint32_t)i + 1;
				break;
			}
			if (strcmp(r->ids[slot[k] - 1].name, r->ids[i].name) == 0) {
				dup = (long)i;
				break;
			}
		}
	}
	free(slot);
	return dup;
}

int report_parse(const char *json, size_t len, const struct report_limits *lim_in,
		 struct report *out, char *err, size_t errlen)
{
	struct report_limits lim = {DEFAULT_MAX_BYTES, DEFAULT_MAX_IDENTITIES, DEFAULT_MAX_DESTS};
	if (lim_in) {
		if (lim_in->max_bytes)
			lim.max_bytes = lim_in->max_bytes;
		if (lim_in->max_identities)
			lim.max_identities = lim_in->max_identities;
		if (lim_in->max_dests)
			lim.max_dests = lim_in->max_dests;
	}
	memset(out, 0, sizeof(*out));
	if (len > lim.max_bytes)
		return bad(err, errlen, "report: larger than %zu bytes", lim.max_bytes);
	struct jp j = {json, json, json + len, err, errlen, false};
	struct pctx c = {.r = out, .lim = &lim};
	uint32_t seen;
	if (kind(&j) != '{') {
		/* valid JSON of the wrong type, or not JSON at all? */
		if (kind(&j) == 0 || skip_value(&j, 0) != 0)
			return j.failed ? -1 : syntax(&j, "expected a JSON object");
		ws(&j);
		if (j.p != j.end)
			return syntax(&j, "trailing data");
		return fail(&j, "report: not an object");
	}
	if (object(&j, "report", root_keys, 7, root_field, &c, &seen) != 0)
		return -1;
	ws(&j);
	if (j.p != j.end)
		return syntax(&j, "trailing data after the report");
	for (int k = 0; k < 7; k++)
		if (!(seen & (1u << k))) {
			if (k == 0)
				return bad(err, errlen, "v: missing");
			return bad(err, errlen, "%s: missing", root_keys[k]);
		}
	if (out->end < out->start)
		return bad(err, errlen, "end: before start");
	/* A sensor flushes at least daily: a longer report is not one, and
	 * spread over decades it would put its bytes before every window. */
	if (out->end - out->start > REPORT_SPAN_MAX)
		return bad(err, errlen, "end: more than two days after start");
	/* A sensor lists each identity once; twice would feed the detector
	 * the same interval twice. */
	long d = duplicate_identity(out);
	if (d >= 0)
		return bad(err, errlen, "identities[%ld]: \"%s\" listed twice", d, out->ids[d].name);
	return 0;
}
