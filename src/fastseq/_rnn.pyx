# Thin wrapper around csrc/fs_rnn.c: check shapes, release the GIL, call, map status.
# One layer and one direction per call; fastseq.nn stacks layers and directions.
from libc.stdint cimport int64_t
from fastseq._csrc cimport *

include "_common.pxi"

MODES = {"RNN_TANH": FS_RNN_TANH, "RNN_RELU": FS_RNN_RELU, "LSTM": FS_RNN_LSTM, "GRU": FS_RNN_GRU}

ctypedef fused real:
    float
    double


def gates(int mode):
    """Gates per mode: 4 (LSTM), 3 (GRU), 1 (RNN)."""
    return fs_rnn_gates(mode)


def workspace_size(int mode, int64_t T, int64_t B, int64_t H):
    """Elements of the workspace forward fills for backward."""
    cdef fs_rnn_params p
    p.mode = mode
    p.T, p.B, p.H, p.I = T, B, H, 1
    return fs_rnn_workspace_size(&p)


def scratch_size(int mode, int64_t T, int64_t B, int64_t I, int64_t H, bint double, int simd,
                 int n_threads):
    """Bytes of scratch forward / backward use (pass a uint8 array this large)."""
    cdef fs_rnn_params p
    p.mode, p.reverse, p.training, p.simd = mode, 0, 1, simd
    p.T, p.B, p.I, p.H = T, B, I, H
    return fs_rnn_scratch_size_f64(&p, n_threads) if double else fs_rnn_scratch_size_f32(&p, n_threads)


cdef void *_scratch(unsigned char[::1] scratch, int64_t *nbytes):
    if scratch is None or scratch.shape[0] == 0:
        nbytes[0] = 0
        return NULL
    nbytes[0] = scratch.shape[0]
    return &scratch[0]


cdef _shape(name, arr, tuple expected):
    if arr is None:
        return
    got = tuple(arr.shape)[:len(expected)]
    if got != expected:
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(arr.shape)}")


cdef void _params(fs_rnn_params *p, int mode, bint reverse, bint training, int simd,
                  int64_t T, int64_t B, int64_t I, int64_t H):
    p.mode = mode
    p.reverse = reverse
    p.training = training
    p.simd = simd
    p.T, p.B, p.I, p.H = T, B, I, H


def forward(int mode, bint reverse, bint training, int simd,
            const real[:, :, ::1] x, const real[:, ::1] w_ih, const real[:, ::1] w_hh,
            const real[::1] b_ih, const real[::1] b_hh, const real[:, ::1] h0, const real[:, ::1] c0,
            const int64_t[::1] lengths,
            real[:, :, ::1] out, int64_t out_col, real[:, ::1] h_n, real[:, ::1] c_n,
            real[::1] ws, unsigned char[::1] scratch=None, int n_threads=1):
    """One layer, one direction. x (T, B, I); out (T, B, ld) receives h_t in
    columns [out_col, out_col + H); h_n / c_n (B, H) the final states; ws
    (workspace_size) what backward needs; scratch (scratch_size bytes, or None:
    allocated per call). Optional arrays may be None."""
    cdef int64_t T = x.shape[0], B = x.shape[1], I = x.shape[2], H = w_hh.shape[1]
    cdef int G = fs_rnn_gates(mode)
    if G == 0:
        raise ValueError(f"mode: unknown ({mode})")
    _shape("w_hh", w_hh, (G * H, H))
    _shape("w_ih", w_ih, (G * H, I))
    _shape("b_ih", b_ih, (G * H,))
    _shape("b_hh", b_hh, (G * H,))
    _shape("h0", h0, (B, H))
    _shape("h_n", h_n, (B, H))
    if mode == FS_RNN_LSTM:
        if c_n is None:
            raise ValueError("c_n: required for LSTM")
        _shape("c0", c0, (B, H))
        _shape("c_n", c_n, (B, H))
    _shape("lengths", lengths, (B,))
    if out.shape[0] != T or out.shape[1] != B or out_col < 0 or out_col + H > out.shape[2]:
        raise ValueError(f"out: expected ({T}, {B}, >= {out_col + H}), got {tuple(out.shape)}")
    cdef fs_rnn_params p
    _params(&p, mode, reverse, training, simd, T, B, I, H)
    if ws.shape[0] < fs_rnn_workspace_size(&p):
        raise ValueError(f"ws: expected {fs_rnn_workspace_size(&p)} elements, got {ws.shape[0]}")
    if T == 0 or B == 0:
        raise ValueError("x: needs at least one step and one sequence")
    cdef const int64_t *len_p = NULL if lengths is None else &lengths[0]
    cdef const real *h0_p = NULL if h0 is None else &h0[0, 0]
    cdef const real *c0_p = NULL if c0 is None else &c0[0, 0]
    cdef const real *bi_p = NULL if b_ih is None else &b_ih[0]
    cdef const real *bh_p = NULL if b_hh is None else &b_hh[0]
    cdef real *cn_p = NULL if c_n is None else &c_n[0, 0]
    cdef int64_t nscr
    cdef void *scr = _scratch(scratch, &nscr)
    if scr != NULL and nscr < (fs_rnn_scratch_size_f64(&p, n_threads) if sizeof(real) == 8
                               else fs_rnn_scratch_size_f32(&p, n_threads)):
        raise ValueError("scratch: smaller than scratch_size(...)")
    cdef fs_status st
    with nogil:
        if real is float:
            st = fs_rnn_forward_f32(&p, &out[0, 0, out_col], out.shape[2], &h_n[0, 0], cn_p,
                                    &ws[0], &x[0, 0, 0], I, h0_p, c0_p, &w_ih[0, 0], &w_hh[0, 0],
                                    bi_p, bh_p, len_p, scr, nscr, n_threads)
        else:
            st = fs_rnn_forward_f64(&p, &out[0, 0, out_col], out.shape[2], &h_n[0, 0], cn_p,
                                    &ws[0], &x[0, 0, 0], I, h0_p, c0_p, &w_ih[0, 0], &w_hh[0, 0],
                                    bi_p, bh_p, len_p, scr, nscr, n_threads)
    check_status(st, "rnn.forward")


