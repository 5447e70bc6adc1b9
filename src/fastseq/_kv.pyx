# Thin wrapper around csrc/fs_kv.c: check shapes, release the GIL, call, map status.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t
from fastseq._csrc cimport fs_status, FS_OK, FS_ERR_ARG, FS_ERR_NOMEM, FS_ERR_NONFINITE

import numpy as np

include "_common.pxi"

cdef extern from "fs_kv.h" nogil:
    fs_status fs_kv_topk(int64_t *out_idx, float *out_val, int64_t k,
                         const float *scores, int64_t n_query, int64_t n,
                         const float *norms,
                         const int64_t *exclude_start, const int64_t *exclude,
                         int n_threads)
    fs_status fs_kv_topk_cols(int64_t *out_idx, float *out_val, int64_t k, const float *scores_t,
                              int64_t n, int64_t n_query, const float *norms,
                              const int64_t *exclude_start, const int64_t *exclude, int n_threads)
    int fs_kv_half_level(int simd)
    fs_status fs_kv_half_build(uint16_t *out, const float *vectors, const float *norms, int64_t n,
                               int64_t dim, int simd, int n_threads, double *unit_norm_max)
    fs_status fs_kv_topk_half(int64_t *out_idx, float *out_val, int64_t k, const float *q,
                              int64_t dim, const uint16_t *unit_half, const float *vectors,
                              const float *norms, int64_t n, double unit_norm_max,
                              const int64_t *exclude, int64_t n_ex, float *scratch, int simd,
                              int n_threads, int64_t *n_cand)
    fs_status fs_kv_parse_w2v_bin(float *vectors, int64_t *rec_start, int64_t *word_start,
                                  int64_t *word_end, const uint8_t *buf, int64_t size, int64_t pos,
                                  int64_t n, int64_t dim, int64_t max_word,
                                  int64_t *n_done, int64_t *stop_pos, int32_t *why)


def topk(const float[:, ::1] scores, int64_t k, const float[::1] norms=None,
         const int64_t[::1] exclude_start=None, const int64_t[::1] exclude=None, int n_threads=1,
         bint transposed=False):
    """Best ``k`` columns of each row of ``scores`` (divided by ``norms`` when given);
    with ``transposed``, ``scores`` is (n, n_query) and each query is a column.

    Returns ``(idx, val)``, both ``(n_query, k)``: int64 columns and float32 values,
    best first, ties to the lower column; -1 / -inf pad rows with fewer candidates."""
    cdef int64_t nq = scores.shape[1 if transposed else 0], n = scores.shape[0 if transposed else 1]
    if k < 1:
        raise ValueError(f"topk: k must be >= 1, got {k}")
    if norms is not None and norms.shape[0] != n:
        raise ValueError(f"topk: norms has {norms.shape[0]} entries, scores have {n} columns")
    if (exclude_start is None) != (exclude is None):
        raise ValueError("topk: give exclude_start and exclude together")
    if exclude_start is not None:
        if exclude_start.shape[0] != nq + 1:
            raise ValueError(f"topk: exclude_start has {exclude_start.shape[0]} entries, expected {nq + 1}")
        if exclude_start[0] != 0 or exclude_start[nq] != exclude.shape[0]:
            raise ValueError("topk: exclude_start must run from 0 to len(exclude)")
    idx = np.empty((nq, k), dtype=np.int64)
    val = np.empty((nq, k), dtype=np.float32)
    if nq == 0:
        return idx, val
    cdef int64_t[:, ::1] oi = idx
    cdef float[:, ::1] ov = val
    cdef const float *pn = NULL
    cdef const int64_t *pes = NULL
    cdef const int64_t *pe = NULL
    cdef const float *ps = NULL
    if n > 0 and nq > 0:
        ps = &scores[0, 0]
    if norms is not None and n > 0:
        pn = &norms[0]
    if exclude_start is not None:
        pes = &exclude_start[0]
        if exclude.shape[0] > 0:
            pe = &exclude[0]
    cdef fs_status st
    with nogil:
        if transposed:
            st = fs_kv_topk_cols(&oi[0, 0], &ov[0, 0], k, ps, n, nq, pn, pes, pe, n_threads)
        else:
            st = fs_kv_topk(&oi[0, 0], &ov[0, 0], k, ps, nq, n, pn, pes, pe, n_threads)
    check_status(st, "kv.topk")
    return idx, val


def half_level(int simd=-1):
    """SIMD level of topk_half for a requested one (-1: the best): 1 AVX2, 2 AVX-512,
    or 0 when the CPU has no F16C conversion and topk_half cannot run."""
    return fs_kv_half_level(simd)


