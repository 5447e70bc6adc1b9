"""Parameters, modules and chaining: PyTorch's names, NumPy arrays, explicit backward."""
from __future__ import annotations

import contextlib
import numbers
import threading
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

_mode = threading.local()  # per thread, as torch's grad modes are

# load_state_dict's answer, as PyTorch's (a tuple with these names)
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class StateDictError(ValueError, RuntimeError):
    """A state_dict that does not fit the module: a ValueError, as fastseq's errors
    are, and a RuntimeError, as PyTorch's ``load_state_dict`` raises."""


@contextlib.contextmanager
def inference_mode():
    """Inside this block forward passes keep nothing for backward (less memory, faster),
    like ``torch.inference_mode()``, and leave what a module's earlier forward kept
    alone: its backward still goes through that one. It holds for the thread that
    enters it only, as in PyTorch."""
    old = is_inference_mode()
    _mode.inference = True
    try:
        yield
    finally:
        _mode.inference = old


def is_inference_mode() -> bool:
    return getattr(_mode, "inference", False)


ALL_ROWS = slice(None)  # Parameter.rows of a sparse parameter whose whole gradient is in use


class Parameter:
    """A learnable array: ``data`` and its gradient ``grad`` (same shape and dtype).

    ``grad`` is accumulated into by ``backward`` and cleared by ``zero_grad``. A
    parameter with ``requires_grad=False`` gets no gradient and optimisers skip it.
    ``grad`` is always an array, but as in PyTorch, where it would be None (nothing
    accumulated into it since creation or ``zero_grad()``, whose default is
    ``set_to_none=True``), optimisers skip the parameter: no momentum, no weight
    decay, no step count. Producers mark what they accumulate into (``touch_rows``
    / ``touch_all``); assigning ``grad`` marks it too, and a gradient written in
    place into an unmarked one is still stepped when it is not all zeros.
    ``rows`` is set by sparse producers (``Embedding``): the rows of ``grad`` that
    may be non-zero since the last ``zero_grad`` (None: none, or for a dense
    parameter the whole array; ``ALL_ROWS``: the whole array, after a dense
    producer such as ``Linear`` accumulated into a sparse parameter it shares, as
    with tied input and output embeddings).

    ``_version`` counts changes to ``data`` (optimiser steps, ``load_state_dict``,
    assignment to ``data``), like PyTorch's: a module's backward raises if its
    parameters changed since its forward. Raw in-place NumPy edits
    (``p.data[0] = 1``) are not counted. Assigning ``data`` keeps the shape and
    dtype (a float64 array is converted to a float32 parameter's dtype)."""

    __slots__ = ("_data", "_grad", "_has_grad", "requires_grad", "sparse", "rows", "_version", "_name")

    def __init__(self, data, requires_grad=True, sparse=False):
        self._data = np.ascontiguousarray(from_torch(data))
        if self._data.dtype.kind != "f":
            raise ValueError(f"data: expected a floating-point array, got {self._data.dtype}")
        self.requires_grad = bool(requires_grad)
        self._grad = np.zeros_like(self._data)
        self._has_grad = False  # torch's grad would be None: nothing accumulated yet
        self.sparse = bool(sparse)
        self.rows = None
        self._version = 0
        self._name = None  # set when a module registers it (for messages)

    def __setstate__(self, state):
        # pickles of parameters from before ``data`` became a property hold a "data" slot
        d, slots = state if isinstance(state, tuple) else (state, None)
        merged = {**(d or {}), **(slots or {})}
        if "data" in merged:
            merged["_data"] = merged.pop("data")
        if "grad" in merged:
            merged["_grad"] = merged.pop("grad")
        merged.setdefault("_has_grad", True)  # (older pickles stepped every parameter)
        merged.setdefault("_version", 0)
        merged.setdefault("_name", None)
        for k, v in merged.items():
            object.__setattr__(self, k, v)

    @property
    def data(self):
        return self._data

    @data.setter
    def data(self, value):
        if value is not self._data:  # ``p.data -= x`` assigns the same array back
            name = f"{self._name}.data" if self._name else "data"
            self._data = as_param_array(name, value, self._data)
        self._version += 1

    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    def numel(self):
        """Number of values (PyTorch's ``numel``: ``sum(p.numel() for p in
        model.parameters())`` counts a model's parameters)."""
        return int(self._data.size)

    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        """Assign a gradient (``p.grad = g``; ``p.grad += g`` comes here too): it is
        stepped. None clears it as ``zero_grad()`` does."""
        if value is None:
            self.zero_grad()
            return
        if value is not self._grad:
            name = f"{self._name}.grad" if self._name else "grad"
            self._grad = as_param_array(name, value, self._data).copy()
        self.touch_all()

    def zero_grad(self, set_to_none=True):
        """Clear the gradient. ``set_to_none`` (PyTorch's default): optimisers then skip
        this parameter until something accumulates into it; False: a zero gradient
        that is stepped (momentum and weight decay act on it)."""
        if not set_to_none and not self._has_grad and not self.sparse:
            self._has_grad = bool(self._grad.any())  # (written in place: torch's would be a tensor)
        if self.sparse and self.rows is not None:
            self._grad[self.rows] = 0
        elif self.sparse and self.rows is None:
            pass  # nothing was accumulated since the last clear
        else:
            self._grad.fill(0)
        self.rows = None
        if set_to_none:
            self._has_grad = False

    def touch_rows(self, rows):
        """Record that ``rows`` of ``grad`` were accumulated into (sparse parameters)."""
        self._has_grad = True
        if isinstance(self.rows, slice):  # ALL_ROWS (a copy of it after deepcopy or pickle)
            return
        rows = np.unique(rows)
        self.rows = rows if self.rows is None else np.union1d(self.rows, rows)

    def touch_all(self):
        """Record that the whole of ``grad`` was accumulated into: what a dense
        producer calls, so that a sparse parameter it shares (tied weights) is then
        cleared and updated whole, not on its looked-up rows only."""
        self._has_grad = True
        if self.sparse:
            self.rows = ALL_ROWS

    def has_grad(self):
        """What PyTorch's ``p.grad is not None`` says: something was accumulated into
        (or assigned to) the gradient since creation or ``zero_grad()``, or it was
        written in place and is not all zeros."""
        return self._has_grad or bool(self._grad.any())

    def __array__(self, dtype=None, copy=None):
        """The weights for NumPy: ``np.asarray(p)`` is ``p.data`` itself (the kernels
        read it in place), ``np.array(p)`` (copy=True) a copy, as NumPy 2 asks."""
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            if copy is False:
                raise ValueError(f"cannot convert a {self._data.dtype} Parameter to {np.dtype(dtype)} "
                                 "without a copy (copy=False)")
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __repr__(self):
        return f"Parameter(shape={self._data.shape}, dtype={self._data.dtype})"


