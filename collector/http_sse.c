/*
 * http_sse: server-sent events from the Redis stream PREFIX "alerts"
 * (include/http_sse.h has the model).
 *
 * Invariants:
 *  - The ring holds the most recent entries the feed has read, in stream
 *    order, and is complete from its oldest entry on: every stream entry
 *    newer than ring[oldest] is in the ring or not yet read by the feed.
 *  - A live client has been sent every entry up to c->last and is sent an
 *    entry only if its id is greater, so catch-up, ring and live fan-out
 *    never duplicate and never skip.
 *  - Only a live client receives the fan-out. A resuming client is pending
 *    (its Redis catch-up is in flight) or paced (its output holds half the
 *    cap; it continues from c->last, from Redis or the ring, once the
 *    output drains), so a replay of any length reaches a reading client
 *    without passing the cap, and costs at most one catch-up chunk of
 *    formatting per drain.
 *  - A stream client has nothing to say after its request: bytes it sends
 *    are not read past a small watermark, and the client is dropped.
 * Redis being away is never fatal: the feed reconnects once a second and
 * continues XREAD from the last id it saw.
 */
#include <linux/tcp.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "http_sse.h"
#include "banned.h"

#define FEED_COUNT 512          /* entries per XREAD */
#define FEED_BLOCK_MS 5000
#define CATCHUP_COUNT 200      /* entries per catch-up XREAD (re-read after a pause) */
#define ID_STR_MAX 48
#define INPUT_WM 512            /* bytes read from a stream client before reading stops */
#define STALL_BEATS 2           /* heartbeats without progress before a drop */

enum client_state { C_LIVE, C_PENDING, C_PACED };

struct ring_entry {
	struct http_sse_id id;
	char ids[ID_STR_MAX];
	char *data;
	size_t len;
};

struct client {
	struct http_sse *s;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct http_sse_id last;        /* every entry up to here has been queued */
	uint64_t serial;
	size_t replayed;
	enum client_state state;
	bool to_ring;           /* after a gap: resume from the ring's oldest entry */
	bool bad_input, wake;   /* reap / pump it at the next turn of the loop */
	char addr[64];
	uint64_t queued;        /* bytes ever queued to it */
	uint64_t mark;          /* progress at the last heartbeat */
	int strikes;            /* heartbeats in a row without progress */
	bool have_mark;
	struct evbuffer_cb_entry *in_cb, *out_cb;
	void (*prev_closecb)(struct evhttp_connection *, void *);
	void *prev_closearg;
	struct client *prev, *next;
};

struct http_sse {
	struct event_base *base;
	struct redis_addr redis;
	char key[128];
	size_t max_clients, max_per_addr, backlog, ring_cap, replay_max, buf_max;
	double heartbeat_s;

	redisAsyncContext *feed, *query;
	bool feed_up, query_up, have_last, closing;
	struct http_sse_id last;
	char last_s[ID_STR_MAX];

	struct ring_entry *ring;
	size_t ring_head, ring_n;       /* head: index of the oldest */

	struct client *clients;
	size_t nclients;
	uint64_t next_serial;

	struct event *reconnect_ev, *heartbeat_ev, *pump_ev, *reap_ev;
	struct evbuffer *frame, *scratch;

	uint64_t connects, refused, refused_addr, dropped_slow, dropped_input, dropped_stalled;
	uint64_t events_sent, redis_errors, replay_gaps;
};

static void feed_connect(struct http_sse *s);
static void query_connect(struct http_sse *s);

/* ---- ids and framing (pure) ---- */

