"""Vector files: every format round-trips, is recognised by content, and a damaged
file gives a one-line ValueError naming the place (never fewer vectors, a crash or a hang)."""
import gzip
import os
import pickle
import struct
import subprocess
import sys
import warnings

import numpy as np
import pytest

from fastseq import KeyedVectors, formats

FORMATS = ["native", "bin", "text", "glove"]


def make_kv(n=40, dim=6, seed=0):
    rng = np.random.default_rng(seed)
    vecs = (rng.standard_normal((n, dim)) * 0.3).astype(np.float32)
    keys = [f"w{i}" for i in range(n - 3)] + ["café", "naïve", "日本"]
    return KeyedVectors(keys, vecs, counts=np.arange(n, 0, -1))


def one_line(exc):
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_and_detection(tmp_path, fmt):
    kv = make_kv()
    path = tmp_path / "vectors.dat"          # the extension says nothing
    kv.save(path, format=fmt)
    assert formats.detect_format(path) == fmt
    back = KeyedVectors.load(path)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert back.most_similar("w1", topn=5) == kv.most_similar("w1", topn=5)
    assert "日本" in back and "nope" not in back
    if fmt == "native":
        assert back.get_count("w0") == 40
    first = KeyedVectors.load(path, limit=7)
    assert first.index_to_key == kv.index_to_key[:7] and len(first) == 7
    np.testing.assert_array_equal(first.vectors, kv.vectors[:7])
    assert "w8" not in first and first.most_similar("w1", topn=10)[-1][0] in kv.index_to_key[:7]
    assert len(KeyedVectors.load(path, limit=1000)) == 40
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_gensim_spellings(tmp_path):
    kv = make_kv()
    for binary in (True, False):
        path = tmp_path / f"v{binary}"
        kv.save_word2vec_format(path, binary=binary, fvocab=tmp_path / "vocab.txt")
        back = KeyedVectors.load_word2vec_format(path, binary=binary, fvocab=tmp_path / "vocab.txt", limit=10)
        assert back.index_to_key == kv.index_to_key[:10] and back.get_count("w2") == 38
        # the content decides: binary read as text and back still loads
        assert KeyedVectors.load_word2vec_format(path, binary=not binary).index_to_key == kv.index_to_key
    kv.save_word2vec_format(tmp_path / "g.txt", write_header=False)
    assert formats.detect_format(tmp_path / "g.txt") == "glove"
    assert open(tmp_path / "g.txt", encoding="utf-8").readline().startswith("w0 ")
    with pytest.raises(ValueError, match="float32"):
        KeyedVectors.load_word2vec_format(tmp_path / "g.txt", datatype=np.float64)


def test_binary_with_and_without_newlines(tmp_path):
    kv = make_kv(n=5, dim=3)
    rows = [w.encode() + b" " + v.astype("<f4").tobytes() for w, v in zip(kv.index_to_key, kv.vectors)]
    for sep in (b"", b"\n"):
        path = tmp_path / f"b{len(sep)}.bin"
        path.write_bytes(b"5 3\n" + sep.join(rows) + sep)
        back = KeyedVectors.load(path)
        assert back.index_to_key == kv.index_to_key
        np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_text_variants(tmp_path):
    # fastText .vec: trailing space on every line; CRLF line ends; no final newline (with a warning)
    (tmp_path / "a.vec").write_bytes(b"2 3\nhello 1 2 3 \nworld 4 5 6 \n")
    kv = KeyedVectors.load(tmp_path / "a.vec")
    assert kv.index_to_key == ["hello", "world"] and kv["world"].tolist() == [4, 5, 6]
    (tmp_path / "b.txt").write_bytes(b"2 3\r\nhello 1 2 3\r\nworld 4 5 6\r\n")
    assert KeyedVectors.load(tmp_path / "b.txt")["hello"].tolist() == [1, 2, 3]
    (tmp_path / "c.txt").write_bytes(b"hello 1 2 3\nworld 4 5 6")
    with pytest.warns(UserWarning, match="no newline"):
        assert KeyedVectors.load(tmp_path / "c.txt").index_to_key == ["hello", "world"]
    (tmp_path / "empty.txt").write_bytes(b"0 3\n")
    assert len(KeyedVectors.load(tmp_path / "empty.txt")) == 0
    # a byte order mark (Windows editors) is skipped, with a header or without (GloVe);
    # gensim needs encoding="utf-8-sig" for it, which is accepted too
    bom = b"\xef\xbb\xbf"
    (tmp_path / "bom.txt").write_bytes(bom + b"2 3\nhello 1 2 3\nworld 4 5 6\n")
    (tmp_path / "bom.glove").write_bytes(bom + b"hello 1 2 3\nworld 4 5 6\n")
    for name in ("bom.txt", "bom.glove"):
        assert KeyedVectors.load(tmp_path / name).index_to_key == ["hello", "world"], name
        for enc in ("utf-8-sig", "utf_8", "UTF8"):
            kv = KeyedVectors.load_word2vec_format(tmp_path / name, encoding=enc)
            assert kv.index_to_key == ["hello", "world"] and kv["hello"].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="latin-1"):
        KeyedVectors.load_word2vec_format(tmp_path / "bom.txt", encoding="latin-1")