def as_param_array(name, value, like):
    """``value`` (array-like or torch tensor) as a C-contiguous array of ``like``'s
    shape and dtype; ValueError naming ``name`` otherwise, or if a finite value
    overflows the dtype."""
    value = from_torch(value)
    if value is None:
        raise ValueError(f"{name}: expected an array, got None")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - whatever the object's __array__ raises
        raise ValueError(f"{name}: cannot be read as an array ({exc})") from None
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
    if arr.shape != like.shape:
        raise ValueError(f"{name}: expected shape {like.shape}, got {arr.shape}")
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(arr, dtype=like.dtype)
    if out is not arr and not np.isfinite(out).all() and (np.isfinite(out) != np.isfinite(arr)).any():
        raise ValueError(f"{name}: values too large for {like.dtype}")
    return out


def check_probability(name, p):
    """``p`` as a float in [0, 1] (NumPy floats too), or a ValueError naming ``name``."""
    if not (isinstance(p, numbers.Real) and not isinstance(p, bool) and 0 <= p <= 1):
        raise ValueError(f"{name}: expected a probability in [0, 1], got {p!r}")
    return float(p)


# why a backward has nothing to go back through
# Each module keeps what its latest forward outside inference_mode needs for one
# backward; forwards under inference_mode keep nothing and leave that alone.
NO_FORWARD = ("no forward to go back through (backward was already called, or no forward "
              "ran outside inference_mode since)")


