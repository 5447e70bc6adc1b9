/* fs_rnn_impl.h: the recurrent kernels' body, compiled once per (real type,
 * SIMD target). fs_rnn.c includes it with
 *   R      float or double      RT   f32 or f64 (name suffix)
 *   FS_SFX generic/avx2/avx512  VB   vector width in bytes    MR  rows per micro-tile
 * and a `#pragma GCC target` in force, so every function below exists once per
 * combination and the dispatcher picks one at run time.
 *
 * Design: one matrix-product micro-kernel (MR rows x NR = 2 vectors of
 * columns, accumulators in registers, GCC vector extensions so that the same
 * source is SSE2, AVX2 or AVX-512 code) serves every product. Weights are
 * packed once per call into NR-column panels; the recurrent weights are packed
 * per gate so that a "chunk" of NR hidden units owns NR columns of every gate,
 * and one thread can do a chunk's product and its gate math without waiting
 * for anybody. Threads split the batch rows (no synchronisation inside the
 * time loop) or, for batches too small to split, the chunks (one barrier per
 * step). Products over all time steps at once (the input projection, dx,
 * dw_ih, dw_hh) run as large GEMMs before / after the time loop.
 * Batch 1 forward with large weights, and short runs of small batches (see
 * use_dot), are different: every product there is (nearly) a matrix-vector
 * product bound by reading the weights, so they are read as dot products (w_ih
 * in place; w_hh in place, or at batch 1 for long enough sequences packed once
 * into tiles of a few rows read as one stream); each thread owns the
 * input and recurrent rows of its hidden units, computes its units' input
 * projections, then per step their recurrent products and gates, one barrier
 * a step, its rows of w_hh staying in its own L2. */

#define FS_F(name) FS_CAT(FS_CAT(name, RT), FS_SFX)
#define V FS_F(vec)
#define VU FS_F(uvec)
#define VL ((int)(VB / sizeof(R)))
#define NR (2 * VL)

typedef R V __attribute__((vector_size(VB)));
typedef R VU __attribute__((vector_size(VB), aligned(sizeof(R))));

/* ---------------------------------------------------------------- pointwise math */
#if FS_REAL_IS_DOUBLE
static inline R FS_F(sigm)(R x)
{
    return 1.0 / (1.0 + exp(-x));
}
static inline R FS_F(tanhr)(R x)
{
    return tanh(x);
}
/* e^-x, and the sigmoid and sigmoid(x) tanh(xt) from it (the LSTM's o and h share it) */
static inline R FS_F(expn)(R x)
{
    return exp(-x);
}
static inline R FS_F(sigm_e)(R e)
{
    return 1.0 / (1.0 + e);
}
static inline R FS_F(sigm_tanh_e)(R e, R xt)
{
    return 1.0 / (1.0 + e) * tanh(xt);
}
#else
/* exp and expm1 for float, branch-free so that loops over them vectorise:
 * x = n ln2 + r, |r| <= ln2/2 (n rounded with the 1.5 * 2^23 trick, no rint
 * call; ln2 split in two so that r is exact to float rounding), then
 * e^r - 1 = r P(r), P of degree 5 fitted for the least maximum relative error
 * on |r| <= ln2/2 (2.3e-8 in exact arithmetic; one FMA fewer than e^r's
 * Taylor series to r^7, which was as accurate), and 2^n put into the exponent
 * bits. The caller clamps x so that n stays in [-126, 127]. NaN stays NaN. */
static inline float FS_F(expm1_core)(float x, float *sc)
{
    float n = (x * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145752f;
    r = r - n * 1.42860677e-6f;
    float q = 0.00138888729f;
    q = q * r + 0.00836907607f;
    q = q * r + 0.0416671373f;
    q = q * r + 0.166665062f;
    q = q * r + 0.49999997f;
    q = q * r + 1.0f;
    union {
        int32_t i;
        float f;
    } s;
    s.i = ((int32_t)n + 127) << 23;
    *sc = s.f;
    return r * q; /* e^x = 2^n (1 + r q), e^x - 1 = 2^n r q + (2^n - 1) */
}
/* e^x, inputs clamped to [-87, 88] (finite, normal results) */
static inline float FS_F(expf)(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float sc;
    float p = FS_F(expm1_core)(x, &sc);
    return p * sc + sc;
}
static inline float FS_F(sigm)(float x)
{
    return 1.0f / (1.0f + FS_F(expf)(-x));
}
/* tanh |x| = e / (e + 2), e = e^(2|x|) - 1, the sign copied back from x.
 * Computing e^(2|x|) - 1 from 2^n r P(r) + (2^n - 1), two terms >= 0, has no
 * cancellation, so the relative error stays ~1e-7 near 0, where
 * 1 - 2 / (e^(2|x|) + 1) would lose it (this replaces an odd Taylor series
 * for |x| < 0.4 that was computed for every x, plus the blend). |x| is clamped
 * to 9.1, beyond which tanh rounds to 1 in float. em1_2abs(x) = e. */
static inline float FS_F(em1_2abs)(float x)
{
    float a = __builtin_fabsf(x);
    a = a > 9.1f ? 9.1f : a;
    float sc;
    float p = FS_F(expm1_core)(2.0f * a, &sc);
    return p * sc + (sc - 1.0f);
}
static inline float FS_F(tanhr)(float x)
{
    float e = FS_F(em1_2abs)(x);
    return __builtin_copysignf(e / (e + 2.0f), x);
}
/* e^-x (clamped as expf), and the sigmoid 1 / (1 + e^-x) from it */
static inline float FS_F(expn)(float x)
{
    return FS_F(expf)(-x);
}
static inline float FS_F(sigm_e)(float en)
{
    return 1.0f / (1.0f + en);
}
/* sigmoid(xs) tanh(xt) = e / ((1 + en) (e + 2)) with en = expn(xs), one divide
 * (the LSTM's h = o tanh(c), sharing en with o). Where the denominator
 * overflows (xs < -69), the result rounds to 0: an absolute error under 1e-30. */
static inline float FS_F(sigm_tanh_e)(float en, float xt)
{
    float e = FS_F(em1_2abs)(xt);
    return __builtin_copysignf(e / ((1.0f + en) * (e + 2.0f)), xt);
}
#endif
static inline R FS_F(sigm_tanh)(R xs, R xt)
{
    return FS_F(sigm_tanh_e)(FS_F(expn)(xs), xt);
}

#if !FS_REAL_IS_DOUBLE
/* y[i] = f(x[i]), f = e^x (op 0), sigmoid (1), tanh (2), or sigmoid(x[i])
 * tanh(x2[i]) (op 3): the gate math's own functions, exposed for the accuracy
 * tests */
static fs_status FS_F(pointwise)(int op, const float *x, const float *x2, float *y, int64_t n)
{
    if (op == 0) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            y[i] = FS_F(expf)(x[i]);
        }
    } else if (op == 1) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            y[i] = FS_F(sigm)(x[i]);
        }
    } else if (op == 2) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            y[i] = FS_F(tanhr)(x[i]);
        }
    } else if (op == 3 && x2) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            y[i] = FS_F(sigm_tanh)(x[i], x2[i]);
        }
    } else {
        return FS_ERR_ARG;
    }
    return FS_OK;
}
#endif

#if !FS_REAL_IS_DOUBLE
/* ---------------------------------------------------------------- FMA rate */
/* The core's peak: *flops (2 a lane) of FS_FMA_ACC independent chains of
 * vector multiply-adds (more than the FMA units' latency times their count,
 * so that they never wait), nothing from memory, for n rounds; seconds in
 * *secs. The compute floor of a roofline divides by this; benchmarks print it
 * beside the GEMM rates. */
#define FS_FMA_ACC 12
static fs_status FS_F(fma_rate)(int64_t n, double *secs, double *flops)
{
    V acc[FS_FMA_ACC];
    V m = (V){0} + 0.999999f, c = (V){0} + 1e-7f;
#pragma GCC unroll 16
    for (int i = 0; i < FS_FMA_ACC; i++) {
        acc[i] = (V){0} + (float)i;
    }
    double t0 = omp_get_wtime();
    for (int64_t r = 0; r < n; r++) {
#pragma GCC unroll 16
        for (int i = 0; i < FS_FMA_ACC; i++) {
            acc[i] = acc[i] * m + c;
        }
    }
    *secs = omp_get_wtime() - t0;
    float sum = 0;
    for (int i = 0; i < FS_FMA_ACC; i++) {
        for (int l = 0; l < VL; l++) {
            sum += acc[i][l];
        }
    }
    /* acc[i] tends to (a fixed point near) 1e-7 / 1e-6 = 0.1: never NaN,
     * so the sum is finite; the test keeps the chains from being dropped */
    *flops = sum == sum ? 2.0 * (double)n * FS_FMA_ACC * VL : 0.0;
    return FS_OK;
}
#endif

/* ---------------------------------------------------------------- micro-kernel */
/* C[0:m, 0:NR] (= or +=) A[0:m, 0:K] . P[0:K, 0:NR]; P a packed panel (NR values
 * per k, aligned); A row-major with leading dimension lda (ukrN: a(i,k) =
 * a[i*lda + k]) or column-major (ukrT: a(i,k) = a[k*lda + i], the transposed
 * operand of dW = dA^T X, read in place without a copy). */
