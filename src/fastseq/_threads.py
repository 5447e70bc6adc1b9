"""Run-time settings shared by every kernel: the thread count and the SIMD path."""
from __future__ import annotations

import numbers
import os

_num_threads = None


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return min(int(env), MAX_THREADS)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


MAX_THREADS = 1024  # more is surely a typo, and would fail in the OS's thread creation
INT_MAX = 2**31 - 1  # the largest count the C kernels take (C ints)


def check_threads(name, n):
    """``n`` as a thread count in 1..MAX_THREADS, or a ValueError/TypeError naming ``name``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        if isinstance(n, numbers.Real) and float(n).is_integer():
            n = int(n)
        else:
            raise TypeError(f"{name}: expected an integer number of threads, got {n!r}")
    n = int(n)
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"{name}: must be between 1 and {MAX_THREADS}, got {n}")
    return n


def set_num_threads(n: int | None) -> None:
    """Number of threads every fastseq kernel uses (None: all cores, or OMP_NUM_THREADS)."""
    global _num_threads
    _num_threads = None if n is None else check_threads("set_num_threads", n)


def get_num_threads() -> int:
    return _num_threads if _num_threads is not None else _default_threads()


_simd_seen = {}  # FASTSEQ_SIMD's text -> its level (read at every call, parsed once)


def simd_level() -> int:
    """The SIMD path FASTSEQ_SIMD asks for (generic / avx2 / avx512), or -1 (auto: the
    best the CPU has) when it is unset or "auto"."""
    text = os.environ.get("FASTSEQ_SIMD", "")
    level = _simd_seen.get(text)
    if level is None:
        from . import _w2v
        name = text.strip().lower()
        if not name or name == "auto":
            level = -1
        elif name in _w2v.SIMD_NAMES:
            level = _w2v.SIMD_NAMES[name]
        else:
            raise ValueError(f"FASTSEQ_SIMD: expected one of auto, {', '.join(_w2v.SIMD_NAMES)}; "
                             f"got {name!r}")
        _simd_seen[text] = level
    return level
