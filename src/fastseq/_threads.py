"""Run-time settings shared by every kernel: the thread count and the SIMD path."""
from __future__ import annotations

import os

_num_threads = None


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def set_num_threads(n: int | None) -> None:
    """Number of threads every fastseq kernel uses (None: all cores, or OMP_NUM_THREADS)."""
    global _num_threads
    if n is not None:
        n = int(n)
        if n < 1:
            raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _num_threads = n


def get_num_threads() -> int:
    return _num_threads if _num_threads is not None else _default_threads()


def simd_level() -> int:
    """The SIMD path FASTSEQ_SIMD asks for (generic / avx2 / avx512), or -1 (auto: the
    best the CPU has) when it is unset or "auto"."""
    from . import _w2v
    name = os.environ.get("FASTSEQ_SIMD", "").strip().lower()
    if not name or name == "auto":
        return -1
    if name not in _w2v.SIMD_NAMES:
        raise ValueError(f"FASTSEQ_SIMD: expected one of auto, {', '.join(_w2v.SIMD_NAMES)}; got {name!r}")
    return _w2v.SIMD_NAMES[name]
