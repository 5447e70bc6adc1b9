"""fastseq similar / analogy / eval / convert / plot from the command line."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from fastseq import KeyedVectors

from conftest import run_cli

COUNTRIES = ["france", "germany", "italy", "spain", "japan", "china"]
CAPITALS = ["paris", "berlin", "rome", "madrid", "tokyo", "beijing"]


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """capital = country + shared offset: analogies have planted answers."""
    rng = np.random.default_rng(0)
    dim = 24
    offset = rng.standard_normal(dim)
    keys, vecs = [], []
    for c, k in zip(COUNTRIES, CAPITALS):
        v = rng.standard_normal(dim)
        keys += [c, k]
        vecs += [v, v + offset + 0.05 * rng.standard_normal(dim)]
    keys += [f"filler{i}" for i in range(60)]
    vecs += list(rng.standard_normal((60, dim)))
    kv = KeyedVectors(keys, np.array(vecs, dtype=np.float32))
    path = tmp_path_factory.mktemp("vec") / "vectors.bin"
    kv.save(path, format="bin")
    return path, kv


def one_line_error(r, *needles):
    assert r.returncode != 0
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_similar(vectors):
    path, kv = vectors
    r = run_cli("similar", path, "paris", "-n", 3)
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    want = kv.most_similar("paris", topn=3)
    assert [row[1] for row in rows] == [w for w, _ in want] and [row[0] for row in rows] == ["1", "2", "3"]
    assert abs(float(rows[0][2]) - want[0][1]) < 1e-4
    r = run_cli("similar", path, "berlin", "france", "--negative", "germany", "-n", 1, "--json")
    assert json.loads(r.stdout)["results"][0][0] == "paris"
    one_line_error(run_cli("similar", path, "pariss"), "'pariss' not in vocabulary", "did you mean 'paris'")
    one_line_error(run_cli("similar", path.parent / "missing.bin", "paris"), "missing.bin")


def test_similar_reads_queries_from_stdin(vectors):
    path, kv = vectors
    r = run_cli("similar", path, "-n", 2, input="paris\n\nzzzz\ntokyo japan\nEXIT\nrome\n")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.strip().split("\n\n")
    assert [b.splitlines()[0] for b in blocks] == ["Query: paris", "Query: zzzz", "Query: tokyo japan"]
    assert "not in vocabulary" in blocks[1]
    assert blocks[2].splitlines()[1].split()[1] == kv.most_similar(["tokyo", "japan"], topn=1)[0][0]
    r = run_cli("similar", path, "--json", input="paris\nrome")       # no final newline: still answered
    assert [json.loads(x)["query"] for x in r.stdout.splitlines()] == ["paris", "rome"]


def test_query_batches_take_all_available_lines(monkeypatch):
    from fastseq import cli_vectors
    r, w = os.pipe()
    os.write(w, b"a b\nc\nEXIT\nd\n")
    os.close(w)
    with os.fdopen(r, "r") as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        assert list(cli_vectors._query_batches("> ")) == [["a b", "c"]]


def test_similar_interactive_terminal(vectors):
    pty = pytest.importorskip("pty")
    path, _ = vectors
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fastseq", "similar", str(path), "-n", "2"],
                            stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    os.write(master, b"paris\nEXIT\n")
    out = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    assert proc.wait(timeout=60) == 0
    os.close(master)
    text = out.decode()
    assert "Enter word or sentence (EXIT to break): " in text and "Query: paris" in text


def test_analogy(vectors):
    path, _ = vectors
    r = run_cli("analogy", path, "france", "paris", "germany", "-n", 1)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[1] == "berlin"
    r = run_cli("analogy", path, "france", "paris", "japan", "--cosmul", "--json")
    assert json.loads(r.stdout)["results"][0][0] == "tokyo"
    r = run_cli("analogy", path, "-n", 1, input="france paris italy\nfrance paris\nfrance paris nowhere\n")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.strip().split("\n\n")
    assert "rome" in blocks[0] and "expected three words" in blocks[1] and "'nowhere' not in" in blocks[2]
    one_line_error(run_cli("analogy", path, "france", "paris"), "three words")


def test_eval(vectors, tmp_path):
    path, kv = vectors
    q = tmp_path / "q.txt"
    lines = [": capitals"] + [f"{COUNTRIES[i]} {CAPITALS[i]} {COUNTRIES[j]} {CAPITALS[j]}"
                              for i in range(6) for j in range(6) if i != j]
    lines += [": unknown", "france paris atlantis poseidonia"]
    q.write_text("\n".join(lines) + "\n")
    pairs = tmp_path / "p.tsv"
    pairs.write_text("".join(f"{a}\t{b}\t{i}\n" for i, (a, b) in enumerate(zip(COUNTRIES, CAPITALS + ["x"]))))
    r = run_cli("eval", path, "--analogies", q, "--pairs", pairs, pairs)
    assert r.returncode == 0, r.stderr
    assert "capitals" in r.stdout and "Total accuracy" in r.stdout and r.stdout.count("Spearman") == 2
    total = [line for line in r.stdout.splitlines() if "Total accuracy" in line][0].split()
    assert total[2:5] == ["30", "30", "100.0%"] and total[5] == "1"
    r = run_cli("eval", path, "--analogies", q, "--pairs", pairs, "--json")
    rep = json.loads(r.stdout)
    assert rep["analogies"]["accuracy"] == 1.0 and rep["analogies"]["sections"][1]["oov"] == 1
    p, s, oov = kv.evaluate_word_pairs(pairs)
    assert rep["pairs"][0]["spearman"] == pytest.approx(s[0]) and rep["pairs"][0]["oov_percent"] == oov
    # an undefined correlation (a NaN score in the file) is JSON null, not a bare NaN
    pairs.write_text(f"{COUNTRIES[0]}\t{CAPITALS[0]}\tnan\n{COUNTRIES[1]}\t{CAPITALS[1]}\t1\n"
                     f"{COUNTRIES[2]}\t{CAPITALS[2]}\t2\n")
    r = run_cli("eval", path, "--pairs", pairs, "--json")
    rep = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in the JSON"))
    assert rep["pairs"][0]["spearman"] is None and rep["pairs"][0]["pearson"] is None
    one_line_error(run_cli("eval", path), "nothing to evaluate")
    one_line_error(run_cli("eval", path, "--pairs", tmp_path / "nope.tsv"), "nope.tsv")
    q.write_text("paris\n")
    one_line_error(run_cli("eval", path, "--analogies", q), "q.txt:1")


@pytest.mark.parametrize("to", ["bin", "text", "native", "glove"])
def test_convert(vectors, tmp_path, to):
    path, kv = vectors
    out = tmp_path / f"out.{to}"
    r = run_cli("convert", path, out, "--to", to)
    assert r.returncode == 0, r.stderr
    assert f"wrote {len(kv)} vectors" in r.stderr
    back = KeyedVectors.load(out)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    r = run_cli("convert", out, tmp_path / "again.bin", "--to", "bin", "--limit", 5)
    assert r.returncode == 0 and len(KeyedVectors.load(tmp_path / "again.bin")) == 5


def test_convert_to_stdout_and_a_closed_pipe(vectors, tmp_path):
    path, kv = vectors
    # /dev/stdout is a link to a pipe here: written through, not replaced by a file
    r = run_cli("convert", path, "/dev/stdout", "--to", "text")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"{len(kv)} 24" and len(r.stdout.splitlines()) == len(kv) + 1
    # the reader of stdout going away ends the run quietly: no traceback, no error line
    queries = tmp_path / "q.txt"
    queries.write_text("paris\n" * 20000)
    r = subprocess.run(f"{sys.executable} -m fastseq similar {path} < {queries} | head -1",
                       shell=True, capture_output=True, text=True, timeout=120)
    assert r.stdout.startswith("Query: paris") and r.stderr == ""


def test_convert_errors(vectors, tmp_path):
    path, _ = vectors
    data = path.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:len(data) // 2])
    out = tmp_path / "out.fsv"
    one_line_error(run_cli("convert", cut, out, "--to", "native"), "cut.bin", "truncated", "byte")
    assert not out.exists() and os.listdir(tmp_path) == ["cut.bin"]
    one_line_error(run_cli("convert", path, out, "--to", "pickle"), "--to")
    one_line_error(run_cli("convert", path, tmp_path / "no" / "dir.bin", "--to", "bin"), "does not exist")


def png_size(path):
    data = open(path, "rb").read(32)
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_plot_map_and_heatmap(vectors, tmp_path):
    pytest.importorskip("matplotlib")
    path, kv = vectors
    out = tmp_path / "map.png"
    r = run_cli("plot", path, "--words", *COUNTRIES, *CAPITALS, "-o", out)
    assert r.returncode == 0, r.stderr
    assert "12 of 12 labels" in r.stderr
    w, h = png_size(out)
    assert w >= 1000 and h >= 800
    r = run_cli("plot", path, "--top", 40, "-o", tmp_path / "heat.png", "--heatmap")
    assert r.returncode == 0, r.stderr
    w, h = png_size(tmp_path / "heat.png")
    assert h >= 40 * 0.22 * 150     # a readable row per word
    one_line_error(run_cli("plot", path, "--words", "paris", "pariss", "rome", "-o", out),
                   "'pariss' not in vocabulary")
    one_line_error(run_cli("plot", path, "--top", 5, "-o", tmp_path / "x.gif"), "unknown picture type")
    one_line_error(run_cli("plot", path, "-o", out), "--words", "--top")


def test_plot_labels_do_not_overlap(vectors, tmp_path):
    pytest.importorskip("matplotlib")
    from fastseq.plot import plot_map
    rng = np.random.default_rng(0)
    words = [f"word{i}" for i in range(250)]
    info = plot_map(words, rng.standard_normal((250, 10)), tmp_path / "dense.png")
    boxes = list(info["label_boxes"].values())
    assert 50 < info["labels"] <= 250 and len(boxes) == info["labels"]
    fx0, fy0, fx1, fy1 = info["frame"]
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        assert fx0 <= x0 and x1 <= fx1 and fy0 <= y0 and y1 <= fy1      # inside the axes
        for a0, b0, a1, b1 in boxes[i + 1:]:
            assert not (x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1)      # no two labels overlap


def test_pca_is_principal_axes():
    from fastseq.plot import pca_2d
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 5)) * np.array([5.0, 2.0, 0.5, 0.1, 0.1])
    xy, explained = pca_2d(X)
    assert abs(np.corrcoef(xy[:, 0], X[:, 0])[0, 1]) > 0.99 and abs(np.corrcoef(xy[:, 1], X[:, 1])[0, 1]) > 0.95
    assert explained[0] > explained[1] > 0 and explained.sum() <= 1


def test_plot_without_matplotlib_says_how_to_get_it(vectors, tmp_path):
    path, _ = vectors
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from fastseq.cli import main\n"
            f"sys.exit(main(['plot', {str(path)!r}, '--top', '5', '-o', {str(tmp_path / 'm.png')!r}]))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    one_line_error(r, 'pip install "fastseq[plot]"')
    assert not (tmp_path / "m.png").exists()


def test_tsne(vectors, tmp_path):
    path, _ = vectors
    code = ("import sys; sys.modules['sklearn'] = None; sys.modules['sklearn.manifold'] = None\n"
            "from fastseq.cli import main\n"
            f"sys.exit(main(['plot', {str(path)!r}, '--top', '20', '--method', 'tsne', '-o', "
            f"{str(tmp_path / 't.png')!r}]))")
    pytest.importorskip("matplotlib")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    one_line_error(r, "--method tsne needs scikit-learn: pip install scikit-learn", "--method pca")
    pytest.importorskip("sklearn")
    r = run_cli("plot", path, "--top", 30, "--method", "tsne", "-o", tmp_path / "t.png")
    assert r.returncode == 0, r.stderr
    png_size(tmp_path / "t.png")
