"""Growing a KeyedVectors the gensim way: KeyedVectors(vector_size, count), add_vector,
add_vectors, kv[keys] = vectors, set_vecattr; queries and files stay right after."""
import numpy as np
import pytest

from fastseq import KeyedVectors, Word2Vec


def _vecs(n, dim=6, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def test_gensim_constructor_then_add_vectors():
    kv = KeyedVectors(6)
    assert len(kv) == 0 and kv.vector_size == 6
    v = _vecs(4)
    kv.add_vectors(["a", "b", "c", "d"], v)
    assert kv.index_to_key == ["a", "b", "c", "d"] and kv.key_to_index["c"] == 2
    np.testing.assert_array_equal(kv["c"], v[2])
    # norms follow the new rows: a query sees every word
    got = kv.most_similar("a", topn=3)
    U = v / np.linalg.norm(v, axis=1)[:, None]
    want = sorted(((k, float(U[0] @ U[i])) for i, k in enumerate("abcd") if i), key=lambda t: -t[1])
    assert [w for w, _ in got] == [w for w, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=1e-6)
    assert KeyedVectors(vector_size=6).vector_size == 6


def test_preallocated_slots_fill_in_order_then_append():
    kv = KeyedVectors(3, 2)  # gensim: vector_size, count
    assert len(kv) == 2 and kv.index_to_key == [None, None]
    v = _vecs(3, dim=3)
    assert kv.add_vector("x", v[0]) == 0
    with pytest.raises(ValueError, match="1 empty slot"):
        kv.save_word2vec_format("/nonexistent/never-written.txt")
    assert kv.add_vector("y", v[1]) == 1
    assert kv.add_vector("z", v[2]) == 2  # no slot left: appended
    assert kv.add_vector("x", v[2]) == 0  # present: kept, as add_vectors without replace
    np.testing.assert_array_equal(kv.vectors, v)
    assert kv.index_to_key == ["x", "y", "z"]
    with pytest.raises(ValueError, match="float32"):
        KeyedVectors(3, count=2, dtype=np.float64)
    with pytest.raises(ValueError, match="count"):
        KeyedVectors(3, count=-1)
    with pytest.raises(TypeError, match="not both"):
        KeyedVectors(["a"], np.zeros((1, 3)), vector_size=3)


def test_add_vectors_replace_setitem_and_counts():
    v = _vecs(3)
    kv = KeyedVectors(["a", "b", "c"], v, counts=[30, 20, 10])
    w = _vecs(2, seed=1)
    kv.add_vectors(["b", "new"], w)  # b stays, new appended with count 0
    np.testing.assert_array_equal(kv["b"], v[1])
    np.testing.assert_array_equal(kv["new"], w[1])
    assert kv.get_count("new") == 0 and kv.get_count("a") == 30
    kv.add_vectors(["b", "newer"], w, replace=True, extras={"count": [5, 7]})
    np.testing.assert_array_equal(kv["b"], w[0])
    assert kv.get_count("b") == 5 and kv.get_count("newer") == 7
    kv["c"] = w[1]  # one key, one 1-D vector
    np.testing.assert_array_equal(kv["c"], w[1])
    kv[["a", "z"]] = w
    np.testing.assert_array_equal(kv[["a", "z"]], w)
    assert kv.index_to_key == ["a", "b", "c", "new", "newer", "z"] and len(kv.counts) == 6
    kv.set_vecattr("z", "count", 99)
    assert kv.get_vecattr("z", "count") == 99
    # a KeyedVectors without counts gets them when extras bring some
    kv2 = KeyedVectors(["a"], v[:1])
    kv2.add_vectors(["q"], v[1:2], extras={"count": np.array([4])})
    assert kv2.counts.tolist() == [0, 4]


def test_bad_additions_are_refused_and_change_nothing():
    kv = KeyedVectors(["a", "b"], _vecs(2))
    before = kv.vectors.copy()
    with pytest.raises(ValueError, match="appears more than once"):
        kv.add_vectors(["x", "x"], _vecs(2))
    with pytest.raises(ValueError, match=r"weights: expected shape \(2, 6\)"):
        kv.add_vectors(["x", "y"], _vecs(2, dim=5))
    with pytest.raises(TypeError, match="keys must be str or int"):
        kv.add_vectors([("t", 1)], _vecs(1))
    with pytest.raises(ValueError, match="extras"):
        kv.add_vectors(["x"], _vecs(1), extras={"freq": [1]})
    assert kv.index_to_key == ["a", "b"]
    np.testing.assert_array_equal(kv.vectors, before)


def test_one_at_a_time_equals_one_batch_and_does_not_touch_other_sets():
    v = _vecs(3000)
    keys = [f"k{i}" for i in range(3000)]
    one = KeyedVectors(6)
    for k, row in zip(keys, v):
        one.add_vector(k, row)  # (room is left for more: no copy of everything each time)
    batch = KeyedVectors(6)
    batch.add_vectors(keys, v)
    np.testing.assert_array_equal(one.vectors, batch.vectors)
    assert one.index_to_key == batch.index_to_key
    # another set made from the same rows is not written through
    other = KeyedVectors(keys, one.vectors)
    one.add_vector("mine", np.ones(6, dtype=np.float32))
    other.add_vector("theirs", np.full(6, 2.0, dtype=np.float32))
    np.testing.assert_array_equal(one["mine"], np.ones(6))
    np.testing.assert_array_equal(other["theirs"], np.full(6, 2.0))
    assert "mine" not in other and "theirs" not in one


def test_queries_after_replacing_a_vector_use_the_new_one():
    """A set big enough for the float16 first pass: its copy is rebuilt after a change."""
    rng = np.random.default_rng(2)
    n, dim = 21000, 100
    kv = KeyedVectors([f"w{i}" for i in range(n)], rng.standard_normal((n, dim)).astype(np.float32))
    q = rng.standard_normal(dim).astype(np.float32)
    assert kv.similar_by_vector(q, topn=1)[0][1] < 0.9  # builds the float16 copy
    kv["w17"] = q * 3
    assert kv.similar_by_vector(q, topn=1)[0] == ("w17", pytest.approx(1.0, abs=1e-6))
    kv.add_vectors(["extra"], -q)
    assert kv.similar_by_vector(-q, topn=1)[0] == ("extra", pytest.approx(1.0, abs=1e-6))


def test_memory_mapped_set_grows_in_memory_and_leaves_its_file(tmp_path):
    path = tmp_path / "v.fsv"
    KeyedVectors(["a", "b"], _vecs(2), counts=[2, 1]).save(path)
    kv = KeyedVectors.load(path)  # memory-mapped, read-only
    kv["a"] = np.zeros(6, dtype=np.float32)
    kv.add_vector("c", np.ones(6, dtype=np.float32))
    assert kv.index_to_key == ["a", "b", "c"] and kv.get_count("c") == 0
    np.testing.assert_array_equal(kv["a"], np.zeros(6))
    again = KeyedVectors.load(path)
    assert again.index_to_key == ["a", "b"] and np.abs(again["a"]).sum() > 0
    kv.save(tmp_path / "grown.fsv")
    assert KeyedVectors.load(tmp_path / "grown.fsv").index_to_key == ["a", "b", "c"]


@pytest.mark.filterwarnings("ignore:Adding single vectors")
def test_same_as_gensim():
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
    v = _vecs(5)
    ops = [("add_vectors", (["a", "b", "c"], v[:3])), ("add_vectors", (["b", "d"], v[3:5])),
           ("setitem", (["a", "e"], v[1:3])), ("add_vectors", (["c", "f"], v[:2], None, True))]
    ours, theirs = KeyedVectors(6), gensim_kv.KeyedVectors(6)
    for name, args in ops:
        for kv in (ours, theirs):
            if name == "setitem":
                kv[args[0]] = args[1]
            else:
                kv.add_vectors(*args)
    assert ours.index_to_key == theirs.index_to_key
    np.testing.assert_array_equal(ours.vectors, theirs.vectors)
    ours2, theirs2 = KeyedVectors(6, count=2), gensim_kv.KeyedVectors(6, count=2)
    for kv in (ours2, theirs2):
        assert [kv.add_vector(k, v[i]) for i, k in enumerate("xyz")] == [0, 1, 2]
    assert ours2.index_to_key == theirs2.index_to_key
    np.testing.assert_array_equal(ours2.vectors, theirs2.vectors)


def test_training_refuses_vectors_added_to_wv():
    sentences = [["a", "b", "c", "a"]] * 20
    m = Word2Vec(sentences=sentences, min_count=1, epochs=1, workers=1, progress=False, vector_size=6)
    m.wv.add_vector("zz", np.zeros(6, dtype=np.float32))
    with pytest.raises(ValueError, match="update=True"):
        m.train(sentences)
