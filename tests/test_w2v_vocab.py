"""Vocabulary, corpus reading, subsampling and the learning-rate schedule."""
import gzip
from collections import Counter

import numpy as np
import pytest

from fastseq.corpus import OOV, SEP, Corpus, CorpusError
from fastseq.vocab import Vocab
from fastseq.word2vec import Word2Vec, _Producer

import reference


def _write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return path


def _zipf_text(rng, n_lines=400, vocab=300):
    words = [f"t{i}" for i in range(vocab)]
    p = 1.0 / np.arange(1, vocab + 1)
    p /= p.sum()
    return "\n".join(" ".join(rng.choice(words, size=rng.integers(1, 40), p=p)) for _ in range(n_lines)) + "\n"


def test_counts_match_counter(tmp_path):
    text = _zipf_text(np.random.default_rng(0))
    path = _write(tmp_path / "c.txt", text)
    counts, raw, n_sent = Corpus(corpus_file=path).count_words()
    assert counts == Counter(text.split())
    assert raw == len(text.split())
    assert n_sent == 400
    v = Vocab.from_counts(counts, min_count=3)
    expected = sorted(((w, c) for w, c in Counter(text.split()).items() if c >= 3), key=lambda x: -x[1])
    assert [c for _, c in expected] == v.counts.tolist()
    assert set(v.words) == {w for w, _ in expected}
    assert list(v.counts) == sorted(v.counts, reverse=True)


def test_sentences_and_file_give_same_counts(tmp_path):
    text = _zipf_text(np.random.default_rng(1))
    path = _write(tmp_path / "c.txt", text)
    sents = [line.split() for line in text.splitlines()]
    assert Corpus(sentences=sents).count_words()[0] == Corpus(corpus_file=path).count_words()[0]


def test_gzip_corpus(tmp_path):
    text = _zipf_text(np.random.default_rng(2))
    plain = _write(tmp_path / "c.txt", text)
    gz = tmp_path / "c.txt.gz"
    with gzip.open(gz, "wt") as f:
        f.write(text)
    assert Corpus(corpus_file=gz).count_words() == Corpus(corpus_file=plain).count_words()


@pytest.mark.parametrize("chunk", [7, 64, 1 << 18])
def test_sentences_are_the_lines_holding_a_word(tmp_path, monkeypatch, chunk):
    """gensim's corpus_count: blank lines do not count, a last line without a
    newline does, whatever the chunks the file is read in."""
    import fastseq.corpus
    monkeypatch.setattr(fastseq.corpus, "CHUNK_BYTES", chunk)
    cases = {"a b c\n\n  \nd e\nf": 3, "a b c d e f g h i j k l m n o p": 1, "x\n": 1,
             "\n\n a \n\nbb cc dd ee ff gg hh\n \n": 2}
    for text, n in cases.items():
        path = _write(tmp_path / "s.txt", text)
        assert Corpus(corpus_file=path).count_words()[2] == n, text


@pytest.mark.parametrize("chunk", [5, 97, 1 << 18])
def test_file_counts_equal_str_split_whatever_the_whitespace(tmp_path, monkeypatch, chunk):
    """The C scan (ASCII whitespace) and the chunks respaced in Python (U+00A0,
    U+3000, NEL, ...) give str.split()'s words in first-seen order, and the lines
    holding a word; thousands of distinct words grow the table."""
    import fastseq.corpus
    monkeypatch.setattr(fastseq.corpus, "CHUNK_BYTES", chunk)
    rng = np.random.default_rng(7)
    spaces = [" ", " ", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\u00a0", "\u3000", "\u2028",
              "\x85", "\n", "\n", "\n \u00a0\n"]
    words = [f"w{i}" for i in range(6000)] + ["caf\u00e9", "\u65e5\u672c", "a\x00b", "\U0001f600"]
    parts = []
    for _ in range(30000):
        parts.append(words[int(rng.zipf(1.2)) % len(words)])
        parts.append(spaces[int(rng.integers(len(spaces)))])
    text = "".join(parts)
    path = tmp_path / "u.txt"
    path.write_text(text, encoding="utf-8")
    counts, raw, n_sent = Corpus(corpus_file=path).count_words()
    assert list(counts.items()) == list(Counter(text.split()).items())
    assert raw == len(text.split())
    assert n_sent == sum(1 for line in text.split("\n") if line.split())
    assert len(counts) > 2000