#define FS_UKR_DEF(MRV, NAME, AIDX, PF)                                                  \
    static void FS_F(NAME##MRV)(int64_t K, const R *FS_RESTRICT a, int64_t lda,          \
                               const R *FS_RESTRICT pb, R *FS_RESTRICT c, int64_t ldc,   \
                               int acc)                                                   \
    {                                                                                     \
        V c0[MRV], c1[MRV];                                                               \
        _Pragma("GCC unroll 16") for (int i = 0; i < MRV; i++)                            \
        {                                                                                 \
            c0[i] = (V){0};                                                               \
            c1[i] = (V){0};                                                               \
        }                                                                                 \
        for (int64_t k = 0; k < K; k++) {                                                 \
            V b0 = *(const V *)(pb + k * NR);                                             \
            V b1 = *(const V *)(pb + k * NR + VL);                                        \
            PF;                                                                           \
            _Pragma("GCC unroll 16") for (int i = 0; i < MRV; i++)                        \
            {                                                                             \
                R ai = a[AIDX];                                                           \
                c0[i] += ai * b0;                                                         \
                c1[i] += ai * b1;                                                         \
            }                                                                             \
        }                                                                                 \
        _Pragma("GCC unroll 16") for (int i = 0; i < MRV; i++)                            \
        {                                                                                 \
            VU *d0 = (VU *)(c + i * ldc), *d1 = (VU *)(c + i * ldc + VL);                 \
            if (acc) {                                                                    \
                *d0 += c0[i];                                                             \
                *d1 += c1[i];                                                             \
            } else {                                                                      \
                *d0 = c0[i];                                                              \
                *d1 = c1[i];                                                              \
            }                                                                             \
        }                                                                                 \
    }

#define FS_AN (i * lda + k)
#define FS_AT (k * lda + i)
/* ukrT streams its tile of A (MRV values per k) once, from L2 or further: prefetched FS_PFK steps ahead */
#define FS_PFK 48
#define FS_NOPF ((void)0)
#define FS_PFT __builtin_prefetch(a + (k + FS_PFK) * lda)
FS_UKR_DEF(2, ukrN, FS_AN, FS_NOPF)
FS_UKR_DEF(3, ukrN, FS_AN, FS_NOPF)
FS_UKR_DEF(4, ukrN, FS_AN, FS_NOPF)
FS_UKR_DEF(2, ukrT, FS_AT, FS_PFT)
FS_UKR_DEF(3, ukrT, FS_AT, FS_PFT)
FS_UKR_DEF(4, ukrT, FS_AT, FS_PFT)
#if MR >= 6
FS_UKR_DEF(5, ukrN, FS_AN, FS_NOPF)
FS_UKR_DEF(6, ukrN, FS_AN, FS_NOPF)
FS_UKR_DEF(5, ukrT, FS_AT, FS_PFT)
FS_UKR_DEF(6, ukrT, FS_AT, FS_PFT)
#endif
#if MR >= 8
FS_UKR_DEF(7, ukrN, FS_AN, FS_NOPF)
FS_UKR_DEF(8, ukrN, FS_AN, FS_NOPF)
FS_UKR_DEF(7, ukrT, FS_AT, FS_PFT)
FS_UKR_DEF(8, ukrT, FS_AT, FS_PFT)
#endif
#undef FS_NOPF
#undef FS_PFT
#undef FS_AN
#undef FS_AT

/* one row: a matrix-vector product, with four partial sums over k so that the
 * FMA latency is hidden */
static void FS_F(ukr1)(int64_t K, const R *FS_RESTRICT a, int64_t ak, const R *FS_RESTRICT pb,
                       R *FS_RESTRICT c, int64_t ldc, int acc)
{
    V s[4][2];
    for (int u = 0; u < 4; u++) {
        s[u][0] = (V){0};
        s[u][1] = (V){0};
    }
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
#pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            R av = a[(k + u) * ak];
            s[u][0] += av * *(const V *)(pb + (k + u) * NR);
            s[u][1] += av * *(const V *)(pb + (k + u) * NR + VL);
        }
    }
    for (; k < K; k++) {
        s[0][0] += a[k * ak] * *(const V *)(pb + k * NR);
        s[0][1] += a[k * ak] * *(const V *)(pb + k * NR + VL);
    }
    V r0 = (s[0][0] + s[1][0]) + (s[2][0] + s[3][0]);
    V r1 = (s[0][1] + s[1][1]) + (s[2][1] + s[3][1]);
    VU *d0 = (VU *)c, *d1 = (VU *)(c + VL);
    if (acc) {
        *d0 += r0;
        *d1 += r1;
    } else {
        *d0 = r0;
        *d1 = r1;
    }
}

/* m <= MR rows of A against one panel; see FS_UKR_DEF. trans: A column-major. */
static void FS_F(ukr)(int m, int trans, int64_t K, const R *a, int64_t lda, const R *pb, R *c,
                      int64_t ldc, int acc)
{
    if (trans) {
        switch (m) {
        case 1: FS_F(ukr1)(K, a, lda, pb, c, ldc, acc); break;
        case 2: FS_F(ukrT2)(K, a, lda, pb, c, ldc, acc); break;
        case 3: FS_F(ukrT3)(K, a, lda, pb, c, ldc, acc); break;
        case 4: FS_F(ukrT4)(K, a, lda, pb, c, ldc, acc); break;
#if MR >= 6
        case 5: FS_F(ukrT5)(K, a, lda, pb, c, ldc, acc); break;
        case 6: FS_F(ukrT6)(K, a, lda, pb, c, ldc, acc); break;
#endif
#if MR >= 8
        case 7: FS_F(ukrT7)(K, a, lda, pb, c, ldc, acc); break;
        case 8: FS_F(ukrT8)(K, a, lda, pb, c, ldc, acc); break;
#endif
        default: break;
        }
        return;
    }
    switch (m) {
    case 1: FS_F(ukr1)(K, a, 1, pb, c, ldc, acc); break;
    case 2: FS_F(ukrN2)(K, a, lda, pb, c, ldc, acc); break;
    case 3: FS_F(ukrN3)(K, a, lda, pb, c, ldc, acc); break;
    case 4: FS_F(ukrN4)(K, a, lda, pb, c, ldc, acc); break;
#if MR >= 6
    case 5: FS_F(ukrN5)(K, a, lda, pb, c, ldc, acc); break;
    case 6: FS_F(ukrN6)(K, a, lda, pb, c, ldc, acc); break;
#endif
#if MR >= 8
    case 7: FS_F(ukrN7)(K, a, lda, pb, c, ldc, acc); break;
    case 8: FS_F(ukrN8)(K, a, lda, pb, c, ldc, acc); break;
#endif
    default: break;
    }
}

/* rows [r0, r1) of A against one panel, into C (column block of width NR) */
/* K is cut into FS_KC-long pieces so that a panel's piece (FS_KC * NR values)
 * stays in L1 while every row tile uses it */
#define FS_KC 256
static void FS_F(panel_rows)(int64_t r0, int64_t r1, int64_t K, const R *a, int64_t lda,
                             const R *pb, R *c, int64_t ldc, int acc)
{
    for (int64_t k0 = 0; k0 < K; k0 += FS_KC) {
        int64_t kl = K - k0 < FS_KC ? K - k0 : FS_KC;
        for (int64_t i = r0; i < r1; i += MR) {
            int m = (int)(r1 - i < MR ? r1 - i : MR);
            FS_F(ukr)(m, 0, kl, a + i * lda + k0, lda, pb + k0 * NR, c + i * ldc, ldc,
                      acc || k0 > 0);
        }
    }
}

/* ---------------------------------------------------------------- dot products */
/* Products as dot products: row r of W (N, K) is contiguous, so c[r] =
 * W[r,:] . a. A few rows at a time, one accumulator vector each; the
 * accumulators are then summed across their lanes together by a
 * transpose-reduce (log2(VL) levels of two shuffles and one add), which leaves
 * the results in one vector. Serves the small batches, where a product per
 * step is (nearly) a matrix-vector product bound by the bandwidth of reading
 * W: read in place (the input projections, short sequences) or, when the steps
 * repay one pass to pack it, from tiles that are read as one stream each
 * (pack_dot). */
#ifndef FS_DOT_MAXB
#define FS_DOT_MAXB 32 /* largest batch that takes this path (see use_dot) */
#endif
#ifndef FS_DOT_MINW
/* the smallest w_hh in bytes from which batch 1 takes it whatever T: below it
 * the packed product, whose packing is then cheap, is faster at T = 35
 * (measured: RNN H256 and LSTM H128 at 256 KiB 15 % faster packed, GRU H256 at
 * 768 KiB even, LSTM H256 and RNN H512 at 1 MiB 7-25 % faster here) */
#define FS_DOT_MINW (512 << 10)
#endif
#ifndef FS_DOT_PACKT
#define FS_DOT_PACKT 8 /* the fewest time steps for which batch 1 packs w_hh */
#endif

