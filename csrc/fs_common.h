/* fs_common.h: status codes and small helpers shared by every fastseq kernel.
 * Plain C11, no Python. */
#ifndef FS_COMMON_H
#define FS_COMMON_H

#include <stdint.h>

#define FS_VERSION "0.1.0"

#if defined(__GNUC__) || defined(__clang__)
#define FS_RESTRICT __restrict__
#else
#define FS_RESTRICT
#endif

typedef enum {
    FS_OK = 0,
    FS_ERR_ARG = 1,       /* an argument is out of range (mapped to ValueError) */
    FS_ERR_NOMEM = 2,     /* malloc failed (MemoryError) */
    FS_ERR_NONFINITE = 3  /* a value became NaN/inf (FloatingPointError) */
} fs_status;

/* SIMD paths chosen at run time. FS_SIMD_AUTO picks the best the CPU has. */
typedef enum {
    FS_SIMD_AUTO = -1,
    FS_SIMD_GENERIC = 0,
    FS_SIMD_AVX2 = 1,
    FS_SIMD_AVX512 = 2
} fs_simd;

/* Best SIMD level this CPU supports (never AUTO). */
int fs_simd_best(void);

/* splitmix64: turns any 64-bit value (seed, index) into a well-mixed one. */
static inline uint64_t fs_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* wyrand: one 64-bit multiply per draw, passes BigCrush; state is one word. */
static inline uint64_t fs_rand64(uint64_t *state)
{
    *state += 0xa0761d6478bd642fULL;
    __uint128_t t = (__uint128_t)(*state) * (*state ^ 0xe7037ed1a0b428dbULL);
    return (uint64_t)(t >> 64) ^ (uint64_t)t;
}

/* Uniform integer in [0, n) from the high 32 bits of r (Lemire's multiply-shift). */
static inline uint32_t fs_bounded(uint64_t r, uint32_t n)
{
    return (uint32_t)(((r >> 32) * (uint64_t)n) >> 32);
}

#endif