def test_compressed(tmp_path):
    import bz2
    kv = make_kv()
    for fmt in ("bin", "text", "glove"):
        kv.save(tmp_path / "v", format=fmt)
        with gzip.open(tmp_path / "v.gz", "wb") as z:
            z.write((tmp_path / "v").read_bytes())
        (tmp_path / "v.bz2").write_bytes(bz2.compress((tmp_path / "v").read_bytes()))
        for name in ("v.gz", "v.bz2"):
            back = KeyedVectors.load(tmp_path / name)
            np.testing.assert_array_equal(back.vectors, kv.vectors)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"2 3\nhello 1 2 3\n")[:-10])
    with pytest.raises(ValueError, match="damaged gzip"):
        KeyedVectors.load(tmp_path / "bad.gz")
    (tmp_path / "bad.bz2").write_bytes(bz2.compress(b"2 3\nhello 1 2 3\n")[:-10])
    with pytest.raises(ValueError, match="damaged bzip2"):
        KeyedVectors.load(tmp_path / "bad.bz2")
    # written compressed when the name says so, as gensim does
    for name, magic in (("w.bin.gz", b"\x1f\x8b"), ("w.txt.bz2", b"BZh")):
        kv.save_word2vec_format(tmp_path / name, binary=name.startswith("w.bin"))
        assert (tmp_path / name).read_bytes()[:len(magic)] == magic
        np.testing.assert_array_equal(KeyedVectors.load(tmp_path / name).vectors, kv.vectors)
    # a text file whose first word merely starts with bzip2's "BZh" is text
    (tmp_path / "bzh.txt").write_text("BZhang 0.1 0.2\nfoo 0.3 0.4\n")
    assert KeyedVectors.load(tmp_path / "bzh.txt").index_to_key == ["BZhang", "foo"]


def test_words_longer_than_64_kib_round_trip(tmp_path):
    kv = KeyedVectors(["x" * 70000, "y"], np.eye(2, 3, dtype=np.float32))
    for fmt in ("bin", "text"):
        kv.save(tmp_path / "long", format=fmt)
        back = KeyedVectors.load(tmp_path / "long")
        assert back.index_to_key == kv.index_to_key
        np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_unicode_errors(tmp_path):
    vec = np.ones(2, "<f4").tobytes()
    path = tmp_path / "latin1.bin"
    path.write_bytes(b"2 2\ncaf\xe9 " + vec + b"\nab\xc3 " + vec + b"\n")
    with pytest.raises(ValueError, match=r"vector 1 \(byte 4\).*not valid UTF-8.*unicode_errors") as e:
        KeyedVectors.load(path)
    one_line(e)
    assert KeyedVectors.load(path, unicode_errors="replace").index_to_key == ["caf\ufffd", "ab\ufffd"]
    assert KeyedVectors.load(path, unicode_errors="ignore").index_to_key == ["caf", "ab"]
    text = tmp_path / "latin1.txt"
    text.write_bytes(b"1 2\ncaf\xe9 1 2\n")
    with pytest.raises(ValueError, match=r"latin1.txt: line 2: the word b'caf\\xe9' is not valid UTF-8"):
        KeyedVectors.load(text)


