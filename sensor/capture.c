/*
 * capture: libpcap handles for files and live interfaces (see capture.h).
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "capture.h"
#include "banned.h"

pcap_t *capture_open_file(const char *path, char *buf, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	/* Before the first read, as setvbuf requires. */
	if (setvbuf(f, buf, _IOFBF, CAPTURE_FILE_BUF) != 0) {
		snprintf(err, errlen, "%s: cannot set its read buffer", path);
		goto out_close;
	}
	pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (p)
		return p;
	snprintf(err, errlen, "%s: %s", path, ebuf);
out_close:
	if (!is_stdin)
		fclose(f);
	return NULL;
}

int capture_filter_expr(const char *user, const struct redis_addr *exclude, char *buf, size_t n)
{
	bool has_user = user && *user;
	bool has_excl = exclude && !exclude->path[0] && exclude->host[0];
	int w;
	if (has_user && has_excl)
		w = snprintf(buf, n, "(%s) and not (host %s and tcp port %d)", user, exclude->host, exclude->port);
	else if (has_excl)
		w = snprintf(buf, n, "not (host %s and tcp port %d)", exclude->host, exclude->port);
	else
		w = snprintf(buf, n, "%s", has_user ? user : "");
	return w < 0 || (size_t)w >= n ? -1 : 0;
}

pcap_t *capture_open_live(const struct capture_live_opts *o, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	char expr[2048];
	struct bpf_program prog;
	pcap_t *p = pcap_create(o->iface, ebuf);
	if (!p) {
		snprintf(err, errlen, "%s: %s", o->iface, ebuf);
		return NULL;
	}
	pcap_set_snaplen(p, (int)o->snaplen);
	pcap_set_promisc(p, o->promisc);
	pcap_set_timeout(p, 100);
	pcap_set_buffer_size(p, (int)(o->buffer_size > 0x7fffffff ? 0x7fffffff : o->buffer_size));
	pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO);
	int rc = pcap_activate(p);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", o->iface, pcap_geterr(p));
		goto out_close;
	}
	if (capture_filter_expr(o->filter, o->exclude, expr, sizeof(expr))) {
		snprintf(err, errlen, "capture filter too long");
		goto out_close;
	}
	if (expr[0]) {
		if (pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, errlen, "filter \"%s\": %s", expr, pcap_geterr(p));
			goto out_close;
		}
		rc = pcap_setfilter(p, &prog);
		pcap_freecode(&prog);
		if (rc < 0) {
			snprintf(err, errlen, "filter: %s", pcap_geterr(p));
			goto out_close;
		}
	}
	if (pcap_setnonblock(p, 1, ebuf) < 0) {
		snprintf(err, errlen, "%s: %s", o->iface, ebuf);
		goto out_close;
	}
	return p;

out_close:
	pcap_close(p);
	return NULL;
}
