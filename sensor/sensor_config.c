/*
 * sensor_config: configs/sensor.conf -> struct sensor_config.
 *
 * A table of keys, each with a parser and a place in the struct, keeps the
 * file format and the struct in one place; an unknown key is an error, so a
 * typo never silently leaves a default in force.
 */
#include <pcap/pcap.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "direction.h"
#include "ini_file.h"
#include "redis_addr.h"
#include "report.h"
#include "sensor_config.h"
#include "spool.h"
#include "units.h"
#include "banned.h"

enum kind { K_STR, K_NAME, K_REDIS, K_FILTER, K_USER, K_BOOL, K_BYTES, K_DURATION, K_POLL, K_U32, K_U64, K_PORT, K_CIDRS,
	    K_TARGETS };

struct key {
	const char *section, *name;
	enum kind kind;
	size_t off, size;
	uint64_t min, max;
};

#define F(m) offsetof(struct sensor_config, m), sizeof(((struct sensor_config *)0)->m)

static const struct key keys[] = {
	{"sensor", "id", K_NAME, F(id), 1, 0},
	{"sensor", "interface", K_STR, F(interface), 0, 0},
	{"sensor", "snaplen", K_U32, F(snaplen), 64, 262144},
	{"sensor", "buffer_size", K_BYTES, F(buffer_size), 1 << 20, 1ull << 34},
	{"sensor", "filter", K_FILTER, F(filter), 0, 0},
	{"sensor", "exclude_redis", K_BOOL, F(exclude_redis), 0, 0},
	{"sensor", "internal", K_CIDRS, F(internal), 0, 0},
	{"sensor", "flush_interval", K_DURATION, F(flush_interval), 1, 86400},
	{"sensor", "identities", K_STR, F(identities), 0, 0},
	{"sensor", "user", K_USER, F(user), 0, 0},
	{"sensor", "chroot", K_STR, F(chroot_dir), 0, 0},
	{"sensor", "seccomp", K_BOOL, F(seccomp), 0, 0},
	{"sensor", "libpcap_reader", K_BOOL, F(libpcap_reader), 0, 0},
	{"limits", "max_identities", K_U32, F(limits.max_identities), 16, 10000000},
	{"limits", "max_pairs", K_U32, F(limits.max_pairs), 16, 100000000},
	{"limits", "max_flows", K_U32, F(limits.max_flows), 16, 100000000},
	{"limits", "top_destinations", K_U32, F(limits.top_n), 1, 1000},
	{"decode", "vxlan", K_BOOL, F(decode.vxlan), 0, 0},
	{"decode", "geneve", K_BOOL, F(decode.geneve), 0, 0},
	{"decode", "vxlan_port", K_PORT, F(decode.vxlan_port), 1, 65535},
	{"decode", "geneve_port", K_PORT, F(decode.geneve_port), 1, 65535},
	{"decode", "mirror_targets", K_TARGETS, F(decode), 0, 0},
	{"redis", "address", K_REDIS, F(redis), 1, 0},
	{"redis", "credentials_file", K_STR, F(credentials_file), 0, 0},
	{"redis", "prefix", K_STR, F(prefix), 1, 0},
	{"redis", "spool_dir", K_STR, F(spool_dir), 1, 0},
	{"redis", "spool_max", K_BYTES, F(spool_max), 1 << 20, 1ull << 42},
	{"redis", "queue_max", K_U64, F(queue_max), 1, 100000},
	{"redis", "heartbeat", K_DURATION, F(heartbeat), 1, 3600},
	{"redis", "identity_map_poll", K_POLL, F(identity_map_poll), 1, 86400},
	{"redis", "stream_maxlen", K_U64, F(stream_maxlen), 0, 1ull << 32},
	/* A report must fit one spool record, or it could never wait for Redis. */
	{"redis", "max_report_bytes", K_BYTES, F(max_report_bytes), 1 << 16, SPOOL_RECORD_MAX},
};

