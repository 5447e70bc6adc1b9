"""Embedding, Linear, Dropout and softmax cross-entropy, with explicit backward."""
from __future__ import annotations

import math
import numbers

import numpy as np

from .module import (NO_FORWARD, Module, Parameter, as_float_array, check_float_dtype,
                     check_probability, from_torch, is_inference_mode, kept_copy)


def _check_size(name, v):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ValueError(f"{name}: expected a positive integer, got {v!r}")
    return int(v)


def _check_int(name, v):
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        raise TypeError(f"{name}: expected an integer, got {v!r}")
    return int(v)


def _index_array(name, ids, n):
    arr = np.asarray(from_torch(ids))
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected integer ids, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"{name}: ids must be in [0, {n}), got min {arr.min()}, max {arr.max()}")
    return arr.astype(np.int64, copy=False)


class Embedding(Module):
    """A lookup table (``torch.nn.Embedding``): ``forward(ids)`` returns
    ``weight[ids]``; ``backward(grad)`` adds into the rows of ``weight.grad`` that
    were looked up and records them in ``weight.rows``, so that ``zero_grad`` and
    the optimisers touch only those rows (sparse row updates).

    Parameters
    ----------
    num_embeddings, embedding_dim : int
    padding_idx : int, optional
        This row starts at zero and never receives gradient.
    dtype : float32 (default) or float64
    seed : int, optional
        Seeds the initial weights, drawn from N(0, 1) as in PyTorch.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32,
                 seed=None, _weight=None):
        super().__init__()
        self.num_embeddings = _check_size("num_embeddings", num_embeddings)
        self.embedding_dim = _check_size("embedding_dim", embedding_dim)
        dtype = check_float_dtype(dtype)
        if padding_idx is not None:
            padding_idx = _check_int("padding_idx", padding_idx)
            if not -self.num_embeddings <= padding_idx < self.num_embeddings:
                raise ValueError(f"padding_idx: must be in [-{self.num_embeddings}, "
                                 f"{self.num_embeddings}), got {padding_idx}")
            padding_idx = padding_idx % self.num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            w = np.random.default_rng(seed).standard_normal((self.num_embeddings, self.embedding_dim))
            w = w.astype(dtype)
            if padding_idx is not None:
                w[padding_idx] = 0
        else:
            w = _weight
        self.weight = Parameter(w, sparse=True)
        self.key_to_index = None
        self.index_to_key = None
        self._ids = None
        self._versions = None

    @classmethod
    def from_vectors(cls, vectors, freeze=False, padding_idx=None):
        """An Embedding holding a copy of ``vectors``: a :class:`fastseq.KeyedVectors`
        (its ``key_to_index`` / ``index_to_key`` are kept on the module) or any
        (n, dim) float array. ``freeze=True``: the weight gets no gradient."""
        mat = getattr(vectors, "vectors", vectors)
        mat = as_float_array("vectors", mat, None, ndim=2)
        if mat.dtype not in (np.float32, np.float64):
            mat = mat.astype(np.float32)
        emb = cls(mat.shape[0], mat.shape[1], padding_idx=padding_idx, dtype=mat.dtype,
                  _weight=mat.copy())
        emb.weight.requires_grad = not freeze
        if hasattr(vectors, "key_to_index"):
            emb.key_to_index = vectors.key_to_index
            emb.index_to_key = vectors.index_to_key
        return emb

    def config(self):
        return dict(num_embeddings=self.num_embeddings, embedding_dim=self.embedding_dim,
                    padding_idx=self.padding_idx)

    @staticmethod
    def _odd_key(keys):
        """The first key JSON does not give back as it was (str and int ones it does)."""
        return next((k for k in keys if isinstance(k, bool) or not isinstance(k, (str, numbers.Integral))),
                    None)

    def get_extra_state(self):
        """The vocabulary of ``from_vectors`` (so that ``nn.save`` keeps it), or None."""
        if self.index_to_key is None:
            return None
        keys = list(self.index_to_key)
        odd = self._odd_key(keys)
        if odd is not None:
            raise ValueError(f"Embedding vocabulary: cannot save the key {odd!r} "
                             f"({type(odd).__name__}): str and int keys only")
        return {"index_to_key": keys}

    def _check_extra_state(self, state):
        keys = state.get("index_to_key") if isinstance(state, dict) else None
        if not isinstance(keys, list) or len(keys) != self.num_embeddings or self._odd_key(keys) is not None:
            raise ValueError(f"expected a vocabulary of {self.num_embeddings} str or int keys (one per row)")
        if len(set(keys)) != len(keys):
            raise ValueError("the saved vocabulary repeats a key")
        return keys

    def set_extra_state(self, state):
        keys = self._check_extra_state(state)
        self.index_to_key = keys
        self.key_to_index = {k: i for i, k in enumerate(keys)}

    def forward(self, ids):
        given = ids
        ids = _index_array("ids", ids, self.num_embeddings)
        if not is_inference_mode():  # (under it, a pending forward stays pending)
            self._ids = kept_copy(ids, given)
            self._versions = self._save_versions()
        return self.weight.data[ids]

    def backward(self, grad_output):
        """Accumulate into ``weight.grad`` (only the looked-up rows). Returns None:
        ids have no gradient."""
        if self._ids is None:
            raise RuntimeError(f"Embedding.backward: {NO_FORWARD}")
        self._check_versions(self._versions)
        ids = self._ids
        g = as_float_array("grad_output", grad_output, self.weight.dtype)
        if g.shape != ids.shape + (self.embedding_dim,):
            raise ValueError(f"grad_output: expected shape {ids.shape + (self.embedding_dim,)}, got {g.shape}")
        self._ids = self._versions = None
        if not self.weight.requires_grad:
            return None
        flat = ids.reshape(-1)
        g = g.reshape(-1, self.embedding_dim)
        if self.padding_idx is not None:
            keep = flat != self.padding_idx
            flat, g = flat[keep], g[keep]
        if flat.size:
            # sum the gradient of repeated ids first: one add per distinct row
            order = np.argsort(flat, kind="stable")
            sorted_ids = flat[order]
            starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
            rows = sorted_ids[starts]
            self.weight.grad[rows] += np.add.reduceat(g[order], starts, axis=0)
            self.weight.touch_rows(rows)
        return None


class Linear(Module):
    """y = x W^T + b over the last dimension (``torch.nn.Linear``); weights and
    bias uniform in +-1/sqrt(in_features) as in PyTorch."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, seed=None):
        super().__init__()
        self.in_features = _check_size("in_features", in_features)
        self.out_features = _check_size("out_features", out_features)
        dtype = check_float_dtype(dtype)
        rng = np.random.default_rng(seed)
        k = 1.0 / math.sqrt(self.in_features)
        self.weight = Parameter(rng.uniform(-k, k, (self.out_features, self.in_features)).astype(dtype))
        self.bias = Parameter(rng.uniform(-k, k, self.out_features).astype(dtype)) if bias else None
        self._x = None
        self._versions = None

    def config(self):
        return dict(in_features=self.in_features, out_features=self.out_features,
                    bias=self.bias is not None)

    def forward(self, x):
        given = x
        x = as_float_array("x", x, self.weight.dtype)
        if x.ndim < 1:
            raise ValueError(f"x: expected at least 1 dimension (the {self.in_features} features), "
                             "got a scalar")
        if x.shape[-1] != self.in_features:
            raise ValueError(f"x: expected last dimension {self.in_features}, got shape {x.shape}")
        if not is_inference_mode():  # (under it, a pending forward stays pending)
            self._x = kept_copy(x, given)
            self._versions = self._save_versions()
        y = x @ self.weight.data.T
        if self.bias is not None:
            y += self.bias.data
        return y

    def backward(self, grad_output):
        """Accumulate weight / bias gradients; return the gradient of x."""
        if self._x is None:
            raise RuntimeError(f"Linear.backward: {NO_FORWARD}")
        self._check_versions(self._versions)
        x = self._x
        g = as_float_array("grad_output", grad_output, self.weight.dtype)
        if g.shape != x.shape[:-1] + (self.out_features,):
            raise ValueError(f"grad_output: expected shape {x.shape[:-1] + (self.out_features,)}, got {g.shape}")
        self._x = self._versions = None
        g2 = g.reshape(-1, self.out_features)
        if self.weight.requires_grad:
            self.weight.grad += g2.T @ x.reshape(-1, self.in_features)
            self.weight.touch_all()  # a tied (sparse) Embedding weight: now the whole array
        if self.bias is not None and self.bias.requires_grad:
            self.bias.grad += g2.sum(axis=0)
            self.bias.touch_all()
        return g @ self.weight.data


