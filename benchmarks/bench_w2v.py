"""fastseq word2vec against gensim, same corpus, same settings, same threads.

Data: ../shared/data beside the repository, or the folder in $FASTSEQ_DATA.

Usage:
    python benchmarks/bench_w2v.py [--corpus PATH] [--models sg cbow] [--threads 2]
        [--epochs 5] [--peers gensim] [--repeat 1] [--json-only]

For each model (sg / cbow, negative sampling) and each tool, a fresh child
process builds the vocabulary, trains and saves the vectors (the whole job a
user runs). It reports:
  * train words/s  = raw corpus tokens x epochs / training seconds (vocab scan excluded)
  * job seconds    = the child's wall time, start to exit (imports, scan, training, saving)
  * peak MiB       = the child's peak resident memory
  * analogy        = accuracy on questions-words.txt (30,000 most frequent words,
                     case-insensitive: gensim's convention), evaluated by gensim for both
                     (by fastseq's evaluator when gensim is not installed)
  * wordsim        = WordSim-353 Spearman rho (gensim's evaluator for both)
and the fastseq/gensim ratios. Tools run one after the other in the same run.

Floors (skip-gram, negative sampling, defaults; per centre word after subsampling,
~6 context words on average with the dynamic window, 1 + 5 output rows):
  FLOPs:  3 products of (6 x 6) blocks of 100-d dots/axpys = 6*6*100*2*3 ~ 22 kFLOP
          per centre word; at ~280 GFLOP/s (2 cores, measured SGEMM) this is ~80 ns.
  Bytes:  ~12 rows x 400 B read + written = ~10 kB per centre word; most rows hit
          cache (Zipf), but the rare ones come from DRAM: ~1 us per centre word at
          ~10 GB/s of random 400-B row traffic.
  The kernel is bound by cache misses on rows and by latency of short dot
  products, not by arithmetic: both floors are far below the measured time.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import emit_json, machine_info, print_table  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("FASTSEQ_DATA") or os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data"))
DEFAULT_CORPUS = os.path.join(DATA, "w2v", "corpus-en-small.txt")
QUESTIONS = os.path.join(DATA, "eval", "questions-words.txt")
WORDSIM = os.path.join(DATA, "eval", "wordsim353.tsv")


def worker(tool, corpus, out, model, threads, epochs, seed):
    """Runs in the child: the whole job, then a JSON line with timings."""
    import resource
    sg = model == "sg"
    settings = dict(vector_size=100, window=5, min_count=5, sample=1e-3, negative=5, hs=0,
                    sg=int(sg), alpha=0.025 if sg else 0.05, min_alpha=0.0001, epochs=epochs,
                    seed=seed)
    t0 = time.perf_counter()
    if tool == "fastseq":
        import fastseq
        m = fastseq.Word2Vec(workers=threads, progress=False, **settings)
        m.build_vocab(corpus_file=corpus)
        t1 = time.perf_counter()
        m.train(corpus_file=corpus)
        t2 = time.perf_counter()
        m.wv.save_word2vec_format(out, binary=True)
        raw = m.vocab.raw_words
        vocab = len(m.vocab)
    elif tool == "gensim":
        from gensim.models import Word2Vec
        m = Word2Vec(workers=threads, **settings)
        m.build_vocab(corpus_file=corpus)
        t1 = time.perf_counter()
        m.train(corpus_file=corpus, total_examples=m.corpus_count, total_words=m.corpus_total_words,
                epochs=m.epochs)
        t2 = time.perf_counter()
        m.wv.save_word2vec_format(out, binary=True)
        raw = m.corpus_total_words
        vocab = len(m.wv)
    else:
        raise SystemExit(f"unknown tool {tool}")
    t3 = time.perf_counter()
    print(json.dumps({"scan_s": t1 - t0, "train_s": t2 - t1, "save_s": t3 - t2, "raw_words": raw,
                      "vocab": vocab,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def evaluate(path):
    """(analogy accuracy, WordSim Spearman) by gensim's evaluator (the reference), or
    fastseq's own, which follows the same conventions, when gensim is absent."""
    try:
        from gensim.models import KeyedVectors
        kv = KeyedVectors.load_word2vec_format(path, binary=True)
    except ImportError:
        from fastseq import KeyedVectors
        kv = KeyedVectors.load_word2vec_format(path, binary=True)
    analogy = sp = None
    if os.path.exists(QUESTIONS):
        analogy, _ = kv.evaluate_word_analogies(QUESTIONS, restrict_vocab=30000, case_insensitive=True)
    if os.path.exists(WORDSIM):
        _, (sp, _), _ = kv.evaluate_word_pairs(WORDSIM, restrict_vocab=300000, case_insensitive=True)
    return analogy, sp


def available(tool):
    try:
        __import__("fastseq" if tool == "fastseq" else "gensim.models")
        return True
    except ImportError:
        return False


