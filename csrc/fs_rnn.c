/* fs_rnn.c: RNN / LSTM / GRU layers, forward and backward through time.
 *
 * Design: the kernel body lives in fs_rnn_impl.h and is compiled here six
 * times: for float and double (the gradient checks run the real code in
 * float64) and for three SIMD targets each (SSE2, AVX2+FMA, AVX-512), picked
 * at run time as fs_w2v.c does; no host-specific -march flag. The matrix products are our
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

/* Scratch comes from one caller-owned buffer (NumPy keeps it between calls, so
 * large buffers are not mapped and faulted in again on every call), cut into
 * 64-byte aligned pieces. */
typedef struct {
    unsigned char *p;
    size_t left;
} fs_arena;

static size_t fs_round64(size_t n)
{
    return (n + 63) / 64 * 64;
}

static void *fs_take(fs_arena *a, size_t bytes)
{
    size_t n = fs_round64(bytes ? bytes : 1);
    if (!a->p || n > a->left) {
        return NULL;
    }
    void *r = a->p;
    a->p += n;
    a->left -= n;
    return r;
}

static fs_arena fs_arena_init(void *buf, size_t bytes)
{
    fs_arena a = {NULL, 0};
    uintptr_t u = (uintptr_t)buf, up = (u + 63) / 64 * 64;
    if (buf && bytes >= up - u) {
        a.p = (unsigned char *)up;
        a.left = bytes - (up - u);
    }
    return a;
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

/* What a call holds besides its arguments: checked lengths, the scratch arena
 * (in the caller's buffer, or in one allocated here when it gave none). */
typedef struct {
    int64_t *len, *mact;
    void *own;
    fs_arena ar;
} fs_call;

static fs_status call_begin(fs_call *c, const fs_rnn_params *p, const int64_t *lengths,
                            void *scratch, int64_t scratch_bytes, int64_t need)
{
    fs_status st = make_lengths(p, lengths, &c->len, &c->mact);
    if (st != FS_OK) {
        return st;
    }
    c->own = NULL;
    if (!scratch) {
        scratch_bytes = need;
        scratch = c->own = malloc((size_t)need);
    }
    c->ar = fs_arena_init(scratch, scratch_bytes < 0 ? 0 : (size_t)scratch_bytes);
    return FS_OK;
}

static void call_end(fs_call *c)
{
    free(c->own);
    free(c->len);
    free(c->mact);
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
#define scratch_need_f32_avx512 scratch_need_f32_generic
#define scratch_need_f32_avx2 scratch_need_f32_generic
#define scratch_need_f64_avx512 scratch_need_f64_generic
#define scratch_need_f64_avx2 scratch_need_f64_generic
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
#define pointwise_f32_avx512 pointwise_f32_generic
#define pointwise_f32_avx2 pointwise_f32_generic
#define fma_rate_f32_avx512 fma_rate_f32_generic
#define fma_rate_f32_avx2 fma_rate_f32_generic
#endif

#define FS_DEFINE_API(R_, RTS)                                                                \
    int64_t fs_rnn_scratch_size_##RTS(const fs_rnn_params *p, int n_threads)                  \
    {                                                                                         \
        if (!params_ok(p)) {                                                                  \
            return 0;                                                                         \
        }                                                                                     \
        n_threads = n_threads < 1 ? 1 : n_threads;                                            \
        size_t f, b;                                                                          \
        int lvl = pick_simd(p->simd);                                                         \
        if (lvl == FS_SIMD_AVX512) {                                                          \
            f = scratch_need_##RTS##_avx512(p, 0, n_threads);                                 \
            b = scratch_need_##RTS##_avx512(p, 1, n_threads);                                 \
        } else if (lvl == FS_SIMD_AVX2) {                                                     \
            f = scratch_need_##RTS##_avx2(p, 0, n_threads);                                   \
            b = scratch_need_##RTS##_avx2(p, 1, n_threads);                                   \
        } else {                                                                              \
            f = scratch_need_##RTS##_generic(p, 0, n_threads);                                \
            b = scratch_need_##RTS##_generic(p, 1, n_threads);                                \
        }                                                                                     \
        return (int64_t)(f > b ? f : b);                                                      \
    }                                                                                         \
                                                                                              \
    fs_status fs_rnn_forward_##RTS(const fs_rnn_params *p, R_ *out, int64_t ld_out, R_ *h_n,  \
                                   R_ *c_n, R_ *ws, const R_ *x, int64_t ld_x, const R_ *h0,  \
                                   const R_ *c0, const R_ *w_ih, const R_ *w_hh,              \
                                   const R_ *b_ih, const R_ *b_hh, const int64_t *lengths,    \
                                   void *scratch, int64_t scratch_bytes, int n_threads)       \
    {                                                                                         \
        if (!params_ok(p) || !out || !h_n || !ws || !x || !w_ih || !w_hh ||                   \
            ld_out < p->H || ld_x < p->I || (p->mode == FS_RNN_LSTM && !c_n)) {               \
            return FS_ERR_ARG;                                                                \
        }                                                                                     \
        n_threads = n_threads < 1 ? 1 : n_threads;                                            \
        fs_call cl;                                                                           \
        fs_status st = call_begin(&cl, p, lengths, scratch, scratch_bytes,                    \
                                  scratch ? 0 : fs_rnn_scratch_size_##RTS(p, n_threads));     \
        if (st != FS_OK) {                                                                    \
            return st;                                                                        \
        }                                                                                     \
        if (p->mode != FS_RNN_LSTM) {                                                         \
            c_n = NULL;                                                                       \
            c0 = NULL;                                                                        \
        }                                                                                     \
        FS_DISPATCH(p->simd, forward, RTS, p, out, ld_out, h_n, c_n, ws, x, ld_x, h0, c0,     \
                    w_ih, w_hh, b_ih, b_hh, cl.len, cl.mact, cl.ar, n_threads);               \
        call_end(&cl);                                                                        \
        return st;                                                                            \
    }                                                                                         \
                                                                                              \
    fs_status fs_rnn_backward_##RTS(                                                          \
        const fs_rnn_params *p, R_ *dx, int64_t ld_dx, R_ *dh0, R_ *dc0, R_ *dw_ih,           \
        R_ *dw_hh, R_ *db_ih, R_ *db_hh, const R_ *dout, int64_t ld_dout, const R_ *dh_n,     \
        const R_ *dc_n, const R_ *ws, const R_ *x, int64_t ld_x, const R_ *h0, const R_ *c0,  \
        const R_ *w_ih, const R_ *w_hh, const int64_t *lengths, void *scratch,                \
        int64_t scratch_bytes, int n_threads)                                                 \
    {                                                                                         \
        (void)h0;                                                                             \
        if (!params_ok(p) || !p->training || !ws || !x || !w_ih || !w_hh ||                   \
            (dx && ld_dx < p->I) || (dout && ld_dout < p->H) || ld_x < p->I) {                \
            return FS_ERR_ARG;                                                                \
        }                                                                                     \
        n_threads = n_threads < 1 ? 1 : n_threads;                                            \
        fs_call cl;                                                                           \
        fs_status st = call_begin(&cl, p, lengths, scratch, scratch_bytes,                    \
                                  scratch ? 0 : fs_rnn_scratch_size_##RTS(p, n_threads));     \
        if (st != FS_OK) {                                                                    \
            return st;                                                                        \
        }                                                                                     \
        if (p->mode != FS_RNN_LSTM) {                                                         \
            dc0 = NULL;                                                                       \
            dc_n = NULL;                                                                      \
            c0 = NULL;                                                                        \
        }                                                                                     \
        FS_DISPATCH(p->simd, backward, RTS, p, dx, ld_dx, dh0, dc0, dw_ih, dw_hh, db_ih,      \
                    db_hh, dout, ld_dout, dh_n, dc_n, ws, x, ld_x, c0, w_ih, w_hh, cl.len,    \
                    cl.mact, cl.ar, n_threads);                                               \
        call_end(&cl);                                                                        \
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
    n_threads = n_threads < 1 ? 1 : n_threads;
    size_t need = 64 + (size_t)(N + 64) * (size_t)(K > 0 ? K : 1) * sizeof(float);
    void *buf = malloc(need);
    fs_arena ar = fs_arena_init(buf, need);
    FS_DISPATCH(simd, gemm, f32, M, N, K, A, lda, 1, B, 1, ldb, C, ldc, beta ? 1 : 0, NULL, ar,
                n_threads);
    free(buf);
    return st;
}

fs_status fs_rnn_pointwise_f32(int op, const float *x, const float *x2, float *y, int64_t n,
                               int simd)
{
    fs_status st;
    if (n < 0 || (n > 0 && (!x || !y))) {
        return FS_ERR_ARG;
    }
    FS_DISPATCH(simd, pointwise, f32, op, x, x2, y, n);
    return st;
}

double fs_fma_rate_f32(int64_t n, int simd, int n_threads)
{
    if (n < 1) {
        return 0.0;
    }
    n_threads = n_threads < 1 ? 1 : n_threads;
    double rate = 0.0;
    int bad = 0;
#pragma omp parallel num_threads(n_threads) reduction(+ : rate) reduction(| : bad)
    {
        double secs = 0.0, flops = 0.0;
        fs_status st;
        /* every thread's loop at once: the threads start together */
#pragma omp barrier
        FS_DISPATCH(simd, fma_rate, f32, n, &secs, &flops);
        if (st != FS_OK || flops <= 0.0 || secs <= 0.0) {
            bad = 1;
        } else {
            rate += flops / secs;
        }
    }
    return bad ? 0.0 : rate;
}
