/*
 * test_sandbox: the seccomp profiles allow what the programs need and stop
 * what an exploited process would try (sandbox.h).
 *
 * A filter cannot be unloaded, so every case forks: the child loads the
 * profile, makes one call and reports through its exit status; the parent
 * reads how the child ended (exit code, or SIGSYS for a kill).
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "test.h"
#include "banned.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* How a child ended: exit code 0..255, or 1000 + signal. */
#define KILLED_BY(sig) (1000 + (sig))
#define SETUP_FAILED 99

typedef int (*probe_fn)(void);

/* A directory made by the parent: mkdir and rmdir are not on the sensor's list. */
static char scratch[] = "/tmp/ewsbx.XXXXXX";

static int run_case(enum sandbox_profile p, enum sandbox_mode m, probe_fn fn)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char err[256];
		if (sandbox_apply_mode(p, m, err, sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			_exit(SETUP_FAILED);
		}
		_exit(fn());
	}
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFSIGNALED(st))
		return KILLED_BY(WTERMSIG(st));
	return WEXITSTATUS(st);
}

/* Each probe returns 0 when the call worked, else errno (capped to 98). */
static int res(long rc)
{
	if (rc >= 0)
		return 0;
	return errno > 0 && errno < 98 ? errno : 98;
}

static int p_steady_state(void)
{
	/* What the sensor does per interval: time, memory, a spool file
	 * written, synced, renamed and removed, a unix socket. */
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) || clock_gettime(CLOCK_REALTIME, &ts))
		return 1;
	void *big = malloc(64 << 20);       /* mmap'd by malloc */
	if (!big)
		return 2;
	memset(big, 1, 1 << 20);
	free(big);
	const char *dir = scratch;
	char a[80], b[80];
	snprintf(a, sizeof(a), "%s/a.tmp", dir);
	snprintf(b, sizeof(b), "%s/a", dir);
	int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd) || ftruncate(fd, 0) || close(fd))
		return 4;
	if (rename(a, b) || unlink(b))
		return 5;
	uint64_t r;
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return 6;
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 7;
	close(s);
	s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 8;
	close(s);
	return 0;
}

static int p_execve(void)
{
	char *argv[] = {(char *)"/bin/true", NULL};
	char *envp[] = {NULL};
	return res(execve("/bin/true", argv, envp));
}

static int p_ptrace(void)
{
	return res(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static int p_fork(void)
{
	pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid == 0)
		_exit(0);
	return res(pid);
}

static int p_packet_socket(void)
{
	return res(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
}

static int p_netlink_socket(void)
{
	return res(socket(AF_NETLINK, SOCK_RAW, 0));
}

static int p_mmap_wx(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	return res(p == MAP_FAILED ? -1 : 0);
}

static int p_mprotect_wx(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 97;
	return res(mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
}

static int p_mmap_exec_only(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return res(p == MAP_FAILED ? -1 : 0);
}

static int p_ioctl_other(void)
{
	int one = 1;
	return res(ioctl(0, FIOASYNC, &one));
}

static int p_ioctl_tty(void)
{
	(void)isatty(STDERR_FILENO);    /* ENOTTY or 1, but never killed */
	return 0;
}

static int p_setuid(void)
{
	return res(syscall(SYS_setuid, 0));
}

static int p_bpf(void)
{
	return res(syscall(SYS_bpf, 0, NULL, 0));
}

static int p_listen(void)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return 97;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int rc = bind(s, (struct sockaddr *)&a, sizeof(a));
	if (rc == 0)
		rc = listen(s, 4);
	return res(rc);
}

static int p_abort(void)
{
	abort();
}

static void test_sensor_allows_its_steady_state(void)
{
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_KILL, p_steady_state), 0);
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_KILL, p_ioctl_tty), 0);
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_KILL, p_mmap_exec_only), 0);
}

