"""Plain NumPy forward of the recurrent cells, one step at a time, written for
clarity (float64), with PyTorch's equations and gate order."""
from __future__ import annotations

import numpy as np


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def cell(mode, x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One step for one batch: x (B, I), h, c (B, H). Returns (h', c')."""
    H = h.shape[1]
    gi = x @ w_ih.T + (0 if b_ih is None else b_ih)
    gh = h @ w_hh.T + (0 if b_hh is None else b_hh)
    if mode == "LSTM":
        a = gi + gh
        i, f, g, o = (sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]),
                      sigmoid(a[:, 3 * H:]))
        c = f * c + i * g
        return o * np.tanh(c), c
    if mode == "GRU":
        r = sigmoid(gi[:, :H] + gh[:, :H])
        z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        return (1 - z) * n + z * h, c
    a = gi + gh
    return (np.tanh(a) if mode == "RNN_TANH" else np.maximum(a, 0)), c


def layer(mode, x, w_ih, w_hh, b_ih, b_hh, h0=None, c0=None, lengths=None, reverse=False):
    """One direction of one layer: x (T, B, I). Returns out (T, B, H), h_n, c_n.
    Sequence b runs over its first lengths[b] steps (reversed: from its last
    real step back to 0); outputs past its length are zero and its final
    state is the one at its last real step."""
    x = np.asarray(x, dtype=np.float64)
    T, B, _ = x.shape
    H = w_hh.shape[1]
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    out = np.zeros((T, B, H))
    h_n, c_n = np.zeros((B, H)), np.zeros((B, H))
    for b in range(B):
        h = np.zeros((1, H)) if h0 is None else np.asarray(h0, np.float64)[b:b + 1]
        c = np.zeros((1, H)) if c0 is None else np.asarray(c0, np.float64)[b:b + 1]
        steps = range(lengths[b] - 1, -1, -1) if reverse else range(lengths[b])
        for t in steps:
            h, c = cell(mode, x[t, b:b + 1], h, c, w_ih, w_hh, b_ih, b_hh)
            out[t, b] = h[0]
        h_n[b], c_n[b] = h[0], c[0]
    return out, h_n, c_n


def stack(mode, x, weights, num_layers, bidirectional, h0=None, c0=None, lengths=None):
    """Multi-layer (bidirectional) network without dropout: weights[(layer, dir)] =
    (w_ih, w_hh, b_ih, b_hh); h0/c0 (num_layers * dirs, B, H). Returns out, h_n, c_n."""
    dirs = 2 if bidirectional else 1
    hs, cs = [], []
    inp = np.asarray(x, np.float64)
    for layer_i in range(num_layers):
        outs = []
        for d in range(dirs):
            k = layer_i * dirs + d
            o, hn, cn = layer(mode, inp, *weights[(layer_i, d)],
                              h0=None if h0 is None else h0[k], c0=None if c0 is None else c0[k],
                              lengths=lengths, reverse=d == 1)
            outs.append(o)
            hs.append(hn)
            cs.append(cn)
        inp = np.concatenate(outs, axis=2)
    return inp, np.stack(hs), np.stack(cs)


# ---- helpers shared by the RNN tests
# float32 results against a float64 / other-library reference: relative to the
# largest magnitude of the reference (element-wise rtol is meaningless near 0)
RTOL = {"float32": {"forward": 1e-5, "grad": 1e-4}, "float64": {"forward": 1e-12, "grad": 1e-7}}


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(np.abs(b).max(initial=0.0), 1e-30)
    return float(np.abs(a - b).max(initial=0.0) / scale)


def numeric_grad(f, arr, idx, eps=1e-5):
    """4-point central difference of scalar f() with respect to arr[idx] (in place)."""
    old = arr[idx]
    vals = []
    for e in (2 * eps, eps, -eps, -2 * eps):
        arr[idx] = old + e
        vals.append(f())
    arr[idx] = old
    return (-vals[0] + 8 * vals[1] - 8 * vals[2] + vals[3]) / (12 * eps)
