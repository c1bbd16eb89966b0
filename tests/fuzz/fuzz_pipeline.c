/*
 * fuzz_pipeline: libFuzzer target for the per-packet path as a whole
 * (pipeline -> agg -> interval reports), held against a model.
 *
 * Input: an 8-byte header, then 8-byte events.
 *   header  [0] max_identities 1-8, [1] max_pairs 1-16, [2] max_flows 1-32,
 *           [3] top_n 0-3 (bits 0-1), identities named by a map (bit 7),
 *           [4] flush interval 0 (one interval), 1 or 10 s,
 *           [5..7] the first timestamp: 2025 plus up to 194 days, or (when
 *           [5] is 255) the last representable nanoseconds.
 *   event   [0] bit 0 IPv6, bit 1 an undecodable frame, bit 2 UDP (else
 *           TCP), bit 3 no frame: pipeline_advance() to the time, bit 4 a
 *           read of the tables (pipeline_agg) after it, bit 5 a new
 *           identity map (either of two) for the next interval;
 *           [1] source, [2] destination: bit 7 internal (10.0.0.x,
 *           fd00::x), else external (192.0.2.x, 2001:db8::x), x the low 7
 *           bits; [3] [4] ports; [5..6] IP length (raised to the headers');
 *           [7] the clock's step: 0-127 that many 10 ms ahead, 128-191
 *           that many seconds, 192-254 that many 10 ms back (a late frame),
 *           255 about 50 days ahead (a silent stretch).
 *
 * The tables are tiny, so identities, pairs and flows overflow. The model
 * replays the interval clock and attributes every packet itself: to the
 * identity of its internal end (named by the map in force, else its
 * address), the first max_identities identities of an interval in their
 * own rows and the rest in the overflow bucket. Every report must hold, to
 * the byte, the model's rows (bytes and packets out, in and lateral per
 * identity), frames seen and undecoded, and span; the totals read
 * mid-interval must equal the model's; each identity's destinations are
 * at most top_n and their bytes at most its own. Any difference aborts.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/dlt.h>

#include "direction.h"
#include "fuzz.h"
#include "pipeline.h"
#include "banned.h"

#define EVENT 8
#define MAX_EVENTS 1024
#define MAX_IDS 8
#define QUEUE 4 /* reports the model may expect ahead of the pipeline: 2 an event */
#define NS PIPELINE_NS_PER_S

struct row {
	char name[INET6_ADDRSTRLEN];
	struct agg_counter by_dir[3]; /* out, in, lateral */
};

struct tally {
	uint64_t start, end;            /* the span, as the pipeline's clock has it */
	uint64_t seen, undecoded;
	struct row rows[MAX_IDS];
	unsigned nrows;
	struct row overflow;
	int has_overflow;
};

struct run {
	struct agg_limits lim;
	uint64_t interval;
	int map, next_map;              /* the map in force (-1: none) and the one set */
	/* the model's clock and interval */
	int started;
	uint64_t start, end;
	struct tally cur;
	/* reports expected and not yet seen */
	struct tally queue[QUEUE];
	unsigned head, len;
};

/* The map's name for an internal address's last byte x, or NULL. Map 0:
 * 10.0.0.0/26 web, 10.0.0.64/27 and 10.0.0.96/32 db, fd00::/124 web; map
 * 1: 10.0.0.0/25 batch with 10.0.0.8/29 web inside it, fd00::/120 db. */
static const char *const maps[2] = {
    "10.0.0.0/26 web\n10.0.0.64/27 db\n10.0.0.96/32 db\nfd00::/124 web\n",
    "10.0.0.0/25 batch\n10.0.0.8/29 web\nfd00::/120 db\n",
};

static const char *model_name(int map, int v6, unsigned x)
{
	if (map == 0)
		return v6 ? (x < 16 ? "web" : NULL) : x < 64 ? "web" : x <= 96 ? "db" : NULL;
	if (map == 1)
		return v6 ? "db" : x >= 8 && x < 16 ? "web" : "batch";
	return NULL;
}

