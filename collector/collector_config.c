/*
 * collector_config: egress-collector's config file (collector_config.h).
 *
 * One pass through ini_file collects every key with its line; rule overrides
 * in [group]/[identity] may name rules defined further down, so they are kept
 * as text with their line and resolved once the whole file is read. Every
 * problem goes to the diag list; a config with any problem is not returned,
 * so a running collector never swaps in half a config.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector_config.h"
#include "http_api.h"
#include "ini_file.h"
#include "units.h"
#include "banned.h"

#define PENDING_MAX 4096

struct pending {
	int kind;               /* 'g' group, 'i' identity */
	size_t idx;
	char rule[CCONF_NAME_MAX + 1];
	char key[32];
	char value[128];
	unsigned line;
};

struct loader {
	struct collector_config *c;
	struct pending *pend;
	size_t npend;
	unsigned rule_line[CCONF_RULES_MAX];
	bool rule_has_window[CCONF_RULES_MAX];
	unsigned group_line[CCONF_GROUPS_MAX], allow_line[CCONF_ALLOWS_MAX];
	bool allow_has_cidrs[CCONF_ALLOWS_MAX]; /* a bad one is reported at its line */
	bool section_bad;               /* the current header was reported: its keys stay quiet */
	/* duplicate key detection: "section\nkey" strings seen */
	char **seen;
	size_t nseen, capseen;
};

static const char *sev_names[] = {"low", "medium", "high", "critical"};

const char *collector_config_severity_name(enum severity s)
{
	return (unsigned)s < 4 ? sev_names[s] : "unknown";
}

static int parse_severity(const char *s, enum severity *out)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, sev_names[i]) == 0) {
			*out = (enum severity)i;
			return 0;
		}
	return -1;
}

static uint64_t fnv64(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static bool simple_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > CCONF_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
			return false;
	}
	return true;
}

/* A member pattern: identity-name characters plus glob characters. */
static bool pattern_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > IDENTITY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (!isalnum(ch) && !strchr("._:@/-*?[]!~", ch))
			return false;
	}
	return true;
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	size_t k = strspn(s, " \t");
	memmove(s, s + k, n - k + 1);
}

/* Splits a comma list into members; returns -1 with a diag on a bad item. */
static int parse_members(const char *value, char (**out)[IDENTITY_NAME_MAX + 1], size_t *n,
			 const char *file, unsigned line, struct diag *d)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", value);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		trim(tok);
		if (!*tok)
			continue;
		if (!pattern_ok(tok)) {
			diag_add(d, file, line, "members: \"%s\" is not an identity name or pattern", tok);
			return -1;
		}
		if (*n >= CCONF_MEMBERS_MAX) {
			diag_add(d, file, line, "members: more than %d", CCONF_MEMBERS_MAX);
			return -1;
		}
		char (*nm)[IDENTITY_NAME_MAX + 1] = realloc(*out, (*n + 1) * sizeof(**out));
		if (!nm) {
			diag_add(d, file, line, "out of memory");
			return -1;
		}
		*out = nm;
		snprintf(nm[*n], sizeof(nm[*n]), "%s", tok);
		(*n)++;
	}
	return 0;
}

int collector_config_parse_hours(const char *s, unsigned *from_min, unsigned *to_min)
{
	unsigned h1, m1, h2, m2;
	int used = 0;
	if (sscanf(s, " %2u:%2u - %2u:%2u %n", &h1, &m1, &h2, &m2, &used) != 4 || s[used] != '\0')
		return -1;
	if (h1 > 24 || h2 > 24 || m1 > 59 || m2 > 59 || (h1 == 24 && m1) || (h2 == 24 && m2))
		return -1;
	*from_min = h1 * 60 + m1;
	*to_min = h2 * 60 + m2;
	if (*from_min == *to_min)
		return -1;
	return 0;
}

/* True when name was set before in the section (KIND and NAME, or a plain
 * section with arg NULL; "[rule  a]" is "[rule a]"). */
static bool check_dup(struct loader *L, const char *section, const char *arg, const char *name)
{
	char key[512];
	snprintf(key, sizeof(key), "%s %s\n%s", section, arg ? arg : "", name);
	for (size_t i = 0; i < L->nseen; i++)
		if (strcmp(L->seen[i], key) == 0)
			return true;
	if (L->nseen == L->capseen) {
		size_t nc = L->capseen ? L->capseen * 2 : 64;
		char **ns = realloc(L->seen, nc * sizeof(*ns));
		if (!ns)
			return false;
		L->seen = ns;
		L->capseen = nc;
	}
	L->seen[L->nseen] = strdup(key);
	if (L->seen[L->nseen])
		L->nseen++;
	return false;
}