static int parse_u64(const char *p, const char *end, uint64_t *out)
{
	if (p == end || end - p > 20)
		return -1;
	uint64_t v = 0;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int http_sse_id_parse(const char *s, struct http_sse_id *out)
{
	if (!s)
		return -1;
	const char *dash = strchr(s, '-');
	const char *end = s + strlen(s);
	struct http_sse_id id = {0, 0};
	if (parse_u64(s, dash ? dash : end, &id.ms) != 0)
		return -1;
	if (dash && parse_u64(dash + 1, end, &id.seq) != 0)
		return -1;
	*out = id;
	return 0;
}

int http_sse_id_cmp(const struct http_sse_id *a, const struct http_sse_id *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

int http_sse_format(struct evbuffer *out, const char *id, const char *data, size_t len)
{
	int rc = 0;
	if (id)
		rc |= evbuffer_add_printf(out, "id: %s\n", id) < 0;
	size_t i = 0;
	do {
		size_t j = i;
		while (j < len && data[j] != '\n' && data[j] != '\r')
			j++;
		rc |= evbuffer_add(out, "data: ", 6);
		rc |= evbuffer_add(out, data + i, j - i);
		rc |= evbuffer_add(out, "\n", 1);
		if (j < len && data[j] == '\r' && j + 1 < len && data[j + 1] == '\n')
			j++;
		i = j + 1;
	} while (i < len);
	rc |= evbuffer_add(out, "\n", 1);
	return rc ? -1 : 0;
}

/* ---- stream entries ---- */

/*
 * One XRANGE/XREAD entry: [id, [field, value, ...]]. The alert is the value
 * of field "alert" (the collector's), else the first field's value.
 */
static bool entry_parse(const redisReply *e, struct http_sse_id *id, const char **ids,
			const char **data, size_t *len)
{
	if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2)
		return false;
	const redisReply *ri = e->element[0], *f = e->element[1];
	if (ri->type != REDIS_REPLY_STRING || ri->len >= ID_STR_MAX ||
	    http_sse_id_parse(ri->str, id) != 0)
		return false;
	if (f->type != REDIS_REPLY_ARRAY || f->elements < 2 || f->elements % 2)
		return false;
	const redisReply *v = f->element[1];
	for (size_t i = 0; i + 1 < f->elements; i += 2) {
		const redisReply *k = f->element[i];
		if (k->type == REDIS_REPLY_STRING && strcmp(k->str, "alert") == 0) {
			v = f->element[i + 1];
			break;
		}
	}
	if (v->type != REDIS_REPLY_STRING)
		return false;
	*ids = ri->str;
	*data = v->str;
	*len = v->len;
	return true;
}

/* The entries of an XREAD reply on one key: [[key, [entry, ...]]], or NULL. */
static const redisReply *xread_entries(const redisReply *r)
{
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1)
		return NULL;
	const redisReply *k = r->element[0];
	if (k->type != REDIS_REPLY_ARRAY || k->elements != 2 ||
	    k->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	return k->element[1];
}

static struct ring_entry *ring_at(struct http_sse *s, size_t i)
{
	return &s->ring[(s->ring_head + i) % s->ring_cap];
}

static void ring_push(struct http_sse *s, const struct http_sse_id *id, const char *ids,
		      const char *data, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, data, len);
	copy[len] = '\0';
	struct ring_entry *e;
	if (s->ring_n == s->ring_cap) {
		e = ring_at(s, 0);
		free(e->data);
		s->ring_head = (s->ring_head + 1) % s->ring_cap;
		s->ring_n--;
	}
	e = ring_at(s, s->ring_n++);
	e->id = *id;
	snprintf(e->ids, sizeof(e->ids), "%s", ids);
	e->data = copy;
	e->len = len;
}

/* ---- clients ---- */

static struct bufferevent *client_bev(const struct client *c)
{
	return evhttp_connection_get_bufferevent(c->evcon);
}

