"""fastseq.nn RNN / LSTM / GRU against PyTorch's nn.RNN / LSTM / GRU on the CPU.

Both run in this process, with the same threads, shapes and weights, alternating
(fastseq, torch) rounds so that a busy machine slows both alike; the best round
of each counts. Reported: sequences/s for inference (forward only, under each
library's inference mode) and for training (forward + backward through time
with parameter gradients), the ratio fastseq / torch, and the fraction of the
machine's measured single-precision GEMM rate that each reaches.

Floors (per batch of B sequences of T steps, one layer and direction, I inputs,
H hidden units, G gates = 4 LSTM / 3 GRU / 1 RNN):

* FLOPs: forward 2*T*B*G*H*(I + H) (input and recurrent products; the gate
  math adds ~10-30 flops per hidden unit and step, under 2 % at H >= 128);
  forward + backward three times that (dx, dh, dW_ih, dW_hh are each a product
  of the forward's size). At the GEMM rate R measured below, the time floor is
  FLOPs / R: e.g. LSTM H=I=256, B=64, T=35 training: 7.05 GFLOP, 17 ms at 410
  GFLOP/s, i.e. at most ~3,700 sequences/s. The hard ceiling is the FMA peak
  (also measured below: independent multiply-adds, nothing from memory; on this
  machine ~245 GFLOP/s a core with AVX-512, ~490 for two, the 2048^3 GEMM
  reaching ~83 % of it): %FMA is how much of the arithmetic units a library
  keeps busy over the whole forward (+ backward), gate math and steps included.
* Bytes: the weights G*H*(I + H)*4 must be read once per step by the recurrent
  product (G*H*H*4 bytes, from cache when they fit: 1 MiB for an LSTM at H=256,
  16 MiB at H=1024, beyond the 2 x 1 MiB of L2 here) and the activations kept for
  backward, T*B*(G + 2)*H*4 bytes, written once and read once. At batch 1 the
  per-step product is a matrix-vector product: 2 flops per weight read, so it
  is bound by cache bandwidth, not by the FMA units (this is why batch 1 runs at
  a small fraction of the GEMM rate in both libraries).

On a machine shared with other jobs, wall-clock ratios swing with the load
(a thread that is descheduled stalls the step loop of either library).
``--clock cpu --threads 1`` measures CPU time of one thread instead, which the
other jobs barely move: a steadier comparison of the two implementations.

``--step`` times something else: one step per call (T = 1), the state carried
from call to call, as a language model generates a token at a time for a batch
(or a beam) of B sequences. Each call then does little arithmetic, and what
costs is what happens once per call (reading the weights, preparing them).

Run:  python benchmarks/bench_rnn.py [--threads 2] [--quick] [--clock wall|cpu] [--json]
      python benchmarks/bench_rnn.py --step [--hidden 128,256,512,1024] [--batch 1,4,8]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import emit_json, machine_info, print_table  # noqa: E402

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


CLOCK = [time.perf_counter]


def best_time(fn, min_time=0.25, max_reps=50):
    """Seconds per call: the fastest of repeated calls over at least min_time."""
    fn()
    best, total, n = float("inf"), 0.0, 0
    clock = CLOCK[0]
    while (total < min_time or n < 2) and n < max_reps:
        t0 = clock()
        fn()
        dt = clock() - t0
        best, total, n = min(best, dt), total + dt, n + 1
    return best


def best_of_rounds(ours, theirs, rounds):
    """(fastseq seconds, torch seconds) per call: the best of `rounds` alternating
    rounds (fastseq, then torch), so that a busy spell slows both alike."""
    to, tt = float("inf"), float("inf")
    for _ in range(rounds):
        to = min(to, best_time(ours))
        tt = min(tt, best_time(theirs))
    return to, tt


def int_list(text):
    """argparse type: comma-separated positive integers ("1,16,64")."""
    try:
        vals = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return vals


def gemm_rates(threads):
    """GFLOP/s of C = A B^T in float32: torch (MKL/oneDNN), numpy (OpenBLAS) and
    fastseq's own kernel, at a large square shape and at RNN step / batch shapes."""
    import torch

    from fastseq import _rnn
    rows = []
    rng = np.random.default_rng(0)
    for (M, N, K) in [(2048, 2048, 2048), (64, 1024, 256), (64, 2048, 512), (64, 4096, 1024),
                      (2240, 1024, 256), (2240, 4096, 1024), (1, 1024, 256)]:
        a = rng.standard_normal((M, K)).astype(np.float32)
        b = rng.standard_normal((N, K)).astype(np.float32)
        c = np.empty((M, N), np.float32)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        tc = torch.empty(M, N)
        flops = 2.0 * M * N * K
        r = {"M": M, "N": N, "K": K}
        r["torch"] = flops / best_time(lambda: torch.mm(ta, tb.T, out=tc)) / 1e9
        r["numpy"] = flops / best_time(lambda: np.matmul(a, b.T, out=c)) / 1e9
        r["fastseq"] = flops / best_time(lambda: _rnn.gemm_nt(a, b, c, n_threads=threads)) / 1e9
        rows.append(r)
    return rows