static void collector_key(struct loader *L, const char *file, unsigned line, const char *name,
			  const char *value, struct diag *d)
{
	struct collector_config *c = L->c;
	uint64_t u;
	char err[256];
	if (strcmp(name, "redis") == 0) {
		if (redis_addr_parse(value, &c->redis, err, sizeof(err)) != 0)
			diag_add(d, file, line, "redis: %s", err);
		else
			c->has_redis = true;
	} else if (strcmp(name, "redis_credentials") == 0) {
		if (*value && redis_addr_load_credentials(value, &c->redis, err, sizeof(err)) < 0)
			diag_add(d, file, line, "redis_credentials: %s", err);
	} else if (strcmp(name, "prefix") == 0) {
		if (strlen(value) >= sizeof(c->prefix) || strpbrk(value, " \t\r\n"))
			diag_add(d, file, line, "prefix: at most %zu bytes, no spaces", sizeof(c->prefix) - 1);
		else
			snprintf(c->prefix, sizeof(c->prefix), "%s", value);
	} else if (strcmp(name, "group") == 0 || strcmp(name, "consumer") == 0) {
		char *dst = name[0] == 'g' ? c->group : c->consumer;
		if (!simple_name_ok(value))
			diag_add(d, file, line, "%s: 1..63 of [A-Za-z0-9._-]", name);
		else
			snprintf(dst, 64, "%s", value);
	} else if (strcmp(name, "alerts_file") == 0) {
		if (strlen(value) >= sizeof(c->alerts_file))
			diag_add(d, file, line, "alerts_file: path too long");
		else
			snprintf(c->alerts_file, sizeof(c->alerts_file), "%s", value);
	} else if (strcmp(name, "http") == 0) {
		char host[256];
		uint16_t port;
		if (!*value || strlen(value) >= sizeof(c->http) ||
		    (strcmp(value, "off") != 0 &&
		     http_api_parse_listen(value, host, sizeof(host), &port) != 0))
			diag_add(d, file, line, "http: \"off\", host:port or [v6]:port, got \"%s\"",
				 value);
		else
			snprintf(c->http, sizeof(c->http), "%s", value);
	} else if (strcmp(name, "http_token_file") == 0) {
		if (strlen(value) >= sizeof(c->http_token_file))
			diag_add(d, file, line, "http_token_file: path too long");
		else
			snprintf(c->http_token_file, sizeof(c->http_token_file), "%s", value);
	} else if (strcmp(name, "http_cors_origin") == 0) {
		if (strlen(value) >= sizeof(c->http_cors_origin) || strpbrk(value, " \t\r\n"))
			diag_add(d, file, line, "http_cors_origin: one origin, no spaces");
		else
			snprintf(c->http_cors_origin, sizeof(c->http_cors_origin), "%s", value);
	} else if (strcmp(name, "http_rate") == 0) {
		if (units_parse_uint(value, 100000, &u) != 0)
			diag_add(d, file, line, "http_rate: requests per second per client, 0..100000");
		else
			c->http_rate = (double)u;
	} else if (strcmp(name, "http_streams_per_address") == 0) {
		if (units_parse_uint(value, 4096, &u) != 0 || u == 0)
			diag_add(d, file, line, "http_streams_per_address: an integer 1..4096");
		else
			c->http_streams_per_addr = (size_t)u;
	} else if (strcmp(name, "metrics_top_n") == 0) {
		if (units_parse_uint(value, 10000, &u) != 0)
			diag_add(d, file, line, "metrics_top_n: an integer 0..10000");
		else
			c->metrics_top_n = (size_t)u;
	} else if (strcmp(name, "sensor_blind_rate") == 0) {
		char *end;
		double v = strtod(value, &end);
		if (end == value || *end || !(v >= 0 && v <= 1))
			diag_add(d, file, line, "sensor_blind_rate: a fraction 0..1 (0 turns it off)");
		else
			c->sensor_blind_rate = v;
	} else if (strcmp(name, "seccomp") == 0) {
		int b;
		if (units_parse_bool(value, &b) != 0)
			diag_add(d, file, line, "seccomp: on or off");
		else
			c->seccomp = b;
	} else if (strcmp(name, "max_identities") == 0) {
		if (units_parse_uint(value, 10000000, &u) != 0 || u == 0)
			diag_add(d, file, line, "max_identities: an integer 1..10000000");
		else
			c->max_identities = (size_t)u;
	} else if (strcmp(name, "max_identities_per_sensor") == 0) {
		if (units_parse_uint(value, 10000000, &u) != 0 || u == 0)
			diag_add(d, file, line,
				 "max_identities_per_sensor: an integer 1..10000000");
		else
			c->max_identities_per_sensor = (size_t)u;
	} else if (strcmp(name, "max_sensors") == 0) {
		if (units_parse_uint(value, CCONF_SENSORS_LIMIT, &u) != 0 || u == 0)
			diag_add(d, file, line, "max_sensors: an integer 1..%d", CCONF_SENSORS_LIMIT);
		else
			c->max_sensors = (size_t)u;
	} else if (strcmp(name, "batch") == 0) {
		if (units_parse_uint(value, 10000, &u) != 0 || u == 0)
			diag_add(d, file, line, "batch: an integer 1..10000");
		else
			c->batch = (size_t)u;
	} else if (strcmp(name, "claim_idle") == 0) {
		double t;
		if (units_parse_duration(value, &t) != 0 || t < 1 || t > 86400)
			diag_add(d, file, line, "claim_idle: a duration 1s..1d");
		else
			c->claim_idle_s = t;
	} else if (strcmp(name, "max_report_bytes") == 0) {
		if (units_parse_bytes(value, &u) != 0 || u < 1024 || u > (512u << 20))
			diag_add(d, file, line, "max_report_bytes: a size 1KiB..512MiB");
		else
			c->max_report_bytes = (size_t)u;
	} else {
		diag_add(d, file, line, "unknown key \"%s\" in [collector]", name);
	}
}

