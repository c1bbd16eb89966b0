/*
 * units: human byte counts and durations (see units.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"
#include "banned.h"

struct unit {
	const char *name;
	double mult;
};

static const struct unit byte_units[] = {
	{"", 1},          {"b", 1},          {"kb", 1e3},    {"mb", 1e6},
	{"gb", 1e9},      {"tb", 1e12},      {"pb", 1e15},   {"k", 1e3},
	{"m", 1e6},       {"g", 1e9},        {"t", 1e12},    {"kib", 1024.0},
	{"mib", 1048576.0}, {"gib", 1073741824.0}, {"tib", 1099511627776.0},
	{"pib", 1125899906842624.0},
};

static const struct unit time_units[] = {
	{"", 1},
	{"ms", 0.001}, {"s", 1}, {"sec", 1}, {"m", 60}, {"min", 60}, {"h", 3600},
	{"d", 86400},  {"w", 604800},
};

/* Splits s into a plain decimal number (digits, at most one '.': no sign,
 * exponent or hex, which strtod would take) and a unit word; both must be
 * present in full (no trailing junk). */
static int split_number(const char *s, double *num, const char **unit)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t ip = strspn(s, "0123456789"), fp = 0;
	if (s[ip] == '.')
		fp = 1 + strspn(s + ip + 1, "0123456789");
	char text[32];
	if (ip + fp == 0 || (ip == 0 && fp == 1) || ip + fp >= sizeof(text))
		return -1;
	memcpy(text, s, ip + fp);
	text[ip + fp] = '\0';
	double v = strtod(text, NULL);
	if (!isfinite(v))
		return -1;
	const char *end = s + ip + fp;
	while (isspace((unsigned char)*end))
		end++;
	*num = v;
	*unit = end;
	return 0;
}

static int find_unit(const struct unit *u, size_t n, const char *word, double *mult)
{
	size_t len = strlen(word);
	while (len && isspace((unsigned char)word[len - 1]))
		len--;
	for (size_t i = 0; i < n; i++) {
		if (strlen(u[i].name) == len && strncasecmp(u[i].name, word, len) == 0) {
			*mult = u[i].mult;
			return 0;
		}
	}
	return -1;
}

int units_parse_bytes(const char *s, uint64_t *out)
{
	double v, mult;
	const char *unit;
	if (split_number(s, &v, &unit) || find_unit(byte_units, sizeof(byte_units) / sizeof(byte_units[0]), unit, &mult))
		return -1;
	double total = v * mult;
	if (total >= 18446744073709551616.0) /* 2^64 */
		return -1;
	/* llround's long ends at 2^63; doubles that large are whole numbers */
	*out = total < 9223372036854775808.0 ? (uint64_t)llround(total) : (uint64_t)total;
	return 0;
}

int units_parse_duration(const char *s, double *seconds)
{
	double v, mult;
	const char *unit;
	if (split_number(s, &v, &unit) || find_unit(time_units, sizeof(time_units) / sizeof(time_units[0]), unit, &mult))
		return -1;
	*seconds = v * mult;
	return 0;
}

int units_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int units_parse_bool(const char *s, int *out)
{
	static const char *yes[] = {"on", "yes", "true", "1"};
	static const char *no[] = {"off", "no", "false", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

char *units_format_u64(uint64_t v, char buf[UNITS_U64_DIGITS])
{
	char *p = buf + UNITS_U64_DIGITS;
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return p;
}
