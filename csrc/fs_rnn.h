/* fs_rnn.h: one layer, one direction of an Elman RNN (tanh / relu), LSTM or GRU
 * over a batch of sequences: forward, and backward through time.
 *
 * Equations, gate order and weight layout are PyTorch's:
 *   LSTM  w_ih (4H, I) = [W_i|W_f|W_g|W_o], w_hh (4H, H), b_ih, b_hh (4H)
 *         i,f,o = sigmoid(.), g = tanh(.), c' = f*c + i*g, h' = o*tanh(c')
 *   GRU   w_ih (3H, I) = [W_r|W_z|W_n], w_hh (3H, H)
 *         r,z = sigmoid(x W^T + b_ih + h W_h^T + b_hh), n = tanh(x W_n^T + b_in + r*(h W_hn^T + b_hn)),
 *         h' = (1 - z)*n + z*h
 *   RNN   h' = tanh or relu(x w_ih^T + b_ih + h w_hh^T + b_hh)
 * Shapes: T steps, B sequences, I inputs, H hidden units, G gates (4, 3, 1).
 * Every array is row-major and contiguous except where a leading dimension
 * (ld_*) is given: then row (t, b) starts at (t * B + b) * ld.
 *
 * Variable lengths: lengths[b] in [1, T] (NULL: all T). Step s of sequence b
 * reads time s (forward) or lengths[b] - 1 - s (reverse), for s < lengths[b];
 * past its length a sequence's state stays as it is and its outputs are zero,
 * exactly PyTorch's packed sequences. */
#ifndef FS_RNN_H
#define FS_RNN_H

#include <stdint.h>
#include "fs_common.h"

typedef enum {
    FS_RNN_TANH = 0,
    FS_RNN_RELU = 1,
    FS_RNN_LSTM = 2,
    FS_RNN_GRU = 3
} fs_rnn_mode;

typedef struct {
    int32_t mode;     /* fs_rnn_mode */
    int32_t reverse;  /* 1 = the backward direction of a bidirectional layer */
    int32_t training; /* 0: the workspace only serves as scratch, backward is not possible */
    int32_t simd;     /* fs_simd; FS_SIMD_AUTO = best the CPU has */
    int64_t T, B, I, H;
} fs_rnn_params;

/* Gates per mode (4 LSTM, 3 GRU, 1 RNN); 0 for an unknown mode. */
int fs_rnn_gates(int32_t mode);

/* Elements of the workspace that forward fills and backward reads:
 * act (T, B, G*H) gate activations, hprev (T, B, H) the state each step started
 * from, and for LSTM the cells (T, B, H) / for GRU W_hn h + b_hn (T, B, H). */
int64_t fs_rnn_workspace_size(const fs_rnn_params *p);

/* Bytes of scratch that forward and backward need (either, for these shapes
 * and thread count). Passing a buffer this large (kept by the caller between
 * calls) saves the kernels from allocating, and faulting in, fresh memory on
 * every call; NULL scratch makes them allocate it themselves. */
int64_t fs_rnn_scratch_size_f32(const fs_rnn_params *p, int n_threads);
int64_t fs_rnn_scratch_size_f64(const fs_rnn_params *p, int n_threads);

/* Forward.
 * OUT (overwritten): out (T, B, ld_out) columns [0, H) (zero past a length),
 *   h_n (B, H), c_n (B, H, LSTM only, else NULL), ws (fs_rnn_workspace_size).
 * IN: x (T, B, ld_x) columns [0, I); h0, c0 (B, H) or NULL for zeros;
 *   w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H) or NULL; lengths (B) or NULL. */
fs_status fs_rnn_forward_f32(const fs_rnn_params *p,
                             float *out, int64_t ld_out, float *h_n, float *c_n, float *ws,
                             const float *x, int64_t ld_x, const float *h0, const float *c0,
                             const float *w_ih, const float *w_hh,
                             const float *b_ih, const float *b_hh,
                             const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                             int n_threads);

/* Backward through time, after a forward with training = 1 and the same inputs.
 * ACCUMULATED (+=): dx (T, B, ld_dx) columns [0, I), dw_ih, dw_hh, db_ih, db_hh
 *   (any may be NULL to skip it).
 * OUT (overwritten): dh0, dc0 (B, H) (NULL to skip; dc0 LSTM only).
 * IN: dout (T, B, ld_dout) columns [0, H) (NULL = zero; ignored past a length),
 *   dh_n, dc_n (B, H) or NULL; ws and the forward's inputs. */
fs_status fs_rnn_backward_f32(const fs_rnn_params *p,
                              float *dx, int64_t ld_dx, float *dh0, float *dc0,
                              float *dw_ih, float *dw_hh, float *db_ih, float *db_hh,
                              const float *dout, int64_t ld_dout,
                              const float *dh_n, const float *dc_n, const float *ws,
                              const float *x, int64_t ld_x, const float *h0, const float *c0,
                              const float *w_ih, const float *w_hh,
                              const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                             int n_threads);

/* The same in float64 (used by the finite-difference gradient checks). */
fs_status fs_rnn_forward_f64(const fs_rnn_params *p,
                             double *out, int64_t ld_out, double *h_n, double *c_n, double *ws,
                             const double *x, int64_t ld_x, const double *h0, const double *c0,
                             const double *w_ih, const double *w_hh,
                             const double *b_ih, const double *b_hh,
                             const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                             int n_threads);

fs_status fs_rnn_backward_f64(const fs_rnn_params *p,
                              double *dx, int64_t ld_dx, double *dh0, double *dc0,
                              double *dw_ih, double *dw_hh, double *db_ih, double *db_hh,
                              const double *dout, int64_t ld_dout,
                              const double *dh_n, const double *dc_n, const double *ws,
                              const double *x, int64_t ld_x, const double *h0, const double *c0,
                              const double *w_ih, const double *w_hh,
                              const int64_t *lengths, void *scratch, int64_t scratch_bytes,
                             int n_threads);

/* C (M, N; ldc) = beta * C + A (M, K; lda) . B^T (B is (N, K); ldb), beta 0 or 1.
 * The kernels' matrix product, exposed for tests and benchmarks. */
fs_status fs_gemm_nt_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                         const float *B, int64_t ldb, float *C, int64_t ldc, int beta,
                         int simd, int n_threads);

/* y[i] = f(x[i]) for i < n in float32 with the gate math's own functions:
 * op 0 e^x, 1 sigmoid, 2 tanh, 3 sigmoid(x[i]) tanh(x2[i]) (for the accuracy
 * tests; x2 is read by op 3 only) */
fs_status fs_rnn_pointwise_f32(int op, const float *x, const float *x2, float *y, int64_t n,
                               int simd);

/* The machine's float32 multiply-add peak in FLOP/s: n rounds of independent
 * vector FMAs (no memory) on each of n_threads threads at once, their rates
 * summed (0 on bad arguments). For benchmarks: the roofline's compute floor. */
double fs_fma_rate_f32(int64_t n, int simd, int n_threads);

#endif
