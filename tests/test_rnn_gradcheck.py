"""Finite-difference gradient checks in float64 of the C kernels themselves (they
are compiled for double from the same source), through fastseq.nn: every cell,
layers, directions, lengths, h0/c0, batch_first and dropout with a fixed mask."""
import numpy as np
import pytest

import fastseq
from fastseq import _w2v, nn
from reference_rnn import RTOL, numeric_grad
from test_rnn_kernels import MODES, make

CASES = [
    # T, B, I, H, layers, bidir, lengths, h0, dropout, batch_first
    (4, 3, 3, 5, 1, False, None, False, 0.0, False),
    (5, 4, 2, 4, 1, True, [5, 2, 4, 1], True, 0.0, False),
    (4, 3, 3, 3, 2, True, [4, 4, 2], True, 0.0, True),
    (3, 2, 2, 4, 2, False, [3, 1], True, 0.5, False),
]


def check_module(m, x, hx, lengths, n_samples=12, seed=0):
    rng = np.random.default_rng(seed)
    is_lstm = isinstance(m, nn.LSTM)

    def run():
        m.rng = np.random.default_rng(123)  # the same dropout mask on every run
        return m.forward(x, hx=hx, lengths=lengths)

    out, state = run()
    go = rng.standard_normal(out.shape)
    gh = rng.standard_normal((state[0] if is_lstm else state).shape)
    gc = rng.standard_normal(state[1].shape) if is_lstm else None

    def loss():
        o, st = run()
        if is_lstm:
            return (o * go).sum() + (st[0] * gh).sum() + (st[1] * gc).sum()
        return (o * go).sum() + (st * gh).sum()

    m.zero_grad()
    run()
    if is_lstm:
        gx, (gh0, gc0) = m.backward(go, gh, gc)
    else:
        gx, gh0 = m.backward(go, gh)
        gc0 = None
    checks = [("x", x, gx)]
    if hx is not None:
        checks.append(("h0", hx[0] if is_lstm else hx, gh0))
        if is_lstm:
            checks.append(("c0", hx[1], gc0))
    checks += [(name, p.data, p.grad) for name, p in m.named_parameters()]
    tol = RTOL["float64"]["grad"]
    for name, arr, grad in checks:
        assert grad.shape == arr.shape, name
        idx = list(np.ndindex(arr.shape))
        pick = rng.choice(len(idx), size=min(n_samples, len(idx)), replace=False)
        for i in pick:
            num = numeric_grad(loss, arr, idx[i])
            assert abs(num - grad[idx[i]]) <= tol * (1 + abs(num)), (name, idx[i], num, grad[idx[i]])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_gradients_match_finite_differences(mode, case):
    T, B, I, H, layers, bidir, lengths, use_h0, dropout, bf = CASES[case]
    m = make(mode, I, H, num_layers=layers, bidirectional=bidir, dropout=dropout,
             batch_first=bf, dtype=np.float64, seed=case)
    rng = np.random.default_rng(case)
    for p in m.parameters():  # larger weights than the default init: a stronger test
        p.data[...] = rng.uniform(-0.8, 0.8, p.data.shape)
    x = rng.standard_normal((B, T, I) if bf else (T, B, I))
    hx = None
    if use_h0:
        shape = (layers * m.num_directions, B, H)
        hx = (rng.standard_normal(shape), rng.standard_normal(shape)) if mode == "LSTM" \
            else rng.standard_normal(shape)
    check_module(m, x, hx, lengths)


@pytest.mark.parametrize("simd", ["generic", "avx2", "avx512"])
def test_gradients_on_every_simd_path(monkeypatch, simd):
    if _w2v.SIMD_NAMES[simd] > _w2v.SIMD_NAMES[_w2v.simd_best()]:
        pytest.skip(f"CPU has no {simd}")
    monkeypatch.setenv("FASTSEQ_SIMD", simd)
    rng = np.random.default_rng(7)
    for mode in MODES:
        # B = 17 runs the threads on rows, B = 2 over 5 steps on hidden-unit chunks (H = 40 >
        # one panel); B = 1 with H = 260 (w_hh >= 512 KiB in float64) and B = 2 over 4 steps
        # (8 rows) take the dot-product path
        for T, B, H in ((4, 17, 40), (5, 2, 40), (4, 1, 260), (4, 2, 40)):
            m = make(mode, 3, H, bidirectional=True, dtype=np.float64, seed=1)
            x = rng.standard_normal((T, B, 3))
            lengths = rng.integers(1, T + 1, B)
            fastseq.set_num_threads(2)
            try:
                check_module(m, x, None, lengths, n_samples=4)
            finally:
                fastseq.set_num_threads(None)


def test_unbatched_input_gradients():
    m = nn.GRU(3, 4, num_layers=2, dtype=np.float64, seed=2)
    x = np.random.default_rng(8).standard_normal((5, 3))
    check_module(m, x, np.zeros((2, 4)), None)