/* Whether a forward of T steps over B sequences with w_hh of wb bytes takes
 * the dot-product path. The other path packs w_ih and w_hh into panels before
 * its first step (at H1024 ~2.5 ms: 32 MiB read and written again), which a few
 * steps do not repay: a language model's one step per generated token (T = 1,
 * B = the beam), short sequences of small weights. The bounds on the rows
 * T * B were fitted to forward timings, 2 threads, H 64-1024, B 1-32, T 1-35,
 * AVX-512 and AVX2 (on the bounds the two paths tie): batch 1, always from
 * 512 KiB of w_hh (the packed tiles, FS_DOT_MINW) and below it up to
 * (wb + 16 KiB) / 9 KiB steps; batches 2-32, up to 8 rows, 24 from 2 MiB of
 * w_hh and 32 from 8 MiB (at T = 1, B = 2 the dot path took 0.45-0.6 ms
 * against 2.7-4 ms at LSTM H1024, 21 against 48 us at H128; B = 32, 2.2
 * against 4.0 ms). Past those rows the panels win: each thread reads w_hh once
 * a step for every three rows (AVX-512; every row on the other paths). */
static int FS_F(use_dot)(int64_t T, int64_t B, size_t wb)
{
    if (B < 1 || B > FS_DOT_MAXB) {
        return 0;
    }
    if (B == 1) {
        return wb >= FS_DOT_MINW || (size_t)T * (9 << 10) <= wb + (16 << 10);
    }
    const size_t mib = (size_t)1 << 20;
    return T * B <= (wb >= 8 * mib ? 32 : wb >= 2 * mib ? 24 : 8);
}
#if FS_REAL_IS_DOUBLE
#define FS_IT int64_t
#else
#define FS_IT int32_t
#endif
typedef FS_IT FS_F(ivec) __attribute__((vector_size(VB)));

/* The shuffles of the transpose-reduce, level by level: a and b each hold
 * VL / m rows of m partial sums (lane = row * m + p, m = VL >> level); lanes
 * [0, VL/2) of the result take a's rows, the rest b's, each row the sum of its
 * first and second m / 2 partial sums (lo + hi). */
#define FS_HM(m) ((m) > 1 ? (m) / 2 : 1)
#define FS_LO(l, m)                                                                   \
    (((l) / (VL / 2)) * VL + (((l) % (VL / 2)) / FS_HM(m)) * (m) + ((l) % (VL / 2)) % FS_HM(m))
/* a lane-index table row: F(l, x) for the 16 lanes of the widest vector (lanes
 * past VL unused); also builds the transpose masks of pack_t below */
#define FS_LANES(F, x)                                                                \
    {F(0, x),  F(1, x),  F(2, x),  F(3, x),  F(4, x),  F(5, x),  F(6, x),  F(7, x),  \
     F(8, x),  F(9, x),  F(10, x), F(11, x), F(12, x), F(13, x), F(14, x), F(15, x)}
#define FS_LOS(m) FS_LANES(FS_LO, m)
static const FS_IT FS_F(fold_lo)[4][16] __attribute__((aligned(64))) = {FS_LOS(VL), FS_LOS(VL / 2), FS_LOS(VL / 4),
                                            FS_LOS(VL / 8)};
#undef FS_HM
#undef FS_LO
#undef FS_LOS

static inline V FS_F(fold)(V a, V b, int level)
{
    FS_F(ivec) lo, hi;
    memcpy(&lo, FS_F(fold_lo)[level], sizeof lo);
    hi = lo + (FS_IT)((VL >> level) / 2);
    return __builtin_shuffle(a, b, lo) + __builtin_shuffle(a, b, hi);
}

/* rows per dot-product tile: one accumulator vector each, 8 at most (the row
 * pointers stay in general registers) */
#define FS_DR (VL < 8 ? VL : 8)

/* FS_DR vectors of VL partial sums -> one vector whose lane r < FS_DR holds the
 * sum of s[r] (lanes past FS_DR repeat). Written pair by pair rather than as a
 * loop over s, which GCC compiled (dot_end not inlined) to a round trip of the
 * accumulators through the stack, 24 vector stores a tile; inlined, they stay
 * in registers. In a loop of a step's products (LSTM H256 batch 1, 2 threads,
 * one block a thread: see forward) the step went from 5.6-5.9 us to 4.0 us. */
#define FS_S(i) s[(i) % FS_DR] /* indices past FS_DR only in branches not taken */
static inline __attribute__((always_inline)) V FS_F(reduce)(const V *s)
{
    V x;
    int level;
    if (FS_DR == 8) {
        V p0 = FS_F(fold)(FS_S(0), FS_S(1), 0), p1 = FS_F(fold)(FS_S(2), FS_S(3), 0);
        V p2 = FS_F(fold)(FS_S(4), FS_S(5), 0), p3 = FS_F(fold)(FS_S(6), FS_S(7), 0);
        x = FS_F(fold)(FS_F(fold)(p0, p1, 1), FS_F(fold)(p2, p3, 1), 2);
        level = 3;
    } else if (FS_DR == 4) {
        x = FS_F(fold)(FS_F(fold)(FS_S(0), FS_S(1), 0), FS_F(fold)(FS_S(2), FS_S(3), 0), 1);
        level = 2;
    } else {
        x = FS_F(fold)(FS_S(0), FS_S(1), 0);
        level = 1;
    }
#pragma GCC unroll 4
    for (; (VL >> level) > 1; level++) {
        x = FS_F(fold)(x, x, level);
    }
    return x;
}
#undef FS_S

/* The end of a tile of dot products: FS_DR vectors of VL partial sums (over
 * k < k0) -> FS_DR sums (reduce), then each sum finished over k0 <= k < K from
 * the rows of W (leading dimension ldw) and stored in c[r] for r < m. */
static inline __attribute__((always_inline)) void FS_F(dot_end)(const V *s, int m, int64_t k0,
                                                                int64_t K, const R *FS_RESTRICT w,
                                                                int64_t ldw, const R *FS_RESTRICT a,
                                                                R *FS_RESTRICT c)
{
    const V x = FS_F(reduce)(s);
    if (m == FS_DR && k0 == K) {
        memcpy(c, &x, FS_DR * sizeof(R));
        return;
    }
    for (int r = 0; r < m; r++) {
        R v = x[r];
        for (int64_t kk = k0; kk < K; kk++) {
            v += w[r * ldw + kk] * a[kk];
        }
        c[r] = v;
    }
}

/* c[0:m] = W[r, 0:K] . a[0:K] for rows r < m <= FS_DR of W (leading dimension ldw) */
static void FS_F(dotv)(int m, int64_t K, const R *FS_RESTRICT w, int64_t ldw,
                       const R *FS_RESTRICT a, R *FS_RESTRICT c)
{
    V s[FS_DR];
    const R *rp[FS_DR];
#pragma GCC unroll 8
    for (int r = 0; r < FS_DR; r++) {
        s[r] = (V){0};
        rp[r] = w + (r < m ? r : m - 1) * ldw; /* rows past m repeat the last, unused */
    }
    int64_t k = 0;
    for (; k + VL <= K; k += VL) {
        V av = *(const VU *)(a + k);
#pragma GCC unroll 8
        for (int r = 0; r < FS_DR; r++) {
            s[r] += *(const VU *)(rp[r] + k) * av;
        }
    }
    FS_F(dot_end)(s, m, k, K, w, ldw, a, c);
}

#if VB >= 64
/* FS_DA rows of A at once where there are 32 vector registers (24
 * accumulators): c[i, 0:m] = W[0:m, :] . a[i, :] for i < FS_DA. Row by row,
 * dotv loads 9 vectors per 8 FMAs; it ran the input projections of a batch-1
 * sequence (T rows of A) at ~100 GFLOP/s on one core, 44 % of its FMA rate, as
 * if the core loaded one 64-byte vector a cycle. Here one load of each W
 * vector serves FS_DA products (11 loads per 24 FMAs; the asm below keeps GCC
 * from folding the load into each FMA again). Measured, RNN H512 and
 * H1024 batch 1, T = 35, 2 threads: the whole forward 15 % faster than with
 * dotv (2 rows: 12 %). */
