/* fs_w2v.h: word2vec training kernels (skip-gram / CBOW, negative sampling /
 * hierarchical softmax) over a batch of sentences, with frequent-word subsampling. */
#ifndef FS_W2V_H
#define FS_W2V_H

#include <stdint.h>
#include "fs_common.h"

typedef struct {
    int32_t dim;              /* vector size */
    int32_t window;           /* max distance; each centre draws b in [0, window) and uses window - b
                                 (with shrink_windows) */
    int32_t negative;         /* negatives per positive; 0 = no negative sampling */
    int32_t hs;               /* 1 = hierarchical softmax */
    int32_t sg;               /* 1 = skip-gram, 0 = CBOW */
    int32_t cbow_mean;        /* CBOW: 1 = mean of context vectors, 0 = sum */
    int32_t shared_negatives; /* sg+ns: one set of negatives per centre word, shared by its window */
    int32_t shrink_windows;   /* 1 = the dynamic window above; 0 = always window words each side */
    int32_t simd;             /* fs_simd; FS_SIMD_AUTO = best the CPU has */
    uint64_t seed;            /* sentence s draws from fs_mix64(seed + s) */
} fs_w2v_params;

/* Id of the sentence separator in a token stream: never trained, skipped. */
#define FS_W2V_SEP (-1)

/* Train on sentences tokens[sent_start[s] .. sent_start[s+1]), s < n_sent, with
 * learning rate sent_alpha[s]. Tokens are vocabulary ids in [0, n_vocab) or
 * FS_W2V_SEP, which is skipped (the stream's sentence ends may stay in the spans).
 * With keep_prob (n_vocab; NULL: keep every word), each sentence is first
 * subsampled by fs_w2v_subsample with a stream of its own, seeded from p->seed and
 * the sentence's index (not from the training stream's seed).
 *
 * INOUT (updated in place, Hogwild across threads):
 *   syn0    (n_vocab, dim)      input vectors
 *   syn1neg (n_vocab, dim)      output vectors for negative sampling (NULL when negative == 0)
 *   syn1    (n_vocab - 1, dim)  inner-node vectors for hierarchical softmax (NULL when hs == 0)
 * IN:
 *   neg_prob, neg_alias (n_vocab)  Walker alias table of the noise distribution (NULL when negative == 0)
 *   hs_offset (n_vocab + 1), hs_point, hs_code: the Huffman path of word w is
 *     hs_point/hs_code[hs_offset[w] .. hs_offset[w+1]) (NULL when hs == 0)
 * OUT (overwritten, may be NULL): loss_out = summed loss, n_examples_out = predictions made.
 * Returns FS_ERR_NONFINITE as soon as a score is NaN/inf (the learning rate is too high). */
fs_status fs_w2v_train_batch(const fs_w2v_params *p,
                             float *syn0, float *syn1neg, float *syn1, int64_t n_vocab,
                             const int32_t *tokens, const int64_t *sent_start,
                             const float *sent_alpha, int64_t n_sent,
                             const float *neg_prob, const int32_t *neg_alias,
                             const int64_t *hs_offset, const int32_t *hs_point,
                             const uint8_t *hs_code, const float *keep_prob,
                             int n_threads, double *loss_out, int64_t *n_examples_out);

/* Frequent-word subsampling of tokens[0..n): word w stays with probability
 * keep_prob[w] (one uniform draw from *rng for each token; keep_prob NULL keeps
 * every word and draws nothing). FS_W2V_SEP is dropped. Writes the kept ids to
 * out (room for n) in order and returns how many. */
int64_t fs_w2v_subsample(const int32_t *tokens, int64_t n, const float *keep_prob, uint64_t *rng,
                         int32_t *out);

/* Walker/Vose alias table for sampling i with probability weights[i] / sum(weights).
 * OUT: prob (n), alias (n). FS_ERR_ARG if n <= 0 or a weight is negative / all are zero. */
fs_status fs_alias_build(const double *weights, int64_t n, float *prob, int32_t *alias);

/* Draw from an alias table with one 64-bit random number. */
static inline int32_t fs_alias_draw(const float *prob, const int32_t *alias, uint32_t n, uint64_t r)
{
    uint32_t i = fs_bounded(r, n);
    float u = (float)(r & 0xffffff) * (1.0f / 16777216.0f);
    return u < prob[i] ? (int32_t)i : alias[i];
}

#endif
