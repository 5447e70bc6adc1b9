"""KeyedVectors: container behaviour and every query, against plain NumPy versions."""
import numpy as np
import pytest

from fastseq import KeyedVectors, _kv


def make_kv(n=500, dim=16, seed=0, counts=True):
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    keys = [f"w{i}" for i in range(n)]
    return KeyedVectors(keys, vecs, counts=np.arange(n, 0, -1) * 10 if counts else None)


def ref_most_similar(kv, pos, neg=(), topn=10, restrict=None):
    """Brute force 3CosAdd: unit vectors, mean, cosine, sort (ties: lower row)."""
    V = kv.vectors.astype(np.float64)
    U = V / np.linalg.norm(V, axis=1)[:, None]
    q = sum(U[kv.key_to_index[w]] for w in pos) - sum((U[kv.key_to_index[w]] for w in neg), np.zeros(V.shape[1]))
    q /= np.linalg.norm(q)
    n = restrict or len(kv)
    sims = U[:n] @ q
    skip = {kv.key_to_index[w] for w in list(pos) + list(neg)}
    order = [i for i in np.argsort(-sims, kind="stable") if i not in skip]
    return [(kv.index_to_key[i], sims[i]) for i in order[:topn]]


def assert_same(got, want, tol=1e-5):
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=tol)


