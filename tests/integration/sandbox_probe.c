/*
 * sandbox_probe: does the sensor's sandbox refuse what an exploit would try?
 *
 *   sandbox_probe [--user USER] [--profile sensor|collector]
 *                 [--mode default|kill|errno|off] CASE...
 *
 * For each CASE a child is forked that does what egress-sensor does after
 * opening its capture: privdrop_apply(USER) when run as root, then
 * sandbox_apply_mode(profile, mode); then it makes the one call the case
 * names. The parent prints one line per case:
 *
 *   CASE killed SIGSYS        the filter killed the process
 *   CASE refused ERRNO-NAME   the call failed (EPERM from the filter in
 *                             errno mode; EACCES etc. from the kernel)
 *   CASE allowed              the call worked
 *   CASE setup-failed         the drop or the filter could not be applied
 *
 * Cases: execve ptrace fork packet-socket netlink-socket mmap-wx
 * mprotect-wx setuid bpf listen ioctl-other (what must be refused) and
 * steady (time, memory, a file written, synced, renamed, removed, a unix
 * socket: what must keep working). The case "status" prints the child's
 * Uid, Gid, Groups, Cap..., NoNewPrivs and Seccomp lines from /proc/self/status.
 * Exit status 0 unless the arguments were bad.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "privdrop.h"
#include "sandbox.h"
#include "banned.h"

#define R_ALLOWED 0
#define R_SETUP 200
#define R_BADCASE 201

static char scratch[] = "/tmp/ewprobe.XXXXXX";

/* errno, squeezed into an exit status the parent decodes (1..199). */
static int res(long rc)
{
	if (rc >= 0)
		return R_ALLOWED;
	return errno > 0 && errno < 200 ? errno : 199;
}

static int steady(void)
{
	struct timespec ts;
	char a[64], b[64];
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return res(-1);
	void *big = malloc(32 << 20);
	if (!big)
		return ENOMEM;
	memset(big, 1, 1 << 20);
	free(big);
	snprintf(a, sizeof(a), "%s/x.tmp", scratch);
	snprintf(b, sizeof(b), "%s/x", scratch);
	int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return res(-1);
	if (write(fd, "x", 1) != 1 || fsync(fd) || close(fd) || rename(a, b) || unlink(b))
		return res(-1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return res(-1);
	close(s);
	return R_ALLOWED;
}

static int status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[512];
	if (!f)
		return res(-1);
	while (fgets(line, sizeof(line), f)) {
		static const char *const keys[] = {"Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:",
						   "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:",
						   "Seccomp:"};
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				fputs(line, stdout);
	}
	fclose(f);
	fflush(stdout);
	return R_ALLOWED;
}

static int run(const char *c)
{
	if (strcmp(c, "steady") == 0)
		return steady();
	if (strcmp(c, "status") == 0)
		return status();
	if (strcmp(c, "execve") == 0) {
		char *argv[] = {(char *)"/bin/true", NULL};
		char *envp[] = {NULL};
		return res(execve("/bin/true", argv, envp));
	}
	if (strcmp(c, "ptrace") == 0)
		return res(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	if (strcmp(c, "fork") == 0) {
		long pid = syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
		if (pid == 0)
			_exit(0);
		return res(pid);
	}
	if (strcmp(c, "packet-socket") == 0)
		return res(socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL)));
	if (strcmp(c, "netlink-socket") == 0)
		return res(socket(AF_NETLINK, SOCK_RAW, 0));
	if (strcmp(c, "mmap-wx") == 0) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return res(p == MAP_FAILED ? -1 : 0);
	}
	if (strcmp(c, "mprotect-wx") == 0) {
		void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return res(-1);
		return res(mprotect(p, 4096, PROT_READ | PROT_WRITE | PROT_EXEC));
	}
	if (strcmp(c, "setuid") == 0)
		return res(syscall(SYS_setuid, 0));
	if (strcmp(c, "bpf") == 0)
		return res(syscall(SYS_bpf, 0, NULL, 0));
	if (strcmp(c, "listen") == 0) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0)
			return res(-1);
		struct sockaddr_in sa = {.sin_family = AF_INET};
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(s, (struct sockaddr *)&sa, sizeof(sa)))
			return res(-1);
		return res(listen(s, 4));
	}
	if (strcmp(c, "ioctl-other") == 0) {
		int one = 1;
		return res(ioctl(STDIN_FILENO, FIOASYNC, &one));
	}
	return R_BADCASE;
}

int main(int argc, char **argv)
{
	const char *user = "", *profile = "sensor", *mode = "default";
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--user") == 0)
			user = argv[i + 1];
		else if (strcmp(argv[i], "--profile") == 0)
			profile = argv[i + 1];
		else if (strcmp(argv[i], "--mode") == 0)
			mode = argv[i + 1];
		else
			break;
	}
	enum sandbox_profile p = strcmp(profile, "collector") == 0 ? SANDBOX_COLLECTOR : SANDBOX_SENSOR;
	bool enabled = true;
	enum sandbox_mode m = SANDBOX_DEFAULT;
	if (i >= argc || (strcmp(profile, "sensor") && strcmp(profile, "collector")) ||
	    (strcmp(mode, "default") && sandbox_parse_mode(mode, &enabled, &m))) {
		fprintf(stderr, "usage: sandbox_probe [--user USER] [--profile sensor|collector] "
				"[--mode default|kill|errno|off] CASE...\n");
		return 2;
	}
	if (!mkdtemp(scratch)) {
		perror("sandbox_probe: mkdtemp");
		return 1;
	}
	if (user[0] && geteuid() == 0 && chmod(scratch, 0777)) {
		perror("sandbox_probe: chmod");
		return 1;
	}
	for (; i < argc; i++) {
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0) {
			perror("sandbox_probe: fork");
			return 1;
		}
		if (pid == 0) {
			char err[512];
			if (privdrop_apply(user, "", err, sizeof(err)) ||
			    (enabled && sandbox_apply_mode(p, m, err, sizeof(err)))) {
				fprintf(stderr, "sandbox_probe: %s\n", err);
				_exit(R_SETUP);
			}
			_exit(run(argv[i]));
		}
		int st;
		if (waitpid(pid, &st, 0) != pid) {
			perror("sandbox_probe: waitpid");
			return 1;
		}
		if (WIFSIGNALED(st))
			printf("%s killed SIG%s\n", argv[i], sigabbrev_np(WTERMSIG(st)) ? sigabbrev_np(WTERMSIG(st)) : "?");
		else if (WEXITSTATUS(st) == R_ALLOWED)
			printf("%s allowed\n", argv[i]);
		else if (WEXITSTATUS(st) == R_SETUP)
			printf("%s setup-failed\n", argv[i]);
		else if (WEXITSTATUS(st) == R_BADCASE)
			printf("%s unknown-case\n", argv[i]);
		else
			printf("%s refused %s\n", argv[i],
			       strerrorname_np(WEXITSTATUS(st)) ? strerrorname_np(WEXITSTATUS(st)) : "?");
	}
	rmdir(scratch);
	return 0;
}
