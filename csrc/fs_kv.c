/* fs_kv.c: top-k selection over query scores.
 *
 * Design: the matrix product that scores every word against a block of queries
 * is BLAS's job (NumPy); what is left is picking the k best of each row, which
 * NumPy can only do with a full argpartition (several passes and a copy per
 * row). Here each row is read once: a block of 64 values is divided by the
 * word norms (the same float32 division gensim does, so the scores agree to the
 * bit) and compared with the current k-th best; only a block holding a better
 * value touches the heap. The comparison loop vectorises, and the row function
 * is compiled for AVX-512, AVX2 and baseline x86-64 and picked at load time.
 * Rows are shared out to OpenMP threads; each thread owns its heap.
 *
 * fs_kv_parse_w2v_bin walks the records of a word2vec binary file (memchr for the
 * word's end, memcpy for the vector), leaving only the decoding of words to Python. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_kv.h"

#define FS_KV_BLOCK 64

#if defined(__x86_64__) && defined(__GLIBC__) && defined(__GNUC__) && !defined(__clang__)
#define FS_KV_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FS_KV_CLONES
#endif

typedef struct {
    float val;
    int64_t idx;
} fs_kv_item;

/* a is worse than b: lower value, or the same value at a later column */
static inline int fs_kv_worse(fs_kv_item a, fs_kv_item b)
{
    return a.val < b.val || (a.val == b.val && a.idx > b.idx);
}

/* heap[0] is the worst of the kept items (a min-heap under fs_kv_worse) */
static void fs_kv_sift_down(fs_kv_item *heap, int64_t size, int64_t i)
{
    fs_kv_item x = heap[i];
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= size) {
            break;
        }
        if (c + 1 < size && fs_kv_worse(heap[c + 1], heap[c])) {
            c++;
        }
        if (!fs_kv_worse(heap[c], x)) {
            break;
        }
        heap[i] = heap[c];
        i = c;
    }
    heap[i] = x;
}

static void fs_kv_sift_up(fs_kv_item *heap, int64_t i)
{
    fs_kv_item x = heap[i];
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!fs_kv_worse(x, heap[p])) {
            break;
        }
        heap[i] = heap[p];
        i = p;
    }
    heap[i] = x;
}

static int fs_kv_excluded(int64_t j, const int64_t *ex, int64_t n_ex)
{
    for (int64_t t = 0; t < n_ex; t++) {
        if (ex[t] == j) {
            return 1;
        }
    }
    return 0;
}

/* Put `it` (known to beat the threshold) into the heap of the k best; returns the
 * new threshold: the worst kept value once the heap is full, -inf before. */
static inline float fs_kv_offer(fs_kv_item *heap, int64_t k, int64_t *size, fs_kv_item it)
{
    if (*size < k) {
        heap[*size] = it;
        fs_kv_sift_up(heap, *size);
        (*size)++;
        return *size == k ? heap[0].val : -INFINITY;
    }
    heap[0] = it;
    fs_kv_sift_down(heap, k, 0);
    return heap[0].val;
}

/* Empty the heap into one query's outputs, best first, -1 / -inf padded to k. */
static void fs_kv_drain(fs_kv_item *heap, int64_t size, int64_t k, int64_t *oi, float *ov)
{
    for (int64_t t = size; t < k; t++) {
        oi[t] = -1;
        ov[t] = -INFINITY;
    }
    /* pop the worst first: fill the output from the back */
    for (int64_t t = size - 1; t >= 0; t--) {
        oi[t] = heap[0].idx;
        ov[t] = heap[0].val;
        heap[0] = heap[t];
        fs_kv_sift_down(heap, t, 0);
    }
}