static size_t client_out_len(const struct client *c)
{
	struct bufferevent *bev = client_bev(c);
	return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

static void client_unlink(struct client *c)
{
	struct http_sse *s = c->s;
	struct bufferevent *bev = client_bev(c);
	if (bev && c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->in_cb);
	if (bev && c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(bev), c->out_cb);
	c->in_cb = c->out_cb = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->nclients--;
}

/*
 * Closes the connection (which frees the request) and forgets the client.
 * The connection's owner gets its close callback back, so it sees the close.
 */
static void client_drop(struct client *c)
{
	struct evhttp_connection *evcon = c->evcon;
	client_unlink(c);
	evhttp_connection_set_closecb(evcon, c->prev_closecb, c->prev_closearg);
	free(c);
	evhttp_connection_free(evcon);
}

static void on_client_close(struct evhttp_connection *evcon, void *arg)
{
	struct client *c = arg;
	void (*cb)(struct evhttp_connection *, void *) = c->prev_closecb;
	void *cbarg = c->prev_closearg;
	client_unlink(c);
	/* On a client's EOF evhttp detaches an unfinished request from its
	 * connection and leaves it to us: ending it frees it. */
	if (evhttp_request_get_connection(c->req) == NULL)
		evhttp_send_reply_end(c->req);
	free(c);
	if (cb)
		cb(evcon, cbarg);
}

/* Queues bytes to c; false (and c is gone) if c's backlog passed the cap. */
static bool client_write(struct client *c, const void *p, size_t n)
{
	struct http_sse *s = c->s;
	if (client_out_len(c) + n > s->buf_max) {
		s->dropped_slow++;
		client_drop(c);
		return false;
	}
	evbuffer_add(s->scratch, p, n);
	evhttp_send_reply_chunk(c->req, s->scratch);
	evbuffer_drain(s->scratch, evbuffer_get_length(s->scratch));
	c->queued += n;
	return true;
}

/* Room for more replay: the output holds less than half the cap. */
static bool client_room(const struct client *c)
{
	return client_out_len(c) < c->s->buf_max / 2;
}

/* Sends e to c if c has not had it. False if c was dropped. */
static bool client_send_entry(struct client *c, const struct ring_entry *e)
{
	struct http_sse *s = c->s;
	if (http_sse_id_cmp(&e->id, &c->last) <= 0)
		return true;
	evbuffer_drain(s->frame, evbuffer_get_length(s->frame));
	http_sse_format(s->frame, e->ids, e->data, e->len);
	size_t n = evbuffer_get_length(s->frame);
	if (!client_write(c, evbuffer_pullup(s->frame, -1), n))
		return false;
	c->last = e->id;
	c->to_ring = false;
	s->events_sent++;
	return true;
}

static void catchup_send(struct client *c);

/*
 * Moves a resuming client on from c->last: the ring's entries while the
 * output has room (live once they are all queued), or a Redis catch-up when
 * the ring no longer reaches back to c->last. Paced when the output is full.
 */
static void client_advance(struct client *c)
{
	struct http_sse *s = c->s;
	bool covers = c->to_ring ||
		      (s->ring_n > 0 && http_sse_id_cmp(&c->last, &ring_at(s, 0)->id) >= 0) ||
		      (s->ring_n == 0 && s->have_last && http_sse_id_cmp(&c->last, &s->last) >= 0);
	if (!covers) {
		if (s->query_up && c->replayed < s->replay_max) {
			c->state = C_PENDING;
			catchup_send(c);
			return;
		}
		s->replay_gaps++;
		c->to_ring = true;
	}
	for (size_t i = 0; i < s->ring_n; i++) {
		const struct ring_entry *e = ring_at(s, i);
		if (http_sse_id_cmp(&e->id, &c->last) <= 0)
			continue;
		if (!client_room(c)) {
			c->state = C_PACED;
			return;
		}
		if (!client_send_entry(c, e))
			return;
	}
	c->state = C_LIVE;
	c->to_ring = false;
}

static struct client *client_by_serial(struct http_sse *s, uint64_t serial)
{
	for (struct client *c = s->clients; c; c = c->next)
		if (c->serial == serial)
			return c;
	return NULL;
}

static void on_catchup(redisAsyncContext *ac, void *reply, void *priv)
{
	(void)ac;
	struct http_sse *s = ac->data;
	if (!s || s->closing)
		return;
	struct client *c = client_by_serial(s, (uint64_t)(uintptr_t)priv);
	if (!c)
		return;
	const redisReply *r = reply;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		s->replay_gaps++;
		c->to_ring = true;
		client_advance(c);
		return;
	}
	const redisReply *ents = xread_entries(r);
	size_t n = ents ? ents->elements : 0;
	for (size_t i = 0; i < n; i++) {
		struct ring_entry e;
		const char *ids;
		if (!entry_parse(ents->element[i], &e.id, &ids, (const char **)&e.data, &e.len))
			continue;
		if (!client_room(c)) {
			/* The rest is read again from c->last once the output drains. */
			c->state = C_PACED;
			return;
		}
		snprintf(e.ids, sizeof(e.ids), "%s", ids);
		if (!client_send_entry(c, &e))
			return;
		c->replayed++;
	}
	/* A short read reached the stream's end: the ring holds the rest. */
	if (n < CATCHUP_COUNT)
		c->to_ring = true;
	client_advance(c);
}