def test_max_final_vocab_and_min_count():
    counts = {"a": 10, "b": 8, "c": 8, "d": 3, "e": 1}
    # gensim's order (build_vocab_from_freq of these counts): equal counts later-seen first
    assert Vocab.from_counts(counts, min_count=2).words == ["a", "c", "b", "d"]
    # as gensim: raise min_count so at most max_final_vocab words survive (ties go together)
    assert Vocab.from_counts(counts, min_count=1, max_final_vocab=2).words == ["a"]
    assert Vocab.from_counts(counts, min_count=1, max_final_vocab=3).words == ["a", "c", "b"]


def test_sample_of_one_or_more_is_a_count_as_in_gensim():
    v = Vocab(["a", "b", "c"], np.array([1000, 100, 10]), 1110, 3)
    t = int(50 * (3 + np.sqrt(5)) / 2)  # gensim's threshold for sample=50
    expected = np.minimum((np.sqrt(v.counts / t) + 1) * t / v.counts, 1.0)
    np.testing.assert_allclose(v.keep_probabilities(50), expected, rtol=1e-6)
    assert v.keep_probabilities(50)[2] == 1.0 and v.keep_probabilities(50)[0] < 0.5
    np.testing.assert_allclose(v.keep_probabilities(1e-3)[0], (np.sqrt(1000 / 1.11) + 1) * 1.11 / 1000,
                               rtol=1e-6)


def test_max_vocab_size_prunes_while_counting(tmp_path):
    rng = np.random.default_rng(3)
    # many singletons plus a few frequent words: pruning must keep the frequent ones
    lines = [" ".join(["the", "cat", f"rare{i}", "sat", f"x{i}"]) for i in range(50000)]
    path = _write(tmp_path / "c.txt", "\n".join(lines) + "\n")
    corpus = Corpus(corpus_file=path)
    counts, raw, _ = corpus.count_words(max_vocab_size=1000)
    assert len(counts) <= 1000  # bounded (pruned at the word that overflows)
    assert counts["the"] == counts["cat"] == counts["sat"] == 50000
    assert raw == 250000
    del rng


def _pruned_per_word(words, max_size):
    """word2vec.c's LearnVocabFromTrainFile + ReduceVocab, one word at a time."""
    counts, min_reduce = {}, 1
    for w in words:
        counts[w] = counts.get(w, 0) + 1
        while len(counts) > max_size:
            counts = {k: c for k, c in counts.items() if c > min_reduce}
            min_reduce += 1
    return counts


@pytest.mark.parametrize("chunk", [16, 300, 1 << 18])
def test_max_vocab_size_prunes_at_the_same_word_however_the_corpus_comes(tmp_path, monkeypatch, chunk):
    """A file read in any chunk size, its .gz and the same sentences from Python
    prune at the same words, as word2vec.c does (checked at every word)."""
    import fastseq.corpus
    monkeypatch.setattr(fastseq.corpus, "CHUNK_BYTES", chunk)
    rng = np.random.default_rng(4)
    sentences = [[f"w{int(i)}" for i in rng.zipf(1.3, size=rng.integers(1, 30)) if i < 10**6]
                 for _ in range(800)]
    sentences = [s for s in sentences if s]
    text = "\n".join(" ".join(s) for s in sentences) + "\n"
    plain = _write(tmp_path / "c.txt", text)
    gz = tmp_path / "c.txt.gz"
    with gzip.open(gz, "wt") as f:
        f.write(text)
    words = [w for s in sentences for w in s]
    for max_size in (50, 200, 1000):
        want = _pruned_per_word(words, max_size)
        assert len(want) < len(set(words))  # it did prune
        for corpus in (Corpus(corpus_file=plain), Corpus(corpus_file=gz), Corpus(sentences=sentences)):
            counts, raw, _ = corpus.count_words(max_vocab_size=max_size)
            assert list(counts.items()) == list(want.items()), (corpus.name, max_size)
            assert raw == len(words)


