"""Plain NumPy versions of the fastseq kernels, written for clarity, not speed."""
from __future__ import annotations

import numpy as np

# word2vec.c's sigmoid table: [-MAX_EXP, MAX_EXP] in TABLE buckets, value at the midpoint
MAX_EXP = 6.0
TABLE = 1024
SCALE = TABLE / (2 * MAX_EXP)


def table_sigmoid(f):
    f = np.asarray(f, dtype=np.float32)
    out = np.empty(f.shape, dtype=np.float64)
    hi, lo = f >= MAX_EXP, f <= -MAX_EXP
    mid = ~(hi | lo)
    idx = ((f[mid] + np.float32(MAX_EXP)) * np.float32(SCALE)).astype(np.int64)
    x = (idx + 0.5) / SCALE - MAX_EXP
    out[mid] = 1.0 / (1.0 + np.exp(-x))
    out[hi], out[lo] = 1.0, 0.0
    return out


def block(inp, out, labels, alpha):
    """One word2vec update block: inp (C, d), out (K, d), labels (K,).
    Returns (d_in (C, d), d_out (K, d)), both computed from the old weights."""
    S = (inp.astype(np.float32) @ out.T.astype(np.float32))
    G = (labels[None, :] - table_sigmoid(S)) * alpha
    return G @ out, G.T @ inp


SG_BLOCK = 16  # skip-gram: context words updated together (csrc/fs_w2v.c, FS_W2V_SG_BLOCK)


def train_sentence(sen, syn0, syn1neg, syn1, *, sg, negative, hs, alpha, reach, noise_word,
                   cbow_mean=True, shared=True, hs_paths=None):
    """Train one sentence in place (float64 copies of the weights).

    The window is fixed (``reach`` words each side) and every negative is
    ``noise_word`` (skipped when it is the centre word), which is what the C
    kernel does with window=reach=1 (or shrink_windows off) and a noise
    distribution on one word. Skip-gram trains a centre's context words in
    blocks of at most SG_BLOCK, each against the output rows as the block
    before left them; CBOW with a sum (cbow_mean=False) gives each context
    word 1/n of the error, as gensim does."""
    for i, w in enumerate(sen):
        ctx = [sen[j] for j in range(max(0, i - reach), min(len(sen), i + reach + 1)) if j != i]
        if not ctx:
            continue
        neg_rows = [w] + ([noise_word] * negative if noise_word != w else [])
        neg_labels = np.array([1.0] + [0.0] * (len(neg_rows) - 1))
        if sg:
            din = np.zeros((len(ctx), syn0.shape[1]))
            for c0 in range(0, len(ctx), SG_BLOCK):
                part = ctx[c0:c0 + SG_BLOCK]
                if hs:
                    pts, codes = hs_paths[w]
                    d_in, d_out = block(syn0[part], syn1[pts], 1.0 - codes, alpha)
                    din[c0:c0 + len(part)] += d_in
                    np.add.at(syn1, pts, d_out)
                if negative and shared:
                    d_in, d_out = block(syn0[part], syn1neg[neg_rows], neg_labels, alpha)
                    din[c0:c0 + len(part)] += d_in
                    np.add.at(syn1neg, neg_rows, d_out)
            if negative and not shared:
                for c, cw in enumerate(ctx):
                    d_in, d_out = block(syn0[[cw]], syn1neg[neg_rows], neg_labels, alpha)
                    din[c] += d_in[0]
                    np.add.at(syn1neg, neg_rows, d_out)
            np.add.at(syn0, ctx, din)
        else:
            h = syn0[ctx].sum(axis=0)
            if cbow_mean:
                h = h / len(ctx)
            h = h[None, :]
            neu1e = np.zeros(syn0.shape[1])
            if hs:
                pts, codes = hs_paths[w]
                d_in, d_out = block(h, syn1[pts], 1.0 - codes, alpha)
                neu1e += d_in[0]
                np.add.at(syn1, pts, d_out)
            if negative:
                d_in, d_out = block(h, syn1neg[neg_rows], neg_labels, alpha)
                neu1e += d_in[0]
                np.add.at(syn1neg, neg_rows, d_out)
            share = 1.0 if cbow_mean else 1.0 / len(ctx)
            np.add.at(syn0, ctx, np.broadcast_to(share * neu1e, (len(ctx), len(neu1e))))


def keep_probability(count, sample, retained_total):
    """word2vec.c's subsampling keep probability."""
    t = sample * retained_total
    return min(1.0, (np.sqrt(count / t) + 1) * t / count)


def cut_long(arr, max_len):
    """Insert SEP (-1) so that no run between separators is longer than max_len (the
    cut of long sentences that csrc/fs_vocab.c fs_ids_remap makes as it streams)."""
    sep = np.flatnonzero(arr == -1)
    starts = np.concatenate(([0], sep + 1))
    ends = np.concatenate((sep, [len(arr)]))
    long_runs = np.flatnonzero(ends - starts > max_len)
    if not len(long_runs):
        return arr
    at = np.concatenate([np.arange(starts[k] + max_len, ends[k], max_len) for k in long_runs])
    return np.insert(arr, at, -1).astype(np.int32, copy=False)
