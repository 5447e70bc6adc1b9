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

#endif