#define FS_DA 3
static void FS_F(dotv_a)(int m, int64_t K, const R *FS_RESTRICT w, int64_t ldw,
                         const R *FS_RESTRICT a, int64_t lda, R *FS_RESTRICT c, int64_t ldc)
{
    V s[FS_DA][FS_DR];
    const R *rp[FS_DR];
#pragma GCC unroll 8
    for (int r = 0; r < FS_DR; r++) {
        rp[r] = w + (r < m ? r : m - 1) * ldw;
#pragma GCC unroll 4
        for (int i = 0; i < FS_DA; i++) {
            s[i][r] = (V){0};
        }
    }
    int64_t k = 0;
    for (; k + VL <= K; k += VL) {
        V av[FS_DA];
#pragma GCC unroll 4
        for (int i = 0; i < FS_DA; i++) {
            av[i] = *(const VU *)(a + i * lda + k);
        }
#pragma GCC unroll 8
        for (int r = 0; r < FS_DR; r++) {
            V wv = *(const VU *)(rp[r] + k);
            __asm__("" : "+v"(wv));
#pragma GCC unroll 4
            for (int i = 0; i < FS_DA; i++) {
                s[i][r] += wv * av[i];
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < FS_DA; i++) {
        FS_F(dot_end)(s[i], m, k, K, w, ldw, a + i * lda, c + i * ldc);
    }
}
#else
#define FS_DA 1
#endif

/* c[i, r] = W[r, :] . a[i, :] for rows r0 <= r < r1 of W and rows i < M of A
 * (leading dimensions lda, ldc): the rows of W stay in L1 while every row of A
 * passes (FS_DA at a time). back: the tiles of rows in reverse order (see
 * forward). */
static void FS_F(dot_rows)(int64_t M, int64_t r0, int64_t r1, int64_t K, const R *w,
                           const R *a, int64_t lda, R *c, int64_t ldc, int back)
{
    const int64_t ntile = (r1 - r0 + FS_DR - 1) / FS_DR;
    for (int64_t q = 0; q < ntile; q++) {
        int64_t r = r0 + (back ? ntile - 1 - q : q) * FS_DR;
        int m = (int)(r1 - r < FS_DR ? r1 - r : FS_DR);
        int64_t i = 0;
#if FS_DA > 1
        for (; i + FS_DA <= M; i += FS_DA) {
            FS_F(dotv_a)(m, K, w + r * K, K, a + i * lda, lda, c + i * ldc + r, ldc);
        }
#endif
        for (; i < M; i++) {
            FS_F(dotv)(m, K, w + r * K, K, a + i * lda, c + i * ldc + r);
        }
    }
}

/* The recurrent weights of batch 1, packed once per call into tiles of FS_DR
 * rows with the rows' vectors interleaved, dst[(t K/VL + j) FS_DR + q][0:VL] =
 * W[t FS_DR + q, j VL : (j+1) VL] (a partial last tile repeats its last row;
 * columns past the last whole vector stay in W, for dot_end), so that each
 * step reads a tile as one stream. Read in place, a tile is FS_DR streams a
 * row apart; measured on this machine, FMA loops over 512 KiB tiles held in L2
 * read 116-121 GB/s a core that way and 176-207 GB/s packed (RNN H512,
 * LSTM H256 batch 1: their w_hh halves stay in the two cores' L2). */
static void FS_F(pack_dot)(R *FS_RESTRICT dst, const R *FS_RESTRICT w, int64_t rows, int64_t K)
{
    const int64_t kv = K / VL;
    for (int64_t t = 0; t < rows; t += FS_DR) {
        const int m = (int)(rows - t < FS_DR ? rows - t : FS_DR);
        R *d = dst + t * kv * VL;
        for (int64_t j = 0; j < kv; j++) {
            for (int q = 0; q < FS_DR; q++) {
                memcpy(d + (j * FS_DR + q) * VL, w + (t + (q < m ? q : m - 1)) * K + j * VL,
                       VL * sizeof(R));
            }
        }
    }
}

/* c[r] = W[r, :] . a for r0 <= r < r1, the whole vectors of W from the packed
 * tiles p of those rows (pack_dot of W's rows from r0), the rest from W.
 * back: the tiles in reverse order (see forward). */
static void FS_F(dotp_rows)(int64_t r0, int64_t r1, int64_t K, const R *p, const R *w,
                            const R *FS_RESTRICT a, R *c, int back)
{
    const int64_t kv = K / VL, ntile = (r1 - r0 + FS_DR - 1) / FS_DR;
    for (int64_t q = 0; q < ntile; q++) {
        const int64_t tq = back ? ntile - 1 - q : q, r = r0 + tq * FS_DR;
        const int m = (int)(r1 - r < FS_DR ? r1 - r : FS_DR);
        const R *FS_RESTRICT pt = p + tq * FS_DR * kv * VL;
        V s[FS_DR];
#pragma GCC unroll 8
        for (int i = 0; i < FS_DR; i++) {
            s[i] = (V){0};
        }
        for (int64_t j = 0; j < kv; j++) {
            V av = *(const VU *)(a + j * VL);
#pragma GCC unroll 8
            for (int i = 0; i < FS_DR; i++) {
                s[i] += *(const V *)(pt + (j * FS_DR + i) * VL) * av;
            }
        }
        FS_F(dot_end)(s, m, kv * VL, K, w + r * K, K, a, c + r);
    }
}

/* ---------------------------------------------------------------- packing */
/* The lane masks of a VL x VL block transpose, stage by stage (half block
 * h = VL/2, VL/4, ..., 1): rows a = r[i] and b = r[i + h], (i & h) == 0, swap
 * their off-diagonal h-blocks, lo[l] = (l & h) ? b[l - h] : a[l] and
 * hi[l] = (l & h) ? b[l] : a[l + h]. */
#define FS_TLO(l, h) (((l) & (h)) ? (l) - (h) + VL : (l))
#define FS_THI(l, h) (((l) & (h)) ? (l) + VL : (l) + (h))
#define FS_TM2(h) {FS_LANES(FS_TLO, h), FS_LANES(FS_THI, h)}
static const FS_IT FS_F(tmask)[4][2][16] __attribute__((aligned(64))) = {
    FS_TM2(VL / 2), FS_TM2(VL / 4 > 0 ? VL / 4 : 1), FS_TM2(VL / 8 > 0 ? VL / 8 : 1),
    FS_TM2(VL / 16 > 0 ? VL / 16 : 1)};
#undef FS_TLO
#undef FS_THI
#undef FS_TM2
#undef FS_LANES

/* r[0:VL] (rows of a VL x VL block) := their transpose */
static inline void FS_F(transpose)(V *r)
{
#pragma GCC unroll 4
    for (int lev = 0; (VL >> lev) > 1; lev++) {
        const int h = (VL >> lev) / 2;
        FS_F(ivec) lo, hi;
        memcpy(&lo, FS_F(tmask)[lev][0], sizeof lo);
        memcpy(&hi, FS_F(tmask)[lev][1], sizeof hi);
#pragma GCC unroll 16
        for (int i = 0; i < VL; i++) {
            if (!(i & h)) {
                V a = r[i], b = r[i + h];
                r[i] = __builtin_shuffle(a, b, lo);
                r[i + h] = __builtin_shuffle(a, b, hi);
            }
        }
    }
}

/* One panel from a matrix whose panel columns are its rows: dst[k*NR + j] =
 * src[j*ld + k*ks] for j < nj (0 for nj <= j < NR), k < K. A whole panel of a
 * row-major source (ks == 1) goes VL values of k at a time: the VL x VL blocks
 * of its two halves are loaded a row vector each, transposed in registers and
 * stored a panel row each, so every source line is used whole as soon as it is
 * read. Value by value (the rest), the NR source rows are read a value at a
 * time; at H = 1024 they are 4 KiB apart, all in one L1 set: a T = 1, batch 16
 * LSTM H1024 forward, mostly this packing of w_ih and w_hh, took 4.5-4.7 ms
 * that way and 3.0-3.2 ms blocked (GRU 3.4-3.5 / 2.0, LSTM H512 0.49 / 0.35),
 * where a plain copy of those 32 MiB takes ~2 ms on one core (NumPy copied
 * 64 MiB in 4.1 ms here). */
static void FS_F(pack_t)(R *FS_RESTRICT dst, const R *FS_RESTRICT src, int64_t ld, int64_t ks,
                         int64_t nj, int64_t K)
{
    int64_t k = 0;
    if (ks == 1 && nj == NR) {
        for (; k + VL <= K; k += VL) {
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) {
                V r[VL];
#pragma GCC unroll 16
                for (int i = 0; i < VL; i++) {
                    r[i] = *(const VU *)(src + (half * VL + i) * ld + k);
                }
                FS_F(transpose)(r);
#pragma GCC unroll 16
                for (int i = 0; i < VL; i++) {
                    *(VU *)(dst + (k + i) * NR + half * VL) = r[i];
                }
            }
        }
    }
    for (; k < K; k++) {
        R *d = dst + k * NR;
        const R *s = src + k * ks;
        if (nj == NR) {
#pragma omp simd
            for (int64_t j = 0; j < NR; j++) {
                d[j] = s[j * ld];
            }
        } else {
            for (int64_t j = 0; j < NR; j++) {
                d[j] = j < nj ? s[j * ld] : (R)0;
            }
        }
    }
}

/* ---------------------------------------------------------------- general product */
/* C (M, N; ldc) = beta*C + op(A) . op(B) (+ bias[j]), a(i,k) = A[i*ars + k*acs],
 * b(k,j) = B[k*brs + j*bcs]. B is packed into panels once. A is read in place
 * when it is row-major (acs == 1) or already tiled (acs == 0: the layout of
 * put_tiled below, which backward writes dA in as it computes it); otherwise
 * each block of rows is copied into MR-row tiles stored k-major (the layout ukrT
 * reads). Reading a transposed A (dW = dA^T X) in place would stride by the row
 * length, often a multiple of 4 KiB, where every k lands in the same L1 set.
 * Opens its own parallel region. */
#define FS_GEMM_MC 64
#define FS_GEMM_MCR ((FS_GEMM_MC + MR - 1) / MR * MR)

/* bytes of scratch gemm takes from its arena */
static size_t FS_F(gemm_need)(int64_t N, int64_t K, int64_t acs, int nt)
{
    size_t npan = (size_t)((N + NR - 1) / NR);
    size_t need = fs_round64(npan * (size_t)K * NR * sizeof(R));
    if (acs > 1) {
        need += (size_t)nt * fs_round64((size_t)FS_GEMM_MCR * (size_t)K * sizeof(R));
    }
    return need;
}

/* The tiled layout of a transposed operand, (M, K) for a product over K: rows
 * in tiles of MR, tile t holding a(t*MR + r, k) at t*K*MR + k*MR + r, i.e. MR
 * values per k, contiguous in k (what ukrT reads). put_tiled stores a(c, k) =
 * src[c] for c0 <= c < c1: one column of it, in runs of at most MR. */
static inline void FS_F(put_tiled)(R *FS_RESTRICT dst, int64_t K, int64_t k, int64_t c0,
                                   int64_t c1, const R *FS_RESTRICT src)
{
    int64_t c = c0;
    while (c < c1) {
        int64_t r = c % MR, n = MR - r < c1 - c ? MR - r : c1 - c;
        R *d = dst + (c / MR) * K * MR + k * MR + r;
        if (n == MR) {
            memcpy(d, src + c, MR * sizeof(R));
        } else {
            for (int64_t i = 0; i < n; i++) {
                d[i] = src[c + i];
            }
        }
        c += n;
    }
}

/* One right-hand side of a product: C (M, N; ldc) against B, b(k,j) = B[k*brs + j*bcs]. */
typedef struct {
    int64_t N;
    const R *B;
    int64_t brs, bcs;
    R *C;
    int64_t ldc;
} FS_F(gside);

/* C_s = beta*C_s + op(A) . op(B_s) for the nsd <= 2 sides s, A read once for
 * both (dW_ih and dW_hh share dA); bias (side 0 only) as in gemm below. */
static fs_status FS_F(gemm2)(int64_t M, int64_t K, const R *A, int64_t ars, int64_t acs,
                             const FS_F(gside) * sd, int nsd, int beta, const R *bias,
                             fs_arena ar, int nt)
{
    const int64_t np0 = (sd[0].N + NR - 1) / NR;
    const int64_t npan = np0 + (nsd > 1 ? (sd[1].N + NR - 1) / NR : 0);
    if (M <= 0 || npan <= 0) {
        return FS_OK;
    }
    if (K <= 0) {
        for (int si = 0; si < nsd; si++) {
            const int64_t N = sd[si].N, ldc = sd[si].ldc;
            R *C = sd[si].C;
            const R *bs = si == 0 ? bias : NULL;
            if (beta && !bs) {
                continue;
            }
            for (int64_t i = 0; i < M; i++) {
                for (int64_t j = 0; j < N; j++) {
                    C[i * ldc + j] = (beta ? C[i * ldc + j] : (R)0) + (bs ? bs[j] : (R)0);
                }
            }
        }
        return FS_OK;
    }
    R *pb = fs_take(&ar, (size_t)(npan * K * NR) * sizeof(R));
    if (!pb) {
        return FS_ERR_NOMEM;
    }
    /* blocks of rows: whole tiles of MR rows (as A comes when tiled), at most
     * FS_GEMM_MCR rows, the tiles shared out evenly (blocks differ by one tile
     * at most), and, when there are more blocks than threads, a multiple of the
     * threads in number (unless there are fewer tiles), so that the threads get
     * as many rows each (35 blocks of 64 rows at T = 35, B = 64 had given one
     * thread a block more than the other; 9 blocks at B = 16, 5 against 4) */
    const int64_t ntl = (M + MR - 1) / MR;
    int64_t nmb = (ntl + FS_GEMM_MCR / MR - 1) / (FS_GEMM_MCR / MR);
    if (nmb > nt) {
        nmb = (nmb + nt - 1) / nt * nt;
        nmb = nmb < ntl ? nmb : ntl;
    }
    /* jobs are (row block, group of panels); enough groups to keep every thread busy */
    int64_t nnb = (4 * (int64_t)nt + nmb - 1) / nmb;
    nnb = nnb < 1 ? 1 : (nnb > npan ? npan : nnb);
    const int64_t npb = (npan + nnb - 1) / nnb;
    nnb = (npan + npb - 1) / npb;
    int err = FS_OK;
    if ((int64_t)nt > nmb * nnb) {
        nt = (int)(nmb * nnb > 0 ? nmb * nnb : 1);
    }
    R *ablk_all = NULL;
    const size_t ablk_stride = fs_round64((size_t)FS_GEMM_MCR * (size_t)K * sizeof(R)) / sizeof(R);
    if (acs > 1) {
        ablk_all = fs_take(&ar, (size_t)nt * ablk_stride * sizeof(R));
        if (!ablk_all) {
            return FS_ERR_NOMEM;
        }
    }
#pragma omp parallel num_threads(nt)
    {
#pragma omp for schedule(static)
        for (int64_t q = 0; q < npan; q++) {
            R *dst = pb + q * K * NR;
            const FS_F(gside) *e = sd + (q >= np0);
            const R *B = e->B;
            const int64_t brs = e->brs, bcs = e->bcs;
            int64_t j0 = (q >= np0 ? q - np0 : q) * NR, nj = e->N - j0 < NR ? e->N - j0 : NR;
            if (bcs == 1) {
                for (int64_t k = 0; k < K; k++) {
                    const R *src = B + k * brs + j0;
                    for (int64_t j = 0; j < nj; j++) {
                        dst[k * NR + j] = src[j];
                    }
                    for (int64_t j = nj; j < NR; j++) {
                        dst[k * NR + j] = 0;
                    }
                }
            } else {
                FS_F(pack_t)(dst, B + j0 * bcs, bcs, brs, nj, K);
            }
        }
        R ctile[FS_GEMM_MCR * NR] __attribute__((aligned(64)));
        const int trans = acs != 1;
        R *ablk = acs > 1 ? ablk_all + (size_t)omp_get_thread_num() * ablk_stride : NULL;
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int64_t mb = 0; mb < nmb; mb++) {
            for (int64_t nb = 0; nb < nnb; nb++) {
                int64_t i0 = ntl * mb / nmb * MR, i1 = ntl * (mb + 1) / nmb * MR;
                int64_t mi = (i1 < M ? i1 : M) - i0;
                const R *a;
                int64_t lda;
                if (acs == 1) {
                    a = A + i0 * ars;
                    lda = ars;
                } else if (acs == 0) {
                    a = A + i0 * K;
                    lda = MR;
                } else {
                    /* tile t holds rows i0 + t*MR + r as ablk[t*K*MR + k*MR + r] */
                    for (int64_t k = 0; k < K; k++) {
                        const R *src = A + i0 * ars + k * acs;
                        for (int64_t i = 0; i < mi; i++) {
                            ablk[(i / MR) * K * MR + k * MR + i % MR] = src[i * ars];
                        }
                    }
                    a = ablk;
                    lda = MR;
                }
                int64_t q1 = (nb + 1) * npb < npan ? (nb + 1) * npb : npan;
                for (int64_t q = nb * npb; q < q1; q++) {
                    const R *panel = pb + q * K * NR;
                    const FS_F(gside) *e = sd + (q >= np0);
                    R *C = e->C;
                    const int64_t ldc = e->ldc;
                    const R *bs = q >= np0 ? NULL : bias;
                    int64_t j0 = (q >= np0 ? q - np0 : q) * NR, nj = e->N - j0 < NR ? e->N - j0 : NR;
                    /* a full panel accumulates straight into C, an edge one into ctile */
                    const int full = nj == NR;
                    R *dst = full ? C + i0 * ldc + j0 : ctile;
                    const int64_t ldd = full ? ldc : NR;
                    for (int64_t k0 = 0; k0 < K; k0 += FS_KC) {
                        int64_t kl = K - k0 < FS_KC ? K - k0 : FS_KC;
                        int acc = k0 > 0 || (full && beta);
                        for (int64_t i = 0; i < mi; i += MR) {
                            int m = (int)(mi - i < MR ? mi - i : MR);
                            const R *ai = trans ? a + i * K + k0 * MR : a + i * lda + k0;
                            FS_F(ukr)(m, trans, kl, ai, lda, panel + k0 * NR, dst + i * ldd, ldd,
                                      acc);
                        }
                    }
                    if (full && bs) {
                        for (int64_t r = 0; r < mi; r++) {
                            for (int64_t j = 0; j < NR; j++) {
                                dst[r * ldc + j] += bs[j0 + j];
                            }
                        }
                    } else if (!full) {
                        R *c = C + i0 * ldc + j0;
                        for (int64_t r = 0; r < mi; r++) {
                            for (int64_t j = 0; j < nj; j++) {
                                R v = ctile[r * NR + j] + (bs ? bs[j0 + j] : (R)0);
                                c[r * ldc + j] = beta ? c[r * ldc + j] + v : v;
                            }
                        }
                    }
                }
            }
        }
    }
    return (fs_status)err;
}

