import os
import subprocess
import sys

import pytest

DATA = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


def run_cli(*args, timeout=120, **kw):
    """Run ``python -m fastseq ARGS``; returns CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "fastseq", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, **kw)


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory):
    from fastseq.demo import write_demo_corpus
    path = tmp_path_factory.mktemp("demo") / "demo.txt"
    write_demo_corpus(path, n_sentences=20000, seed=0)
    return path


def shared_data(*parts):
    path = os.path.join(DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared data not found: {path}")
    return path
