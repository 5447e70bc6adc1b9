/* fs_w2v.c: word2vec training over a batch of sentences, multi-threaded.
 *
 * Design: Python hands over a batch of sentences (vocabulary ids), one learning
 * rate per sentence, the subsampling probabilities and the noise/Huffman tables.
 * Sentences are shared out to OpenMP threads dynamically; each thread subsamples
 * a sentence into its scratch, then trains it (subsampling here rather than in
 * Python takes that work off the thread that feeds the batches, which shares the
 * cores with the training threads). Each thread owns its scratch and
 * draws its randomness from a generator seeded by the sentence index, so one
 * thread gives the same bits on every run, whatever the batch is cut into
 * threads. Updates to the weights are lock-free (Hogwild, as word2vec.c and
 * gensim). The kernel body (fs_w2v_impl.h) is compiled for several SIMD
 * targets and picked at run time. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fs_w2v.h"

#define FS_CAT2(a, b) a##_##b
#define FS_CAT(a, b) FS_CAT2(a, b)

#define FS_W2V_MAX_EXP 6.0f
#define FS_W2V_TABLE_SIZE 1024
#define FS_W2V_TABLE_SCALE ((float)FS_W2V_TABLE_SIZE / (2.0f * FS_W2V_MAX_EXP))
/* a score this large means the vectors have blown up (sigmoid saturated long ago) */
#define FS_W2V_BIG 1e15f
/* The most context words of one skip-gram block. A block updates its output rows
 * once with the summed step of all its context words, where word2vec.c and
 * gensim update them after every word; with wide windows the sum overshoots and
 * training diverges (window 200 on the 1M-token corpus: loss 33,324 an epoch
 * against 2.8 at window 5, vectors of norm 2,752, while gensim stayed finite).
 * Wider windows are cut into blocks of this many, one after the other; up to it
 * (window 8 and below, the default 5 included) nothing changes. */
#define FS_W2V_SG_BLOCK 16

typedef struct {
    float sig[FS_W2V_TABLE_SIZE + 1];     /* sigmoid at the bucket's midpoint */
    float nlogsig[FS_W2V_TABLE_SIZE + 1]; /* -log sigmoid at the bucket's midpoint */
} fs_w2v_tables;

typedef struct {
    float *syn0, *syn1neg, *syn1;
    int64_t n_vocab;
    const float *neg_prob;
    const int32_t *neg_alias;
    const int64_t *hs_offset;
    const int32_t *hs_point;
    const uint8_t *hs_code;
} fs_w2v_model;

typedef struct {
    float **in, **out; /* row pointers: (2 * window), (max_out) */
    float *label;      /* (max_out) */
    float *din;        /* (2 * window, dim) */
    float *S;          /* (2 * window, max_out) */
    float *h;          /* (dim) */
    float *coef;       /* (2 * window) */
    int32_t *neg_a, *neg_b; /* (negative) ids of the current / next centre's negatives */
} fs_w2v_scratch;

typedef int (*fs_w2v_sentence_fn)(const fs_w2v_params *, const fs_w2v_model *,
                                  const fs_w2v_tables *, const int32_t *, int64_t, float,
                                  uint64_t, fs_w2v_scratch *, double *, int64_t *);

#define FS_SFX generic
#define FS_LEVEL 0
#include "fs_w2v_impl.h"
#undef FS_SFX
#undef FS_LEVEL

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FS_HAVE_X86_PATHS 1
#include <immintrin.h>
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define FS_SFX avx2
#define FS_LEVEL 1
#include "fs_w2v_impl.h"
#undef FS_SFX
#undef FS_LEVEL
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")
#define FS_SFX avx512
#define FS_LEVEL 2
#include "fs_w2v_impl.h"
#undef FS_SFX
#undef FS_LEVEL
#pragma GCC pop_options
#endif

static fs_w2v_sentence_fn pick_kernel(int simd)
{
    int best = fs_simd_best();
    if (simd == FS_SIMD_AUTO || simd > best) {
        simd = best;
    }
#ifdef FS_HAVE_X86_PATHS
    if (simd == FS_SIMD_AVX512) {
        return train_sentence_avx512;
    }
    if (simd == FS_SIMD_AVX2) {
        return train_sentence_avx2;
    }
#endif
    return train_sentence_generic;
}

