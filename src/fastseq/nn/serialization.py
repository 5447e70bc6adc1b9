"""Save / load modules (and optimisers and learning-rate schedules) to one
``.npz`` file, without pickle.

The file holds every parameter as ``<name>/<parameter name>`` and a JSON
``__meta__`` entry with the format version, each module's class and constructor
arguments, each optimiser's hyper-parameters and each schedule's state (its
epoch count, base rates, plateau counters), so that loading into a
differently shaped model fails with a clear message."""
from __future__ import annotations

import json
import os

import numpy as np

from .._atomic import atomic_write, check_writable
from .module import Module
from .optim import Optimizer, _Schedule

_KINDS = (Module, Optimizer, _Schedule)

_FORMAT = "fastseq-nn"
_VERSION = 1


def _as_dict(obj):
    if isinstance(obj, _KINDS):
        return {"model": obj}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str) or "/" in k or k.startswith("__"):
                raise ValueError(f"objects: names must be strings without '/', got {k!r}")
            if not isinstance(v, _KINDS):
                raise ValueError(f"objects[{k!r}]: expected a Module, Optimizer or learning-rate "
                                 f"schedule, got {type(v).__name__}")
        return obj
    raise ValueError(f"objects: expected a Module, an Optimizer, a schedule or a dict of them, "
                     f"got {type(obj).__name__}")


def _json_default(v):
    if isinstance(v, np.generic):  # np.int64(3), np.float32(0.1): JSON has plain numbers
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def _to_json(obj):
    return json.dumps(obj, default=_json_default)


