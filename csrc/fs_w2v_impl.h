/* fs_w2v_impl.h: the word2vec kernel body, compiled once per SIMD target.
 *
 * fs_w2v.c includes this file several times, each time with FS_SFX set to a
 * suffix (generic, avx2, avx512) and a `#pragma GCC target` in force, so every
 * function below exists once per instruction set and the dispatcher picks one
 * at run time. FS_LEVEL (0 generic, 1 AVX2, 2 AVX-512) selects the dot/axpy
 * primitives: intrinsics for the x86 paths (GCC's vectoriser does not reliably
 * vectorise the short reductions once inlined), plain C for the generic one.
 *
 * Design: every update, skip-gram or CBOW, negative sampling or hierarchical
 * softmax, is one "block": n_in input rows against n_out output rows with a
 * label each. S = in . out^T, G = (label - sigmoid(S)) * alpha, then
 * d_in += G . out (applied by the caller) and out += G^T . in. Skip-gram with
 * shared negatives makes one block per centre word (all its context words
 * against the centre word and one draw of negatives: HogBatch, Ji et al. 2016),
 * which reads each output row once per window instead of once per pair.
 * CBOW makes one block with n_in = 1 (the mean of the context). */

#define FS_F(name) FS_CAT(name, FS_SFX)

#if FS_LEVEL == 2 /* AVX-512: 16 lanes, masked tail */
static inline float FS_F(dot)(int n, const float *FS_RESTRICT a, const float *FS_RESTRICT b)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= n; i += 16) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

static inline void FS_F(axpy)(int n, float alpha, const float *FS_RESTRICT x, float *FS_RESTRICT y)
{
    const __m512 va = _mm512_set1_ps(alpha);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    }
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1u);
        __m512 r = _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
}
#elif FS_LEVEL == 1 /* AVX2 + FMA: 8 lanes, scalar tail */
static inline float FS_F(dot)(int n, const float *FS_RESTRICT a, const float *FS_RESTRICT b)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= n; i += 8) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    }
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float s = _mm_cvtss_f32(h);
    for (; i < n; i++) {
        s += a[i] * b[i];
    }
    return s;
}

static inline void FS_F(axpy)(int n, float alpha, const float *FS_RESTRICT x, float *FS_RESTRICT y)
{
    const __m256 va = _mm256_set1_ps(alpha);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) {
        y[i] += alpha * x[i];
    }
}
#else /* generic: four independent partial sums, which compilers map to SSE2 lanes */
static inline float FS_F(dot)(int n, const float *FS_RESTRICT a, const float *FS_RESTRICT b)
{
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) {
        s0 += a[i] * b[i];
    }
    return (s0 + s1) + (s2 + s3);
}

static inline void FS_F(axpy)(int n, float alpha, const float *FS_RESTRICT x, float *FS_RESTRICT y)
{
    for (int i = 0; i < n; i++) {
        y[i] += alpha * x[i];
    }
}
#endif

/* res[k * rstride] = x . rows[k] for k < n. */
/* y += sum_j coef[j * cstride] * rows[j] for j < n: each part of y is loaded and
 * stored once (chunk-outer loop), which keeps the running sum in a register and
 * avoids store-to-load forwarding stalls of back-to-back (masked) axpys. */
#if FS_LEVEL == 2
static inline void FS_F(dot_rows)(int d, const float *FS_RESTRICT x, int n, float *const *rows,
                                  float *FS_RESTRICT res, int rstride)
{
    const int full = d & ~15;
    const __mmask16 m = (__mmask16)((1u << (d & 15)) - 1u);
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        const float *r0 = rows[k], *r1 = rows[k + 1], *r2 = rows[k + 2], *r3 = rows[k + 3];
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int i = 0; i < full; i += 16) {
            __m512 xv = _mm512_loadu_ps(x + i);
            a0 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(r0 + i), a0);
            a1 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(r1 + i), a1);
            a2 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(r2 + i), a2);
            a3 = _mm512_fmadd_ps(xv, _mm512_loadu_ps(r3 + i), a3);
        }
        if (m) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + full);
            a0 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, r0 + full), a0);
            a1 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, r1 + full), a1);
            a2 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, r2 + full), a2);
            a3 = _mm512_fmadd_ps(xv, _mm512_maskz_loadu_ps(m, r3 + full), a3);
        }
        res[k * rstride] = _mm512_reduce_add_ps(a0);
        res[(k + 1) * rstride] = _mm512_reduce_add_ps(a1);
        res[(k + 2) * rstride] = _mm512_reduce_add_ps(a2);
        res[(k + 3) * rstride] = _mm512_reduce_add_ps(a3);
    }
    for (; k < n; k++) {
        res[k * rstride] = FS_F(dot)(d, x, rows[k]);
    }
}

