/* fs_rnn.c: RNN / LSTM / GRU layers, forward and backward through time.
 *
 * Design: the kernel body lives in fs_rnn_impl.h and is compiled here six
 * times: for float and double (the gradient checks run the real code in
 * float64) and for three SIMD targets each (SSE2, AVX2+FMA, AVX-512), picked
 * at run time as fs_w2v.c does; no -march=native. The matrix products are our
 * own (a register-blocked micro-kernel over packed weight panels): at these
 * shapes it matches or beats the BLAS libraries measured on this machine (see
 * benchmarks/bench_rnn.py), lets the recurrent weights be packed once per call
 * instead of once per step, lets the gate math of a step run right after the
 * step's product while its output is still in cache, and keeps the package
 * free of a BLAS dependency. Here: argument checks and dispatch. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "fs_rnn.h"

#define FS_CAT2(a, b) a##_##b
#define FS_CAT(a, b) FS_CAT2(a, b)

/* 64-byte aligned scratch; fs_free(NULL) is a no-op */
static void *fs_alloc(size_t n)
{
    n = (n + 63) / 64 * 64;
    return aligned_alloc(64, n ? n : 64);
}

static void fs_free(void *p)
{
    free(p);
}

int fs_rnn_gates(int32_t mode)
{
    switch (mode) {
    case FS_RNN_TANH:
    case FS_RNN_RELU: return 1;
    case FS_RNN_LSTM: return 4;
    case FS_RNN_GRU: return 3;
    default: return 0;
    }
}

int64_t fs_rnn_workspace_size(const fs_rnn_params *p)
{
    int64_t G = fs_rnn_gates(p->mode);
    int64_t extra = (p->mode == FS_RNN_LSTM || p->mode == FS_RNN_GRU) ? 1 : 0;
    return p->T * p->B * p->H * (G + 1 + extra);
}

/* ---- instantiations: (float, double) x (generic, avx2, avx512) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FS_HAVE_X86_PATHS 1
#endif

#define FS_REAL_IS_DOUBLE 0
#define R float
#define RT f32
#include "fs_rnn_targets.h"
#undef R
#undef RT
#undef FS_REAL_IS_DOUBLE

#define FS_REAL_IS_DOUBLE 1
#define R double
#define RT f64
#include "fs_rnn_targets.h"
#undef R
#undef RT
#undef FS_REAL_IS_DOUBLE

/* ---- checks shared by both precisions */
static int pick_simd(int simd)
{
    int best = fs_simd_best();
    return (simd == FS_SIMD_AUTO || simd > best) ? best : simd;
}

static int params_ok(const fs_rnn_params *p)
{
    return p && fs_rnn_gates(p->mode) > 0 && p->T > 0 && p->B > 0 && p->I > 0 && p->H > 0;
}

/* lengths (NULL: all T) checked and copied; mact[s] = 1 + the last row still
 * running at step s (rows after it are all finished), so sorted lengths make
 * each step's products shrink to the running rows. */
static fs_status make_lengths(const fs_rnn_params *p, const int64_t *lengths, int64_t **len_out,
                              int64_t **mact_out)
{
    int64_t *len = malloc(sizeof(int64_t) * (size_t)p->B);
    int64_t *mact = malloc(sizeof(int64_t) * (size_t)p->T);
    if (!len || !mact) {
        free(len);
        free(mact);
        return FS_ERR_NOMEM;
    }
    for (int64_t b = 0; b < p->B; b++) {
        len[b] = lengths ? lengths[b] : p->T;
        if (len[b] < 1 || len[b] > p->T) {
            free(len);
            free(mact);
            return FS_ERR_ARG;
        }
    }
    for (int64_t s = 0; s < p->T; s++) {
        mact[s] = 0;
    }
    for (int64_t b = 0; b < p->B; b++) {
        for (int64_t s = 0; s < len[b]; s++) {
            mact[s] = b + 1;
        }
    }
    *len_out = len;
    *mact_out = mact;
    return FS_OK;
}

#define FS_DISPATCH(simd, fn, RTS, ...)                                                   \
    do {                                                                                  \
        int lvl_ = pick_simd(simd);                                                       \
        if (lvl_ == FS_SIMD_AVX512) {                                                     \
            st = fn##_##RTS##_avx512(__VA_ARGS__);                                        \
        } else if (lvl_ == FS_SIMD_AVX2) {                                                \
            st = fn##_##RTS##_avx2(__VA_ARGS__);                                          \
        } else {                                                                          \
            st = fn##_##RTS##_generic(__VA_ARGS__);                                       \
        }                                                                                 \
    } while (0)