def test_invalid_utf8_is_an_error_with_line_number(tmp_path):
    path = _write(tmp_path / "bad.txt", b"good words here\nmore good\nbad \xff\xfe byte\n", "wb")
    with pytest.raises(CorpusError, match=r"bad.txt:3: invalid UTF-8 at byte offset 30"):
        Corpus(corpus_file=path).count_words()
    counts, _, _ = Corpus(corpus_file=path, unicode_errors="replace").count_words()
    assert counts["\ufffd\ufffd"] == 1 and counts["byte"] == 1


def test_file_without_newlines_is_read_in_pieces(tmp_path):
    """text8-like: one enormous line, cut into sentences of max_sentence_length words."""
    rng = np.random.default_rng(4)
    words = rng.choice(["a", "b", "c", "d", "e"], size=50000)
    path = _write(tmp_path / "t8", " ".join(words))
    corpus = Corpus(corpus_file=path)
    counts, raw, _ = corpus.count_words()
    assert raw == 50000
    v = Vocab.from_counts(counts, 1)
    chunks = list(corpus.iter_encoded(v.index, max_sentence_length=1000))
    ids = np.concatenate(chunks)
    seps = np.flatnonzero(ids == SEP)
    assert len(ids) - len(seps) == 50000
    lengths = np.diff(np.concatenate(([-1], seps))) - 1
    assert lengths.max() == 1000 and lengths.sum() == 50000
    decoded = [v.words[i] for i in ids if i != SEP]
    assert decoded == list(words)


def test_small_chunks_reassemble_lines(tmp_path, monkeypatch):
    import fastseq.corpus as corpus_mod
    text = _zipf_text(np.random.default_rng(5), n_lines=50)
    path = _write(tmp_path / "c.txt", text)
    monkeypatch.setattr(corpus_mod, "CHUNK_BYTES", 7)
    corpus = Corpus(corpus_file=path)
    chunks = list(corpus_mod.iter_text_chunks(path, chunk_bytes=7))
    assert "".join(chunks) == text
    counts, raw, _ = corpus.count_words()
    v = Vocab.from_counts(counts, 1)
    ids = np.concatenate(list(corpus.iter_encoded(v.index)))
    sents, cur = [], []
    for i in ids:
        if i == SEP:
            sents.append(cur)
            cur = []
        else:
            cur.append(v.words[i])
    assert sents == [line.split() for line in text.splitlines()]


def test_oov_words_are_dropped():
    sents = [["a", "rare", "a", "b"], ["b", "a"]]
    corpus = Corpus(sentences=sents)
    v = Vocab.from_counts(corpus.count_words()[0], min_count=2)
    ids = np.concatenate(list(corpus.iter_encoded(v.index)))
    assert ids.tolist() == [v.index["a"], v.index["a"], v.index["b"], SEP, v.index["b"], v.index["a"], SEP]


def test_generator_is_rejected():
    with pytest.raises(TypeError, match="re-iterable"):
        Corpus(sentences=(s for s in [["a"]]))
    with pytest.raises(TypeError, match=r"sentences\[0\]"):
        Corpus(sentences=["a b c"]).count_words()


def test_subsampling_keep_rate_matches_formula():
    n = 50
    counts = (1e6 / np.arange(1, n + 1) ** 1.1).astype(np.int64)
    v = Vocab([f"w{i}" for i in range(n)], counts)
    keep = v.keep_probabilities(1e-2)
    for w in (0, 1, 5, 30):
        assert keep[w] == pytest.approx(reference.keep_probability(counts[w], 1e-2, counts.sum()), rel=1e-6)
    assert keep[0] < 0.5 and keep[-1] == 1.0


