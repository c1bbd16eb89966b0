/*
 * sandbox: seccomp-bpf allowlists built with libseccomp (sandbox.h).
 *
 * Each profile is a table of system call names, measured with `strace -f -c`
 * on the real programs in every mode they run in (file --summary, file into
 * Redis, live capture on a veth; see SECURITY.md), plus a few calls that libc
 * makes on paths a short run rarely takes (qsort's sysinfo, abort's tgkill,
 * DNS lookups of a Redis host name). Calls whose arguments decide whether
 * they are harmless are narrowed further:
 *   socket   only AF_UNIX, AF_INET, AF_INET6: no AF_PACKET (a second capture
 *            handle) and no AF_NETLINK (routing, firewall) after setup;
 *   ioctl    only the terminal and FIONREAD/FIONBIO requests libc and
 *            hiredis make, since ioctl is a whole second system call table;
 *   mmap, mprotect  never writable and executable at once (no injected code
 *            made runnable in place);
 *   clone    threads only, and only in the collector; clone3 (whose flags a
 *            filter cannot read) fails with ENOSYS so libc falls back to clone;
 *   tgkill   only to the process itself (abort()).
 * Names the running architecture does not have are skipped, so the table can
 * list both stat and newfstatat without caring which one libc uses.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "sandbox.h"
#include "banned.h"

/* Sanitizer runtimes make calls of their own (LeakSanitizer stops the world
 * with a ptrace'd clone at exit; reports read /proc/self/maps). Those builds
 * are test builds: allow what they need so `make SANITIZE=...` still runs
 * the sandboxed binaries. Release builds never get these. */
#if defined(__SANITIZE_ADDRESS__)
#define EW_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define EW_SANITIZER 1
#endif
#endif

/* Both programs: memory, time, the event loop, Redis and files. */
static const char *const common_calls[] = {
	/* file and socket I/O on descriptors opened before or after the drop */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "close", "lseek",
	"fstat", "newfstatat", "stat", "lstat", "statx", "fcntl", "dup", "dup3",
	/* the spool / state directory: write temp, fsync, rename into place */
	"openat", "getdents64", "rename", "renameat", "renameat2", "unlink", "unlinkat",
	"fsync", "fdatasync", "ftruncate", "fchmod", "access", "faccessat", "faccessat2",
	/* malloc and free (brk and mmap arenas, trimming) */
	"brk", "munmap", "mremap", "madvise",
	/* time: vDSO normally, the system call where the clock source lacks one */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
	/* libevent's epoll backend, libpcap's poll on the ring, hiredis's sync connect */
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2",
	/* hiredis (TCP or unix socket) and the resolver (UDP to the name server) */
	"connect", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"getsockopt", "setsockopt", "getsockname", "getpeername", "shutdown",
	/* signals: libevent's signal handling, SIGTERM/SIGINT/SIGHUP */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "restart_syscall",
	/* process housekeeping libc does */
	"exit", "exit_group", "getpid", "gettid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getrandom", "uname", "sysinfo", "futex", "sched_yield",
	"getrlimit", "prlimit64", "getcwd",
};

/* The collector also serves HTTP and may run helper threads. */
static const char *const collector_calls[] = {
	"accept", "accept4", "bind", "listen", "socketpair", "pipe2", "eventfd2",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "sendfile", "flock",
	"mkdir", "mkdirat", "fallocate", "set_robust_list", "rseq", "sched_getaffinity",
	"mincore", "sigaltstack",
};

#ifdef EW_SANITIZER
static const char *const sanitizer_calls[] = {
	"open", "getdents", "readlink", "readlinkat", "sigaltstack", "prctl", "ptrace", "wait4", "waitpid",
	"getppid", "clone", "sched_getaffinity", "mincore", "kill", "pipe", "pipe2",
	"set_robust_list", "rseq",
};
#endif

const char *sandbox_profile_name(enum sandbox_profile p)
{
	return p == SANDBOX_COLLECTOR ? "collector" : "sensor";
}