def half_build(const float[:, ::1] vectors, const float[::1] norms, int simd=-1, int n_threads=1):
    """The float16 copy of the unit vectors that topk_half reads: ``(U, unit_norm_max)``,
    U (n, dim) uint16 half bits of fl32(vectors[j] / norms[j]) (round to nearest even),
    unit_norm_max the largest norm of those unit rows (NaN rows skipped)."""
    cdef int64_t n = vectors.shape[0], dim = vectors.shape[1]
    if norms.shape[0] != n:
        raise ValueError(f"half_build: norms has {norms.shape[0]} entries, vectors {n} rows")
    if fs_kv_half_level(simd) == 0:
        raise ValueError("half_build: this CPU has no F16C float16 conversion")
    U = np.empty((n, dim), dtype=np.uint16)
    if n == 0 or dim == 0:
        return U, 0.0
    cdef uint16_t[:, ::1] u = U
    cdef double top = 0.0
    cdef fs_status st
    with nogil:
        st = fs_kv_half_build(&u[0, 0], &vectors[0, 0], &norms[0], n, dim, simd, n_threads, &top)
    check_status(st, "kv.half_build")
    return U, top


def topk_half(const float[::1] q, int64_t k, const uint16_t[:, ::1] unit_half,
              const float[:, ::1] vectors, const float[::1] norms, int64_t n,
              double unit_norm_max, const int64_t[::1] exclude=None, int simd=-1,
              int n_threads=1):
    """Best ``k`` of the first ``n`` rows for one query ``q``, scored dot(vectors[j], q) /
    norms[j] like ``topk``, found through a first pass over ``unit_half`` (float16 bits of
    the unit vectors, whose norms are at most ``unit_norm_max``) and an exact rescoring of
    the rows within the float16 error bound of the k-th best.

    Returns ``(idx, val, n_rescored)``: (k,) int64 and float32 as ``topk``'s rows."""
    cdef int64_t dim = q.shape[0]
    if k < 1:
        raise ValueError(f"topk_half: k must be >= 1, got {k}")
    if unit_half.shape[1] != dim or vectors.shape[1] != dim:
        raise ValueError(f"topk_half: q has {dim} dimensions, unit_half {unit_half.shape[1]}, "
                         f"vectors {vectors.shape[1]}")
    if not 1 <= n <= min(unit_half.shape[0], vectors.shape[0], norms.shape[0]):
        raise ValueError(f"topk_half: n={n} is not within 1..rows of unit_half, vectors and norms")
    if fs_kv_half_level(simd) == 0 or (simd >= 0 and fs_kv_half_level(simd) != simd):
        raise ValueError(f"topk_half: this CPU cannot run SIMD level {simd} with float16 conversion")
    idx = np.empty(k, dtype=np.int64)
    val = np.empty(k, dtype=np.float32)
    scratch = np.empty(n, dtype=np.float32)
    cdef int64_t[::1] oi = idx
    cdef float[::1] ov = val
    cdef float[::1] sc = scratch
    cdef const int64_t *pe = NULL
    cdef int64_t n_ex = 0
    if exclude is not None and exclude.shape[0] > 0:
        pe = &exclude[0]
        n_ex = exclude.shape[0]
    cdef int64_t n_cand = 0
    cdef fs_status st
    with nogil:
        st = fs_kv_topk_half(&oi[0], &ov[0], k, &q[0], dim, &unit_half[0, 0], &vectors[0, 0],
                             &norms[0], n, unit_norm_max, pe, n_ex, &sc[0], simd, n_threads,
                             &n_cand)
    check_status(st, "kv.topk_half")
    return idx, val, n_cand


def parse_w2v_bin(const uint8_t[::1] buf, int64_t pos, int64_t n, int64_t dim, int64_t max_word=65536):
    """Walk ``n`` word2vec binary records from byte ``pos`` of ``buf``.

    Returns ``(vectors, rec_start, word_start, word_end, n_done, stop_pos, why)``:
    the first ``n_done`` rows/offsets are filled; ``why`` is 0 when all ``n`` were read,
    else 1 (data ends in a word), 2 (no space within ``max_word`` bytes) or 3 (data
    ends in a vector), with ``stop_pos`` the offset where it stopped."""
    if n < 0 or dim < 1 or pos < 0 or max_word < 1:
        raise ValueError(f"parse_w2v_bin: bad sizes n={n} dim={dim} pos={pos}")
    vectors = np.empty((n, dim), dtype=np.float32)
    rec_start = np.empty(n, dtype=np.int64)
    word_start = np.empty(n, dtype=np.int64)
    word_end = np.empty(n, dtype=np.int64)
    cdef int64_t n_done = 0, stop_pos = pos
    cdef int32_t why = 0
    if n == 0:
        return vectors, rec_start, word_start, word_end, 0, pos, 0
    cdef float[:, ::1] v = vectors
    cdef int64_t[::1] rs = rec_start, ws = word_start, we = word_end
    cdef int64_t size = buf.shape[0]
    cdef const uint8_t *pb = &buf[0] if size > 0 else NULL
    with nogil:
        fs_kv_parse_w2v_bin(&v[0, 0], &rs[0], &ws[0], &we[0], pb, size, pos, n, dim, max_word,
                            &n_done, &stop_pos, &why)
    return vectors, rec_start, word_start, word_end, n_done, stop_pos, why