def save(objects, path):
    """Write ``objects`` (a Module, an Optimizer, a learning-rate schedule, or a dict
    name -> any of them) to ``path`` (a ``.npz`` file; written to a temporary file, then renamed)."""
    objs = _as_dict(objects)
    arrays, meta = {}, {"format": _FORMAT, "version": _VERSION, "objects": {}}
    for name, obj in objs.items():
        if isinstance(obj, Module):
            meta["objects"][name] = {"kind": "module", "class": type(obj).__name__,
                                     "config": obj.config()}
            extra = {sub: st for sub, m in obj.named_modules()
                     if (st := m.get_extra_state()) is not None}
            if extra:  # e.g. the vocabulary of Embedding.from_vectors
                meta["objects"][name]["extra_state"] = extra
            for pname, arr in obj.state_dict().items():
                arrays[f"{name}/{pname}"] = arr
        elif isinstance(obj, _Schedule):
            meta["objects"][name] = {"kind": "scheduler", "class": type(obj).__name__,
                                     "state": obj.state_dict()}
        else:
            sd = obj.state_dict()
            state_meta = {}
            for i, st in sd["state"].items():
                state_meta[str(i)] = {}
                for k, v in st.items():
                    if isinstance(v, np.ndarray):
                        arrays[f"{name}/state/{i}/{k}"] = v
                    else:
                        state_meta[str(i)][k] = v
            meta["objects"][name] = {"kind": "optimizer", "class": type(obj).__name__,
                                     "param_groups": sd["param_groups"], "state": state_meta}
    arrays["__meta__"] = np.frombuffer(_to_json(meta).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    check_writable(path)
    try:
        with atomic_write(path) as f:
            np.savez(f, **arrays)
    except OSError as exc:
        if path in str(exc):
            raise
        raise type(exc)(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _not_ours(path, reason):
    return ValueError(f"{path}: not a fastseq.nn file ({reason})")


def _read(path):
    """(meta, arrays) of a file :func:`save` wrote; one ValueError for anything else."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head[:4] != b"PK\x03\x04":
        raise _not_ours(path, "empty file" if not head else "a .npy array, not an .npz archive"
                        if head == b"\x93NUMPY" else "not an .npz archive")
    try:
        with np.load(path, allow_pickle=False) as z:
            if "__meta__" not in z.files:
                raise _not_ours(path, "no __meta__")
            raw = z["__meta__"]
            arrays = {k: z[k] for k in z.files if k != "__meta__"}
    except ValueError as exc:
        if str(exc).startswith(f"{path}: "):
            raise
        raise _not_ours(path, f"damaged archive: {exc}") from None
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - BadZipFile, EOFError, zlib.error...
        raise _not_ours(path, f"damaged archive: {type(exc).__name__}: {exc}") from None
    try:
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise _not_ours(path, "__meta__ is not JSON") from None
    if not isinstance(meta, dict):
        raise _not_ours(path, "__meta__ is not a JSON object")
    if meta.get("format") != _FORMAT:
        raise _not_ours(path, f"format {meta.get('format')!r}")
    version = meta.get("version")
    if not isinstance(version, int):
        raise _not_ours(path, f"format version {version!r}")
    if version > _VERSION:
        raise ValueError(f"{path}: format version {version}, newer than this fastseq reads ({_VERSION})")
    objects = meta.get("objects")
    if not isinstance(objects, dict):
        raise _not_ours(path, "__meta__ has no 'objects'")
    for name, info in objects.items():
        kind = info.get("kind") if isinstance(info, dict) else None
        fields = {"module": {"class": str, "config": dict},
                  "optimizer": {"class": str, "param_groups": list, "state": dict},
                  "scheduler": {"class": str, "state": dict}}.get(kind)
        ok = fields is not None and all(isinstance(info.get(k), t) for k, t in fields.items())
        if ok and kind == "module":
            ok = isinstance(info.get("extra_state", {}), dict)
        if ok and kind == "optimizer":
            ok = (all(isinstance(g, dict) for g in info["param_groups"])
                  and all(i.isdigit() and isinstance(st, dict) for i, st in info["state"].items()))
        if not ok:
            raise _not_ours(path, f"bad __meta__ entry for {name!r}")
    return meta, arrays


def load(path, objects, strict=True):
    """Load what :func:`save` wrote into existing ``objects`` (same form as for
    ``save``: the modules are built by the caller with the same arguments).
    Raises ValueError when names, classes or shapes do not match, and
    ``"<path>: not a fastseq.nn file (<reason>)"`` for any other file."""
    objs = _as_dict(objects)
    path = os.fspath(path)
    meta, z = _read(path)
    saved = meta["objects"]
    if strict and set(saved) != set(objs):
        raise ValueError(f"{path}: holds {sorted(saved)}, asked to load {sorted(objs)}")
    # check everything before changing anything
    for name, obj in objs.items():
        if name not in saved:
            continue
        info = saved[name]
        if info["class"] != type(obj).__name__:
            raise ValueError(f"{path}: {name!r} was saved from a {info['class']}, "
                             f"loading into a {type(obj).__name__}")
        if isinstance(obj, Module):
            free = obj._load_free_config
            mine = {k: v for k, v in json.loads(_to_json(obj.config())).items() if k not in free}
            if {k: v for k, v in info["config"].items() if k not in free} != mine:
                raise ValueError(f"{path}: {name!r} was saved with {info['config']}, "
                                 f"loading into one with {obj.config()}")
    checked = []
    for name, obj in objs.items():
        if name in saved:
            try:
                checked.append(_check_one(name, obj, saved[name], z, strict))
            except ValueError as e:
                raise ValueError(f"{path}: {name!r}: {e}") from None
    for apply in checked:  # all checked: now change them
        apply()


def _check_one(name, obj, info, z, strict):
    """A function that makes ``obj`` take the saved ``name``; nothing changed yet."""
    prefix = name + "/"
    if isinstance(obj, _Schedule):
        new = obj._check_state(info["state"])
        return lambda: obj._apply_state(new)  # (checked just now: not again)
    if isinstance(obj, Module):
        sd = {k[len(prefix):]: v for k, v in z.items() if k.startswith(prefix)}
        new = obj._check_load(sd, strict)[0]
        modules = dict(obj.named_modules())
        extra = []
        for sub, state in info.get("extra_state", {}).items():
            if sub not in modules:
                if strict:
                    raise ValueError(f"saved state for a sub-module {sub!r} this one lacks")
                continue
            try:
                modules[sub]._check_extra_state(state)
            except ValueError as e:
                raise ValueError(f"{sub or 'module'}: {e}") from None
            extra.append((modules[sub], state))

        def apply():
            obj._apply_load(new)
            for m, state in extra:
                m.set_extra_state(state)
        return apply
    state = {}
    for i, scalars in info["state"].items():
        st = dict(scalars)
        sp = f"{prefix}state/{i}/"
        for k, v in z.items():
            if k.startswith(sp):
                st[k[len(sp):]] = v
        state[int(i)] = st
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in info["param_groups"]]
    new = obj._check_load({"state": state, "param_groups": groups})
    return lambda: obj._apply_load(new)