def kept_copy(arr, given):
    """``arr`` to keep for backward: a copy when it may share memory with the
    caller's ``given`` (a NumPy array it overlaps, or a tensor, read without a copy),
    so that the caller changing that in place between forward and backward
    (refilling a batch buffer) cannot change the gradients. (PyTorch raises in that
    case; a copy gives the gradients of the forward that ran.)"""
    if arr is None:
        return None
    if isinstance(given, np.ndarray):
        return arr.copy() if np.may_share_memory(arr, given) else arr
    return arr.copy() if hasattr(given, "__array__") or hasattr(given, "detach") else arr


def from_torch(value):
    """A torch tensor as a NumPy array (detached, on the CPU; bfloat16, which NumPy
    lacks, as float32: exact); anything else as it is."""
    if type(value) is np.ndarray:  # the common case, without the attribute lookups
        return value
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
        if str(value.dtype) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    return value


def as_float_array(name, value, dtype, ndim=None, minus_inf=False):
    """``value`` as a C-contiguous array of ``dtype``; ValueError naming ``name`` if it
    is not real floating point, has the wrong number of dimensions or holds NaN/inf
    (-inf allowed with ``minus_inf``). A torch tensor is read through ``.detach()``
    (one that requires grad too)."""
    value = from_torch(value)
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything that is not array-like
        raise ValueError(f"{name}: expected an array, got {type(value).__name__}") from exc
    if arr.dtype.kind not in "f":
        raise ValueError(f"{name}: expected a floating-point array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {arr.shape}")
    arr = np.asarray(arr, dtype=dtype, order="C")  # (ascontiguousarray makes a 0-d array 1-d)
    if not np.isfinite(arr).all():
        if not minus_inf:
            raise ValueError(f"{name}: contains NaN or infinity")
        if (np.isnan(arr) | (arr == np.inf)).any():
            raise ValueError(f"{name}: contains NaN or +infinity")
    return arr


def check_float_dtype(dtype):
    """A module's ``dtype=`` argument (NumPy's or PyTorch's, e.g. torch.float64) as
    np.float32 or np.float64 (None: float32, PyTorch's default); ValueError naming
    ``dtype`` otherwise."""
    dt = np.dtype(np.float32) if dtype is None else _dtype_of(dtype)
    if dt not in (np.float32, np.float64):
        raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
    return dt


