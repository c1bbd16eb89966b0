/*
 * mem_probe: what random memory access costs on this machine, the context
 * for the sensor's ratio to the bare loop (a known flow's packet updates a
 * random 16-byte flow slot in a table of 24 MB at the default limits).
 *
 *   mem_probe [MiB...]   default: 4 24
 *
 * For each size: ns per update of a random cache line in a region of that
 * many MiB (transparent huge pages asked for, as the sensor's tables do),
 * with a prefetch 16 updates ahead, as the sensor's pipeline issues them:
 * the cost of a random access when the misses overlap as far as they can.
 * Then the first touch of 48 MiB of fresh huge pages (what a sensor's
 * tables pay as they fill): ms, and the same region written again. One
 * "name value" line per figure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "banned.h"

#define ACCESSES 4000000u
#define AHEAD 16

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint8_t *region(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, n, MADV_HUGEPAGE);
	return p;
}

/* ns per random line update over mib MiB, or a negative value on failure. */
static double random_updates(unsigned mib)
{
	size_t n = (size_t)mib << 20, lines = n / 64;
	uint8_t *m = region(n);
	uint32_t *at = malloc(ACCESSES * sizeof(*at));
	if (!m || !at) {
		free(at);
		if (m)
			munmap(m, n);
		return -1;
	}
	memset(m, 1, n); /* touched first: first touch is measured apart */
	for (uint32_t i = 0; i < ACCESSES; i++)
		at[i] = (uint32_t)(mix64(i) % lines);
	double t = now_s();
	for (uint32_t i = 0; i < ACCESSES; i++) {
		if (i + AHEAD < ACCESSES)
			__builtin_prefetch(m + (size_t)at[i + AHEAD] * 64, 1);
		m[(size_t)at[i] * 64]++;
	}
	t = now_s() - t;
	uint64_t sum = 0; /* read back, so the updates are not dead stores */
	for (size_t i = 0; i < n; i += 64)
		sum += m[i];
	munmap(m, n);
	free(at);
	return sum ? t / ACCESSES * 1e9 : -1;
}

int main(int argc, char **argv)
{
	unsigned sizes[8] = {4, 24}, nsizes = 2;
	if (argc > 1) {
		nsizes = 0;
		for (int i = 1; i < argc && nsizes < 8; i++) {
			char *end;
			unsigned long v = strtoul(argv[i], &end, 10);
			if (*end || v == 0 || v > 4096) {
				fprintf(stderr, "mem_probe: bad size '%s' (MiB, 1-4096)\n", argv[i]);
				return 2;
			}
			sizes[nsizes++] = (unsigned)v;
		}
	}
	for (unsigned i = 0; i < nsizes; i++) {
		double ns = random_updates(sizes[i]);
		if (ns < 0) {
			fprintf(stderr, "mem_probe: cannot map %u MiB\n", sizes[i]);
			return 1;
		}
		printf("random_update_ns_%uMiB %.2f\n", sizes[i], ns);
	}
	size_t n = (size_t)48 << 20;
	uint8_t *m = region(n);
	if (!m) {
		fprintf(stderr, "mem_probe: cannot map 48 MiB\n");
		return 1;
	}
	double t = now_s();
	for (size_t i = 0; i < n; i += 4096)
		m[i] = 1;
	double first = now_s() - t;
	t = now_s();
	memset(m, 2, n);
	double again = now_s() - t;
	munmap(m, n);
	printf("first_touch_ms_48MiB %.1f\n", first * 1e3);
	printf("rewrite_ms_48MiB %.1f\n", again * 1e3);
	return 0;
}
