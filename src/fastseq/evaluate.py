"""Word-vector evaluation: analogies (questions-words.txt) and word-pair similarity
(WordSim-353, SimLex-999), with gensim's rules so the numbers are comparable.

The analogy questions of a file are answered in blocks, one matrix product per
block (``KeyedVectors.most_similar_batch``'s machinery), not one query at a time."""
from __future__ import annotations

import math
import os

import numpy as np


class Correlation(tuple):
    """``(statistic, pvalue)``, indexable like a tuple, as scipy's results are."""

    def __new__(cls, statistic, pvalue):
        return super().__new__(cls, (float(statistic), float(pvalue)))

    @property
    def statistic(self):
        return self[0]

    @property
    def pvalue(self):
        return self[1]

    def __repr__(self):
        return f"Correlation(statistic={self[0]!r}, pvalue={self[1]!r})"


# ------------------------------------------------------------------------ statistics
def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a, b, x):
    """Regularised incomplete beta function I_x(a, b), for 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    front = math.exp(lbeta + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def _corr_pvalue(r, n):
    """Two-sided p-value of a correlation r over n pairs (t-test with n - 2 degrees of
    freedom; for Pearson's r this is the exact test under normality)."""
    if n < 3:
        return 1.0 if n == 2 else math.nan
    if not math.isfinite(r):
        return math.nan
    r = min(1.0, max(-1.0, r))
    if abs(r) == 1.0:
        return 0.0
    df = n - 2
    return betainc(df / 2.0, 0.5, 1.0 - r * r)


def pearson(x, y):
    """Pearson's r and its two-sided p-value."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size < 2:
        raise ValueError("pearson: needs at least 2 pairs")
    xm, ym = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.dot(xm, xm)) * float(np.dot(ym, ym)))
    r = float(np.dot(xm, ym)) / den if den > 0 else math.nan
    if math.isfinite(r):
        r = min(1.0, max(-1.0, r))
    return Correlation(r, _corr_pvalue(r, x.size))


def rankdata(a):
    """Ranks 1..n, ties sharing their average rank (scipy's 'average')."""
    a = np.asarray(a)
    order = np.argsort(a, kind="stable")
    sorted_a = a[order]
    new = np.concatenate([[True], sorted_a[1:] != sorted_a[:-1]])
    dense = np.cumsum(new) - 1                 # group of each sorted element
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], a.size)       # group g holds sorted positions starts[g]..ends[g]-1
    avg = (starts + ends - 1) / 2.0 + 1.0
    ranks = np.empty(a.size, dtype=np.float64)
    ranks[order] = avg[dense]
    return ranks


