"""Save / load modules (and optimisers) to one ``.npz`` file, without pickle.

The file holds every parameter as ``<name>/<parameter name>`` and a JSON
``__meta__`` entry with the format version, each module's class and constructor
arguments, and each optimiser's hyper-parameters, so that loading into a
differently shaped model fails with a clear message."""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from .module import Module
from .optim import Optimizer

_FORMAT = "fastseq-nn"
_VERSION = 1


def _as_dict(obj):
    if isinstance(obj, (Module, Optimizer)):
        return {"model": obj}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str) or "/" in k or k.startswith("__"):
                raise ValueError(f"objects: names must be strings without '/', got {k!r}")
            if not isinstance(v, (Module, Optimizer)):
                raise ValueError(f"objects[{k!r}]: expected a Module or Optimizer, got {type(v).__name__}")
        return obj
    raise ValueError(f"objects: expected a Module, an Optimizer or a dict of them, got {type(obj).__name__}")


def save(objects, path):
    """Write ``objects`` (a Module, an Optimizer, or a dict name -> Module/Optimizer)
    to ``path`` (a ``.npz`` file; written to a temporary file, then renamed)."""
    objs = _as_dict(objects)
    arrays, meta = {}, {"format": _FORMAT, "version": _VERSION, "objects": {}}
    for name, obj in objs.items():
        if isinstance(obj, Module):
            meta["objects"][name] = {"kind": "module", "class": type(obj).__name__,
                                     "config": obj.config()}
            for pname, arr in obj.state_dict().items():
                arrays[f"{name}/{pname}"] = arr
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
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path, objects, strict=True):
    """Load what :func:`save` wrote into existing ``objects`` (same form as for
    ``save``: the modules are built by the caller with the same arguments).
    Raises ValueError when names, classes or shapes do not match."""
    objs = _as_dict(objects)
    with np.load(os.fspath(path), allow_pickle=False) as z:
        if "__meta__" not in z.files:
            raise ValueError(f"{path}: not a fastseq.nn file (no __meta__)")
        meta = json.loads(z["__meta__"].tobytes().decode("utf-8"))
        if meta.get("format") != _FORMAT or meta.get("version", 0) > _VERSION:
            raise ValueError(f"{path}: unsupported format {meta.get('format')!r} version {meta.get('version')}")
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
            if isinstance(obj, Module) and info["config"] != json.loads(json.dumps(obj.config())):
                raise ValueError(f"{path}: {name!r} was saved with {info['config']}, "
                                 f"loading into one with {obj.config()}")
        for name, obj in objs.items():
            if name not in saved:
                continue
            info = saved[name]
            prefix = name + "/"
            if isinstance(obj, Module):
                sd = {k[len(prefix):]: z[k] for k in z.files
                      if k.startswith(prefix)}
                obj.load_state_dict(sd, strict=strict)
            else:
                state = {}
                for i, scalars in info["state"].items():
                    st = dict(scalars)
                    sp = f"{prefix}state/{i}/"
                    for k in z.files:
                        if k.startswith(sp):
                            st[k[len(sp):]] = z[k]
                    state[int(i)] = st
                groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()}
                          for g in info["param_groups"]]
                obj.load_state_dict({"state": state, "param_groups": groups})