void sensor_config_defaults(struct sensor_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "sensor");
	c->snaplen = 256;
	c->buffer_size = 64u << 20;
	c->exclude_redis = true;
	snprintf(c->internal, sizeof(c->internal), "%s", DIRECTION_DEFAULT_INTERNAL);
	c->flush_interval = 10;
	snprintf(c->user, sizeof(c->user), "nobody");
	c->seccomp = true;
	c->limits = (struct agg_limits){.max_identities = 100000, .max_pairs = 1000000,
					.max_flows = 1000000, .top_n = 10};
	snprintf(c->redis, sizeof(c->redis), "127.0.0.1:6379");
	snprintf(c->prefix, sizeof(c->prefix), "egress:");
	snprintf(c->spool_dir, sizeof(c->spool_dir), "/var/lib/egresswatch/spool");
	c->spool_max = 1ull << 30;
	c->queue_max = 64;
	c->heartbeat = 5;
	c->identity_map_poll = 10;
	c->max_report_bytes = 16u << 20;
	c->stream_maxlen = 1000000;
}

/* What the sensor would fail on at start, checked here so --check-config
 * names the line: a filter libpcap cannot compile (for Ethernet, the usual
 * capture link), a user this machine does not have, a bad Redis address. */
static int check_value(const struct key *k, const char *v, char *err, size_t n)
{
	switch (k->kind) {
	case K_FILTER: {
		if (!*v)
			return 0;
		pcap_t *p = pcap_open_dead(DLT_EN10MB, 262144);
		struct bpf_program prog;
		int rc = p ? pcap_compile(p, &prog, v, 1, PCAP_NETMASK_UNKNOWN) : -1;
		if (rc == 0)
			pcap_freecode(&prog);
		else
			snprintf(err, n, "%s", p ? pcap_geterr(p) : "out of memory");
		if (p)
			pcap_close(p);
		return rc == 0 ? 0 : -1;
	}
	case K_USER:
		if (*v && !getpwnam(v)) {
			snprintf(err, n, "no user \"%s\" on this machine", v);
			return -1;
		}
		return 0;
	case K_REDIS: {
		struct redis_addr a = {0};
		return redis_addr_parse(v, &a, err, n);
	}
	default:
		return 0;
	}
}

