"""RNN, LSTM and GRU modules over the C kernels in csrc/fs_rnn.c (PyTorch's API)."""
from __future__ import annotations

import math
import threading
import warnings

import numpy as np

from .. import _rnn
from .._threads import get_num_threads, simd_level
from .module import (NO_FORWARD, Module, Parameter, as_float_array, check_float_dtype,
                     check_probability, is_inference_mode, kept_copy)

# Guards every module's free scratch buffers and workspaces: several Python threads
# may run one module at once (inference, the kernels releasing the GIL), and each
# call must hold buffers of its own.
_POOL_LOCK = threading.Lock()
_SCRATCH_KEEP = 4  # free scratch buffers a module keeps (one per concurrent call)


def _lengths_array(lengths, T, B):
    if lengths is None:
        return None
    if hasattr(lengths, "detach") and hasattr(lengths, "cpu"):
        lengths = lengths.detach().cpu()
    arr = np.asarray(lengths)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError("lengths: contains NaN or infinity")
        if (arr != np.round(arr)).any():
            raise ValueError(f"lengths: expected whole numbers, got {arr[arr != np.round(arr)][0]}")
    elif arr.dtype.kind not in "iu":
        raise ValueError(f"lengths: expected integers, got dtype {arr.dtype}")
    if arr.shape != (B,):
        raise ValueError(f"lengths: expected shape ({B},) (one per sequence), got {arr.shape}")
    if B and (arr.min() < 1 or arr.max() > T):  # checked before the cast: uint64 may not fit int64
        raise ValueError(f"lengths: every length must be in [1, {T}] (the padded length), "
                         f"got min {arr.min()}, max {arr.max()}")
    return np.ascontiguousarray(arr, dtype=np.int64)


