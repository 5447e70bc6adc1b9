# Thin wrapper around csrc/fs_w2v.c: check shapes, release the GIL, call, map status.
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from fastseq._csrc cimport *

include "_common.pxi"

SIMD_NAMES = {"generic": 0, "avx2": 1, "avx512": 2}


def simd_best():
    """Name of the best SIMD path this CPU runs."""
    cdef int lvl = fs_simd_best()
    return {v: k for k, v in SIMD_NAMES.items()}[lvl]


cdef class Params:
    cdef fs_w2v_params c

    def __init__(self, int dim, int window, int negative, bint hs, bint sg,
                 bint cbow_mean=True, bint shared_negatives=True, int simd=-1,
                 uint64_t seed=0, bint shrink_windows=True):
        self.c.dim = dim
        self.c.window = window
        self.c.negative = negative
        self.c.hs = hs
        self.c.sg = sg
        self.c.cbow_mean = cbow_mean
        self.c.shared_negatives = shared_negatives
        self.c.shrink_windows = shrink_windows
        self.c.simd = simd
        self.c.seed = seed

    property seed:
        def __get__(self):
            return self.c.seed

        def __set__(self, uint64_t v):
            self.c.seed = v


def _check_rows(name, arr, long rows, int dim):
    if arr.shape[0] != rows or arr.shape[1] != dim:
        raise ValueError(f"{name}: expected shape ({rows}, {dim}), got {tuple(arr.shape)}")


def train_batch(Params p, float[:, ::1] syn0, float[:, ::1] syn1neg, float[:, ::1] syn1,
                const int32_t[::1] tokens, const int64_t[::1] sent_start,
                const float[::1] sent_alpha,
                const float[::1] neg_prob, const int32_t[::1] neg_alias,
                const int64_t[::1] hs_offset, const int32_t[::1] hs_point,
                const uint8_t[::1] hs_code, int n_threads=1, const float[::1] keep_prob=None):
    """Train one batch in place; returns (summed loss, number of predictions).

    Sentences are tokens[sent_start[s]:sent_start[s+1]] with learning rate
    sent_alpha[s]; a token -1 (the id stream's sentence separator) is skipped.
    syn1neg/neg_* are None without negative sampling and syn1/hs_* are None
    without hierarchical softmax. keep_prob (one per word) subsamples each
    sentence first; None keeps every word."""
    cdef int64_t n_vocab = syn0.shape[0]
    cdef int dim = p.c.dim
    _check_rows("syn0", syn0, n_vocab, dim)
    if p.c.negative:
        if syn1neg is None or neg_prob is None or neg_alias is None:
            raise ValueError("negative sampling needs syn1neg, neg_prob and neg_alias")
        _check_rows("syn1neg", syn1neg, n_vocab, dim)
        if neg_prob.shape[0] != n_vocab or neg_alias.shape[0] != n_vocab:
            raise ValueError(f"neg_prob/neg_alias: expected length {n_vocab}")
    if p.c.hs:
        if syn1 is None or hs_offset is None or hs_point is None or hs_code is None:
            raise ValueError("hierarchical softmax needs syn1, hs_offset, hs_point and hs_code")
        _check_rows("syn1", syn1, max(n_vocab - 1, 1), dim)
        if hs_offset.shape[0] != n_vocab + 1:
            raise ValueError(f"hs_offset: expected length {n_vocab + 1}, got {hs_offset.shape[0]}")
        if hs_point.shape[0] != hs_code.shape[0] or hs_point.shape[0] < hs_offset[n_vocab]:
            raise ValueError("hs_point/hs_code: shorter than hs_offset says")
    if keep_prob is not None and keep_prob.shape[0] != n_vocab:
        raise ValueError(f"keep_prob: expected length {n_vocab}, got {keep_prob.shape[0]}")
    cdef int64_t n_sent = sent_start.shape[0] - 1
    if n_sent < 0:
        raise ValueError("sent_start: needs at least one entry")
    if sent_alpha.shape[0] != n_sent:
        raise ValueError(f"sent_alpha: expected length {n_sent}, got {sent_alpha.shape[0]}")
    if n_sent > 0 and (sent_start[0] < 0 or sent_start[n_sent] > tokens.shape[0]):
        raise ValueError("sent_start: spans run outside tokens")

    if tokens.shape[0] == 0:
        # every word of the batch dropped (subsampled away, or none in the vocabulary):
        # nothing to train, and no token array to hand the kernel
        return 0.0, 0

    cdef float *s1n = &syn1neg[0, 0] if p.c.negative else NULL
    cdef float *s1 = &syn1[0, 0] if p.c.hs else NULL
    cdef const float *np_ = &neg_prob[0] if p.c.negative else NULL
    cdef const int32_t *na = &neg_alias[0] if p.c.negative else NULL
    cdef const int64_t *ho = &hs_offset[0] if p.c.hs else NULL
    cdef const int32_t *hp = &hs_point[0] if (p.c.hs and hs_point.shape[0]) else NULL
    cdef const uint8_t *hc = &hs_code[0] if (p.c.hs and hs_code.shape[0]) else NULL
    cdef const int32_t *tok = &tokens[0]
    cdef const float *sa = &sent_alpha[0] if n_sent else NULL
    cdef const float *kp = &keep_prob[0] if keep_prob is not None else NULL
    cdef double loss = 0.0
    cdef int64_t n_ex = 0
    cdef fs_status st
    if p.c.hs and hp == NULL:
        raise ValueError("hs_point: empty (a vocabulary of one word has no tree)")
    with nogil:
        st = fs_w2v_train_batch(&p.c, &syn0[0, 0], s1n, s1, n_vocab, tok, &sent_start[0],
                                sa, n_sent, np_, na, ho, hp, hc, kp, n_threads, &loss, &n_ex)
    check_status(st, "word2vec training")
    return loss, n_ex