class Dropout(Module):
    """Zero each element with probability p in training mode, scale the rest by 1/(1-p)."""

    _load_free_config = ("p",)

    def __init__(self, p=0.5, seed=None):
        super().__init__()
        self.p = check_probability("p", p)
        self.rng = np.random.default_rng(seed)
        self._mask = None
        self._shape = None  # the shape of the last forward's input (None: nothing to go back through)

    def config(self):
        return dict(p=self.p)

    @staticmethod
    def _float_array(name, x, masking=True):
        x = np.asarray(from_torch(x))
        # scaling by 1/(1-p) needs floats (PyTorch refuses too); with nothing to mask
        # (eval mode, p = 0) the input passes through whatever its type, as in PyTorch
        if masking and x.dtype.kind != "f":
            raise TypeError(f"{name}: expected a floating-point input, got dtype {x.dtype}")
        return x

    def forward(self, x):
        masking = self.training and self.p != 0
        x = self._float_array("x", x, masking)
        if not masking:
            mask = None
        elif self.p == 1:
            mask = np.zeros(x.shape, x.dtype)
        else:
            mask = (self.rng.random(x.shape) >= self.p).astype(x.dtype) * x.dtype.type(1 / (1 - self.p))
        if not is_inference_mode():  # (under it, a pending forward stays pending)
            self._shape, self._mask = x.shape, mask
        return x if mask is None else x * mask

    def backward(self, grad_output):
        if self._shape is None:
            raise RuntimeError(f"Dropout.backward: {NO_FORWARD}")
        g = self._float_array("grad_output", grad_output, self._mask is not None)
        if g.shape != self._shape:
            raise ValueError(f"grad_output: expected shape {self._shape} (the forward's input), "
                             f"got {g.shape}")
        mask, self._shape, self._mask = self._mask, None, None
        return g if mask is None else g * mask


