"""The C word2vec kernel against the NumPy reference, on tiny cases."""
import os
import subprocess
import sys

import numpy as np
import pytest

from fastseq import _w2v
from fastseq.vocab import Vocab

import reference

SIMD_LEVELS = [name for name, lvl in _w2v.SIMD_NAMES.items() if lvl <= _w2v.SIMD_NAMES[_w2v.simd_best()]]


def _setup(n=8, d=16, seed=0):
    rng = np.random.default_rng(seed)
    vocab = Vocab([f"w{i}" for i in range(n)], np.arange(n, 0, -1) * 10)
    syn0 = (rng.standard_normal((n, d)) * 0.3).astype(np.float32)
    syn1neg = (rng.standard_normal((n, d)) * 0.3).astype(np.float32)
    syn1 = (rng.standard_normal((n - 1, d)) * 0.3).astype(np.float32)
    return vocab, syn0, syn1neg, syn1


@pytest.mark.parametrize("simd", SIMD_LEVELS)
@pytest.mark.parametrize("sg, shared", [(1, True), (1, False), (0, True)])  # sharing is a skip-gram choice
@pytest.mark.parametrize("loss", ["ns", "hs", "both"])
@pytest.mark.parametrize("wide", [False, True])
def test_kernel_matches_reference(simd, sg, loss, shared, wide):
    """``wide``: a fixed window of 12 over a 26-word sentence, so that skip-gram
    centres have up to 24 context words (two blocks), and CBOW sums its context."""
    n, d = 8, 16
    vocab, syn0, syn1neg, syn1 = _setup(n, d)
    negative = 3 if loss in ("ns", "both") else 0
    hs = loss in ("hs", "both")
    noise_word = 5
    weights = np.zeros(n)
    weights[noise_word] = 1.0  # every negative is word 5: the reference knows them
    neg_prob, neg_alias = _w2v.alias_table(weights)
    offset, point, code = vocab.huffman()
    paths = {w: (point[offset[w]:offset[w + 1]], code[offset[w]:offset[w + 1]].astype(np.float64))
             for w in range(n)}
    sentences = [[0, 1, 2, 5, 3, 1], [4, 6, 7], [2]]
    alphas = [0.05, 0.04, 0.03]
    window, cbow_mean = (12, False) if wide else (1, True)
    if wide:
        sentences.append(list(np.random.default_rng(1).integers(0, n, 26)))
        alphas.append(0.02)
    tokens = np.array(sum(sentences, []), dtype=np.int32)
    starts = np.cumsum([0] + [len(s) for s in sentences]).astype(np.int64)

    ref = [syn0.astype(np.float64), syn1neg.astype(np.float64), syn1.astype(np.float64)]
    for sen, a in zip(sentences, alphas):
        reference.train_sentence(sen, *ref, sg=sg, negative=negative, hs=hs, alpha=a, reach=window,
                                 noise_word=noise_word, shared=shared, hs_paths=paths,
                                 cbow_mean=cbow_mean)

    p = _w2v.Params(d, window, negative, hs, sg, cbow_mean, shared, _w2v.SIMD_NAMES[simd], 123,
                    shrink_windows=False)
    loss_sum, n_ex = _w2v.train_batch(
        p, syn0, syn1neg if negative else None, syn1 if hs else None, tokens, starts,
        np.array(alphas, dtype=np.float32), neg_prob if negative else None,
        neg_alias if negative else None, offset if hs else None, point if hs else None,
        code if hs else None, 1)
    np.testing.assert_allclose(syn0, ref[0], rtol=1e-5, atol=1e-6)
    if negative:
        np.testing.assert_allclose(syn1neg, ref[1], rtol=1e-5, atol=1e-6)
    if hs:
        np.testing.assert_allclose(syn1, ref[2], rtol=1e-5, atol=1e-6)
    assert loss_sum > 0
    contexts = [min(len(s) - 1, i + window) - max(0, i - window) for s in sentences for i in range(len(s))]
    assert n_ex == (sum(contexts) if sg else sum(c > 0 for c in contexts))


def test_alias_table_samples_the_distribution():
    w = np.array([5.0, 0.0, 1.0, 2.0, 2.0])
    prob, alias = _w2v.alias_table(w)
    # exact probabilities implied by the table
    n = len(w)
    implied = np.zeros(n)
    for i in range(n):
        p = min(float(prob[i]), 1.0)
        implied[i] += p / n
        implied[alias[i]] += (1 - p) / n
    np.testing.assert_allclose(implied, w / w.sum(), atol=1e-6)


@pytest.mark.parametrize("weights", [[], [0.0, 0.0], [1.0, -1.0], [1.0, np.nan]])
def test_alias_table_rejects_bad_weights(weights):
    with pytest.raises(ValueError):
        _w2v.alias_table(np.array(weights, dtype=np.float64))


def test_bad_token_ids_are_rejected():
    vocab, syn0, syn1neg, _ = _setup()
    prob, alias = _w2v.alias_table(np.ones(len(vocab)))
    p = _w2v.Params(16, 2, 2, False, True)
    for bad in ([0, 99], [-2, 0]):  # (-1 is the separator: skipped)
        with pytest.raises(ValueError, match="invalid argument"):
            _w2v.train_batch(p, syn0, syn1neg, None, np.array(bad, dtype=np.int32),
                             np.array([0, 2], dtype=np.int64), np.array([0.01], dtype=np.float32),
                             prob, alias, None, None, None, 1)