/* One row: keep the k best of row[j] / norms[j] in heap (size returned). */
FS_KV_CLONES
static int64_t fs_kv_topk_row(fs_kv_item *FS_RESTRICT heap, int64_t k,
                              const float *FS_RESTRICT row, int64_t n,
                              const float *FS_RESTRICT norms,
                              const int64_t *ex, int64_t n_ex)
{
    float buf[FS_KV_BLOCK];
    int64_t size = 0;
    /* values must beat thr to enter; -inf until the heap is full (so -inf, NaN never enter) */
    float thr = -INFINITY;
    for (int64_t j0 = 0; j0 < n; j0 += FS_KV_BLOCK) {
        int64_t len = n - j0 < FS_KV_BLOCK ? n - j0 : FS_KV_BLOCK;
        int hit = 0;
        if (norms) {
            for (int64_t t = 0; t < len; t++) {
                buf[t] = row[j0 + t] / norms[j0 + t];
                hit |= buf[t] > thr;
            }
        } else {
            for (int64_t t = 0; t < len; t++) {
                buf[t] = row[j0 + t];
                hit |= buf[t] > thr;
            }
        }
        if (!hit) {
            continue;
        }
        for (int64_t t = 0; t < len; t++) {
            /* columns arrive in increasing order, so an equal value never beats a kept one */
            if (!(buf[t] > thr)) {
                continue;
            }
            int64_t j = j0 + t;
            if (n_ex && fs_kv_excluded(j, ex, n_ex)) {
                continue;
            }
            thr = fs_kv_offer(heap, k, &size, (fs_kv_item){buf[t], j});
        }
    }
    return size;
}

/* Queries q0 .. q0 + len (len <= FS_KV_QCHUNK) of a transposed score matrix: the k best
 * of column q, scores_t[j, q] / norms[j], into heaps[t * k ..]; sizes out. */
#define FS_KV_QCHUNK 16
FS_KV_CLONES
static void fs_kv_topk_cols_chunk(fs_kv_item *FS_RESTRICT heaps, int64_t *sizes, int64_t k,
                                  const float *FS_RESTRICT scores_t, int64_t n, int64_t ld,
                                  int64_t q0, int len, const float *FS_RESTRICT norms,
                                  const int64_t *exclude_start, const int64_t *exclude)
{
    float thr[FS_KV_QCHUNK], buf[FS_KV_QCHUNK];
    for (int t = 0; t < FS_KV_QCHUNK; t++) {
        thr[t] = -INFINITY;
    }
    for (int t = 0; t < len; t++) {
        sizes[t] = 0;
    }
    for (int64_t j = 0; j < n; j++) {
        const float *row = scores_t + j * ld + q0;
        const float nj = norms ? norms[j] : 1.0f;
        int hit = 0;
        for (int t = 0; t < len; t++) {
            buf[t] = norms ? row[t] / nj : row[t];
            hit |= buf[t] > thr[t];
        }
        if (!hit) {
            continue;
        }
        for (int t = 0; t < len; t++) {
            if (!(buf[t] > thr[t])) {
                continue;
            }
            if (exclude_start) {
                int64_t a = exclude_start[q0 + t], b = exclude_start[q0 + t + 1];
                if (b > a && fs_kv_excluded(j, exclude + a, b - a)) {
                    continue;
                }
            }
            thr[t] = fs_kv_offer(heaps + t * k, k, sizes + t, (fs_kv_item){buf[t], j});
        }
    }
}

fs_status fs_kv_topk_cols(int64_t *out_idx, float *out_val, int64_t k, const float *scores_t,
                          int64_t n, int64_t n_query, const float *norms,
                          const int64_t *exclude_start, const int64_t *exclude, int n_threads)
{
    if (k < 1 || n_query < 0 || n < 0 || n_threads < 1) {
        return FS_ERR_ARG;
    }
    const int64_t n_chunks = (n_query + FS_KV_QCHUNK - 1) / FS_KV_QCHUNK;
    int failed = 0;
#pragma omp parallel num_threads(n_threads) if (n_chunks > 1)
    {
        fs_kv_item *heaps = malloc(sizeof(fs_kv_item) * (size_t)(FS_KV_QCHUNK * k));
        int64_t sizes[FS_KV_QCHUNK];
        if (!heaps) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t c = 0; c < n_chunks; c++) {
            if (!heaps) {
                continue;
            }
            int64_t q0 = c * FS_KV_QCHUNK;
            int len = (int)(n_query - q0 < FS_KV_QCHUNK ? n_query - q0 : FS_KV_QCHUNK);
            fs_kv_topk_cols_chunk(heaps, sizes, k, scores_t, n, n_query, q0, len, norms,
                                  exclude_start, exclude);
            for (int t = 0; t < len; t++) {
                fs_kv_drain(heaps + t * k, sizes[t], k, out_idx + (q0 + t) * k,
                            out_val + (q0 + t) * k);
            }
        }
        free(heaps);
    }
    return failed ? FS_ERR_NOMEM : FS_OK;
}