/* Parses one rule parameter into p; returns the field or 0 with a diag. */
static int rule_param(const char *file, unsigned line, const char *key, const char *value,
		      struct rule_params *p, struct diag *d)
{
	uint64_t u;
	if (strcmp(key, "max_bytes") == 0) {
		if (units_parse_bytes(value, &u) != 0 || u == 0) {
			diag_add(d, file, line, "max_bytes: not a size (e.g. 10GB, 500MiB)");
			return 0;
		}
		p->max_bytes = u;
		return 'x';
	}
	if (strcmp(key, "min_bytes") == 0) {
		if (units_parse_bytes(value, &u) != 0) {
			diag_add(d, file, line, "min_bytes: not a size (e.g. 1GB)");
			return 0;
		}
		p->min_bytes = u;
		return 'n';
	}
	if (strcmp(key, "baseline_multiple") == 0) {
		char *end;
		double m = strtod(value, &end);
		if (end == value || *end || !isfinite(m) || m < 1.0 || m > 1e6) {
			diag_add(d, file, line, "baseline_multiple: a number 1..1000000");
			return 0;
		}
		p->baseline_multiple = m;
		return 'm';
	}
	if (strcmp(key, "severity") == 0) {
		if (parse_severity(value, &p->severity) != 0) {
			diag_add(d, file, line, "severity: low, medium, high or critical");
			return 0;
		}
		return 's';
	}
	if (strcmp(key, "enabled") == 0) {
		int b;
		if (units_parse_bool(value, &b) != 0) {
			diag_add(d, file, line, "enabled: on or off");
			return 0;
		}
		p->enabled = b;
		return 'e';
	}
	diag_add(d, file, line, "unknown key \"%s\"", key);
	return 0;
}

static int find_or_add_rule(struct loader *L, const char *name, unsigned line)
{
	struct collector_config *c = L->c;
	int r = collector_config_rule_index(c, name);
	if (r >= 0)
		return r;
	if (c->nrules >= CCONF_RULES_MAX)
		return -1;
	r = (int)c->nrules++;
	snprintf(c->rules[r].name, sizeof(c->rules[r].name), "%s", name);
	c->rules[r].p.enabled = true;
	c->rules[r].p.severity = SEV_MEDIUM;
	L->rule_line[r] = line;
	return r;
}

static void rule_key(struct loader *L, const char *file, unsigned line, const char *rname,
		     const char *name, const char *value, struct diag *d)
{
	int r = find_or_add_rule(L, rname, line);
	if (r < 0) {
		diag_add(d, file, line, "more than %d rules", CCONF_RULES_MAX);
		return;
	}
	struct rule_def *rd = &L->c->rules[r];
	if (strcmp(name, "window") == 0) {
		double w;
		L->rule_has_window[r] = true; /* a bad one is reported here, not again as missing */
		if (units_parse_duration(value, &w) != 0) {
			diag_add(d, file, line, "window: not a duration (e.g. 1h, 24h, 7d)");
			return;
		}
		bool ok = (w >= 60 && w <= 7200 && fmod(w, 60) == 0) ||
			  (w > 7200 && w <= 7 * 86400 && fmod(w, 3600) == 0);
		if (!ok) {
			diag_add(d, file, line,
				 "window: whole minutes from 1m to 2h, or whole hours up to 7d");
			return;
		}
		rd->window_s = w;
		return;
	}
	rule_param(file, line, name, value, &rd->p, d);
}

static void override_key(struct loader *L, int kind, size_t idx, const char *file, unsigned line,
			 const char *name, const char *value, struct diag *d)
{
	const char *dot = strrchr(name, '.');
	if (!dot || dot == name || !dot[1]) {
		diag_add(d, file, line, "unknown key \"%s\" (overrides are RULE.KEY = value)", name);
		return;
	}
	if (L->npend >= PENDING_MAX) {
		diag_add(d, file, line, "too many overrides");
		return;
	}
	struct pending *p = &L->pend[L->npend];
	size_t rl = (size_t)(dot - name);
	if (rl > CCONF_NAME_MAX || strlen(dot + 1) >= sizeof(p->key) || strlen(value) >= sizeof(p->value)) {
		diag_add(d, file, line, "override \"%s\": too long", name);
		return;
	}
	memcpy(p->rule, name, rl);
	p->rule[rl] = '\0';
	snprintf(p->key, sizeof(p->key), "%s", dot + 1);
	snprintf(p->value, sizeof(p->value), "%s", value);
	p->kind = kind;
	p->idx = idx;
	p->line = line;
	L->npend++;
}

