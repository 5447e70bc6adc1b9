"""Optimisers (SGD, Adam, AdamW), gradient clipping and learning-rate schedules,
with PyTorch's arguments and update rules. Updates are in-place vectorised NumPy
over whole arrays; a sparse parameter (Embedding) is updated on the rows that
received gradient only (lazily, as ``torch.optim.SparseAdam`` does)."""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import numpy as np

from .module import Parameter, from_torch


def _real(name, v, low=None, high=None, low_open=False):
    """``v`` as a float: TypeError naming ``name`` if it is not a number, ValueError
    if it is NaN or outside [low, high) ((low, high) with ``low_open``)."""
    if not isinstance(v, numbers.Real) or isinstance(v, bool):
        raise TypeError(f"{name}: expected a number, got {v!r}")
    v = float(v)
    if math.isnan(v) or (low is not None and (v <= low if low_open else v < low)) or \
            (high is not None and v >= high):
        lo = "" if low is None else (f"> {low}" if low_open else f">= {low}")
        hi = "" if high is None else f"< {high}"
        bounds = " and ".join(x for x in (lo, hi) if x)
        raise ValueError(f"{name}: expected a number{' ' + bounds if bounds else ''}, got {v}")
    return v


def _listed(params, what="Parameters"):
    """A Parameter or an iterable of ``what`` as a list; TypeError naming params otherwise."""
    if isinstance(params, Parameter):
        return [params]
    try:
        return list(params)
    except TypeError:
        raise TypeError(f"params: expected an iterable of {what}, got {type(params).__name__} "
                        "(pass module.parameters())") from None


def _param_list(params):
    out = _listed(params)
    for i, p in enumerate(out):
        if not isinstance(p, Parameter):
            raise ValueError(f"params[{i}]: expected a Parameter, got {type(p).__name__}")
    return out


def _grads(params):
    """(param, grad view, rows) for every parameter that has a gradient (where
    PyTorch's ``p.grad`` would not be None)."""
    for p in params:
        if not p.requires_grad:
            continue
        if p.sparse and not isinstance(p.rows, slice):  # (slice: ALL_ROWS, or a copy of it)
            if p.rows is None:  # no rows accumulated into since zero_grad
                continue
            yield p, p.grad[p.rows], p.rows
        elif p.has_grad():
            yield p, p.grad, None