static void catchup_send(struct client *c)
{
	struct http_sse *s = c->s;
	char ids[ID_STR_MAX];
	snprintf(ids, sizeof(ids), "%llu-%llu", (unsigned long long)c->last.ms,
		 (unsigned long long)c->last.seq);
	if (redisAsyncCommand(s->query, on_catchup, (void *)(uintptr_t)c->serial,
			      "XREAD COUNT %d STREAMS %s %s", CATCHUP_COUNT, s->key,
			      ids) != REDIS_OK) {
		s->replay_gaps++;
		c->to_ring = true;
		client_advance(c);
	}
}

/* Bytes from a stream client: it is dropped at the next turn of the loop
 * (not from inside the bufferevent's read). */
static void on_client_input(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	(void)b;
	struct client *c = arg;
	if (info->n_added > 0 && !c->bad_input) {
		c->bad_input = true;
		event_active(c->s->reap_ev, EV_TIMEOUT, 1);
	}
}

/* A paced client's output drained below half the cap: continue it. */
static void on_client_output(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct client *c = arg;
	if (c->state == C_PACED && info->n_deleted > 0 && !c->wake &&
	    evbuffer_get_length(b) < c->s->buf_max / 2) {
		c->wake = true;
		event_active(c->s->pump_ev, EV_TIMEOUT, 1);
	}
}

static void on_pump(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_sse *s = arg;
	struct client *next;
	for (struct client *c = s->clients; c; c = next) {
		next = c->next;
		if (!c->wake)
			continue;
		c->wake = false;
		if (c->state == C_PACED)
			client_advance(c);
	}
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_sse *s = arg;
	struct client *next;
	for (struct client *c = s->clients; c; c = next) {
		next = c->next;
		if (c->bad_input) {
			s->dropped_input++;
			client_drop(c);
		}
	}
}