static fs_status FS_F(gemm)(int64_t M, int64_t N, int64_t K, const R *A, int64_t ars, int64_t acs,
                            const R *B, int64_t brs, int64_t bcs, R *C, int64_t ldc, int beta,
                            const R *bias, fs_arena ar, int nt)
{
    const FS_F(gside) sd = {N, B, brs, bcs, C, ldc};
    return FS_F(gemm2)(M, K, A, ars, acs, &sd, 1, beta, bias, ar, nt);
}

/* ---------------------------------------------------------------- layout helpers */
typedef struct {
    int64_t T, B, I, H, G, GH;
    int64_t nch, Hp; /* chunks of NR hidden units, Hp = nch * NR */
    int mode, reverse;
    R *act, *hprev, *aux; /* workspace views: (T,B,GH), (T,B,H), (T,B,H) cells / hn */
} FS_F(layout);

static void FS_F(layout_init)(FS_F(layout) * L, const fs_rnn_params *p, R *ws)
{
    L->T = p->T;
    L->B = p->B;
    L->I = p->I;
    L->H = p->H;
    L->G = fs_rnn_gates(p->mode);
    L->GH = L->G * L->H;
    L->nch = (L->H + NR - 1) / NR;
    L->Hp = L->nch * NR;
    L->mode = p->mode;
    L->reverse = p->reverse;
    L->act = ws;
    L->hprev = ws + L->T * L->B * L->GH;
    L->aux = L->hprev + L->T * L->B * L->H;
}