def test_container():
    kv = make_kv(n=50, dim=8)
    assert len(kv) == 50 and kv.vector_size == 8
    assert kv.vectors.dtype == np.float32 and kv.vectors.shape == (50, 8)
    assert "w3" in kv and "nope" not in kv
    assert kv.index_to_key[3] == "w3" and kv.key_to_index["w3"] == 3
    np.testing.assert_array_equal(kv["w3"], kv.vectors[3])
    np.testing.assert_array_equal(kv[["w3", "w4"]], kv.vectors[3:5])
    np.testing.assert_allclose(np.linalg.norm(kv.get_vector("w3", norm=True)), 1.0, rtol=1e-6)
    assert kv.get_count("w0") == 500 and kv.get_vecattr("w1", "count") == 490
    assert list(kv)[:2] == ["w0", "w1"]
    with pytest.raises(ValueError, match="appears more than once"):
        KeyedVectors(["a", "a"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="differ in length"):
        KeyedVectors(["a"], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no word counts"):
        make_kv(counts=False).get_count("w1")
    # a vector handed out cannot be changed behind the norms' back
    with pytest.raises(ValueError):
        kv["w1"][0] = 1.0


def test_unknown_word_names_it_and_suggests():
    kv = KeyedVectors(["paris", "france", "Berlin", "parish"], np.eye(4, dtype=np.float32))
    with pytest.raises(KeyError, match="'pariss' not in vocabulary; did you mean 'paris', 'parish'"):
        kv["pariss"]
    with pytest.raises(KeyError, match="did you mean 'Berlin'"):
        kv.most_similar("berlin")
    with pytest.raises(KeyError, match=r"'zzzzzz' not in vocabulary\W*$"):
        kv.similarity("paris", "zzzzzz")
    for call in (lambda: kv.most_similar(positive=["paris"], negative=["nowhere"]),
                 lambda: kv.most_similar_cosmul(["nowhere"]), lambda: kv.n_similarity(["nowhere"], ["paris"]),
                 lambda: kv.doesnt_match(["paris", "france", "nowhere"]), lambda: kv.rank("paris", "nowhere"),
                 lambda: kv.distance("nowhere", "paris"), lambda: kv.get_vector("nowhere")):
        with pytest.raises(KeyError, match="nowhere"):
            call()


@pytest.mark.parametrize("pos, neg", [(["w1"], []), (["w1", "w2"], ["w3"]), (["w7"], ["w8", "w9"])])
def test_most_similar_matches_reference(pos, neg):
    kv = make_kv()
    for topn in (1, 10, 37):
        assert_same(kv.most_similar(positive=pos, negative=neg, topn=topn), ref_most_similar(kv, pos, neg, topn))
    assert_same(kv.most_similar(positive=pos, negative=neg, restrict_vocab=100),
                ref_most_similar(kv, pos, neg, restrict=100))
    assert all(kv.key_to_index[w] < 100 for w, _ in kv.most_similar(positive=pos, restrict_vocab=100))


def test_most_similar_forms():
    kv = make_kv()
    assert kv.most_similar("w5") == kv.most_similar(positive=["w5"]) == kv.similar_by_word("w5")
    assert kv.most_similar(5) == kv.most_similar("w5")            # an int is a row, as in gensim
    by_vec = kv.similar_by_vector(kv["w5"], topn=3)
    assert by_vec[0][0] == "w5" and abs(by_vec[0][1] - 1) < 1e-6  # vectors are not left out
    assert kv.most_similar("w5", topn=0) == []
    full = kv.most_similar("w5", topn=None)
    assert full.shape == (500,) and abs(full[5] - 1) < 1e-6
    # (word, weight) pairs: weight 2 on w1 equals listing w1 twice
    assert_same(kv.most_similar(positive=[("w1", 2.0), "w2"]), kv.most_similar(positive=["w1", "w1", "w2"]))
    with pytest.raises(ValueError, match="no input"):
        kv.most_similar(positive=[], negative=[])
    # fewer words than topn: all of them, query excluded
    small = make_kv(n=4)
    assert [w for w, _ in small.most_similar("w0", topn=10)] == [w for w, _ in ref_most_similar(small, ["w0"], topn=10)]
    assert len(small.most_similar("w0", topn=10)) == 3


def test_batch_equals_single_queries():
    kv = make_kv(n=3000, dim=24, seed=1)
    rng = np.random.default_rng(2)
    pos = [[f"w{i}" for i in rng.integers(0, 3000, size=rng.integers(1, 4))] for _ in range(300)]
    neg = [[f"w{i}" for i in rng.integers(0, 3000, size=rng.integers(0, 2))] for _ in range(300)]
    batch = kv.most_similar_batch(pos, neg, topn=7)
    for p, n, got in zip(pos, neg, batch):
        assert_same(got, kv.most_similar(positive=p, negative=n, topn=7), tol=1e-6)
    vecs = kv.vectors[:20] * 3
    for v, got in zip(vecs, kv.similar_by_vector(vecs, topn=4)):
        assert_same(got, kv.similar_by_vector(v, topn=4), tol=1e-6)
    with pytest.raises(ValueError, match="negative has 1 queries"):
        kv.most_similar_batch([["w1"], ["w2"]], [["w3"]])


def test_batch_in_blocks(monkeypatch):
    """A batch larger than one block of scores gives the same answers."""
    from fastseq import keyedvectors
    kv = make_kv(n=2000, dim=8)
    queries = [[f"w{i}"] for i in range(0, 2000, 7)]
    whole = kv.most_similar_batch(queries, topn=5)
    monkeypatch.setattr(keyedvectors, "_BLOCK_BYTES", 4 * 2000 * 10)   # 10 queries per block
    for got, want in zip(kv.most_similar_batch(queries, topn=5), whole):
        assert_same(got, want, tol=1e-6)


def test_cosmul_matches_formula():
    kv = make_kv()
    V = kv.vectors.astype(np.float64)
    U = V / np.linalg.norm(V, axis=1)[:, None]
    d = lambda w: (1 + U @ U[kv.key_to_index[w]]) / 2
    score = d("w1") * d("w2") / (d("w3") + 1e-6)
    order = [i for i in np.argsort(-score, kind="stable") if i not in (1, 2, 3)][:10]
    got = kv.most_similar_cosmul(positive=["w1", "w2"], negative=["w3"])
    assert [w for w, _ in got] == [kv.index_to_key[i] for i in order]
    np.testing.assert_allclose([s for _, s in got], score[order], rtol=1e-5)
    one = kv.most_similar_cosmul("w4", topn=5)     # one positive word ranks as most_similar does
    assert [w for w, _ in one] == [w for w, _ in kv.most_similar("w4", topn=5)]
    assert all(kv.key_to_index[w] < 50 for w, _ in kv.most_similar_cosmul(["w1", "w2"], ["w3"], restrict_vocab=50))


def test_pairwise_queries():
    kv = make_kv()
    a, b = kv.vectors[1].astype(np.float64), kv.vectors[2].astype(np.float64)
    cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert abs(kv.similarity("w1", "w2") - cos) < 1e-6
    assert abs(kv.distance("w1", "w2") - (1 - cos)) < 1e-6
    m1 = kv.vectors[[1, 2]].mean(axis=0)
    m2 = kv.vectors[[3]].mean(axis=0)
    want = m1 @ m2 / np.linalg.norm(m1) / np.linalg.norm(m2)
    assert abs(kv.n_similarity(["w1", "w2"], ["w3"]) - want) < 1e-6
    with pytest.raises(ZeroDivisionError):
        kv.n_similarity([], ["w1"])
    # rank: 1 + number of words (other than w1) strictly closer to w1 than w2 is
    V = kv.vectors.astype(np.float64)
    sims = V @ V[1] / np.linalg.norm(V, axis=1) / np.linalg.norm(V[1])
    want_rank = int((sims > sims[2]).sum()) - 1 + 1
    assert kv.rank("w1", "w2") == want_rank
    assert kv.rank("w1", kv.most_similar("w1", topn=1)[0][0]) == 1
    assert len(kv.closer_than("w1", "w2")) == want_rank - 1
    np.testing.assert_allclose(kv.distances("w1", ["w2", "w3"]), 1 - sims[[2, 3]], atol=1e-6)


def test_doesnt_match():
    dim = 6
    keys = ["cat", "dog", "cow", "car"]
    vecs = np.array([[1, .1, 0, 0, 0, 0], [1, 0, .1, 0, 0, 0], [1, 0, 0, .1, 0, 0], [0, 0, 0, 0, 1, 0]],
                    dtype=np.float32)
    kv = KeyedVectors(keys, vecs.reshape(4, dim))
    assert kv.doesnt_match(["cat", "dog", "car", "cow"]) == "car"
    assert kv.rank_by_centrality(["cat", "car"])[0][1] in ("cat", "car")


def test_norms_follow_vector_changes():
    kv = make_kv(n=100)
    before = kv.most_similar("w1", topn=1)[0][0]
    kv.vectors[kv.key_to_index[before]] *= -1
    kv.fill_norms(force=True)
    assert kv.most_similar("w1", topn=1)[0][0] != before


def test_topk_kernel():
    rng = np.random.default_rng(3)
    S = rng.standard_normal((37, 1000)).astype(np.float32)
    norms = (rng.random(1000) + 0.5).astype(np.float32)
    for threads in (1, 2):
        idx, val = _kv.topk(S, 9, norms, n_threads=threads)
        D = S / norms
        want = np.argsort(-D, axis=1, kind="stable")[:, :9]
        np.testing.assert_array_equal(idx, want)
        np.testing.assert_array_equal(val, np.take_along_axis(D, want, axis=1))
    # ties go to the lower column; NaN never chosen; exclusions; padding when short
    T = np.zeros((2, 6), dtype=np.float32)
    T[0, 4] = 1
    T[1] = np.nan
    T[1, 2] = 5
    idx, val = _kv.topk(T, 4, None, np.array([0, 1, 1]), np.array([4]))
    assert idx.tolist() == [[0, 1, 2, 3], [2, -1, -1, -1]]
    assert val[1, 1] == -np.inf
    with pytest.raises(ValueError, match="norms has 3 entries"):
        _kv.topk(S, 3, norms[:3])
    with pytest.raises(ValueError, match="k must be >= 1"):
        _kv.topk(S, 0)


HALF_LEVELS = [lvl for lvl, name in ((1, "avx2"), (2, "avx512")) if _kv.half_level(lvl) == lvl]
needs_half = pytest.mark.skipif(not HALF_LEVELS, reason="this CPU has no F16C float16 conversion")


def near_ties(n=4000, dim=64, seed=5):
    """Vectors whose cosines with e0 lie 2e-5 apart around 0.9: float16 (relative
    rounding 2^-11, ~4e-4 here) cannot order them; only the exact rescoring can."""
    rng = np.random.default_rng(seed)
    cos = 0.9 + 2e-5 * rng.permutation(n)
    other = rng.standard_normal((n, dim - 1))
    other /= np.linalg.norm(other, axis=1)[:, None]
    vecs = np.hstack([cos[:, None], np.sqrt(1 - cos ** 2)[:, None] * other]) * rng.uniform(0.5, 3, n)[:, None]
    vecs[7] = 0.0                      # zero norm: never returned
    return KeyedVectors([f"w{i}" for i in range(n)], vecs.astype(np.float32))


@needs_half
@pytest.mark.parametrize("level", HALF_LEVELS)
def test_float16_search_equals_float32(monkeypatch, level):
    """Single queries through the float16 first pass give the float32 pass's answers."""
    from fastseq import keyedvectors
    monkeypatch.setenv("FASTSEQ_SIMD", {1: "avx2", 2: "avx512"}[level])
    for kv, queries in ((make_kv(n=3000, dim=37, seed=4), [["w1"], ["w2", "w9"], ["w3"]]),
                        (near_ties(), [[np.eye(64, dtype=np.float32)[0]], ["w1"]])):
        plain = [[kv.most_similar(positive=q, negative=neg, topn=t, restrict_vocab=r)
                  for q in queries for neg in ([], ["w5"]) for t in (1, 10, 40) for r in (None, 2500)]]
        monkeypatch.setattr(keyedvectors, "_HALF_MIN_NUMBERS", 0)
        calls = []
        real = _kv.topk_half
        monkeypatch.setattr(_kv, "topk_half", lambda *a: calls.append(1) or real(*a))
        for threads in (1, 2):
            fastseq_threads(monkeypatch, threads)
            got = [[kv.most_similar(positive=q, negative=neg, topn=t, restrict_vocab=r)
                    for q in queries for neg in ([], ["w5"]) for t in (1, 10, 40) for r in (None, 2500)]]
            for g, w in zip(got[0], plain[0]):
                assert_same(g, w, tol=1e-6)
        # every query but those with 64 * topn > words searched (topn 40 over 2,500)
        assert len(calls) == 2 * len(queries) * 2 * 5
        monkeypatch.setattr(keyedvectors, "_HALF_MIN_NUMBERS", 1 << 21)
        monkeypatch.setattr(_kv, "topk_half", real)
    # the near ties really are out of float16's reach: the first pass alone misorders them
    kv = near_ties()
    best = [kv.key_to_index[w] for w, _ in kv.most_similar(positive=[np.eye(64, dtype=np.float32)[0]], topn=40)]
    U, _ = kv._unit_half()
    approx = U.view(np.float16).astype(np.float32)[:, 0]
    assert list(np.argsort(-approx, kind="stable")[:40]) != best


def fastseq_threads(monkeypatch, n):
    from fastseq import _threads
    monkeypatch.setattr(_threads, "_num_threads", n)


@needs_half
def test_float16_kernel_bound_and_candidates():
    kv = near_ties()
    kv.fill_norms()
    U, top = kv._unit_half()
    assert abs(top - 1) < 1e-5 and U.dtype == np.uint16 and U.shape == kv.vectors.shape
    q = np.eye(64, dtype=np.float32)[0]
    with np.errstate(invalid="ignore"):
        exact = (kv.vectors @ q) / kv.norms
    for k in (1, 5, 100):
        idx, val, n_cand = _kv.topk_half(q, k, U, kv.vectors, kv.norms, len(kv), top, np.array([3], dtype=np.int64))
        order = [i for i in np.argsort(-np.nan_to_num(exact, nan=-np.inf), kind="stable") if i != 3][:k]
        assert idx.tolist() == order
        np.testing.assert_allclose(val, exact[order], rtol=1e-6)
        # rows whose cosines are within ~2 x 6e-4 of the k-th best are rescored, not all 4000
        assert k <= n_cand < 500
    with pytest.raises(ValueError, match="n=4001"):
        _kv.topk_half(q, 3, U, kv.vectors, kv.norms, 4001, top)
    with pytest.raises(ValueError, match="q has 63 dimensions"):
        _kv.topk_half(q[:63], 3, U, kv.vectors, kv.norms, 10, top)
    with pytest.raises(ValueError, match="kv.topk_half"):
        _kv.topk_half(q, 3, U, kv.vectors, kv.norms, 10, 3.0)      # bound above 2: refused


def test_float16_copy_follows_norms_and_settings(monkeypatch):
    from fastseq import keyedvectors
    monkeypatch.setattr(keyedvectors, "_HALF_MIN_NUMBERS", 0)
    kv = make_kv(n=2000, dim=16)
    if HALF_LEVELS:
        first = kv._unit_half()[0]
        assert kv._unit_half()[0] is first                  # made once
        kv.vectors[:] *= 2
        kv.fill_norms(force=True)
        assert kv._unit_half()[0] is not first              # remade with the norms
        np.testing.assert_array_equal(kv._unit_half()[0], first)   # same unit vectors
        # norms that no longer fit the vectors (changed in place, no fill_norms): no float16
        kv.vectors[10] *= 1000
        kv._half = None
        assert kv._unit_half() is None
        kv.vectors[10] /= 1000
    calls = []
    monkeypatch.setattr(_kv, "topk_half", lambda *a: calls.append(1))
    kv.fill_norms(force=True)
    monkeypatch.setenv("FASTSEQ_SIMD", "generic")             # the generic path has no float16
    kv.most_similar("w1")
    monkeypatch.delenv("FASTSEQ_SIMD")
    kv.float16_search = False
    kv.most_similar("w1")
    kv.most_similar_batch([["w1"], ["w2"]])
    assert calls == []


@needs_half
def test_float16_copy_is_numpy_rounding():
    """half_build gives NumPy's float16 of the float32 unit rows, bit for bit, and the
    largest unit-row norm; NaN rows (zero norm) are skipped, overflow is +inf."""
    rng = np.random.default_rng(9)
    V = (rng.standard_normal((1000, 37)) * rng.uniform(1e-3, 1e3, (1000, 1))).astype(np.float32)
    V[5] = 0
    N = np.linalg.norm(V, axis=1).astype(np.float32)
    for threads in (1, 2):
        U, top = _kv.half_build(V, N, -1, threads)
        with np.errstate(invalid="ignore"):
            want = (V / N[:, None]).astype(np.float16)
        ok = ~np.isnan(want)
        np.testing.assert_array_equal(U[ok], want.view(np.uint16)[ok])
        assert np.isnan(U[5].view(np.float16)).all()
        assert abs(top - 1) < 1e-5
    N2 = N.copy()
    N2[7] /= 1e6                                   # a stale norm: unit row far too long
    assert abs(_kv.half_build(V, N2)[1] / 1e6 - 1) < 1e-5
    N2[7] = 1e-38                                  # ... so long that it overflows
    assert _kv.half_build(V, N2)[1] == np.inf
    with pytest.raises(ValueError, match="norms has 999 entries"):
        _kv.half_build(V, N[:999])


def test_topk_transposed_equals_rows():
    """The column-wise top-k (scores laid out as vectors . queries^T) equals the row-wise."""
    rng = np.random.default_rng(4)
    S = rng.standard_normal((37, 1000)).astype(np.float32)
    S[3, [5] + list(range(10, 20))] = 10.0  # ties: the lower column first
    S[5, ::3] = np.nan                      # NaN never chosen
    norms = (rng.random(1000) + 0.5).astype(np.float32)
    ex = [list(rng.integers(0, 1000, rng.integers(0, 4))) for _ in range(37)]
    starts = np.cumsum([0] + [len(e) for e in ex]).astype(np.int64)
    flat = np.array(sum(ex, []), dtype=np.int64)
    for threads in (1, 2):
        for k in (1, 9, 1200):
            want = _kv.topk(S, k, norms, starts, flat, n_threads=threads)
            got = _kv.topk(np.ascontiguousarray(S.T), k, norms, starts, flat, n_threads=threads, transposed=True)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    T = _kv.topk(np.ascontiguousarray(S.T), 11, None, n_threads=2, transposed=True)[0]
    assert T[3].tolist() == [5] + list(range(10, 20))


def test_batch_product_paths_agree(monkeypatch):
    """Blocks of queries through fastseq's own product and through NumPy's give the same answers."""
    from fastseq import keyedvectors
    kv = make_kv(n=3000, dim=40, seed=6)
    queries = [[f"w{i}"] for i in range(0, 3000, 11)]
    ours = kv.most_similar_batch(queries, topn=8)
    monkeypatch.setattr(keyedvectors, "_GEMM_MIN_QUERIES", 10 ** 9)
    for got, want in zip(ours, kv.most_similar_batch(queries, topn=8)):
        assert_same(got, want, tol=1e-6)
    monkeypatch.setattr(keyedvectors, "_GEMM_MIN_QUERIES", 8)
    monkeypatch.setenv("FASTSEQ_SIMD", "generic")       # no AVX2: NumPy's product
    for got, want in zip(kv.most_similar_batch(queries, topn=8), ours):
        assert_same(got, want, tol=1e-6)


def test_vectors_replaced_by_other_layouts(monkeypatch):
    """vectors reassigned to float64 or a strided view still answer (plain paths)."""
    from fastseq import keyedvectors
    monkeypatch.setattr(keyedvectors, "_HALF_MIN_NUMBERS", 0)
    kv = make_kv(n=2000, dim=16)
    want = kv.most_similar("w3", topn=5)
    wide = np.zeros((2000, 32), dtype=np.float32)
    wide[:, ::2] = kv.vectors
    for v in (kv.vectors.astype(np.float64), wide[:, ::2]):
        kv.vectors = v
        kv.fill_norms(force=True)
        assert_same(kv.most_similar("w3", topn=5), want, tol=1e-6)
        assert_same(kv.most_similar_batch([["w3"]] * 9, topn=5)[8], want, tol=1e-6)


def test_review_found_query_edges(tmp_path):
    """A zero vector scores 0 (gensim's unitvec), bytes are not rows, a negative
    restrict_vocab is refused, and vectors cut to the top N by assignment answer."""
    rng = np.random.default_rng(3)
    V = rng.standard_normal((9000, 300)).astype(np.float32)  # large enough for the float16 pass
    V[5] = 0
    kv = KeyedVectors([f"w{i}" for i in range(9000)], V)
    assert kv.similarity("w5", "w1") == 0.0 and kv.distance("w5", "w1") == 1.0
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("".join(f"w{i}\tw{i + 1}\t{i % 7}\n" for i in range(0, 40, 2)) + "w5\tw6\t3\n")
    pearson, spearman, oov = kv.evaluate_word_pairs(pairs)
    assert np.isfinite(pearson[0]) and np.isfinite(spearman[0]) and oov == 0
    for q in (b"w1", bytearray(b"w1")):
        with pytest.raises(TypeError, match="bytes"):
            kv.most_similar(q)
    with pytest.raises(ValueError, match="restrict_vocab"):
        kv.most_similar("w1", restrict_vocab=-5)
    kv.most_similar("w0")  # norms and the float16 copy exist
    kv.vectors = kv.vectors[:8000]
    kv.index_to_key = kv.index_to_key[:8000]
    kv.key_to_index = {w: i for i, w in enumerate(kv.index_to_key)}
    top = kv.most_similar("w0", topn=3)
    ref = KeyedVectors([f"w{i}" for i in range(8000)], V[:8000]).most_similar("w0", topn=3)
    assert [w for w, _ in top] == [w for w, _ in ref]
