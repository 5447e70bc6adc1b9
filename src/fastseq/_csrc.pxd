# Declarations of the C kernels in csrc/ (nothing else lives here).
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t

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
        int32_t shrink_windows
        int32_t simd
        uint64_t seed

    fs_status fs_w2v_train_batch(const fs_w2v_params *p,
                                 float *syn0, float *syn1neg, float *syn1, int64_t n_vocab,
                                 const int32_t *tokens, const int64_t *sent_start,
                                 const float *sent_alpha, int64_t n_sent,
                                 const float *neg_prob, const int32_t *neg_alias,
                                 const int64_t *hs_offset, const int32_t *hs_point,
                                 const uint8_t *hs_code, const float *keep_prob,
                                 int n_threads, double *loss_out, int64_t *n_examples_out)

    int64_t fs_w2v_subsample(const int32_t *tokens, int64_t n, const float *keep_prob,
                             uint64_t *rng, int32_t *out)

    fs_status fs_alias_build(const double *weights, int64_t n, float *prob, int32_t *alias)

cdef extern from "fs_rnn.h" nogil:
    ctypedef enum fs_rnn_mode:
        FS_RNN_TANH
        FS_RNN_RELU
        FS_RNN_LSTM
        FS_RNN_GRU

    ctypedef struct fs_rnn_params:
        int32_t mode
        int32_t reverse
        int32_t training
        int32_t simd
        int64_t T
        int64_t B
        int64_t I
        int64_t H

    int fs_rnn_gates(int32_t mode)
    int64_t fs_rnn_workspace_size(const fs_rnn_params *p)
    int64_t fs_rnn_scratch_size_f32(const fs_rnn_params *p, int n_threads)
    int64_t fs_rnn_scratch_size_f64(const fs_rnn_params *p, int n_threads)

    fs_status fs_rnn_forward_f32(const fs_rnn_params *p,
                                 float *out, int64_t ld_out, float *h_n, float *c_n, float *ws,
                                 const float *x, int64_t ld_x, const float *h0, const float *c0,
                                 const float *w_ih, const float *w_hh,
                                 const float *b_ih, const float *b_hh,
                                 const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                                 int n_threads)
    fs_status fs_rnn_forward_f64(const fs_rnn_params *p,
                                 double *out, int64_t ld_out, double *h_n, double *c_n, double *ws,
                                 const double *x, int64_t ld_x, const double *h0, const double *c0,
                                 const double *w_ih, const double *w_hh,
                                 const double *b_ih, const double *b_hh,
                                 const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                                 int n_threads)
    fs_status fs_rnn_backward_f32(const fs_rnn_params *p,
                                  float *dx, int64_t ld_dx, float *dh0, float *dc0,
                                  float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                                  const float *dout, int64_t ld_dout,
                                  const float *dh_n, const float *dc_n, const float *ws,
                                  const float *x, int64_t ld_x, const float *h0, const float *c0,
                                  const float *w_ih, const float *w_hh,
                                  const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                                 int n_threads)
    fs_status fs_rnn_backward_f64(const fs_rnn_params *p,
                                  double *dx, int64_t ld_dx, double *dh0, double *dc0,
                                  double *dw_ih, double *dw_hh, double *db_ih, double *db_hh,
                                  const double *dout, int64_t ld_dout,
                                  const double *dh_n, const double *dc_n, const double *ws,
                                  const double *x, int64_t ld_x, const double *h0, const double *c0,
                                  const double *w_ih, const double *w_hh,
                                  const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                                 int n_threads)
    fs_status fs_gemm_nt_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                             const float *B, int64_t ldb, float *C, int64_t ldc, int beta,
                             int simd, int n_threads)
    fs_status fs_rnn_pointwise_f32(int op, const float *x, const float *x2, float *y, int64_t n,
                                   int simd)
    double fs_fma_rate_f32(int64_t n, int simd, int n_threads)

cdef extern from "fs_vocab.h" nogil:
    uint64_t fs_fnv1a(const unsigned char *p, int64_t n)
    ctypedef struct fs_vslot:
        uint32_t tag
        int32_t k
    ctypedef struct fs_vtable:
        const unsigned char *text
        const int64_t *start
        const int32_t *word_id
        fs_vslot *slots
        uint64_t mask
    void fs_vtable_fill(fs_vtable *t, int64_t n)
    int64_t fs_utf8_encode(const fs_vtable *t, const unsigned char *buf, int64_t n, int32_t *out)

    ctypedef struct fs_wcount:
        unsigned char *text
        int64_t *start
        int64_t *count
        int64_t n
        int64_t raw
        int64_t lines
        int line_open
    fs_wcount *fs_wcount_new(int64_t max_size)
    void fs_wcount_free(fs_wcount *c)
    fs_status fs_wcount_feed(fs_wcount *c, const unsigned char *buf, int64_t n, int32_t *ids,
                             int64_t *n_ids)
    int64_t fs_ids_remap(const int32_t *src, int64_t n, const int32_t *remap, int64_t n_remap,
                         int64_t max_len, int64_t *run, int32_t *out, int64_t *last_sep)