static struct identity_map *new_map(int which)
{
	static struct diag d;
	struct identity_map *m = identity_map_new();
	if (m && identity_map_load_buffer(m, "fuzz", maps[which], strlen(maps[which]), &d))
		abort();
	return m;
}

static void put_addr(uint8_t *p, int v6, uint8_t who)
{
	uint8_t x = who & 0x7f;
	if (v6) {
		memset(p, 0, 16);
		if (who & 0x80)
			p[0] = 0xfd;
		else
			p[0] = 0x20, p[1] = 0x01, p[2] = 0x0d, p[3] = 0xb8;
		p[15] = x;
	} else if (who & 0x80) {
		p[0] = 10, p[1] = 0, p[2] = 0, p[3] = x;
	} else {
		p[0] = 192, p[1] = 0, p[2] = 2, p[3] = x;
	}
}

/* Counts a packet of direction dir (0 out, 1 in, 2 lateral) whose identity
 * is the internal address who, as the model attributes it. */
static void model_count(struct run *m, int v6, uint8_t who, int dir, uint32_t bytes)
{
	char name[INET6_ADDRSTRLEN];
	const char *n = model_name(m->map, v6, who & 0x7fu);
	if (!n) {
		uint8_t a[16];
		put_addr(a, v6, who);
		n = inet_ntop(v6 ? AF_INET6 : AF_INET, a, name, sizeof(name));
		if (!n)
			abort();
	}
	struct tally *t = &m->cur;
	struct row *r = NULL;
	for (unsigned i = 0; i < t->nrows && !r; i++)
		if (!strcmp(t->rows[i].name, n))
			r = &t->rows[i];
	if (!r && t->nrows < m->lim.max_identities) {
		r = &t->rows[t->nrows++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", n);
	}
	if (!r) {
		r = &t->overflow;
		t->has_overflow = 1;
	}
	r->by_dir[dir].packets++;
	r->by_dir[dir].bytes += bytes;
}

/* The interval ends at end: its report is expected, and a map set during
 * it takes over. */
static void expect(struct run *m, uint64_t end)
{
	if (m->len == QUEUE)
		abort();
	m->cur.start = m->start;
	m->cur.end = end;
	m->queue[(m->head + m->len++) % QUEUE] = m->cur;
	memset(&m->cur, 0, sizeof(m->cur));
	m->map = m->next_map;
}

/* The interval clock as pipeline.h promises it: intervals [k iv, (k+1) iv)
 * of the capture clock, a silent stretch covered by one empty report, a
 * late frame counted in the interval in progress. */
static void model_clock(struct run *m, uint64_t t)
{
	uint64_t iv = m->interval;
	if (!m->started) {
		m->started = 1;
		m->start = iv ? t - t % iv : t;
		m->end = iv ? (m->start < UINT64_MAX - iv ? m->start + iv : UINT64_MAX) : UINT64_MAX;
		return;
	}
	if (t < m->end)
		return;
	expect(m, m->end);
	uint64_t next = t - t % iv;
	if (next > m->end) {
		m->start = m->end;
		expect(m, next);
	}
	m->start = next;
	m->end = next < UINT64_MAX - iv ? next + iv : UINT64_MAX;
}

static int same(const struct agg_counter *a, const struct agg_counter *b)
{
	return a->packets == b->packets && a->bytes == b->bytes;
}

static int same_row(const struct report_identity *id, const struct row *r)
{
	const struct agg_counter got[3] = {{id->out_packets, id->out_bytes},
					   {id->in_packets, id->in_bytes},
					   {id->lateral_packets, id->lateral_bytes}};
	for (int d = 0; d < 3; d++)
		if (!same(&got[d], &r->by_dir[d]))
			return 0;
	return 1;
}

static void on_flush(void *ctx, struct report *r)
{
	struct run *m = ctx;
	if (m->len == 0)
		abort(); /* a report the model did not expect */
	const struct tally *w = &m->queue[m->head];
	m->head = (m->head + 1) % QUEUE, m->len--;
	if (r->nids != w->nrows + (unsigned)w->has_overflow)
		abort();
	for (size_t i = 0; i < r->nids; i++) {
		const struct report_identity *id = &r->ids[i];
		const struct row *want = NULL;
		if (!strcmp(id->name, "~overflow"))
			want = w->has_overflow ? &w->overflow : NULL;
		for (unsigned j = 0; j < w->nrows && !want; j++)
			if (!strcmp(w->rows[j].name, id->name))
				want = &w->rows[j];
		if (!want || !same_row(id, want) || id->ndests > m->lim.top_n)
			abort();
		uint64_t dest_bytes = 0;
		for (size_t d = 0; d < id->ndests; d++)
			dest_bytes += id->dests[d].bytes;
		if (dest_bytes > id->out_bytes)
			abort();
		for (size_t j = 0; j < i; j++)
			if (!strcmp(r->ids[j].name, id->name))
				abort();
	}
	if (r->stats.packets_seen != w->seen || r->stats.packets_undecoded != w->undecoded ||
	    r->start != pipeline_seconds(w->start) || r->end != pipeline_seconds(w->end))
		abort();
}

/* The totals of the interval in progress, by direction, as the model has them. */
static void model_totals(const struct tally *t, struct agg_counter sum[3])
{
	memset(sum, 0, 3 * sizeof(*sum));
	for (unsigned i = 0; i <= t->nrows; i++) {
		const struct row *r = i < t->nrows ? &t->rows[i] : &t->overflow;
		for (int d = 0; d < 3; d++)
			sum[d].packets += r->by_dir[d].packets, sum[d].bytes += r->by_dir[d].bytes;
	}
}

/* An Ethernet frame of the event's packet, its headers only (as a
 * header-only capture holds it); *len is its length on the wire. */
static size_t frame(uint8_t *f, const uint8_t *e, uint32_t *len, uint32_t *ip_len)
{
	int v6 = e[0] & 1, udp = (e[0] >> 2) & 1;
	uint32_t ip_hdr = v6 ? 40 : 20, l4 = udp ? 8 : 20;
	uint32_t n = (uint32_t)e[5] << 8 | e[6];
	if (n < ip_hdr + l4)
		n = ip_hdr + l4;
	memset(f, 0, 14 + 40 + 20);
	f[12] = v6 ? 0x86 : 0x08, f[13] = v6 ? 0xdd : 0x00;
	uint8_t *ip = f + 14, *t = ip + ip_hdr;
	if (v6) {
		ip[0] = 0x60;
		ip[4] = (uint8_t)((n - 40) >> 8), ip[5] = (uint8_t)(n - 40);
		ip[6] = udp ? 17 : 6;
		ip[7] = 64;
		put_addr(ip + 8, 1, e[1]);
		put_addr(ip + 24, 1, e[2]);
	} else {
		ip[0] = 0x45;
		ip[2] = (uint8_t)(n >> 8), ip[3] = (uint8_t)n;
		ip[8] = 64;
		ip[9] = udp ? 17 : 6;
		put_addr(ip + 12, 0, e[1]);
		put_addr(ip + 16, 0, e[2]);
	}
	t[0] = 0x80, t[1] = e[3];       /* source port 32768 + e[3] */
	t[2] = 0x01, t[3] = e[4];       /* destination port 256 + e[4] */
	if (!udp)
		t[12] = 0x50;           /* TCP data offset: 20 bytes */
	if (e[0] & 2)
		ip[0] = 0x35;           /* IP version 3: undecodable */
	*len = 14 + n;
	*ip_len = n;
	return 14 + ip_hdr + l4;
}

static uint64_t step(uint64_t t, uint8_t s)
{
	uint64_t d;
	if (s < 128) {
		d = s * (NS / 100);
	} else if (s < 192) {
		d = (uint64_t)(s - 128) * NS;
	} else if (s < 255) {
		d = (uint64_t)(s - 191) * (NS / 100); /* back: a late frame */
		return t > d ? t - d : 0;
	} else {
		d = 50 * 86400 * NS;
	}
	return t < UINT64_MAX - 1 - d ? t + d : UINT64_MAX - 1;
}

/* One event: the model first, then the pipeline. */
static void event(struct run *m, struct pipeline *pl, const uint8_t *e, uint64_t t, size_t k)
{
	if (e[0] & 8) {
		if (m->started && m->interval)
			model_clock(m, t);
		pipeline_advance(pl, t);
	} else {
		uint8_t f[14 + 40 + 20];
		uint32_t len, ip_len;
		size_t caplen = frame(f, e, &len, &ip_len);
		model_clock(m, t);
		m->cur.seen++;
		int v6 = e[0] & 1, src_in = e[1] >> 7, dst_in = e[2] >> 7;
		if (e[0] & 2)
			m->cur.undecoded++;
		else if (src_in) /* out, or lateral: the source's */
			model_count(m, v6, e[1], dst_in ? 2 : 0, ip_len);
		else if (dst_in)
			model_count(m, v6, e[2], 1, ip_len);
		pipeline_packet(pl, DLT_EN10MB, t, f, (uint32_t)caplen, len);
	}
	if (e[0] & 32) {
		m->next_map = (int)(k % 2);
		pipeline_set_identity_map(pl, new_map(m->next_map));
	}
	if (e[0] & 16) {
		const struct agg_totals *tt = agg_totals(pipeline_agg(pl));
		struct agg_counter sum[3];
		model_totals(&m->cur, sum);
		if (!same(&tt->egress, &sum[0]) || !same(&tt->ingress, &sum[1]) ||
		    !same(&tt->lateral, &sum[2]))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < EVENT || size > EVENT * (MAX_EVENTS + 1))
		return 0;
	static struct run m;
	memset(&m, 0, sizeof(m));
	m.lim = (struct agg_limits){1 + data[0] % MAX_IDS, 1 + data[1] % 16u, 1 + data[2] % 32u,
				    data[3] & 3u};
	m.map = m.next_map = data[3] & 0x80 ? 0 : -1;
	static const uint64_t intervals[] = {0, 1, 10};
	m.interval = intervals[data[4] % 3] * NS;
	uint64_t t = data[5] == 255 ? UINT64_MAX - 1 - 86400 * NS
				    : (UINT64_C(1735689600) + ((uint64_t)data[5] << 16 | (uint64_t)data[6] << 8 | data[7])) * NS;

	struct prefix_table *internal;
	char err[128];
	if (direction_parse_internal("10.0.0.0/8,fd00::/8", &internal, err, sizeof(err)))
		abort();
	struct pipeline_params pp;
	memset(&pp, 0, sizeof(pp));
	pp.limits = m.lim;
	pp.flush_interval = (double)(m.interval / NS);
	const struct hash_key key = {0x0123456789abcdefULL, 0xfedcba9876543210ULL};
	struct pipeline *pl =
	    pipeline_new(&pp, internal, m.map == 0 ? new_map(0) : NULL, &key, on_flush, &m);
	if (!pl)
		return 0; /* out of memory: nothing to check */

	uint64_t frames = 0;
	for (size_t off = EVENT; off + EVENT <= size; off += EVENT) {
		t = step(t, data[off + 7]);
		event(&m, pl, data + off, t, off / EVENT);
		frames += !(data[off] & 8);
	}
	if (m.started)
		expect(&m, m.interval ? m.end : m.start);
	pipeline_finish(pl);
	if (m.len != 0 || pipeline_stats(pl)->packets_seen != frames)
		abort();
	pipeline_free(pl);
	return 0;
}
