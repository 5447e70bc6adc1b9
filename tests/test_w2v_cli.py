"""`fastseq w2v` from the command line: outputs, summary, and every bad input."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from fastseq import KeyedVectors, Word2Vec

from conftest import run_cli


def test_train_binary_and_text(demo_corpus, tmp_path):
    out = tmp_path / "v.bin"
    r = run_cli("w2v", demo_corpus, "-o", out, "--dim", 24, "--epochs", 2, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "words/s" in r.stderr and "vocabulary 106 words" in r.stderr
    kv = KeyedVectors.load_word2vec_format(out, binary=True)
    assert kv.vectors.shape == (106, 24)
    out_txt = tmp_path / "v.txt"
    r = run_cli("w2v", demo_corpus, "-o", out_txt, "--text", "--model", "cbow", "--loss", "both",
                "--epochs", 1, "-q", "--save-model", tmp_path / "m.model")
    assert r.returncode == 0, r.stderr
    kv = KeyedVectors.load_word2vec_format(out_txt, binary=False)
    m = Word2Vec.load(tmp_path / "m.model")
    assert m.sg == 0 and m.hs == 1 and m.negative == 5 and m.alpha == 0.05
    np.testing.assert_allclose(kv.vectors, m.wv.vectors, rtol=1e-6)
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_demo(tmp_path):
    r = run_cli("w2v", "--demo", "-o", tmp_path / "d.bin", "-q")
    assert r.returncode == 0, r.stderr
    kv = KeyedVectors.load_word2vec_format(tmp_path / "d.bin", binary=True)
    assert "paris" in kv


def test_help_shows_defaults():
    r = run_cli("w2v", "--help")
    assert r.returncode == 0
    for text in ("--model", "default: sg", "--dim", "default: 100", "--window", "default: 5",
                 "--negative", "--sample", "0.001", "--min-count", "--epochs", "--alpha", "--min-alpha",
                 "--threads", "--seed", "--binary", "--text", "--quiet", "--loss", "default: ns"):
        assert text in r.stdout, text
    # on/off flags and options without a default say nothing of "True" or "None"
    assert "default: True" not in r.stdout and "default: None" not in r.stdout


def _one_line_error(r, *needles):
    assert r.returncode != 0
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.mark.parametrize("args, needles", [
    (["--dim", "0"], ["--dim"]), (["--window", "0"], ["--window"]), (["--epochs", "-1"], ["--epochs"]),
    (["--negative", "0"], ["--negative 0"]), (["--alpha", "0"], ["--alpha"]),
    (["--window", "99999999999"], ["--window", "at most"]), (["--threads", "99999999999"], ["--threads"]),
    (["--ns-exponent", "nan"], ["--ns-exponent", "finite"]), (["--sample", "inf"], ["--sample", "finite"]),
    (["--seed", "-1"], ["--seed"]), (["--threads", "2000"], ["--threads", "at most 1024"]), (["--min-alpha", "-0.1"], ["--min-alpha"]),
    (["-o", ""], ["--output", "empty"]),
])
def test_bad_arguments(demo_corpus, tmp_path, args, needles):
    out = tmp_path / "v.bin"
    r = run_cli("w2v", demo_corpus, "-o", out, "-q", *args)
    _one_line_error(r, *needles)
    assert not out.exists()


def test_bad_corpora(tmp_path):
    out = tmp_path / "v.bin"
    r = run_cli("w2v", tmp_path / "missing.txt", "-o", out, "-q")
    _one_line_error(r, "missing.txt", "no such file")
    r = run_cli("w2v", tmp_path, "-o", out, "-q")
    _one_line_error(r, "is a directory")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    _one_line_error(run_cli("w2v", empty, "-o", out, "-q"), "empty.txt", "empty corpus")
    rare = tmp_path / "rare.txt"
    rare.write_text("one two three\n")
    _one_line_error(run_cli("w2v", rare, "-o", out, "-q"), "rare.txt", "min_count=5")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok ok\n\xc3\x28 x\n")
    _one_line_error(run_cli("w2v", bad, "-o", out, "-q", "--min-count", 1), "bad.txt:2", "UTF-8")
    assert not out.exists()


def test_unwritable_output_fails_before_training(demo_corpus, tmp_path):
    r = run_cli("w2v", demo_corpus, "-o", tmp_path / "no" / "such" / "dir" / "v.bin", "-q")
    _one_line_error(r, "does not exist")
    r = run_cli("w2v", demo_corpus, "-o", tmp_path, "-q")
    _one_line_error(r, "is a directory")


def test_divergence_leaves_existing_output(demo_corpus, tmp_path):
    out = tmp_path / "v.bin"
    out.write_bytes(b"precious")
    r = run_cli("w2v", demo_corpus, "-o", out, "-q", "--alpha", "1e9", "--min-alpha", "1e9")
    _one_line_error(r, "lower alpha")
    assert out.read_bytes() == b"precious"


def test_outputs_never_clobber_the_corpus_or_each_other(demo_corpus, tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_bytes(demo_corpus.read_bytes())
    r = run_cli("w2v", corpus, "-o", corpus, "-q")
    _one_line_error(r, "--output", "corpus")
    r = run_cli("w2v", corpus, "-o", tmp_path / "v.bin", "--save-model", corpus, "-q")
    _one_line_error(r, "--save-model", "corpus")
    r = run_cli("w2v", corpus, "-o", tmp_path / "v.bin", "--save-model", tmp_path / "v.bin", "-q")
    _one_line_error(r, "--save-model", "same file")
    assert corpus.read_bytes() == demo_corpus.read_bytes()
    assert not (tmp_path / "v.bin").exists()


def test_large_seed_and_an_ignored_sigterm(demo_corpus, tmp_path):
    out = tmp_path / "v.bin"
    r = run_cli("w2v", demo_corpus, "-o", out, "--seed", 3000000000, "--epochs", 1, "-q")
    assert r.returncode == 0, r.stderr
    # a caller that ignores SIGTERM (nohup-like) keeps it ignored
    p = subprocess.Popen([sys.executable, "-m", "fastseq", "w2v", str(demo_corpus), "-o", str(out),
                          "--epochs", "3", "--threads", "1", "-q"], stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err


def test_tiny_corpus_whose_words_are_all_subsampled_away(tmp_path):
    # with sample=1e-3 every word of a two-word corpus is dropped: batches with
    # sentences but no tokens must train nothing, not fail
    corpus = tmp_path / "t.txt"
    corpus.write_text("hello world\n")
    out = tmp_path / "t.bin"
    for min_count in (1, 0):  # 0 keeps every word, as word2vec.c's -min-count 0 and the API's
        r = run_cli("w2v", corpus, "-o", out, "--min-count", min_count, "--threads", 1, "-q")
        assert r.returncode == 0, r.stderr
        assert sorted(KeyedVectors.load_word2vec_format(out, binary=True).index_to_key) == ["hello", "world"]


def test_outputs_follow_symlinks_and_keep_permissions(demo_corpus, tmp_path):
    target = tmp_path / "target.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    r = run_cli("w2v", demo_corpus, "-o", link, "--epochs", 1, "-q")
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)  # the link itself stays
    assert len(KeyedVectors.load_word2vec_format(target, binary=True)) == 106
    assert (os.stat(target).st_mode & 0o777) == 0o640  # the replaced file's own permissions
    fresh = tmp_path / "fresh.bin"
    r = run_cli("w2v", demo_corpus, "-o", fresh, "--epochs", 1, "-q",
                preexec_fn=lambda: os.umask(0o027))
    assert r.returncode == 0, r.stderr
    assert (os.stat(fresh).st_mode & 0o777) == 0o640  # 0666 less the umask, as open() gives


def test_compressed_and_unreadable_kinds_of_corpus(demo_corpus, tmp_path):
    import bz2
    import lzma
    text = demo_corpus.read_bytes()[:200000]
    text = text[:text.rfind(b"\n") + 1]
    plain = tmp_path / "c.txt"
    plain.write_bytes(text)
    (tmp_path / "c.bz2").write_bytes(bz2.compress(text))
    (tmp_path / "c.xz").write_bytes(lzma.compress(text))
    outs = {}
    for name in ("c.txt", "c.bz2", "c.xz"):
        out = tmp_path / (name + ".bin")
        r = run_cli("w2v", tmp_path / name, "-o", out, "--epochs", 1, "--threads", 1, "-q")
        assert r.returncode == 0, r.stderr
        outs[name] = out.read_bytes()
    assert outs["c.txt"] == outs["c.bz2"] == outs["c.xz"]
    # plain text that happens to start with bzip2's "BZh" is still plain text
    bzh = tmp_path / "bzh.txt"
    bzh.write_bytes(b"BZh9 " + text)
    r = run_cli("w2v", bzh, "-o", tmp_path / "bzh.bin", "--epochs", 1, "--threads", 1, "-q")
    assert r.returncode == 0, r.stderr
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    r = run_cli("w2v", fifo, "-o", tmp_path / "f.bin", "-q", timeout=30)
    _one_line_error(r, "fifo", "not a regular file")


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"),
                                             (signal.SIGTERM, 143, "terminated")])
def test_ctrl_c_leaves_existing_output(demo_corpus, tmp_path, sig, code, word):
    out = tmp_path / "v.bin"
    out.write_bytes(b"precious")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir))
    p = subprocess.Popen([sys.executable, "-m", "fastseq", "w2v", str(demo_corpus), "-o", str(out),
                          "--epochs", "500", "--threads", "1"],
                         stderr=subprocess.PIPE, text=True, env=env)
    # wait until training has started (the progress bar appears)
    deadline = time.time() + 30
    buf = ""
    while "train" not in buf and time.time() < deadline:
        buf += p.stderr.read(1)
    time.sleep(0.5)
    assert os.listdir(tmpdir) == []  # the id cache has no name even while training
    p.send_signal(sig)
    _, err = p.communicate(timeout=30)
    assert p.returncode == code, err
    assert f"{word}; no output written" in err
    assert out.read_bytes() == b"precious"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert os.listdir(tmpdir) == []  # the id cache is gone too


def test_resume_continues_training_and_adds_new_words(demo_corpus, tmp_path):
    model_path = tmp_path / "m.model"
    r = run_cli("w2v", demo_corpus, "-o", tmp_path / "v1.bin", "--dim", 16, "--epochs", 1, "-q",
                "--save-model", model_path, "--model", "cbow")
    assert r.returncode == 0, r.stderr
    before = Word2Vec.load(model_path)
    more = tmp_path / "more.txt"
    more.write_text("zebra quokka paris london\n" * 30 + open(demo_corpus).read()[:20000])
    r = run_cli("w2v", more, "--resume", model_path, "-o", tmp_path / "v2.txt", "--text", "--epochs", 2,
                "-q", "--save-model", model_path, "--alpha", 0.01)
    assert r.returncode == 0, r.stderr
    after = Word2Vec.load(model_path)  # updated in place
    assert "resumed" in r.stderr and f"({len(after.wv) - len(before.wv)} new)" in r.stderr
    kv = KeyedVectors.load_word2vec_format(tmp_path / "v2.txt")
    assert kv.index_to_key[:len(before.wv)] == before.wv.index_to_key and "zebra" in kv and "quokka" in kv
    assert after.sg == 0 and after.vector_size == 16 and len(after.epoch_losses) == 2
    assert not np.allclose(after.wv["paris"], before.wv["paris"])
    np.testing.assert_allclose(kv.vectors, after.wv.vectors, rtol=1e-6)


def test_resume_refuses_settings_of_the_model_and_bad_paths(demo_corpus, tmp_path):
    model_path = tmp_path / "m.model"
    r = run_cli("w2v", demo_corpus, "-o", tmp_path / "v.bin", "--epochs", 1, "-q", "--save-model", model_path)
    assert r.returncode == 0, r.stderr
    before = model_path.read_bytes()
    for flags, needle in ((["--dim", 50], "--dim"), (["--model", "sg"], "--model"),
                          (["--no-shrink-windows"], "--no-shrink-windows"), (["--min-count", 1], "--min-count")):
        r = run_cli("w2v", demo_corpus, "--resume", model_path, "-o", tmp_path / "o.bin", "-q", *flags)
        _one_line_error(r, needle, "keeps the setting")
    r = run_cli("w2v", demo_corpus, "--resume", model_path, "-o", model_path, "-q")
    _one_line_error(r, "the model being resumed")
    r = run_cli("w2v", demo_corpus, "--resume", tmp_path / "missing.model", "-o", tmp_path / "o.bin", "-q")
    _one_line_error(r, "missing.model")
    r = run_cli("w2v", demo_corpus, "--resume", demo_corpus, "-o", tmp_path / "o.bin", "-q")
    _one_line_error(r, "not a fastseq word2vec model")
    assert model_path.read_bytes() == before and not (tmp_path / "o.bin").exists()