static void test_sensor_kills_forbidden_calls(void)
{
	probe_fn fns[] = {p_execve, p_packet_socket, p_netlink_socket, p_mmap_wx, p_mprotect_wx,
			  p_ioctl_other, p_setuid, p_bpf, p_listen};
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		int r = run_case(SANDBOX_SENSOR, SANDBOX_DEFAULT, fns[i]);
		if (r != KILLED_BY(SIGSYS))
			fprintf(stderr, "sensor case %zu: ended %d, want SIGSYS\n", i, r);
		CHECK_EQ_U64(r, KILLED_BY(SIGSYS));
	}
	if (!SANITIZED) {       /* LeakSanitizer's runtime needs these two */
		CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_DEFAULT, p_ptrace), KILLED_BY(SIGSYS));
		CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_DEFAULT, p_fork), KILLED_BY(SIGSYS));
	}
}

static void test_errno_mode_refuses_with_eperm(void)
{
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_ERRNO, p_execve), EPERM);
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_ERRNO, p_packet_socket), EPERM);
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_ERRNO, p_bpf), EPERM);
	/* W|X is refused even in errno mode, the rule just falls to the default */
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_ERRNO, p_mmap_wx), EPERM);
}

static void test_collector_profile(void)
{
	/* The collector serves HTTP: bind and listen work there... */
	CHECK_EQ_U64(run_case(SANDBOX_COLLECTOR, SANDBOX_DEFAULT, p_listen), 0);
	CHECK_EQ_U64(run_case(SANDBOX_COLLECTOR, SANDBOX_KILL, p_steady_state), 0);
	/* ...but it still cannot exec or open a packet socket (EPERM by default). */
	CHECK_EQ_U64(run_case(SANDBOX_COLLECTOR, SANDBOX_DEFAULT, p_execve), EPERM);
	CHECK_EQ_U64(run_case(SANDBOX_COLLECTOR, SANDBOX_DEFAULT, p_packet_socket), EPERM);
	CHECK_EQ_U64(run_case(SANDBOX_COLLECTOR, SANDBOX_KILL, p_execve), KILLED_BY(SIGSYS));
	if (!SANITIZED)
		CHECK_EQ_U64(run_case(SANDBOX_COLLECTOR, SANDBOX_DEFAULT, p_fork), EPERM);
}

static void test_abort_still_aborts(void)
{
	/* abort() signals the process itself (tgkill to self is allowed), so a
	 * failed assertion reads as SIGABRT, not as a seccomp kill. */
	CHECK_EQ_U64(run_case(SANDBOX_SENSOR, SANDBOX_KILL, p_abort), KILLED_BY(SIGABRT));
}

static void test_parse_mode(void)
{
	bool en = true;
	enum sandbox_mode m = SANDBOX_LOG;
	CHECK(sandbox_parse_mode("off", &en, &m) == 0 && !en);
	CHECK(sandbox_parse_mode("on", &en, &m) == 0 && en && m == SANDBOX_DEFAULT);
	CHECK(sandbox_parse_mode("kill", &en, &m) == 0 && en && m == SANDBOX_KILL);
	CHECK(sandbox_parse_mode("errno", &en, &m) == 0 && en && m == SANDBOX_ERRNO);
	CHECK(sandbox_parse_mode("log", &en, &m) == 0 && en && m == SANDBOX_LOG);
	CHECK(sandbox_parse_mode("maybe", &en, &m) == -1);
	CHECK_STREQ(sandbox_profile_name(SANDBOX_COLLECTOR), "collector");
}

static void test_setup(void)
{
	CHECK(mkdtemp(scratch) != NULL);
}

static void test_cleanup(void)
{
	CHECK(rmdir(scratch) == 0);
}

TEST_MAIN(test_setup, test_sensor_allows_its_steady_state, test_sensor_kills_forbidden_calls,
	  test_errno_mode_refuses_with_eperm, test_collector_profile, test_abort_still_aborts,
	  test_parse_mode, test_cleanup)
