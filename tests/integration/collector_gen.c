/*
 * collector_gen: writes synthetic sensor reports for the collector's tests
 * and benchmark, as JSON lines on stdout or straight into a Redis stream.
 *
 *   collector_gen [--redis ADDR --prefix P] --sensor S --first-seq N --count K
 *                 --ids M --start T --interval SEC --bytes B [--dests D]
 *                 [--burst NAME:FROM_SEQ:BYTES] [--dup-every N]
 *
 * Identity i ("host-<i>") sends B x (1 + i % 5) bytes per report to D
 * destinations; --burst adds identity NAME sending BYTES per report from
 * seq FROM_SEQ on; --dup-every N writes every Nth report twice. Figures are
 * deterministic, so two runs give identical streams.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "redis_addr.h"
#include "report.h"
#include "banned.h"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"redis", required_argument, NULL, 'r'}, {"prefix", required_argument, NULL, 'p'},
		{"sensor", required_argument, NULL, 's'}, {"first-seq", required_argument, NULL, 'f'},
		{"count", required_argument, NULL, 'n'}, {"ids", required_argument, NULL, 'm'},
		{"start", required_argument, NULL, 't'}, {"interval", required_argument, NULL, 'i'},
		{"bytes", required_argument, NULL, 'b'}, {"dests", required_argument, NULL, 'd'},
		{"burst", required_argument, NULL, 'B'}, {"dup-every", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	const char *redis = NULL, *prefix = "egress:", *sensor = "gw-test-1", *burst = NULL;
	unsigned long long first = 1, count = 10, ids = 5, bytes = 1000, dests = 2, dup = 0;
	double start = 1742380800.0, interval = 10;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r': redis = optarg; break;
		case 'p': prefix = optarg; break;
		case 's': sensor = optarg; break;
		case 'f': first = strtoull(optarg, NULL, 10); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'm': ids = strtoull(optarg, NULL, 10); break;
		case 't': start = strtod(optarg, NULL); break;
		case 'i': interval = strtod(optarg, NULL); break;
		case 'b': bytes = strtoull(optarg, NULL, 10); break;
		case 'd': dests = strtoull(optarg, NULL, 10); break;
		case 'B': burst = optarg; break;
		case 'D': dup = strtoull(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	char bname[IDENTITY_NAME_MAX + 1] = "";
	unsigned long long bfrom = 0, bbytes = 0;
	if (burst && sscanf(burst, "%128[^:]:%llu:%llu", bname, &bfrom, &bbytes) != 3) {
		fprintf(stderr, "--burst NAME:FROM_SEQ:BYTES\n");
		return 2;
	}
	redisContext *c = NULL;
	if (redis) {
		struct redis_addr a;
		char err[256];
		memset(&a, 0, sizeof(a));
		if (redis_addr_parse(redis, &a, err, sizeof(err)) != 0) {
			fprintf(stderr, "--redis: %s\n", err);
			return 2;
		}
		c = a.path[0] ? redisConnectUnix(a.path) : redisConnect(a.host, a.port);
		if (!c || c->err) {
			fprintf(stderr, "redis: %s\n", c ? c->errstr : "oom");
			return 1;
		}
	}
	char key[128];
	snprintf(key, sizeof(key), "%sreports", prefix);
	struct report r;
	memset(&r, 0, sizeof(r));
	snprintf(r.sensor, sizeof(r.sensor), "%s", sensor);
	size_t nids = (size_t)ids + (burst ? 1 : 0);
	r.ids = calloc(nids ? nids : 1, sizeof(*r.ids));
	struct report_dest *dv = calloc((dests ? dests : 1) * (ids ? ids : 1), sizeof(*dv));
	if (!r.ids || !dv)
		return 1;
	for (unsigned long long j = 0; j < dests * ids; j++) {
		uint8_t v4[4] = {198, 51, 100, (uint8_t)(1 + j % dests)};
		addr_from_v4(&dv[j].addr, v4);
		dv[j].port = 443;
		dv[j].proto = 6;
	}
	size_t pending = 0;
	for (unsigned long long k = 0; k < count; k++) {
		r.seq = first + k;
		r.start = start + (double)(r.seq - 1) * interval;
		r.end = r.start + interval;
		r.nids = 0;
		for (unsigned long long i = 0; i < ids; i++) {
			struct report_identity *id = &r.ids[r.nids++];
			memset(id, 0, sizeof(*id));
			snprintf(id->name, sizeof(id->name), "host-%llu", i);
			id->out_bytes = bytes * (1 + i % 5);
			id->out_packets = id->out_bytes / 1000 + 1;
			id->in_bytes = id->out_bytes / 10;
			id->in_packets = id->out_packets / 2 + 1;
			id->flows = 1 + i % 3;
			id->has_flows = true;
			id->dests = dv + i * dests;
			id->ndests = (size_t)dests;
			for (size_t j = 0; j < dests; j++) {
				id->dests[j].bytes = id->out_bytes / dests;
				id->dests[j].packets = id->out_packets / dests;
			}
		}
		if (burst && r.seq >= bfrom) {
			struct report_identity *id = &r.ids[r.nids++];
			memset(id, 0, sizeof(*id));
			snprintf(id->name, sizeof(id->name), "%s", bname);
			id->out_bytes = bbytes;
			id->out_packets = bbytes / 1400 + 1;
		}
		r.stats.packets_seen = 1000 + r.seq;
		char *json = report_to_json(&r);
		if (!json)
			return 1;
		for (int rep = 0; rep < ((dup && r.seq % dup == 0) ? 2 : 1); rep++) {
			if (c) {
				redisAppendCommand(c, "XADD %s * report %s", key, json);
				pending++;
			} else {
				puts(json);
			}
		}
		free(json);
		while (c && pending > 64) {
			redisReply *rep;
			if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
				fprintf(stderr, "redis: %s\n", c->errstr);
				return 1;
			}
			freeReplyObject(rep);
			pending--;
		}
	}
	while (c && pending) {
		redisReply *rep;
		if (redisGetReply(c, (void **)&rep) != REDIS_OK) {
			fprintf(stderr, "redis: %s\n", c->errstr);
			return 1;
		}
		freeReplyObject(rep);
		pending--;
	}
	for (size_t i = 0; i < r.nids; i++)
		r.ids[i].dests = NULL;
	free(dv);
	report_release(&r);
	redisFree(c);
	return 0;
}