static int find_or_add_group(struct collector_config *c, const char *name)
{
	for (size_t i = 0; i < c->ngroups; i++)
		if (strcmp(c->groups[i].name, name) == 0)
			return (int)i;
	if (c->ngroups >= CCONF_GROUPS_MAX)
		return -1;
	struct group_def *ng = realloc(c->groups, (c->ngroups + 1) * sizeof(*ng));
	if (!ng)
		return -1;
	c->groups = ng;
	memset(&ng[c->ngroups], 0, sizeof(ng[0]));
	snprintf(ng[c->ngroups].name, sizeof(ng[0].name), "%s", name);
	return (int)c->ngroups++;
}

static int find_or_add_ident(struct collector_config *c, const char *name)
{
	for (size_t i = 0; i < c->nidents; i++)
		if (strcmp(c->idents[i].name, name) == 0)
			return (int)i;
	if (c->nidents >= CCONF_IDENTITIES_MAX)
		return -1;
	struct identity_def *ni = realloc(c->idents, (c->nidents + 1) * sizeof(*ni));
	if (!ni)
		return -1;
	c->idents = ni;
	memset(&ni[c->nidents], 0, sizeof(ni[0]));
	snprintf(ni[c->nidents].name, sizeof(ni[0].name), "%s", name);
	return (int)c->nidents++;
}

static int find_or_add_allow(struct collector_config *c, const char *name)
{
	for (size_t i = 0; i < c->nallows; i++)
		if (strcmp(c->allows[i].name, name) == 0)
			return (int)i;
	if (c->nallows >= CCONF_ALLOWS_MAX)
		return -1;
	struct allow_def *a = &c->allows[c->nallows];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	a->name_hash = fnv64(name, strlen(name));
	return (int)c->nallows++;
}

static void allow_key(struct allow_def *a, const char *file, unsigned line, const char *name,
		      const char *value, struct diag *d)
{
	if (strcmp(name, "cidrs") == 0) {
		char buf[4096];
		snprintf(buf, sizeof(buf), "%s", value);
		char *save = NULL;
		for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
			if (a->nnets >= CCONF_CIDRS_MAX) {
				diag_add(d, file, line, "cidrs: more than %d", CCONF_CIDRS_MAX);
				return;
			}
			int rc = addr_parse_cidr(tok, &a->nets[a->nnets], &a->plen[a->nnets]);
			if (rc != 0) {
				char why[160];
				addr_cidr_explain(rc, tok, &a->nets[a->nnets], a->plen[a->nnets], why,
						  sizeof(why));
				diag_add(d, file, line, "cidrs: %s", why);
				return;
			}
			a->nnets++;
		}
		if (!a->nnets)
			diag_add(d, file, line, "cidrs: empty");
	} else if (strcmp(name, "max_bytes_per_day") == 0) {
		if (units_parse_bytes(value, &a->max_bytes_per_day) != 0)
			diag_add(d, file, line, "max_bytes_per_day: not a size (e.g. 250GB)");
	} else if (strcmp(name, "hours") == 0) {
		if (collector_config_parse_hours(value, &a->from_min, &a->to_min) != 0)
			diag_add(d, file, line, "hours: HH:MM-HH:MM (e.g. 01:00-05:00)");
		else
			a->has_hours = true;
	} else if (strcmp(name, "members") == 0) {
		parse_members(value, &a->members, &a->nmembers, file, line, d);
	} else {
		diag_add(d, file, line, "unknown key \"%s\" in [allow %s]", name, a->name);
	}
}

/* ---- [detect] and [detect PATTERN] ---- */

#define DETECT_OVERRIDES_MAX 1024
enum dk_type { DK_BYTES, DK_DOUBLE, DK_UINT };

/* The detector's rule keys: the same in [detect] and [detect PATTERN]. */
static const struct {
	const char *name;
	enum dk_type type;
	size_t off;
} detect_rule_keys[] = {
#define R(m) offsetof(struct detect_rules, m)
	{"cap_1h", DK_BYTES, R(cap[0])},
	{"cap_24h", DK_BYTES, R(cap[1])},
	{"cap_7d", DK_BYTES, R(cap[2])},
	{"burst_multiple_1h", DK_DOUBLE, R(burst_mult[0])},
	{"burst_multiple_24h", DK_DOUBLE, R(burst_mult[1])},
	{"burst_multiple_7d", DK_DOUBLE, R(burst_mult[2])},
	{"burst_spreads_1h", DK_DOUBLE, R(burst_k[0])},
	{"burst_spreads_24h", DK_DOUBLE, R(burst_k[1])},
	{"burst_spreads_7d", DK_DOUBLE, R(burst_k[2])},
	{"burst_floor_1h", DK_BYTES, R(burst_floor[0])},
	{"burst_floor_24h", DK_BYTES, R(burst_floor[1])},
	{"burst_floor_7d", DK_BYTES, R(burst_floor[2])},
	{"new_destination_bytes", DK_BYTES, R(new_id_bytes)},
	{"new_org_destination_bytes", DK_BYTES, R(new_org_bytes)},
	{"drift_k", DK_DOUBLE, R(drift_k)},
	{"drift_h", DK_DOUBLE, R(drift_h)},
	{"drift_min_spread", DK_BYTES, R(drift_min_spread)},
	{"peer_multiple", DK_DOUBLE, R(peer_mult)},
	{"peer_floor_1h", DK_BYTES, R(peer_floor[0])},
	{"peer_floor_24h", DK_BYTES, R(peer_floor[1])},
	{"fanin_bytes", DK_BYTES, R(fanin_bytes)},
	{"fanin_identities", DK_UINT, R(fanin_identities)},
#undef R
};
#define NDETECT_RULE_KEYS (sizeof(detect_rule_keys) / sizeof(detect_rule_keys[0]))

