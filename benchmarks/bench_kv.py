"""fastseq KeyedVectors against gensim's, same vectors, same process (ratios).

Usage:
    python benchmarks/bench_kv.py [--n 100000] [--dim 300] [--batch 1000] [--single 40]
        [--native-n 1000000] [--analogy-n 20000] [--analogy-dim 200] [--vectors PATH]
        [--skip native analogy] [--json-only]

Measures:
  * most_similar latency: one word query, top 10, over n x dim vectors (median of
    --single queries, norms already computed by both);
  * most_similar throughput: --batch single-word queries; fastseq answers them with
    most_similar_batch (one matrix product per block), gensim with a loop;
  * native load: KeyedVectors.load of a --native-n x 300 native file in a fresh
    process, until a word lookup answers (gensim: KeyedVectors.load(mmap='r') of
    its own save of the same vectors, the fastest way gensim has to open them);
  * analogy evaluation: evaluate_word_analogies on questions-words.txt (19,544
    questions; every question word is in the vocabulary), --analogy-n x
    --analogy-dim random-ish vectors, or the vectors of --vectors PATH.
Ratios are gensim time / fastseq time (> 1: fastseq is faster).

Floors (n x dim float32 vectors, V = 4 n dim bytes):
  * one query reads V once: 120 MB for 100k x 300, ~4-8 ms at 15-30 GB/s of memory
    bandwidth; its 2 n dim = 60 MFLOP are nothing next to that. gensim makes one BLAS
    gemv over V. fastseq reads a float16 copy of the unit vectors instead (V / 2 =
    60 MB), then rescores in float32 the few rows within float16's rounding bound
    of the 10th best (tens of rows): half the bytes, the same answers.
  * a batch of B queries is 2 n dim B FLOP (60 GFLOP for B = 1000), ~1 s at the
    ~60-70 GFLOP/s SGEMM measured on this 2-core machine; V is read once per block
    of queries instead of once per query, so the batch is compute-bound, not
    memory-bound: throughput can exceed gensim's by the ratio of SGEMM to SGEMV speed.
  * native load reads the header and checksums the word index (~36 bytes a word:
    36 MB, ~10 ms for 1M words); the vectors are mapped, not read.
  * analogy evaluation is a batch of ~19.5k queries: 2 n dim 19.5k FLOP.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import emit_json, machine_info, print_table  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
QUESTIONS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "eval", "questions-words.txt"))


def random_ish(n, dim, seed=0, words=None):
    """Clustered vectors (neighbourhoods like real embeddings), float32, and keys."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((max(2, n // 200), dim), dtype=np.float32)
    vecs = np.empty((n, dim), dtype=np.float32)
    step = 100000
    for s in range(0, n, step):
        m = min(step, n - s)
        vecs[s:s + m] = centres[rng.integers(0, len(centres), m)]
        vecs[s:s + m] += 0.7 * rng.standard_normal((m, dim), dtype=np.float32)
    keys = [f"w{i}" for i in range(n)]
    if words:
        slots = rng.choice(n, size=len(words), replace=False)
        for w, i in zip(words, slots):
            keys[i] = w
    return keys, vecs


def gensim_kv(keys, vecs):
    from gensim.models import KeyedVectors
    g = KeyedVectors(vecs.shape[1])
    g.add_vectors(keys, vecs)
    return g


def bench_queries(n, dim, batch, single):
    import fastseq
    keys, vecs = random_ish(n, dim)
    kv = fastseq.KeyedVectors(keys, vecs)
    g = gensim_kv(keys, vecs)
    kv.fill_norms()
    g.fill_norms()
    rng = np.random.default_rng(1)
    words = [keys[i] for i in rng.integers(0, n, max(batch, single))]
    for w in words[:3]:   # warm-up, and the two agree
        assert [x for x, _ in kv.most_similar(w)] == [x for x, _ in g.most_similar(w)]
    lat = {"fastseq": [], "gensim": []}
    for i, w in enumerate(words[:single]):   # alternate, and which goes first, so load hits both alike
        pair = (("fastseq", kv.most_similar), ("gensim", g.most_similar))
        for name, fn in pair if i % 2 == 0 else pair[::-1]:
            t0 = time.perf_counter()
            fn(w, topn=10)
            lat[name].append(time.perf_counter() - t0)
    lat = {name: statistics.median(times) for name, times in lat.items()}
    t0 = time.perf_counter()
    res = kv.most_similar_batch([[w] for w in words[:batch]], topn=10)
    t_fs = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = [g.most_similar(w, topn=10) for w in words[:batch]]
    t_g = time.perf_counter() - t0
    agree = sum([x for x, _ in a] == [x for x, _ in b] for a, b in zip(res, ref))
    return [
        {"metric": f"most_similar latency, {n}x{dim} (ms)", "fastseq": 1e3 * lat["fastseq"],
         "gensim": 1e3 * lat["gensim"], "ratio": lat["gensim"] / lat["fastseq"]},
        {"metric": f"most_similar {batch} queries (queries/s)", "fastseq": batch / t_fs,
         "gensim": batch / t_g, "ratio": t_g / t_fs, "note": f"top-10 identical for {agree}/{batch}"},
    ]


_LOAD_FASTSEQ = """
import sys, time
t0 = time.perf_counter()
from fastseq import KeyedVectors
t1 = time.perf_counter()
kv = KeyedVectors.load(sys.argv[1])
v = kv["w999999"]
assert "w123456" in kv and len(kv) == int(sys.argv[2])
t2 = time.perf_counter()
kv.most_similar("w42", topn=10)
t3 = time.perf_counter()
print(t2 - t1, t3 - t2, t1 - t0)
"""

