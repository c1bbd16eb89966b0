/*
 * redis_addr: every address form parses to the right host, port or path,
 * bad ones are refused, and credentials come from a file whose loose
 * permissions are warned about without the password ever showing.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "redis_addr.h"
#include "test.h"
#include "banned.h"

static void test_parse_host_port(void)
{
	struct redis_addr a = {0};
	char err[256], buf[300];
	CHECK(redis_addr_parse("127.0.0.1:6380", &a, err, sizeof(err)) == 0);
	CHECK_STREQ(a.host, "127.0.0.1");
	CHECK_EQ_U64(a.port, 6380);
	CHECK_STREQ(a.path, "");
	CHECK_STREQ(redis_addr_str(&a, buf, sizeof(buf)), "127.0.0.1:6380");

	CHECK(redis_addr_parse("redis.internal.example", &a, err, sizeof(err)) == 0);
	CHECK_STREQ(a.host, "redis.internal.example");
	CHECK_EQ_U64(a.port, 6379);
}

static void test_parse_v6(void)
{
	struct redis_addr a = {0};
	char err[256], buf[300];
	CHECK(redis_addr_parse("[2001:db8::1]:7000", &a, err, sizeof(err)) == 0);
	CHECK_STREQ(a.host, "2001:db8::1");
	CHECK_EQ_U64(a.port, 7000);
	CHECK_STREQ(redis_addr_str(&a, buf, sizeof(buf)), "[2001:db8::1]:7000");
	CHECK(redis_addr_parse("[::1]", &a, err, sizeof(err)) == 0);
	CHECK_STREQ(a.host, "::1");
	CHECK_EQ_U64(a.port, 6379);
}

static void test_parse_unix(void)
{
	struct redis_addr a = {0};
	char err[256], buf[300];
	CHECK(redis_addr_parse("127.0.0.1:1", &a, err, sizeof(err)) == 0);
	CHECK(redis_addr_parse("unix:/run/redis/redis.sock", &a, err, sizeof(err)) == 0);
	CHECK_STREQ(a.path, "/run/redis/redis.sock");
	CHECK_STREQ(a.host, "");   /* the earlier TCP address is gone */
	CHECK_STREQ(redis_addr_str(&a, buf, sizeof(buf)), "unix:/run/redis/redis.sock");
}

static void test_parse_rejects(void)
{
	struct redis_addr a = {0};
	char err[256];
	const char *bad[] = {
		"", "unix:", "host:0", "host:65536", "host:", "host:12ab", ":6379",
		"::1:6379", "[::1", "[::1]x", "[::1]:", "ho st:1", "host:-1",
		"unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int rc = redis_addr_parse(bad[i], &a, err, sizeof(err));
		if (rc != -1)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		CHECK(rc == -1);
		CHECK(err[0] != '\0');
	}
	CHECK(redis_addr_parse(NULL, &a, err, sizeof(err)) == -1);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	CHECK(fchmod(fd, mode) == 0);
	close(fd);
}

static void test_credentials(void)
{
	char dir[] = "/tmp/test_redis_addr.XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[256];
	snprintf(path, sizeof(path), "%s/cred", dir);
	struct redis_addr a = {0};
	char err[256];

	write_file(path, "s3cret-pass\n", 0600);
	err[0] = '\0';
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == 0);
	CHECK_STREQ(a.user, "");
	CHECK_STREQ(a.password, "s3cret-pass");
	CHECK_STREQ(err, "");

	write_file(path, "  sensor   s3cret-pass  \r\n# second line ignored\n", 0400);
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == 0);
	CHECK_STREQ(a.user, "sensor");
	CHECK_STREQ(a.password, "s3cret-pass");

	/* Too open: used, but warned, and the warning does not leak it. */
	memset(&a, 0, sizeof(a));
	write_file(path, "sensor s3cret-pass\n", 0644);
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == 1);
	CHECK_STREQ(a.password, "s3cret-pass");
	CHECK(strstr(err, "group or others") != NULL);
	CHECK(strstr(err, "s3cret") == NULL);
	write_file(path, "s3cret-pass\n", 0660);
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == 1);

	/* Malformed: nothing taken, and the message does not echo the line. */
	memset(&a, 0, sizeof(a));
	write_file(path, "a s3cret-pass extra\n", 0600);
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == -1);
	CHECK(strstr(err, "s3cret") == NULL);
	CHECK_STREQ(a.password, "");
	write_file(path, "\n", 0600);
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == -1);
	char big[400];
	memset(big, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	write_file(path, big, 0600);
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == -1);
	CHECK(redis_addr_load_credentials(dir, &a, err, sizeof(err)) == -1);
	unlink(path);
	CHECK(redis_addr_load_credentials(path, &a, err, sizeof(err)) == -1);
	CHECK(strstr(err, path) != NULL);
	rmdir(dir);
}

TEST_MAIN(test_parse_host_port, test_parse_v6, test_parse_unix, test_parse_rejects,
	  test_credentials)