class Optimizer:
    """Base: ``param_groups`` (list of dicts with 'params' and hyper-parameters, as in
    PyTorch, so schedules can change 'lr'), ``step()``, ``zero_grad()``,
    ``state_dict()`` / ``load_state_dict()`` (NumPy arrays and numbers)."""

    def __init__(self, params, defaults):
        params = _listed(params, "Parameters or of parameter groups")
        if not params:
            raise ValueError("params: got an empty list of parameters")
        groups = params if isinstance(params[0], Mapping) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}  # id(param) -> dict of arrays / numbers
        for i, g in enumerate(groups):
            self._add_group(g, f"params[{i}]")

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with 'params' and any hyper-parameters,
        the others from the optimiser's defaults), as PyTorch's: e.g. layers unfrozen
        part-way through fine-tuning."""
        self._add_group(param_group, "param_group")

    def _add_group(self, g, name):
        if not isinstance(g, Mapping) or "params" not in g:
            raise ValueError(f"{name}: expected a parameter group (a dict with 'params'), got {g!r:.60}")
        g = dict(g)
        g["params"] = _param_list(g["params"])
        seen = {id(p) for p in self._all_params()}
        for p in g["params"]:
            if id(p) in seen:
                raise ValueError("params: some parameters appear more than once (in one group or "
                                 "in more than one parameter group)")
            seen.add(id(p))
        for k, v in self.defaults.items():
            g.setdefault(k, v)
        self._check_group(g)
        self.param_groups.append(g)

    def step(self, closure=None):
        """One update from the gradients. ``closure`` (optional, as PyTorch's): called
        first (it recomputes the loss and the gradients); its result is returned."""
        loss = None if closure is None else closure()
        self._step()
        return loss

    def _step(self):
        raise NotImplementedError(f"{type(self).__name__}._step")

    def _check_group(self, g):
        """Validate the hyper-parameters in ``g`` (in place: numbers become floats)."""
        g["lr"] = _real("lr", g["lr"], 0)
        for k in ("weight_decay", "momentum", "eps"):
            if k in g:
                g[k] = _real(k, g[k], 0)
        if "dampening" in g:
            g["dampening"] = _real("dampening", g["dampening"])
        for k in ("maximize", "decoupled_weight_decay"):
            if k in g:
                _check_flag(k, g[k])
        if "betas" in g:
            b = g["betas"]
            if not (isinstance(b, (tuple, list)) and len(b) == 2):
                raise ValueError(f"betas: expected a pair (beta1, beta2), got {b!r}")
            try:
                g["betas"] = tuple(_real("betas", x, 0, 1) for x in b)
            except (TypeError, ValueError):
                raise ValueError(f"betas: expected two numbers in [0, 1), got {b!r}") from None

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                p.zero_grad(set_to_none)

    def _all_params(self):
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self):
        params = self._all_params()
        state = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v)
                     for k, v in self.state[id(p)].items()}
                 for i, p in enumerate(params) if id(p) in self.state}
        groups, start = [], 0
        for g in self.param_groups:  # 'params': the indices of the group's parameters, as in PyTorch
            n = len(g["params"])
            groups.append({**{k: v for k, v in g.items() if k != "params"},
                           "params": list(range(start, start + n))})
            start += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, sd):
        """Restore what ``state_dict`` returned (this optimizer's, or a torch
        optimizer's of the same kind: tensors are read as arrays), for the same
        parameters in the same groups; everything is checked before anything changes."""
        self._apply_load(self._check_load(sd))

    def _apply_load(self, checked):
        groups, state = checked
        for g, new_g in zip(self.param_groups, groups):
            g.update(new_g)
        self.state = state

    def _check_load(self, sd):
        """load_state_dict's checks and conversions, changing nothing."""
        if not (isinstance(sd, Mapping) and "state" in sd and "param_groups" in sd):
            got = f"keys {sorted(map(str, sd))}" if isinstance(sd, Mapping) else type(sd).__name__
            raise ValueError(f"state_dict: expected a dict with 'state' and 'param_groups', got {got}")
        params = self._all_params()
        if not isinstance(sd["param_groups"], (list, tuple)) or \
                not all(isinstance(g, Mapping) for g in sd["param_groups"]):
            raise ValueError(f"state_dict['param_groups']: expected a list of dicts, got "
                             f"{sd['param_groups']!r:.80}")
        if not isinstance(sd["state"], Mapping):
            raise ValueError(f"state_dict['state']: expected a dict, got {type(sd['state']).__name__}")
        saved_groups = list(sd["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"state_dict: {len(saved_groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        groups = []
        for i, (g, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if "params" in saved and len(saved["params"]) != len(g["params"]):
                raise ValueError(f"state_dict: parameter group {i} has {len(saved['params'])} "
                                 f"parameters, this optimizer's has {len(g['params'])}")
            new_g = dict(g)
            for k, v in saved.items():
                if k in ("params", "initial_lr") or k in _TORCH_IMPL_FLAGS:
                    continue
                if k == "decoupled_weight_decay":  # (an Adam's is not an AdamW's state)
                    mine = g.get(k, False)
                    if bool(v) != mine:
                        raise ValueError(f"state_dict: parameter group {i} has {k}={v!r}, which "
                                         f"{type(self).__name__} does not do")
                    continue
                if k not in g:
                    raise ValueError(f"state_dict: parameter group {i} has a setting {k!r} that "
                                     f"{type(self).__name__} does not have")
                new_g[k] = v
            self._check_group(new_g)
            groups.append(new_g)
        state = {}
        for key, st in sd["state"].items():
            # parameter indices: ints (PyTorch's), or their digits (a JSON round trip's)
            if not (isinstance(key, numbers.Integral) and not isinstance(key, bool) or
                    isinstance(key, str) and key.isdigit()):
                raise ValueError(f"state_dict['state']: expected parameter indices as keys, got {key!r:.40}")
            i = int(key)
            if not 0 <= i < len(params):
                raise ValueError(f"state_dict: state for parameter {i}, but there are {len(params)}")
            p = params[i]
            state[id(p)] = self._load_state(f"state_dict['state'][{i}]", p, st)
        return groups, state

    # per-parameter state: {key: kind}; 'count' a whole number, 'param' an array of
    # the parameter's shape, 'rows' one flag per row of the parameter. None (a
    # subclass that does not say): any numbers and arrays of the parameter's shape
    _STATE = None
    _REQUIRED = ()

    def _load_state(self, where, p, st):
        """A saved per-parameter state (NumPy arrays, torch tensors or numbers) checked
        against what ``step`` uses and converted; ValueError naming ``where``."""
        if not isinstance(st, Mapping):
            raise ValueError(f"{where}: expected a dict, got {type(st).__name__}")
        new = {}
        for k, v in st.items():
            kind = self._STATE.get(k) if self._STATE is not None else (
                "param" if np.ndim(v) else "number")
            if kind is None:
                raise ValueError(f"{where}: {type(self).__name__} keeps no {k!r} (it keeps "
                                 f"{', '.join(map(repr, self._STATE)) or 'nothing'})")
            if v is None:  # torch's SGD saves momentum_buffer=None without momentum
                continue
            try:
                arr = np.array(from_torch(v))
            except Exception as exc:  # noqa: BLE001 - whatever the object's __array__ raises
                raise ValueError(f"{where}[{k!r}]: cannot be read as an array ({exc})") from None
            if kind == "count":
                if arr.ndim != 0 or arr.dtype.kind not in "fiu" or not float(arr) >= 0 or \
                        not float(arr).is_integer():
                    raise ValueError(f"{where}[{k!r}]: expected a whole number >= 0, got {v!r:.60}")
                new[k] = int(arr)
                continue
            if kind == "number":
                new[k] = arr.item() if arr.dtype.kind in "biuf" else v
                continue
            shape = p.data.shape if kind == "param" else p.data.shape[:1]
            if arr.dtype.kind not in ("fiu" if kind == "param" else "biu") or arr.shape != shape:
                what = "the parameter's shape" if kind == "param" else "one flag per row"
                raise ValueError(f"{where}[{k!r}]: expected an array of shape {shape} ({what}), "
                                 f"got {arr.dtype} {arr.shape}")
            new[k] = arr.astype(p.data.dtype if kind == "param" else bool)
        missing = [k for k in self._REQUIRED if k not in new]
        if missing and new:
            raise ValueError(f"{where}: missing {', '.join(map(repr, missing))}")
        return new


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and L2 weight
    decay (``maximize``: ascent), with ``torch.optim.SGD``'s update rule. On a sparse parameter's rows a
    row's momentum starts, like a dense parameter's, as its first gradient."""

    _STATE = {"momentum_buffer": "param", "momentum_rows": "rows"}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _impl_flags(foreach=foreach, differentiable=differentiable, fused=fused)
        momentum, dampening = _real("momentum", momentum, 0), _real("dampening", dampening)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov: needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _step(self):
        for g in self.param_groups:
            lr, mom, damp, wd, nest = (g["lr"], g["momentum"], g["dampening"], g["weight_decay"],
                                       g["nesterov"])
            for p, grad, rows in _grads(g["params"]):
                data = p.data if rows is None else p.data[rows]
                d = -grad if g["maximize"] else grad
                if wd:
                    d = d + wd * data
                if mom:
                    st = self.state.setdefault(id(p), {})
                    buf = st.get("momentum_buffer")
                    if rows is None:
                        if buf is None:
                            # first step: the buffer starts as the gradient (no dampening)
                            buf = st["momentum_buffer"] = np.array(d, copy=True)
                        else:
                            seen = st.pop("momentum_rows", None)  # rows a sparse step started
                            buf *= mom
                            buf += (1 - damp) * d
                            if seen is not None and not seen.all():
                                buf[~seen] = d[~seen]
                        b = buf
                    else:
                        # sparse rows: the buffer kept whole, updated on the rows that got
                        # gradient; momentum_rows marks those started (at their gradient)
                        if buf is None:
                            buf = st["momentum_buffer"] = np.zeros_like(p.data)
                            st["momentum_rows"] = np.zeros(p.data.shape[0], bool)
                        seen = st.get("momentum_rows")
                        b = mom * buf[rows] + (1 - damp) * d
                        if seen is not None:
                            new = ~seen[rows]
                            b[new] = d[new]
                            seen[rows] = True
                        buf[rows] = b
                    d = d + mom * b if nest else b
                if rows is None:
                    p.data -= lr * d  # the data setter counts the change
                else:
                    p.data[rows] = data - lr * d
                    p._version += 1


class Adam(Optimizer):
    """Adam (``torch.optim.Adam``): L2 ``weight_decay`` added to the gradient (with
    ``decoupled_weight_decay``, AdamW's); ``amsgrad`` keeps the maximum of the second
    moment; ``maximize`` ascends. A sparse parameter's rows
    are updated as ``torch.optim.SparseAdam`` does (eps added to the square root of
    the second moment before its bias correction)."""

    _STATE = {"step": "count", "exp_avg": "param", "exp_avg_sq": "param", "max_exp_avg_sq": "param"}
    _REQUIRED = ("step", "exp_avg", "exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _impl_flags(foreach=foreach, capturable=capturable, differentiable=differentiable,
                    fused=fused)
        # in the groups, as PyTorch keeps it: a state says which kind it is
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _step(self):
        for g in self.param_groups:
            lr, (b1, b2), eps, wd, ams = (g["lr"], g["betas"], g["eps"], g["weight_decay"],
                                          g["amsgrad"])
            decoupled = g["decoupled_weight_decay"]
            for p, grad, rows in _grads(g["params"]):
                st = self.state.get(id(p))
                if st is None:
                    st = {"step": 0, "exp_avg": np.zeros_like(p.data),
                          "exp_avg_sq": np.zeros_like(p.data)}
                    if ams:
                        st["max_exp_avg_sq"] = np.zeros_like(p.data)
                    self.state[id(p)] = st
                if ams and "max_exp_avg_sq" not in st:  # a state saved without amsgrad
                    st["max_exp_avg_sq"] = np.zeros_like(p.data)
                st["step"] += 1
                t = st["step"]
                data = p.data if rows is None else p.data[rows]
                if decoupled and wd:
                    data *= 1 - lr * wd
                d = -grad if g["maximize"] else grad
                if wd and not decoupled:
                    d = d + wd * data
                m = st["exp_avg"] if rows is None else st["exp_avg"][rows]
                v = st["exp_avg_sq"] if rows is None else st["exp_avg_sq"][rows]
                m *= b1
                m += (1 - b1) * d
                v *= b2
                v += (1 - b2) * (d * d)
                bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
                vv = v
                if ams:
                    mx = st["max_exp_avg_sq"] if rows is None else st["max_exp_avg_sq"][rows]
                    np.maximum(mx, v, out=mx)
                    vv = mx
                    if rows is not None:
                        st["max_exp_avg_sq"][rows] = mx
                denom = np.sqrt(vv)
                if rows is None:  # torch.optim.Adam
                    denom *= 1.0 / math.sqrt(bc2)
                    denom += eps
                    upd = m / denom
                    upd *= lr / bc1
                else:  # torch.optim.SparseAdam
                    denom += eps
                    upd = m / denom
                    upd *= lr * math.sqrt(bc2) / bc1
                data -= upd
                if rows is not None:
                    st["exp_avg"][rows] = m
                    st["exp_avg_sq"][rows] = v
                    p.data[rows] = data
                p._version += 1


class AdamW(Adam):
    """AdamW (``torch.optim.AdamW``): weight decay decoupled from the gradient,
    p <- p * (1 - lr * weight_decay) before the Adam step; default decay 0.01."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused, decoupled_weight_decay=True)


# settings in a torch optimizer's param_groups that only choose its implementation
_TORCH_IMPL_FLAGS = frozenset({"foreach", "capturable", "differentiable", "fused"})


def _impl_flags(**flags):
    """PyTorch's implementation choices (``foreach``, ``fused``: which kernels update
    the parameters; ``capturable``: CUDA graphs; ``differentiable``: autograd through
    the step). They do not change the update's arithmetic, and there is one
    implementation here: accepted as booleans or None, and ignored."""
    for name, v in flags.items():
        if v is not None:
            _check_flag(name, v, "True, False or None")


def _check_flag(name, v, what="True or False"):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name}: expected {what}, got {v!r}")


def _vector_norm(x, p):
    """``torch.linalg.vector_norm(x, p)`` in float64: max / min |x| for +-inf, the
    count of non-zeros for 0, else (sum |x|^p)^(1/p) (negative p too)."""
    a = np.abs(x, dtype=np.float64).ravel()  # (one float64 array, not a copy and then its abs)
    if a.size == 0:
        return 0.0
    if math.isinf(p):
        return float(a.max() if p > 0 else a.min())
    if p == 0:
        return float(np.count_nonzero(a))
    with np.errstate(divide="ignore", over="ignore"):
        return float(np.sum(a ** p) ** (1.0 / p))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their global norm is at most ``max_norm``
    (``torch.nn.utils.clip_grad_norm_``). Returns the norm before clipping.
    ``norm_type``: any p of ``torch.linalg.vector_norm`` ('inf' too), applied to
    each gradient's norm and then to those norms, as PyTorch does.
    ``error_if_nonfinite``: a NaN / inf norm raises RuntimeError instead of making
    the gradients NaN. (``foreach`` picks PyTorch's implementation; it is accepted
    and changes nothing here.)"""
    params = [p for p in _param_list(parameters) if p.requires_grad]
    grads = [g for _, g, _ in _grads(params)]
    max_norm = _real("max_norm", max_norm, 0)  # 0 zeroes the gradients, as in PyTorch
    norm_type = _real("norm_type", float("inf") if norm_type == "inf" else norm_type)
    if not grads:
        return 0.0
    total = _vector_norm([_vector_norm(g, norm_type) for g in grads], norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                           f"{total}, so they cannot be clipped (error_if_nonfinite=False scales them "
                           "by it anyway)")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1:  # a NaN norm makes every gradient NaN, as in PyTorch
        for p, _, rows in _grads(params):
            if rows is None:
                p.grad *= coef
            else:
                p.grad[rows] *= coef
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value] (inf: unchanged).
    (``foreach`` is accepted, as PyTorch's, and changes nothing.)"""
    c = _real("clip_value", clip_value, 0)
    for p, _, rows in _grads(_param_list(parameters)):
        if rows is None:
            np.clip(p.grad, -c, c, out=p.grad)
        else:
            p.grad[rows] = np.clip(p.grad[rows], -c, c)


class _Schedule:
    def __init__(self, optimizer):
        if not isinstance(optimizer, Optimizer):
            raise ValueError(f"optimizer: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lrs = self._lrs()
        self.last_epoch = 0
        self._last_lr = self._lrs()

    def _lrs(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def get_last_lr(self):
        """The learning rates as this schedule's last ``step()`` (or its creation) left
        them, one per parameter group (as PyTorch: a rate set by hand since then shows in
        ``optimizer.param_groups``, not here)."""
        return self._lrs() if self._last_lr is None else list(self._last_lr)

    def _stepped(self):
        self._last_lr = self._lrs()

    # a state saved by PyTorch's schedule of this kind has these too (its bookkeeping)
    _TORCH_ONLY = ("_step_count", "_is_initial", "_get_lr_called_within_step", "verbose", "mode_worse")
    _LISTS = ("base_lrs", "_last_lr")  # one number per parameter group, at most
    _NUMBER_OR_NONE = ()
    _MAY_BE_NONE = ("_last_lr",)  # (see _filled)

    def _filled(self, sd):
        """``sd`` without PyTorch's own bookkeeping, and with the fields it may lack
        (saved by PyTorch, or by fastseq before they were kept): no ``_last_lr``
        (None: ``get_last_lr`` reads the optimizer until the next step, whatever
        order things are loaded in), no ``base_lrs`` (PyTorch's ReduceLROnPlateau)."""
        sd = {k: v for k, v in sd.items() if k not in self._TORCH_ONLY}
        sd.setdefault("_last_lr", None)
        if "base_lrs" not in sd:
            sd["base_lrs"] = list(sd["_last_lr"]) if isinstance(sd["_last_lr"], (list, tuple)) else self._lrs()
        return sd

    def state_dict(self):
        """The schedule's state (numbers, strings, None and lists of numbers: what
        ``nn.save`` keeps), as PyTorch's: everything but the optimizer."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, sd):
        """Take back a ``state_dict()`` of a schedule of this kind (checked first)."""
        self._apply_state(self._check_state(sd))

    def _apply_state(self, new):
        """Set the fields ``_check_state`` returned."""
        self.__dict__.update(new)

    def _check_state(self, sd):
        """``sd`` (this schedule's, PyTorch's, or an older fastseq's) checked against
        this schedule: the same fields, numbers where numbers are, lists of at most
        one number per parameter group (fewer when groups were added since it was
        saved, as PyTorch allows). Returns the fields to set; changes nothing."""
        if not isinstance(sd, Mapping):
            raise ValueError(f"state_dict: expected a dict, got {type(sd).__name__}")
        sd = self._filled(sd)
        mine = self.state_dict()
        if set(sd) != set(mine):
            missing, extra = sorted(set(mine) - set(sd)), sorted(set(sd) - set(mine))
            raise ValueError(f"state_dict: not a {type(self).__name__}'s state (missing {missing}, "
                             f"unexpected {extra})")
        out, ngroups = {}, len(self.optimizer.param_groups)
        for k, v in sd.items():
            want = mine[k]
            if v is None and (k in self._NUMBER_OR_NONE or k in self._MAY_BE_NONE):
                pass
            elif k in self._NUMBER_OR_NONE:
                if isinstance(v, bool) or not isinstance(v, numbers.Real):
                    raise ValueError(f"state_dict[{k!r}]: expected a number or None, got {v!r:.80}")
                v = float(v)
            elif k in self._LISTS:
                if not isinstance(v, (list, tuple)) or len(v) > ngroups or \
                        not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in v):
                    raise ValueError(f"state_dict[{k!r}]: expected a list of numbers, one per "
                                     f"parameter group ({ngroups} at most), got {v!r:.80}")
                v = [float(x) for x in v]
            elif isinstance(want, bool) or isinstance(want, str):
                if type(v) is not type(want):
                    raise ValueError(f"state_dict[{k!r}]: expected a {type(want).__name__}, got {v!r:.80}")
            elif isinstance(want, numbers.Integral):
                if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                    raise ValueError(f"state_dict[{k!r}]: expected a whole number, got {v!r:.80}")
                v = int(v)
            elif isinstance(want, numbers.Real):
                if isinstance(v, bool) or not isinstance(v, numbers.Real):
                    raise ValueError(f"state_dict[{k!r}]: expected a number, got {v!r:.80}")
                v = float(v)
            out[k] = v
        return out


class StepLR(_Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` calls of ``step()``
    (once per epoch): lr = base_lr * gamma ** (epoch // step_size) unless it was
    changed by hand or by another schedule, which, as in PyTorch, it builds on."""

    def __init__(self, optimizer, step_size, gamma=0.1):
        super().__init__(optimizer)
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Real) or \
                not float(step_size).is_integer():
            raise TypeError(f"step_size: expected a whole number, got {step_size!r}")
        if step_size < 1:
            raise ValueError(f"step_size: expected >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), _real("gamma", gamma, 0, low_open=True)

    def step(self):
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for g in self.optimizer.param_groups:
                g["lr"] *= self.gamma
        self._stepped()


class ExponentialLR(_Schedule):
    """Multiply the learning rate by ``gamma`` at every ``step()``: lr = base_lr *
    gamma ** epoch unless changed by hand or by another schedule (as in PyTorch)."""

    def __init__(self, optimizer, gamma):
        super().__init__(optimizer)
        self.gamma = _real("gamma", gamma, 0, low_open=True)

    def step(self):
        self.last_epoch += 1
        for g in self.optimizer.param_groups:
            g["lr"] *= self.gamma
        self._stepped()


class ReduceLROnPlateau(_Schedule):
    """Multiply the learning rate by ``factor`` when ``step(metric)`` has not improved
    for more than ``patience`` calls (``torch.optim.lr_scheduler.ReduceLROnPlateau``)."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0.0, eps=1e-8):
        super().__init__(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode: expected 'rel' or 'abs', got {threshold_mode!r}")
        for name, v in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {v!r}")
        self.mode, self.factor, self.patience = mode, _real("factor", factor, 0, 1, low_open=True), int(patience)
        self.threshold, self.threshold_mode = _real("threshold", threshold), threshold_mode
        self.cooldown, self.eps = int(cooldown), _real("eps", eps, 0)
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"min_lr: expected one value per parameter group ({n}), got {len(min_lr)}")
            self.min_lrs = [_real("min_lr", v, 0) for v in min_lr]
            self.default_min_lr = None  # one per group: groups added later need theirs set
        else:
            self.default_min_lr = _real("min_lr", min_lr, 0)  # also for groups added later
            self.min_lrs = [self.default_min_lr] * n
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _better(self, a, best):
        if self.mode == "min":
            ref = best * (1 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold
            return a < ref
        ref = best * (1 + self.threshold) if self.threshold_mode == "rel" else best + self.threshold
        return a > ref

    _NUMBER_OR_NONE = ("default_min_lr",)
    _LISTS = _Schedule._LISTS + ("min_lrs",)

    def _filled(self, sd):
        sd = super()._filled(sd)
        if "default_min_lr" not in sd and isinstance(sd.get("min_lrs"), (list, tuple)):
            lrs = sd["min_lrs"]  # saved before it was kept: one value for all groups, or none
            sd = {**sd, "default_min_lr": lrs[0] if lrs and all(x == lrs[0] for x in lrs) else None}
        return sd

    def step(self, metrics):
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"metrics: expected a number (the value watched), got {metrics!r:.80}") from None
        self.last_epoch += 1
        if self._better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            groups = self.optimizer.param_groups
            if len(groups) != len(self.min_lrs):  # add_param_group since
                if self.default_min_lr is None:
                    raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter "
                                       f"groups, min_lr was given for {len(self.min_lrs)} (a group was "
                                       "added since); set scheduler.min_lrs to one value per group")
                self.min_lrs = [self.default_min_lr] * len(groups)
            for g, lo in zip(groups, self.min_lrs):
                new = max(g["lr"] * self.factor, lo)
                if g["lr"] - new > self.eps:
                    g["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._stepped()