def test_training_subsamples_at_the_formula_rate_redrawn_every_epoch():
    """End to end through the kernel: CBOW makes one prediction per kept word that
    has a context word, so each epoch's count is the expected number of kept words
    (sentences of 40: nearly every kept word has a neighbour), and differs between
    epochs."""
    rng = np.random.default_rng(3)
    n = 30
    p = 1.0 / np.arange(1, n + 1)
    sentences = [[f"w{i}" for i in rng.choice(n, size=40, p=p / p.sum())] for _ in range(500)]
    m = Word2Vec(sentences=sentences, sg=0, min_count=1, sample=2e-3, epochs=3, workers=2, seed=5,
                 progress=False, window=5)
    counts = Counter(w for s in sentences for w in s)
    keep = m.vocab.keep_probabilities(2e-3)
    expected = sum(keep[m.vocab.index[w]] * c for w, c in counts.items())
    sd = np.sqrt(sum(keep[m.vocab.index[w]] * (1 - keep[m.vocab.index[w]]) * c for w, c in counts.items()))
    assert expected < 0.6 * sum(counts.values())  # the sample really bites
    for got in m.epoch_examples:
        assert abs(got - expected) < 5 * sd + 0.01 * expected, (got, expected, sd)
    assert len(set(m.epoch_examples)) == 3
    # the batches hand the kernel whole sentences with their separators
    prod = _Producer(m, None, 1, 0.025, 0.0001, 10)
    stream = np.array([0, 1, SEP, 2, SEP, SEP, 3, 4, 5, SEP], dtype=np.int32)
    batch = prod._make_batch(stream, epoch=0, b=0, done=0)
    assert batch.sent_start.tolist() == [0, 3, 5, 6, 10] and batch.words == 6
    assert batch.tokens.tolist() == stream.tolist()


def test_learning_rate_decays_linearly_over_all_epochs():
    v = Vocab(["a", "b"], [60, 40])
    model = Word2Vec(sample=0, seed=1)
    model._set_vocab(v)
    total = 100 * 3
    prod = _Producer(model, None, 3, 0.025, 0.0001, total)
    stream = np.array(([0, 1] * 5 + [SEP]) * 10, dtype=np.int32)  # 10 sentences of 10 words
    b0 = prod._make_batch(stream, epoch=0, b=0, done=0)
    b2 = prod._make_batch(stream, epoch=2, b=0, done=200)
    expected0 = 0.025 - (0.025 - 0.0001) * np.arange(0, 100, 10) / total
    np.testing.assert_allclose(b0.sent_alpha, expected0, rtol=1e-6)
    expected2 = 0.025 - (0.025 - 0.0001) * (200 + np.arange(0, 100, 10)) / total
    np.testing.assert_allclose(b2.sent_alpha, expected2, rtol=1e-6)
    assert b2.sent_alpha[-1] > 0.0001 and np.all(np.diff(b0.sent_alpha) < 0)


def test_learning_rate_schedule_in_training(demo_corpus):
    """End to end: the last sentences train at ~min_alpha (progress counted correctly)."""
    model = Word2Vec(sg=1, workers=1, epochs=2, min_alpha=0.0001)
    model.build_vocab(corpus_file=demo_corpus)
    seen = []
    import fastseq._w2v as w2v
    real = w2v.train_batch

    def spy(p, syn0, s1n, s1, tokens, starts, alphas, *rest):
        seen.append(np.array(alphas))
        return real(p, syn0, s1n, s1, tokens, starts, alphas, *rest)

    w2v.train_batch = spy
    try:
        model.train(corpus_file=demo_corpus)
    finally:
        w2v.train_batch = real
    alphas = np.concatenate(seen)
    assert alphas[0] == pytest.approx(0.025)
    assert alphas[-1] == pytest.approx(0.0001, abs=2e-4)
    assert np.all(np.diff(alphas) <= 1e-9)


def test_huffman_tree_is_prefix_code_and_optimal_shape():
    counts = np.array([50, 30, 10, 5, 3, 2])
    v = Vocab(list("abcdef"), counts)
    offset, point, code = v.huffman()
    codes = ["".join(map(str, code[offset[w]:offset[w + 1]])) for w in range(6)]
    for i, a in enumerate(codes):
        for j, b in enumerate(codes):
            if i != j:
                assert not b.startswith(a)
    lengths = np.diff(offset)
    assert lengths[0] == 1 and lengths[0] <= lengths[1] <= lengths[-1]
    # every path starts at the root (inner node n - 2) and uses inner nodes only
    assert all(point[offset[w]] == 4 for w in range(6))
    assert point.min() >= 0 and point.max() <= 4
    # Huffman is optimal: expected code length equals the textbook value for these counts
    assert (lengths * counts).sum() == 50 * 1 + 30 * 2 + 10 * 3 + 5 * 4 + 3 * 5 + 2 * 5


def _python_encode(text, index):
    """The Python path's result for one chunk: ids per line, SEP after each newline."""
    out = []
    lines = text.split("\n")
    for k, line in enumerate(lines):
        out += [index[w] for w in line.split() if w in index]
        if k < len(lines) - 1:
            out.append(SEP)
    return out