fs_status fs_kv_topk(int64_t *out_idx, float *out_val, int64_t k,
                     const float *scores, int64_t n_query, int64_t n,
                     const float *norms,
                     const int64_t *exclude_start, const int64_t *exclude,
                     int n_threads)
{
    if (k < 1 || n_query < 0 || n < 0 || n_threads < 1) {
        return FS_ERR_ARG;
    }
    int failed = 0;
#pragma omp parallel num_threads(n_threads) if (n_query > 1)
    {
        fs_kv_item *heap = malloc(sizeof(fs_kv_item) * (size_t)k);
        if (!heap) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t q = 0; q < n_query; q++) {
            if (!heap) {
                continue;
            }
            const int64_t *ex = NULL;
            int64_t n_ex = 0;
            if (exclude_start) {
                ex = exclude + exclude_start[q];
                n_ex = exclude_start[q + 1] - exclude_start[q];
            }
            int64_t size = fs_kv_topk_row(heap, k, scores + q * n, n, norms, ex, n_ex);
            fs_kv_drain(heap, size, k, out_idx + q * k, out_val + q * k);
        }
        free(heap);
    }
    return failed ? FS_ERR_NOMEM : FS_OK;
}

/* ------------------------------------------------------------------ float16 first pass */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FS_KV_HALF 1

/* out[j] = sum_i half(u[j, i]) * q[i] for rows j0 <= j < j1 */
__attribute__((target("avx2,fma,f16c")))
static void fs_kv_half_rows_avx2(float *out, const uint16_t *u, const float *q, int64_t dim,
                                 int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; j++) {
        const uint16_t *r = u + j * dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t i = 0;
        for (; i + 32 <= dim; i += 32) {
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + i))),
                                 _mm256_loadu_ps(q + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + i + 8))),
                                 _mm256_loadu_ps(q + i + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + i + 16))),
                                 _mm256_loadu_ps(q + i + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + i + 24))),
                                 _mm256_loadu_ps(q + i + 24), a3);
        }
        for (; i + 8 <= dim; i += 8) {
            a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r + i))),
                                 _mm256_loadu_ps(q + i), a0);
        }
        a0 = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        float acc = _mm_cvtss_f32(h);
        for (; i < dim; i++) {
            acc += _cvtsh_ss(r[i]) * q[i];
        }
        out[j] = acc;
    }
}

__attribute__((target("avx512f,avx512vl,avx2,fma,f16c")))
static void fs_kv_half_rows_avx512(float *out, const uint16_t *u, const float *q, int64_t dim,
                                   int64_t j0, int64_t j1)
{
    for (int64_t j = j0; j < j1; j++) {
        const uint16_t *r = u + j * dim;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0;
        int64_t i = 0;
        for (; i + 32 <= dim; i += 32) {
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + i))),
                                 _mm512_loadu_ps(q + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + i + 16))),
                                 _mm512_loadu_ps(q + i + 16), a1);
        }
        for (; i + 16 <= dim; i += 16) {
            a0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + i))),
                                 _mm512_loadu_ps(q + i), a0);
        }
        float acc = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
        for (; i < dim; i++) {
            acc += _cvtsh_ss(r[i]) * q[i];
        }
        out[j] = acc;
    }
}

/* rows [j0, j1): out = half(fl32(v / norm)), round to nearest even; returns the
 * largest norm of the float32 unit rows (NaN rows skipped) */
