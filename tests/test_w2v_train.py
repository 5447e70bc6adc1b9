"""Training end to end on the planted-structure demo corpus: quality, determinism, I/O."""
import errno
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastseq
from fastseq import KeyedVectors, Word2Vec
from fastseq.demo import CLASSES, COUNTRIES, analogy_questions


def _neighbour_purity(kv, topn=5):
    """Fraction of each class word's top-n neighbours that are in its class."""
    hits = total = 0
    for members in CLASSES.values():
        for w in members:
            near = [x for x, _ in kv.most_similar(w, topn=topn)]
            hits += sum(x in members for x in near)
            total += topn
    return hits / total


def _analogy_accuracy(kv):
    qs = analogy_questions()
    ok = sum(kv.most_similar(positive=[b, c], negative=[a], topn=1)[0][0] == d for a, b, c, d in qs)
    return ok / len(qs)


CONFIGS = {
    "sg-ns": dict(sg=1, negative=5, hs=0),
    "sg-hs": dict(sg=1, negative=0, hs=1),
    "cbow-ns": dict(sg=0, negative=5, hs=0, alpha=0.05),
    "cbow-hs": dict(sg=0, negative=0, hs=1, alpha=0.05),
}


@pytest.fixture(scope="module")
def trained(demo_corpus):
    models = {}
    for name, cfg in CONFIGS.items():
        models[name] = Word2Vec(corpus_file=demo_corpus, vector_size=32, window=4, min_count=5,
                                epochs=8, workers=2, seed=11, **cfg)
    return models


@pytest.mark.parametrize("name", list(CONFIGS))
def test_learns_planted_classes(trained, name):
    assert _neighbour_purity(trained[name].wv) >= 0.8


@pytest.mark.parametrize("name", list(CONFIGS))
def test_learns_planted_analogies(trained, name):
    assert _analogy_accuracy(trained[name].wv) >= 0.3  # chance is ~0.01


def test_random_vectors_fail_the_same_checks(demo_corpus):
    """The thresholds above are not trivially met: untrained vectors fail them."""
    m = Word2Vec(vector_size=32, min_count=5)
    m.build_vocab(corpus_file=demo_corpus)
    assert _neighbour_purity(m.wv) < 0.5
    assert _analogy_accuracy(m.wv) < 0.1


def test_loss_decreases_and_is_reported(trained):
    m = trained["sg-ns"]
    per_example = np.array(m.epoch_losses) / np.array(m.epoch_examples)
    assert len(per_example) == 8 and np.all(np.isfinite(per_example))
    assert per_example[-1] < per_example[0]
    assert m.get_latest_training_loss() == pytest.approx(sum(m.epoch_losses))  # the whole call, as gensim


def test_one_thread_is_deterministic(demo_corpus):
    kw = dict(corpus_file=demo_corpus, sg=1, vector_size=16, epochs=2, workers=1, seed=5)
    a, b = Word2Vec(**kw), Word2Vec(**kw)
    assert np.array_equal(a.wv.vectors, b.wv.vectors)
    assert np.array_equal(a.syn1neg, b.syn1neg)
    c = Word2Vec(**{**kw, "seed": 6})
    assert not np.array_equal(a.wv.vectors, c.wv.vectors)


def test_initial_vectors(demo_corpus):
    """Input vectors start uniform in (-4/d, 4/d), seeded; output weights at zero."""
    m = Word2Vec(vector_size=50, negative=5, seed=3, progress=False)
    m.build_vocab(corpus_file=str(demo_corpus))
    v = m.wv.vectors
    assert v.dtype == np.float32 and np.abs(v).max() < 4 / 50
    assert abs(v.std() - (8 / 50) / np.sqrt(12)) < 0.02 * (8 / 50) / np.sqrt(12)
    assert abs(v.mean()) < 1e-3 and not m.syn1neg.any()
    again = Word2Vec(vector_size=50, negative=5, seed=3, progress=False)
    again.build_vocab(corpus_file=str(demo_corpus))
    np.testing.assert_array_equal(again.wv.vectors, v)


def test_sentences_iterable_equals_file(demo_corpus):
    sents = [line.split() for line in open(demo_corpus)]
    kw = dict(sg=0, vector_size=16, epochs=2, workers=1, seed=5)
    a = Word2Vec(corpus_file=demo_corpus, **kw)
    b = Word2Vec(sentences=sents, **kw)
    assert a.wv.index_to_key == b.wv.index_to_key
    assert np.array_equal(a.wv.vectors, b.wv.vectors)


def test_two_threads_work(trained):
    # trained with workers=2 above; quality checked there. Here: set_num_threads default path.
    fastseq.set_num_threads(2)
    try:
        assert fastseq.get_num_threads() == 2
    finally:
        fastseq.set_num_threads(None)
    with pytest.raises(ValueError):
        fastseq.set_num_threads(0)