def test_ascii_fast_path_equals_python_path():
    from fastseq import _w2v
    rng = np.random.default_rng(8)
    letters = list("abcdefghijklmnopqrstuvwxyz0123456789.,-'")
    words = list({"".join(rng.choice(letters, size=rng.integers(1, 12))) for _ in range(6000)})
    index = {w: i for i, w in enumerate(words[:4000])}  # the rest are out of vocabulary
    index["caf\u00e9"] = len(index)                      # non-ASCII words cannot match ASCII text
    seps = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f", "\n\n"]
    parts = []
    for _ in range(30000):
        parts.append(words[rng.integers(len(words))])
        parts.append(seps[rng.integers(len(seps))])
    text = "".join(parts)
    fast = _w2v.Utf8Vocab(index)
    assert fast.encode(text.encode("ascii")).tolist() == _python_encode(text, index)
    assert fast.encode(b"").tolist() == []
    assert fast.encode(b"\n \n").tolist() == [SEP, SEP]
    # keys str.split() never gives (whitespace, empty, not str, not encodable) are left
    # out of the table, and the others still match (the slow path of building it)
    odd = {**index, "two words": 9001, "": 9002, 7: 9003, "\ud800": 9004, "x\x1cy": 9005}
    assert _w2v.Utf8Vocab(odd).encode(text.encode("ascii")).tolist() == _python_encode(text, index)
    assert _w2v.Utf8Vocab({}).encode(b"a b\n").tolist() == [SEP]


def test_ascii_and_unicode_chunks_encode_alike(tmp_path):
    """A file (ASCII chunks take the C path, the non-ASCII one the Python path)
    gives the same ids as the same sentences from Python."""
    rng = np.random.default_rng(9)
    text = _zipf_text(rng, n_lines=3000)
    lines = text.splitlines()
    lines[1500] = "na\u00efve caf\u00e9 " + lines[1500] + " \u00a0 t1"  # U+00A0 is whitespace to str.split
    text = "\n".join(lines) + "\n"
    path = _write(tmp_path / "c.txt", text)
    corpus = Corpus(corpus_file=path)
    import fastseq.corpus as corpus_mod
    old = corpus_mod.CHUNK_BYTES
    corpus_mod.CHUNK_BYTES = 4096
    try:
        v = Vocab.from_counts(corpus.count_words()[0], 1)
        from_file = np.concatenate(list(corpus.iter_encoded(v.index)))
    finally:
        corpus_mod.CHUNK_BYTES = old
    from_sents = np.concatenate(list(Corpus(sentences=[l.split() for l in lines]).iter_encoded(v.index)))
    assert from_file.tolist() == from_sents.tolist()
    assert "caf\u00e9" in v.index


def test_utf8_fast_path_equals_python_path():
    """Non-ASCII words are matched as UTF-8 bytes; every character str.split() splits
    at is recognised, and chunks holding non-ASCII whitespace fall back to Python."""
    from fastseq import _w2v
    from fastseq.corpus import _UNICODE_SPACE
    rng = np.random.default_rng(10)
    letters = list("abcde\u00e9\u00fc\u00df\u0436\u4e2d\u6587\U0001f600")
    words = list({"".join(rng.choice(letters, size=rng.integers(1, 6))) for _ in range(3000)})
    index = {w: i for i, w in enumerate(words[:2000])}
    parts = []
    for _ in range(20000):
        parts.append(words[rng.integers(len(words))])
        parts.append([" ", "\n", "\t", "  "][rng.integers(4)])
    text = "".join(parts)
    raw = text.encode("utf-8")
    assert _UNICODE_SPACE.search(raw) is None
    assert _w2v.Utf8Vocab(index).encode(raw).tolist() == _python_encode(text, index)
    # each non-ASCII character that str.split() treats as whitespace is caught
    unicode_spaces = [chr(c) for c in range(0x80, 0x110000) if chr(c).isspace()]
    assert len(unicode_spaces) == 19
    for c in unicode_spaces:
        assert _UNICODE_SPACE.search(("a" + c + "b").encode("utf-8")), hex(ord(c))
    assert not _UNICODE_SPACE.search("\u00e9\u00fc\u4e2d\u2030\u3001\u00a1".encode("utf-8"))