int sandbox_parse_mode(const char *s, bool *enabled, enum sandbox_mode *m)
{
	static const struct {
		const char *name;
		bool enabled;
		enum sandbox_mode mode;
	} modes[] = {
		{"off", false, SANDBOX_DEFAULT}, {"no", false, SANDBOX_DEFAULT},
		{"false", false, SANDBOX_DEFAULT}, {"0", false, SANDBOX_DEFAULT},
		{"on", true, SANDBOX_DEFAULT}, {"yes", true, SANDBOX_DEFAULT},
		{"true", true, SANDBOX_DEFAULT}, {"1", true, SANDBOX_DEFAULT},
		{"kill", true, SANDBOX_KILL}, {"errno", true, SANDBOX_ERRNO},
		{"log", true, SANDBOX_LOG},
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*enabled = modes[i].enabled;
			*m = modes[i].mode;
			return 0;
		}
	}
	return -1;
}

/* Adds an unconditional allow rule per name; names unknown here are skipped. */
static int allow_list(scmp_filter_ctx ctx, const char *const *names, size_t n, char *err,
		      size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR || nr < 0)
			continue;       /* not a call of this architecture */
		int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (rc < 0) {
			snprintf(err, errlen, "seccomp: allowing %s: %s", names[i], strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* The argument-narrowed rules (see the top of the file). */
static int add_narrowed(scmp_filter_ctx ctx, enum sandbox_profile p)
{
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6};
	static const unsigned long ioctls[] = {TCGETS, TIOCGWINSZ, FIONREAD, FIONBIO};
	const scmp_datum_t wx = PROT_WRITE | PROT_EXEC;
	static const scmp_datum_t prots[] = {0, PROT_WRITE, PROT_EXEC};
	int rc = 0;

	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctls[i]));
	/* Memory may be writable or executable, never both: allow each
	 * protection whose W|X bits are not both set; W|X falls to the default. */
	for (size_t i = 0; i < sizeof(prots) / sizeof(prots[0]); i++) {
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, wx, prots[i]));
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				       SCMP_A2(SCMP_CMP_MASKED_EQ, wx, prots[i]));
	}
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
			       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (p == SANDBOX_COLLECTOR)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	return rc;
}

int sandbox_apply_mode(enum sandbox_profile p, enum sandbox_mode m, char *err, size_t errlen)
{
	if (m == SANDBOX_DEFAULT)
		m = p == SANDBOX_SENSOR ? SANDBOX_KILL : SANDBOX_ERRNO;
	uint32_t def = m == SANDBOX_KILL ? SCMP_ACT_KILL_PROCESS
		       : m == SANDBOX_LOG ? SCMP_ACT_LOG
					  : SCMP_ACT_ERRNO(EPERM);
	scmp_filter_ctx ctx = seccomp_init(def);
	if (!ctx) {
		snprintf(err, errlen, "seccomp: cannot initialise the %s filter", sandbox_profile_name(p));
		return -1;
	}
	int rc = -1;
	/* Another architecture's calling convention (x32, i386 int 0x80) kills. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1)) {
		snprintf(err, errlen, "seccomp: cannot set the filter attributes");
		goto out_release;
	}
	/* A refused-with-EPERM call is still visible in the audit log. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	/* Threads started before the call get the filter too. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (allow_list(ctx, common_calls, sizeof(common_calls) / sizeof(common_calls[0]), err, errlen))
		goto out_release;
	if (p == SANDBOX_COLLECTOR &&
	    allow_list(ctx, collector_calls, sizeof(collector_calls) / sizeof(collector_calls[0]), err,
		       errlen))
		goto out_release;
#ifdef EW_SANITIZER
	if (allow_list(ctx, sanitizer_calls, sizeof(sanitizer_calls) / sizeof(sanitizer_calls[0]), err,
		       errlen))
		goto out_release;
#endif
	if (add_narrowed(ctx, p)) {
		snprintf(err, errlen, "seccomp: cannot add the argument rules of the %s filter",
			 sandbox_profile_name(p));
		goto out_release;
	}
	int lrc = seccomp_load(ctx);
	if (lrc < 0) {
		snprintf(err, errlen, "seccomp: loading the %s filter: %s", sandbox_profile_name(p),
			 strerror(-lrc));
		goto out_release;
	}
	rc = 0;
out_release:
	seccomp_release(ctx);
	return rc;
}

int sandbox_apply(enum sandbox_profile p, char *err, size_t errlen)
{
	return sandbox_apply_mode(p, SANDBOX_DEFAULT, err, errlen);
}