int http_sse_accept(struct http_sse *s, struct evhttp_request *req, const char *last_event_id,
		    void (*closecb)(struct evhttp_connection *, void *), void *closearg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *host = NULL;
	ev_uint16_t port = 0;
	evhttp_connection_get_peer(evcon, &host, &port);
	if (s->nclients >= s->max_clients) {
		s->refused++;
		return -1;
	}
	size_t same = 0;
	for (struct client *o = s->clients; o; o = o->next)
		same += host && strcmp(o->addr, host) == 0;
	if (same >= s->max_per_addr) {
		s->refused_addr++;
		return -1;
	}
	struct client *c = calloc(1, sizeof(*c));
	if (!c) {
		s->refused++;
		return -1;
	}
	c->s = s;
	c->req = req;
	c->evcon = evcon;
	c->serial = ++s->next_serial;
	c->prev_closecb = closecb;
	c->prev_closearg = closearg;
	snprintf(c->addr, sizeof(c->addr), "%s", host ? host : "?");
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	s->nclients++;
	s->connects++;

	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	evhttp_add_header(oh, "Content-Type", "text/event-stream");
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Accel-Buffering", "no");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_connection_set_closecb(c->evcon, on_client_close, c);
	/* A stream client sends nothing after its request: no read timeout,
	 * and reading stops at a small watermark (evhttp keeps EV_READ on to
	 * see a close), so a client that uploads cannot grow our memory; it is
	 * dropped. The write timeout is a backstop behind the heartbeat's
	 * stall check, which counts what it drops. */
	struct bufferevent *bev = client_bev(c);
	if (bev) {
		struct timeval wt = {(time_t)(3 * s->heartbeat_s) + 10, 0};
		bufferevent_set_timeouts(bev, NULL, &wt);
		bufferevent_setwatermark(bev, EV_READ, 0, INPUT_WM);
		struct evbuffer *in = bufferevent_get_input(bev);
		c->in_cb = evbuffer_add_cb(in, on_client_input, c);
		c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), on_client_output, c);
		if (evbuffer_get_length(in) > 0) {
			/* Pipelined after the request. */
			c->bad_input = true;
			event_active(s->reap_ev, EV_TIMEOUT, 1);
		}
	}

	static const char hello[] = "retry: 2000\n: egresswatch alert stream\n\n";
	if (!client_write(c, hello, sizeof(hello) - 1))
		return 0;

	struct http_sse_id from;
	if (last_event_id && *last_event_id && http_sse_id_parse(last_event_id, &from) == 0) {
		c->last = from;
		client_advance(c);
		return 0;
	}
	/* A new client: the last few alerts for context, then live ones. */
	size_t first = s->ring_n > s->backlog ? s->ring_n - s->backlog : 0;
	if (first > 0)
		c->last = ring_at(s, first - 1)->id;
	else
		c->to_ring = true;
	client_advance(c);
	return 0;
}

/* ---- the feed ---- */

static void fanout(struct http_sse *s, const struct ring_entry *e)
{
	struct client *next;
	for (struct client *c = s->clients; c; c = next) {
		next = c->next;
		if (c->state == C_LIVE)
			client_send_entry(c, e);
	}
}

static void feed_read(struct http_sse *s);

static void on_feed_read(redisAsyncContext *ac, void *reply, void *priv)
{
	struct http_sse *s = priv;
	const redisReply *r = reply;
	if (!r || s->closing)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		s->redis_errors++;
		redisAsyncDisconnect(ac);
		return;
	}
	const redisReply *ents = xread_entries(r);
	for (size_t i = 0; ents && i < ents->elements; i++) {
		struct http_sse_id id;
		const char *ids, *data;
		size_t len;
		if (!entry_parse(ents->element[i], &id, &ids, &data, &len))
			continue;
		if (s->have_last && http_sse_id_cmp(&id, &s->last) <= 0)
			continue;
		ring_push(s, &id, ids, data, len);
		s->last = id;
		s->have_last = true;
		snprintf(s->last_s, sizeof(s->last_s), "%s", ids);
		fanout(s, ring_at(s, s->ring_n - 1));
	}
	feed_read(s);
}

static void feed_read(struct http_sse *s)
{
	if (redisAsyncCommand(s->feed, on_feed_read, s, "XREAD COUNT %d BLOCK %d STREAMS %s %s",
			      FEED_COUNT, FEED_BLOCK_MS, s->key, s->last_s) != REDIS_OK)
		s->redis_errors++;
}