def backward(int mode, bint reverse, int simd,
             const real[:, :, ::1] dout, int64_t dout_col, const real[:, ::1] dh_n,
             const real[:, ::1] dc_n, const real[::1] ws, const real[:, :, ::1] x,
             const real[:, ::1] w_ih, const real[:, ::1] w_hh,
             const real[:, ::1] h0, const real[:, ::1] c0, const int64_t[::1] lengths,
             real[:, :, ::1] dx, real[:, ::1] dh0, real[:, ::1] dc0,
             real[:, ::1] dw_ih, real[:, ::1] dw_hh, real[::1] db_ih, real[::1] db_hh,
             unsigned char[::1] scratch=None, int n_threads=1):
    """Backward of forward(...) with training=True and the same inputs.
    dx, dw_*, db_* are accumulated into (+=); dh0, dc0 are overwritten. Any
    output may be None to skip it; dout, dh_n, dc_n may be None (zero)."""
    cdef int64_t T = x.shape[0], B = x.shape[1], I = x.shape[2], H = w_hh.shape[1]
    cdef int G = fs_rnn_gates(mode)
    if G == 0:
        raise ValueError(f"mode: unknown ({mode})")
    _shape("w_hh", w_hh, (G * H, H))
    _shape("w_ih", w_ih, (G * H, I))
    _shape("dw_ih", dw_ih, (G * H, I))
    _shape("dw_hh", dw_hh, (G * H, H))
    _shape("db_ih", db_ih, (G * H,))
    _shape("db_hh", db_hh, (G * H,))
    _shape("dh_n", dh_n, (B, H))
    _shape("dh0", dh0, (B, H))
    _shape("h0", h0, (B, H))
    _shape("c0", c0, (B, H))
    _shape("dc_n", dc_n, (B, H))
    _shape("dc0", dc0, (B, H))
    _shape("dx", dx, (T, B, I))
    _shape("lengths", lengths, (B,))
    if dout is not None and (dout.shape[0] != T or dout.shape[1] != B or dout_col < 0
                             or dout_col + H > dout.shape[2]):
        raise ValueError(f"dout: expected ({T}, {B}, >= {dout_col + H}), got {tuple(dout.shape)}")
    cdef fs_rnn_params p
    _params(&p, mode, reverse, True, simd, T, B, I, H)
    if ws.shape[0] < fs_rnn_workspace_size(&p):
        raise ValueError(f"ws: expected {fs_rnn_workspace_size(&p)} elements, got {ws.shape[0]}")
    cdef const int64_t *len_p = NULL if lengths is None else &lengths[0]
    cdef const real *dout_p = NULL if dout is None else &dout[0, 0, dout_col]
    cdef int64_t ld_dout = 0 if dout is None else dout.shape[2]
    cdef const real *dhn_p = NULL if dh_n is None else &dh_n[0, 0]
    cdef const real *dcn_p = NULL if dc_n is None else &dc_n[0, 0]
    cdef const real *h0_p = NULL if h0 is None else &h0[0, 0]
    cdef const real *c0_p = NULL if c0 is None else &c0[0, 0]
    cdef real *dx_p = NULL if dx is None else &dx[0, 0, 0]
    cdef real *dh0_p = NULL if dh0 is None else &dh0[0, 0]
    cdef real *dc0_p = NULL if dc0 is None else &dc0[0, 0]
    cdef real *dwi_p = NULL if dw_ih is None else &dw_ih[0, 0]
    cdef real *dwh_p = NULL if dw_hh is None else &dw_hh[0, 0]
    cdef real *dbi_p = NULL if db_ih is None else &db_ih[0]
    cdef real *dbh_p = NULL if db_hh is None else &db_hh[0]
    cdef int64_t nscr
    cdef void *scr = _scratch(scratch, &nscr)
    if scr != NULL and nscr < (fs_rnn_scratch_size_f64(&p, n_threads) if sizeof(real) == 8
                               else fs_rnn_scratch_size_f32(&p, n_threads)):
        raise ValueError("scratch: smaller than scratch_size(...)")
    cdef fs_status st
    with nogil:
        if real is float:
            st = fs_rnn_backward_f32(&p, dx_p, I, dh0_p, dc0_p, dwi_p, dwh_p, dbi_p, dbh_p,
                                     dout_p, ld_dout, dhn_p, dcn_p, &ws[0], &x[0, 0, 0], I,
                                     h0_p, c0_p, &w_ih[0, 0], &w_hh[0, 0], len_p, scr, nscr,
                                     n_threads)
        else:
            st = fs_rnn_backward_f64(&p, dx_p, I, dh0_p, dc0_p, dwi_p, dwh_p, dbi_p, dbh_p,
                                     dout_p, ld_dout, dhn_p, dcn_p, &ws[0], &x[0, 0, 0], I,
                                     h0_p, c0_p, &w_ih[0, 0], &w_hh[0, 0], len_p, scr, nscr,
                                     n_threads)
    check_status(st, "rnn.backward")