static inline void FS_F(axpy_rows)(int d, int n, const float *coef, int cstride, float *const *rows,
                                   float *FS_RESTRICT y)
{
    const int full = d & ~15;
    const __mmask16 m = (__mmask16)((1u << (d & 15)) - 1u);
    for (int i = 0; i < full; i += 16) {
        __m512 acc = _mm512_loadu_ps(y + i);
        for (int j = 0; j < n; j++) {
            acc = _mm512_fmadd_ps(_mm512_set1_ps(coef[j * cstride]), _mm512_loadu_ps(rows[j] + i), acc);
        }
        _mm512_storeu_ps(y + i, acc);
    }
    if (m) {
        __m512 acc = _mm512_maskz_loadu_ps(m, y + full);
        for (int j = 0; j < n; j++) {
            acc = _mm512_fmadd_ps(_mm512_set1_ps(coef[j * cstride]), _mm512_maskz_loadu_ps(m, rows[j] + full),
                                  acc);
        }
        _mm512_mask_storeu_ps(y + full, m, acc);
    }
}
#else /* AVX2 and generic: one dot per row */
static inline void FS_F(dot_rows)(int d, const float *FS_RESTRICT x, int n, float *const *rows,
                                  float *FS_RESTRICT res, int rstride)
{
    for (int k = 0; k < n; k++) {
        res[k * rstride] = FS_F(dot)(d, x, rows[k]);
    }
}

#endif

#if FS_LEVEL == 1
static inline void FS_F(axpy_rows)(int d, int n, const float *coef, int cstride, float *const *rows,
                                   float *FS_RESTRICT y)
{
    int i = 0;
    for (; i + 8 <= d; i += 8) {
        __m256 acc = _mm256_loadu_ps(y + i);
        for (int j = 0; j < n; j++) {
            acc = _mm256_fmadd_ps(_mm256_set1_ps(coef[j * cstride]), _mm256_loadu_ps(rows[j] + i), acc);
        }
        _mm256_storeu_ps(y + i, acc);
    }
    for (; i < d; i++) {
        float acc = y[i];
        for (int j = 0; j < n; j++) {
            acc += coef[j * cstride] * rows[j][i];
        }
        y[i] = acc;
    }
}
#elif FS_LEVEL == 0
static inline void FS_F(axpy_rows)(int d, int n, const float *coef, int cstride, float *const *rows,
                                   float *FS_RESTRICT y)
{
    for (int j = 0; j < n; j++) {
        FS_F(axpy)(d, coef[j * cstride], rows[j], y);
    }
}
#endif

/* One block (see Design). in[c] (n_in rows), out[k] (n_out rows) point into the
 * weight matrices; din (n_in, d) is accumulated into; out rows are updated.
 * S is scratch of n_in * n_out. Returns 1 if a score is not finite. */
static int FS_F(block)(const fs_w2v_tables *tb, int d, int n_in, float *const *in,
                       int n_out, float *const *out, const float *label, float alpha,
                       float *FS_RESTRICT din, float *FS_RESTRICT S, double *loss)
{
    for (int c = 0; c < n_in; c++) {
        FS_F(dot_rows)(d, in[c], n_out, out, S + c * n_out, 1);
    }
    int bad = 0;
    double ls = 0.0;
    for (int c = 0; c < n_in; c++) {
        for (int k = 0; k < n_out; k++) {
            float f = S[c * n_out + k];
            float l = label[k];
            float sig;
            if (!(f > -FS_W2V_BIG && f < FS_W2V_BIG)) {
                bad = 1; /* NaN, inf, or on its way there */
            }
            /* word2vec.c: outside [-MAX_EXP, MAX_EXP] the sigmoid is taken as 0 or 1 */
            if (f >= FS_W2V_MAX_EXP) {
                sig = 1.0f;
            } else if (f <= -FS_W2V_MAX_EXP) {
                sig = 0.0f;
            } else {
                sig = tb->sig[(int)((f + FS_W2V_MAX_EXP) * FS_W2V_TABLE_SCALE)];
            }
            /* loss = -log sigmoid(x), x = f for a positive, -f for a negative;
             * ~ -x far left, ~ 0 far right */
            float x = l > 0.5f ? f : -f;
            if (x <= -FS_W2V_MAX_EXP) {
                ls += -x;
            } else if (x < FS_W2V_MAX_EXP) {
                ls += tb->nlogsig[(int)((x + FS_W2V_MAX_EXP) * FS_W2V_TABLE_SCALE)];
            }
            S[c * n_out + k] = (l - sig) * alpha;
        }
    }
    *loss += ls;
    if (bad) {
        return 1;
    }
    /* d_in from the old output rows first, then the output rows */
    for (int c = 0; c < n_in; c++) {
        FS_F(axpy_rows)(d, n_out, S + c * n_out, 1, out, din + (size_t)c * d);
    }
    for (int k = 0; k < n_out; k++) {
        FS_F(axpy_rows)(d, n_in, S + k, n_out, in, out[k]);
    }
    return 0;
}