def test_kernel_subsamples_and_skips_separators():
    """The kernel drops separators (-1) and the words keep_prob says to drop: with
    probabilities 0 and 1 the result equals training the sentence without them;
    with 1 everywhere it equals no subsampling (the training draws are the same)."""
    vocab, syn0, syn1neg, _ = _setup()
    prob, alias = _w2v.alias_table(np.ones(len(vocab)))
    p = _w2v.Params(16, 2, 2, False, False, seed=9)
    alpha = np.array([0.05], dtype=np.float32)

    def run(tokens, keep=None):
        a, b = syn0.copy(), syn1neg.copy()
        tokens = np.array(tokens, dtype=np.int32)
        _w2v.train_batch(p, a, b, None, tokens, np.array([0, len(tokens)], dtype=np.int64), alpha,
                         prob, alias, None, None, None, 1, keep)
        return a, b

    sentence = [0, 1, 3, 2, 4, 3, 5, 6, 3, 7]
    keep = np.ones(len(vocab), dtype=np.float32)
    keep[3] = 0.0
    want = run([w for w in sentence if w != 3])
    for got in (run(sentence, keep), run([-1] + sentence[:4] + [-1] + sentence[4:] + [-1], keep),
                run([w for w in sentence if w != 3] + [-1], np.ones(len(vocab), dtype=np.float32))):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert not np.array_equal(run(sentence)[0], want[0])
    with pytest.raises(ValueError, match="keep_prob"):
        run(sentence, keep[:3])


def test_subsample_keeps_each_word_at_its_rate():
    rng = np.random.default_rng(6)
    n = 50
    counts = (1e6 / np.arange(1, n + 1) ** 1.1).astype(np.int64)
    keep = Vocab([f"w{i}" for i in range(n)], counts).keep_probabilities(1e-2)
    ids = rng.choice(n, size=400000, p=counts / counts.sum()).astype(np.int32)
    ids[::100] = -1  # separators are dropped
    kept = _w2v.subsample(ids, keep, 17)
    seen = np.bincount(ids[ids >= 0], minlength=n)
    got = np.bincount(kept, minlength=n)
    assert keep[0] < 0.5 and keep[-1] == 1.0 and (kept >= 0).all()
    for w in (0, 1, 2, 5, 10, n - 1):
        se = np.sqrt(keep[w] * (1 - keep[w]) / seen[w])
        assert abs(got[w] / seen[w] - keep[w]) < 5 * se + 1e-3, (w, got[w] / seen[w], keep[w])
    # the kept words in their order; another seed keeps another subset
    pos = np.flatnonzero(ids >= 0)
    assert np.isin(kept, ids).all() and len(kept) < len(pos)
    again = _w2v.subsample(ids, keep, 18)
    assert not np.array_equal(again, kept)
    assert np.array_equal(_w2v.subsample(ids, np.ones(n, dtype=np.float32), 1), ids[pos])
    with pytest.raises(ValueError, match=r"tokens\[3\]"):
        _w2v.subsample(np.array([0, 1, 2, n], dtype=np.int32), keep, 1)
    assert len(_w2v.subsample(np.array([-1, -1], dtype=np.int32), np.zeros(0, dtype=np.float32), 1)) == 0


def test_shape_errors_name_the_argument():
    vocab, syn0, syn1neg, _ = _setup()
    prob, alias = _w2v.alias_table(np.ones(len(vocab)))
    p = _w2v.Params(16, 2, 2, False, True)
    with pytest.raises(ValueError, match="syn1neg"):
        _w2v.train_batch(p, syn0, syn1neg[:3], None, np.array([0, 1], dtype=np.int32),
                         np.array([0, 2], dtype=np.int64), np.array([0.01], dtype=np.float32),
                         prob, alias, None, None, None, 1)
    with pytest.raises(ValueError, match="sent_alpha"):
        _w2v.train_batch(p, syn0, syn1neg, None, np.array([0, 1], dtype=np.int32),
                         np.array([0, 2], dtype=np.int64), np.array([0.01, 0.2], dtype=np.float32),
                         prob, alias, None, None, None, 1)


def test_huge_alpha_raises_floating_point_error():
    vocab, syn0, syn1neg, _ = _setup()
    prob, alias = _w2v.alias_table(np.ones(len(vocab)))
    p = _w2v.Params(16, 2, 2, False, True)
    tokens = np.tile(np.arange(8, dtype=np.int32), 200)
    with pytest.raises(FloatingPointError, match="learning rate"):
        for _ in range(50):
            _w2v.train_batch(p, syn0, syn1neg, None, tokens, np.array([0, len(tokens)], dtype=np.int64),
                             np.array([1e12], dtype=np.float32), prob, alias, None, None, None, 1)


def test_simd_env_var_forces_generic_path(demo_corpus):
    """FASTSEQ_SIMD=generic gives the same vectors as the generic path picked in-process,
    and differs at most by rounding from the best path."""
    code = ("import fastseq, numpy as np, sys;"
            f"m = fastseq.Word2Vec(corpus_file={str(demo_corpus)!r}, sg=1, workers=1, epochs=1, seed=3);"
            "np.save(sys.argv[1], m.wv.vectors)")
    outs = {}
    for simd in ("generic", "auto"):
        out = os.path.join(os.path.dirname(str(demo_corpus)), f"v-{simd}.npy")
        env = dict(os.environ, FASTSEQ_SIMD=simd)
        subprocess.run([sys.executable, "-c", code, out], check=True, env=env)
        outs[simd] = np.load(out)
    assert np.isfinite(outs["generic"]).all()
    # different instruction sets round differently, but learn the same thing
    np.testing.assert_allclose(outs["generic"], outs["auto"], atol=0.05)
    bad = subprocess.run([sys.executable, "-c", code, "x.npy"], env=dict(os.environ, FASTSEQ_SIMD="sse9"),
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "FASTSEQ_SIMD" in bad.stderr
