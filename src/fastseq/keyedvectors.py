"""KeyedVectors: words and their vectors; similarity queries, evaluation and files.

Names and semantics follow gensim's ``KeyedVectors`` so that code and numbers
carry over. Word norms are computed once (or read from a native file) and reused;
a query scores every word with one matrix-vector product, a batch of queries with
one matrix product per block of queries, and a C kernel picks the best of each
row (``csrc/fs_kv.c``). Scores are ``dot(v, q) / |v|`` computed as gensim does,
so the two rank words the same way."""
from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from . import _kv, _rnn, evaluate, formats
from ._threads import get_num_threads, simd_level

_KEY_TYPES = (str, int, np.integer)
_BLOCK_BYTES = 64 << 20     # scores held at once by a batch query (rows x vocabulary x 4 bytes)
_HALF_MIN_NUMBERS = 1 << 21  # single queries over at least this many numbers (n x dim) use float16
_GEMM_MIN_QUERIES = 8        # blocks of at least this many queries use fastseq's own product
_FORMATS = ("native", "bin", "text", "glove")


def _ensure_list(value):
    """gensim's reading of positive/negative: one key or vector, or a list of them."""
    if value is None:
        return []
    if isinstance(value, (bytes, bytearray)):  # (a list of its byte values would be rows)
        raise TypeError(f"expected str keys, got bytes {bytes(value)[:40]!r}: decode it first")
    if isinstance(value, _KEY_TYPES) or (isinstance(value, np.ndarray) and value.ndim == 1):
        return [value]
    if isinstance(value, np.ndarray) and value.ndim == 2:
        return list(value)
    return list(value)


def _repeated_key(keys):
    """Raise the ValueError naming the first key of ``keys`` seen before."""
    seen = set()
    dup = next(k for k in keys if k in seen or seen.add(k))
    raise ValueError(f"keys: {dup!r} appears more than once")


def _own_array(arr, dtype):
    """``arr`` if it is a writable array of its own (not a memory map), else a copy."""
    if type(arr) is np.ndarray and arr.flags.writeable:
        return arr
    return np.array(arr, dtype=dtype)