def fma_peak(threads, rounds=3):
    """GFLOP/s of independent float32 multiply-adds on `threads` threads at once
    (fastseq's fma_rate: no memory traffic, the SIMD path the kernels take): the compute
    ceiling no product can pass. The best of a few rounds."""
    from fastseq import _rnn
    from fastseq._threads import simd_level  # FASTSEQ_SIMD, as the kernels obey it
    return max(_rnn.fma_rate(n_threads=threads, simd=simd_level()) for _ in range(rounds)) / 1e9


def make_pair(cell, H, layers, bidir, seed=0):
    import torch

    from fastseq import nn
    kw = dict(num_layers=layers, bidirectional=bidir)
    ours = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}[cell](H, H, seed=seed, **kw)
    theirs = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "RNN": torch.nn.RNN}[cell](H, H, **kw)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def bench_config(cell, H, B, T, layers, bidir, rounds):
    import torch

    from fastseq import nn
    ours, theirs = make_pair(cell, H, layers, bidir)
    D = 2 if bidir else 1
    x = np.random.default_rng(1).standard_normal((T, B, H)).astype(np.float32)
    g = np.random.default_rng(2).standard_normal((T, B, D * H)).astype(np.float32)
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)

    def ours_inf():
        with nn.inference_mode():
            ours.forward(x)

    def torch_inf():
        with torch.inference_mode():
            theirs(xt)

    def ours_train():
        ours.zero_grad()
        out, _ = ours.forward(x)
        ours.backward(g)

    def torch_train():
        theirs.zero_grad()
        xr = xt.clone().requires_grad_(True)
        out, _ = theirs(xr)
        out.backward(gt)

    res = {"infer": best_of_rounds(ours_inf, torch_inf, rounds),
           "train": best_of_rounds(ours_train, torch_train, rounds)}
    # flops: every layer and direction; layer > 0 sees D*H inputs
    G = GATES[cell]
    fwd = sum(2.0 * T * B * G * H * ((H if layer == 0 else D * H) + H) * D for layer in range(layers))
    return res, fwd