/* Sets rule key name in r; returns its index, -1 if unknown, -2 if bad (reported). */
static int detect_rule_key(struct detect_rules *r, const char *file, unsigned line, const char *name,
			   const char *value, struct diag *d)
{
	for (size_t k = 0; k < NDETECT_RULE_KEYS; k++) {
		if (strcmp(name, detect_rule_keys[k].name) != 0)
			continue;
		char *p = (char *)r + detect_rule_keys[k].off;
		uint64_t u;
		char *end;
		double v;
		switch (detect_rule_keys[k].type) {
		case DK_BYTES:
			if (units_parse_bytes(value, &u) != 0) {
				diag_add(d, file, line, "%s: a size (e.g. 2GB, 500MiB; 0 turns it off)", name);
				return -2;
			}
			memcpy(p, &u, sizeof(u));
			break;
		case DK_DOUBLE:
			v = strtod(value, &end);
			if (end == value || *end || !isfinite(v) || v < 0 || v > 1e6) {
				diag_add(d, file, line, "%s: a number 0..1000000", name);
				return -2;
			}
			memcpy(p, &v, sizeof(v));
			break;
		case DK_UINT:
			if (units_parse_uint(value, 1000000, &u) != 0) {
				diag_add(d, file, line, "%s: an integer 0..1000000", name);
				return -2;
			}
			unsigned w = (unsigned)u;
			memcpy(p, &w, sizeof(w));
			break;
		}
		return (int)k;
	}
	return -1;
}

static void detect_key(struct collector_config *c, const char *file, unsigned line, const char *name,
		       const char *value, struct diag *d)
{
	uint64_t u;
	double t;
	int b;
	struct detect_config *dc = &c->detect;
	if (detect_rule_key(&dc->rules, file, line, name, value, d) != -1)
		return;
	if (strcmp(name, "enabled") == 0) {
		if (units_parse_bool(value, &b) != 0)
			diag_add(d, file, line, "enabled: on or off");
		else
			c->detect_enabled = b;
	} else if (strcmp(name, "learning") == 0 || strcmp(name, "org_learning") == 0 ||
		   strcmp(name, "new_window") == 0 || strcmp(name, "org_new_window") == 0 ||
		   strcmp(name, "checkpoint") == 0) {
		if (units_parse_duration(value, &t) != 0 || t > 90 * 86400.0)
			diag_add(d, file, line, "%s: a duration up to 90d (e.g. 7d, 24h)", name);
		else if (name[0] == 'l')
			dc->learning_s = t;
		else if (name[0] == 'n')
			dc->new_window_s = t;
		else if (name[0] == 'c')
			c->detect_checkpoint_s = t;
		else if (strcmp(name, "org_learning") == 0)
			dc->org_learning_s = t;
		else
			dc->org_new_window_s = t;
	} else if (strcmp(name, "max_identities") == 0) {
		if (units_parse_uint(value, 10000000, &u) != 0 || u == 0)
			diag_add(d, file, line, "max_identities: an integer 1..10000000");
		else
			dc->max_identities = (size_t)u;
	} else if (strcmp(name, "known_per_identity") == 0) {
		if (units_parse_uint(value, 4096, &u) != 0 || u == 0)
			diag_add(d, file, line, "known_per_identity: an integer 1..4096");
		else
			dc->known_per_identity = (size_t)u;
	} else if (strcmp(name, "prefix_v4") == 0 || strcmp(name, "prefix_v6") == 0) {
		bool v4 = name[8] == '4';
		if (units_parse_uint(value, v4 ? 32 : 128, &u) != 0 || u == 0)
			diag_add(d, file, line, "%s: a prefix length 1..%d", name, v4 ? 32 : 128);
		else if (v4)
			dc->prefix_v4 = (unsigned)u;
		else
			dc->prefix_v6 = (unsigned)u;
	} else {
		diag_add(d, file, line, "unknown key \"%s\" in [detect]", name);
	}
}

/* [detect PATTERN]: an identity name, or a prefix ending in '*'. */
static void detect_override_key(struct collector_config *c, const char *pattern, const char *file,
				unsigned line, const char *name, const char *value, struct diag *d)
{
	size_t i;
	for (i = 0; i < c->ndetect_overrides; i++)
		if (strcmp(c->detect_overrides[i].identity, pattern) == 0)
			break;
	if (i == c->ndetect_overrides) {
		if (i == DETECT_OVERRIDES_MAX) {
			diag_add(d, file, line, "more than %d [detect PATTERN] sections", DETECT_OVERRIDES_MAX);
			return;
		}
		struct detect_override *no = realloc(c->detect_overrides, (i + 1) * sizeof(*no));
		uint32_t *ns = no ? realloc(c->detect_override_set, (i + 1) * sizeof(*ns)) : NULL;
		if (no)
			c->detect_overrides = no;
		if (!no || !ns) {
			diag_add(d, file, line, "out of memory");
			return;
		}
		c->detect_override_set = ns;
		memset(&no[i], 0, sizeof(no[i]));
		snprintf(no[i].identity, sizeof(no[i].identity), "%s", pattern);
		ns[i] = 0;
		c->ndetect_overrides++;
	}
	int k = detect_rule_key(&c->detect_overrides[i].rules, file, line, name, value, d);
	if (k == -1)
		diag_add(d, file, line, "unknown key \"%s\" in [detect %s] (rule keys only)", name, pattern);
	else if (k >= 0)
		c->detect_override_set[i] |= 1u << k;
}

