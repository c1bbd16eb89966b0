/*
 * redis_addr: where and how to reach Redis, from config or --redis.
 *
 * "host:port", "[v6addr]:port", "unix:/path". Credentials come only from a
 * file (never the command line): one line "password" or "user password".
 * A file readable by group or others is used but warned about.
 */
#ifndef EW_REDIS_ADDR_H
#define EW_REDIS_ADDR_H

#include <stddef.h>

struct redis_addr {
	char host[256];         /* empty when unix */
	int port;
	char path[108];         /* unix socket path, empty when TCP */
	char user[128];         /* empty: AUTH with password only */
	char password[256];     /* empty: no AUTH */
};

/* Parses spec into *a (credentials untouched). Returns 0, or -1 with err. */
int redis_addr_parse(const char *spec, struct redis_addr *a, char *err, size_t errlen);

/*
 * Reads "password" or "user password" from path into *a. Returns 0, 1 if it
 * was read but the file's permissions are too open (warn in err), or -1
 * with err.
 */
int redis_addr_load_credentials(const char *path, struct redis_addr *a, char *err, size_t errlen);

/* "unix:/path" or "host:port", for logs (never the password). Returns buf. */
const char *redis_addr_str(const struct redis_addr *a, char *buf, size_t n);

#endif