static void build_tables(fs_w2v_tables *tb)
{
    for (int i = 0; i <= FS_W2V_TABLE_SIZE; i++) {
        double x = ((i + 0.5) / FS_W2V_TABLE_SCALE) - FS_W2V_MAX_EXP;
        double s = 1.0 / (1.0 + exp(-x));
        tb->sig[i] = (float)s;
        tb->nlogsig[i] = (float)(-log(s));
    }
}

fs_status fs_w2v_train_batch(const fs_w2v_params *p,
                             float *syn0, float *syn1neg, float *syn1, int64_t n_vocab,
                             const int32_t *tokens, const int64_t *sent_start,
                             const float *sent_alpha, int64_t n_sent,
                             const float *neg_prob, const int32_t *neg_alias,
                             const int64_t *hs_offset, const int32_t *hs_point,
                             const uint8_t *hs_code, const float *keep_prob,
                             int n_threads, double *loss_out, int64_t *n_examples_out)
{
    if (loss_out) {
        *loss_out = 0.0;
    }
    if (n_examples_out) {
        *n_examples_out = 0;
    }
    if (!p || p->dim <= 0 || p->window <= 0 || p->negative < 0 || n_vocab <= 0 ||
        n_vocab > INT32_MAX || n_sent < 0 || (!p->hs && p->negative == 0) || !syn0 ||
        (p->negative && (!syn1neg || !neg_prob || !neg_alias)) ||
        (p->hs && (!syn1 || !hs_offset || !hs_point || !hs_code)) ||
        (n_sent > 0 && (!tokens || !sent_start || !sent_alpha))) {
        return FS_ERR_ARG;
    }
    if (n_sent == 0) {
        return FS_OK;
    }
    /* ids and spans are checked here so that no thread can read out of bounds */
    if (sent_start[0] < 0) {
        return FS_ERR_ARG;
    }
    int64_t longest = 0;
    for (int64_t s = 0; s < n_sent; s++) {
        if (sent_start[s + 1] < sent_start[s]) {
            return FS_ERR_ARG;
        }
        longest = sent_start[s + 1] - sent_start[s] > longest ? sent_start[s + 1] - sent_start[s] : longest;
    }
    for (int64_t t = sent_start[0]; t < sent_start[n_sent]; t++) {
        if (tokens[t] < FS_W2V_SEP || tokens[t] >= n_vocab) {
            return FS_ERR_ARG;
        }
    }
    int64_t max_out = p->negative + 1;
    if (p->hs) {
        for (int64_t w = 0; w < n_vocab; w++) {
            int64_t l = hs_offset[w + 1] - hs_offset[w];
            if (l < 0) {
                return FS_ERR_ARG;
            }
            max_out = l > max_out ? l : max_out;
        }
    }
    if (n_threads < 1) {
        n_threads = 1;
    }

    fs_w2v_tables tb;
    build_tables(&tb);
    fs_w2v_model m = {syn0, syn1neg, syn1, n_vocab, neg_prob, neg_alias,
                      hs_offset, hs_point, hs_code};
    fs_w2v_sentence_fn fn = pick_kernel(p->simd);
    /* context words of one centre: at most 2 * window, and fewer than the longest
     * sentence (so a window of 2^31 - 1 does not ask for 2^31 rows of scratch) */
    int64_t max_in = 2 * (int64_t)p->window < longest - 1 ? 2 * (int64_t)p->window : longest - 1;
    max_in = max_in > 1 ? max_in : 1;
    const int d = p->dim;

    const uint64_t sub_base = fs_mix64(p->seed ^ 0x5851f42d4c957f2dULL);
    int err = FS_OK;
    double loss = 0.0;
    int64_t n_ex = 0;
#pragma omp parallel num_threads(n_threads) reduction(+ : loss, n_ex)
    {
        fs_w2v_scratch sc;
        sc.in = malloc(sizeof(float *) * (size_t)max_in);
        sc.out = malloc(sizeof(float *) * (size_t)max_out);
        sc.label = malloc(sizeof(float) * (size_t)max_out);
        sc.din = malloc(sizeof(float) * (size_t)(max_in * d));
        sc.S = malloc(sizeof(float) * (size_t)(max_in * max_out));
        sc.h = malloc(sizeof(float) * (size_t)d);
        sc.coef = malloc(sizeof(float) * (size_t)max_in);
        sc.neg_a = malloc(sizeof(int32_t) * (size_t)(p->negative + 1));
        sc.neg_b = malloc(sizeof(int32_t) * (size_t)(p->negative + 1));
        int32_t *sen = malloc(sizeof(int32_t) * (size_t)(longest > 0 ? longest : 1));
        int ok = sc.in && sc.out && sc.label && sc.din && sc.S && sc.h && sc.coef && sc.neg_a && sc.neg_b &&
                 sen;
        if (!ok) {
#pragma omp atomic write
            err = FS_ERR_NOMEM;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t s = 0; s < n_sent; s++) {
            int e;
#pragma omp atomic read
            e = err;
            if (e != FS_OK || !ok) {
                continue;
            }
            uint64_t rng = fs_mix64(p->seed + (uint64_t)s * 0x9e3779b97f4a7c15ULL);
            /* subsampling draws from a stream of its own, seeded from the batch seed
             * along another sequence than the training stream (not from the training
             * seed), so that the training draws are the same with and without it */
            uint64_t sub_rng = fs_mix64(sub_base + (uint64_t)s * 0xda942042e4dd58b5ULL);
            int64_t len = fs_w2v_subsample(tokens + sent_start[s], sent_start[s + 1] - sent_start[s],
                                           keep_prob, &sub_rng, sen);
            if (fn(p, &m, &tb, sen, len, sent_alpha[s], rng, &sc, &loss, &n_ex)) {
#pragma omp atomic write
                err = FS_ERR_NONFINITE;
            }
        }
        free(sc.in);
        free(sc.out);
        free(sc.label);
        free(sc.din);
        free(sc.S);
        free(sc.h);
        free(sc.coef);
        free(sc.neg_a);
        free(sc.neg_b);
        free(sen);
    }
    if (loss_out) {
        *loss_out = loss;
    }
    if (n_examples_out) {
        *n_examples_out = n_ex;
    }
    return (fs_status)err;
}

