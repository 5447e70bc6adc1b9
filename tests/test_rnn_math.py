"""The float32 exp / sigmoid / tanh of the LSTM/GRU/RNN gate math (csrc/fs_rnn_impl.h)
against NumPy in float64, on every SIMD path, over a dense range and the edges:
±0, tiny and large |x|, ±inf, NaN and the clamp region.

Stated bounds (measured maxima in the comments): relative error <= 2.5e-7 for exp
on [-87, 88], sigmoid on [-87, 87] (and absolute <= 1.2e-7) and tanh on
every finite float; beyond the clamps exp returns e^-87 / e^88, sigmoid rounds
to its limits and tanh to ±1."""
import numpy as np
import pytest

from fastseq import _rnn, _w2v

SIMD = [s for s in ("generic", "avx2", "avx512")
        if _w2v.SIMD_NAMES[s] <= _w2v.SIMD_NAMES[_w2v.simd_best()]]
REL = 2.5e-7


def run(fn, x, simd, x2=None):
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.full_like(x, -12345.0)
    if x2 is not None:
        x2 = np.ascontiguousarray(x2, dtype=np.float32)
    _rnn.pointwise(fn, x, y, _w2v.SIMD_NAMES[simd], x2)
    return y


def dense(lo, hi, n=2_000_003):
    # an odd count and a few hundred thousand consecutive floats around 0 and 1
    x = np.linspace(lo, hi, n, dtype=np.float64).astype(np.float32)
    return np.unique(x)