def subsample(const int32_t[::1] tokens, const float[::1] keep_prob, uint64_t seed):
    """The kernel's subsampling of one token run (fs_w2v_subsample) with a
    generator seeded by ``seed``: the kept ids, separators (-1) dropped."""
    import numpy as np
    cdef int64_t n = tokens.shape[0], i, k = 0
    cdef int64_t n_vocab = keep_prob.shape[0]
    for i in range(n):
        if tokens[i] < -1 or tokens[i] >= n_vocab:
            raise ValueError(f"tokens[{i}]: {tokens[i]} is not a word id below {n_vocab} or -1")
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] o = out
    cdef uint64_t rng = seed
    # (an empty table can only meet separators, which the C side never looks up)
    cdef const float *kp = &keep_prob[0] if n_vocab else NULL
    if n:
        with nogil:
            k = fs_w2v_subsample(&tokens[0], n, kp, &rng, &o[0])
    return out[:k]


def alias_table(const double[::1] weights):
    """Walker alias table (prob float32, alias int32) for sampling i ~ weights[i]."""
    import numpy as np
    n = weights.shape[0]
    prob = np.empty(n, dtype=np.float32)
    alias = np.empty(n, dtype=np.int32)
    cdef float[::1] pv = prob
    cdef int32_t[::1] av = alias
    if n == 0:
        raise ValueError("weights: empty")
    cdef fs_status st
    with nogil:
        st = fs_alias_build(&weights[0], n, &pv[0], &av[0])
    check_status(st, "alias_table")
    return prob, alias


# ---------------------------------------------------------------------------
# Words of UTF-8 text (csrc/fs_vocab.c): the vocabulary scan's counts and the
# first epoch's word -> id lookup.
#
# Both give what the Python paths in corpus.Corpus give (str.split() on each
# line of a chunk, a Counter / dict lookups) for a chunk whose only whitespace
# is ASCII whitespace (the caller checks: corpus._UNICODE_SPACE), at ~20
# nanoseconds a word instead of ~0.2 us. Words are matched as UTF-8 bytes.
from libc.stdlib cimport malloc, free