static bool detect_pattern_ok(const char *p)
{
	size_t n = strlen(p);
	if (n && p[n - 1] == '*') {
		char name[IDENTITY_NAME_MAX + 1];
		if (n == 1)
			return true;
		snprintf(name, sizeof(name), "%.*s", (int)(n - 1), p);
		return report_identity_name_valid(name);
	}
	return report_identity_name_valid(p);
}

/* After the file: overrides inherit every field they do not set from
 * [detect]; the [allow] networks become the detector's allowlist. */
static void detect_resolve(struct collector_config *c, const char *file, struct diag *d)
{
	struct detect_config *dc = &c->detect;
	for (size_t i = 0; i < c->ndetect_overrides; i++) {
		struct detect_rules r = dc->rules;
		for (size_t k = 0; k < NDETECT_RULE_KEYS; k++) {
			if (!(c->detect_override_set[i] & (1u << k)))
				continue;
			size_t off = detect_rule_keys[k].off;
			size_t sz = detect_rule_keys[k].type == DK_UINT ? sizeof(unsigned) : 8;
			memcpy((char *)&r + off, (char *)&c->detect_overrides[i].rules + off, sz);
		}
		c->detect_overrides[i].rules = r;
	}
	dc->overrides = c->detect_overrides;
	dc->noverrides = c->ndetect_overrides;
	dc->nallow = 0;
	for (size_t a = 0; a < c->nallows; a++) {
		for (size_t n = 0; n < c->allows[a].nnets; n++) {
			if (dc->nallow == DETECT_MAX_ALLOW) {
				diag_add(d, file, 0, "[allow]: the detector takes at most %d networks",
					 DETECT_MAX_ALLOW);
				return;
			}
			struct detect_allow *x = &dc->allow[dc->nallow++];
			x->prefix = c->allows[a].nets[n];
			x->plen = c->allows[a].plen[n];      /* both in the 128-bit space */
			x->cap_per_day = c->allows[a].max_bytes_per_day;
		}
	}
	snprintf(dc->version, sizeof(dc->version), "%s", c->version);
	char err[256];
	if (c->detect_enabled && detect_config_check(dc, err, sizeof(err)) != 0)
		diag_add(d, file, 0, "[detect]: %s", err);
}

/* Splits "KIND NAME" (one or more spaces) into kind and *arg; false when the
 * section has no name part or its kind is too long to be one of ours. */
static bool split_section(const char *section, char kind[16], const char **arg)
{
	const char *sp = strchr(section, ' ');
	if (!sp || (size_t)(sp - section) >= 16)
		return false;
	memcpy(kind, section, (size_t)(sp - section));
	kind[sp - section] = '\0';
	*arg = sp + strspn(sp, " ");
	return true;
}

/*
 * A section header: checks it once and opens the rule, group or allowlist it
 * names (so an empty one is still judged, at this line). Returns false,
 * reported, when the section is not one of ours.
 */
static bool open_section(struct loader *L, const char *file, unsigned line, const char *section,
			 struct diag *d)
{
	struct collector_config *c = L->c;
	char kind[16];
	const char *arg;
	if (strcmp(section, "collector") == 0 || strcmp(section, "detect") == 0)
		return true;
	if (!split_section(section, kind, &arg)) {
		diag_add(d, file, line, "unknown section [%s]", section);
		return false;
	}
	if (strcmp(kind, "identity") == 0) {
		if (!report_identity_name_valid(arg)) {
			diag_add(d, file, line, "[identity %s]: not a valid identity name", arg);
			return false;
		}
		if (find_or_add_ident(c, arg) < 0) {
			diag_add(d, file, line, "more than %d [identity] sections", CCONF_IDENTITIES_MAX);
			return false;
		}
		return true;
	}
	if (strcmp(kind, "detect") == 0) {
		if (!detect_pattern_ok(arg)) {
			diag_add(d, file, line, "[detect %s]: an identity name or a prefix ending in *", arg);
			return false;
		}
		return true;
	}
	if (strcmp(kind, "rule") != 0 && strcmp(kind, "group") != 0 && strcmp(kind, "allow") != 0) {
		diag_add(d, file, line, "unknown section [%s]", section);
		return false;
	}
	if (!simple_name_ok(arg)) {
		diag_add(d, file, line, "[%s]: name must be 1..63 of [A-Za-z0-9._-]", section);
		return false;
	}
	if (kind[0] == 'r') {
		if (find_or_add_rule(L, arg, line) < 0) {
			diag_add(d, file, line, "more than %d rules", CCONF_RULES_MAX);
			return false;
		}
	} else if (kind[0] == 'g') {
		size_t had = c->ngroups;
		int g = find_or_add_group(c, arg);
		if (g < 0) {
			diag_add(d, file, line, "more than %d groups", CCONF_GROUPS_MAX);
			return false;
		}
		if ((size_t)g == had)
			L->group_line[g] = line;
	} else {
		size_t had = c->nallows;
		int a = find_or_add_allow(c, arg);
		if (a < 0) {
			diag_add(d, file, line, "more than %d allowlists", CCONF_ALLOWS_MAX);
			return false;
		}
		if ((size_t)a == had)
			L->allow_line[a] = line;
	}
	return true;
}