__attribute__((target("avx2,fma,f16c")))
static double fs_kv_half_build_rows(uint16_t *out, const float *v, const float *norms,
                                    int64_t dim, int64_t j0, int64_t j1)
{
    double top = 0.0;
    for (int64_t j = j0; j < j1; j++) {
        const float *r = v + j * dim;
        uint16_t *o = out + j * dim;
        const __m256 nv = _mm256_set1_ps(norms[j]);
        __m256 sq = _mm256_setzero_ps();
        double ss = 0.0;
        int64_t i = 0;
        for (; i + 8 <= dim; i += 8) {
            __m256 u = _mm256_div_ps(_mm256_loadu_ps(r + i), nv);
            sq = _mm256_fmadd_ps(u, u, sq);
            _mm_storeu_si128((__m128i *)(o + i),
                             _mm256_cvtps_ph(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, sq);
        for (int t = 0; t < 8; t++) {
            ss += lanes[t];
        }
        for (; i < dim; i++) {
            float u = r[i] / norms[j];
            ss += (double)u * u;
            o[i] = _cvtss_sh(u, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        }
        /* float32 squares summed: within 1e-6 relative of the exact norm, well inside the
         * 1 % margin the search bound adds */
        double nrm = sqrt(ss);
        if (nrm > top) { /* false for NaN; +inf (overflow) is kept */
            top = nrm;
        }
    }
    return top;
}
#endif

int fs_kv_half_level(int simd)
{
#ifdef FS_KV_HALF
    int best = fs_simd_best();
    if (best == FS_SIMD_GENERIC || !__builtin_cpu_supports("f16c")) {
        return FS_SIMD_GENERIC;
    }
    return simd == FS_SIMD_AUTO || simd > best ? best : simd;
#else
    (void)simd;
    return FS_SIMD_GENERIC;
#endif
}

fs_status fs_kv_half_build(uint16_t *out, const float *vectors, const float *norms, int64_t n,
                            int64_t dim, int simd, int n_threads, double *unit_norm_max)
{
    *unit_norm_max = 0.0;
    if (n < 0 || dim < 1 || n_threads < 1 || fs_kv_half_level(simd) == FS_SIMD_GENERIC) {
        return FS_ERR_ARG;
    }
#ifdef FS_KV_HALF
    const int64_t block = 256;
    const int64_t n_blocks = (n + block - 1) / block;
    double top = 0.0;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 4) reduction(max : top)
    for (int64_t b = 0; b < n_blocks; b++) {
        int64_t j1 = (b + 1) * block < n ? (b + 1) * block : n;
        double t = fs_kv_half_build_rows(out, vectors, norms, dim, b * block, j1);
        top = t > top ? t : top;
    }
    *unit_norm_max = top;
#endif
    return FS_OK;
}

/* float32 dot product; 16 partial sums so that GCC vectorises it */
FS_KV_CLONES
static float fs_kv_dot(const float *FS_RESTRICT a, const float *FS_RESTRICT b, int64_t dim)
{
    float part[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        for (int t = 0; t < 16; t++) {
            part[t] += a[i + t] * b[i + t];
        }
    }
    float acc = 0.0f;
    for (int t = 0; t < 16; t++) {
        acc += part[t];
    }
    for (; i < dim; i++) {
        acc += a[i] * b[i];
    }
    return acc;
}

fs_status fs_kv_topk_half(int64_t *out_idx, float *out_val, int64_t k, const float *q,
                          int64_t dim, const uint16_t *unit_half, const float *vectors,
                          const float *norms, int64_t n, double unit_norm_max,
                          const int64_t *exclude, int64_t n_ex, float *scratch, int simd,
                          int n_threads, int64_t *n_cand)
{
    *n_cand = 0;
    int level = fs_kv_half_level(simd);
    if (k < 1 || n < 0 || dim < 1 || n_ex < 0 || n_threads < 1 || level == FS_SIMD_GENERIC ||
        !(unit_norm_max >= 0.0 && unit_norm_max <= 2.0) ||
        (simd != FS_SIMD_AUTO && level != simd)) {
        return FS_ERR_ARG;
    }
#ifdef FS_KV_HALF
    void (*rows)(float *, const uint16_t *, const float *, int64_t, int64_t, int64_t) =
        level == FS_SIMD_AVX512 ? fs_kv_half_rows_avx512 : fs_kv_half_rows_avx2;
    const int64_t block = 256;
    const int64_t n_blocks = (n + block - 1) / block;
#pragma omp parallel for num_threads(n_threads) schedule(dynamic, 8) if (n * dim >= (1 << 16))
    for (int64_t b = 0; b < n_blocks; b++) {
        int64_t j1 = (b + 1) * block < n ? (b + 1) * block : n;
        rows(scratch, unit_half, q, dim, b * block, j1);
    }
#endif
    fs_kv_item *heap = malloc(sizeof(fs_kv_item) * (size_t)k);
    if (!heap) {
        return FS_ERR_NOMEM;
    }
    int64_t size = fs_kv_topk_row(heap, k, scratch, n, NULL, exclude, n_ex);
    /* the bound on |approx - exact| (see fs_kv.h), for unit rows of norm <= unit_norm_max
     * (1 up to float32 rounding when norms are the rows' norms) */
    double qn = 0.0, qmax = 0.0;
    for (int64_t i = 0; i < dim; i++) {
        qn += (double)q[i] * q[i];
        qmax = fabs(q[i]) > qmax ? fabs(q[i]) : qmax;
    }
    qn = sqrt(qn);
    double eps = 1.01 * unit_norm_max * qn *
                     (ldexp(1.0, -11) + (2.0 * (double)dim + 8.0) * ldexp(1.0, -24)) +
                 (double)dim * ldexp(1.0, -25) * qmax;
    double lim = size == k ? (double)heap[0].val - 2.0 * eps : -INFINITY;
    /* rescore the rows that can be among the k best, in row order */
    int64_t cand = 0;
    size = 0;
    float thr = -INFINITY;
    for (int64_t j = 0; j < n; j++) {
        if (!((double)scratch[j] >= lim) || (n_ex && fs_kv_excluded(j, exclude, n_ex))) {
            continue;
        }
        cand++;
        float v = fs_kv_dot(vectors + j * dim, q, dim) / norms[j];
        if (v > thr) {
            thr = fs_kv_offer(heap, k, &size, (fs_kv_item){v, j});
        }
    }
    fs_kv_drain(heap, size, k, out_idx, out_val);
    free(heap);
    *n_cand = cand;
    return FS_OK;
}

fs_status fs_kv_parse_w2v_bin(float *vectors, int64_t *rec_start, int64_t *word_start,
                              int64_t *word_end, const uint8_t *buf, int64_t size, int64_t pos,
                              int64_t n, int64_t dim, int64_t max_word,
                              int64_t *n_done, int64_t *stop_pos, int32_t *why)
{
    const int64_t rec = 4 * dim;
    *why = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t lim = size - pos < max_word ? size - pos : max_word;
        const uint8_t *sp = lim > 0 ? memchr(buf + pos, ' ', (size_t)lim) : NULL;
        if (!sp) {
            *why = size - pos < max_word ? 1 : 2;
            *n_done = i;
            *stop_pos = pos;
            return FS_ERR_ARG;
        }
        int64_t end_word = sp - buf, ws = pos;
        while (ws < end_word && buf[ws] == '\n') {
            ws++;
        }
        int64_t v0 = end_word + 1;
        if (v0 + rec > size) {
            *why = 3;
            *n_done = i;
            *stop_pos = v0;
            return FS_ERR_ARG;
        }
        rec_start[i] = pos;
        word_start[i] = ws;
        word_end[i] = end_word;
        float *out = vectors + i * dim;
        memcpy(out, buf + v0, (size_t)rec);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        for (int64_t d = 0; d < dim; d++) {
            uint32_t u;
            memcpy(&u, out + d, 4);
            u = __builtin_bswap32(u);
            memcpy(out + d, &u, 4);
        }
#endif
        pos = v0 + rec;
    }
    *n_done = n;
    *stop_pos = pos;
    return FS_OK;
}
