/*
 * test: the in-house unit test runner (as redis, hiredis and jansson do it).
 *
 * A test file defines static void test_x(void) functions that use CHECK*,
 * and ends with TEST_MAIN(test_a, test_b, ...). Each check that fails prints
 * FILE:LINE and the values; the last line is "N passed, N failed", counting
 * tests (a test passes when none of its checks failed).
 */
#ifndef EW_TEST_H
#define EW_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failed_checks;

#define CHECK(cond)                                                                    \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			test_failed_checks++;                                          \
		}                                                                      \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                             \
	do {                                                                           \
		uint64_t ca_ = (uint64_t)(a), cb_ = (uint64_t)(b);                     \
		if (ca_ != cb_) {                                                      \
			fprintf(stderr, "%s:%d: %s == %s: %" PRIu64 " != %" PRIu64 "\n",   \
				__FILE__, __LINE__, #a, #b, ca_, cb_);                 \
			test_failed_checks++;                                          \
		}                                                                      \
	} while (0)

#define CHECK_STREQ(a, b)                                                              \
	do {                                                                           \
		const char *ca_ = (a), *cb_ = (b);                                     \
		if (!ca_ || !cb_ || strcmp(ca_, cb_) != 0) {                           \
			fprintf(stderr, "%s:%d: %s == %s: \"%s\" != \"%s\"\n", __FILE__, \
				__LINE__, #a, #b, ca_ ? ca_ : "(null)", cb_ ? cb_ : "(null)"); \
			test_failed_checks++;                                          \
		}                                                                      \
	} while (0)

typedef void (*test_fn)(void);

static inline int test_run(const char *names, test_fn *fns, size_t n)
{
	int passed = 0, failed = 0;
	const char *p = names;
	for (size_t i = 0; i < n; i++) {
		/* names is the stringified argument list: "test_a, test_b" */
		while (*p == ' ' || *p == ',')
			p++;
		size_t len = strcspn(p, ", ");
		int before = test_failed_checks;
		fns[i]();
		if (test_failed_checks == before) {
			passed++;
			printf("ok   %.*s\n", (int)len, p);
		} else {
			failed++;
			printf("FAIL %.*s\n", (int)len, p);
		}
		p += len;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                 \
	int main(void)                                                                 \
	{                                                                              \
		test_fn fns[] = {__VA_ARGS__};                                         \
		return test_run(#__VA_ARGS__, fns, sizeof(fns) / sizeof(fns[0]));      \
	}

#endif