def spearman(x, y):
    """Spearman's rho (Pearson's r of the ranks) and its two-sided p-value; NaN when a
    value is NaN (ranks would place it arbitrarily; scipy's default gives NaN too)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if np.isnan(x).any() or np.isnan(y).any():
        return Correlation(math.nan, math.nan)
    rx, ry = rankdata(x), rankdata(y)
    r = pearson(rx, ry)[0]
    return Correlation(r, _corr_pvalue(r, len(rx)))


def _open_lines(path):
    """The file at ``path`` for reading lines as bytes; gzip, bzip2 and xz files
    (told by their first bytes, as corpora are) read decompressed, as gensim's
    smart_open reads a .gz evaluation set."""
    from .corpus import decompressed
    return decompressed(open(path, "rb"))


def _lines(f, path):
    """(line number, raw line) of an open evaluation file; a damaged compressed
    stream is a ValueError naming the file."""
    import lzma
    import zlib
    try:
        yield from enumerate(f, 1)
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as e:
        raise ValueError(f"{path}: cannot decompress ({e})") from None


# ------------------------------------------------------------------------ analogies
def read_analogies(path, case_insensitive=True):
    """Parse a questions-words.txt style file.

    Returns ``(sections, n_invalid)``: sections is a list of ``(name, questions)``,
    questions a list of ``(line_no, (a, b, c, d))`` (upper-cased when
    ``case_insensitive``). Lines that are not four words are skipped (and counted),
    as gensim skips them; a question before any ``: section`` line is an error."""
    path = os.fspath(path)
    sections = []
    invalid = 0
    with _open_lines(path) as f:
        for line_no, raw in _lines(f, path):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not UTF-8 ({e.reason} at byte {e.start})") from None
            if line.startswith(": "):
                sections.append((line.lstrip(": ").strip(), []))
                continue
            words = line.split()
            if not words:
                continue
            if not sections:
                raise ValueError(f"{path}:{line_no}: a question before the first ': section' line "
                                 f"(is this an analogy file?)")
            if len(words) != 4:
                invalid += 1
                continue
            if case_insensitive:
                words = [w.upper() for w in words]
            sections[-1][1].append((line_no, tuple(words)))
    return sections, invalid


def _ok_vocab(kv, restrict_vocab, case_insensitive):
    """gensim's view of the vocabulary: the first ``restrict_vocab`` words, upper-cased
    when ``case_insensitive`` (the first, i.e. most frequent, case variant wins)."""
    keys = kv.index_to_key[:restrict_vocab]
    ok = {}
    if case_insensitive:
        for i, k in enumerate(keys):
            ok.setdefault(k.upper(), i)
    else:
        for i, k in enumerate(keys):
            ok.setdefault(k, i)
    return keys, ok


def evaluate_word_analogies(kv, analogies, restrict_vocab=300000, case_insensitive=True,
                            dummy4unknown=False, similarity_function="most_similar"):
    """See ``KeyedVectors.evaluate_word_analogies``."""
    if similarity_function not in ("most_similar", "most_similar_cosmul"):
        raise ValueError(f"similarity_function must be 'most_similar' or 'most_similar_cosmul', "
                         f"got {similarity_function!r}")
    restrict_vocab = len(kv) if restrict_vocab is None else int(restrict_vocab)
    keys, ok_vocab = _ok_vocab(kv, restrict_vocab, case_insensitive)
    parsed, _ = read_analogies(analogies, case_insensitive)
    n_questions = sum(len(qs) for _, qs in parsed)
    if n_questions == 0:
        raise ValueError(f"{analogies}: no analogy questions (expected ': section' lines, then 'A B C D' lines)")

    # questions whose four words are all known, as rows of vocabulary indices
    rows = []
    oov_per_section = [0] * len(parsed)
    for s, (_, qs) in enumerate(parsed):
        for _, q in qs:
            idx = [ok_vocab.get(w, -1) for w in q]
            if min(idx) < 0:
                oov_per_section[s] += 1
                continue
            rows.append(idx[:3])
    candidates = []
    if rows:
        abc = np.asarray(rows, dtype=np.int64)
        # a : b :: c : ?  ->  positive [b, c], negative [a]; the three are left out of the answer
        positive = abc[:, [1, 2]]
        negative = abc[:, [0]]
        exclude = abc[:, [1, 2, 0]]
        if similarity_function == "most_similar":
            idx, _ = kv._topk_from_indices(positive, negative, exclude, topn=5, restrict_vocab=restrict_vocab)
        else:
            idx, _ = kv._cosmul_topk_from_indices(positive, negative, exclude, topn=5,
                                                  restrict_vocab=restrict_vocab)
        candidates = idx.tolist()

    results = [{"section": name, "correct": [], "incorrect": [], "oov": oov_per_section[s]}
               for s, (name, _) in enumerate(parsed)]
    answers = iter(candidates)
    for s, (_, qs) in enumerate(parsed):
        for _, q in qs:
            if min(ok_vocab.get(w, -1) for w in q) < 0:
                if dummy4unknown:
                    results[s]["incorrect"].append(q)
                continue
            a, b, c, expected = q
            ignore = {a, b, c}
            predicted = None
            for j in next(answers):
                if j < 0:
                    break
                predicted = keys[j].upper() if case_insensitive else keys[j]
                if predicted in ok_vocab and predicted not in ignore:
                    break
            (results[s]["correct"] if predicted == expected else results[s]["incorrect"]).append(q)
    total = {"section": "Total accuracy",
             "correct": [q for r in results for q in r["correct"]],
             "incorrect": [q for r in results for q in r["incorrect"]],
             "oov": sum(oov_per_section)}
    results.append(total)
    return section_score(total), results


def section_score(section):
    """Accuracy of one section dict (0.0 when it answered nothing, as in gensim)."""
    c, i = len(section["correct"]), len(section["incorrect"])
    return c / (c + i) if c + i else 0.0


# ------------------------------------------------------------------------ word pairs
def evaluate_word_pairs(kv, pairs, delimiter="\t", encoding="utf8", restrict_vocab=300000,
                        case_insensitive=True, dummy4unknown=False):
    """See ``KeyedVectors.evaluate_word_pairs``."""
    restrict_vocab = len(kv) if restrict_vocab is None else int(restrict_vocab)
    _, ok_vocab = _ok_vocab(kv, restrict_vocab, case_insensitive)
    gold, left, right = [], [], []
    oov = 0
    path = os.fspath(pairs)
    with _open_lines(path) as f:
        for line_no, raw in _lines(f, path):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{line_no}: not {encoding} ({e.reason} at byte {e.start})") from None
            if not line or line.startswith("#"):
                continue
            parts = line.split(delimiter)
            if len(parts) != 3:
                continue
            a, b, sim = parts
            if case_insensitive:
                a, b = a.upper(), b.upper()
            try:
                sim = float(sim)
            except ValueError:
                continue
            ia, ib = ok_vocab.get(a, -1), ok_vocab.get(b, -1)
            if ia < 0 or ib < 0:
                oov += 1
                if dummy4unknown:
                    gold.append(sim)
                    left.append(-1)
                    right.append(-1)
                continue
            gold.append(sim)
            left.append(ia)
            right.append(ib)
    if not gold:
        raise ValueError(f"{path}: no word pairs with known words (expected 'word1{delimiter!r}word2"
                         f"{delimiter!r}score' lines; {oov} pairs had unknown words)")
    left, right = np.asarray(left), np.asarray(right)
    known = left >= 0
    model = np.zeros(len(gold), dtype=np.float64)
    if known.any():
        model[known] = kv._pair_similarities(left[known], right[known])
    if len(gold) < 2:
        raise ValueError(f"{path}: only {len(gold)} word pair with known words: no correlation to compute")
    oov_ratio = float(oov) / (len(gold) if dummy4unknown else len(gold) + oov) * 100
    return pearson(gold, model), spearman(gold, model), oov_ratio