/* How the threads share a step: by rows (no barrier) when every thread gets at
 * least a full micro-tile of rows, else by chunks of hidden units; always by
 * chunks on the dot-product path (dot), where each thread owns its units' rows
 * of both weights. */
static void FS_F(split)(const FS_F(layout) * L, int tid, int nth, int dot, int *by_rows,
                        int64_t *r0, int64_t *r1, int64_t *c0, int64_t *c1)
{
    *by_rows = nth == 1 || (!dot && L->B >= (int64_t)nth * MR);
    if (*by_rows) {
        int64_t ntile = (L->B + MR - 1) / MR;
        *r0 = ntile * tid / nth * MR;
        *r1 = ntile * (tid + 1) / nth * MR;
        *r1 = *r1 < L->B ? *r1 : L->B;
        *r0 = *r0 < L->B ? *r0 : L->B;
        *c0 = 0;
        *c1 = L->nch;
    } else {
        *r0 = 0;
        *r1 = L->B;
        *c0 = L->nch * tid / nth;
        *c1 = L->nch * (tid + 1) / nth;
    }
}

/* ---------------------------------------------------------------- scratch */
/* Bytes of scratch forward (backward = 0) or backward (1) takes: the packed
 * weights, per-step buffers and, for backward, the pre-activation gradients of
 * every step; then the large products reuse what is left. */
static size_t FS_F(scratch_need)(const fs_rnn_params *p, int backward, int nt)
{
    const size_t T = (size_t)p->T, B = (size_t)p->B, H = (size_t)p->H, I = (size_t)p->I;
    const size_t G = (size_t)fs_rnn_gates(p->mode), GH = G * H;
    const size_t nch = (H + NR - 1) / NR, Hp = nch * NR, sz = sizeof(R);
    size_t need = 64; /* the arena's start is aligned up */
    if (!backward) {
        need += fs_round64(GH * sz) + fs_round64(G * nch * H * NR * sz) + fs_round64(B * G * Hp * sz) +
                fs_round64(2 * B * H * sz) + fs_round64(B * H * sz);
        return need + FS_F(gemm_need)((int64_t)GH, (int64_t)I, 1, nt);
    }
    const size_t GHt = (GH + MR - 1) / MR * MR; /* dA tiled: whole tiles */
    need += fs_round64(T * B * GH * sz) +
            fs_round64(T * B * GHt * sz) * (p->mode == FS_RNN_GRU ? 2 : 1) +
            fs_round64(nch * GH * NR * sz) + fs_round64(2 * B * GH * sz) +
            fs_round64(2 * B * Hp * sz) + fs_round64(B * H * sz);
    size_t g1 = FS_F(gemm_need)((int64_t)I, (int64_t)GH, 1, nt);
    /* dW_ih and dW_hh together: their panels, one edge panel each at most */
    size_t g2 = FS_F(gemm_need)((int64_t)(I + H + NR), (int64_t)(T * B), 0, nt);
    return need + (g1 > g2 ? g1 : g2);
}

