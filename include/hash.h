/*
 * hash: keyed hashing for tables whose keys an attacker chooses.
 *
 * SipHash (Aumasson & Bernstein) with a per-process random key, so a flood of
 * crafted addresses cannot aim at one bucket. hash_seed_random() fills a key
 * from getrandom(); tests pass a fixed key for repeatable layouts.
 */
#ifndef EW_HASH_H
#define EW_HASH_H

#include <stddef.h>
#include <stdint.h>

struct hash_key {
	uint64_t k0, k1;
};

/* Fills *key from the kernel's random source. Returns 0, or -1 on failure. */
int hash_seed_random(struct hash_key *key);

/* SipHash-1-3 of n bytes at p under key. */
uint64_t hash_bytes(const struct hash_key *key, const void *p, size_t n);

/*
 * The per-packet tables' hash step: a 64x64->128-bit multiply folded to 64
 * bits (wyhash's "mum"). Callers xor their key words into both operands, so
 * the result depends on the secret seed; it is several times cheaper than a
 * SipHash of a 40-byte key, which matters at millions of packets a second.
 * Not a PRF: use hash_bytes() where keys are long or strings.
 */
static inline uint64_t hash_mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

#endif