class RNNBase(Module):
    """Shared by RNN, LSTM and GRU: parameters, stacking of layers and
    directions, dropout between layers, lengths, and the calls into C."""

    _gates = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
    _load_free_config = ("dropout", "batch_first")

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None):
        super().__init__()
        for name, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        dropout = check_probability("dropout", dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero "
                          f"dropout expects num_layers greater than 1, but got dropout={dropout} "
                          f"and num_layers={num_layers}", UserWarning, stacklevel=3)
        dtype = check_float_dtype(dtype)
        self.mode = mode
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = dropout
        self.bidirectional = bool(bidirectional)
        self.dtype = dtype
        self.rng = np.random.default_rng(seed)
        self._mode_id = _rnn.MODES[mode]
        G, H = self._gates[mode], self.hidden_size
        k = 1.0 / math.sqrt(H)
        # PyTorch's order and names: per layer, per direction: w_ih, w_hh, b_ih, b_hh
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * self.num_directions
            for d in range(self.num_directions):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                setattr(self, "weight_ih" + sfx, Parameter(self.rng.uniform(-k, k, (G * H, in_size)).astype(dtype)))
                setattr(self, "weight_hh" + sfx, Parameter(self.rng.uniform(-k, k, (G * H, H)).astype(dtype)))
                if self.bias:
                    setattr(self, "bias_ih" + sfx, Parameter(self.rng.uniform(-k, k, G * H).astype(dtype)))
                    setattr(self, "bias_hh" + sfx, Parameter(self.rng.uniform(-k, k, G * H).astype(dtype)))
        self._ctx = None
        self._versions = None
        self._checked_params = None
        self._scratch_free = []  # kernel scratch not in use, kept between calls
        self._ws_pool = []  # workspaces of finished forward/backward passes, for reuse

    def __setstate__(self, state):
        # pickles from before each call took scratch of its own hold one "_scratch"
        state = dict(state)
        old = state.pop("_scratch", None)
        state.setdefault("_scratch_free", [] if old is None else [old])
        self.__dict__.update(state)

    def _take_scratch(self, held, T, B, I, simd, nt):
        """Scratch for one kernel call: ``held`` (the call's buffer so far, or None)
        if large enough, else the module's free buffer or a new one; handed back
        with _give_scratch when the call is done."""
        need = _rnn.scratch_size(self._mode_id, T, B, I, self.hidden_size,
                                 self.dtype == np.float64, simd, nt)
        if held is not None and held.size >= need:
            return held
        with _POOL_LOCK:
            s = self._scratch_free.pop() if self._scratch_free else None
        return s if s is not None and s.size >= need else np.empty(need, np.uint8)

    def _give_scratch(self, s):
        if s is None:
            return
        with _POOL_LOCK:
            free = self._scratch_free
            if len(free) < _SCRATCH_KEEP:
                free.append(s)
            else:  # in place of a smaller one
                i = min(range(len(free)), key=lambda j: free[j].size)
                if free[i].size < s.size:
                    free[i] = s

    def _take_ws(self, n):
        with _POOL_LOCK:
            for i, ws in enumerate(self._ws_pool):
                if ws.size == n:
                    return self._ws_pool.pop(i)
        return np.empty(n, self.dtype)

    def _give_ws(self, wss):
        wss = list(wss)
        with _POOL_LOCK:
            self._ws_pool = (wss + self._ws_pool)[:2 * self.num_layers * self.num_directions]

    @property
    def num_directions(self):
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self):
        """The Parameters per layer and direction, in PyTorch's order: [[w_ih, w_hh,
        b_ih, b_hh] for layer 0 (its reverse direction next), ...], biases left out
        without ``bias``."""
        return [[p for p in self._weights(layer, d) if p is not None]
                for layer in range(self.num_layers) for d in range(self.num_directions)]

    def flatten_parameters(self):
        """Does nothing, as PyTorch's on the CPU (it packs weights for cuDNN)."""

    def config(self):
        cfg = dict(input_size=self.input_size, hidden_size=self.hidden_size,
                   num_layers=self.num_layers, bias=self.bias, batch_first=self.batch_first,
                   dropout=self.dropout, bidirectional=self.bidirectional)
        if self.mode.startswith("RNN"):
            cfg["nonlinearity"] = "tanh" if self.mode == "RNN_TANH" else "relu"
        return cfg

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        get = self._parameters.get
        return (get("weight_ih" + sfx), get("weight_hh" + sfx), get("bias_ih" + sfx),
                get("bias_hh" + sfx))

    def _check_weights(self):
        """Every weight present with the shape and dtype the kernels expect (they may
        have been reassigned since the constructor). A Parameter keeps its shape and
        dtype, so the check is redone only when the set of Parameters changed."""
        params = tuple(self._parameters.values())
        if params == getattr(self, "_checked_params", None):
            return
        self._check_weight_shapes()
        self._checked_params = params

    def _check_weight_shapes(self):
        G, H, D = self._gates[self.mode], self.hidden_size, self.num_directions
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * D
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = {"weight_ih": (G * H, in_size), "weight_hh": (G * H, H)}
                if self.bias:
                    shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
                for name, shape in shapes.items():
                    p = self._parameters.get(name + sfx)
                    if p is None or p.shape != shape or p.dtype != self.dtype:
                        got = "None" if p is None else f"{p.dtype} {p.shape}"
                        raise ValueError(f"{name + sfx}: expected a {self.dtype} Parameter of shape "
                                         f"{shape}, got {got}")

    def _check_state(self, name, value, B, batched):
        L, H = self.num_layers * self.num_directions, self.hidden_size
        if value is None:
            return None
        arr = as_float_array(name, value, self.dtype, ndim=3 if batched else 2)
        if not batched:
            arr = arr[:, None, :]
        if arr.shape != (L, B, H):
            shape = (L, B, H) if batched else (L, H)
            raise ValueError(f"{name}: expected shape {shape}, got {np.asarray(value).shape}")
        return np.ascontiguousarray(arr)

    def forward(self, x, hx=None, lengths=None):
        """Run the network over ``x``: (T, B, input_size), or (B, T, input_size) with
        ``batch_first``, or (T, input_size) unbatched.

        ``hx``: initial hidden state (num_layers * num_directions, B, hidden_size)
        (LSTM: a tuple ``(h0, c0)``); None for zeros. ``lengths``: (B,) the real
        length of each sequence, in [1, T], any order; steps past it neither change
        a sequence's state nor receive gradient and their outputs are zero, as with
        PyTorch's packed sequences.

        Returns ``out, h_n`` (LSTM: ``out, (h_n, c_n)``), out of shape
        (T, B, num_directions * hidden_size) (batch_first: (B, T, ...))."""
        xa = as_float_array("x", x, self.dtype)
        if xa.ndim not in (2, 3):
            raise ValueError(f"x: expected a 2-D (unbatched) or 3-D (batched) array, got shape {xa.shape}")
        batched = xa.ndim == 3
        if not batched:
            xa = xa[:, None, :]
        elif self.batch_first:
            xa = np.ascontiguousarray(xa.transpose(1, 0, 2))
        T, B, I = xa.shape
        if I != self.input_size:
            raise ValueError(f"x: expected input_size {self.input_size} in the last dimension, got {I}")
        if T == 0:
            raise ValueError(f"x: needs at least one step, got shape {np.shape(x)}")
        self._check_weights()
        lens = _lengths_array(lengths, T, B)
        if self.mode == "LSTM":
            if hx is None:
                h0 = c0 = None
            else:
                if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                    raise ValueError("hx: expected a tuple (h0, c0) for LSTM")
                if hx[0] is None or hx[1] is None:
                    raise ValueError("hx: expected both h0 and c0 (or hx=None for zeros), "
                                     "got None in the tuple")
                h0 = self._check_state("h0", hx[0], B, batched)
                c0 = self._check_state("c0", hx[1], B, batched)
        else:
            if isinstance(hx, (tuple, list)):
                raise ValueError(f"hx: expected one array for {type(self).__name__}, got a tuple")
            h0 = self._check_state("hx", hx, B, batched)
            c0 = None
        keep = not is_inference_mode()
        nt, simd = get_num_threads(), simd_level()
        D, H, L = self.num_directions, self.hidden_size, self.num_layers
        is_lstm = self.mode == "LSTM"
        h_n = np.empty((L * D, B, H), self.dtype)
        c_n = np.empty((L * D, B, H), self.dtype) if is_lstm else None
        ctx = {"layers": [], "lengths": lens, "batched": batched, "T": T, "B": B} if keep else None
        inp, scratch = xa, None
        for layer in range(L):
            mask = None
            if layer > 0 and self.training and self.dropout > 0:
                if self.dropout >= 1:
                    mask = np.zeros(inp.shape, self.dtype)
                else:
                    mask = (self.rng.random(inp.shape) >= self.dropout).astype(self.dtype)
                    mask *= 1.0 / (1.0 - self.dropout)
                inp = inp * mask
            out = np.empty((T, B, D * H), self.dtype)
            wss = []
            for d in range(D):
                k = layer * D + d
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)
                ws = self._take_ws(_rnn.workspace_size(self._mode_id, T, B, H))
                wss.append(ws)
                if B == 0:  # an empty batch (PyTorch returns empty outputs): nothing for C to do
                    continue
                scratch = self._take_scratch(scratch, T, B, inp.shape[2], simd, nt)
                _rnn.forward(self._mode_id, d == 1, keep, simd, inp, w_ih.data, w_hh.data,
                             None if b_ih is None else b_ih.data,
                             None if b_hh is None else b_hh.data,
                             None if h0 is None else h0[k], None if c0 is None else c0[k], lens,
                             out, d * H, h_n[k], None if c_n is None else c_n[k], ws,
                             scratch, nt)
            if keep:  # (layer 0's input copied if it is the caller's array)
                ctx["layers"].append({"x": kept_copy(inp, x) if layer == 0 else inp, "mask": mask,
                                      "ws": wss})
            else:
                self._give_ws(wss)
            inp = out
        self._give_scratch(scratch)
        if keep:  # (under inference_mode, a pending forward stays pending)
            # h0 and c0 copied if they are the caller's arrays, as the input is
            ctx["h0"] = kept_copy(h0, hx[0] if self.mode == "LSTM" and hx is not None else hx)
            ctx["c0"] = kept_copy(c0, hx[1] if self.mode == "LSTM" and hx is not None else None)
            self._versions = self._save_versions()
            if self._ctx is not None:
                self._give_ws(ws for lc in self._ctx["layers"] for ws in lc["ws"])
            self._ctx = ctx
        out = inp
        if not batched:
            out, h_n = out[:, 0, :], h_n[:, 0, :]
            c_n = None if c_n is None else c_n[:, 0, :]
        elif self.batch_first:
            out = np.ascontiguousarray(out.transpose(1, 0, 2))
        return (out, (h_n, c_n)) if is_lstm else (out, h_n)

    def _backward(self, grad_output, grad_h_n, grad_c_n):
        ctx = self._ctx
        if ctx is None:
            raise RuntimeError(f"{type(self).__name__}.backward: {NO_FORWARD}")
        self._check_versions(self._versions)
        T, B, batched, lens = ctx["T"], ctx["B"], ctx["batched"], ctx["lengths"]
        D, H, L = self.num_directions, self.hidden_size, self.num_layers
        dt = self.dtype
        if grad_output is not None:
            g = as_float_array("grad_output", grad_output, dt, ndim=3 if batched else 2)
            expected = ((B, T, D * H) if self.batch_first else (T, B, D * H)) if batched else (T, D * H)
            if g.shape != expected:
                raise ValueError(f"grad_output: expected shape {expected}, got {g.shape}")
            if not batched:
                g = g[:, None, :]
            elif self.batch_first:
                g = np.ascontiguousarray(g.transpose(1, 0, 2))
        else:
            g = None
        gh = self._check_state("grad_h_n", grad_h_n, B, batched)
        gc = self._check_state("grad_c_n", grad_c_n, B, batched)
        dh0 = np.zeros((L * D, B, H), dt)
        dc0 = np.zeros((L * D, B, H), dt) if self.mode == "LSTM" else None
        nt, simd = get_num_threads(), simd_level()
        kind = "double" if dt == np.float64 else "float"
        h0, c0 = ctx["h0"], ctx["c0"]
        scratch = None
        for layer in reversed(range(L)):
            lc = ctx["layers"][layer]
            x = lc["x"]
            dx = np.zeros(x.shape, dt)
            for d in range(D):
                k = layer * D + d
                w_ih, w_hh, b_ih, b_hh = self._weights(layer, d)

                def grad_of(p):
                    if p is None or not p.requires_grad:
                        return None
                    p.touch_all()  # shared with a sparse parameter: now the whole array
                    return p.grad

                if B == 0:
                    continue
                scratch = self._take_scratch(scratch, T, B, x.shape[2], simd, nt)
                # the float or double kernel named, not picked from the first array
                # argument (g is None when only final-state gradients are given)
                _rnn.backward[kind](self._mode_id, d == 1, simd, g, d * H,
                                    None if gh is None else gh[k], None if gc is None else gc[k],
                                    lc["ws"][d], x, w_ih.data, w_hh.data,
                                    None if h0 is None else h0[k], None if c0 is None else c0[k],
                                    lens, dx, dh0[k], None if dc0 is None else dc0[k],
                                    grad_of(w_ih), grad_of(w_hh), grad_of(b_ih), grad_of(b_hh),
                                    scratch, nt)
            if lc["mask"] is not None:
                dx *= lc["mask"]
            g = dx
        self._give_scratch(scratch)
        self._give_ws(ws for lc in ctx["layers"] for ws in lc["ws"])
        self._ctx = None
        gx = g
        if not batched:
            gx, dh0 = gx[:, 0, :], dh0[:, 0, :]
            dc0 = None if dc0 is None else dc0[:, 0, :]
        elif self.batch_first:
            gx = np.ascontiguousarray(gx.transpose(1, 0, 2))
        return gx, dh0, dc0

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0),
                              ("bidirectional", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


class RNN(RNNBase):
    """Elman RNN, h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), as ``torch.nn.RNN``.

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default 1
    nonlinearity : {'tanh', 'relu'}
    bias : bool, default True
    batch_first : bool, default False
        Inputs and outputs are (B, T, features) instead of (T, B, features).
    dropout : float, default 0
        Dropout on the outputs of every layer but the last, in training mode.
    bidirectional : bool, default False
    dtype : float32 (default) or float64
    seed : int, optional
        Seeds the initial weights (uniform in +-1/sqrt(hidden_size)) and the dropout masks.

    ``out, h_n = rnn.forward(x, hx=None, lengths=None)``;
    ``grad_x, grad_h0 = rnn.backward(grad_out, grad_h_n=None)`` accumulates into
    each parameter's ``.grad``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, seed=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype, seed)
        self.nonlinearity = nonlinearity

    def backward(self, grad_output, grad_h_n=None):
        """Gradients through time: returns ``(grad_x, grad_h0)``; parameter gradients
        are accumulated into ``.grad``. ``grad_output`` may be None (only final-state
        gradients)."""
        gx, dh0, _ = self._backward(grad_output, grad_h_n, None)
        return gx, dh0


class GRU(RNNBase):
    """Gated recurrent unit with PyTorch's equations (``torch.nn.GRU``): gates r, z, n,
    the reset gate applied to (W_hn h + b_hn), h' = (1 - z) * n + z * h.

    Arguments as :class:`RNN` (without ``nonlinearity``).
    ``out, h_n = gru.forward(x, hx=None, lengths=None)``;
    ``grad_x, grad_h0 = gru.backward(grad_out, grad_h_n=None)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed)

    def backward(self, grad_output, grad_h_n=None):
        """Returns ``(grad_x, grad_h0)``; accumulates parameter gradients."""
        gx, dh0, _ = self._backward(grad_output, grad_h_n, None)
        return gx, dh0


class LSTM(RNNBase):
    """Long short-term memory with PyTorch's equations and gate order i, f, g, o
    (``torch.nn.LSTM``; no ``proj_size``).

    Arguments as :class:`RNN` (without ``nonlinearity``).
    ``out, (h_n, c_n) = lstm.forward(x, hx=None, lengths=None)`` with ``hx = (h0, c0)``;
    ``grad_x, (grad_h0, grad_c0) = lstm.backward(grad_out, grad_h_n=None, grad_c_n=None)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed)

    def backward(self, grad_output, grad_h_n=None, grad_c_n=None):
        """Returns ``(grad_x, (grad_h0, grad_c0))``; accumulates parameter gradients."""
        gx, dh0, dc0 = self._backward(grad_output, grad_h_n, grad_c_n)
        return gx, (dh0, dc0)
