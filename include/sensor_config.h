/*
 * sensor_config: the sensor's settings, from configs/sensor.conf and the
 * command line.
 *
 * sensor_config_defaults() gives a working configuration for a capture file;
 * sensor_config_load() overlays a file, reporting every problem (unknown
 * section or key, bad value) to a diag list as FILE:LINE.
 */
#ifndef EW_SENSOR_CONFIG_H
#define EW_SENSOR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "agg.h"
#include "decode.h"
#include "diag.h"

#define SENSOR_PATH_MAX 1024

struct sensor_config {
	/* [sensor] */
	char id[65];
	char interface[64];
	uint32_t snaplen;               /* live capture; sizes come from IP headers */
	uint64_t buffer_size;           /* kernel capture buffer, bytes */
	char filter[1024];              /* BPF, ANDed with the Redis exclusion */
	bool exclude_redis;             /* keep our own Redis traffic out of the counts */
	char internal[4096];            /* comma-separated CIDRs */
	double flush_interval;          /* seconds of capture clock */
	char identities[SENSOR_PATH_MAX]; /* identity map file, may be empty */
	char user[64];                  /* drop privileges to this user */
	char chroot_dir[SENSOR_PATH_MAX];
	bool seccomp;
	bool libpcap_reader;            /* -r: libpcap reads every record (savefile.h) */
	/* [limits] */
	struct agg_limits limits;
	/* [decode] */
	struct decode_opts decode;
	/* [redis] */
	char redis[512];
	char credentials_file[SENSOR_PATH_MAX];
	char prefix[64];
	char spool_dir[SENSOR_PATH_MAX];
	uint64_t spool_max;
	uint64_t queue_max;
	double heartbeat;
	double identity_map_poll;
	uint64_t stream_maxlen;
	uint64_t max_report_bytes;     /* report_fit() budget; the collector's max_report_bytes */
};

void sensor_config_defaults(struct sensor_config *c);

/* Overlays path onto c. Returns 0, or -1 when d got any problem. */
int sensor_config_load(struct sensor_config *c, const char *path, struct diag *d);

#endif