static void handler(void *user, const char *file, unsigned line, const char *section,
		    const char *name, const char *value, struct diag *d)
{
	struct loader *L = user;
	struct collector_config *c = L->c;
	if (!name) {
		L->section_bad = !open_section(L, file, line, section, d);
		return;
	}
	if (!*section) {
		diag_add(d, file, line, "\"%s\" outside any section", name);
		return;
	}
	if (L->section_bad)
		return;
	char kind[16];
	const char *arg = NULL;
	bool named = split_section(section, kind, &arg);
	if (check_dup(L, named ? kind : section, arg, name)) {
		diag_add(d, file, line, "\"%s\" set twice in [%s]", name, section);
		return;
	}
	if (!named) {
		if (section[0] == 'c')
			collector_key(L, file, line, name, value, d);
		else
			detect_key(c, file, line, name, value, d);
		return;
	}
	/* open_section made the entry and checked the name: these find it */
	if (strcmp(kind, "identity") == 0) {
		override_key(L, 'i', (size_t)find_or_add_ident(c, arg), file, line, name, value, d);
	} else if (strcmp(kind, "detect") == 0) {
		detect_override_key(c, arg, file, line, name, value, d);
	} else if (strcmp(kind, "rule") == 0) {
		rule_key(L, file, line, arg, name, value, d);
	} else if (strcmp(kind, "group") == 0) {
		int g = find_or_add_group(c, arg);
		if (strcmp(name, "members") == 0)
			parse_members(value, &c->groups[g].members, &c->groups[g].nmembers, file, line, d);
		else
			override_key(L, 'g', (size_t)g, file, line, name, value, d);
	} else {
		int a = find_or_add_allow(c, arg);
		L->allow_has_cidrs[a] |= strcmp(name, "cidrs") == 0;
		allow_key(&c->allows[a], file, line, name, value, d);
	}
}

static void resolve(struct loader *L, const char *file, struct diag *d)
{
	struct collector_config *c = L->c;
	for (size_t r = 0; r < c->nrules; r++) {
		struct rule_def *rd = &c->rules[r];
		if (!L->rule_has_window[r])
			diag_add(d, file, L->rule_line[r], "[rule %s]: window is required", rd->name);
		if (!rd->p.max_bytes && rd->p.baseline_multiple == 0)
			diag_add(d, file, L->rule_line[r],
				 "[rule %s]: needs max_bytes or baseline_multiple", rd->name);
	}
	for (size_t i = 0; i < L->npend; i++) {
		struct pending *p = &L->pend[i];
		int r = collector_config_rule_index(c, p->rule);
		if (r < 0) {
			diag_add(d, file, p->line, "override of unknown rule \"%s\"", p->rule);
			continue;
		}
		struct rule_override *o = p->kind == 'g' ? &c->groups[p->idx].ovr[r]
							 : &c->idents[p->idx].ovr[r];
		switch (rule_param(file, p->line, p->key, p->value, &o->p, d)) {
		case 'x': o->has_max = true; break;
		case 'n': o->has_min = true; break;
		case 'm': o->has_mult = true; break;
		case 's': o->has_sev = true; break;
		case 'e': o->has_enabled = true; break;
		default: break;
		}
	}
	for (size_t g = 0; g < c->ngroups; g++)
		if (!c->groups[g].nmembers)
			diag_add(d, file, L->group_line[g], "[group %s]: no members", c->groups[g].name);
	for (size_t a = 0; a < c->nallows; a++)
		if (!L->allow_has_cidrs[a])
			diag_add(d, file, L->allow_line[a], "[allow %s]: cidrs is required",
				 c->allows[a].name);
}

static struct collector_config *load(const char *name, const char *path, const char *text,
				     struct diag *d)
{
	struct collector_config *c = calloc(1, sizeof(*c));
	struct loader L = {.c = c};
	if (!c || !(L.pend = calloc(PENDING_MAX, sizeof(*L.pend)))) {
		diag_add(d, name, 0, "out of memory");
		free(c);
		return NULL;
	}
	snprintf(c->path, sizeof(c->path), "%s", name);
	snprintf(c->prefix, sizeof(c->prefix), "egress:");
	snprintf(c->group, sizeof(c->group), "collectors");
	snprintf(c->consumer, sizeof(c->consumer), "collector-1");
	snprintf(c->http, sizeof(c->http), "127.0.0.1:8080");
	c->http_rate = 50;
	c->http_streams_per_addr = 16;
	c->metrics_top_n = 20;
	c->seccomp = true;
	c->sensor_blind_rate = 0.01;
	c->max_identities = 50000;
	c->max_identities_per_sensor = 10000;
	c->max_sensors = CCONF_SENSORS_DEFAULT;
	c->batch = 100;
	c->claim_idle_s = 30;
	c->max_report_bytes = 16u << 20;
	c->detect_enabled = true;
	c->detect_checkpoint_s = 60;
	detect_config_default(&c->detect);
	unsigned before = d->count;

