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


def test_ctrl_c_leaves_existing_output(demo_corpus, tmp_path):
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
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert "interrupted" in err
    assert out.read_bytes() == b"precious"
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    assert os.listdir(tmpdir) == []  # the id cache is gone too