def bench_step(cell, H, B, rounds, calls=20):
    """Seconds per call of a one-step forward with the state carried (inference
    mode), fastseq and torch: the best of `rounds` alternating rounds, each the
    best of runs of `calls` calls."""
    import torch

    from fastseq import nn
    ours, theirs = make_pair(cell, H, 1, False)
    x = np.random.default_rng(1).standard_normal((1, B, H)).astype(np.float32)
    xt = torch.from_numpy(x)

    def ours_run():
        state = None
        with nn.inference_mode():
            for _ in range(calls):
                _, state = ours.forward(x, hx=state)

    def torch_run():
        state = None
        with torch.inference_mode():
            for _ in range(calls):
                _, state = theirs(xt, state)

    to, tt = best_of_rounds(ours_run, torch_run, rounds)
    return to / calls, tt / calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="hidden 256/512, batch 1/64 only")
    ap.add_argument("--cells", default="LSTM,GRU,RNN", help="comma-separated, any case (default: %(default)s)")
    ap.add_argument("--hidden", type=int_list, default="128,256,512,1024")
    ap.add_argument("--batch", type=int_list, default=None, help="default 1,16,64; with --step 1,4,8")
    ap.add_argument("--seq-len", type=int, default=35)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall time, or process CPU time (steadier on a shared machine, "
                         "meaningful with --threads 1)")
    ap.add_argument("--json", action="store_true", help="also print JSON lines")
    ap.add_argument("--step", action="store_true",
                    help="one step per call (T = 1) with the state carried, as in generation")
    args = ap.parse_args(argv)
    if args.clock == "cpu":
        CLOCK[0] = time.process_time

    import torch

    import fastseq
    torch.set_num_threads(args.threads)
    fastseq.set_num_threads(args.threads)
    info = machine_info()
    info.update(threads=args.threads, torch=torch.__version__, clock=args.clock)
    print(f"# {info}")

    cells = [c.strip().upper() for c in args.cells.split(",") if c.strip()]
    bad = [c for c in cells if c not in GATES]
    if bad:
        ap.error(f"--cells: unknown cell {bad[0]!r} (choose from {', '.join(GATES)})")
    if args.step:
        hidden = [256, 1024] if args.quick else args.hidden
        batch = [1, 8] if args.quick else args.batch or [1, 4, 8]
        rows = []
        for cell in cells:
            for H in hidden:
                for B in batch:
                    to, tt = bench_step(cell, H, B, args.rounds)
                    row = {"cell": cell, "H": H, "B": B, "fastseq_us": to * 1e6,
                           "torch_us": tt * 1e6, "ratio": tt / to}
                    rows.append(row)
                    if args.json:
                        emit_json({"bench": "rnn_step", **row})
                    print(f"  done {cell} H={H} B={B}", file=sys.stderr)
        print(f"\none step per call (T = 1, state carried), input size = hidden size, "
              f"{args.threads} threads; us = microseconds per call; ratio = torch / fastseq time")
        print_table(rows, [("cell", "cell", "{}"), ("H", "H", "{}"), ("B", "B", "{}"),
                           ("fastseq_us", "fastseq us", "{:.1f}"), ("torch_us", "torch us", "{:.1f}"),
                           ("ratio", "ratio", "{:.2f}")])
        return

    grows = gemm_rates(args.threads)
    print("\nSGEMM GFLOP/s, C = A B^T (float32)")
    print_table(grows, [("M", "M", "{}"), ("N", "N", "{}"), ("K", "K", "{}"),
                        ("torch", "torch", "{:.0f}"), ("numpy", "numpy", "{:.0f}"),
                        ("fastseq", "fastseq", "{:.0f}")])
    peak = max(max(r["torch"], r["numpy"], r["fastseq"]) for r in grows if r["M"] == 2048)
    fma = fma_peak(args.threads)
    print(f"machine GEMM rate (best at 2048^3): {peak:.0f} GFLOP/s; FMA peak of {args.threads} "
          f"thread(s) (independent multiply-adds, no memory): {fma:.0f} GFLOP/s, the GEMM rate "
          f"{peak / fma:.0%} of it")
    if args.json:
        for r in grows:
            emit_json({"bench": "rnn_gemm", **r})
        emit_json({"bench": "rnn_fma_peak", "threads": args.threads, "gflops": fma})

    hidden = [256, 512] if args.quick else args.hidden
    batch = [1, 64] if args.quick else args.batch or [1, 16, 64]
    configs = [(c, H, B, 1, False) for c in cells for H in hidden for B in batch]
    if not args.quick:
        configs += [(c, 256, 64, 2, False) for c in cells]
        configs += [(c, 256, 64, 1, True) for c in cells]
    rows = []
    for cell, H, B, layers, bidir in configs:
        res, fwd = bench_config(cell, H, B, args.seq_len, layers, bidir, args.rounds)
        for mode in ("infer", "train"):
            to, tt = res[mode]
            flops = fwd if mode == "infer" else 3 * fwd
            row = {"cell": cell, "H": H, "B": B, "layers": layers, "bidir": bidir, "mode": mode,
                   "fastseq_seq_s": B / to, "torch_seq_s": B / tt, "ratio": tt / to,
                   "fastseq_gemm_frac": flops / to / 1e9 / peak,
                   "torch_gemm_frac": flops / tt / 1e9 / peak,
                   "fastseq_fma_frac": flops / to / 1e9 / fma,
                   "torch_fma_frac": flops / tt / 1e9 / fma}
            rows.append(row)
            if args.json:
                emit_json({"bench": "rnn", **row})
        print(f"  done {cell} H={H} B={B} layers={layers} bidir={bidir}", file=sys.stderr)
    print(f"\nT={args.seq_len}, input size = hidden size, {args.threads} threads; "
          "seq/s = sequences per second; %GEMM = share of the machine GEMM rate, "
          "%FMA = of the FMA peak")
    print_table(rows, [("cell", "cell", "{}"), ("H", "H", "{}"), ("B", "B", "{}"),
                       ("layers", "L", "{}"), ("bidir", "bi", "{}"), ("mode", "mode", "{}"),
                       ("fastseq_seq_s", "fastseq seq/s", "{:.0f}"),
                       ("torch_seq_s", "torch seq/s", "{:.0f}"), ("ratio", "ratio", "{:.2f}"),
                       ("fastseq_gemm_frac", "fastseq %GEMM", "{:.1%}"),
                       ("torch_gemm_frac", "torch %GEMM", "{:.1%}"),
                       ("fastseq_fma_frac", "fastseq %FMA", "{:.1%}"),
                       ("torch_fma_frac", "torch %FMA", "{:.1%}")])


if __name__ == "__main__":
    main()
