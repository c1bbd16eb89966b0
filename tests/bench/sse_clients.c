/*
 * sse_clients: the alert fan-out benchmark. Opens N stream connections to
 * 127.0.0.1:PORT (one epoll loop, no threads), waits until every one has its
 * response headers, XADDs one alert to the stream KEY on the Redis at
 * unix socket SOCK, and reads until each client has seen it; prints the time
 * from the XADD to the first and to the last client's arrival:
 *
 *   sse_clients PORT N SOCK KEY [TIMEOUT_S]
 *   -> clients 100 got 100 first_ms 0.41 last_ms 2.73
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "banned.h"

#define MAXC 10000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	char marker[64];
	snprintf(marker, sizeof(marker), "bench-%d-%ld", (int)getpid(), (long)time(NULL));
	redisContext *rc = redisConnectUnix(argv[3]);
	if (!rc || rc->err) {
		fprintf(stderr, "redis %s: %s\n", argv[3], rc ? rc->errstr : "out of memory");
		return 1;
	}
	int port = (int)strtol(argv[1], NULL, 10), n = (int)strtol(argv[2], NULL, 10);
	double timeout_ms = (argc > 5 ? strtod(argv[5], NULL) : 10) * 1e3;
	if (argc < 5 || n < 1 || n > MAXC)
		return 2;
	int ep = epoll_create1(0);
	static int fds[MAXC], headers[MAXC];
	static double got[MAXC];
	static char tail[MAXC][256];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(0x7f000001)};
	char reqs[256];
	int rl = snprintf(reqs, sizeof(reqs),
			  "GET /api/v1/alerts/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			  "Accept: text/event-stream\r\n\r\n");
	for (int i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
		    write(fds[i], reqs, (size_t)rl) != rl) {
			perror("connect");
			return 1;
		}
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
	}
	int nhdr = 0, ngot = 0;
	double t_ready = 0, start = now_ms();
	char buf[65536];
	while (ngot < n && now_ms() - start < timeout_ms) {
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 100);
		for (int e = 0; e < k; e++) {
			int i = (int)evs[e].data.u32;
			ssize_t r = read(fds[i], buf, sizeof(buf) - 1);
			if (r <= 0) {
				fprintf(stderr, "client %d closed\n", i);
				epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], NULL);
				continue;
			}
			buf[r] = '\0';
			if (!headers[i] && strstr(buf, "200 OK")) {
				headers[i] = 1;
				if (++nhdr == n) {
					char alert[128];
					snprintf(alert, sizeof(alert), "{\"id\":\"%s\"}", marker);
					t_ready = now_ms();
					redisReply *rep = redisCommand(rc, "XADD %s * alert %s", argv[4],
								     alert);
					if (!rep || rep->type == REDIS_REPLY_ERROR) {
						fprintf(stderr, "XADD failed\n");
						return 1;
					}
					freeReplyObject(rep);
				}
			}
			/* The marker may straddle two reads: keep a tail. */
			size_t tl = strlen(tail[i]);
			char joined[sizeof(tail[0]) + sizeof(buf)];
			memcpy(joined, tail[i], tl);
			memcpy(joined + tl, buf, (size_t)r + 1);
			if (!got[i] && t_ready > 0 && strstr(joined, marker)) {
				got[i] = now_ms();
				ngot++;
			}
			size_t jl = tl + (size_t)r, keep = jl < 200 ? jl : 200;
			memcpy(tail[i], joined + jl - keep, keep);
			tail[i][keep] = '\0';
		}
	}
	double first = 0, last = 0;
	for (int i = 0; i < n; i++) {
		if (!got[i])
			continue;
		double d = got[i] - t_ready;
		if (first == 0 || d < first)
			first = d;
		if (d > last)
			last = d;
	}
	printf("clients %d got %d first_ms %.2f last_ms %.2f\n", n, ngot, first, last);
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(ep);
	redisFree(rc);
	return ngot == n ? 0 : 1;
}