/* Draws the negatives of centre word w: ids into ids[], skipping draws equal to w
 * as word2vec.c does. Returns how many were kept. */
static inline int FS_F(draw_negatives)(const fs_w2v_params *p, const fs_w2v_model *m, int32_t w,
                                       uint64_t *rng, int32_t *ids)
{
    int n = 0;
    for (int k = 0; k < p->negative; k++) {
        int32_t t = fs_alias_draw(m->neg_prob, m->neg_alias, (uint32_t)m->n_vocab, fs_rand64(rng));
        if (t != w) {
            ids[n++] = t;
        }
    }
    return n;
}

/* Output rows for negative sampling: the centre word (label 1), then the negatives. */
static inline int FS_F(ns_rows)(const fs_w2v_params *p, const fs_w2v_model *m, int32_t w,
                                const int32_t *ids, int n_ids, float **out, float *label)
{
    out[0] = m->syn1neg + (size_t)w * p->dim;
    label[0] = 1.0f;
    for (int k = 0; k < n_ids; k++) {
        out[k + 1] = m->syn1neg + (size_t)ids[k] * p->dim;
        label[k + 1] = 0.0f;
    }
    return n_ids + 1;
}

static inline void FS_F(prefetch_row)(const float *row, int d)
{
    for (int b = 0; b < d; b += 16) { /* one 64-byte line per 16 floats */
        __builtin_prefetch(row + b, 1, 3);
    }
}

/* Hierarchical softmax path of word w into out[0..], labels 1 - code. */
static inline int FS_F(hs_path)(const fs_w2v_params *p, const fs_w2v_model *m, int32_t w,
                                float **out, float *label)
{
    int n = 0;
    for (int64_t e = m->hs_offset[w]; e < m->hs_offset[w + 1]; e++) {
        out[n] = m->syn1 + (size_t)m->hs_point[e] * p->dim;
        label[n++] = 1.0f - (float)m->hs_code[e];
    }
    return n;
}

