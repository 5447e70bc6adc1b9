/* fs_kv.h: nearest-neighbour selection for word-vector queries.
 * Plain C11 + OpenMP, no Python. */
#ifndef FS_KV_H
#define FS_KV_H

#include <stdint.h>

#include "fs_common.h"

/* Top-k of each row of a score matrix, as gensim's most_similar ranks them.
 *
 * scores: (n_query, n) row-major, IN. The value of column j in row q is
 *   scores[q, j] / norms[j]   (norms may be NULL: the scores as they are).
 * exclude: columns to skip in row q are exclude[exclude_start[q] .. exclude_start[q + 1]);
 *   exclude_start may be NULL (nothing skipped).
 * out_idx, out_val: (n_query, k), OUT, overwritten: best first, ties broken by the
 *   lower column; a row with fewer than k candidates ends with index -1, value -inf.
 * NaN (a zero-norm row) and -inf values are never selected.
 * FS_ERR_ARG for k < 1 or negative sizes, FS_ERR_NOMEM if scratch cannot be had. */
fs_status fs_kv_topk(int64_t *out_idx, float *out_val, int64_t k,
                     const float *scores, int64_t n_query, int64_t n,
                     const float *norms,
                     const int64_t *exclude_start, const int64_t *exclude,
                     int n_threads);

/* fs_kv_topk on the transposed score matrix scores_t (n, n_query) row-major, the layout
 * of vectors . queries^T: column q holds query q's scores. Same outputs and rules. */
fs_status fs_kv_topk_cols(int64_t *out_idx, float *out_val, int64_t k, const float *scores_t,
                          int64_t n, int64_t n_query, const float *norms,
                          const int64_t *exclude_start, const int64_t *exclude, int n_threads);

/* The SIMD level fs_kv_topk_half runs at for a requested level (FS_SIMD_AUTO: the
 * best the CPU has): FS_SIMD_AVX2 or FS_SIMD_AVX512, or FS_SIMD_GENERIC when the CPU
 * (or the request) has no F16C conversion, and then fs_kv_topk_half must not be used. */
int fs_kv_half_level(int simd);

/* The float16 copy fs_kv_topk_half reads: out (n, dim) = IEEE half bits of
 * fl32(vectors[j] / norms[j]), rounded to nearest even; *unit_norm_max = the largest
 * norm of those float32 unit rows (rows that are NaN, e.g. of zero norm, skipped;
 * +inf when a row overflows). Threads share the rows. FS_ERR_ARG for bad sizes or a
 * CPU without F16C (fs_kv_half_level(simd) == FS_SIMD_GENERIC). */
fs_status fs_kv_half_build(uint16_t *out, const float *vectors, const float *norms, int64_t n,
                           int64_t dim, int simd, int n_threads, double *unit_norm_max);

/* Top-k of ONE query over n vectors, exactly as fs_kv_topk ranks
 *   dot(vectors[j], q) / norms[j]   (float32),
 * but found with a first pass over a float16 copy of the unit vectors, which reads
 * half the bytes of the float32 vectors:
 *   1. approx[j] = sum_i half(unit_half[j, i]) * q[i] for every row (threads share
 *      the rows); scratch (n floats) receives approx.
 *   2. t = the k-th best approx among the rows not excluded.
 *   3. |approx[j] - score[j]| <= eps, where eps bounds the float16 rounding of the
 *      unit vector (2^-11 relative, 2^-25 absolute below 2^-14) and the float32
 *      rounding of both sums; so the true k-th best score is >= t - eps, and only
 *      rows with approx[j] >= t - 2 eps can be among the k best. Those rows alone are
 *      scored exactly from vectors / norms and ranked (ties: the lower row).
 * unit_half: (n, dim) IEEE half bits of fl32(vectors[j] / norms[j]) rounded to
 * nearest; unit_norm_max: an upper bound of the norms of those unit rows, at most 2
 * (rows that are NaN, e.g. of zero norm, don't count: they are never selected);
 * exclude: n_ex rows to skip. *n_cand: rows scored exactly.
 * Outputs as fs_kv_topk's for one query. FS_ERR_ARG for bad sizes or a level the CPU
 * cannot run; FS_ERR_NOMEM if scratch for the heap cannot be had. */
fs_status fs_kv_topk_half(int64_t *out_idx, float *out_val, int64_t k, const float *q,
                          int64_t dim, const uint16_t *unit_half, const float *vectors,
                          const float *norms, int64_t n, double unit_norm_max,
                          const int64_t *exclude, int64_t n_ex, float *scratch, int simd,
                          int n_threads, int64_t *n_cand);

/* Parse n word2vec binary records from buf[pos .. size): each is optional '\n's (word2vec.c
 * ends every vector with one, gensim does not), the word up to a ' ' (searched within
 * max_word bytes of the record start), then dim little-endian float32.
 * vectors: (n, dim) OUT; rec_start, word_start, word_end: (n) OUT, byte offsets.
 * *n_done: records parsed; *stop_pos: offset after the last one, or where parsing
 * stopped; *why: 0 done, 1 the data ends inside a word, 2 no ' ' within max_word
 * bytes, 3 the data ends inside a vector (then FS_ERR_ARG is returned). */
fs_status fs_kv_parse_w2v_bin(float *vectors, int64_t *rec_start, int64_t *word_start,
                              int64_t *word_end, const uint8_t *buf, int64_t size, int64_t pos,
                              int64_t n, int64_t dim, int64_t max_word,
                              int64_t *n_done, int64_t *stop_pos, int32_t *why);

#endif
