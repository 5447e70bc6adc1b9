"""Analogy and word-pair evaluation: gensim's rules, on vectors with planted answers."""
import math

import numpy as np
import pytest

from fastseq import KeyedVectors
from fastseq.evaluate import betainc, pearson, rankdata, spearman

COUNTRIES = ["france", "germany", "italy", "spain", "japan", "china", "egypt", "peru"]
CAPITALS = ["paris", "berlin", "rome", "madrid", "tokyo", "beijing", "cairo", "lima"]


def planted(dim=32, noise=0.05, seed=0, extra=()):
    """capital = country + one shared offset (+ noise), so every capital analogy has
    a right answer; filler words are random."""
    rng = np.random.default_rng(seed)
    offset = rng.standard_normal(dim)
    vecs, keys = [], []
    for c in COUNTRIES:
        v = rng.standard_normal(dim)
        vecs += [v, v + offset + noise * rng.standard_normal(dim)]
    keys = [w for pair in zip(COUNTRIES, CAPITALS) for w in pair]
    keys += [f"filler{i}" for i in range(40)] + list(extra)
    vecs += list(rng.standard_normal((40 + len(extra), dim)))
    return KeyedVectors(keys, np.array(vecs, dtype=np.float32))


def write_questions(path, sections):
    lines = []
    for name, qs in sections:
        lines.append(f": {name}")
        lines += [" ".join(q) for q in qs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_analogies_planted(tmp_path):
    kv = planted()
    qs = [(COUNTRIES[i], CAPITALS[i], COUNTRIES[j], CAPITALS[j]) for i in range(4) for j in range(4) if i != j]
    wrong = [("france", "paris", "germany", "filler3")]                         # answer is berlin
    oov = [("france", "paris", "atlantis", "poseidonia"), ("France", "PARIS", "Germany", "nowhere")]
    path = tmp_path / "q.txt"
    write_questions(path, [("capitals", [tuple(w.capitalize() for w in q) for q in qs]),
                           ("mixed", wrong + oov + [("only", "three", "words")]),
                           ("empty", [])])
    score, sections = kv.evaluate_word_analogies(path)
    names = [s["section"] for s in sections]
    assert names == ["capitals", "mixed", "empty", "Total accuracy"]
    cap, mixed, empty, total = sections
    assert len(cap["correct"]) == 12 and not cap["incorrect"] and cap["oov"] == 0
    assert cap["correct"][0] == ("FRANCE", "PARIS", "GERMANY", "BERLIN")     # upper-cased, as gensim
    assert mixed["correct"] == [] and mixed["incorrect"] == [("FRANCE", "PARIS", "GERMANY", "FILLER3")]
    assert mixed["oov"] == 2 and empty["oov"] == 0 and total["oov"] == 2
    assert len(total["correct"]) == 12 and len(total["incorrect"]) == 1
    assert score == pytest.approx(12 / 13)
    # case-sensitive: the capitalised questions are unknown words now
    score_cs, sec_cs = kv.evaluate_word_analogies(path, case_insensitive=False)
    assert sec_cs[0]["oov"] == 12 and score_cs == 0.0
    # unknown words counted as wrong
    _, sec_d = kv.evaluate_word_analogies(path, dummy4unknown=True)
    assert len(sec_d[1]["incorrect"]) == 3 and len(sec_d[-1]["incorrect"]) == 3
    # restrict_vocab: only the first 8 words (4 countries + capitals) take part
    _, sec_r = kv.evaluate_word_analogies(path, restrict_vocab=8)
    assert len(sec_r[0]["correct"]) == 12 and sec_r[1]["oov"] == 3
    # 3CosMul finds the same planted answers
    score_m, _ = kv.evaluate_word_analogies(path, similarity_function="most_similar_cosmul")
    assert score_m == pytest.approx(12 / 13)


def test_analogy_answer_skips_case_variants_of_the_question(tmp_path):
    """The answer is the best word whose upper-case form is not A, B or C: a case
    variant of a question word is passed over."""
    kv = planted(extra=["Berlin"])
    u = kv.get_normed_vectors()
    q = u[kv.key_to_index["berlin"]] + u[kv.key_to_index["france"]] - u[kv.key_to_index["germany"]]
    kv.vectors[kv.key_to_index["Berlin"]] = q      # exactly where the question points
    kv.fill_norms(force=True)
    path = tmp_path / "q.txt"
    write_questions(path, [("s", [("germany", "berlin", "france", "paris")])])
    # the nearest is "Berlin" (a variant of B) -> skipped, "paris" is next
    near = kv.most_similar(positive=["berlin", "france"], negative=["germany"], topn=2)
    assert near[0][0] == "Berlin"
    score, _ = kv.evaluate_word_analogies(path)
    assert score == 1.0


def test_analogy_file_errors(tmp_path):
    kv = planted()
    bad = tmp_path / "bad.txt"
    bad.write_text("france paris germany berlin\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: a question before the first ': section' line"):
        kv.evaluate_word_analogies(bad)
    bad.write_text(": only a header\n")
    with pytest.raises(ValueError, match="no analogy questions"):
        kv.evaluate_word_analogies(bad)
    bad.write_bytes(b": s\nfrance paris germany berl\xffin\n")
    with pytest.raises(ValueError, match="bad.txt:2: not UTF-8"):
        kv.evaluate_word_analogies(bad)
    with pytest.raises(FileNotFoundError):
        kv.evaluate_word_analogies(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="similarity_function"):
        kv.evaluate_word_analogies(bad, similarity_function="nope")


def test_word_pairs(tmp_path):
    kv = planted()
    pairs = [("france", "paris"), ("germany", "berlin"), ("france", "filler1"), ("italy", "rome"),
             ("japan", "filler7"), ("spain", "madrid"), ("peru", "lima"), ("china", "filler2")]
    rng = np.random.default_rng(5)
    gold = [round(float(x), 2) for x in rng.uniform(0, 10, len(pairs))]
    path = tmp_path / "ws.tsv"
    lines = ["# comment", "# Word 1\tWord 2\tHuman (mean)"]
    lines += [f"{a.upper()}\t{b}\t{g}" for (a, b), g in zip(pairs, gold)]
    lines += ["unknown\tparis\t5.0", "malformed line", "a\tb\tnot-a-number"]
    path.write_text("\n".join(lines) + "\n")
    p, s, oov = kv.evaluate_word_pairs(path)
    model = [kv.similarity(a, b) for a, b in pairs]
    assert p[0] == pytest.approx(np.corrcoef(gold, model)[0, 1], abs=1e-6)
    assert s[0] == pytest.approx(np.corrcoef(rankdata(gold), rankdata(model))[0, 1], abs=1e-6)
    assert p.statistic == p[0] and 0 <= p.pvalue <= 1 and 0 <= s[1] <= 1
    assert oov == pytest.approx(100 / 9)
    p2, _, oov2 = kv.evaluate_word_pairs(path, dummy4unknown=True)
    assert oov2 == pytest.approx(100 / 9) and p2[0] != p[0]
    with pytest.raises(ValueError, match="no word pairs with known words"):
        kv.evaluate_word_pairs(path, restrict_vocab=1)
    with pytest.raises(ValueError, match="no word pairs"):
        kv.evaluate_word_pairs(path, case_insensitive=False, restrict_vocab=3)


@pytest.mark.parametrize("kind", ["gz", "bz2", "xz"])
def test_compressed_evaluation_files_are_read(tmp_path, kind):
    """gensim reads a .gz analogy or word-pair file; so do we (any of the three,
    told by their first bytes), with the same results as the plain file."""
    import bz2
    import gzip
    import lzma
    kv = planted()
    opener = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}[kind]
    analogies = ": capitals\nfrance paris germany berlin\nitaly rome spain madrid\nfrance paris peru lima\n"
    pairs = "france\tparis\t9.0\ngermany\tberlin\t8.5\nfrance\tfiller1\t1.0\nitaly\trome\t7.0\n"
    for name, text in (("q.txt", analogies), ("ws.tsv", pairs)):
        (tmp_path / name).write_text(text)
        with opener(tmp_path / f"{name}.{kind}", "wt") as f:
            f.write(text)
    plain = kv.evaluate_word_analogies(tmp_path / "q.txt")
    packed = kv.evaluate_word_analogies(tmp_path / f"q.txt.{kind}")
    assert packed[0] == plain[0] and [s["correct"] for s in packed[1]] == [s["correct"] for s in plain[1]]
    assert kv.evaluate_word_pairs(tmp_path / f"ws.tsv.{kind}") == kv.evaluate_word_pairs(tmp_path / "ws.tsv")
    # a damaged stream is an error naming the file
    data = (tmp_path / f"q.txt.{kind}").read_bytes()
    (tmp_path / f"cut.{kind}").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=f"cut.{kind}"):
        kv.evaluate_word_analogies(tmp_path / f"cut.{kind}")