#ifndef FS_HAVE_X86_PATHS
#define forward_f32_avx512 forward_f32_generic
#define forward_f32_avx2 forward_f32_generic
#define forward_f64_avx512 forward_f64_generic
#define forward_f64_avx2 forward_f64_generic
#define backward_f32_avx512 backward_f32_generic
#define backward_f32_avx2 backward_f32_generic
#define backward_f64_avx512 backward_f64_generic
#define backward_f64_avx2 backward_f64_generic
#define gemm_f32_avx512 gemm_f32_generic
#define gemm_f32_avx2 gemm_f32_generic
#endif

#define FS_DEFINE_API(R_, RTS)                                                                \
    fs_status fs_rnn_forward_##RTS(const fs_rnn_params *p, R_ *out, int64_t ld_out, R_ *h_n,  \
                                   R_ *c_n, R_ *ws, const R_ *x, int64_t ld_x, const R_ *h0,  \
                                   const R_ *c0, const R_ *w_ih, const R_ *w_hh,              \
                                   const R_ *b_ih, const R_ *b_hh, const int64_t *lengths,    \
                                   int n_threads)                                              \
    {                                                                                         \
        if (!params_ok(p) || !out || !h_n || !ws || !x || !w_ih || !w_hh ||                   \
            ld_out < p->H || ld_x < p->I || (p->mode == FS_RNN_LSTM && !c_n)) {               \
            return FS_ERR_ARG;                                                                \
        }                                                                                     \
        int64_t *len, *mact;                                                                  \
        fs_status st = make_lengths(p, lengths, &len, &mact);                                 \
        if (st != FS_OK) {                                                                    \
            return st;                                                                        \
        }                                                                                     \
        if (p->mode != FS_RNN_LSTM) {                                                         \
            c_n = NULL;                                                                       \
            c0 = NULL;                                                                        \
        }                                                                                     \
        FS_DISPATCH(p->simd, forward, RTS, p, out, ld_out, h_n, c_n, ws, x, ld_x, h0, c0,     \
                    w_ih, w_hh, b_ih, b_hh, len, mact, n_threads < 1 ? 1 : n_threads);        \
        free(len);                                                                            \
        free(mact);                                                                           \
        return st;                                                                            \
    }                                                                                         \
                                                                                              \
    fs_status fs_rnn_backward_##RTS(                                                          \
        const fs_rnn_params *p, R_ *dx, int64_t ld_dx, R_ *dh0, R_ *dc0, R_ *dw_ih,           \
        R_ *dw_hh, R_ *db_ih, R_ *db_hh, const R_ *dout, int64_t ld_dout, const R_ *dh_n,     \
        const R_ *dc_n, const R_ *ws, const R_ *x, int64_t ld_x, const R_ *h0, const R_ *c0,  \
        const R_ *w_ih, const R_ *w_hh, const int64_t *lengths, int n_threads)                \
    {                                                                                         \
        (void)h0;                                                                             \
        if (!params_ok(p) || !p->training || !ws || !x || !w_ih || !w_hh ||                   \
            (dx && ld_dx < p->I) || (dout && ld_dout < p->H) || ld_x < p->I) {                \
            return FS_ERR_ARG;                                                                \
        }                                                                                     \
        int64_t *len, *mact;                                                                  \
        fs_status st = make_lengths(p, lengths, &len, &mact);                                 \
        if (st != FS_OK) {                                                                    \
            return st;                                                                        \
        }                                                                                     \
        if (p->mode != FS_RNN_LSTM) {                                                         \
            dc0 = NULL;                                                                       \
            dc_n = NULL;                                                                      \
            c0 = NULL;                                                                        \
        }                                                                                     \
        FS_DISPATCH(p->simd, backward, RTS, p, dx, ld_dx, dh0, dc0, dw_ih, dw_hh, db_ih,      \
                    db_hh, dout, ld_dout, dh_n, dc_n, ws, x, ld_x, c0, w_ih, w_hh, len, mact, \
                    n_threads < 1 ? 1 : n_threads);                                           \
        free(len);                                                                            \
        free(mact);                                                                           \
        return st;                                                                            \
    }

FS_DEFINE_API(float, f32)
FS_DEFINE_API(double, f64)

fs_status fs_gemm_nt_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float *C, int64_t ldc, int beta, int simd,
                         int n_threads)
{
    if (M < 0 || N < 0 || K < 0 || !A || !B || !C || lda < K || ldb < K || ldc < N) {
        return FS_ERR_ARG;
    }
    fs_status st;
    FS_DISPATCH(simd, gemm, f32, M, N, K, A, lda, 1, B, 1, ldb, C, ldc, beta ? 1 : 0, NULL,
                n_threads < 1 ? 1 : n_threads);
    return st;
}