def _dtype_of(obj):
    """numpy dtype of a dtype-like (numpy or torch, e.g. torch.float32), or None."""
    try:
        return np.dtype(obj)
    except TypeError:
        text = str(obj)  # torch.float32 -> "torch.float32"
        if text.startswith("torch."):
            try:
                return np.dtype(text[6:])
            except TypeError:
                return None
        return None


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
            if value._name is None:
                value._name = name
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self._modules[name] = value
        elif name in params:
            if value is not None:  # as PyTorch: an array would silently not be the parameter
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(a Parameter or None expected; to change its values assign "
                                f"{name}.data)")
            del params[name]
        elif name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                f"(a Module or None expected)")
            del self._modules[name]
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name in self._parameters:  # as PyTorch: no longer a parameter
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        object.__delattr__(self, name)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    # ---- parameters
    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield ``(name, Parameter)`` with PyTorch's dotted names; a parameter held
        under several names (tied weights) once, unless ``remove_duplicate=False``."""
        seen = set()
        for name, p in self._named_parameters(prefix + "." if prefix else "", recurse):
            if not remove_duplicate or id(p) not in seen:
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

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield ``(name, module)`` for this module and every sub-module; one held
        under several names once, unless ``remove_duplicate=False`` (PyTorch's)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def children(self):
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def modules(self):
        for _, m in self.named_modules():
            yield m

    @staticmethod
    def _check_name(name, what):
        if not isinstance(name, str) or not name or "." in name:
            raise ValueError(f"{what} name must be a non-empty string without '.', got {name!r}")

    def add_module(self, name, module):
        """Register ``module`` as ``name`` (PyTorch's ``add_module``)."""
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise ValueError(f"{name}: expected a Module, got {type(module).__name__}")
        setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None to remove it) as ``name``."""
        self._check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise ValueError(f"{name}: expected a Parameter, got {type(param).__name__}")
        if param is None:
            if name in self._parameters:
                delattr(self, name)
            return
        setattr(self, name, param)

    def get_submodule(self, target):
        """The sub-module at dotted path ``target`` ("" is this module)."""
        m = self
        for part in target.split(".") if target else []:
            if part not in m._modules:
                raise AttributeError(f"{type(m).__name__} has no sub-module {part!r} (in {target!r})")
            m = m._modules[part]
        return m

    def get_parameter(self, target):
        """The Parameter at dotted path ``target`` (e.g. ``"rnn.weight_hh_l0"``)."""
        mod, _, name = target.rpartition(".")
        m = self.get_submodule(mod)
        if name not in m._parameters:
            raise AttributeError(f"{type(m).__name__} has no parameter {name!r} (in {target!r})")
        return m._parameters[name]

    def apply(self, fn):
        """Call ``fn`` on every sub-module, then on this one (as PyTorch, e.g. for
        custom initialisation); returns this module."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` of every parameter (False freezes them); returns self."""
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def to(self, *args, **kwargs):
        """PyTorch's ``module.to(device)`` for the CPU: nothing to move, returns this
        module. A dtype other than the parameters' is refused (build the module with
        ``dtype=``); so is any other device."""
        for a in list(args) + list(kwargs.values()):
            if a is None or isinstance(a, bool):
                continue
            dev = getattr(a, "type", a) if not isinstance(a, str) else a
            if isinstance(dev, str) and dev.split(":")[0] == "cpu":
                continue
            want = _dtype_of(a)
            if want is None:  # not a dtype: another device
                raise ValueError(f"to({a!r}): fastseq runs on the CPU only")
            have = {p.dtype for p in self.parameters()}
            if have - {want}:
                raise ValueError(f"to({a!r}): the parameters are {', '.join(sorted(map(str, have)))}; "
                                 "build the module with dtype=... instead of converting it")
        return self

    cpu = to

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient (see ``Parameter.zero_grad``)."""
        for p in self.parameters():
            p.zero_grad(set_to_none)

    def train(self, mode=True):
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    # ---- state
    def state_dict(self):
        """``OrderedDict`` of name -> copy of the parameter's array (PyTorch's names;
        a tied weight under each of its names, as in PyTorch)."""
        return OrderedDict((name, p.data.copy())
                           for name, p in self.named_parameters(remove_duplicate=False))

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays into the parameters. Values may be anything with ``__array__``
        (a torch tensor works, bfloat16 included). With ``strict``, missing or
        unexpected keys raise :class:`StateDictError` (a ValueError and, as in
        PyTorch, a RuntimeError); a shape mismatch, a non-numeric array or a value
        too large for the parameter's dtype always does, before anything is copied.
        A tied weight loads from any one of its names. Returns
        ``(missing_keys, unexpected_keys)``, a named tuple as PyTorch's."""
        new, missing, unexpected = self._check_load(state_dict, strict)
        self._apply_load(new)
        return IncompatibleKeys(missing, unexpected)

    def _check_load(self, state_dict, strict):
        """load_state_dict's checks, changing nothing: ([(param, array)], missing, unexpected)."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"state_dict: expected a mapping of name -> array, "
                            f"got {type(state_dict).__name__}")
        own = OrderedDict(self.named_parameters(remove_duplicate=False))
        given = {id(p) for name, p in own.items() if name in state_dict}
        # a tied weight given under one of its names is not missing (files and
        # state_dicts that list it once)
        missing = [k for k, p in own.items() if k not in state_dict and id(p) not in given]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise StateDictError(f"state_dict: missing keys {missing}, unexpected keys {unexpected}")
        try:
            new = [(p, as_param_array(f"state_dict[{name!r}]", state_dict[name], p.data))
                   for name, p in own.items() if name in state_dict]
        except ValueError as e:
            raise StateDictError(str(e)) from None
        return new, missing, unexpected

    def _apply_load(self, new):
        for p, arr in new:
            p.data[...] = arr
            p._version += 1
        self._after_load()

    def _save_versions(self):
        """What ``_check_versions`` compares against at backward (call at forward)."""
        return [(name, p, p._version) for name, p in self._parameters.items()]

    def _check_versions(self, saved):
        for name, p, version in saved:
            if self._parameters.get(name) is not p or p._version != version:
                raise RuntimeError(f"{type(self).__name__}.backward: {name} was modified (optimiser step, "
                                   "load_state_dict or .data assignment) after forward; run forward again")

    def _after_load(self):
        for m in self._modules.values():
            m._after_load()

    # constructor arguments that do not change what the parameters mean (training
    # or layout settings): nn.load accepts a module built with other values of these
    _load_free_config = ()

    def config(self):
        """Constructor arguments (for saving); modules override."""
        return {}

    def get_extra_state(self):
        """What this module keeps besides its parameters, for ``nn.save`` (JSON-able;
        None: nothing), as ``torch.nn.Module.get_extra_state``. Modules override."""
        return None

    def _check_extra_state(self, state):
        """``state`` as saved by ``get_extra_state``, checked against this module
        (ValueError if it does not fit); changes nothing."""
        raise ValueError(f"a {type(self).__name__} keeps no extra state")

    def set_extra_state(self, state):
        """Take back what ``get_extra_state`` gave (``nn.load`` calls it)."""
        self._check_extra_state(state)

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
    ``lengths`` when given, as does a Sequential inside (whose states join these)."""

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
        if isinstance(i, slice):  # a Sequential keeping the names, as in PyTorch
            seq = Sequential()
            for name, m in list(self._modules.items())[i]:
                setattr(seq, name, m)
            return seq
        return list(self._modules.values())[i]

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x, lengths=None):
        from .rnn import RNNBase
        states = []  # (built apart: another thread may run this forward too)
        for m in self._modules.values():
            if isinstance(m, RNNBase):
                x, state = m.forward(x, lengths=lengths)
                states.append(state)
            elif isinstance(m, Sequential):  # (a subclass's own forward may not take lengths)
                x = m.forward(x) if lengths is None else m.forward(x, lengths=lengths)
                states.extend(getattr(m, "states", []))
            else:
                x = m.forward(x)
        self.states = states
        return x

    def backward(self, grad):
        from .rnn import RNNBase
        for m in reversed(list(self._modules.values())):
            if grad is None:
                break
            out = m.backward(grad)
            grad = out[0] if isinstance(m, RNNBase) else out
        return grad