def test_word2vec_formats_round_trip(trained, tmp_path):
    kv = trained["sg-ns"].wv
    for binary in (True, False):
        path = tmp_path / f"v.{'bin' if binary else 'txt'}"
        kv.save_word2vec_format(path, binary=binary)
        back = KeyedVectors.load_word2vec_format(path, binary=binary)
        assert back.index_to_key == kv.index_to_key
        if binary:
            assert np.array_equal(back.vectors, kv.vectors)
        else:
            np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6)
    assert kv["paris"].shape == (32,)
    with pytest.raises(KeyError, match="nosuchword"):
        kv["nosuchword"]


def test_gensim_reads_our_files(trained, tmp_path):
    gensim_models = pytest.importorskip("gensim.models")
    kv = trained["cbow-ns"].wv
    for binary in (True, False):
        path = tmp_path / f"g.{'bin' if binary else 'txt'}"
        kv.save_word2vec_format(path, binary=binary)
        g = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert g.index_to_key == kv.index_to_key
        np.testing.assert_allclose(g.vectors, kv.vectors, rtol=1e-6)


def test_model_save_load_and_continue(trained, tmp_path, demo_corpus):
    m = trained["sg-hs"]
    path = tmp_path / "model.fsw2v"
    m.save(path)
    back = Word2Vec.load(path)
    assert back.wv.index_to_key == m.wv.index_to_key
    assert np.array_equal(back.wv.vectors, m.wv.vectors)
    assert np.array_equal(back.syn1, m.syn1)
    assert back.sg == 1 and back.hs == 1 and back.negative == 0 and back.vector_size == 32
    assert np.array_equal(back.vocab.counts, m.vocab.counts)
    before = back.wv.vectors.copy()
    back.train(corpus_file=demo_corpus, epochs=1, start_alpha=0.01, end_alpha=0.001)
    assert not np.array_equal(back.wv.vectors, before)
    assert _neighbour_purity(back.wv) >= 0.8


@pytest.mark.parametrize("cfg", ["sg-ns", "cbow-hs"])
def test_build_vocab_update_learns_new_words_and_keeps_the_old(tmp_path, cfg):
    """gensim's online training: build_vocab(update=True) appends a new corpus's
    words, and training on it places them among their class."""
    from fastseq.demo import demo_sentences
    new_words = {"duck", "mouse"}
    first = [s for s in demo_sentences(12000, seed=0) if not new_words & set(s)]
    more = list(demo_sentences(6000, seed=1))
    m = Word2Vec(sentences=first, vector_size=32, window=4, min_count=5, epochs=8, workers=1, seed=3,
                 progress=False, **CONFIGS[cfg])
    assert not new_words & set(m.wv.index_to_key)
    known = m.wv.index_to_key[:]
    counts = m.vocab.counts.copy()
    old_vec = m.wv["dog"].copy()
    m.build_vocab(more, update=True)
    assert m.wv.index_to_key[:len(known)] == known  # appended, old ids unchanged
    assert set(m.wv.index_to_key[len(known):]) == new_words
    assert np.array_equal(m.wv["dog"], old_vec)  # known vectors kept
    grew = m.vocab.counts[:len(known)] - counts
    from collections import Counter
    c = Counter(w for s in more for w in s)
    assert grew.tolist() == [c[w] for w in known]
    assert m.corpus_count == 6000 and m.corpus_total_words == sum(c.values())
    assert m.vocab.retained_words == sum(c[w] for w in m.wv.index_to_key)
    n = len(m.wv)
    assert (m.syn1neg if m.negative else m.syn1).shape[0] == (n if m.negative else n - 1)
    m.train(more, total_examples=m.corpus_count, epochs=m.epochs)
    animals = set(CLASSES["animal"])
    for w in new_words:
        near = [x for x, _ in m.wv.most_similar(w, topn=5)]
        assert sum(x in animals for x in near) >= 3, (w, near)
    assert _neighbour_purity(m.wv) >= 0.75
    # saved and loaded, it schedules over the corpus of the update
    m.save(tmp_path / "m.fsw2v")
    back = Word2Vec.load(tmp_path / "m.fsw2v")
    assert back.vocab.retained_words == m.vocab.retained_words and back.wv.index_to_key == m.wv.index_to_key
    assert back.progress is False  # saved with the model: no bars on every train()


def test_build_vocab_update_needs_a_vocabulary():
    with pytest.raises(RuntimeError, match="update=True.*no vocabulary"):
        Word2Vec().build_vocab([["a", "b"]], update=True)