int64_t fs_w2v_subsample(const int32_t *tokens, int64_t n, const float *keep_prob, uint64_t *rng,
                         int32_t *out)
{
    int64_t k = 0;
    if (!keep_prob) {
        for (int64_t i = 0; i < n; i++) {
            out[k] = tokens[i];
            k += tokens[i] != FS_W2V_SEP;
        }
        return k;
    }
    /* branch-free: which words stay is random, so a branch on it mispredicts often;
     * every word draws, a separator reads probability -1 (never kept) */
    for (int64_t i = 0; i < n; i++) {
        const int32_t w = tokens[i];
        const float kp = w != FS_W2V_SEP ? keep_prob[w] : -1.0f;
        const float u = (float)(fs_rand64(rng) >> 40) * (1.0f / 16777216.0f);
        out[k] = w;
        k += u < kp;
    }
    return k;
}

fs_status fs_alias_build(const double *weights, int64_t n, float *prob, int32_t *alias)
{
    if (!weights || !prob || !alias || n <= 0 || n > INT32_MAX) {
        return FS_ERR_ARG;
    }
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (!(weights[i] >= 0.0) || !isfinite(weights[i])) {
            return FS_ERR_ARG;
        }
        total += weights[i];
    }
    if (!(total > 0.0)) {
        return FS_ERR_ARG;
    }
    /* Vose's method: scaled[i] = n * p_i; pair each "small" bucket with a "large" one */
    double *scaled = malloc(sizeof(double) * (size_t)n);
    int32_t *small = malloc(sizeof(int32_t) * (size_t)n);
    int32_t *large = malloc(sizeof(int32_t) * (size_t)n);
    if (!scaled || !small || !large) {
        free(scaled);
        free(small);
        free(large);
        return FS_ERR_NOMEM;
    }
    int64_t ns = 0, nl = 0;
    for (int64_t i = 0; i < n; i++) {
        scaled[i] = weights[i] * (double)n / total;
        if (scaled[i] < 1.0) {
            small[ns++] = (int32_t)i;
        } else {
            large[nl++] = (int32_t)i;
        }
    }
    while (ns > 0 && nl > 0) {
        int32_t s = small[--ns], l = large[nl - 1];
        prob[s] = (float)scaled[s];
        alias[s] = l;
        scaled[l] -= 1.0 - scaled[s];
        if (scaled[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    /* leftovers are 1 up to rounding */
    while (nl > 0) {
        int32_t l = large[--nl];
        prob[l] = 2.0f;
        alias[l] = l;
    }
    while (ns > 0) {
        int32_t s = small[--ns];
        prob[s] = 2.0f;
        alias[s] = s;
    }
    free(scaled);
    free(small);
    free(large);
    return FS_OK;
}
