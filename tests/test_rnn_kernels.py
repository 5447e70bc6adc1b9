"""The C recurrent kernels against the plain NumPy reference (tests/reference_rnn.py),
on every SIMD path, with and without lengths, h0/c0, layers and directions."""
import numpy as np
import pytest

import fastseq
from fastseq import _rnn, _w2v, nn
from reference_rnn import RTOL, rel_err, stack

MODES = ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"]
SIMD = [s for s in ("generic", "avx2", "avx512")
        if _w2v.SIMD_NAMES[s] <= _w2v.SIMD_NAMES[_w2v.simd_best()]]


def make(mode, I, H, **kw):
    if mode == "LSTM":
        return nn.LSTM(I, H, **kw)
    if mode == "GRU":
        return nn.GRU(I, H, **kw)
    return nn.RNN(I, H, nonlinearity="tanh" if mode == "RNN_TANH" else "relu", **kw)


def weights_of(m):
    w = {}
    for layer in range(m.num_layers):
        for d in range(m.num_directions):
            w[(layer, d)] = tuple(None if p is None else p.data.astype(np.float64)
                                  for p in m._weights(layer, d))
    return w


def check_forward(mode, dtype, rng, T, B, I, H, layers, bidir, lengths, use_h0, bias=True):
    """forward (one and two threads) against the NumPy reference"""
    m = make(mode, I, H, num_layers=layers, bidirectional=bidir, bias=bias, dtype=dtype, seed=1)
    x = rng.standard_normal((T, B, I)).astype(dtype)
    L = layers * m.num_directions
    h0 = rng.standard_normal((L, B, H)).astype(dtype) if use_h0 else None
    c0 = rng.standard_normal((L, B, H)).astype(dtype) if use_h0 else None
    hx = (h0, c0) if (mode == "LSTM" and use_h0) else h0
    ref_out, ref_h, ref_c = stack(mode, x, weights_of(m), layers, bidir,
                                  h0=h0, c0=c0 if mode == "LSTM" else None, lengths=lengths)
    tol = RTOL[np.dtype(dtype).name]["forward"]
    for threads in (1, 2):
        fastseq.set_num_threads(threads)
        try:
            out, state = m.forward(x, hx=hx, lengths=lengths)
        finally:
            fastseq.set_num_threads(None)
        h_n = state[0] if mode == "LSTM" else state
        assert rel_err(out, ref_out) <= tol
        assert rel_err(h_n, ref_h) <= tol
        if mode == "LSTM":
            assert rel_err(state[1], ref_c) <= tol
        if lengths is not None:
            for b in range(B):
                assert not out[lengths[b]:, b].any()  # zero past the length
        assert out.dtype == dtype


@pytest.mark.parametrize("simd", SIMD)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_matches_numpy(monkeypatch, simd, mode, dtype):
    monkeypatch.setenv("FASTSEQ_SIMD", simd)
    rng = np.random.default_rng(0)
    # H = 37 is not a multiple of any panel width; B = 11 not of any row tile
    for (T, B, I, H, layers, bidir, use_len, use_h0, bias) in [
            (5, 11, 6, 37, 1, False, False, False, True),
            (6, 11, 4, 37, 2, True, True, True, True),
            (4, 1, 3, 8, 1, True, True, True, False),
            (7, 20, 5, 33, 1, False, True, True, True)]:
        lengths = rng.integers(1, T + 1, B) if use_len else None
        check_forward(mode, dtype, rng, T, B, I, H, layers, bidir, lengths, use_h0, bias)


@pytest.mark.parametrize("simd", SIMD)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_one_matches_numpy(monkeypatch, simd, mode, dtype):
    """Batch 1 with w_hh of 512 KiB or more takes its own path (dot products
    the threads splitting the hidden units):
    every cell, both directions, lengths, h0/c0, one and two threads, sizes off
    and on the tiles, w_hh read in place (T < 8) and packed; and smaller
    weights the packed path."""
    monkeypatch.setenv("FASTSEQ_SIMD", simd)
    rng = np.random.default_rng(12)
    for (T, I, H, layers, bidir, length, use_h0) in [
            (5, 5, 370, 1, True, 3, True),       # H, K off every tile; a length < T
            (3, 19, 370, 2, True, None, False),  # I off the tiles; 12 chunks over 2 threads
            (3, 64, 384, 1, False, None, True),  # whole tiles, no tail
            (9, 5, 370, 1, True, 6, True),       # T >= 8: w_hh packed into dot tiles
            (3, 3, 1, 1, False, 2, True)]:       # one hidden unit (packed path)
        lengths = None if length is None else np.array([length])
        check_forward(mode, dtype, rng, T, 1, I, H, layers, bidir, lengths, use_h0)