def near(v, count=200_000):
    """count consecutive floats centred on v (v = 0: the smallest of both signs)"""
    if v == 0:
        pos = np.arange(count // 2, dtype=np.int32).view(np.float32)
        return np.concatenate([pos, -pos])
    bits = int(np.float32(v).view(np.int32))
    return np.arange(bits - count // 2, bits + count // 2, dtype=np.int32).view(np.float32)


def rel_err(y, ref):
    ref = np.asarray(ref, dtype=np.float64)
    return np.abs(y.astype(np.float64) - ref) / np.maximum(np.abs(ref), np.finfo(np.float64).tiny)


@pytest.mark.parametrize("simd", SIMD)
def test_exp(simd):
    x = np.concatenate([dense(-87, 88), near(0.0), near(1.0), near(-1.0),
                        np.float32([np.log(2) / 2, -np.log(2) / 2, 87.9, -86.9])])
    y = run("exp", x, simd)
    err = rel_err(y, np.exp(x.astype(np.float64)))
    assert err.max() <= REL, (err.max(), x[err.argmax()])  # measured 1.0e-7
    assert run("exp", np.float32([0.0, -0.0]), simd).tolist() == [1.0, 1.0]
    # clamp: below -87 the value at -87, above 88 the value at 88 (finite, normal)
    lo, hi = run("exp", np.float32([-87, 88]), simd)
    out = run("exp", np.float32([-88, -1e4, -np.inf, 89, 1e4, np.inf]), simd)
    assert out.tolist() == [lo] * 3 + [hi] * 3
    assert np.isfinite(out).all() and out.min() >= np.finfo(np.float32).tiny
    assert np.isnan(run("exp", np.float32([np.nan, -np.nan]), simd)).all()


@pytest.mark.parametrize("simd", SIMD)
def test_sigmoid(simd):
    x = np.concatenate([dense(-87, 87), near(0.0), near(10.0), near(-10.0)])
    y = run("sigmoid", x, simd)
    ref = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    err = rel_err(y, ref)
    assert err.max() <= REL, (err.max(), x[err.argmax()])  # measured 1.5e-7
    assert np.abs(y - ref).max() <= 1.2e-7  # measured 8.9e-8 (1.5 ulp of 1)
    assert run("sigmoid", np.float32([0.0, -0.0]), simd).tolist() == [0.5, 0.5]
    big = run("sigmoid", np.float32([20, 88, 1e4, np.inf]), simd)
    assert big.tolist() == [1.0] * 4
    small = run("sigmoid", np.float32([-88, -1e4, -np.inf]), simd)
    assert ((small >= 0) & (small <= 2e-38)).all()
    assert np.isnan(run("sigmoid", np.float32([np.nan]), simd)).all()


@pytest.mark.parametrize("simd", SIMD)
def test_tanh(simd):
    tiny = np.float32([1e-38, 1e-30, 1e-20, 1e-10, 1e-5, 1e-3])
    x = np.concatenate([dense(-12, 12), near(0.0), near(0.4), near(-0.4), near(9.0),
                        tiny, -tiny])
    y = run("tanh", x, simd)
    err = rel_err(y, np.tanh(x.astype(np.float64)))
    assert err.max() <= REL, (err.max(), x[err.argmax()])  # measured 2.0e-7
    z = run("tanh", np.float32([0.0, -0.0]), simd)
    assert z.tolist() == [0.0, 0.0] and np.signbit(z).tolist() == [False, True]
    big = np.float32([9.1, 10, 88, 1e4, 3e38, np.inf])
    assert run("tanh", big, simd).tolist() == [1.0] * 6
    assert run("tanh", -big, simd).tolist() == [-1.0] * 6
    assert np.isnan(run("tanh", np.float32([np.nan, -np.nan]), simd)).all()
    # odd, exactly
    xs = dense(-10, 10, 100_001)
    assert np.array_equal(run("tanh", -xs, simd), -run("tanh", xs, simd))


@pytest.mark.parametrize("simd", SIMD)
def test_sigmoid_tanh(simd):
    # the LSTM's h = sigmoid(o) tanh(c) with one divide: every (o, c) pair of a grid
    o = np.concatenate([np.linspace(-69, 30, 1001), np.linspace(-1, 1, 1001)]).astype(np.float32)
    c = np.concatenate([np.linspace(-12, 12, 1001), near(0.0, 200)]).astype(np.float32)
    xo, xc = [v.ravel() for v in np.meshgrid(o, c)]
    y = run("sigmoid_tanh", xo, simd, xc)
    ref = np.tanh(xc.astype(np.float64)) / (1.0 + np.exp(-xo.astype(np.float64)))
    # relative error where the value is a normal float, absolute (x 2^126) below
    err = np.abs(y - ref) / np.maximum(np.abs(ref), np.finfo(np.float32).tiny)
    assert err.max() <= 3.5e-7, (err.max(), xo[err.argmax()], xc[err.argmax()])  # measured 2.1e-7
    z = run("sigmoid_tanh", np.float32([1.0, 1.0, -80.0]), simd, np.float32([0.0, -0.0, 1.0]))
    assert np.signbit(z).tolist() == [False, True, False]
    # below xs = -69 the denominator may overflow: then 0, an absolute error < 1e-30
    xo = np.float32([-70, -87, -88, -1e4, -np.inf] * 2)
    xc = np.float32([0.5] * 5 + [20] * 5)
    y = run("sigmoid_tanh", xo, simd, xc)
    assert ((y >= 0) & (y <= 1e-30)).all()
    assert run("sigmoid_tanh", np.float32([np.inf, 3e38]), simd, np.float32([9.5, -np.inf])).tolist() == [1, -1]
    assert np.isnan(run("sigmoid_tanh", np.float32([np.nan, 1.0]), simd, np.float32([1.0, np.nan]))).all()


def test_bad_args():
    x = np.zeros(4, np.float32)
    with pytest.raises(ValueError):
        _rnn.pointwise("log", x, x)
    with pytest.raises(ValueError):
        _rnn.pointwise("exp", x, np.zeros(3, np.float32))
    with pytest.raises(ValueError):
        _rnn.pointwise("sigmoid_tanh", x, x)
    with pytest.raises(ValueError):
        _rnn.pointwise("tanh", x, x, -1, x)