/* The first reply: the newest ring_cap entries, newest first. */
static void on_feed_init(redisAsyncContext *ac, void *reply, void *priv)
{
	struct http_sse *s = priv;
	const redisReply *r = reply;
	if (!r || s->closing)
		return;
	if (r->type != REDIS_REPLY_ARRAY) {
		s->redis_errors++;
		redisAsyncDisconnect(ac);
		return;
	}
	for (size_t i = r->elements; i-- > 0;) {
		struct http_sse_id id;
		const char *ids, *data;
		size_t len;
		if (!entry_parse(r->element[i], &id, &ids, &data, &len))
			continue;
		ring_push(s, &id, ids, data, len);
		s->last = id;
		snprintf(s->last_s, sizeof(s->last_s), "%s", ids);
	}
	s->have_last = true;
	feed_read(s);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct http_sse *s = ac->data;
	bool feed = ac == s->feed;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		s->redis_errors++;
		if (feed)
			s->feed = NULL;
		else
			s->query = NULL;
		return;
	}
	if (feed)
		s->feed_up = true;
	else
		s->query_up = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct http_sse *s = ac->data;
	if (s->closing)
		return;
	if (status != REDIS_OK)
		s->redis_errors++;
	if (ac == s->feed) {
		s->feed = NULL;
		s->feed_up = false;
	} else {
		s->query = NULL;
		s->query_up = false;
	}
}

static redisAsyncContext *connect_one(struct http_sse *s)
{
	redisAsyncContext *ac = s->redis.path[0] ? redisAsyncConnectUnix(s->redis.path)
						 : redisAsyncConnect(s->redis.host, s->redis.port);
	if (!ac)
		return NULL;
	if (ac->err) {
		s->redis_errors++;
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = s;
	redisLibeventAttach(ac, s->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (s->redis.password[0]) {
		if (s->redis.user[0])
			redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", s->redis.user,
					  s->redis.password);
		else
			redisAsyncCommand(ac, NULL, NULL, "AUTH %s", s->redis.password);
	}
	return ac;
}

static void feed_connect(struct http_sse *s)
{
	s->feed = connect_one(s);
	if (!s->feed)
		return;
	/* Commands queue until the connection is up. Continue from the last
	 * id seen, so a Redis restart loses nothing for live clients. */
	if (s->have_last)
		feed_read(s);
	else
		if (redisAsyncCommand(s->feed, on_feed_init, s, "XREVRANGE %s + - COUNT %d",
				      s->key, (int)s->ring_cap) != REDIS_OK)
			s->redis_errors++;
}

static void query_connect(struct http_sse *s)
{
	s->query = connect_one(s);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_sse *s = arg;
	if (!s->feed)
		feed_connect(s);
	if (!s->query)
		query_connect(s);
}

/*
 * True when c had bytes waiting (in our buffer or the kernel's send queue)
 * and the peer took none of them since the last heartbeat, STALL_BEATS
 * times in a row. The kernel's buffers absorb a client that never reads
 * for a long time, so libevent's write timeout alone never fires; what the
 * peer acknowledged (TCP_INFO; SIOCOUTQ is not in the seccomp allow list)
 * tells whether it reads at all.
 */
static bool client_stalled(struct client *c)
{
	struct bufferevent *bev = client_bev(c);
	if (!bev)
		return false;
	size_t out = client_out_len(c);
	uint64_t waiting = out, progress = c->queued - out;
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd >= 0 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 &&
	    tl >= offsetof(struct tcp_info, tcpi_notsent_bytes) + sizeof(ti.tcpi_notsent_bytes)) {
		waiting += ti.tcpi_notsent_bytes + ti.tcpi_unacked;
		progress = ti.tcpi_bytes_acked;
	}
	if (waiting > 0 && c->have_mark && progress == c->mark)
		c->strikes++;
	else
		c->strikes = 0;
	c->mark = progress;
	c->have_mark = true;
	return c->strikes >= STALL_BEATS;
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct http_sse *s = arg;
	static const char hb[] = ": heartbeat\n\n";
	struct client *next;
	for (struct client *c = s->clients; c; c = next) {
		next = c->next;
		if (client_stalled(c)) {
			s->dropped_stalled++;
			client_drop(c);
			continue;
		}
		client_write(c, hb, sizeof(hb) - 1);
	}
}