def _grown(arr, rows, spare, last):
    """(``arr`` with ``rows`` appended, (it, its buffer)). ``last`` is what the previous
    call returned for this array: when ``arr`` is still that view and its buffer has
    room, the rows go in place; otherwise all is copied to a new buffer, with room for
    a quarter more when ``spare``."""
    n, m = len(arr), len(rows)
    if last is not None and arr is last[0] and len(last[1]) >= n + m:
        buf = last[1]
        buf[n:n + m] = rows
    else:
        buf = np.empty((n + m + (n // 4 + 16 if spare else 0),) + arr.shape[1:], dtype=arr.dtype)
        buf[:n] = arr
        buf[n:n + m] = rows
    out = buf[:n + m]
    return out, (out, buf)


class KeyedVectors:
    """A set of word vectors (what ``Word2Vec.wv`` is).

    ``kv["word"]`` is the vector, ``"word" in kv`` tests membership, ``len(kv)`` is
    the number of words, ``kv.index_to_key`` / ``kv.key_to_index`` map both ways,
    ``kv.vectors`` is the float32 (n, dim) matrix and ``kv.get_count(word)`` the
    word's corpus count when known.

    Parameters
    ----------
    keys : sequence of str
        The words, in row order (most frequent first, by convention).
    vectors : array_like, shape (len(keys), dim)
        Their vectors; kept as float32 (without a copy when already float32).
    counts : array_like of int, optional
        Corpus count of each word.

    gensim's form ``KeyedVectors(vector_size, count=0)`` makes an empty set (or
    ``count`` empty slots, which ``add_vector`` fills in order) to grow with
    ``add_vector`` / ``add_vectors`` / ``kv[keys] = vectors``.
    """

    #: A single query over at least 2M numbers (``n * dim``, e.g. 7k x 300) first scores
    #: every word against a float16 copy of the unit vectors, which has half the bytes
    #: of ``vectors`` to read, then scores exactly, in float32, the few words within the
    #: float16 rounding bound of the k-th best: the results are those of the float32
    #: pass. The copy (half the size of ``vectors``) is made on the first such query and
    #: remade when the norms are (``fill_norms(force=True)``). False: never make it.
    float16_search = True

    def __init__(self, keys=None, vectors=None, counts=None, *, vector_size=None, count=0,
                 dtype=np.float32, mapfile_path=None):
        if isinstance(keys, Integral) and not isinstance(keys, bool):
            # gensim's KeyedVectors(vector_size, count=0, dtype=float32)
            if vector_size is not None:
                raise TypeError("vector_size given twice")
            vector_size, keys = keys, None
            if vectors is not None:
                count, vectors = vectors, None
        if vector_size is not None:
            if keys is not None or vectors is not None or counts is not None:
                raise TypeError("give keys and vectors, or gensim's vector_size (and count), not both")
            self._init_slots(vector_size, count, dtype)
            return
        if keys is None or vectors is None:
            raise TypeError("KeyedVectors(keys, vectors, counts=None), or gensim's KeyedVectors(vector_size, "
                            "count=0)")
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise ValueError(f"vectors: expected a 2-D array, got shape {vectors.shape}")
        keys = list(keys)
        if len(keys) != vectors.shape[0]:
            raise ValueError(f"keys ({len(keys)}) and vectors ({vectors.shape[0]} rows) differ in length")
        key_to_index = {k: i for i, k in enumerate(keys)}
        if len(key_to_index) != len(keys):
            _repeated_key(keys)
        self._index_to_key = keys
        self._key_to_index = key_to_index
        self._native = None
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if counts is not None:
            counts = np.asarray(counts, dtype=np.int64)
            if counts.shape != (len(keys),):
                raise ValueError(f"counts: expected shape ({len(keys)},), got {counts.shape}")
        self.counts = counts
        self.norms = None
        self._half = None
        self.next_index = len(keys)

    def _init_slots(self, vector_size, count, dtype):
        if np.dtype(dtype) != np.float32:
            raise ValueError(f"dtype {np.dtype(dtype)}: fastseq keeps vectors as float32")
        for name, v, low in (("vector_size", vector_size, 1), ("count", count, 0)):
            if not isinstance(v, Integral) or isinstance(v, bool) or v < low:
                raise ValueError(f"{name}: expected an int >= {low}, got {v!r}")
        self._index_to_key = [None] * int(count)  # empty slots, filled by add_vector in order
        self._key_to_index = {}
        self._native = None
        self.vectors = np.zeros((int(count), int(vector_size)), dtype=np.float32)
        self.counts = None
        self.norms = None
        self._half = None
        self.next_index = 0

    @classmethod
    def _from_native(cls, nf):
        kv = cls.__new__(cls)
        kv._index_to_key = None
        kv._key_to_index = None
        kv._native = nf
        kv.vectors = nf.vectors
        kv.counts = nf.counts
        kv.norms = nf.norms
        kv._half = None
        kv.next_index = len(nf.vectors)
        return kv

    # ------------------------------------------------------------------ container
    @property
    def index_to_key(self):
        """List of the words in row order (decoded on first use for a memory-mapped file)."""
        if self._index_to_key is None:
            self._index_to_key = self._native.keys()
        return self._index_to_key

    @index_to_key.setter
    def index_to_key(self, value):
        self._index_to_key = list(value)

    @property
    def key_to_index(self):
        """Dict from word to row (built on first use for a memory-mapped file)."""
        if self._key_to_index is None:
            self._key_to_index = {k: i for i, k in enumerate(self.index_to_key)}
        return self._key_to_index

    @key_to_index.setter
    def key_to_index(self, value):
        self._key_to_index = value

    @property
    def vector_size(self):
        return self.vectors.shape[1]

    def __len__(self):
        return self.vectors.shape[0]

    def __iter__(self):
        return iter(self.index_to_key)

    def __contains__(self, key):
        return self.has_index_for(key)

    def __repr__(self):
        where = f", mmap={self._native.path!r}" if self._native is not None and self._native._mm else ""
        return f"KeyedVectors({len(self)} words, dim {self.vector_size}{where})"

    def _find(self, key):
        d = self._key_to_index
        if d is not None:
            return d.get(key, -1)
        if self._native is not None and isinstance(key, str):
            return self._native.find(key)
        return -1

    def get_index(self, key, default=None):
        """Row of ``key`` (an int key in range is taken as a row, as in gensim).

        Raises ``KeyError`` naming the word, with close spellings from the vocabulary,
        unless ``default`` is given."""
        i = self._find(key)
        if i >= 0:
            return i
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < len(self):
            return int(key)
        if default is not None:
            return default
        raise KeyError(self._unknown(key))

    def has_index_for(self, key):
        return self.get_index(key, -1) >= 0

    def _unknown(self, key):
        msg = f"word {key!r} not in vocabulary"
        close = self.suggest(key) if isinstance(key, str) else []
        if close:
            msg += "; did you mean " + ", ".join(repr(w) for w in close) + "?"
        return msg

    def suggest(self, word, n=3):
        """Up to ``n`` vocabulary words one edit (or a change of case) away from ``word``,
        most frequent (lowest row) first."""
        if not isinstance(word, str) or not word or len(word) > 40:
            return []
        letters = set("abcdefghijklmnopqrstuvwxyz") | set(word.lower())
        low = word.lower()
        cands = {low, word.upper(), word.capitalize(), word.title()}
        splits = [(low[:i], low[i:]) for i in range(len(low) + 1)]
        for a, b in splits:
            if b:
                cands.add(a + b[1:])
            if len(b) > 1:
                cands.add(a + b[1] + b[0] + b[2:])
            for ch in letters:
                if b:
                    cands.add(a + ch + b[1:])
                cands.add(a + ch + b)
        cands.discard(word)
        found = sorted((i, w) for w in cands if (i := self._find(w)) >= 0)
        return [w for _, w in found[:n]]

    def get_vector(self, key, norm=False):
        """The vector of ``key`` (read-only view); unit length with ``norm=True``."""
        i = self.get_index(key)
        if norm:
            self.fill_norms()
            with np.errstate(divide="ignore", invalid="ignore"):
                out = self.vectors[i] / self.norms[i]
        else:
            out = self.vectors[i]
        out = out.view()
        out.setflags(write=False)
        return out

    def __getitem__(self, key_or_keys):
        if isinstance(key_or_keys, _KEY_TYPES):
            return self.get_vector(key_or_keys)
        return np.vstack([self.get_vector(k) for k in key_or_keys])

    def get_count(self, key):
        """Corpus count of ``key``, when these vectors carry counts (trained here, or read
        from a native file or a word2vec file with its ``fvocab``)."""
        i = self.get_index(key)
        if self.counts is None:
            raise ValueError("these vectors carry no word counts (word2vec/GloVe files store none; "
                             "load_word2vec_format(..., fvocab=VOCAB_FILE) reads word2vec.c's -save-vocab file)")
        return int(self.counts[i])

    def get_vecattr(self, key, attr):
        """gensim's accessor; only ``"count"`` exists here."""
        if attr != "count":
            raise KeyError(f"no attribute {attr!r} (fastseq keeps only 'count')")
        return self.get_count(key)

    # ------------------------------------------------------------------ growing
    def _weights(self, weights, n):
        w = np.asarray(weights, dtype=np.float32)
        if w.ndim == 1 and n == 1:
            w = w[None, :]
        if w.shape != (n, self.vector_size):
            raise ValueError(f"weights: expected shape ({n}, {self.vector_size}), got {w.shape}")
        return w

    def _editable(self, counts=False):
        """Keys as a list and dict, and vectors (and counts) as writable arrays of
        their own, before a change; afterwards norms and the float16 copy are stale.
        ``counts``: a set without counts gets zeros, to be written."""
        keys, index = self.index_to_key, self.key_to_index  # (decoded from a native file)
        self._native = None
        self.vectors = _own_array(self.vectors, np.float32)
        if self.counts is not None:
            self.counts = _own_array(self.counts, np.int64)
        elif counts:
            self.counts = np.zeros(len(self.vectors), dtype=np.int64)
        self._vectors_changed()
        return keys, index

    def _vectors_changed(self):
        """Norms and the float16 copy are stale: remade when a query needs them."""
        self.norms = None
        self._half = None

    def _append(self, new_keys, new_vectors, new_counts, spare=False):
        """Rows for new keys at the end. ``spare``: leave room for more (add_vector one
        at a time then costs O(1) amortised instead of a copy of everything each time)."""
        keys, index = self._editable()
        n = len(keys)
        for k, key in enumerate(new_keys):
            index[key] = n + k
        keys.extend(new_keys)
        grow = getattr(self, "_grow", {})
        self.vectors, grow["vectors"] = _grown(self.vectors, new_vectors, spare, grow.get("vectors"))
        if self.counts is not None or new_counts is not None:
            old = self.counts if self.counts is not None else np.zeros(n, dtype=np.int64)
            add = new_counts if new_counts is not None else np.zeros(len(new_keys), dtype=np.int64)
            self.counts, grow["counts"] = _grown(old, add, spare, grow.get("counts"))
        self._grow = grow

    @staticmethod
    def _check_key(key, where):
        if not isinstance(key, _KEY_TYPES) or isinstance(key, bool):
            raise TypeError(f"{where}: keys must be str or int, got {type(key).__name__} {key!r:.40}")

    def add_vector(self, key, vector):
        """Add ``vector`` under ``key``, in the next empty slot of
        ``KeyedVectors(vector_size, count=N)`` or at the end; returns its row. A key
        already present keeps its vector (use ``kv[key] = vector`` to replace it) and
        its row is returned, as ``add_vectors`` without ``replace`` does."""
        self._check_key(key, "add_vector")
        w = self._weights(vector, 1)
        i = self._find(key)
        if i >= 0:
            return i
        keys, index = self._editable()
        slot = self.next_index
        if slot < len(keys) and keys[slot] is None:
            keys[slot] = key
            index[key] = slot
            self.vectors[slot] = w[0]
        else:
            slot = len(keys)
            self._append([key], w, None, spare=True)
        self.next_index = slot + 1
        return slot

    def add_vectors(self, keys, weights, extras=None, replace=False):
        """gensim's: append the vectors of new keys (in the order given); keys already
        present keep their vectors, or get the new ones with ``replace=True``.
        ``extras={"count": counts}`` gives their corpus counts (words added without
        get 0). One key with a 1-D vector is accepted too."""
        if isinstance(keys, _KEY_TYPES):
            keys = [keys]
        keys = list(keys)
        for key in keys:
            self._check_key(key, "add_vectors")
        w = self._weights(weights, len(keys))
        counts = None
        if extras is not None and not hasattr(extras, "items"):
            raise TypeError(f"extras: expected a dict such as {{'count': counts}}, got {type(extras).__name__}")
        for name, value in (extras or {}).items():
            if name != "count":
                raise ValueError(f"extras: only 'count' is kept here, got {name!r}")
            counts = np.asarray(value, dtype=np.int64).reshape(-1)
            if counts.shape != (len(keys),):
                raise ValueError(f"extras['count']: expected {len(keys)} counts, got shape {counts.shape}")
        if len(set(keys)) != len(keys):
            _repeated_key(keys)
        rows = np.array([self._find(k) for k in keys], dtype=np.int64)
        old, new = np.flatnonzero(rows >= 0), np.flatnonzero(rows < 0)
        full = self.next_index >= len(self.vectors)  # no empty slots left to fill
        if replace and len(old):
            self._editable(counts=counts is not None)
            self.vectors[rows[old]] = w[old]
            if counts is not None:
                self.counts[rows[old]] = counts[old]
        if len(new):
            self._append([keys[k] for k in new], w[new], None if counts is None else counts[new])
        if full:
            self.next_index = len(self.vectors)

    def __setitem__(self, keys, weights):
        """``kv["word"] = vector`` or ``kv[["a", "b"]] = vectors``: add or replace."""
        self.add_vectors(keys, weights, replace=True)

    def set_vecattr(self, key, attr, value):
        """gensim's setter; only ``"count"`` exists here."""
        if attr != "count":
            raise KeyError(f"no attribute {attr!r} (fastseq keeps only 'count')")
        i = self.get_index(key)
        self._editable(counts=True)
        self.counts[i] = value

    # ------------------------------------------------------------------ norms
    def fill_norms(self, force=False):
        """Compute the word norms if not yet known (``force``: recompute, e.g. after
        changing ``vectors`` in place)."""
        # (norms of another length: vectors reassigned, e.g. cut to the top N words)
        if self.norms is None or force or len(self.norms) != len(self.vectors):
            self.norms = np.linalg.norm(self.vectors, axis=1).astype(np.float32, copy=False)

    def init_sims(self, replace=False):
        """Old gensim name of ``fill_norms``; ``replace`` is not supported."""
        if replace:
            raise ValueError("init_sims(replace=True) is not supported; use get_normed_vectors()")
        self.fill_norms()

    def get_normed_vectors(self):
        """All vectors scaled to unit length (a new array)."""
        self.fill_norms()
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.vectors / self.norms[:, None]

    def _unit_rows(self, idx):
        """Rows ``idx`` at unit length; a zero row stays zero (gensim's unitvec)."""
        self.fill_norms()
        norms = self.norms[idx]
        return self.vectors[idx] / np.where(norms > 0, norms, 1)[:, None]

    # ------------------------------------------------------------------ query vectors
    def _items(self, positive, negative):
        """(key or vector, weight) pairs as gensim's most_similar reads them."""
        items = []
        for sign, group in ((1.0, _ensure_list(positive)), (-1.0, _ensure_list(negative))):
            for item in group:
                if isinstance(item, (str, int, np.integer, np.ndarray)):
                    items.append((item, sign))
                else:
                    key, weight = item
                    items.append((key, float(weight)))
        return items

    def _mean_queries(self, queries):
        """Unit mean vectors (B, dim) float32 of B lists of (key or vector, weight), and for
        each query the rows of its keys (left out of its answers).

        gensim's get_mean_vector(pre_normalize=True, post_normalize=True): the weighted
        sum of unit vectors in float32, divided by the summed |weight|, normalised."""
        self.fill_norms()
        dim = self.vector_size
        q_of, rows, weights, vec_at, vecs = [], [], [], [], []
        exclude = []
        for q, items in enumerate(queries):
            if not items:
                raise ValueError("cannot compute similarity with no input")
            ex = []
            for key, w in items:
                if isinstance(key, np.ndarray):
                    if key.shape != (dim,):
                        raise ValueError(f"query vector has shape {key.shape}, expected ({dim},)")
                    vec_at.append(len(rows))
                    vecs.append(key)
                    rows.append(0)
                else:
                    i = self.get_index(key)
                    rows.append(i)
                    ex.append(i)
                q_of.append(q)
                weights.append(w)
            exclude.append(ex)
        rows = np.asarray(rows, dtype=np.int64)
        terms = np.empty((len(rows), dim), dtype=np.float32)
        is_key = np.ones(len(rows), dtype=bool)
        is_key[vec_at] = False
        terms[is_key] = self._unit_rows(rows[is_key])
        if vec_at:
            terms[vec_at] = np.asarray(vecs, dtype=np.float32)
        w = np.asarray(weights, dtype=np.float64)
        terms *= w.astype(np.float32)[:, None]
        means = np.zeros((len(queries), dim), dtype=np.float32)
        np.add.at(means, np.asarray(q_of, dtype=np.int64), terms)   # in order, like gensim's +=
        total = np.zeros(len(queries), dtype=np.float64)
        np.add.at(total, np.asarray(q_of, dtype=np.int64), np.abs(w))
        return self._unit(means, total), exclude

    @staticmethod
    def _unit(means, total=None):
        m = means.astype(np.float64)
        if total is not None:
            ok = total > 0
            m[ok] /= total[ok, None]
        length = np.sqrt(np.einsum("ij,ij->i", m, m))
        ok = length > 0
        m[ok] *= (1.0 / length[ok])[:, None]
        return m.astype(np.float32)

    # ------------------------------------------------------------------ scoring core
    def _restrict(self, restrict_vocab):
        n = len(self)
        if restrict_vocab is not None and (isinstance(restrict_vocab, bool) or
                                           not isinstance(restrict_vocab, (int, np.integer))
                                           or restrict_vocab < 0):
            raise ValueError(f"restrict_vocab: expected a whole number >= 0, got {restrict_vocab!r}")
        return n if not restrict_vocab else min(int(restrict_vocab), n)

    def _block_rows(self, n):
        return max(1, min(1024, _BLOCK_BYTES // max(4 * n, 1)))

    def _scores(self, Q, n):
        """Q (B, dim) against the first n words: (B, n) float32 dot products."""
        V = self.vectors[:n]
        if Q.shape[0] == 1:
            return np.dot(V, Q[0])[None, :]      # one query: BLAS gemv, as gensim does
        return np.dot(Q, V.T)

    def _unit_half(self):
        """(float16 unit vectors, the largest of their norms) for the float16 first pass,
        or None when it cannot be exact: a row whose norm in ``norms`` is far from its
        own (after an in-place change without ``fill_norms(force=True)``)."""
        self.fill_norms()
        V, N = self.vectors, self.norms
        h = self._half
        if h is None or h[0] is not V or h[1] is not N:
            U, top = _kv.half_build(V, np.ascontiguousarray(N, dtype=np.float32), simd_level(),
                                    get_num_threads())
            self._half = h = (V, N, U if np.isfinite(top) and top <= 2.0 else None, top)
        return None if h[2] is None else (h[2], h[3])

    def _topk(self, Q, exclude, topn, n):
        """Best ``topn`` of the first n words for each row of Q (unit vectors), skipping
        each query's own rows. Returns (idx, val) arrays (B, k), -1 padded."""
        B = Q.shape[0]
        k = max(1, min(topn, n))
        out_idx = np.full((B, k), -1, dtype=np.int64)
        out_val = np.full((B, k), -np.inf, dtype=np.float32)
        if n == 0 or B == 0:
            return out_idx, out_val
        self.fill_norms()
        threads, simd = get_num_threads(), simd_level()
        wide_simd = _kv.half_level(simd) > 0     # AVX2 or AVX-512 with F16C (else: NumPy's BLAS)
        V = self.vectors
        if (B == 1 and self.float16_search and wide_simd and n * V.shape[1] >= _HALF_MIN_NUMBERS
                and 64 * k <= n and V.dtype == np.float32 and V.flags.c_contiguous):
            half = self._unit_half()
            if half is not None:
                ex = np.asarray(exclude[0], dtype=np.int64)
                idx, val, _ = _kv.topk_half(Q[0], k, half[0], V, self.norms, n, half[1], ex, simd, threads)
                return idx[None, :], val[None, :]
        norms = np.ascontiguousarray(self.norms[:n], dtype=np.float32)
        step = self._block_rows(n)
        if wide_simd and B >= _GEMM_MIN_QUERIES:
            Vn = np.ascontiguousarray(V[:n], dtype=np.float32)   # a copy only for other layouts
        for s in range(0, B, step):
            Qb = np.ascontiguousarray(Q[s:s + step], dtype=np.float32)
            ex = exclude[s:s + step]
            starts = np.zeros(len(ex) + 1, dtype=np.int64)
            np.cumsum([len(e) for e in ex], out=starts[1:])
            flat = np.fromiter((i for e in ex for i in e), dtype=np.int64, count=int(starts[-1]))
            if len(Qb) >= _GEMM_MIN_QUERIES and wide_simd:
                # vectors . queries^T with the recurrent kernels' product (AVX-512/AVX2 micro-
                # kernel: ~2x NumPy's OpenBLAS at these shapes here), top-k down the columns
                St = np.empty((n, len(Qb)), dtype=np.float32)
                _rnn.gemm_nt(Vn, Qb, St, simd=simd, n_threads=threads)
                out_idx[s:s + step], out_val[s:s + step] = _kv.topk(St, k, norms, starts, flat, threads,
                                                                    transposed=True)
                continue
            S = np.ascontiguousarray(self._scores(Qb, n), dtype=np.float32)
            out_idx[s:s + step], out_val[s:s + step] = _kv.topk(S, k, norms, starts, flat, threads)
        return out_idx, out_val

    def _results(self, idx, val, topn):
        keys = self.index_to_key if self._index_to_key is not None or len(self) < 100000 else None
        out = []
        for row_i, row_v in zip(idx.tolist(), val.tolist()):
            res = []
            for i, v in zip(row_i, row_v):
                if i < 0 or len(res) == topn:
                    break
                res.append((keys[i] if keys is not None else self._native.key_bytes(i).decode("utf-8"), v))
            out.append(res)
        return out

    # ------------------------------------------------------------------ queries
    def most_similar(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """The ``topn`` words closest (cosine) to the mean of the unit vectors of
        ``positive`` minus those of ``negative`` (3CosAdd); the query words are left out.

        Entries are words, rows (int), vectors, or ``(word, weight)`` pairs.
        ``restrict_vocab=N`` searches only the first N words. ``topn=None`` returns the
        similarity of every word (a float32 array, query words included).

        Returns a list of ``(word, cosine)``, best first (ties: the earlier word)."""
        if isinstance(topn, Integral) and topn < 1:
            return []
        Q, exclude = self._mean_queries([self._items(positive, negative)])
        n = self._restrict(restrict_vocab)
        if not topn:
            self.fill_norms()
            with np.errstate(divide="ignore", invalid="ignore"):
                return self._scores(Q, n)[0] / self.norms[:n]
        idx, val = self._topk(Q, exclude, int(topn), n)
        return self._results(idx, val, int(topn))[0]

    def most_similar_batch(self, positive, negative=None, topn=10, restrict_vocab=None):
        """``most_similar`` for many queries at once: one matrix product per block of
        queries instead of one pass over the vectors per query.

        ``positive`` is a list with one entry per query (a word, a vector, or a list of
        them); ``negative`` is None or a list of the same length. Returns a list of
        result lists, equal to calling ``most_similar`` on each query."""
        positive = list(positive)
        if negative is None:
            negative = [None] * len(positive)
        negative = list(negative)
        if len(negative) != len(positive):
            raise ValueError(f"negative has {len(negative)} queries, positive has {len(positive)}")
        if isinstance(topn, Integral) and topn < 1:
            return [[] for _ in positive]
        if topn is None:
            raise ValueError("most_similar_batch needs an integer topn")
        if not positive:
            return []
        Q, exclude = self._mean_queries([self._items(p, q) for p, q in zip(positive, negative)])
        idx, val = self._topk(Q, exclude, int(topn), self._restrict(restrict_vocab))
        return self._results(idx, val, int(topn))

    def similar_by_key(self, key, topn=10, restrict_vocab=None):
        """``most_similar(positive=[key])``."""
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    similar_by_word = similar_by_key

    def similar_by_vector(self, vector, topn=10, restrict_vocab=None):
        """Words closest to ``vector``; a 2-D array is a batch (one result list per row)."""
        vector = np.asarray(vector)
        if vector.ndim == 2:
            return self.most_similar_batch(list(vector), topn=topn, restrict_vocab=restrict_vocab)
        return self.most_similar(positive=[vector], topn=topn, restrict_vocab=restrict_vocab)

    def _cosmul_dists(self, S, n_pos):
        """gensim's 3CosMul from stacked scores S (terms, n) of the positive then the
        negative terms: prod((1 + cos) / 2) over positive / (prod over negative + 1e-6)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            D = (1 + S / self.norms[:S.shape[1]]) / 2
        pos = np.prod(D[:n_pos], axis=0)
        neg = np.prod(D[n_pos:], axis=0) + 0.000001
        return pos / neg

    def most_similar_cosmul(self, positive=None, negative=None, topn=10, restrict_vocab=None):
        """3CosMul (Levy and Goldberg 2014, eq. 4, cosines shifted to [0, 1]):
        ``prod((1 + cos(w, p)) / 2) / (prod((1 + cos(w, n)) / 2) + 1e-6)``.
        Same arguments and result as ``most_similar`` (unlike gensim, ``restrict_vocab``
        is honoured)."""
        if isinstance(topn, Integral) and topn < 1:
            return []
        pos, neg = _ensure_list(positive), _ensure_list(negative)
        if not pos:
            raise ValueError("cannot compute similarity with no input")
        exclude = [self.get_index(k) for k in pos + neg if not isinstance(k, np.ndarray)]
        terms = [self.get_vector(k, norm=True) if not isinstance(k, np.ndarray) else np.asarray(k, np.float32)
                 for k in pos + neg]
        n = self._restrict(restrict_vocab)
        self.fill_norms()
        S = self._scores(np.vstack(terms), n) if len(terms) > 1 else self._scores(terms[0][None, :], n)
        dists = self._cosmul_dists(S, len(pos))
        if not topn:
            return dists
        idx, val = _kv.topk(np.ascontiguousarray(dists[None, :], dtype=np.float32), max(1, min(int(topn), n)),
                            None, np.array([0, len(exclude)], dtype=np.int64), np.asarray(exclude, np.int64))
        return self._results(idx, val, int(topn))[0]

    def similarity(self, w1, w2):
        """Cosine similarity of two words (0 with a zero vector, as gensim's)."""
        a, b = self._unit_rows([self.get_index(w1), self.get_index(w2)])
        return float(np.dot(a, b))

    def _pair_similarities(self, left, right):
        """Cosine of rows left[i] and right[i], for arrays of rows."""
        return np.einsum("ij,ij->i", self._unit_rows(left), self._unit_rows(right)).astype(np.float64)

    def distance(self, w1, w2):
        """Cosine distance, ``1 - similarity(w1, w2)``."""
        return 1 - self.similarity(w1, w2)

    def n_similarity(self, ws1, ws2):
        """Cosine similarity of the means of two sets of words (raw, not unit, vectors)."""
        if not (len(ws1) and len(ws2)):
            raise ZeroDivisionError("At least one of the passed list is empty.")
        m1 = self.get_mean_vector(ws1, pre_normalize=False, ignore_missing=False)
        m2 = self.get_mean_vector(ws2, pre_normalize=False, ignore_missing=False)
        m1, m2 = self._unit(m1[None, :])[0], self._unit(m2[None, :])[0]
        return float(np.dot(m1, m2))

    def get_mean_vector(self, keys, weights=None, pre_normalize=True, post_normalize=False,
                        ignore_missing=True):
        """Weighted mean of the vectors of ``keys`` (words, rows or vectors); unit vectors
        first with ``pre_normalize``, a unit result with ``post_normalize``. Unknown words
        are skipped with ``ignore_missing``, else raise ``KeyError``."""
        if len(keys) == 0:
            raise ValueError("cannot compute mean with no input")
        weights = np.ones(len(keys), np.float32) if weights is None else np.asarray(weights, dtype=np.float32)
        if weights.shape != (len(keys),):
            raise ValueError("keys and weights array must have same number of elements")
        mean = np.zeros(self.vector_size, np.float32)
        total = 0.0
        for key, w in zip(keys, weights):
            if isinstance(key, np.ndarray):
                mean += w * key
            elif self.has_index_for(key):
                mean += w * self.get_vector(key, norm=pre_normalize)
            elif not ignore_missing:
                raise KeyError(self._unknown(key))
            else:
                continue
            total += abs(float(w))
        if total > 0:
            mean = mean / total
        if post_normalize:
            mean = self._unit(mean[None, :])[0]
        return mean.astype(np.float32)

    @staticmethod
    def cosine_similarities(vector_1, vectors_all):
        """Cosine of ``vector_1`` with each row of ``vectors_all``."""
        norm = np.linalg.norm(vector_1)
        all_norms = np.linalg.norm(vectors_all, axis=1)
        return np.dot(vectors_all, vector_1) / (norm * all_norms)

    def distances(self, word_or_vector, other_words=()):
        """Cosine distances from a word or vector to ``other_words`` (default: every word)."""
        if isinstance(word_or_vector, _KEY_TYPES):
            v = self.get_vector(word_or_vector)
        else:
            v = np.asarray(word_or_vector)
        if not other_words:
            self.fill_norms()
            with np.errstate(divide="ignore", invalid="ignore"):
                return 1 - np.dot(self.vectors, v) / (np.linalg.norm(v) * self.norms)
        rows = [self.get_index(w) for w in other_words]
        return 1 - self.cosine_similarities(v, self.vectors[rows])

    def closer_than(self, key1, key2):
        """Words closer to ``key1`` than ``key2`` is."""
        d = self.distances(key1)
        i1, i2 = self.get_index(key1), self.get_index(key2)
        idx = np.flatnonzero(d < d[i2])
        return [self.index_to_key[i] for i in idx if i != i1]

    def rank(self, key1, key2):
        """Rank of ``key2`` among the neighbours of ``key1`` (1 = nearest)."""
        d = self.distances(key1)
        i1, i2 = self.get_index(key1), self.get_index(key2)
        closer = d < d[i2]
        return int(closer.sum()) - int(closer[i1]) + 1

    def most_similar_to_given(self, key1, keys_list):
        """The word of ``keys_list`` most similar to ``key1``."""
        return keys_list[int(np.argmax([self.similarity(key1, k) for k in keys_list]))]

    def rank_by_centrality(self, words, use_norm=True):
        """``(cosine to the centroid, word)`` pairs, most central first."""
        if not words:
            raise ValueError("cannot select a word from an empty list")
        vectors = np.vstack([self.get_vector(w, norm=use_norm) for w in words]).astype(np.float32)
        mean = np.zeros(self.vector_size, np.float32)
        for v in vectors:       # in order, as gensim sums them
            mean += v
        mean = self._unit(mean[None, :], np.array([float(len(words))]))[0]
        dists = np.dot(vectors, mean)
        return sorted(zip(dists.tolist(), words), reverse=True)

    def doesnt_match(self, words):
        """The word of ``words`` furthest from the centroid of them all. Unlike gensim,
        an unknown word raises ``KeyError`` instead of being dropped."""
        return self.rank_by_centrality(list(words))[-1][1]

    # ------------------------------------------------------------------ batch internals
    def _topk_from_indices(self, positive, negative, exclude, topn, restrict_vocab):
        """3CosAdd for rows of word indices (B, p) / (B, m): a vectorised ``most_similar``."""
        self.fill_norms()
        pos_u = [self._unit_rows(positive[:, j]) for j in range(positive.shape[1])]
        neg_u = [self._unit_rows(negative[:, j]) for j in range(negative.shape[1])]
        mean = np.zeros_like(pos_u[0])
        for u in pos_u:
            mean += u
        for u in neg_u:
            mean -= u
        total = np.full(len(mean), float(len(pos_u) + len(neg_u)))
        Q = self._unit(mean, total)
        return self._topk(Q, exclude.tolist(), topn, self._restrict(restrict_vocab))

    def _cosmul_topk_from_indices(self, positive, negative, exclude, topn, restrict_vocab):
        """3CosMul for rows of word indices, in blocks of queries."""
        self.fill_norms()
        n = self._restrict(restrict_vocab)
        B, p = positive.shape
        terms_idx = np.concatenate([positive, negative], axis=1)      # (B, p + m)
        t = terms_idx.shape[1]
        k = max(1, min(topn, n))
        out_idx = np.full((B, k), -1, dtype=np.int64)
        out_val = np.full((B, k), -np.inf, dtype=np.float32)
        step = max(1, self._block_rows(n) // t)
        threads = get_num_threads()
        for s in range(0, B, step):
            rows = terms_idx[s:s + step]
            U = self._unit_rows(rows.reshape(-1))
            S = self._scores(U, n).reshape(rows.shape[0], t, n)
            with np.errstate(divide="ignore", invalid="ignore"):
                D = (1 + S / self.norms[:n]) / 2
            dists = np.prod(D[:, :p], axis=1) / (np.prod(D[:, p:], axis=1) + 0.000001)
            ex = exclude[s:s + step]
            starts = np.arange(0, ex.size + 1, ex.shape[1], dtype=np.int64)
            out_idx[s:s + step], out_val[s:s + step] = _kv.topk(
                np.ascontiguousarray(dists, dtype=np.float32), k, None, starts,
                np.ascontiguousarray(ex.reshape(-1), dtype=np.int64), threads)
        return out_idx, out_val

    # ------------------------------------------------------------------ evaluation
    def evaluate_word_analogies(self, analogies, restrict_vocab=300000, case_insensitive=True,
                                dummy4unknown=False, similarity_function="most_similar"):
        """Accuracy on an analogy file in word2vec's ``questions-words.txt`` format
        (``: section`` lines, then ``A B C D`` meaning A is to B as C is to D).

        Follows gensim: only the first ``restrict_vocab`` words are used; with
        ``case_insensitive`` words are compared upper-cased (the most frequent case
        variant stands for the word); a question with a word outside that vocabulary is
        skipped (``dummy4unknown``: counted as wrong); the answer is the best of
        ``most_similar(positive=[B, C], negative=[A], topn=5)`` that is not A, B or C
        (``similarity_function="most_similar_cosmul"`` for 3CosMul).

        Returns ``(accuracy, sections)``: sections are dicts with ``section`` (its name),
        ``correct`` and ``incorrect`` (lists of the questions) and ``oov`` (questions
        skipped for unknown words); the last is ``"Total accuracy"``."""
        return evaluate.evaluate_word_analogies(self, analogies, restrict_vocab, case_insensitive,
                                                dummy4unknown, similarity_function)

    def evaluate_word_pairs(self, pairs, delimiter="\t", encoding="utf8", restrict_vocab=300000,
                            case_insensitive=True, dummy4unknown=False):
        """Correlation with human similarity judgements (WordSim-353 / SimLex-999 style:
        ``word1<TAB>word2<TAB>score`` lines, ``#`` comments).

        Returns ``(pearson, spearman, oov_ratio)``: each correlation is
        ``(statistic, pvalue)``; ``oov_ratio`` is the percentage of pairs skipped for
        unknown words (counted with similarity 0 instead under ``dummy4unknown``)."""
        return evaluate.evaluate_word_pairs(self, pairs, delimiter, encoding, restrict_vocab,
                                            case_insensitive, dummy4unknown)

    # ------------------------------------------------------------------ files
    @classmethod
    def load(cls, path, limit=None, mmap=True, unicode_errors="strict"):
        """Read vectors from any supported file, recognised by its content.

        Formats: fastseq native (memory-mapped unless ``mmap=False``), word2vec binary
        and text (also fastText ``.vec``), GloVe text, gzip/bzip2 compressed text or
        binary, and fastseq ``Word2Vec`` model files. ``limit=N`` keeps the first N
        vectors. ``unicode_errors`` ("strict", "replace", "ignore") decides what
        invalid UTF-8 in a word does."""
        path = os.fspath(path)
        fmt = formats.container(path)
        if fmt == "native":
            return cls._from_native(formats.NativeFile(path, limit=limit, mmap_mode=bool(mmap)))
        if fmt == "model":
            from .word2vec import Word2Vec
            wv = Word2Vec.load(path).wv
            if limit is not None and limit < len(wv):
                counts = None if wv.counts is None else wv.counts[:limit]
                wv = cls(wv.index_to_key[:limit], wv.vectors[:limit], counts=counts)
            return wv
        keys, vectors, _ = formats.read_word2vec(path, limit=limit, unicode_errors=unicode_errors)
        return cls(keys, vectors)

    @classmethod
    def load_word2vec_format(cls, fname, fvocab=None, binary=False, encoding="utf8", unicode_errors="strict",
                             limit=None, datatype=np.float32, no_header=False):
        """gensim's reader, for word2vec.c binary/text and GloVe files.

        ``binary`` and ``no_header`` are accepted for compatibility; the file's content
        decides (a binary file read with ``binary=False`` still loads). ``encoding``
        is UTF-8 ("utf8", "utf-8", "utf_8", or "utf-8-sig": a byte order mark at the
        start is skipped in any case). ``fvocab`` reads
        word counts from word2vec.c's ``-save-vocab`` file."""
        if np.dtype(datatype) != np.float32:
            raise ValueError(f"datatype {np.dtype(datatype)}: fastseq keeps vectors as float32")
        if encoding.lower().replace("-", "").replace("_", "") not in ("utf8", "utf8sig"):
            raise ValueError(f"encoding {encoding!r}: fastseq reads UTF-8 words only")
        keys, vectors, _ = formats.read_word2vec(fname, limit=limit, unicode_errors=unicode_errors)
        counts = None
        if fvocab is not None:
            table = formats.read_vocab_counts(fvocab, unicode_errors)
            missing = [k for k in keys if k not in table]
            if missing:
                raise ValueError(f"{fvocab}: no count for {len(missing)} word(s) of {fname}, "
                                 f"e.g. {missing[0]!r}")
            counts = [table[k] for k in keys]
        return cls(keys, vectors, counts=counts)

    def _check_filled(self):
        if self._index_to_key is not None and None in self._index_to_key:
            empty = self._index_to_key.count(None)
            raise ValueError(f"{empty} empty slot(s) left from KeyedVectors(vector_size, count=...): "
                             "fill them with add_vector() before saving")

    def save(self, path, format="native"):
        """Write the vectors: ``format`` is ``"native"`` (fastseq's memory-mappable file,
        with counts), ``"bin"`` or ``"text"`` (word2vec) or ``"glove"`` (text, no header).
        Written to a temporary file renamed at the end."""
        if format not in _FORMATS:
            raise ValueError(f"format must be one of {', '.join(_FORMATS)}; got {format!r}")
        self._check_filled()
        if format == "native":
            self.fill_norms()
            formats.write_native(path, self.index_to_key, self.vectors, self.norms, self.counts)
        else:
            formats.write_word2vec(path, self.index_to_key, self.vectors, binary=format == "bin",
                                   write_header=format != "glove")

    def save_word2vec_format(self, fname, fvocab=None, binary=False, write_header=True):
        """gensim's writer: word2vec.c binary (``binary=True``) or text; no header gives
        GloVe's format. ``fvocab`` also writes word2vec.c's vocabulary file (needs counts).
        Words are written in row order. Atomic."""
        self._check_filled()
        if fvocab is not None:
            if self.counts is None:
                raise ValueError("fvocab: these vectors carry no word counts")
            formats.write_vocab_counts(fvocab, self.index_to_key, self.counts)
        formats.write_word2vec(fname, self.index_to_key, self.vectors, binary=binary, write_header=write_header)