static int set_value(struct sensor_config *c, const struct key *k, const char *v, char *err, size_t n)
{
	void *dst = (char *)c + k->off;
	uint64_t u;
	double secs;
	int b;
	switch (k->kind) {
	case K_STR:
	case K_FILTER:
	case K_USER:
	case K_REDIS:
		if (strlen(v) >= k->size) {
			snprintf(err, n, "value too long (at most %zu bytes)", k->size - 1);
			return -1;
		}
		if (k->min && !*v) {
			snprintf(err, n, "must not be empty");
			return -1;
		}
		if (check_value(k, v, err, n))
			return -1;
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	case K_NAME:
		if (strlen(v) >= k->size || !report_identity_name_valid(v)) {
			snprintf(err, n, "\"%s\" is not a valid name (1-%zu bytes, no spaces, quotes "
				 "or control characters)", v, k->size - 1);
			return -1;
		}
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	case K_CIDRS: {
		struct prefix_table *t;
		if (strlen(v) >= k->size) {
			snprintf(err, n, "value too long");
			return -1;
		}
		if (direction_parse_internal(v, &t, err, n))
			return -1;
		prefix_table_free(t);
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	}
	case K_TARGETS: {
		struct decode_opts o = *(struct decode_opts *)dst;
		if (decode_parse_targets(v, &o, err, n))
			return -1;
		if (!o.ntargets) {
			snprintf(err, n, "name at least one address or CIDR");
			return -1;
		}
		*(struct decode_opts *)dst = o;
		return 0;
	}
	case K_BOOL:
		if (units_parse_bool(v, &b)) {
			snprintf(err, n, "expected on or off, got \"%s\"", v);
			return -1;
		}
		*(bool *)dst = b;
		return 0;
	case K_BYTES:
		if (units_parse_bytes(v, &u) || u < k->min || u > k->max) {
			snprintf(err, n, "expected a size between %llu and %llu bytes (e.g. 64MiB), got \"%s\"",
				 (unsigned long long)k->min, (unsigned long long)k->max, v);
			return -1;
		}
		*(uint64_t *)dst = u;
		return 0;
	case K_DURATION:
	case K_POLL: /* a duration, or 0 for off */
		if (units_parse_duration(v, &secs) ||
		    (secs < (double)k->min && !(k->kind == K_POLL && secs == 0)) ||
		    secs > (double)k->max) {
			if (k->kind == K_POLL) {
				snprintf(err, n, "expected 0 (off) or a duration between %llus and "
					 "%llus, got \"%s\"", (unsigned long long)k->min,
					 (unsigned long long)k->max, v);
				return -1;
			}
			snprintf(err, n, "expected a duration between %llus and %llus (e.g. 10s), got \"%s\"",
				 (unsigned long long)k->min, (unsigned long long)k->max, v);
			return -1;
		}
		*(double *)dst = secs;
		return 0;
	case K_U32:
	case K_U64:
	case K_PORT:
		if (units_parse_uint(v, k->max, &u) || u < k->min) {
			snprintf(err, n, "expected a whole number from %llu to %llu, got \"%s\"",
				 (unsigned long long)k->min, (unsigned long long)k->max, v);
			return -1;
		}
		if (k->kind == K_U32)
			*(uint32_t *)dst = (uint32_t)u;
		else if (k->kind == K_PORT)
			*(uint16_t *)dst = (uint16_t)u;
		else
			*(uint64_t *)dst = u;
		return 0;
	}
	return -1;
}

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct loader {
	struct sensor_config *c;
	unsigned line_of[NKEYS];        /* where each key was set, 0: not yet */
	bool section_ok;                /* the current section is one of ours */
};

static bool section_known(const char *section)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

static void on_key(void *user, const char *file, unsigned line, const char *section,
		   const char *name, const char *value, struct diag *d)
{
	struct loader *L = user;
	if (!name) { /* a section header: reported once here, its keys stay quiet */
		L->section_ok = section_known(section);
		if (!L->section_ok)
			diag_add(d, file, line, "unknown section [%s]", section);
		return;
	}
	if (!*section) {
		diag_add(d, file, line, "\"%s\" outside any section", name);
		return;
	}
	if (!L->section_ok)
		return;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (strcmp(k->section, section) != 0 || strcmp(k->name, name) != 0)
			continue;
		if (L->line_of[i]) {
			diag_add(d, file, line, "[%s] %s: set twice (first at line %u)", section, name,
				 L->line_of[i]);
			return;
		}
		L->line_of[i] = line;
		char err[200];
		if (set_value(L->c, k, value, err, sizeof(err)))
			diag_add(d, file, line, "[%s] %s: %s", section, name, err);
		return;
	}
	diag_add(d, file, line, "unknown key \"%s\" in [%s]", name, section);
}

static unsigned line_of(const struct loader *L, const char *section, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, name) == 0)
			return L->line_of[i];
	return 0;
}

int sensor_config_load(struct sensor_config *c, const char *path, struct diag *d)
{
	struct loader L = {.c = c};
	int rc = ini_file_parse(path, on_key, &L, d);
	const struct decode_opts *o = &c->decode;
	if ((o->vxlan || o->geneve) && !o->ntargets && !line_of(&L, "decode", "mirror_targets")) {
		const char *k = o->vxlan ? "vxlan" : "geneve";
		diag_add(d, path, line_of(&L, "decode", k),
			 "[decode] %s: needs mirror_targets, the addresses the mirror session sends "
			 "to (this sensor's): only UDP to them is opened", k);
		rc = -1;
	}
	return rc;
}