struct http_sse *http_sse_new(struct event_base *base, const struct http_api_config *cfg,
			      char *err, size_t errlen)
{
	struct http_sse *s = calloc(1, sizeof(*s));
	if (!s)
		goto out_oom;
	s->base = base;
	s->redis = cfg->redis;
	snprintf(s->key, sizeof(s->key), "%salerts", cfg->prefix);
	s->max_clients = cfg->sse_max_clients ? cfg->sse_max_clients : 256;
	s->max_per_addr = cfg->sse_max_per_addr ? cfg->sse_max_per_addr : 16;
	s->ring_cap = cfg->sse_ring ? cfg->sse_ring : 1024;
	if (s->ring_cap > 1000000)
		s->ring_cap = 1000000;
	s->backlog = cfg->sse_backlog < s->ring_cap ? cfg->sse_backlog : s->ring_cap;
	s->replay_max = cfg->sse_replay_max ? cfg->sse_replay_max : 10000;
	s->buf_max = cfg->sse_client_buf_max ? cfg->sse_client_buf_max : 1 << 20;
	s->heartbeat_s = cfg->sse_heartbeat_s > 0 ? cfg->sse_heartbeat_s : 15;
	snprintf(s->last_s, sizeof(s->last_s), "0-0");
	s->ring = calloc(s->ring_cap, sizeof(*s->ring));
	s->frame = evbuffer_new();
	s->scratch = evbuffer_new();
	s->reconnect_ev = event_new(base, -1, EV_PERSIST, on_tick, s);
	s->heartbeat_ev = event_new(base, -1, EV_PERSIST, on_heartbeat, s);
	s->pump_ev = event_new(base, -1, 0, on_pump, s);
	s->reap_ev = event_new(base, -1, 0, on_reap, s);
	if (!s->ring || !s->frame || !s->scratch || !s->reconnect_ev || !s->heartbeat_ev ||
	    !s->pump_ev || !s->reap_ev) {
		http_sse_free(s);
		goto out_oom;
	}
	struct timeval one = {1, 0};
	struct timeval hb = {(time_t)s->heartbeat_s,
			     (suseconds_t)((s->heartbeat_s - (double)(time_t)s->heartbeat_s) * 1e6)};
	event_add(s->reconnect_ev, &one);
	event_add(s->heartbeat_ev, &hb);
	feed_connect(s);
	query_connect(s);
	return s;
out_oom:
	snprintf(err, errlen, "alert stream: out of memory");
	return NULL;
}

void http_sse_free(struct http_sse *s)
{
	if (!s)
		return;
	s->closing = true;
	if (s->feed)
		redisAsyncFree(s->feed);
	if (s->query)
		redisAsyncFree(s->query);
	while (s->clients)
		client_drop(s->clients);
	if (s->reconnect_ev)
		event_free(s->reconnect_ev);
	if (s->heartbeat_ev)
		event_free(s->heartbeat_ev);
	if (s->pump_ev)
		event_free(s->pump_ev);
	if (s->reap_ev)
		event_free(s->reap_ev);
	if (s->frame)
		evbuffer_free(s->frame);
	if (s->scratch)
		evbuffer_free(s->scratch);
	for (size_t i = 0; s->ring && i < s->ring_n; i++)
		free(ring_at(s, i)->data);
	free(s->ring);
	free(s);
}

void http_sse_get_stats(const struct http_sse *s, struct http_api_stats *st)
{
	st->sse_clients = s->nclients;
	st->sse_connects = s->connects;
	st->sse_refused = s->refused;
	st->sse_refused_addr = s->refused_addr;
	st->sse_dropped_slow = s->dropped_slow;
	st->sse_dropped_input = s->dropped_input;
	st->sse_dropped_stalled = s->dropped_stalled;
	st->sse_events_sent = s->events_sent;
	st->sse_redis_errors = s->redis_errors;
	st->sse_replay_gaps = s->replay_gaps;
	st->sse_redis_connected = s->feed_up;
}
