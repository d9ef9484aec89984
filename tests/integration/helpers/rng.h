/* SPDX-License-Identifier: MIT */
/*
 * rng.h — the seeded random numbers of the test helpers (splitmix64):
 * one sequence per seed, the same on every machine, so a transcript or a
 * failure reproduces from the seed alone.
 */
#ifndef UEXT4_TEST_RNG_H
#define UEXT4_TEST_RNG_H

#include <stdbool.h>
#include <stdint.h>

/* The generator state; set it to the seed before the first draw. */
static uint64_t rng_state;

static inline uint64_t rnd64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* rnd() - uniform-ish in [0, n); 0 for n == 0. */
static inline uint64_t rnd(uint64_t n)
{
	return n ? rnd64() % n : 0;
}

/* chance() - true with probability @pct percent. */
static inline bool chance(unsigned pct)
{
	return rnd(100) < pct;
}

#endif /* UEXT4_TEST_RNG_H */