def gemm_nt(const float[:, ::1] a, const float[:, ::1] b, float[:, ::1] c, bint accumulate=False,
            int simd=-1, int n_threads=1):
    """c (M, N) = a (M, K) . b (N, K)^T (+ c if accumulate): the kernels' own product."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"b: expected (N, {a.shape[1]}), got {tuple(b.shape)}")
    if c.shape[0] != a.shape[0] or c.shape[1] != b.shape[0]:
        raise ValueError(f"c: expected ({a.shape[0]}, {b.shape[0]}), got {tuple(c.shape)}")
    cdef fs_status st
    if a.shape[0] == 0 or b.shape[0] == 0:
        return
    with nogil:
        st = fs_gemm_nt_f32(a.shape[0], b.shape[0], a.shape[1], &a[0, 0], a.shape[1],
                            &b[0, 0], b.shape[1], &c[0, 0], c.shape[1], accumulate, simd,
                            n_threads)
    check_status(st, "rnn.gemm_nt")


def fma_rate(int64_t rounds=20_000_000, int simd=-1, int n_threads=1):
    """The machine's float32 multiply-add peak, FLOP/s: ``rounds`` rounds of
    independent vector FMAs (no memory) on each of ``n_threads`` threads at once,
    on the given SIMD path (-1: the best; the generic path, and builds without the
    x86 paths, multiply then add: the same 2 flops a lane, in two instructions).
    The compute floor of a roofline."""
    if rounds < 1:
        raise ValueError(f"rounds: expected a positive count, got {rounds}")
    cdef double r
    with nogil:
        r = fs_fma_rate_f32(rounds, simd, n_threads)
    if r <= 0:
        raise RuntimeError("rnn.fma_rate: the measurement failed")
    return r


POINTWISE = {"exp": 0, "sigmoid": 1, "tanh": 2, "sigmoid_tanh": 3}


def pointwise(str fn, const float[::1] x, float[::1] y, int simd=-1, const float[::1] x2=None):
    """y = fn(x) elementwise (fn: "exp", "sigmoid", "tanh", or "sigmoid_tanh":
    sigmoid(x) tanh(x2)) with the float32 functions of the gate math, on the given
    SIMD path (-1: the best)."""
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"y: expected ({x.shape[0]},), got ({y.shape[0]},)")
    if fn not in POINTWISE:
        raise ValueError(f"fn: expected one of {sorted(POINTWISE)}, got {fn!r}")
    cdef int op = POINTWISE[fn]
    if (op == 3) != (x2 is not None):
        raise ValueError("x2: given for, and only for, sigmoid_tanh")
    if x2 is not None and x2.shape[0] != x.shape[0]:
        raise ValueError(f"x2: expected ({x.shape[0]},), got ({x2.shape[0]},)")
    cdef const float *x2p = &x2[0] if x2 is not None and x2.shape[0] > 0 else NULL
    cdef fs_status st
    if x.shape[0] == 0:
        return
    with nogil:
        st = fs_rnn_pointwise_f32(op, &x[0], x2p, &y[0], x.shape[0], simd)
    check_status(st, "rnn.pointwise")