def _run_worker(args, tool, model, out, threads=None):
    """One whole job in a fresh process; returns its JSON report plus job_s (wall time)."""
    threads = threads or args.threads
    cmd = [sys.executable, os.path.abspath(__file__), "--corpus", args.corpus, "--threads", str(threads),
           "--epochs", str(args.epochs), "--seed", str(args.seed), "--worker", tool, model, out]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    job = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{tool} {model} failed:\n{p.stderr[-3000:]}")
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["job_s"] = job
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default=DEFAULT_CORPUS)
    ap.add_argument("--models", nargs="+", default=["sg", "cbow"], choices=["sg", "cbow"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--peers", nargs="*", default=["gensim"])
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool (median reported)")
    ap.add_argument("--scaling", action="store_true",
                    help="also train fastseq with 1 thread in each repeat, and report the median "
                         "1-thread training time over the median --threads one (and each round's ratio)")
    ap.add_argument("--worker", nargs=3, metavar=("TOOL", "MODEL", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        tool, model, out = args.worker
        worker(tool, args.corpus, out, model, args.threads, args.epochs, args.seed)
        return
    if not os.path.exists(args.corpus):
        raise SystemExit(f"corpus not found: {args.corpus} (pass --corpus)")
    tools = ["fastseq"] + [p for p in args.peers if available(p)]
    skipped = [p for p in args.peers if p not in tools]
    print(f"# corpus {args.corpus}, threads {args.threads}, epochs {args.epochs}; {machine_info()}")
    if skipped:
        print(f"# not installed, skipped: {', '.join(skipped)}")
    rows = []
    tmp = tempfile.mkdtemp(prefix="fastseq-bench-")
    for model in args.models:
        results = {}
        for rep in range(args.repeat):
            for tool in tools:  # interleaved, so drift hits both alike
                out = os.path.join(tmp, f"{tool}-{model}.bin")
                results.setdefault(tool, []).append(_run_worker(args, tool, model, out))
            if args.scaling and args.threads > 1:  # fastseq on 1 thread, in the same rotation
                one = _run_worker(args, "fastseq", model, os.path.join(tmp, "one.bin"), threads=1)
                results.setdefault("fastseq-1", []).append(one["train_s"])
        for tool in tools:
            runs = sorted(results[tool], key=lambda r: r["train_s"])
            if tool == "fastseq" and "fastseq-1" in results:
                r1 = sorted(results["fastseq-1"])[len(runs) // 2]
                runs[len(runs) // 2]["scaling_vs_1_thread"] = r1 / runs[len(runs) // 2]["train_s"]
                # each round's pair too: on a shared machine the multi-thread runs swing
                runs[len(runs) // 2]["scaling_rounds"] = [
                    one / two["train_s"] for one, two in zip(results["fastseq-1"], results["fastseq"])]
            r = dict(runs[len(runs) // 2])
            r["job_s"] = sorted(x["job_s"] for x in results[tool])[len(runs) // 2]
            r["words_per_s"] = r["raw_words"] * args.epochs / r["train_s"]
            r["analogy"], r["wordsim"] = evaluate(os.path.join(tmp, f"{tool}-{model}.bin"))
            r.update(tool=tool, model=model)
            rows.append(r)
        base = next(r for r in rows if r["model"] == model and r["tool"] == "fastseq")
        for r in rows:
            if r["model"] == model:
                r["speedup_train"] = r["words_per_s"] / base["words_per_s"] if r is not base else 1.0
        for r in rows:
            if r["model"] == model and r["tool"] != "fastseq":
                base["train_x_" + r["tool"]] = base["words_per_s"] / r["words_per_s"]
                base["job_x_" + r["tool"]] = r["job_s"] / base["job_s"]
    cols = [("model", "model", "{}"), ("tool", "tool", "{}"), ("words_per_s", "train words/s", "{:,.0f}"),
            ("train_s", "train s", "{:.2f}"), ("job_s", "job s", "{:.2f}"), ("peak_mib", "peak MiB", "{:.0f}"),
            ("vocab", "vocab", "{:,}"), ("analogy", "analogy", "{:.4f}"), ("wordsim", "wordsim", "{:.4f}")]
    for p in tools[1:]:
        cols += [("train_x_" + p, f"train x{p}", "{:.2f}"), ("job_x_" + p, f"job x{p}", "{:.2f}")]
    if args.scaling:
        cols.append(("scaling_vs_1_thread", f"{args.threads} thr / 1 thr", "{:.2f}"))
    print_table(rows, cols)
    for r in rows:
        if "scaling_rounds" in r:
            print(f"# {r['model']}: {args.threads} thr / 1 thr round by round: "
                  + " ".join(f"{x:.2f}" for x in r["scaling_rounds"]))
    for r in rows:
        emit_json(r)


if __name__ == "__main__":
    main()