/* Trains one sentence. Returns 1 on a non-finite score. */
static int FS_F(train_sentence)(const fs_w2v_params *p, const fs_w2v_model *m,
                                const fs_w2v_tables *tb, const int32_t *sen, int64_t len,
                                float alpha, uint64_t rng, fs_w2v_scratch *sc, double *loss,
                                int64_t *n_ex)
{
    const int d = p->dim;
    float **in = sc->in, **out = sc->out;
    float *label = sc->label;
    /* Negatives (one set per centre word) are drawn one centre ahead, so that their
     * rows can be prefetched while the current centre is trained. */
    const int ahead = p->negative && (p->shared_negatives || !p->sg);
    int32_t *neg_cur = sc->neg_a, *neg_next = sc->neg_b;
    int n_cur = 0, n_next = 0;
    if (ahead && len > 0) {
        n_next = FS_F(draw_negatives)(p, m, sen[0], &rng, neg_next);
    }
    for (int64_t i = 0; i < len; i++) {
        const int32_t w = sen[i];
        const int64_t reach = p->shrink_windows
                                  ? p->window - (int64_t)fs_bounded(fs_rand64(&rng), (uint32_t)p->window)
                                  : p->window;
        int64_t lo = i - reach, hi = i + reach;
        if (lo < 0) {
            lo = 0;
        }
        if (hi > len - 1) {
            hi = len - 1;
        }
        if (ahead) {
            int32_t *t = neg_cur;
            neg_cur = neg_next;
            neg_next = t;
            n_cur = n_next;
            n_next = 0;
        }
        if (i + 1 < len) {
            /* the next centre's output rows and its newest context row */
            if (p->negative) {
                FS_F(prefetch_row)(m->syn1neg + (size_t)sen[i + 1] * d, d);
            }
            if (ahead) {
                n_next = FS_F(draw_negatives)(p, m, sen[i + 1], &rng, neg_next);
                for (int k = 0; k < n_next; k++) {
                    FS_F(prefetch_row)(m->syn1neg + (size_t)neg_next[k] * d, d);
                }
            }
            if (i + 1 + p->window < len) {
                FS_F(prefetch_row)(m->syn0 + (size_t)sen[i + 1 + p->window] * d, d);
            }
        }
        int n_in = 0;
        for (int64_t j = lo; j <= hi; j++) {
            if (j != i) {
                in[n_in++] = m->syn0 + (size_t)sen[j] * d;
            }
        }
        if (n_in == 0) {
            continue;
        }
        int bad = 0;
        if (p->sg) {
            float *din = sc->din;
            memset(din, 0, sizeof(float) * (size_t)n_in * d);
            /* blocks of at most FS_W2V_SG_BLOCK context words, one after the other */
            for (int c0 = 0; c0 < n_in && !bad; c0 += FS_W2V_SG_BLOCK) {
                const int nc = n_in - c0 < FS_W2V_SG_BLOCK ? n_in - c0 : FS_W2V_SG_BLOCK;
                float *dc = din + (size_t)c0 * d;
                if (p->hs) {
                    int n_out = FS_F(hs_path)(p, m, w, out, label);
                    bad |= FS_F(block)(tb, d, nc, in + c0, n_out, out, label, alpha, dc, sc->S, loss);
                }
                if (p->negative && p->shared_negatives) {
                    int n_out = FS_F(ns_rows)(p, m, w, neg_cur, n_cur, out, label);
                    bad |= FS_F(block)(tb, d, nc, in + c0, n_out, out, label, alpha, dc, sc->S, loss);
                }
            }
            if (p->negative && !p->shared_negatives) { /* word2vec.c's: negatives per pair */
                for (int c = 0; c < n_in && !bad; c++) {
                    int n_ids = FS_F(draw_negatives)(p, m, w, &rng, neg_cur);
                    int n_out = FS_F(ns_rows)(p, m, w, neg_cur, n_ids, out, label);
                    bad |= FS_F(block)(tb, d, 1, in + c, n_out, out, label, alpha,
                                       din + (size_t)c * d, sc->S, loss);
                }
            }
            if (bad) {
                return 1;
            }
            for (int c = 0; c < n_in; c++) {
                FS_F(axpy)(d, 1.0f, din + (size_t)c * d, in[c]);
            }
            *n_ex += n_in;
        } else {
            float *h = sc->h, *neu1e = sc->din;
            const float scale = p->cbow_mean ? 1.0f / (float)n_in : 1.0f;
            for (int c = 0; c < n_in; c++) {
                sc->coef[c] = scale;
            }
            memset(h, 0, sizeof(float) * d);
            FS_F(axpy_rows)(d, n_in, sc->coef, 1, in, h);
            memset(neu1e, 0, sizeof(float) * d);
            if (p->hs) {
                int n_out = FS_F(hs_path)(p, m, w, out, label);
                bad |= FS_F(block)(tb, d, 1, &h, n_out, out, label, alpha, neu1e, sc->S, loss);
            }
            if (p->negative) {
                int n_out = FS_F(ns_rows)(p, m, w, neg_cur, n_cur, out, label);
                bad |= FS_F(block)(tb, d, 1, &h, n_out, out, label, alpha, neu1e, sc->S, loss);
            }
            if (bad) {
                return 1;
            }
            /* the mean of the context (word2vec.c, gensim): every context row gets the
             * whole error; their sum (gensim's cbow_mean=0): each gets 1/n of it */
            const float share = p->cbow_mean ? 1.0f : 1.0f / (float)n_in;
            for (int c = 0; c < n_in; c++) {
                FS_F(axpy)(d, share, neu1e, in[c]);
            }
            *n_ex += 1;
        }
    }
    return 0;
}

#undef FS_F