_LOAD_GENSIM = """
import sys, time
t0 = time.perf_counter()
from gensim.models import KeyedVectors
t1 = time.perf_counter()
kv = KeyedVectors.load(sys.argv[1], mmap="r")
v = kv["w999999"]
assert "w123456" in kv and len(kv) == int(sys.argv[2])
t2 = time.perf_counter()
kv.most_similar("w42", topn=10)
t3 = time.perf_counter()
print(t2 - t1, t3 - t2, t1 - t0)
"""


def _child(code, path, n, repeat=3):
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code, path, str(n)], capture_output=True, text=True,
                             check=True).stdout.split()
        vals = [float(x) for x in out]
        best = vals if best is None or vals[0] < best[0] else best
    return best


def bench_native(n, dim, tmp):
    import fastseq
    need = 2 * 4 * n * dim * 1.1
    if shutil.disk_usage(tmp).free < need:
        return [{"metric": "native load", "note": f"skipped: needs {need / 1e9:.1f} GB free in {tmp}"}]
    keys, vecs = random_ish(n, dim, seed=3)
    ours = os.path.join(tmp, "v.fsv")
    t0 = time.perf_counter()
    fastseq.KeyedVectors(keys, vecs).save(ours, format="native")
    t_save = time.perf_counter() - t0
    theirs = os.path.join(tmp, "v.kv")
    t0 = time.perf_counter()
    gensim_kv(keys, vecs).save(theirs)
    t_gsave = time.perf_counter() - t0
    del keys, vecs
    fs = _child(_LOAD_FASTSEQ, ours, n)
    gs = _child(_LOAD_GENSIM, theirs, n)
    return [
        {"metric": f"load {n}x{dim} until a lookup answers (s)", "fastseq": fs[0], "gensim": gs[0],
         "ratio": gs[0] / fs[0], "note": "fastseq native vs gensim .kv with mmap='r'; fresh process, warm page cache"},
        {"metric": "then first most_similar (s)", "fastseq": fs[1], "gensim": gs[1], "ratio": gs[1] / fs[1],
         "note": "reads every vector once"},
        {"metric": f"save {n}x{dim} (s)", "fastseq": t_save, "gensim": t_gsave, "ratio": t_gsave / t_save},
    ]


def bench_analogy(n, dim, vectors):
    import fastseq
    if not os.path.exists(QUESTIONS):
        return [{"metric": "analogy evaluation", "note": f"skipped: {QUESTIONS} not found"}]
    if vectors:
        kv = fastseq.KeyedVectors.load(vectors)
        keys, vecs = kv.index_to_key, np.asarray(kv.vectors)
        what = os.path.basename(vectors)
    else:
        words = set()
        with open(QUESTIONS, encoding="utf-8") as f:
            for line in f:
                if not line.startswith(":"):
                    words.update(w.lower() for w in line.split())
        keys, vecs = random_ish(n, dim, seed=4, words=sorted(words))
        kv = fastseq.KeyedVectors(keys, vecs)
        what = f"{n}x{dim} random-ish"
    g = gensim_kv(keys, vecs)
    t0 = time.perf_counter()
    s1, r1 = kv.evaluate_word_analogies(QUESTIONS)
    t_fs = time.perf_counter() - t0
    t0 = time.perf_counter()
    s2, r2 = g.evaluate_word_analogies(QUESTIONS)
    t_g = time.perf_counter() - t0
    answered = len(r1[-1]["correct"]) + len(r1[-1]["incorrect"])
    same = s1 == s2 and all(a["correct"] == b["correct"] for a, b in zip(r1, r2))
    return [{"metric": f"evaluate_word_analogies, {what} (s)", "fastseq": t_fs, "gensim": t_g,
             "ratio": t_g / t_fs, "note": f"{answered} questions answered; results identical: {same}"}]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--single", type=int, default=40)
    ap.add_argument("--native-n", type=int, default=1000000)
    ap.add_argument("--analogy-n", type=int, default=20000)
    ap.add_argument("--analogy-dim", type=int, default=200)
    ap.add_argument("--vectors", default=None, help="evaluate analogies on these vectors instead")
    ap.add_argument("--skip", nargs="*", default=[], choices=["queries", "native", "analogy"])
    ap.add_argument("--json-only", action="store_true")
    args = ap.parse_args()
    logging.getLogger("gensim").setLevel(logging.ERROR)
    import fastseq
    import gensim
    rows = []
    if "queries" not in args.skip:
        rows += bench_queries(args.n, args.dim, args.batch, args.single)
    if "native" not in args.skip:
        tmp = tempfile.mkdtemp(prefix="bench-kv-")
        try:
            rows += bench_native(args.native_n, 300, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if "analogy" not in args.skip:
        rows += bench_analogy(args.analogy_n, args.analogy_dim, args.vectors)
    info = dict(machine_info(), fastseq_version=fastseq.__version__, gensim_version=gensim.__version__,
                threads=fastseq.get_num_threads())
    if not args.json_only:
        print(f"# {info}")
        print_table(rows, [("metric", "metric", "{}"), ("fastseq", "fastseq", "{:.4g}"),
                           ("gensim", "gensim", "{:.4g}"), ("ratio", "gensim/fastseq", "{:.2f}x"),
                           ("note", "note", "{}")])
    for r in rows:
        emit_json(dict(r, bench="kv", **info))


if __name__ == "__main__":
    main()