def test_unicode_corpus_file_encodes_like_sentences(tmp_path):
    """A non-ASCII file, with and without non-ASCII whitespace in it, gives the
    same ids as its sentences split by Python."""
    rng = np.random.default_rng(11)
    vocab = ["\u00e9t\u00e9", "stra\u00dfe", "\u043c\u0438\u0440", "\u4e2d\u6587", "caf\u00e9", "x"]
    lines = [" ".join(rng.choice(vocab, size=rng.integers(1, 9))) for _ in range(2000)]
    lines[700] = lines[700] + "\u3000\u00e9t\u00e9\u00a0x"
    text = "\n".join(lines) + "\n"
    path = _write(tmp_path / "u.txt", text.encode("utf-8"), "wb")
    sentences = [line.split() for line in lines]
    import fastseq.corpus as corpus_mod
    old = corpus_mod.CHUNK_BYTES
    corpus_mod.CHUNK_BYTES = 2048
    try:
        corpus = Corpus(corpus_file=path)
        v = Vocab.from_counts(corpus.count_words()[0], 1)
        from_file = np.concatenate(list(corpus.iter_encoded(v.index)))
    finally:
        corpus_mod.CHUNK_BYTES = old
    from_sentences = np.concatenate(list(Corpus(sentences=sentences).iter_encoded(v.index)))
    assert from_file.tolist() == from_sentences.tolist()
    assert (from_file == SEP).sum() == 2000


def test_remap_ids_equals_drop_then_cut_long():
    """The scan's ranks through a remap, out-of-vocabulary words dropped, long runs
    cut, in chunks with the run length carried: Corpus.iter_encoded's stream."""
    from fastseq import _w2v
    from reference import cut_long as _cut_long
    rng = np.random.default_rng(11)
    ids = np.where(rng.random(5000) < 0.02, -1, rng.integers(0, 40, size=5000)).astype(np.int32)
    remap = np.where(rng.random(40) < 0.3, OOV, rng.permutation(40)).astype(np.int32)
    for max_len in (1, 7, 100000):
        mapped = np.where(ids == SEP, SEP, remap[ids])
        want = _cut_long(mapped[mapped != OOV], max_len)
        run, got = np.zeros(1, dtype=np.int64), []
        for part in np.array_split(ids, [13, 14, 900, 2500]):
            out, last = _w2v.remap_ids(part, remap, max_len, run)
            seps = np.flatnonzero(out == SEP)
            assert last == (seps[-1] if len(seps) else -1)
            got.append(out)
        assert np.concatenate(got).tolist() == want.tolist(), max_len
    with pytest.raises(ValueError, match="outside the table"):
        _w2v.remap_ids(np.array([40], dtype=np.int32), remap, 5, np.zeros(1, dtype=np.int64))


def test_encode_sentences_equals_dict_lookups():
    """The C-speed encoding of token lists: found tokens' ids then SEP per sentence,
    anything else (unknown words, tokens of other types) dropped; tuples too."""
    from fastseq import _w2v
    rng = np.random.default_rng(12)
    words = [f"w{i}" for i in range(500)]
    index = {w: i for i, w in enumerate(words[:300])}
    block = [[words[j] for j in rng.integers(0, 500, size=rng.integers(0, 40))] for _ in range(400)]
    block[3] = tuple(block[3])
    block[7] = block[7] + [7, None, 2.5, b"w1"]
    want = []
    for s in block:
        want += [index[t] for t in s if isinstance(t, str) and t in index] + [SEP]
    assert _w2v.encode_sentences(block, index).tolist() == want
    assert _w2v.encode_sentences([], index).tolist() == []

    class Liar:  # says 1 token, yields 20,000: the output grows (it once overran its buffer)
        def __len__(self):
            return 1

        def __iter__(self):
            return iter(words[:4] * 5000)
    got = _w2v.encode_sentences([Liar(), ["w5"], Liar()], index)
    one = [0, 1, 2, 3] * 5000 + [SEP]
    assert got.tolist() == one + [5, SEP] + one
    with pytest.raises(TypeError, match="unhashable"):
        _w2v.encode_sentences([["w1", ["nested"]]], index)
