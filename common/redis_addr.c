/*
 * redis_addr: parses where Redis is ("host:port", "[v6]:port", "unix:/path")
 * and reads its credentials from a file (see redis_addr.h).
 *
 * The password never leaves struct redis_addr: no error message, log line or
 * redis_addr_str() result contains it, and the read buffer is wiped. A
 * credentials file that group or others can read is still used (refusing
 * would take a sensor down over a chmod), but reported as a warning.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redis_addr.h"
#include "banned.h"

#define REDIS_DEFAULT_PORT 6379
#define CRED_FILE_MAX 4096

static int parse_port(const char *s, int *port)
{
	if (!*s)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

/* Host names and address literals: letters, digits, '.', '-', '_' (and ':'
 * and '%' inside brackets); nothing a log line or a shell would mangle. */
static int host_valid(const char *h, size_t len, int v6)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];
		if (isalnum(c) || c == '.' || c == '-' || c == '_')
			continue;
		if (v6 && (c == ':' || c == '%'))
			continue;
		return 0;
	}
	return 1;
}

int redis_addr_parse(const char *spec, struct redis_addr *a, char *err, size_t errlen)
{
	if (!spec || !*spec) {
		snprintf(err, errlen, "redis address: empty");
		return -1;
	}
	a->host[0] = '\0';
	a->path[0] = '\0';
	a->port = 0;

	if (strncmp(spec, "unix:", 5) == 0) {
		const char *path = spec + 5;
		size_t len = strlen(path);
		if (len == 0) {
			snprintf(err, errlen, "redis address \"%s\": empty socket path", spec);
			return -1;
		}
		if (len >= sizeof(a->path)) {
			snprintf(err, errlen, "redis address: socket path longer than %zu bytes",
				 sizeof(a->path) - 1);
			return -1;
		}
		memcpy(a->path, path, len + 1);
		return 0;
	}

	const char *host, *port = NULL;
	size_t hlen;
	int v6 = 0;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close) {
			snprintf(err, errlen, "redis address \"%.64s\": missing ']'", spec);
			return -1;
		}
		host = spec + 1;
		hlen = (size_t)(close - host);
		v6 = 1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0') {
			snprintf(err, errlen, "redis address \"%.64s\": junk after ']'", spec);
			return -1;
		}
	} else {
		const char *colon = strchr(spec, ':');
		if (colon && strchr(colon + 1, ':')) {
			snprintf(err, errlen,
				 "redis address \"%.64s\": IPv6 addresses go in brackets, [addr]:port",
				 spec);
			return -1;
		}
		host = spec;
		hlen = colon ? (size_t)(colon - spec) : strlen(spec);
		if (colon)
			port = colon + 1;
	}
	if (!host_valid(host, hlen, v6)) {
		snprintf(err, errlen, "redis address \"%.64s\": bad host", spec);
		return -1;
	}
	if (hlen >= sizeof(a->host)) {
		snprintf(err, errlen, "redis address: host longer than %zu bytes",
			 sizeof(a->host) - 1);
		return -1;
	}
	int p = REDIS_DEFAULT_PORT;
	if (port && parse_port(port, &p) < 0) {
		snprintf(err, errlen, "redis address \"%.64s\": port must be 1..65535", spec);
		return -1;
	}
	memcpy(a->host, host, hlen);
	a->host[hlen] = '\0';
	a->port = p;
	return 0;
}

int redis_addr_load_credentials(const char *path, struct redis_addr *a, char *err, size_t errlen)
{
	int ret = -1;
	char buf[CRED_FILE_MAX + 1];
	size_t len = 0;

	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto out_close;
	}
	while (len < CRED_FILE_MAX) {
		ssize_t n = read(fd, buf + len, CRED_FILE_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out_wipe;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';

	/* The first line only; the rest may be a comment for the operator. */
	char *line = buf;
	line[strcspn(line, "\r\n")] = '\0';
	while (*line == ' ' || *line == '\t')
		line++;
	size_t llen = strlen(line);
	while (llen && (line[llen - 1] == ' ' || line[llen - 1] == '\t'))
		line[--llen] = '\0';
	if (llen == 0) {
		snprintf(err, errlen, "%s:1: no password", path);
		goto out_wipe;
	}
	char *sp = line + strcspn(line, " \t");
	const char *user = "", *pass = line;
	if (*sp) {
		*sp++ = '\0';
		while (*sp == ' ' || *sp == '\t')
			sp++;
		if (strpbrk(sp, " \t")) {
			snprintf(err, errlen, "%s:1: expected \"password\" or \"user password\"", path);
			goto out_wipe;
		}
		user = line;
		pass = sp;
	}
	if (strlen(user) >= sizeof(a->user) || strlen(pass) >= sizeof(a->password)) {
		snprintf(err, errlen, "%s:1: user or password too long", path);
		goto out_wipe;
	}
	memcpy(a->user, user, strlen(user) + 1);
	memcpy(a->password, pass, strlen(pass) + 1);
	ret = 0;
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: readable by group or others (mode %03o); chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
		ret = 1;
	}
out_wipe:
	explicit_bzero(buf, sizeof(buf));
out_close:
	close(fd);
	return ret;
}

const char *redis_addr_str(const struct redis_addr *a, char *buf, size_t n)
{
	if (!n)
		return buf;
	if (a->path[0])
		snprintf(buf, n, "unix:%s", a->path);
	else if (strchr(a->host, ':'))
		snprintf(buf, n, "[%s]:%d", a->host, a->port);
	else
		snprintf(buf, n, "%s:%d", a->host, a->port);
	return buf;
}