/* ---------------------------------------------------------------- forward */
static fs_status FS_F(forward)(const fs_rnn_params *p, R *out, int64_t ld_out, R *h_n, R *c_n,
                               R *ws, const R *x, int64_t ld_x, const R *h0, const R *c0,
                               const R *w_ih, const R *w_hh, const R *b_ih, const R *b_hh,
                               const int64_t *len, const int64_t *mact, fs_arena ar, int nt)
{
    FS_F(layout) L;
    FS_F(layout_init)(&L, p, ws);
    const int64_t T = L.T, B = L.B, I = L.I, H = L.H, G = L.G, GH = L.GH, Hp = L.Hp,
                  nch = L.nch;
    const int mode = L.mode, rev = L.reverse, train = p->training;
    const int64_t GHp = G * Hp;
    /* small batches: products by dot products against the weights as they are */
    const int dotp = FS_F(use_dot)(T, B, (size_t)(GH * H) * sizeof(R));
    /* and w_hh packed for it (pack_dot) when there are steps enough to repay
     * the packing (a pass over w_hh, about as long as a step or two): measured
     * at T = 35, 2 threads, the forward 14 % faster for RNN H512, 10 % GRU H512,
     * 8 % LSTM H256 and H512, even at H1024 (w_hh from L3 both ways); at T = 1
     * (generating a token at a time) packing only costs, 11 us at LSTM H256 */
    const int packw = dotp && B == 1 && T >= FS_DOT_PACKT;
    /* At H1024 the packing is 7 % (RNN), 13 % (GRU) and 22 % (LSTM) of a T = 35
     * call, measured against a build that skipped it: 12-17 MB of w_hh read
     * from memory and written once more. Tried without a measurable gain
     * (interleaved whole-process A/B runs, 2 threads): packing row by row (one
     * read stream) instead of eight rows at once; packing tile by tile between
     * the input projections, with the tile's rows prefetched to L2 during them;
     * a split of the hidden units that follows each thread's measured time per
     * step (0.6-3 % slower). Keeping the packed copy between calls would need
     * to know that w_hh has not changed, which raw NumPy writes do not tell. */

    /* combined input bias: b_ih + b_hh, except GRU's n gate, whose b_hn sits inside r*(.) */
    R *bx = fs_take(&ar, (size_t)GH * sizeof(R));
    R *wf = fs_take(&ar, (size_t)(G * nch * H * NR) * sizeof(R));
    R *gbuf = fs_take(&ar, (size_t)(B * GHp) * sizeof(R));
    R *hbuf = fs_take(&ar, (size_t)(2 * B * H) * sizeof(R));
    R *cbuf = fs_take(&ar, (size_t)(B * H) * sizeof(R));
    if (!bx || !wf || !gbuf || !hbuf || !cbuf) {
        return FS_ERR_NOMEM;
    }
    for (int64_t j = 0; j < GH; j++) {
        R v = b_ih ? b_ih[j] : (R)0;
        if (b_hh && !(mode == FS_RNN_GRU && j >= 2 * H)) {
            v += b_hh[j];
        }
        bx[j] = v;
    }
    const R *b_hn = (mode == FS_RNN_GRU && b_hh) ? b_hh + 2 * H : NULL;

    /* all input projections at once: act (T*B, GH) = x . w_ih^T; the biases are
     * added in the gate math, where they cost one cached load, not a pass over act */
    if (!dotp) {
        fs_status st =
            FS_F(gemm)(T * B, GH, I, x, ld_x, 1, w_ih, 1, I, L.act, GH, 0, NULL, ar, nt);
        if (st != FS_OK) {
            return st;
        }
    }

#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        /* recurrent weights, per chunk and gate: wf[c][g][k][j] = w_hh[g*H + c*NR + j][k]
         * (a chunk's gates side by side: when the threads split the chunks, each
         * reads one block, and packs about the chunks it then reads) */
#pragma omp for schedule(static)
        for (int64_t cg = 0; cg < (dotp ? 0 : G * nch); cg++) {
            int64_t c = cg / G, g = cg % G;
            int64_t nj = H - c * NR < NR ? H - c * NR : NR;
            FS_F(pack_t)(wf + cg * H * NR, w_hh + (g * H + c * NR) * H, H, 1, nj, H);
        }
        /* outputs past a length are zero; so are the saved states there (backward reads them) */
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            for (int64_t b = 0; b < B; b++) {
                if (t >= len[b]) {
                    memset(out + (t * B + b) * ld_out, 0, (size_t)H * sizeof(R));
                    if (train) {
                        memset(L.hprev + (t * B + b) * H, 0, (size_t)H * sizeof(R));
                    }
                }
            }
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            for (int64_t j = 0; j < H; j++) {
                hbuf[b * H + j] = h0 ? h0[b * H + j] : (R)0;
                cbuf[b * H + j] = c0 ? c0[b * H + j] : (R)0;
            }
        }
        /* implicit barrier: packed weights and initial states are ready */
        int by_rows;
        int64_t r0, r1, ch0, ch1;
        FS_F(split)(&L, tid, nth, dotp, &by_rows, &r0, &r1, &ch0, &ch1);
        const int64_t u0 = ch0 * NR, u1 = ch1 * NR < H ? ch1 * NR : H;
        /* dot path: wf holds this thread's packed rows of w_hh, gate after gate,
         * at wft (gate g at wft + g * gst): one block per thread, not one per
         * gate with the threads' rows side by side. Timed on this machine in a
         * loop of the step's products alone, LSTM H256 batch 1, 2 threads (each
         * thread's 512 KiB in its own L2): 2.9-3.5 us a step from one block,
         * 4.5-4.8 us from four blocks 256 KiB apart (why, we could not tell
         * without hardware counters: prefetches running past a block's end,
         * or L2 sets). The blocks tile wf: G * u0 * kvh is where the rows of
         * the threads before end (their u1 - u0 are whole chunks). */
        const int64_t kvh = H / VL * VL;
        const int64_t gst = (u1 - u0 + FS_DR - 1) / FS_DR * FS_DR * kvh;
        R *wft = wf + (u1 > u0 ? G * u0 * kvh : 0);
        if (dotp) {
            /* this thread's units' input projections and packed recurrent rows:
             * only this thread reads them (the packed ones from its own L2) */
            for (int64_t g = 0; g < G; g++) {
                FS_F(dot_rows)(T * B, g * H + u0, g * H + u1, I, w_ih, x, ld_x, L.act, GH, 0);
                if (packw) {
                    FS_F(pack_dot)(wft + g * gst, w_hh + (g * H + u0) * H, u1 - u0, H);
                }
            }
        }
        R *hcur = hbuf, *hnext = hbuf + B * H;
        for (int64_t s = 0; s < T; s++) {
            int64_t ra = r1 < mact[s] ? r1 : mact[s]; /* rows past ra are all finished */
            if (dotp && ra > r0) {
                /* every other step walks this thread's rows of w_hh backwards: when
                 * they are a little more than its L2 holds, the rows used last are
                 * still there (a cyclic walk would miss on every row) */
                const int back = (int)(s & 1);
                for (int64_t q = 0; q < G; q++) {
                    int64_t g = back ? G - 1 - q : q;
                    if (!packw) {
                        FS_F(dot_rows)(ra - r0, u0, u1, H, w_hh + g * H * H, hcur + r0 * H, H,
                                       gbuf + r0 * GHp + g * Hp, GHp, back);
                        continue;
                    }
                    for (int64_t b = r0; b < ra; b++) {
                        FS_F(dotp_rows)(u0, u1, H, wft + g * gst, w_hh + g * H * H,
                                        hcur + b * H, gbuf + b * GHp + g * Hp, back);
                    }
                }
            } else if (ra > r0 && u1 > u0) {
                for (int64_t c = ch0; c < ch1; c++) {
                    for (int64_t g = 0; g < G; g++) {
                        FS_F(panel_rows)(r0, ra, H, hcur, H, wf + (c * G + g) * H * NR,
                                         gbuf + g * Hp + c * NR, GHp, 0);
                    }
                }
            }
            for (int64_t b = r0; b < r1; b++) {
                const R *hp = hcur + b * H;
                R *hn = hnext + b * H;
                if (s >= len[b]) {
                    for (int64_t j = u0; j < u1; j++) {
                        hn[j] = hp[j];
                    }
                    continue;
                }
                int64_t t = rev ? len[b] - 1 - s : s;
                int64_t tb = t * B + b;
                R *a = L.act + tb * GH;
                const R *gh = gbuf + b * GHp;
                R *o = out + tb * ld_out;
                if (train) {
                    R *sv = L.hprev + tb * H;
                    for (int64_t j = u0; j < u1; j++) {
                        sv[j] = hp[j];
                    }
                }
                if (mode == FS_RNN_LSTM && !train) {
                    /* inference: nothing kept for backward, so no gate values nor
                     * cell states stored (the act rows stay clean in the cache,
                     * nothing written back), and o is not needed on its own:
                     * h = sigm_tanh_e, one divide fewer. Same arithmetic as below:
                     * the same results. */
                    R *cs = cbuf + b * H;
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R ig = FS_F(sigm)(a[j] + gh[j] + bx[j]);
                        R fg = FS_F(sigm)(a[H + j] + gh[Hp + j] + bx[H + j]);
                        R gg = FS_F(tanhr)(a[2 * H + j] + gh[2 * Hp + j] + bx[2 * H + j]);
                        R cn = fg * cs[j] + ig * gg;
                        R eo = FS_F(expn)(a[3 * H + j] + gh[3 * Hp + j] + bx[3 * H + j]);
                        R h = FS_F(sigm_tanh_e)(eo, cn);
                        cs[j] = cn;
                        hn[j] = h;
                        o[j] = h;
                    }
                } else if (mode == FS_RNN_LSTM) {
                    R *cs = cbuf + b * H;
                    R *csave = L.aux + tb * H;
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R ig = FS_F(sigm)(a[j] + gh[j] + bx[j]);
                        R fg = FS_F(sigm)(a[H + j] + gh[Hp + j] + bx[H + j]);
                        R gg = FS_F(tanhr)(a[2 * H + j] + gh[2 * Hp + j] + bx[2 * H + j]);
                        R eo = FS_F(expn)(a[3 * H + j] + gh[3 * Hp + j] + bx[3 * H + j]);
                        R og = FS_F(sigm_e)(eo);
                        R cn = fg * cs[j] + ig * gg;
                        R h = FS_F(sigm_tanh_e)(eo, cn);
                        a[j] = ig;
                        a[H + j] = fg;
                        a[2 * H + j] = gg;
                        a[3 * H + j] = og;
                        cs[j] = cn;
                        csave[j] = cn;
                        hn[j] = h;
                        o[j] = h;
                    }
                } else if (mode == FS_RNN_GRU) {
                    R *hnsave = L.aux + tb * H;
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R rg = FS_F(sigm)(a[j] + gh[j] + bx[j]);
                        R zg = FS_F(sigm)(a[H + j] + gh[Hp + j] + bx[H + j]);
                        R hh = gh[2 * Hp + j] + (b_hn ? b_hn[j] : (R)0);
                        R ng = FS_F(tanhr)(a[2 * H + j] + bx[2 * H + j] + rg * hh);
                        R h = ng + zg * (hp[j] - ng);
                        a[j] = rg;
                        a[H + j] = zg;
                        a[2 * H + j] = ng;
                        hnsave[j] = hh;
                        hn[j] = h;
                        o[j] = h;
                    }
                } else if (mode == FS_RNN_TANH) {
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R h = FS_F(tanhr)(a[j] + gh[j] + bx[j]);
                        a[j] = h;
                        hn[j] = h;
                        o[j] = h;
                    }
                } else {
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R v = a[j] + gh[j] + bx[j];
                        R h = v > 0 ? v : (R)0;
                        a[j] = h;
                        hn[j] = h;
                        o[j] = h;
                    }
                }
            }
            R *tmp = hcur;
            hcur = hnext;
            hnext = tmp;
            if (!by_rows) {
#pragma omp barrier
            }
        }
        /* a finished sequence kept its state, so the last buffer holds every final state */
        for (int64_t b = r0; b < r1; b++) {
            for (int64_t j = u0; j < u1; j++) {
                h_n[b * H + j] = hcur[b * H + j];
                if (c_n) {
                    c_n[b * H + j] = cbuf[b * H + j];
                }
            }
        }
    }
    return FS_OK;
}

