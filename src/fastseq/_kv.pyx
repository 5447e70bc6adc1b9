# Thin wrapper around csrc/fs_kv.c: check shapes, release the GIL, call, map status.
from libc.stdint cimport int64_t
from fastseq._csrc cimport fs_status, FS_OK, FS_ERR_ARG, FS_ERR_NOMEM, FS_ERR_NONFINITE

import numpy as np

include "_common.pxi"

cdef extern from "fs_kv.h" nogil:
    fs_status fs_kv_topk(int64_t *out_idx, float *out_val, int64_t k,
                         const float *scores, int64_t n_query, int64_t n,
                         const float *norms,
                         const int64_t *exclude_start, const int64_t *exclude,
                         int n_threads)


def topk(const float[:, ::1] scores, int64_t k, const float[::1] norms=None,
         const int64_t[::1] exclude_start=None, const int64_t[::1] exclude=None, int n_threads=1):
    """Best ``k`` columns of each row of ``scores`` (divided by ``norms`` when given).

    Returns ``(idx, val)``, both ``(n_query, k)``: int64 columns and float32 values,
    best first, ties to the lower column; -1 / -inf pad rows with fewer candidates."""
    cdef int64_t nq = scores.shape[0], n = scores.shape[1]
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
    if n > 0:
        ps = &scores[0, 0]
    if norms is not None and n > 0:
        pn = &norms[0]
    if exclude_start is not None:
        pes = &exclude_start[0]
        if exclude.shape[0] > 0:
            pe = &exclude[0]
    cdef fs_status st
    with nogil:
        st = fs_kv_topk(&oi[0, 0], &ov[0, 0], k, ps, nq, n, pn, pes, pe, n_threads)
    check_status(st, "kv.topk")
    return idx, val