def test_duplicates_keep_first_with_warning(tmp_path):
    (tmp_path / "d.txt").write_bytes(b"3 2\na 1 2\nb 3 4\na 5 6\n")
    with pytest.warns(UserWarning, match=r"1 duplicate word\(s\), first 'a' at line 4"):
        kv = KeyedVectors.load(tmp_path / "d.txt")
    assert kv.index_to_key == ["a", "b"] and kv["a"].tolist() == [1, 2]


@pytest.mark.parametrize("content, needle", [
    (b"", "empty file"),
    (b"\x80\x04\x95" + pickle.dumps({"a": 1})[3:], "pickle"),
    (b"hello world\nthis is text\n", "not a word-vector file"),
    (b"2 3\nhello 1 2 3\nworld 4 five 6\n", "bad.vec:3: not a number: b'five'"),
    (b"2 3\nhello 1 2 3\nworld 4 5\n", "bad.vec:3: expected 3 numbers after the word, got 2"),
    (b"2 3\nhello 1 2 3\nworld 4 5 6 7\n", "bad.vec:3: expected 3 numbers after the word, got 4"),
    (b"3 3\nhello 1 2 3\nworld 4 5 6\n", "truncated"),
    # a damaged first line of a text file (it was taken for binary and loaded as garbage)
    (b"2 3\nking 0.1 abc 0.3\nqueen 0.1 0.2 0.3\n", "bad.vec:2: not a number: b'abc'"),
    (b"2 3\nking 0.1 0.2\nqueen 0.1 0.2 0.3\n", "bad.vec:2: expected 3 numbers after the word, got 2"),
    (b"2 3\nking 0.1 0.2 0.3 0.4\nqueen 0.1 0.2 0.3\n", "bad.vec:2: expected 3 numbers after the word, got 4"),
    (b"2 3\nhello 1 2 3\nworld 4 5 6\nextra 7 8 9\n", "bad.vec:4: header says 2 vectors, but more lines follow"),
    (b"2 3\nhello 1 2 3\nworld 4 nan 6\n", "line 3: the vector of 'world' holds NaN"),
    (b"hello 1 2 3\nworld 4 5\n", "bad.vec:2: expected 3 numbers after the word, got 2"),
    (b"1 0\n", "header says 0 dimensions"),
    (b"99999999999 300\n" + b"x" * 100, "truncated: header says 99999999999 vectors"),
    (b"1 2\n" + b"w" * 70000, "truncated: the file ends at byte 70004 in the word of vector 1"),
])
def test_bad_word2vec_files(tmp_path, content, needle):
    path = tmp_path / "bad.vec"
    path.write_bytes(content)
    with pytest.raises(ValueError) as e:
        KeyedVectors.load(path)
    assert needle in one_line(e) and "bad.vec" in str(e.value)


def test_text_without_a_final_newline_loads_with_a_warning(tmp_path):
    """As gensim reads it (files written with "\\n".join(lines))."""
    (tmp_path / "v.txt").write_bytes(b"2 3\nhello 1 2 3\nworld 4 5 6")
    with pytest.warns(UserWarning, match="the last line \\(3\\) has no newline"):
        kv = KeyedVectors.load(tmp_path / "v.txt")
    assert kv["world"].tolist() == [4, 5, 6]


def test_binary_extra_data_after_header_count(tmp_path):
    kv = make_kv(n=3, dim=2)
    kv.save(tmp_path / "v.bin", format="bin")
    data = (tmp_path / "v.bin").read_bytes().replace(b"3 2\n", b"2 2\n", 1)
    (tmp_path / "v.bin").write_bytes(data)
    with pytest.raises(ValueError, match="header says 2 vectors, but more data follows at byte"):
        KeyedVectors.load(tmp_path / "v.bin")
    assert len(KeyedVectors.load(tmp_path / "v.bin", limit=2)) == 2


