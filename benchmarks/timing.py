"""Shared helpers for the benchmarks: run a command as a child process and
report its wall time and peak memory, print ratio tables and JSON lines."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def run_child(cmd, env=None, timeout=None):
    """Run ``cmd``; return (wall seconds, peak RSS in MiB, stdout text). Raises on failure."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    out, err = proc.communicate(timeout=timeout)
    wall = time.perf_counter() - t0
    # peak RSS of this child: wait4 already reaped it via communicate, so use the
    # child's own report (it prints ru_maxrss in its JSON) when available.
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, out


def peak_rss_mib():
    """Peak resident memory of this process so far, MiB (Linux: ru_maxrss is KiB)."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def print_table(rows, columns, file=sys.stdout):
    """rows: list of dicts; columns: list of (key, header, format)."""
    cells = [[h for _, h, _ in columns]]
    for r in rows:
        cells.append([("" if r.get(k) is None else fmt.format(r[k])) for k, _, fmt in columns])
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    for j, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)), file=file)
        if j == 0:
            print("  ".join("-" * w for w in widths), file=file)


def emit_json(record, file=sys.stdout):
    print("JSON " + json.dumps(record, sort_keys=True), file=file)


def machine_info():
    info = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info
