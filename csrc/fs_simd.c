/* fs_simd.c: which SIMD path the CPU can run. */
#include "fs_common.h"

int fs_simd_best(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return FS_SIMD_AVX512;
    }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        return FS_SIMD_AVX2;
    }
#endif
    return FS_SIMD_GENERIC;
}
