/*
 * rss_run: runs a command and reports its peak resident set size.
 *
 *   rss_run [-o FILE] COMMAND [ARG...]
 *
 * Forks and execs COMMAND (its stdin, stdout and stderr are ours), waits
 * with wait4 for its rusage, and writes one JSON line to FILE (default
 * stderr): {"max_rss_kb": K, "wall_s": S, "exit": E}, where E is the
 * command's exit status, or 128 + the signal that killed it. The peak RSS
 * is the child's own (ru_maxrss, in KiB on Linux), not rss_run's. Exits
 * with E, or 127 if COMMAND could not be started.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "banned.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *out = NULL;
	int a = 1;
	if (argc > 2 && strcmp(argv[1], "-o") == 0) {
		out = argv[2];
		a = 3;
	}
	if (a >= argc) {
		fprintf(stderr, "usage: rss_run [-o FILE] COMMAND [ARG...]\n");
		return 127;
	}
	double t0 = now();
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "rss_run: fork: %s\n", strerror(errno));
		return 127;
	}
	if (pid == 0) {
		execvp(argv[a], argv + a);
		fprintf(stderr, "rss_run: %s: %s\n", argv[a], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "rss_run: wait4: %s\n", strerror(errno));
			return 127;
		}
	}
	double wall = now() - t0;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	FILE *f = stderr;
	if (out && !(f = fopen(out, "w"))) {
		fprintf(stderr, "rss_run: %s: %s\n", out, strerror(errno));
		return 127;
	}
	fprintf(f, "{\"max_rss_kb\": %ld, \"wall_s\": %.6f, \"exit\": %d}\n", ru.ru_maxrss, wall, code);
	if (f != stderr && fclose(f)) {
		fprintf(stderr, "rss_run: %s: %s\n", out, strerror(errno));
		return 127;
	}
	return code;
}