def test_a_loaded_model_knows_the_file_it_scanned(tmp_path, monkeypatch):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c d\nb c d a\n" * 50)
    m = Word2Vec(corpus_file=corpus, min_count=1, epochs=1, progress=False)
    m.save(tmp_path / "m.fsw2v")
    back = Word2Vec.load(tmp_path / "m.fsw2v")
    from fastseq.corpus import Corpus
    passes = []
    real = Corpus.iter_token_blocks

    def counted(self):
        passes.append(1)
        return real(self)
    monkeypatch.setattr(Corpus, "iter_token_blocks", counted)
    back.train(corpus_file=corpus, epochs=1, total_words=400)  # no counting: training's own passes
    training = len(passes)
    back.train(corpus_file=corpus, epochs=1)  # the same file: its saved scan sizes the schedule
    assert len(passes) == 2 * training and back.raw_words_trained == 400
    other = tmp_path / "d.txt"
    other.write_text("a b c d\n" * 30)
    back.train(corpus_file=other, epochs=1)  # another file: one counting pass more
    assert len(passes) == 3 * training + 1 and back.raw_words_trained == 120


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a fastseq word2vec model"):
        Word2Vec.load(bad)
    vectors = tmp_path / "vectors.bin"
    KeyedVectors(["a"], np.ones((1, 2), np.float32)).save_word2vec_format(vectors, binary=True)
    with pytest.raises(ValueError, match="KeyedVectors.load") as e:
        Word2Vec.load(vectors)
    assert "pickle" not in str(e.value)