class ModuleList(Module):
    """A list of modules registered as "0", "1", ... (PyTorch's ``ModuleList``):
    their parameters are the container's, under those names. It has no forward;
    call the modules in your own ``forward`` / ``backward``."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self):
        return list(self._modules.values())

    def _renumber(self, items):
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(items):
            self.add_module(str(i), m)

    def _index(self, i):
        n = len(self)
        if not isinstance(i, numbers.Integral) or isinstance(i, bool):
            raise TypeError(f"ModuleList indices must be integers or slices, not {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a ModuleList of {n}")
        return i % n

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._items())

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(self._items()[i])
        return self._modules[str(self._index(i))]  # (named 0..n-1, as PyTorch's)

    def __setitem__(self, i, module):
        self.add_module(str(self._index(i)), module)

    def __delitem__(self, i):
        items = self._items()
        del items[i if isinstance(i, slice) else self._index(i)]
        self._renumber(items)  # as PyTorch: names stay 0..n-1

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(self._items() + list(other))

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, (ModuleList, Sequential)):
            raise TypeError("ModuleList.extend takes an iterable of Modules, got a single "
                            f"{type(modules).__name__} (use append)")
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index, module):
        items = self._items()
        items.insert(index, module)
        self._renumber(items)


class ModuleDict(Module):
    """Modules by name, in insertion order (PyTorch's ``ModuleDict``): their
    parameters are the container's, under ``<name>.``. It has no forward."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules))

    def __contains__(self, key):
        return key in self._modules

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        if module is None:
            raise ValueError(f"{key}: expected a Module, got None")
        self.add_module(key, module)

    def __delitem__(self, key):
        if key not in self._modules:
            raise KeyError(key)
        delattr(self, key)

    def keys(self):
        return self._modules.keys()

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()

    def pop(self, key):
        m = self[key]
        del self[key]
        return m

    def clear(self):
        for key in list(self._modules):
            del self[key]

    def update(self, modules):
        pairs = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for j, pair in enumerate(pairs):
            if isinstance(pair, Module) or len(pair) != 2:
                raise ValueError(f"ModuleDict.update: element {j} is not a (name, module) pair")
            self[pair[0]] = pair[1]
