/*
 * collector_http: the HTTP API hook (collector_http.h).
 *
 * A placeholder until the HTTP API is wired in: it serves nothing and says
 * so once, so "--http ADDR" is accepted today and "--http off" is silent.
 */
#include <stdio.h>
#include <stdlib.h>

#include "collector_http.h"
#include "banned.h"

struct collector_http {
	const struct collector_view *view;
};

struct collector_http *collector_http_start(struct event_base *base, const char *listen,
					    const struct collector_view *view, char *err,
					    size_t errlen)
{
	(void)base;
	(void)err;
	(void)errlen;
	struct collector_http *h = calloc(1, sizeof(*h));
	if (h)
		h->view = view;
	fprintf(stderr, "egress-collector: http %s: the HTTP API is not built in yet; not serving\n",
		listen);
	return h;
}

void collector_http_stop(struct collector_http *h)
{
	free(h);
}
