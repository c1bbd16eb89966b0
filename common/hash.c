/*
 * hash: SipHash-1-3 under a per-process random key (see hash.h).
 *
 * SipHash-1-3 (one compression round per word, three finalisation rounds) is
 * the variant Rust and Python chose for their hash tables: still keyed, so
 * an attacker who picks the addresses cannot predict buckets, and fast
 * enough for the per-packet path on short keys.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "hash.h"
#include "banned.h"

int hash_seed_random(struct hash_key *key)
{
	uint8_t buf[16];
	size_t got = 0;

	while (got < sizeof(buf)) {
		ssize_t r = getrandom(buf + got, sizeof(buf) - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)r;
	}
	memcpy(&key->k0, buf, 8);
	memcpy(&key->k1, buf + 8, 8);
	return 0;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                                       \
	do {                                                                           \
		v0 += v1;                                                              \
		v1 = ROTL(v1, 13);                                                     \
		v1 ^= v0;                                                              \
		v0 = ROTL(v0, 32);                                                     \
		v2 += v3;                                                              \
		v3 = ROTL(v3, 16);                                                     \
		v3 ^= v2;                                                              \
		v0 += v3;                                                              \
		v3 = ROTL(v3, 21);                                                     \
		v3 ^= v0;                                                              \
		v2 += v1;                                                              \
		v1 = ROTL(v1, 17);                                                     \
		v1 ^= v2;                                                              \
		v2 = ROTL(v2, 32);                                                     \
	} while (0)

/* Little-endian load, as the SipHash reference reads its message words. */
static inline uint64_t rd_le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	       (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	       (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t hash_bytes(const struct hash_key *key, const void *data, size_t n)
{
	const uint8_t *p = data;
	const uint8_t *end = p + (n & ~(size_t)7);
	uint64_t v0 = 0x736f6d6570736575ULL ^ key->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ key->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ key->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ key->k1;
	uint64_t b = (uint64_t)n << 56;

	for (; p != end; p += 8) {
		uint64_t m = rd_le64(p);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	switch (n & 7) {
	case 7: b |= (uint64_t)p[6] << 48; /* fall through */
	case 6: b |= (uint64_t)p[5] << 40; /* fall through */
	case 5: b |= (uint64_t)p[4] << 32; /* fall through */
	case 4: b |= (uint64_t)p[3] << 24; /* fall through */
	case 3: b |= (uint64_t)p[2] << 16; /* fall through */
	case 2: b |= (uint64_t)p[1] << 8;  /* fall through */
	case 1: b |= (uint64_t)p[0]; break;
	case 0: break;
	}
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