def _utf8_words(dict index):
    """(text, start, ids): the UTF-8 of the keys of ``index`` that str.split() can
    give (str, not empty, no whitespace, encodable) back to back, word k at
    text[start[k]:start[k + 1]], and their ids. Vectorised for the usual case of
    a vocabulary whose every key qualifies (~5 ms for 100,000 words)."""
    import numpy as np
    keys = list(index)
    try:
        joined = "\n".join(keys)
        blob = joined.encode("utf-8") if joined.split() == keys else None
    except (TypeError, UnicodeEncodeError):
        blob = None
    if blob is not None:
        ids = np.fromiter(index.values(), dtype=np.int64, count=len(keys))
        arr = np.frombuffer(blob, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        start = np.empty(len(keys) + 1, dtype=np.int64)
        start[0] = 0
        start[1:-1] = nl - np.arange(len(nl))  # the separators before word k + 1 are k + 1
        start[-1] = len(arr) - len(nl)
        return arr[arr != 10].tobytes() if len(nl) else blob, start, ids
    words, wids = [], []
    for w, i in index.items():
        # a word with whitespace can never come out of str.split(); one that does
        # not encode (a lone surrogate) cannot be in UTF-8 text
        if isinstance(w, str) and w and not any(c.isspace() for c in w):
            try:
                words.append(w.encode("utf-8"))
                wids.append(i)
            except UnicodeEncodeError:
                pass
    start = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=start[1:])
    return b"".join(words), start, np.array(wids, dtype=np.int64)


cdef class Utf8Vocab:
    """Open-addressing table of a vocabulary's words ({word: id}) as UTF-8 bytes."""
    cdef bytes blob
    cdef int64_t *start      # (n_words + 1) offsets of each word in blob
    cdef int32_t *word_id    # (n_words)
    cdef fs_vslot *slots     # (mask + 1) slots
    cdef fs_vtable table
    cdef Py_ssize_t n

    def __cinit__(self, dict index):
        blob, start_arr, ids_arr = _utf8_words(index)
        cdef const int64_t[::1] st = start_arr
        cdef const int64_t[::1] ids = ids_arr
        self.n = ids.shape[0]
        self.blob = blob
        cdef Py_ssize_t size = 16
        while size < 2 * self.n + 16:
            size *= 2
        self.start = <int64_t *> malloc(sizeof(int64_t) * (self.n + 1))
        self.word_id = <int32_t *> malloc(sizeof(int32_t) * (self.n + 1))
        self.slots = <fs_vslot *> malloc(sizeof(fs_vslot) * size)
        if not self.start or not self.word_id or not self.slots:
            raise MemoryError("Utf8Vocab")
        cdef Py_ssize_t k
        for k in range(self.n):
            self.start[k] = st[k]
            self.word_id[k] = <int32_t> ids[k]
        self.start[self.n] = st[self.n]
        self.table.text = self.blob
        self.table.start = self.start
        self.table.word_id = self.word_id
        self.table.slots = self.slots
        self.table.mask = size - 1
        fs_vtable_fill(&self.table, self.n)

    def __dealloc__(self):
        free(self.start)
        free(self.word_id)
        free(self.slots)

    def encode(self, const unsigned char[::1] buf):
        """Ids of the in-vocabulary words of a UTF-8 chunk split at ASCII whitespace,
        -1 after every newline (out-of-vocabulary words dropped)."""
        import numpy as np
        cdef Py_ssize_t n = buf.shape[0]
        out = np.empty(n + 1, dtype=np.int32)
        cdef int32_t[::1] o = out
        cdef Py_ssize_t m = 0
        if n == 0:
            return out[:0]
        with nogil:
            m = fs_utf8_encode(&self.table, &buf[0], n, &o[0])
        return out[:m]  # a view: the caller copies it on (np.concatenate)


