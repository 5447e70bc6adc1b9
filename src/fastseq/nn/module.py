"""Parameters, modules and chaining: PyTorch's names, NumPy arrays, explicit backward."""
from __future__ import annotations

import contextlib
from collections import OrderedDict

import numpy as np

_inference = [False]


@contextlib.contextmanager
def inference_mode():
    """Inside this block forward passes keep nothing for backward (less memory, faster),
    like ``torch.inference_mode()``; backward then raises."""
    old = _inference[0]
    _inference[0] = True
    try:
        yield
    finally:
        _inference[0] = old


def is_inference_mode() -> bool:
    return _inference[0]


class Parameter:
    """A learnable array: ``data`` and its gradient ``grad`` (same shape and dtype).

    ``grad`` is accumulated into by ``backward`` and cleared by ``zero_grad``. A
    parameter with ``requires_grad=False`` gets no gradient and optimisers skip it.
    ``rows`` is set by sparse producers (``Embedding``): the rows of ``grad`` that
    may be non-zero since the last ``zero_grad`` (None: the whole array)."""

    __slots__ = ("data", "grad", "requires_grad", "sparse", "rows")

    def __init__(self, data, requires_grad=True, sparse=False):
        self.data = np.ascontiguousarray(data)
        if self.data.dtype.kind != "f":
            raise ValueError(f"data: expected a floating-point array, got {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = np.zeros_like(self.data)
        self.sparse = bool(sparse)
        self.rows = None

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def zero_grad(self):
        if self.sparse and self.rows is not None:
            self.grad[self.rows] = 0
        elif self.sparse and self.rows is None:
            pass  # nothing was accumulated since the last clear
        else:
            self.grad.fill(0)
        self.rows = None

    def touch_rows(self, rows):
        """Record that ``rows`` of ``grad`` were accumulated into (sparse parameters)."""
        rows = np.unique(rows)
        self.rows = rows if self.rows is None else np.union1d(self.rows, rows)

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __repr__(self):
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def as_float_array(name, value, dtype, ndim=None):
    """``value`` as a C-contiguous array of ``dtype``; ValueError naming ``name`` if it
    is not real floating point, has the wrong number of dimensions or holds NaN/inf."""
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything that is not array-like
        raise ValueError(f"{name}: expected an array, got {type(value).__name__}") from exc
    if arr.dtype.kind not in "f":
        raise ValueError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinity")
    return arr


class Module:
    """Base class: parameters and sub-modules assigned as attributes are registered
    in order, as in PyTorch, so ``named_parameters()`` / ``state_dict()`` use
    PyTorch's names."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if params is None:
            raise AttributeError("call Module.__init__() before assigning attributes")
        if isinstance(value, Parameter):
            self._modules.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self._modules[name] = value
        else:
            if name in params and value is None:
                del params[name]
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # ---- parameters
    def named_parameters(self, prefix="", recurse=True):
        """Yield ``(name, Parameter)`` with PyTorch's dotted names."""
        seen = set()
        for name, p in self._named_parameters(prefix, recurse):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_parameters(self, prefix, recurse):
        for name, p in self._parameters.items():
            yield prefix + name, p
        if recurse:
            for mname, m in self._modules.items():
                yield from m._named_parameters(prefix + mname + ".", True)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(prefix + ("." if prefix else "") + name)

    def children(self):
        return iter(self._modules.values())

    def zero_grad(self):
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode=True):
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # ---- state
    def state_dict(self):
        """``OrderedDict`` of name -> copy of the parameter's array (PyTorch's names)."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters. Values may be anything with ``__array__``
        (a torch tensor works). With ``strict``, missing or unexpected keys raise
        ValueError; a shape mismatch always does."""
        own = OrderedDict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise ValueError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if hasattr(value, "detach") and hasattr(value, "cpu"):
                value = value.detach().cpu()
            arr = np.asarray(value)
            if arr.shape != p.data.shape:
                raise ValueError(f"state_dict[{name!r}]: expected shape {p.data.shape}, got {arr.shape}")
            if arr.dtype.kind not in "fiu":
                raise ValueError(f"state_dict[{name!r}]: expected numbers, got dtype {arr.dtype}")
            p.data[...] = arr
        self._after_load()
        return missing, unexpected

    def _after_load(self):
        for m in self._modules.values():
            m._after_load()

    def config(self):
        """Constructor arguments (for saving); modules override."""
        return {}

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {sub}")
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


class Sequential(Module):
    """Chain modules: ``forward`` feeds each one's output to the next and
    ``backward`` runs them in reverse. A recurrent module passes on its output
    sequence (its final states are kept in ``self.states``) and receives
    ``lengths`` when given."""

    def __init__(self, *modules):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise ValueError(f"modules[{i}]: expected a Module, got {type(m).__name__}")
            setattr(self, str(i), m)
        self.states = []

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x, lengths=None):
        from .rnn import RNNBase
        self.states = []
        for m in self._modules.values():
            if isinstance(m, RNNBase):
                x, state = m.forward(x, lengths=lengths)
                self.states.append(state)
            else:
                x = m.forward(x)
        return x

    def backward(self, grad):
        from .rnn import RNNBase
        for m in reversed(list(self._modules.values())):
            if grad is None:
                break
            out = m.backward(grad)
            grad = out[0] if isinstance(m, RNNBase) else out
        return grad