class CrossEntropyLoss(Module):
    """Softmax cross-entropy over the last dimension of logits
    (``torch.nn.CrossEntropyLoss``, with the classes last).

    ``loss = forward(logits, target, mask=None)`` with logits (..., C) and either
    integer class indices (...) or class probabilities (..., C) as target.
    Targets equal to ``ignore_index`` and positions where ``mask`` is False / 0 do
    not count. ``weight`` (C,) weighs each class; ``label_smoothing`` mixes the
    target with the uniform distribution over the C classes, as in PyTorch.
    ``reduction``: 'mean', 'sum' or 'none' (keyword arguments, as everything after
    ``weight``). 'mean' divides by the summed weights of
    the counted positions (the class weight of the target times the mask; for
    probability targets, the mask alone), as PyTorch does. ``backward(grad=1.0)``
    returns the gradient of the logits."""

    _load_free_config = ("ignore_index", "reduction", "weight", "label_smoothing")

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"reduction: expected 'mean', 'sum' or 'none', got {reduction!r}")
        if weight is not None:
            weight = as_float_array("weight", weight, np.float64, ndim=1)
            if weight.size == 0:
                raise ValueError("weight: expected one weight per class, got an empty array")
        self.weight = weight
        self.ignore_index = _check_int("ignore_index", ignore_index)
        self.reduction = reduction
        self.label_smoothing = check_probability("label_smoothing", label_smoothing)
        self._saved = None

    def config(self):
        return dict(weight=None if self.weight is None else self.weight.tolist(),
                    ignore_index=self.ignore_index, reduction=self.reduction,
                    label_smoothing=self.label_smoothing)

    def _class_weights(self, C, dtype):
        if self.weight is None:
            return None
        if self.weight.shape != (C,):
            raise ValueError(f"weight: expected one weight per class ({C}), got shape {self.weight.shape}")
        return self.weight.astype(dtype)

    def forward(self, logits, target, mask=None):
        z = as_float_array("logits", logits, None, minus_inf=True)  # -inf: a class masked out
        if z.dtype not in (np.float32, np.float64):
            z = z.astype(np.float32)
        if z.ndim < 1:
            raise ValueError("logits: expected at least one dimension (the classes), got a scalar")
        C = z.shape[-1]
        if C == 0:
            raise ValueError(f"logits: expected at least one class in the last dimension, "
                             f"got shape {z.shape}")
        v = self._class_weights(C, z.dtype)
        t = np.asarray(from_torch(target))
        probs = t.dtype.kind == "f"
        if probs:
            if t.shape != z.shape:
                raise ValueError(f"target: class probabilities must have the logits' shape {z.shape}, "
                                 f"got {t.shape}")
            if not np.isfinite(t).all():
                raise ValueError("target: contains NaN or infinity")
            if self.ignore_index != -100:  # (PyTorch refuses it too)
                raise ValueError(f"ignore_index={self.ignore_index}: does not apply to class-probability "
                                 "targets (use mask= to leave positions out)")
            b = np.ones(z.shape[:-1], z.dtype)
        elif t.dtype.kind in "iu":
            if t.shape != z.shape[:-1]:
                hint = ""
                if z.ndim > 2 and t.shape == z.shape[:1] + z.shape[2:]:
                    hint = ("; the classes go last here, PyTorch's (N, C, ...) logits are "
                            "np.moveaxis(logits, 1, -1)")
                raise ValueError(f"target: expected shape {z.shape[:-1]} (class indices) or "
                                 f"{z.shape} (class probabilities), got {t.shape}{hint}")
            b = (t != self.ignore_index).astype(z.dtype)
        else:
            raise ValueError(f"target: expected integer class indices or float class probabilities, "
                             f"got dtype {t.dtype}")
        if mask is not None:
            m = np.asarray(from_torch(mask))
            if m.dtype.kind not in "biuf":
                raise ValueError(f"mask: expected booleans or numbers, got dtype {m.dtype}")
            if m.shape != b.shape:
                raise ValueError(f"mask: expected shape {b.shape} (one per position), got {m.shape}")
            if not (np.isfinite(m) & (m >= 0)).all():
                raise ValueError("mask: expected finite weights >= 0")
            b = b * m.astype(z.dtype)
        eps = self.label_smoothing
        zmax = z.max(axis=-1, keepdims=True)
        e = np.exp(z - zmax)
        s = e.sum(axis=-1, keepdims=True)
        lse = (zmax + np.log(s))[..., 0]
        if probs:
            # loss = -sum_c u_c log p_c with u = weight * ((1 - eps) q + eps / C), per position
            u = t.astype(z.dtype) * (1 - eps) + eps / C if eps else t.astype(z.dtype, copy=True)
            if v is not None:
                u *= v
            losses = (lse * u.sum(axis=-1) - np.einsum("...c,...c->...", u, z)) * b
            t, a = None, b  # each position weighs b
        else:
            valid = b != 0
            if ((t[valid] < 0) | (t[valid] >= C)).any():
                raise ValueError(f"target: class indices must be in [0, {C}) (or ignore_index)")
            t = np.where(valid, t, 0).astype(np.int64)
            a = b if v is None else b * v[t]  # the weight of each position's -log p_target
            nll = lse - np.take_along_axis(z, t[..., None], axis=-1)[..., 0]
            losses = nll * a
            if eps:
                # and eps / C times -sum_c v_c log p_c (the uniform target)
                vz = z.sum(axis=-1) if v is None else z @ v
                V = C if v is None else v.sum()
                losses = (1 - eps) * losses + (eps / C) * b * (V * lse - vz)
            u = None
        # softmax, targets (indices or weighted probabilities), the weight of each
        # position's loss (a: also the 'mean' divisor), mask x counted (b), class weights
        if not is_inference_mode():  # (under it, a pending forward stays pending)
            self._saved = (e / s, t, u, a, b, v)
        if self.reduction == "none":
            return losses
        total = losses.sum(dtype=np.float64)
        if self.reduction == "sum":
            return float(total)
        d = a.sum(dtype=np.float64)
        return float(total / d) if d != 0 else float("nan")

    def backward(self, grad=1.0):
        if self._saved is None:
            raise RuntimeError(f"CrossEntropyLoss.backward: {NO_FORWARD}")
        p, t, u, a, b, v = self._saved
        shape = p.shape[:-1] if self.reduction == "none" else ()
        try:
            gr = np.asarray(grad, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"grad: expected a number or an array of numbers, got {grad!r}") from None
        if gr.shape != shape:
            raise ValueError(f"grad: expected shape {shape} (the loss's, reduction={self.reduction!r}), "
                             f"got {gr.shape}")
        if not np.isfinite(gr).all():
            raise ValueError("grad: contains NaN or infinity")
        self._saved = None  # gone back through once, as every module's forward
        r = gr
        if self.reduction == "mean":
            d = a.sum(dtype=np.float64)
            r = gr / d if d != 0 else gr * 0
        r = np.broadcast_to(np.asarray(r, p.dtype), shape if shape else p.shape[:-1])
        eps, C = self.label_smoothing, p.shape[-1]
        if u is not None:  # probability targets
            rb = (r * b)[..., None]
            return p * (u.sum(axis=-1, keepdims=True) * rb) - u * rb
        ra, rb = r * a, r * b
        coef = (1 - eps) * ra
        if eps:
            V = C if v is None else v.sum()
            coef = coef + (eps / C) * V * rb
        g = p * coef[..., None]
        idx = t[..., None]
        np.put_along_axis(g, idx, np.take_along_axis(g, idx, axis=-1) - ((1 - eps) * ra)[..., None], axis=-1)
        if eps:
            g -= (eps / C) * rb[..., None] * (1.0 if v is None else v)
        return g