	/* The version is a hash of the bytes: the same file, the same version. */
	char *buf = NULL;
	size_t blen = 0;
	if (path) {
		FILE *f = fopen(path, "rb");
		if (f) {
			FILE *m = open_memstream(&buf, &blen);
			char tmp[4096];
			size_t got;
			while (m && (got = fread(tmp, 1, sizeof(tmp), f)) > 0)
				fwrite(tmp, 1, got, m);
			if (m)
				fclose(m);
			fclose(f);
		}
		ini_file_parse(path, handler, &L, d);
	} else {
		ini_file_parse_string(name, text, handler, &L, d);
	}
	uint64_t h = path ? fnv64(buf ? buf : "", blen) : fnv64(text, strlen(text));
	free(buf);
	snprintf(c->version, sizeof(c->version), "%016llx", (unsigned long long)h);
	resolve(&L, name, d);
	detect_resolve(c, name, d);
	if (c->nrules == 0 && !c->detect_enabled)
		diag_add(d, name, 0, "no [rule NAME] section: nothing would ever alert");
	for (size_t i = 0; i < L.nseen; i++)
		free(L.seen[i]);
	free(L.seen);
	free(L.pend);
	if (d->count != before) {
		collector_config_free(c);
		return NULL;
	}
	return c;
}

struct collector_config *collector_config_load(const char *path, struct diag *d)
{
	return load(path, path, NULL, d);
}

struct collector_config *collector_config_load_string(const char *name, const char *text,
						      struct diag *d)
{
	return load(name, NULL, text, d);
}

void collector_config_free(struct collector_config *c)
{
	if (!c)
		return;
	for (size_t g = 0; g < c->ngroups; g++)
		free(c->groups[g].members);
	for (size_t a = 0; a < c->nallows; a++)
		free(c->allows[a].members);
	free(c->groups);
	free(c->idents);
	free(c->detect_overrides);
	free(c->detect_override_set);
	memset(&c->redis, 0, sizeof(c->redis));
	free(c);
}

int collector_config_rule_index(const struct collector_config *c, const char *name)
{
	for (size_t r = 0; r < c->nrules; r++)
		if (strcmp(c->rules[r].name, name) == 0)
			return (int)r;
	return -1;
}

static bool members_match(char (*m)[IDENTITY_NAME_MAX + 1], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(m[i], name, 0) == 0)
			return true;
	return false;
}

void collector_config_match(const struct collector_config *c, const char *name, int *gi, int *ii)
{
	*gi = *ii = -1;
	for (size_t i = 0; i < c->nidents; i++)
		if (strcmp(c->idents[i].name, name) == 0) {
			*ii = (int)i;
			break;
		}
	for (size_t g = 0; g < c->ngroups; g++)
		if (members_match(c->groups[g].members, c->groups[g].nmembers, name)) {
			*gi = (int)g;
			break;
		}
}

static void apply_override(const struct rule_override *o, struct rule_params *p)
{
	if (o->has_enabled)
		p->enabled = o->p.enabled;
	if (o->has_max)
		p->max_bytes = o->p.max_bytes;
	if (o->has_mult)
		p->baseline_multiple = o->p.baseline_multiple;
	if (o->has_min)
		p->min_bytes = o->p.min_bytes;
	if (o->has_sev)
		p->severity = o->p.severity;
}

void collector_config_params(const struct collector_config *c, size_t r, int gi, int ii,
			     struct rule_params *out)
{
	*out = c->rules[r].p;
	/* Group first, then the identity's own on top: the most specific wins. */
	if (gi >= 0 && (size_t)gi < c->ngroups)
		apply_override(&c->groups[gi].ovr[r], out);
	if (ii >= 0 && (size_t)ii < c->nidents)
		apply_override(&c->idents[ii].ovr[r], out);
}

bool collector_config_allow_applies(const struct allow_def *a, const char *name)
{
	return a->nmembers == 0 || members_match(a->members, a->nmembers, name);
}

bool collector_config_allow_match(const struct allow_def *a, const ew_addr *addr)
{
	for (size_t i = 0; i < a->nnets; i++)
		if (addr_in_prefix(addr, &a->nets[i], a->plen[i]))
			return true;
	return false;
}

bool collector_config_allow_in_schedule(const struct allow_def *a, double t)
{
	if (!a->has_hours)
		return true;
	long long s = (long long)floor(t);
	unsigned m = (unsigned)(((s % 86400) + 86400) % 86400 / 60);
	if (a->from_min < a->to_min)
		return m >= a->from_min && m < a->to_min;
	return m >= a->from_min || m < a->to_min;   /* wraps past midnight */
}