/* ---------------------------------------------------------------- backward */
static fs_status FS_F(backward)(const fs_rnn_params *p, R *dx, int64_t ld_dx, R *dh0, R *dc0,
                                R *dw_ih, R *dw_hh, R *db_ih, R *db_hh, const R *dout,
                                int64_t ld_dout, const R *dh_n, const R *dc_n, const R *ws,
                                const R *x, int64_t ld_x, const R *c0, const R *w_ih,
                                const R *w_hh, const int64_t *len, const int64_t *mact,
                                fs_arena ar, int nt)
{
    FS_F(layout) L;
    FS_F(layout_init)(&L, p, (R *)ws);
    const int64_t T = L.T, B = L.B, I = L.I, H = L.H, GH = L.GH, Hp = L.Hp, nch = L.nch;
    const int mode = L.mode, rev = L.reverse;
    const int two = mode == FS_RNN_GRU; /* GRU: the recurrent side sees r * da_n */

    /* dA (T, B, GH): gradient of the pre-activations, input side (for dx); the
     * same transposed and tiled for the weight gradients (see put_tiled), written
     * as it is computed so that dW = dA^T X needs no transposing copy: dat the
     * input side, daht the recurrent side (GRU: r * da_n in the n gate) */
    const int64_t K = T * B, GHt = (GH + MR - 1) / MR * MR;
    R *da = fs_take(&ar, (size_t)(K * GH) * sizeof(R));
    R *dat = fs_take(&ar, (size_t)(K * GHt) * sizeof(R));
    R *daht = two ? fs_take(&ar, (size_t)(K * GHt) * sizeof(R)) : dat;
    R *wb = fs_take(&ar, (size_t)(nch * GH * NR) * sizeof(R));
    R *sbuf = fs_take(&ar, (size_t)(2 * B * GH) * sizeof(R)); /* this step's dAh, double-buffered */
    R *dhbuf = fs_take(&ar, (size_t)(2 * B * Hp) * sizeof(R));
    R *dcbuf = fs_take(&ar, (size_t)(B * H) * sizeof(R));
    fs_status st = FS_OK;
    if (!da || !dat || !daht || !wb || !sbuf || !dhbuf || !dcbuf) {
        return FS_ERR_NOMEM;
    }

#pragma omp parallel num_threads(nt)
    {
        int tid = omp_get_thread_num(), nth = omp_get_num_threads();
        /* wb[c][k][j] = w_hh[k][c*NR + j], k < GH: dh = dAh . w_hh */
#pragma omp for schedule(static)
        for (int64_t c = 0; c < nch; c++) {
            R *dst = wb + c * GH * NR;
            for (int64_t k = 0; k < GH; k++) {
                for (int64_t j = 0; j < NR; j++) {
                    int64_t u = c * NR + j;
                    dst[k * NR + j] = u < H ? w_hh[k * H + u] : (R)0;
                }
            }
        }
        /* no gradient past a length */
#pragma omp for schedule(static)
        for (int64_t t = 0; t < T; t++) {
            for (int64_t b = 0; b < B; b++) {
                if (t >= len[b]) {
                    memset(da + (t * B + b) * GH, 0, (size_t)GH * sizeof(R));
                    for (int64_t q = 0; q < GHt / MR; q++) {
                        memset(dat + (q * K + t * B + b) * MR, 0, MR * sizeof(R));
                        memset(daht + (q * K + t * B + b) * MR, 0, MR * sizeof(R));
                    }
                }
            }
        }
#pragma omp for schedule(static)
        for (int64_t b = 0; b < B; b++) {
            memset(dhbuf + b * Hp, 0, (size_t)Hp * sizeof(R));
            memset(dhbuf + (B + b) * Hp, 0, (size_t)Hp * sizeof(R));
            for (int64_t j = 0; j < H; j++) {
                dhbuf[b * Hp + j] = dh_n ? dh_n[b * H + j] : (R)0;
                dcbuf[b * H + j] = dc_n ? dc_n[b * H + j] : (R)0;
            }
        }
        int by_rows;
        int64_t r0, r1, ch0, ch1;
        FS_F(split)(&L, tid, nth, 0, &by_rows, &r0, &r1, &ch0, &ch1);
        const int64_t u0 = ch0 * NR, u1 = ch1 * NR < H ? ch1 * NR : H;
        R *dcur = dhbuf, *dnext = dhbuf + B * Hp;
        for (int64_t s = T - 1; s >= 0; s--) {
            R *sb = sbuf + (s & 1) * B * GH;
            int64_t ra = r1 < mact[s] ? r1 : mact[s];
            for (int64_t b = r0; b < r1; b++) {
                R *dcb = dcur + b * Hp, *dnb = dnext + b * Hp;
                R *sr = sb + b * GH;
                if (s >= len[b]) {
                    /* finished: the state passed through unchanged, so does its gradient */
                    for (int64_t j = u0; j < u1; j++) {
                        dnb[j] = dcb[j];
                    }
                    if (b < ra) {
                        for (int64_t g = 0; g < L.G; g++) {
                            for (int64_t j = u0; j < u1; j++) {
                                sr[g * H + j] = 0;
                            }
                        }
                    }
                    continue;
                }
                int64_t t = rev ? len[b] - 1 - s : s;
                int64_t tb = t * B + b;
                const R *a = L.act + tb * GH;
                const R *go = dout ? dout + tb * ld_dout : NULL;
                R *d = da + tb * GH;
                if (mode == FS_RNN_LSTM) {
                    const R *cc = L.aux + tb * H;
                    /* the cell this step started from */
                    const R *cp = s == 0 ? (c0 ? c0 + b * H : NULL)
                                         : L.aux + ((rev ? t + 1 : t - 1) * B + b) * H;
                    R *dc = dcbuf + b * H;
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R dh = dcb[j] + (go ? go[j] : (R)0);
                        R ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
                        R tc = FS_F(tanhr)(cc[j]);
                        R dct = dc[j] + dh * og * (1 - tc * tc);
                        R cpj = cp ? cp[j] : (R)0;
                        R di = dct * gg * ig * (1 - ig);
                        R df = dct * cpj * fg * (1 - fg);
                        R dg = dct * ig * (1 - gg * gg);
                        R dob = dh * tc * og * (1 - og);
                        dc[j] = dct * fg;
                        d[j] = di;
                        d[H + j] = df;
                        d[2 * H + j] = dg;
                        d[3 * H + j] = dob;
                        sr[j] = di;
                        sr[H + j] = df;
                        sr[2 * H + j] = dg;
                        sr[3 * H + j] = dob;
                        dnb[j] = 0;
                    }
                } else if (mode == FS_RNN_GRU) {
                    const R *hh = L.aux + tb * H;
                    const R *hp = L.hprev + tb * H;
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R dh = dcb[j] + (go ? go[j] : (R)0);
                        R rg = a[j], zg = a[H + j], ng = a[2 * H + j];
                        R dn = dh * (1 - zg) * (1 - ng * ng);
                        R dz = dh * (hp[j] - ng) * zg * (1 - zg);
                        R dr = dn * hh[j] * rg * (1 - rg);
                        d[j] = dr;
                        d[H + j] = dz;
                        d[2 * H + j] = dn;
                        sr[j] = dr;
                        sr[H + j] = dz;
                        sr[2 * H + j] = dn * rg;
                        dnb[j] = dh * zg;
                    }
                } else if (mode == FS_RNN_TANH) {
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R dh = dcb[j] + (go ? go[j] : (R)0);
                        R v = dh * (1 - a[j] * a[j]);
                        d[j] = v;
                        sr[j] = v;
                        dnb[j] = 0;
                    }
                } else {
#pragma omp simd
                    for (int64_t j = u0; j < u1; j++) {
                        R dh = dcb[j] + (go ? go[j] : (R)0);
                        R v = a[j] > 0 ? dh : (R)0;
                        d[j] = v;
                        sr[j] = v;
                        dnb[j] = 0;
                    }
                }
                for (int64_t g = 0; g < L.G; g++) {
                    FS_F(put_tiled)(dat, K, tb, g * H + u0, g * H + u1, d);
                    if (two) {
                        FS_F(put_tiled)(daht, K, tb, g * H + u0, g * H + u1, sr);
                    }
                }
            }
            if (!by_rows) {
#pragma omp barrier
            }
            if (ra > r0) {
                for (int64_t c = ch0; c < ch1; c++) {
                    FS_F(panel_rows)(r0, ra, GH, sb, GH, wb + c * GH * NR, dnext + c * NR, Hp, 1);
                }
            }
            R *tmp = dcur;
            dcur = dnext;
            dnext = tmp;
        }
        for (int64_t b = r0; b < r1; b++) {
            for (int64_t j = u0; j < u1; j++) {
                if (dh0) {
                    dh0[b * H + j] = dcur[b * Hp + j];
                }
                if (dc0) {
                    dc0[b * H + j] = dcbuf[b * H + j];
                }
            }
        }
    }

    /* the products over all steps at once */
    if (dx) {
        st = FS_F(gemm)(T * B, I, GH, da, GH, 1, w_ih, I, 1, dx, ld_dx, 1, NULL, ar, nt);
        if (st != FS_OK) {
            return st;
        }
    }
    /* dW_ih = dA^T x, dW_hh = dAh^T h_prev: one product when dA is both */
    const FS_F(gside) wi = {I, x, ld_x, 1, dw_ih, I}, wh = {H, L.hprev, H, 1, dw_hh, H};
    if (dw_ih && dw_hh && dat == daht) {
        const FS_F(gside) both[2] = {wi, wh};
        st = FS_F(gemm2)(GH, K, dat, 0, 0, both, 2, 1, NULL, ar, nt);
    } else {
        if (dw_ih) {
            st = FS_F(gemm2)(GH, K, dat, 0, 0, &wi, 1, 1, NULL, ar, nt);
        }
        if (dw_hh && st == FS_OK) {
            st = FS_F(gemm2)(GH, K, daht, 0, 0, &wh, 1, 1, NULL, ar, nt);
        }
    }
    if (st != FS_OK) {
        return st;
    }
    if (db_ih || db_hh) {
        /* column sums of the tiled dA, a tile (MR columns) at a time */
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t q = 0; q < GHt / MR; q++) {
            R si[MR], sh[MR];
            for (int64_t r = 0; r < MR; r++) {
                si[r] = 0;
                sh[r] = 0;
            }
            const R *d1 = dat + q * K * MR, *d2 = daht + q * K * MR;
            for (int64_t k = 0; k < K; k++) {
#pragma omp simd
                for (int64_t r = 0; r < MR; r++) {
                    si[r] += d1[k * MR + r];
                    sh[r] += d2[k * MR + r];
                }
            }
            for (int64_t r = 0; r < MR && q * MR + r < GH; r++) {
                if (db_ih) {
                    db_ih[q * MR + r] += si[r];
                }
                if (db_hh) {
                    db_hh[q * MR + r] += sh[r];
                }
            }
        }
    }
    return FS_OK;
}

#undef FS_DR
#undef FS_DA
#undef FS_IT
#undef FS_F
#undef V
#undef VU
#undef VL
#undef NR
