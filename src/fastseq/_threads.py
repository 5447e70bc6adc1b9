"""Thread count shared by every kernel (word2vec and, later, the RNNs)."""
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