def test_statistics_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    for n in (3, 10, 353):
        x = rng.standard_normal(n)
        y = 0.3 * x + rng.standard_normal(n)
        y[: n // 3] = np.round(y[: n // 3])          # ties for the ranks
        want_p, want_s = stats.pearsonr(x, y), stats.spearmanr(x, y)
        got_p, got_s = pearson(x, y), spearman(x, y)
        assert got_p[0] == pytest.approx(want_p[0], abs=1e-12)
        assert got_p[1] == pytest.approx(want_p[1], rel=1e-7, abs=1e-15)
        assert got_s[0] == pytest.approx(want_s[0], abs=1e-12)
        assert got_s[1] == pytest.approx(want_s[1], rel=1e-7, abs=1e-15)
    np.testing.assert_array_equal(rankdata([3, 1, 3, 2]), stats.rankdata([3, 1, 3, 2]))
    for a, b, x in [(0.5, 0.5, 0.3), (4.0, 0.5, 0.99), (175.5, 0.5, 0.2), (2, 3, 0.0), (2, 3, 1.0)]:
        assert betainc(a, b, x) == pytest.approx(__import__("scipy.special").special.betainc(a, b, x), rel=1e-10)


def test_correlation_edges():
    assert pearson([1, 2, 3], [2, 4, 6]) == (1.0, 0.0)
    # a NaN score makes the correlation undefined, not a perfect rank match
    assert all(math.isnan(v) for v in spearman([math.nan, 1, 2], [3, 1, 2]))
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3])[0])
    with pytest.raises(ValueError, match="at least 2"):
        pearson([1], [2])