@pytest.mark.parametrize("fmt", ["bin", "text", "native"])
def test_every_truncation_is_an_error(tmp_path, fmt):
    """Cut the file at every byte: each cut is a one-line ValueError, or (cutting only
    the final newline) all the vectors, unchanged; text cut inside its last number
    loads, as gensim loads it, with a warning that the last line has no newline."""
    kv = make_kv(n=6, dim=3)
    kv.save(tmp_path / "full", format=fmt)
    data = (tmp_path / "full").read_bytes()
    cut_path = tmp_path / "cut"
    step = 1 if fmt != "native" else 7   # the native header is 4 KiB of padding
    last_number = data.rstrip(b"\n").rfind(b" ") + 2  # cuts from here keep a digit of it
    for cut in list(range(0, len(data), step)) + [len(data) - 1]:
        cut_path.write_bytes(data[:cut])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                back = KeyedVectors.load(cut_path)
            except ValueError as e:
                assert "\n" not in str(e)
                continue
        if fmt == "text" and cut >= last_number and data[cut:] != b"\n":
            assert any("no newline" in str(w.message) for w in caught)
            np.testing.assert_array_equal(back.vectors[:, :-1], kv.vectors[:, :-1])
            continue
        assert data[cut:] == b"\n", f"cut at {cut} of {len(data)} loaded {len(back)} vectors"
        np.testing.assert_array_equal(back.vectors, kv.vectors)


def test_native_damage_is_named(tmp_path):
    kv = make_kv()
    path = tmp_path / "v.fsv"
    kv.save(path, format="native")
    data = bytearray(path.read_bytes())
    nf = formats.NativeFile(path)
    for name in ("norms", "counts", "key_offsets", "keys", "hashes", "order"):
        off, nb, _ = nf._sects[name]
        bad = bytearray(data)
        bad[off + nb // 2] ^= 0x10
        path.write_bytes(bad)
        with pytest.raises(ValueError, match=f"section {name} \\(bytes {off}"):
            KeyedVectors.load(path)
    off, nb, _ = nf._sects["vectors"]
    bad = bytearray(data)
    bad[off + 5] ^= 0x10
    path.write_bytes(bad)
    with pytest.raises(ValueError, match="section vectors"):
        KeyedVectors.load(path, mmap=False)      # a full read checks the vectors too
    bad = bytearray(data)
    bad[20] ^= 1
    path.write_bytes(bad)
    with pytest.raises(ValueError, match="header .* fails its checksum"):
        KeyedVectors.load(path)
    bad = bytearray(data)
    struct.pack_into("<I", bad, 8, 99)
    path.write_bytes(bad)
    with pytest.raises(ValueError, match="header|version"):
        KeyedVectors.load(path)


def test_native_is_memory_mapped(tmp_path):
    kv = make_kv(n=20000, dim=300, seed=1)
    path = tmp_path / "big.fsv"
    kv.save(path, format="native")
    back = KeyedVectors.load(path)
    assert not back.vectors.flags.writeable and not back.vectors.flags.owndata
    assert back._index_to_key is None            # words are not even decoded until asked for
    assert back.most_similar("w7", topn=3) == kv.most_similar("w7", topn=3)
    assert back.get_index("w19996") == 19996 and back.get_index("日本") == 19999 and back.index_to_key[5] == "w5"
    copy = KeyedVectors.load(path, mmap=False)
    assert copy.vectors.flags.writeable
    # pages come from the page cache (shared between processes), not private memory
    code = f"""
import numpy as np
from fastseq import KeyedVectors
def anon():
    for line in open('/proc/self/status'):
        if line.startswith('RssAnon:'):
            return int(line.split()[1]) / 1024
a0 = anon()
kv = KeyedVectors.load({str(path)!r})
s = float(np.asarray(kv.vectors, dtype=np.float64).sum(axis=0, dtype=np.float64)[0])  # touch every page
print(anon() - a0)
"""
    if not os.path.exists("/proc/self/status"):
        pytest.skip("no /proc")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # the float64 copy is 48 MB of private memory; the 24 MB of float32 vectors must not add to it
    assert float(out) < 48 + 12, out


def test_writes_are_atomic(tmp_path, monkeypatch):
    kv = make_kv(n=5000, dim=4)
    path = tmp_path / "v.bin"
    path.write_bytes(b"old")
    calls = []
    real = np.ascontiguousarray

    def flaky(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*a, **k)

    monkeypatch.setattr(formats.np, "ascontiguousarray", flaky)
    with pytest.raises(OSError, match="disk full"):
        kv.save(path, format="bin")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["v.bin"]
    bad = KeyedVectors(["has space"], np.zeros((1, 2)))
    with pytest.raises(ValueError, match="'has space' cannot be written"):
        bad.save(path, format="text")
    with pytest.raises(ValueError, match="newline"):
        KeyedVectors(["a\nb"], np.zeros((1, 2))).save(path, format="native")
    assert path.read_bytes() == b"old"
    with pytest.raises(ValueError, match="format must be one of"):
        kv.save(path, format="pickle")
    # a full disk or a refused temporary file names the output, not its hidden temporary
    import errno
    from fastseq import _atomic

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(_atomic.os, "fsync", full)
    with pytest.raises(OSError, match=rf"{path}: cannot write \(No space left on device\)") as e:
        kv.save(path, format="bin")
    assert e.value.errno == errno.ENOSPC and ".tmp" not in str(e.value)
    monkeypatch.undo()

    def refused(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".v.bin.x.tmp"))
    monkeypatch.setattr(_atomic.tempfile, "mkstemp", refused)
    with pytest.raises(PermissionError, match=rf"{path}: cannot write \(Permission denied\)"):
        kv.save(path, format="bin")
    monkeypatch.undo()
    # an error about another file (a font a plot reads, say) keeps that file's name
    with pytest.raises(FileNotFoundError) as e:
        with _atomic.atomic_write(path) as f:
            open(tmp_path / "no-such-font.ttf", "rb")
    assert e.value.filename == str(tmp_path / "no-such-font.ttf")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["v.bin"]


