# Declarations of the C kernels in csrc/ (nothing else lives here).
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

cdef extern from "fs_common.h" nogil:
    ctypedef enum fs_status:
        FS_OK
        FS_ERR_ARG
        FS_ERR_NOMEM
        FS_ERR_NONFINITE
    int fs_simd_best()

cdef extern from "fs_w2v.h" nogil:
    ctypedef struct fs_w2v_params:
        int32_t dim
        int32_t window
        int32_t negative
        int32_t hs
        int32_t sg
        int32_t cbow_mean
        int32_t shared_negatives
        int32_t simd
        uint64_t seed

    fs_status fs_w2v_train_batch(const fs_w2v_params *p,
                                 float *syn0, float *syn1neg, float *syn1, int64_t n_vocab,
                                 const int32_t *tokens, const int64_t *sent_start,
                                 const float *sent_alpha, int64_t n_sent,
                                 const float *neg_prob, const int32_t *neg_alias,
                                 const int64_t *hs_offset, const int32_t *hs_point,
                                 const uint8_t *hs_code,
                                 int n_threads, double *loss_out, int64_t *n_examples_out)

    fs_status fs_alias_build(const double *weights, int64_t n, float *prob, int32_t *alias)