@pytest.mark.parametrize("simd", SIMD)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_short_runs_of_small_batches_match_numpy(monkeypatch, simd, mode, dtype):
    """Short runs take the dot-product path too (no packing; the threads split the
    hidden units even where the batch would fill their row tiles): batches 2-32
    over at most 8 rows T * B, 24 with w_hh of 2 MiB or more (H = 740 in float32
    for every cell) and 32 from 8 MiB (H = 740: LSTM; the others take the
    panels), and batch 1 with small weights over a few steps (H = 37: up to 5
    steps; H = 1: one step)."""
    monkeypatch.setenv("FASTSEQ_SIMD", simd)
    rng = np.random.default_rng(13)
    for (T, B, I, H, layers, bidir, use_len, use_h0) in [
            (4, 2, 5, 37, 1, True, True, True),      # 8 rows, lengths, reverse direction
            (1, 8, 6, 37, 2, True, False, False),    # T = 1 (a generated token), 8 sequences
            (2, 3, 19, 70, 1, False, True, True),    # two chunks of units, I off the tiles
            (2, 12, 7, 740, 1, True, True, False),   # 24 rows, large weights
            (1, 32, 7, 740, 1, False, True, True),   # 32 rows, larger weights
            (5, 1, 4, 37, 1, True, True, True),      # batch 1, small weights, 5 steps
            (1, 1, 3, 1, 1, False, False, True)]:    # one hidden unit, one step
        lengths = rng.integers(1, T + 1, B) if use_len else None
        check_forward(mode, dtype, rng, T, B, I, H, layers, bidir, lengths, use_h0)


@pytest.mark.parametrize("simd", SIMD)
def test_gemm_matches_numpy(simd):
    rng = np.random.default_rng(2)
    level = _w2v.SIMD_NAMES[simd]
    for (M, N, K) in [(1, 1, 1), (7, 33, 5), (64, 1024, 256), (130, 70, 300)]:
        a = rng.standard_normal((M, K)).astype(np.float32)
        b = rng.standard_normal((N, K)).astype(np.float32)
        c = rng.standard_normal((M, N)).astype(np.float32)
        c0 = c.copy()
        _rnn.gemm_nt(a, b, c, accumulate=True, simd=level, n_threads=2)
        ref = c0.astype(np.float64) + a.astype(np.float64) @ b.T.astype(np.float64)
        assert rel_err(c, ref) < 1e-5
        _rnn.gemm_nt(a, b, c, accumulate=False, simd=level, n_threads=1)
        assert rel_err(c, a.astype(np.float64) @ b.T.astype(np.float64)) < 1e-5


@pytest.mark.parametrize("simd", SIMD)
def test_fma_rate(simd):
    """The benchmarks' FMA peak: a finite positive rate on every path and thread
    count (its chains must not be optimised away: a rate of 0 or inf says they
    were), and bad arguments refused. How fast is measured, not asserted."""
    level = _w2v.SIMD_NAMES[simd]
    for threads in (1, 2, 3):
        r = _rnn.fma_rate(rounds=100_000, simd=level, n_threads=threads)
        assert np.isfinite(r) and 1e8 < r < 1e14
    with pytest.raises(ValueError, match="rounds"):
        _rnn.fma_rate(rounds=0)


def test_simd_paths_agree(monkeypatch):
    """Every SIMD path computes the same function (to float32 rounding)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((9, 5, 7)).astype(np.float32)
    m = nn.LSTM(7, 19, bidirectional=True, seed=4)
    outs = []
    for simd in SIMD:
        monkeypatch.setenv("FASTSEQ_SIMD", simd)
        outs.append(m.forward(x, lengths=[9, 3, 9, 1, 4])[0])
    for o in outs[1:]:
        assert rel_err(o, outs[0]) < 1e-5


def test_one_thread_is_deterministic():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 16, 10)).astype(np.float32)
    m = nn.GRU(10, 40, num_layers=2, seed=6)
    fastseq.set_num_threads(1)
    try:
        runs = []
        for _ in range(2):
            m.zero_grad()
            out, h = m.forward(x)
            gx, gh = m.backward(np.ones_like(out))
            runs.append((out.copy(), gx.copy(), m.weight_hh_l0.grad.copy()))
    finally:
        fastseq.set_num_threads(None)
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


def test_scratch_given_or_allocated_gives_the_same_bits():
    rng = np.random.default_rng(7)
    T, B, I, H = 6, 5, 4, 9
    mode = _rnn.MODES["GRU"]
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    w_ih = rng.standard_normal((3 * H, I)).astype(np.float32)
    w_hh = rng.standard_normal((3 * H, H)).astype(np.float32)
    results = []
    for scratch in (None, np.empty(_rnn.scratch_size(mode, T, B, I, H, False, -1, 2), np.uint8)):
        out, hn = np.empty((T, B, H), np.float32), np.empty((B, H), np.float32)
        ws = np.empty(_rnn.workspace_size(mode, T, B, H), np.float32)
        _rnn.forward(mode, False, True, -1, x, w_ih, w_hh, None, None, None, None, None,
                     out, 0, hn, None, ws, scratch, 2)
        dx, dw = np.zeros_like(x), np.zeros_like(w_hh)
        _rnn.backward(mode, False, -1, out, 0, None, None, ws, x, w_ih, w_hh, None, None, None,
                      dx, None, None, None, dw, None, None, scratch, 2)
        results.append((out, dx, dw))
    for a, b in zip(*results):
        assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="scratch"):
        _rnn.forward(mode, False, True, -1, x, w_ih, w_hh, None, None, None, None, None,
                     out, 0, hn, None, ws, np.empty(16, np.uint8), 2)