@pytest.mark.parametrize("fmt", ["bin", "text"])
def test_words_with_non_ascii_spaces_round_trip(tmp_path, fmt):
    # the readers split on ASCII whitespace only (word2vec.c's and gensim's too), so
    # a no-break or ideographic space inside a word is written and read back
    words = ["a\u00a0b", "c\u3000d", "e"]
    kv = KeyedVectors(words, np.arange(6, dtype=np.float32).reshape(3, 2))
    path = tmp_path / "v"
    kv.save(path, format=fmt)
    back = KeyedVectors.load(path)
    assert back.index_to_key == words
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    for bad in ("a\tb", "a\rb", "a b"):
        with pytest.raises(ValueError, match="cannot be written"):
            KeyedVectors([bad], np.zeros((1, 2))).save(path, format=fmt)


def test_atomic_write_special_files_symlinks_and_modes(tmp_path):
    from fastseq._atomic import atomic_write
    with atomic_write(os.devnull) as f:  # a device is written in place, never replaced
        f.write(b"x")
    assert not os.path.isfile(os.devnull)
    target = tmp_path / "t"
    target.write_bytes(b"old")
    os.chmod(target, 0o604)
    link = tmp_path / "l"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"
    assert os.stat(target).st_mode & 0o777 == 0o604
    old = os.umask(0o022)
    try:
        with atomic_write(tmp_path / "fresh") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "fresh").st_mode & 0o777 == 0o644
    assert sorted(os.listdir(tmp_path)) == ["fresh", "l", "t"]


def test_model_file(tmp_path):
    from fastseq import Word2Vec
    sents = [["a", "b", "c", "d"], ["b", "c", "d", "e"]] * 50
    m = Word2Vec(sentences=sents, vector_size=8, min_count=1, epochs=1, workers=1)
    m.save(tmp_path / "m.model")
    kv = KeyedVectors.load(tmp_path / "m.model")
    assert kv.index_to_key == m.wv.index_to_key and kv.get_count("b") == 100
    assert len(KeyedVectors.load(tmp_path / "m.model", limit=2)) == 2