cdef class WordCounter:
    """Counts of the words of UTF-8 chunks split at ASCII whitespace, in first-seen
    order; ``max_size`` > 0 prunes as word2vec.c does (fs_vocab.h)."""
    cdef fs_wcount *c

    def __cinit__(self, int64_t max_size=0):
        self.c = fs_wcount_new(max_size)
        if self.c == NULL:
            raise MemoryError("WordCounter")

    def __dealloc__(self):
        fs_wcount_free(self.c)

    def feed(self, const unsigned char[::1] buf, bint ids=False):
        """Count a chunk that ends at whitespace (or at the end of the text). With
        ``ids``, returns the chunk as int32 word indices (first-seen ranks), -1 after
        every newline (meaningless once the table has been pruned)."""
        import numpy as np
        cdef fs_status st = FS_OK
        cdef Py_ssize_t n = buf.shape[0]
        cdef int64_t m = 0
        out = np.empty(n + 1 if ids else 0, dtype=np.int32)
        cdef int32_t[::1] o = out
        cdef int32_t *op = &o[0] if ids else NULL
        if n:
            with nogil:
                st = fs_wcount_feed(self.c, &buf[0], n, op, &m)
        if st == FS_ERR_ARG:
            raise ValueError("more than 2**31 - 2 distinct words: pass max_vocab_size")
        check_status(st, "WordCounter.feed")
        return out[:m] if ids else None

    @property
    def raw(self):
        """Tokens counted."""
        return self.c.raw

    @property
    def lines(self):
        """Lines that hold a word, the one still open included."""
        return self.c.lines + self.c.line_open

    def __len__(self):
        return self.c.n

    def counts(self):
        """{word: count} in first-seen order (words decoded from UTF-8)."""
        cdef int64_t k
        cdef const unsigned char *text = self.c.text
        out = {}
        for k in range(self.c.n):
            out[text[self.c.start[k]:self.c.start[k + 1]].decode("utf-8")] = self.c.count[k]
        return out


def remap_ids(const int32_t[::1] ids, const int32_t[::1] remap, int64_t max_len, int64_t[::1] run):
    """``ids`` (WordCounter indices, -1 separators) mapped through ``remap`` (< 0:
    drop the word), a -1 inserted where a run of words would pass ``max_len``
    (``run[0]`` carries the run's length between calls). Returns (int32 array,
    index of its last -1 or -1)."""
    import numpy as np
    cdef int64_t n = ids.shape[0], m = 0, last = -1
    if max_len < 1:
        raise ValueError(f"max_len: must be >= 1, got {max_len}")
    out = np.empty(n + n // max_len + 1, dtype=np.int32)
    cdef int32_t[::1] o = out
    cdef const int32_t *rp = &remap[0] if remap.shape[0] else NULL
    if n:
        with nogil:
            m = fs_ids_remap(&ids[0], n, rp, remap.shape[0], max_len, &run[0], &o[0], &last)
        if m < 0:
            raise ValueError("remap_ids: an index outside the table")
    return out[:m], last


from cpython.dict cimport PyDict_GetItemWithError
from cpython.ref cimport PyObject


def encode_sentences(block, dict index):
    """Ids of a block of sentences (token lists): each sentence's tokens found in
    ``index`` (token -> id), then -1; the others dropped. Dict lookups at C speed
    (~20 ns a token against ~80 in a Python loop); the GIL is let go every 2,048
    tokens, so that the thread calling the training kernel gets it back soon.
    The output grows if a sentence yields more tokens than its len() said (or
    another thread grows it meanwhile)."""
    import numpy as np
    cdef Py_ssize_t n = 1
    for sentence in block:
        n += len(sentence) + 1
    out = np.empty(n, dtype=np.int32)
    cdef int32_t[::1] o = out
    cdef Py_ssize_t m = 0, k = 0
    cdef PyObject *v
    for sentence in block:
        for tok in (<list> sentence if type(sentence) is list else sentence):
            v = PyDict_GetItemWithError(index, tok)
            if v != NULL:
                if m + 1 >= o.shape[0]:  # (room for this id and the sentence's -1)
                    out = np.concatenate((out, np.empty(o.shape[0], dtype=np.int32)))
                    o = out
                o[m] = <int32_t> (<object> v)
                m += 1
            k += 1
            if (k & 2047) == 0:
                with nogil:
                    pass
        if m >= o.shape[0]:
            out = np.concatenate((out, np.empty(o.shape[0], dtype=np.int32)))
            o = out
        o[m] = -1
        m += 1
    return out[:m]
