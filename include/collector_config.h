/*
 * collector_config: egress-collector's config file (configs/collector.conf).
 *
 * Owned by the collector. An INI file read through ini_file (so every
 * problem is reported as FILE:LINE: message, and unknown keys are errors):
 *
 *   [collector]        redis, redis_credentials, prefix, group, consumer,
 *                      alerts_file, http, max_identities,
 *                      max_identities_per_sensor, max_sensors, batch, claim_idle,
 *                      max_report_bytes
 *   [rule NAME]        window, max_bytes, baseline_multiple, min_bytes,
 *                      severity, enabled
 *   [group NAME]       members (names or glob patterns, comma separated) and
 *                      overrides "RULE.KEY = value" (KEY: max_bytes,
 *                      baseline_multiple, min_bytes, severity, enabled)
 *   [identity NAME]    the same overrides for one identity
 *   [allow NAME]       cidrs, max_bytes_per_day, hours (HH:MM-HH:MM, UTC on
 *                      the capture clock), members (default: everyone)
 *
 * An identity's rule parameters: the rule's own, overlaid by the first
 * [group] (in file order) it is a member of, overlaid by its [identity]
 * section: each key comes from the most specific place that sets it.
 * A loaded config is immutable; a reload builds a new one.
 */
#ifndef EW_COLLECTOR_CONFIG_H
#define EW_COLLECTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "diag.h"
#include "detect.h"
#include "redis_addr.h"
#include "report.h"

#define CCONF_SENSORS_DEFAULT 4096      /* [collector] max_sensors */
#define CCONF_SENSORS_LIMIT 65536       /* its largest: the engine finds sensors by a linear search */
#define CCONF_RULES_MAX 16
#define CCONF_GROUPS_MAX 64
#define CCONF_IDENTITIES_MAX 4096
#define CCONF_ALLOWS_MAX 16
#define CCONF_CIDRS_MAX 64
#define CCONF_MEMBERS_MAX 64
#define CCONF_NAME_MAX 63

enum severity { SEV_LOW, SEV_MEDIUM, SEV_HIGH, SEV_CRITICAL };

/* "low", "medium", "high", "critical". */
const char *collector_config_severity_name(enum severity s);

/* The limits of one rule for one identity. 0 in max_bytes/baseline_multiple
 * means "not used". */
struct rule_params {
	bool enabled;
	uint64_t max_bytes;             /* absolute cap on the window's bytes */
	double baseline_multiple;       /* limit = max(min_bytes, multiple x baseline) */
	uint64_t min_bytes;             /* floor of the baseline-relative limit */
	enum severity severity;
};

struct rule_def {
	char name[CCONF_NAME_MAX + 1];
	double window_s;                /* 60 s .. 2 h in minutes, or whole hours up to 7 d */
	struct rule_params p;
};

/* Which fields an override sets. */
struct rule_override {
	bool has_enabled, has_max, has_mult, has_min, has_sev;
	struct rule_params p;
};

struct group_def {
	char name[CCONF_NAME_MAX + 1];
	char (*members)[IDENTITY_NAME_MAX + 1];
	size_t nmembers;
	struct rule_override ovr[CCONF_RULES_MAX];
};

struct identity_def {
	char name[IDENTITY_NAME_MAX + 1];
	struct rule_override ovr[CCONF_RULES_MAX];
};

struct allow_def {
	char name[CCONF_NAME_MAX + 1];
	uint64_t name_hash;             /* stable key for per-identity daily usage */
	ew_addr nets[CCONF_CIDRS_MAX];
	unsigned plen[CCONF_CIDRS_MAX];
	size_t nnets;
	uint64_t max_bytes_per_day;     /* 0: no cap */
	bool has_hours;
	unsigned from_min, to_min;      /* minutes after 00:00 UTC; wraps when to < from */
	char (*members)[IDENTITY_NAME_MAX + 1];  /* NULL/0: everyone */
	size_t nmembers;
};

struct collector_config {
	char path[4096];
	char version[17];               /* hex hash of the file's bytes */
	struct redis_addr redis;
	bool has_redis;
	char prefix[64];
	char group[64], consumer[64];
	char alerts_file[4096];
	char http[256];                 /* "off" or a listen address */
	char http_token_file[4096];     /* "": no token */
	char http_cors_origin[256];     /* "": no CORS headers */
	double http_rate;               /* requests/s per client; 0: unlimited */
	size_t metrics_top_n;           /* per-identity series in /metrics */
	size_t http_streams_per_addr;   /* alert stream clients per client address */
	bool seccomp;                   /* load the system call allowlist */
	double sensor_blind_rate;       /* packets lost per report that raise sensor-blind; 0 off */
	size_t max_identities;
	/* New identities one sensor may create; above max_identities it is
	 * the global cap that binds first. */
	size_t max_identities_per_sensor;
	/* Sensor names the collector tracks; reports of new names past it are
	 * dead-lettered (counted). Never evicted: a sensor's seq is its dedupe. */
	size_t max_sensors;             /* 1..CCONF_SENSORS_LIMIT */
	size_t batch;
	/* Seconds an entry stays pending on another consumer before a running
	 * collector claims it (at start it claims them all). */
	double claim_idle_s;
	size_t max_report_bytes;
	struct rule_def rules[CCONF_RULES_MAX];
	size_t nrules;
	struct group_def *groups;
	size_t ngroups;
	struct identity_def *idents;
	size_t nidents;
	struct allow_def allows[CCONF_ALLOWS_MAX];
	size_t nallows;
	/* [detect] and [detect PATTERN]: the learned detector (detect.h). Its
	 * allowlist is built from the [allow] sections (networks and daily
	 * caps); its version is the file's. */
	bool detect_enabled;
	double detect_checkpoint_s;     /* wall seconds between detector saves */
	struct detect_config detect;    /* .overrides points into detect_overrides */
	struct detect_override *detect_overrides;
	uint32_t *detect_override_set;  /* which rule fields each override sets */
	size_t ndetect_overrides;
};

/*
 * Loads path. Returns a config to free with collector_config_free, or NULL
 * with every problem in d (FILE:LINE: message).
 */
struct collector_config *collector_config_load(const char *path, struct diag *d);

/* The same over text (name is used in messages); for tests and the fuzzer. */
struct collector_config *collector_config_load_string(const char *name, const char *text,
						      struct diag *d);

void collector_config_free(struct collector_config *c);

/* Index of the rule named name, or -1. */
int collector_config_rule_index(const struct collector_config *c, const char *name);

/*
 * Where name's parameters come from: *gi the group index or -1, *ii the
 * identity override index or -1. Cheap to use after: callers cache these.
 */
void collector_config_match(const struct collector_config *c, const char *name, int *gi, int *ii);

/* Rule r's effective parameters given a match from collector_config_match. */
void collector_config_params(const struct collector_config *c, size_t r, int gi, int ii,
			     struct rule_params *out);

/* True if allowlist a applies to identity name (its members, or everyone). */
bool collector_config_allow_applies(const struct allow_def *a, const char *name);

/* True if addr is in one of a's networks. */
bool collector_config_allow_match(const struct allow_def *a, const ew_addr *addr);

/* True if time t (UNIX seconds) falls in a's schedule (or it has none). */
bool collector_config_allow_in_schedule(const struct allow_def *a, double t);

/* Parses "HH:MM-HH:MM" into minutes. Returns 0 or -1. */
int collector_config_parse_hours(const char *s, unsigned *from_min, unsigned *to_min);

#endif