def test_any_str_token_saves_and_loads_and_other_tokens_are_refused(tmp_path):
    sentences = [["a\nb", "c", "d\te", " f"]] * 3
    m = Word2Vec(sentences=sentences, min_count=1, epochs=1, progress=False)
    m.save(tmp_path / "m.fsw2v")
    back = Word2Vec.load(tmp_path / "m.fsw2v")
    assert back.wv.index_to_key == m.wv.index_to_key and "a\nb" in back.wv
    with pytest.raises(TypeError, match="tokens must be str, got int"):
        Word2Vec(sentences=[["a", 1, 2]] * 3, min_count=1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(vector_size=0), "vector_size"), (dict(window=-1), "window"), (dict(epochs=0), "epochs"),
    (dict(negative=0, hs=0), "no training objective"), (dict(alpha=0), "alpha"),
    (dict(min_alpha=-0.1), "min_alpha"), (dict(sample=-1), "sample"),
    (dict(window=2**40), "window: must be at most"), (dict(negative=2**40), "negative"),
    (dict(workers=2**40), "workers"), (dict(ns_exponent=float("nan")), "ns_exponent"),
    (dict(sample=float("inf")), "sample"), (dict(seed=-1), "seed"), (dict(max_final_vocab=0), "max_final_vocab"),
    (dict(max_vocab_size=-5), "max_vocab_size"), (dict(unicode_errors="skip"), "unicode_errors"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Word2Vec(**kwargs)


def test_bad_corpora(tmp_path):
    from fastseq.corpus import CorpusError
    with pytest.raises(CorpusError, match="no such file"):
        Word2Vec(corpus_file=tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(CorpusError, match="empty corpus"):
        Word2Vec(corpus_file=empty)
    rare = tmp_path / "rare.txt"
    rare.write_text("a b c\nd e f\n")
    with pytest.raises(CorpusError, match="min_count=5"):
        Word2Vec(corpus_file=rare)


def test_window_shrinking_and_the_widest_window():
    sentences = [[f"w{i % 7}" for i in range(30)]] * 4
    counts = {}
    for shrink in (True, False):
        m = Word2Vec(sentences=sentences, sg=1, window=6, min_count=1, sample=0, epochs=1, workers=1,
                     seed=3, shrink_windows=shrink, progress=False)
        counts[shrink] = m.epoch_examples[0]
    # the whole window: every word sees every neighbour within 6 (cut at the ends)
    assert counts[False] == 4 * sum(min(29, i + 6) - max(0, i - 6) for i in range(30))
    assert counts[True] < counts[False]
    # the largest window allowed trains (its scratch is bounded by the longest sentence)
    m = Word2Vec(sentences=sentences, sg=1, window=2**31 - 1, min_count=1, epochs=1, workers=2, progress=False)
    assert np.isfinite(m.wv.vectors).all()


def test_train_schedules_over_the_corpus_it_is_given(monkeypatch):
    """The learning rate decays from start_alpha to end_alpha over the corpus train()
    gets (counted, or sized by total_examples / total_words), not over the one
    build_vocab scanned; end_alpha above start_alpha ramps up, as in gensim."""
    from fastseq import word2vec
    base = [[f"w{i % 9}" for i in range(k, k + 12)] for k in range(300)]
    m = Word2Vec(sentences=base, min_count=1, epochs=1, workers=1, progress=False, sample=0)
    seen = []
    real = word2vec._w2v.train_batch

    def spy(*args):
        seen.append(np.asarray(args[6]).copy())  # the sentences' learning rates
        return real(*args)
    monkeypatch.setattr(word2vec._w2v, "train_batch", spy)

    def rates(**kw):
        seen.clear()
        m.train(**kw)
        return np.concatenate(seen)
    big = base * 40  # 40x the scanned corpus: more than one batch
    for kw in (dict(), dict(total_examples=len(big)), dict(total_words=12 * len(big))):
        r = rates(sentences=big, **kw)
        assert r[0] == np.float32(m.alpha) and r[-1] < 0.001 and (np.diff(r) <= 0).all()
        assert (r <= m.min_alpha * 1.001).mean() < 0.01  # was 97 %: decayed over the first 1/40
    small = base[:20]
    r = rates(sentences=small)
    assert r[-1] < 0.002  # was ~0.0245: the schedule of a 15x larger corpus
    assert m.raw_words_trained == 12 * 20  # the words of the corpus trained on
    r = rates(sentences=small, total_examples=0)  # 0 (an unknown corpus_count): counted
    assert r[-1] < 0.002
    r = rates(sentences=base, start_alpha=0.001, end_alpha=0.01)
    assert r[0] == np.float32(0.001) and r[-1] > 0.0099 and (np.diff(r) >= 0).all()
    for bad in (-0.01, float("nan"), "x"):
        with pytest.raises(ValueError, match="end_alpha"):
            m.train(sentences=base, end_alpha=bad)
    ramp = Word2Vec(sentences=base, min_count=1, epochs=1, workers=1, progress=False, sample=0,
                    alpha=0.001, min_alpha=0.01)  # min_alpha above alpha: a ramp, as gensim allows
    seen.clear()
    ramp.train(sentences=base)
    r = np.concatenate(seen)
    assert r[0] == np.float32(0.001) and r[-1] > 0.0099 and (np.diff(r) >= 0).all()


def test_gensim_callbacks_trim_rule_and_unsorted_vocabulary():
    sentences = [["the", "cat", "sat", "on", "the", "mat", "odd"], ["a", "cat", "and", "the", "dog"]] * 30

    class Log:  # gensim's CallbackAny2Vec protocol
        def __init__(self):
            self.events, self.losses, self.norms_ok = [], [], []

        def on_train_begin(self, model):
            self.events.append("train")

        def on_epoch_begin(self, model):
            self.events.append("begin")

        def on_epoch_end(self, model):
            self.events.append("end")
            self.losses.append(model.get_latest_training_loss())  # running, as in gensim
            model.wv.most_similar("cat")
            self.norms_ok.append(np.allclose(model.wv.norms, np.linalg.norm(model.wv.vectors, axis=1)))

        def on_train_end(self, model):
            self.events.append("done")
    log = Log()
    m = Word2Vec(sentences=sentences, min_count=1, epochs=3, workers=1, progress=False, compute_loss=True,
                 callbacks=[log], trim_rule=lambda w, c, mc: 1 if w == "odd" else (2 if w == "dog" else 0))
    assert log.events == ["train", "begin", "end", "begin", "end", "begin", "end", "done"]
    assert np.allclose(np.diff([0.0] + log.losses), m.epoch_losses)
    assert all(log.norms_ok)  # queries in a callback use this epoch's vector norms
    assert "odd" not in m.wv and "dog" in m.wv
    # sorted_vocab=False keeps first-seen order; hierarchical softmax still gets each
    # word's own Huffman path (counts all different: one tree)
    rising = [[f"w{i}" for i in range(6) for _ in range(2 ** i)]] * 3
    u = Word2Vec(sentences=rising, min_count=1, epochs=1, sorted_vocab=False, hs=1, negative=0,
                 progress=False)
    assert u.wv.index_to_key == [f"w{i}" for i in range(6)]
    s = Word2Vec(sentences=rising, min_count=1, epochs=1, hs=1, negative=0, progress=False)
    assert s.wv.index_to_key == [f"w{i}" for i in range(5, -1, -1)]
    for v in (u, s):
        off, point, code = v._hs
        paths = {w: (tuple(point[off[i]:off[i + 1]]), tuple(code[off[i]:off[i + 1]]))
                 for i, w in enumerate(v.wv.index_to_key)}
        if v is u:
            up = paths
    assert up == paths
    # any other answer than 1 (discard) or 2 (keep) is the default, as in gensim
    d = Word2Vec(sentences=sentences, min_count=31, epochs=1, trim_rule=lambda w, c, mc: None, progress=False)
    assert d.wv.index_to_key == ["the", "cat"]


def test_divergence_is_detected(demo_corpus):
    with pytest.raises(FloatingPointError, match="lower alpha"):
        Word2Vec(corpus_file=demo_corpus, sg=1, alpha=1e9, min_alpha=1e9, epochs=2, workers=2)


def test_countries_are_in_vocabulary(trained):
    kv = trained["sg-ns"].wv
    assert all(c in kv and k in kv for c, k, _ in COUNTRIES)
    assert len(kv) == len(trained["sg-ns"].vocab) and kv.get_count("the") > 1000


def test_gensim_training_idioms_run_unchanged(demo_corpus):
    sentences = [line.split() for line in demo_corpus.read_text().splitlines()[:2000]]
    m = Word2Vec(vector_size=16, min_count=1, epochs=1, workers=1, progress=False)
    m.build_vocab(sentences)
    assert m.corpus_count == 2000 and m.corpus_total_words == sum(map(len, sentences))
    before = m.wv.vectors.copy()
    m.train(corpus_iterable=sentences, total_examples=m.corpus_count, epochs=m.epochs, compute_loss=True)
    assert not np.array_equal(before, m.wv.vectors) and m.get_latest_training_loss() > 0


def test_extreme_noise_exponents_are_the_same_distribution(demo_corpus):
    from fastseq.vocab import Vocab
    v = Vocab(["a", "b", "c"], np.array([10**7, 1000, 5]), 10**7 + 1005, 3)
    for x in (200.0, -200.0, 500.0):
        w = v.noise_weights(x)
        assert np.isfinite(w).all() and w.max() > 0
        p = w / w.sum()
        logp = x * np.log(v.counts.astype(np.float64))
        np.testing.assert_allclose(p, np.exp(logp - logp.max()) / np.exp(logp - logp.max()).sum())
    np.testing.assert_array_equal(v.noise_weights(0.75), v.counts.astype(np.float64) ** 0.75)
    # the most extreme exponents, with a count of 1 (log 0): all on the top (bottom) word
    v1 = Vocab(["a", "b", "c"], np.array([50, 3, 1]), 54, 3)
    assert v1.noise_weights(1e308).tolist() == [1.0, 0.0, 0.0]
    assert v1.noise_weights(-1e308).tolist() == [0.0, 0.0, 1.0]
    m = Word2Vec(corpus_file=demo_corpus, ns_exponent=200, epochs=1, workers=1, vector_size=8,
                 progress=False)
    assert np.isfinite(m.wv.vectors).all()


def test_thread_counts_are_checked():
    with pytest.raises(ValueError, match="set_num_threads: must be between 1 and 1024"):
        fastseq.set_num_threads(2**40)
    with pytest.raises(TypeError, match="set_num_threads"):
        fastseq.set_num_threads("a")
    with pytest.raises(TypeError, match="set_num_threads"):
        fastseq.set_num_threads(2.5)
    try:
        fastseq.set_num_threads(2.0)
        assert fastseq.get_num_threads() == 2
    finally:
        fastseq.set_num_threads(None)


def test_predict_output_word():
    """gensim's CBOW-style prediction: the planted centre word comes first, the
    probabilities are the softmax of the context mean against the output vectors."""
    rng = np.random.default_rng(4)
    sentences = []
    for _ in range(400):
        k = int(rng.integers(0, 3))
        sentences.append([f"a{k}", f"b{k}", f"c{k}", f"d{k}", f"e{k}"])
    m = Word2Vec(sentences=sentences, sg=0, min_count=1, vector_size=16, window=2, epochs=20, workers=1,
                 seed=3, progress=False, sample=0)
    got = m.predict_output_word(["a1", "b1", "d1", "e1", "unknown"], topn=3)
    assert got[0][0] == "c1" and len(got) == 3
    rows = [m.wv.key_to_index[w] for w in ("a1", "b1", "d1", "e1")]
    s = m.syn1neg.astype(np.float64) @ m.wv.vectors[rows].astype(np.float64).mean(axis=0)
    p = np.exp(s) / np.exp(s).sum()
    order = np.argsort(-p)[:3]
    assert [w for w, _ in got] == [m.wv.index_to_key[i] for i in order]
    np.testing.assert_allclose([q for _, q in got], p[order], rtol=1e-9)
    assert m.predict_output_word(["nothing", "known"]) is None
    assert m.predict_output_word("a1", topn=1)[0][0] in {"b1", "c1"}
    hs = Word2Vec(sentences=sentences, min_count=1, hs=1, negative=0, epochs=1, workers=1, progress=False)
    with pytest.raises(RuntimeError, match="negative sampling"):
        hs.predict_output_word(["a1"])


def test_predict_output_word_equals_gensims_on_the_same_weights():
    gensim_w2v = pytest.importorskip("gensim.models.word2vec")
    rng = np.random.default_rng(5)
    sentences = [[f"w{int(i)}" for i in rng.integers(0, 12, 8)] for _ in range(200)]
    for cbow_mean in (1, 0):
        m = Word2Vec(sentences=sentences, sg=1, min_count=1, vector_size=8, epochs=2, workers=1,
                     progress=False, cbow_mean=cbow_mean)
        g = gensim_w2v.Word2Vec(vector_size=8, min_count=1, cbow_mean=cbow_mean, sg=1)
        g.build_vocab(sentences)
        order = [m.wv.key_to_index[k] for k in g.wv.index_to_key]
        g.wv.vectors[:] = m.wv.vectors[order]
        g.syn1neg[:] = m.syn1neg[order]
        ctx = ["w3", "w7", "w1"]
        ours, theirs = m.predict_output_word(ctx, topn=5), g.predict_output_word(ctx, topn=5)
        assert [w for w, _ in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([p for _, p in ours], [p for _, p in theirs], rtol=1e-4)


def test_build_vocab_from_freq_as_gensim():
    freq = {"the": 50, "cat": 7, "dog": 7, "sat": 3, "on": 12, "mat": 1, "hat": 3}
    m = Word2Vec(min_count=3, vector_size=8, workers=1, progress=False, epochs=2)
    assert m.build_vocab_from_freq(freq, corpus_count=40) is m
    assert m.corpus_count == 40 and m.corpus_total_words == sum(freq.values())
    assert m.wv.vectors.shape == (6, 8) and "mat" not in m.wv
    gensim_w2v = pytest.importorskip("gensim.models.word2vec")
    g = gensim_w2v.Word2Vec(min_count=3, vector_size=8)
    g.build_vocab_from_freq(freq)
    assert m.wv.index_to_key == g.wv.index_to_key  # same order, ties included
    sentences = [["the", "cat", "sat", "on", "the", "mat"], ["the", "dog", "sat", "on", "the", "hat"]] * 20
    before = m.wv.vectors.copy()
    m.train(sentences, total_examples=m.corpus_count, epochs=m.epochs)
    assert not np.allclose(m.wv.vectors, before) and np.isfinite(m.wv.vectors).all()
    m.build_vocab_from_freq({"bird": 9, "the": 5}, update=True)
    assert m.wv.index_to_key[-1] == "bird" and m.wv.get_count("the") == 55 and len(m.syn1neg) == 7
    for bad, err, match in (([("a", 1)], TypeError, "dict"), ({"a": -1}, ValueError, r"word_freq\['a'\]"),
                            ({"a": 1.5}, ValueError, "count"), ({1: 3}, TypeError, "str"),
                            ({"a": 0}, ValueError, "above 0")):
        with pytest.raises(err, match=match):
            Word2Vec(min_count=1).build_vocab_from_freq(bad)
    with pytest.raises(ValueError, match="min_count=100"):
        Word2Vec(min_count=100).build_vocab_from_freq(freq)
    with pytest.raises(RuntimeError, match="update"):
        Word2Vec().build_vocab_from_freq(freq, update=True)


def _cached_train(demo_corpus, epochs=3, scan_ids=False, before_train=None):
    """Trained on the file; without ``scan_ids``, as on a file other than the one
    the vocabulary came from (epoch 1 encodes the text and caches the ids)."""
    m = Word2Vec(sg=1, vector_size=16, epochs=epochs, workers=1, seed=5, progress=False)
    m.build_vocab(corpus_file=demo_corpus)
    if not scan_ids:
        m._drop_scan_ids()
    if before_train is not None:
        before_train()
    m.train(corpus_file=demo_corpus, epochs=epochs)
    return m


@pytest.fixture
def encode_passes(monkeypatch):
    from fastseq.corpus import Corpus
    passes = []
    real = Corpus.iter_encoded

    def counted(self, *a, **kw):
        passes.append(1)
        return real(self, *a, **kw)
    monkeypatch.setattr(Corpus, "iter_encoded", counted)
    return passes


def test_later_epochs_read_the_id_cache(demo_corpus, encode_passes):
    _cached_train(demo_corpus)
    assert len(encode_passes) == 1


def test_training_on_the_scanned_file_reads_the_scans_ids(demo_corpus, tmp_path, monkeypatch, encode_passes):
    """The vocabulary scan keeps a file's words as ids; training on that file (same
    vocabulary) reads them instead of the text: the same batches, so the same
    vectors, as encoding the text. Any other file, a changed one, or another
    vocabulary goes back to the text."""
    import fastseq.corpus
    from fastseq.demo import write_demo_corpus
    ref = _cached_train(demo_corpus)
    encode_passes.clear()
    m = _cached_train(demo_corpus, scan_ids=True)
    assert encode_passes == [] and m._scan_ids is None  # served one run: its disk space is back
    assert np.array_equal(m.wv.vectors, ref.wv.vectors) and np.array_equal(m.syn1neg, ref.syn1neg)
    # long lines cut into max_sentence_length pieces and out-of-vocabulary words
    # dropped alike, whatever the chunk sizes of the scan and of the reads
    monkeypatch.setattr(fastseq.corpus, "CHUNK_BYTES", 1000)
    monkeypatch.setattr(fastseq.word2vec._ScanIds, "READ_IDS", 77)
    text = open(demo_corpus).read().replace("\n", " ", 3000)  # some lines of hundreds of words
    path = tmp_path / "long.txt"
    path.write_text(text)
    runs = []
    for scan_ids in (True, False):
        encode_passes.clear()
        m = Word2Vec(sg=0, vector_size=8, epochs=2, workers=1, seed=1, min_count=30, max_sentence_length=50)
        m.build_vocab(corpus_file=path)
        if not scan_ids:
            m._drop_scan_ids()
        m.train(corpus_file=path, epochs=2)
        assert len(encode_passes) == (0 if scan_ids else 1)
        runs.append(m)
    assert np.array_equal(runs[0].wv.vectors, runs[1].wv.vectors)
    # training on another file reads its text (and the scan's ids go: they serve
    # the next training only)
    other = tmp_path / "other.txt"
    write_demo_corpus(other, n_sentences=500, seed=3)
    m = runs[0]
    m.build_vocab(corpus_file=path)
    encode_passes.clear()
    m.train(corpus_file=other, epochs=1)
    assert len(encode_passes) == 1 and m._scan_ids is None
    # the scanned file replaced by another of the same size with the same times, or
    # decoded otherwise: the text again
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("cat dog\n" * 5000)
    b.write_text("dog cat\n" * 5000)
    for change in ("copy", "decoding"):
        m = Word2Vec(vector_size=8, epochs=1, workers=1, progress=False, min_count=1)
        m.build_vocab(corpus_file=a)
        if change == "copy":
            shutil.copyfile(b, a)
            shutil.copystat(b, a)
            os.utime(a, ns=(os.stat(a).st_atime_ns, m._scan_ids.key[4]))  # the scanned mtime
            assert os.stat(a).st_size == m._scan_ids.key[3]
        else:
            m.unicode_errors = "replace"
        encode_passes.clear()
        m.train(corpus_file=a, epochs=1)
        assert len(encode_passes) == 1, change
    # another vocabulary (build_vocab_from_freq) drops the ids
    m.build_vocab_from_freq({"a": 50, "b": 40})
    assert m._scan_ids is None


def test_without_room_for_the_id_cache_later_epochs_encode_again(demo_corpus, monkeypatch, encode_passes):
    import fastseq.word2vec as w2v
    ref = _cached_train(demo_corpus)
    encode_passes.clear()

    class Full:
        f_bavail, f_frsize = 1000, 4096  # 3.9 MiB free
    monkeypatch.setattr(w2v.os, "statvfs", lambda path: Full)
    with pytest.warns(RuntimeWarning, match=r"3 MiB free .* read and encode .*demo.txt again"):
        m = _cached_train(demo_corpus)
    assert len(encode_passes) == 3
    assert np.array_equal(m.wv.vectors, ref.wv.vectors) and np.array_equal(m.syn1neg, ref.syn1neg)


@pytest.mark.parametrize("err, fails", [(errno.ENOSPC, False), (errno.EFBIG, False), (errno.EIO, True)])
def test_a_disk_filling_up_drops_the_id_cache(demo_corpus, monkeypatch, encode_passes, err, fails):
    """The disk fills in the middle of epoch 1: the cache goes (freeing its space) and
    training goes on, to the same vectors; any other write error stops it."""
    import fastseq.word2vec as w2v
    ref = _cached_train(demo_corpus)
    encode_passes.clear()
    real, calls = os.write, []

    def write(fd, data):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(err, os.strerror(err))
        return real(fd, data)
    def patch():
        monkeypatch.setattr(w2v.os, "write", write)
    if fails:
        with pytest.raises(OSError, match="demo.txt: cannot cache the word ids in"):
            _cached_train(demo_corpus, before_train=patch)
        return
    with pytest.warns(RuntimeWarning, match="filled up"):
        m = _cached_train(demo_corpus, before_train=patch)
    assert len(calls) == 2 and len(encode_passes) == 3
    assert np.array_equal(m.wv.vectors, ref.wv.vectors)


def test_one_epoch_needs_no_id_cache_and_an_uncreatable_one_is_done_without(demo_corpus, monkeypatch):
    import warnings
    import fastseq.word2vec as w2v
    ref1, ref2 = _cached_train(demo_corpus, 1), _cached_train(demo_corpus, 2)

    def refused(*a, **kw):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(w2v.tempfile, "mkstemp", refused)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.array_equal(_cached_train(demo_corpus, 1).wv.vectors, ref1.wv.vectors)
    with pytest.warns(RuntimeWarning, match="cannot create a file in .*Permission denied"):
        assert np.array_equal(_cached_train(demo_corpus, 2).wv.vectors, ref2.wv.vectors)


def test_cli_prints_a_warning_as_one_line(demo_corpus, tmp_path):
    code = ("import sys, fastseq.word2vec as w; w._IdCache.RESERVE = 1 << 62; "
            "from fastseq.cli import main; sys.exit(main(sys.argv[1:]))")
    r = subprocess.run([sys.executable, "-c", code, "w2v", str(demo_corpus), "-o", str(tmp_path / "v.bin"),
                        "--epochs", "2", "--dim", "8", "-q"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith("fastseq w2v: warning: ") and "TMPDIR" in lines[0], r.stderr
    assert "Warning" not in r.stderr and lines[-1].startswith("fastseq w2v: trained")


def test_queries_after_more_training_use_the_new_vectors(demo_corpus):
    """train() leaves the norms (and the float16 search copy) to be remade by the
    next query, as gensim does: a query between two trainings does not go stale."""
    m = Word2Vec(corpus_file=demo_corpus, vector_size=16, epochs=1, workers=1, seed=2)
    assert m.wv.norms is None
    first = m.wv.most_similar("paris", topn=3)
    m.train(corpus_file=demo_corpus, epochs=1)
    assert m.wv.norms is None
    again = m.wv.most_similar("paris", topn=3)
    fresh = KeyedVectors(m.wv.index_to_key, m.wv.vectors.copy()).most_similar("paris", topn=3)
    assert again == fresh and again != first
    np.testing.assert_array_equal(m.wv.norms, np.linalg.norm(m.wv.vectors, axis=1))


def test_the_scans_ids_are_optional(demo_corpus, tmp_path, monkeypatch, encode_passes):
    """No room for them (quietly: training then caches its own), pruning (which
    renumbers), a copied model: training reads the text, to the same vectors. A
    vocabulary update keeps the ids of the file it scanned."""
    import copy
    import warnings
    import fastseq.word2vec as w2v
    ref = _cached_train(demo_corpus)
    real = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    m = Word2Vec(sg=1, vector_size=16, epochs=3, workers=1, seed=5, progress=False)
    monkeypatch.setattr(w2v.os, "write", full)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.build_vocab(corpus_file=demo_corpus)
    monkeypatch.setattr(w2v.os, "write", real)
    assert m._scan_ids is None
    encode_passes.clear()
    m.train(corpus_file=demo_corpus, epochs=3)
    assert len(encode_passes) == 1 and np.array_equal(m.wv.vectors, ref.wv.vectors)

    pruned = Word2Vec(vector_size=8, max_vocab_size=10**6, progress=False)
    pruned.build_vocab(corpus_file=demo_corpus)
    assert pruned._scan_ids is None

    m = Word2Vec(sg=1, vector_size=16, epochs=3, workers=1, seed=5, progress=False)
    m.build_vocab(corpus_file=demo_corpus)
    twin = copy.deepcopy(m)
    encode_passes.clear()
    twin.train(corpus_file=demo_corpus, epochs=3)
    m.train(corpus_file=demo_corpus, epochs=3)
    assert len(encode_passes) == 1  # the copy's; the original read its ids
    assert np.array_equal(twin.wv.vectors, m.wv.vectors)

    more = tmp_path / "more.txt"
    more.write_text("paris france berlin germany\n" * 50)
    m.build_vocab(corpus_file=more, update=True)
    encode_passes.clear()
    m.train(corpus_file=more, epochs=1)
    assert encode_passes == []


def test_a_pickled_model_does_not_carry_the_scans_file_descriptor(demo_corpus):
    import pickle
    m = Word2Vec(vector_size=8, epochs=1, workers=1, progress=False)
    m.build_vocab(corpus_file=demo_corpus)
    twin = pickle.loads(pickle.dumps(m))
    assert twin._scan_ids is None and m._scan_ids.cache.fd is not None
    twin.train(corpus_file=demo_corpus)
    m.train(corpus_file=demo_corpus)
    assert np.array_equal(twin.wv.vectors, m.wv.vectors)


def test_an_interrupted_training_leaves_no_stale_norms(demo_corpus, monkeypatch):
    import fastseq.word2vec as w2v
    m = Word2Vec(corpus_file=demo_corpus, vector_size=16, epochs=1, workers=1, seed=2)
    m.wv.most_similar("paris")
    assert m.wv.norms is not None
    real, calls = w2v._w2v.train_batch, []

    def interrupted(*a, **kw):  # Ctrl-C after the first batch trained
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)
    monkeypatch.setattr(w2v._w2v, "train_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        m.train(corpus_file=demo_corpus, epochs=2)
    assert m.wv.norms is None  # some vectors changed: the next query remakes them


def test_scan_ids_feed_epoch_one_and_the_cache_the_rest(demo_corpus, monkeypatch, encode_passes):
    """Epoch 1 reads the scan's ids and caches its batches for the later epochs;
    without room for that cache the scan's ids serve every epoch (quietly: the
    text is not read again). The same vectors either way."""
    import warnings
    import fastseq.word2vec as w2v
    reads = []
    real = w2v._ScanIds.encoded

    def counted(self, *a):
        reads.append(1)
        return real(self, *a)
    monkeypatch.setattr(w2v._ScanIds, "encoded", counted)
    ref = _cached_train(demo_corpus, scan_ids=True)
    assert len(reads) == 1 and encode_passes == []
    reads.clear()

    class Full:
        f_bavail, f_frsize = 1000, 4096
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = _cached_train(demo_corpus, scan_ids=True,
                          before_train=lambda: monkeypatch.setattr(w2v.os, "statvfs", lambda p: Full))
    assert len(reads) == 3 and encode_passes == []
    assert np.array_equal(m.wv.vectors, ref.wv.vectors)
