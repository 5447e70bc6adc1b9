/* fs_rnn_targets.h: fs_rnn_impl.h once per SIMD target for the real type R
 * (included by fs_rnn.c once for float, once for double). Each target sets the
 * vector width VB in bytes and the micro-tile height MR so that the MR x 2
 * accumulator vectors fit the register file (16 registers for SSE2 / AVX2, 32
 * for AVX-512). */
#define FS_SFX generic
#define VB 16
#define MR 4
#include "fs_rnn_impl.h"
#undef FS_SFX
#undef VB
#undef MR

#ifdef FS_HAVE_X86_PATHS
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define FS_SFX avx2
#define VB 32
#define MR 6
#include "fs_rnn_impl.h"
#undef FS_SFX
#undef VB
#undef MR
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define FS_SFX avx512
#define VB 64
#define MR 8
#include "fs_rnn_impl.h"
#undef FS_SFX
#undef VB
#undef MR
#pragma GCC pop_options
#endif
