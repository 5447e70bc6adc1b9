"""KeyedVectors: words and their vectors, lookups, and the word2vec file formats."""
from __future__ import annotations

import os

import numpy as np

from ._atomic import atomic_write


class KeyedVectors:
    """A set of word vectors (what ``Word2Vec.wv`` is).

    ``kv["word"]`` is the vector, ``"word" in kv`` tests membership,
    ``kv.index_to_key`` / ``kv.key_to_index`` map both ways and ``kv.vectors``
    is the float32 (n, dim) matrix."""

    def __init__(self, keys, vectors, counts=None):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors: expected a 2-D array, got shape {vectors.shape}")
        if len(keys) != vectors.shape[0]:
            raise ValueError(f"keys ({len(keys)}) and vectors ({vectors.shape[0]} rows) differ in length")
        self.index_to_key = list(keys)
        self.key_to_index = {k: i for i, k in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            raise ValueError("keys: duplicates")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.counts = None if counts is None else np.asarray(counts, dtype=np.int64)
        self.norms = None

    @property
    def vector_size(self):
        return self.vectors.shape[1]

    def __len__(self):
        return len(self.index_to_key)

    def __contains__(self, key):
        return key in self.key_to_index

    def __iter__(self):
        return iter(self.index_to_key)

    def get_index(self, key):
        try:
            return self.key_to_index[key]
        except KeyError:
            raise KeyError(f"word {key!r} not in vocabulary") from None

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.vectors[self.get_index(key)]
        return np.stack([self.vectors[self.get_index(k)] for k in key])

    def get_vector(self, key, norm=False):
        i = self.get_index(key)
        if norm:
            self.fill_norms()
            return self.vectors[i] / max(self.norms[i], 1e-12)
        return self.vectors[i]

    def get_count(self, key):
        if self.counts is None:
            raise ValueError("these vectors carry no word counts")
        return int(self.counts[self.get_index(key)])

    def fill_norms(self, force=False):
        if self.norms is None or force:
            self.norms = np.linalg.norm(self.vectors, axis=1)

    def get_normed_vectors(self):
        self.fill_norms()
        return self.vectors / np.maximum(self.norms, 1e-12)[:, None]

    def similarity(self, w1, w2):
        a, b = self.get_vector(w1, norm=True), self.get_vector(w2, norm=True)
        return float(np.dot(a, b))

    def most_similar(self, positive=(), negative=(), topn=10):
        """Words closest (cosine) to the mean of ``positive`` minus ``negative`` (3CosAdd);
        query words are left out of the answer."""
        if isinstance(positive, str):
            positive = [positive]
        if isinstance(negative, str):
            negative = [negative]
        q = np.zeros(self.vector_size, dtype=np.float64)
        for w in positive:
            q += self.get_vector(w, norm=True)
        for w in negative:
            q -= self.get_vector(w, norm=True)
        nq = np.linalg.norm(q)
        if nq == 0:
            raise ValueError("most_similar: empty query")
        sims = self.get_normed_vectors() @ (q / nq).astype(np.float32)
        exclude = {self.key_to_index[w] for w in list(positive) + list(negative)}
        k = min(topn + len(exclude), len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.index_to_key[i], float(sims[i])) for i in top if i not in exclude][:topn]

    # ------------------------------------------------------------------ formats
    def save_word2vec_format(self, path, binary=True):
        """word2vec.c / gensim format: header ``count dim``, then one word and its vector
        per line (text) or the word, a space and dim little-endian float32 (binary).
        Written to a temporary file and renamed."""
        n, d = self.vectors.shape
        for w in self.index_to_key:
            if not w or any(c.isspace() for c in w):
                raise ValueError(f"word {w!r} cannot be written in word2vec format (empty or has whitespace)")
        with atomic_write(path) as f:
            f.write(f"{n} {d}\n".encode("utf-8"))
            if binary:
                vec = self.vectors.astype("<f4", copy=False)
                for w, row in zip(self.index_to_key, vec):
                    f.write(w.encode("utf-8") + b" " + row.tobytes() + b"\n")
            else:
                for w, row in zip(self.index_to_key, self.vectors):
                    f.write((w + " " + " ".join(repr(float(x)) for x in row) + "\n").encode("utf-8"))

    @classmethod
    def load_word2vec_format(cls, path, binary=False, limit=None, unicode_errors="strict"):
        """Read the word2vec.c / gensim text or binary format."""
        path = os.fspath(path)
        with open(path, "rb") as f:
            header = f.readline()
            try:
                n, d = (int(x) for x in header.split())
            except ValueError:
                raise ValueError(f"{path}:1: expected a header 'count dim', got {header[:60]!r}") from None
            if n < 0 or d <= 0:
                raise ValueError(f"{path}:1: bad header {header.strip()!r}")
            if limit is not None:
                n = min(n, int(limit))
            keys = []
            vectors = np.empty((n, d), dtype=np.float32)
            if binary:
                for i in range(n):
                    word = bytearray()
                    while True:
                        ch = f.read(1)
                        if not ch:
                            raise ValueError(f"{path}: truncated at vector {i + 1} of {n} (byte {f.tell()})")
                        if ch == b" ":
                            break
                        if ch != b"\n":
                            word += ch
                    raw = f.read(4 * d)
                    if len(raw) != 4 * d:
                        raise ValueError(f"{path}: truncated in the vector of word {i + 1} of {n} (byte {f.tell()})")
                    keys.append(word.decode("utf-8", errors=unicode_errors))
                    vectors[i] = np.frombuffer(raw, dtype="<f4")
            else:
                for i in range(n):
                    line = f.readline()
                    parts = line.rstrip().split(b" ")
                    if len(parts) != d + 1:
                        raise ValueError(f"{path}:{i + 2}: expected a word and {d} numbers, got {len(parts) - 1} fields")
                    keys.append(parts[0].decode("utf-8", errors=unicode_errors))
                    try:
                        vectors[i] = np.array(parts[1:], dtype=np.float32)
                    except ValueError:
                        raise ValueError(f"{path}:{i + 2}: not a number in the vector of {keys[-1]!r}") from None
        return cls(keys, vectors)
