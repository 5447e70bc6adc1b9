"""word2vec: skip-gram and CBOW with negative sampling and/or hierarchical softmax.

The heavy lifting is in csrc/fs_w2v.c (training and frequent-word subsampling)
and csrc/fs_vocab.c (a corpus file's word counts and ids); this module does the
vocabulary, batching, learning-rate schedule, progress and model I/O.

Data flow of ``train``: a producer thread reads the ids the vocabulary scan
kept of the file (or reads the corpus and maps its words to ids in the first
epoch, caching them in a temporary file for later epochs), cuts
the id stream into batches of whole sentences and computes each sentence's
learning rate; the main thread hands each batch to the C kernel, which releases
the GIL and runs on all threads, each subsampling a sentence before training it.
"""
from __future__ import annotations

import errno
import json
import os
import queue
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Mapping
from numbers import Integral

import numpy as np

from . import _w2v
from ._atomic import atomic_write
from ._threads import INT_MAX as _INT_MAX, check_threads, get_num_threads, simd_level
from .corpus import OOV, SEP, Corpus, CorpusError, whole_sentences
from .keyedvectors import KeyedVectors
from .vocab import Vocab

MAX_WORDS_IN_BATCH = 10000  # gensim's cap on a sentence's length
_BATCH_WORDS = 1 << 17      # in-vocabulary words per kernel call (before subsampling)
_FORMAT = "fastseq-word2vec"
# Input vectors start uniform in (-4/d, 4/d): 8x word2vec.c's (-0.5/d, 0.5/d) and 4x
# gensim's (-1/d, 1/d). Output weights start at zero, so their first updates are
# proportional to the input vectors: a larger start breaks the symmetry sooner.
# Measured, same seeds, 1 thread (analogy points / WordSim-353, mean over seeds):
# corpus-en skip-gram 30.15 -> 30.95 (x1 -> x8; x2 30.44, x16 31.03), CBOW 29.84 ->
# 30.32; 1M-token slice skip-gram 3.08 -> 3.98 and WordSim 0.266 -> 0.297, CBOW
# 3.10 -> 3.80 and 0.240 -> 0.272.
_INIT_SCALE = 4.0
_FORMAT_VERSION = 2  # 2: the vocabulary as a JSON list (words_json)


class Word2Vec:
    """Train word vectors (gensim's ``Word2Vec`` argument names and defaults).

    Parameters
    ----------
    sentences : iterable of list of str, optional
        A re-iterable corpus (read once per epoch, plus once for the vocabulary, and
        once more to count it when ``train()`` gets another corpus without
        ``total_words`` / ``total_examples``).
    corpus_file : str or path, optional
        A UTF-8 text file (or .gz), one sentence per line. Streamed.
    vector_size, window, min_count, max_vocab_size, max_final_vocab, sample,
    seed, alpha, min_alpha, sg, hs, negative, ns_exponent, cbow_mean, epochs :
        As in gensim / word2vec.c. ``sg=1`` skip-gram, else CBOW; ``hs=1``
        hierarchical softmax; ``negative`` > 0 negative sampling.
        ``max_vocab_size`` prunes while counting as word2vec.c does, at the word
        that overflows (gensim checks after each sentence: on the 1M-token slice
        with 5000, 985 words survive min_count here, 967 in gensim).
    workers : int, optional
        Threads (default: ``fastseq.get_num_threads()``, all cores).
    shared_negatives : bool
        Skip-gram with negative sampling: draw one set of negatives per centre
        word and share it across its window (faster, same quality). False
        draws per (centre, context) pair as word2vec.c does.
    shrink_windows : bool
        As in gensim: True (default) draws each centre word's window from 1 to
        ``window`` (word2vec.c's dynamic window); False always uses ``window``.
    trim_rule : callable, optional
        As in gensim: ``trim_rule(word, count, min_count)`` returns 0 (default:
        keep if count >= min_count), 1 (discard) or 2 (keep), applied to the
        final vocabulary.
    sorted_vocab : bool
        True (default): words by descending count; False: in first-seen order.
    compute_loss : bool
        Accepted for gensim's code; the loss is always tallied (a float64 sum).
    callbacks : sequence
        Objects with any of gensim's ``on_train_begin(model)``,
        ``on_epoch_begin(model)``, ``on_epoch_end(model)``, ``on_train_end(model)``
        (``gensim.models.callbacks.CallbackAny2Vec`` subclasses work unchanged).
    progress : bool
        Show a progress bar on stderr.
    unicode_errors : {'strict', 'replace', 'ignore'}
        What to do with invalid UTF-8 in ``corpus_file``.
    """

    def __init__(self, sentences=None, corpus_file=None, vector_size=100, alpha=0.025, window=5,
                 min_count=5, max_vocab_size=None, sample=1e-3, seed=1, workers=None,
                 min_alpha=0.0001, sg=0, hs=0, negative=5, ns_exponent=0.75, cbow_mean=1,
                 epochs=5, max_final_vocab=None, shared_negatives=True, progress=True,
                 unicode_errors="strict", max_sentence_length=MAX_WORDS_IN_BATCH, shrink_windows=True,
                 trim_rule=None, sorted_vocab=True, compute_loss=False, callbacks=()):
        self.vector_size = _positive_int("vector_size", vector_size)
        self.window = _positive_int("window", window)
        self.epochs = _positive_int("epochs", epochs)
        self.min_count = _nonneg_int("min_count", min_count)
        self.negative = _nonneg_int("negative", negative)
        if max_vocab_size is not None:
            max_vocab_size = _positive_int("max_vocab_size", max_vocab_size, highest=None)
        if max_final_vocab is not None:
            max_final_vocab = _positive_int("max_final_vocab", max_final_vocab, highest=None)
        self.hs = int(bool(hs))
        if self.negative == 0 and not self.hs:
            raise ValueError("negative=0 and hs=0: no training objective (use negative > 0 and/or hs=1)")
        self.alpha = _positive_float("alpha", alpha)
        self.min_alpha = _float("min_alpha", min_alpha)
        if self.min_alpha < 0:  # above alpha: the rate ramps up, as gensim allows
            raise ValueError(f"min_alpha: must be >= 0, got {min_alpha}")
        self.sample = _float("sample", sample)
        if self.sample < 0:
            raise ValueError(f"sample: must be >= 0, got {sample}")
        self.sg = int(bool(sg))
        self.cbow_mean = int(bool(cbow_mean))
        self.ns_exponent = _float("ns_exponent", ns_exponent)
        self.seed = _int_at_least("seed", seed, 0, highest=2**64 - 1)
        self.workers = check_threads("workers", workers) if workers is not None else None
        self.max_vocab_size = max_vocab_size
        self.max_final_vocab = max_final_vocab
        self.shared_negatives = bool(shared_negatives)
        self.shrink_windows = bool(shrink_windows)
        if trim_rule is not None and not callable(trim_rule):
            raise ValueError(f"trim_rule: expected a function (word, count, min_count), got {trim_rule!r:.40}")
        self.trim_rule = trim_rule
        self.sorted_vocab = bool(sorted_vocab)
        self.compute_loss = bool(compute_loss)
        self.callbacks = tuple(callbacks or ())
        self.running_training_loss = 0.0
        self._scanned = None  # what identifies the corpus build_vocab read (_corpus_key)
        self._scan_ids = None  # its word ids as the scan saw them (a file's: _ScanIds)
        self.progress = bool(progress)
        if unicode_errors not in ("strict", "replace", "ignore"):  # (checked before any file is read)
            raise ValueError(f"unicode_errors: expected 'strict', 'replace' or 'ignore', got {unicode_errors!r}")
        self.unicode_errors = unicode_errors
        self.max_sentence_length = _positive_int("max_sentence_length", max_sentence_length)
        self.vocab: Vocab | None = None
        self.wv: KeyedVectors | None = None
        self.syn1neg = None
        self.syn1 = None
        self.epoch_losses: list[float] = []
        self.epoch_examples: list[int] = []
        self.train_seconds = 0.0
        self.train_words = 0
        self.raw_words_trained = 0
        self.scan_seconds = 0.0
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences=sentences, corpus_file=corpus_file)
            self.train(sentences=sentences, corpus_file=corpus_file)

    # ------------------------------------------------------------------ vocabulary
    def build_vocab(self, sentences=None, corpus_file=None, corpus_iterable=None, update=False,
                    trim_rule=None):
        """Scan the corpus once, keep words with count >= min_count, initialise weights.
        ``corpus_iterable`` is gensim 4's name for ``sentences``; ``trim_rule`` replaces
        the model's for this scan.

        ``update=True`` grows a trained model's vocabulary instead, as gensim's does:
        the counts of known words grow by their counts in this corpus, its new words
        with count >= min_count are appended (in the order it first has them) with
        fresh random vectors (their output weights start at zero), and the noise
        distribution, subsampling and Huffman tree are rebuilt from the summed
        counts. The vectors of known words are kept.
        ``corpus_count`` / ``corpus_total_words`` then describe this corpus, so that
        ``train(..., total_examples=model.corpus_count)`` schedules over it."""
        sentences = _either_name(sentences, corpus_iterable)
        if update and self.vocab is None:
            raise RuntimeError("build_vocab(update=True): there is no vocabulary to update yet; "
                               "build one first (update=False)")
        corpus = Corpus(corpus_file=corpus_file, sentences=sentences, unicode_errors=self.unicode_errors)
        t0 = time.perf_counter()
        bar = _bar(self.progress, "vocab", unit="word")
        last = [0]

        def on_progress(raw):
            if bar is not None:
                bar.update(raw - last[0])
                last[0] = raw

        self._drop_scan_ids()
        # the scan's word ids of a file (not when pruning renumbers), for training to read
        key = _scan_key(corpus)
        ids = (_IdCache.create(0, corpus.name, quiet=True)
               if corpus.corpus_file is not None and not self.max_vocab_size else None)
        try:
            try:
                counts, raw, n_sent = corpus.count_words(self.max_vocab_size, on_progress,
                                                         ids.write if ids is not None else None)
            finally:
                if bar is not None:
                    bar.close()
            if raw == 0:
                raise CorpusError(f"{corpus.name}: empty corpus (no words)")
            self._adopt_counts(counts, raw, n_sent, update, trim_rule, corpus.name)
            self.scan_seconds = time.perf_counter() - t0
            self._scanned = _corpus_key(corpus)
            if ids is not None and ids.fd is not None and key is not None and key == _scan_key(corpus):
                self._scan_ids, ids = _ScanIds(ids, key, self.vocab, list(counts)), None
        finally:
            if ids is not None:
                ids.close()
        return self

    def _drop_scan_ids(self):
        if self._scan_ids is not None:
            self._scan_ids.close()
        self._scan_ids = None

    def _scan_ids_for(self, corpus):
        """The scan's ids, when ``corpus`` is the file they came from (unchanged) and
        the vocabulary is the one built from them; else None."""
        s = self._scan_ids
        return s if s is not None and s.usable(_scan_key(corpus), self.vocab) else None

    def build_vocab_from_freq(self, word_freq, keep_raw_vocab=False, corpus_count=None, trim_rule=None,
                              update=False):
        """gensim's: the vocabulary from ``{word: count}`` instead of a scan (then as
        ``build_vocab``: min_count, max_final_vocab, trim_rule, sorting, ``update``).
        ``corpus_count`` is the number of sentences, for ``total_examples``;
        ``keep_raw_vocab`` is accepted for compatibility (no raw counts are kept).
        ``train`` then sizes its schedule by ``total_examples`` / ``total_words`` or
        counts the corpus it gets."""
        if not isinstance(word_freq, Mapping):
            raise TypeError(f"word_freq: expected a dict of word -> count, got {type(word_freq).__name__}")
        if update and self.vocab is None:
            raise RuntimeError("build_vocab_from_freq(update=True): there is no vocabulary to update yet")
        counts = {}
        for w, c in word_freq.items():
            if not isinstance(w, str):
                raise TypeError(f"word_freq: words must be str, got {type(w).__name__} {w!r:.40}")
            if isinstance(c, bool) or not isinstance(c, Integral) or c < 0:
                raise ValueError(f"word_freq[{w!r}]: expected a count >= 0, got {c!r}")
            counts[w] = int(c)
        raw = sum(counts.values())
        if raw == 0:
            raise ValueError("word_freq: no word has a count above 0")
        n_sent = 0 if corpus_count is None else _nonneg_int("corpus_count", corpus_count)
        self._adopt_counts(counts, raw, n_sent, update, trim_rule, "word_freq")
        self._scanned = None  # no corpus was read: train() counts the one it gets
        self._drop_scan_ids()
        return self

    def _adopt_counts(self, counts, raw, n_sent, update, trim_rule, name):
        """The vocabulary from counted words (a scan or a dict), then the tables and
        weights for it (grown, with ``update``). ``trim_rule`` None: the model's."""
        trim_rule = self.trim_rule if trim_rule is None else trim_rule
        if update:
            vocab = self.vocab.updated(counts, raw, n_sent,
                                       getattr(self.vocab, "effective_min_count", self.min_count),
                                       trim_rule=trim_rule)
        else:
            vocab = Vocab.from_counts(counts, self.min_count, self.max_final_vocab, raw, n_sent,
                                      trim_rule=trim_rule, sort=self.sorted_vocab)
        if len(vocab) == 0:
            raise CorpusError(
                f"{name}: no word occurs min_count={self.min_count} times "
                f"({len(counts)} distinct words, most frequent {max(counts.values())} times); lower min_count")
        if self.hs and len(vocab) < 2:
            raise CorpusError(f"{name}: hierarchical softmax needs at least 2 words in the vocabulary")
        n_old = len(self.vocab) if update else 0
        self._set_vocab(vocab)
        self._init_weights(keep=n_old)

    def _set_vocab(self, vocab):
        self.vocab = vocab
        self._keep_prob = vocab.keep_probabilities(self.sample)  # the kernel subsamples
        if self.negative:
            self._neg_prob, self._neg_alias = _w2v.alias_table(vocab.noise_weights(self.ns_exponent))
        else:
            self._neg_prob = self._neg_alias = None
        if self.hs:
            self._hs = vocab.huffman()
        else:
            self._hs = (None, None, None)

    def _init_weights(self, keep=0):
        """Fresh weights for the vocabulary; with ``keep``, the first ``keep`` rows of
        the current ones are kept (a grown vocabulary) and only the others are new."""
        n, d = len(self.vocab), self.vector_size
        rng = np.random.default_rng(self.seed if not keep or self.seed is None else [self.seed, keep])
        # uniform in (-_INIT_SCALE / d, _INIT_SCALE / d); output weights start at zero
        fresh = ((rng.random((n - keep, d), dtype=np.float32) - 0.5) * (2 * _INIT_SCALE / d)).astype(np.float32)

        def grown(old, rows):
            if old is None:
                return None
            out = np.zeros((rows, d), dtype=np.float32)
            out[:len(old)] = old
            return out
        if keep:
            vectors = np.concatenate((self.wv.vectors[:keep], fresh))
            self.syn1neg = grown(self.syn1neg, n)
            # (the Huffman tree is rebuilt: its inner nodes keep their rows, as in gensim)
            self.syn1 = grown(self.syn1, max(n - 1, 1))
        else:
            vectors = fresh
            self.syn1neg = np.zeros((n, d), dtype=np.float32) if self.negative else None
            self.syn1 = np.zeros((max(n - 1, 1), d), dtype=np.float32) if self.hs else None
        self.wv = KeyedVectors(self.vocab.words, vectors, counts=self.vocab.counts)

    # ------------------------------------------------------------------ training
    def train(self, sentences=None, corpus_file=None, epochs=None, start_alpha=None, end_alpha=None,
              progress=None, total_examples=None, total_words=None, compute_loss=True,
              corpus_iterable=None):
        """Train on the corpus (the one ``build_vocab`` saw, or another with the same vocabulary).

        The learning rate decays linearly from ``start_alpha`` (default ``alpha``) to
        ``end_alpha`` (default ``min_alpha``) over all epochs, by words processed.
        Returns (in-vocabulary words processed before subsampling, raw corpus words
        counted by the vocabulary scan x epochs).

        gensim's ``train(corpus_iterable=..., total_examples=model.corpus_count,
        epochs=model.epochs, compute_loss=True)`` is accepted as it is; the loss is
        always tallied. The schedule is sized by ``total_words`` (raw words an epoch)
        or ``total_examples`` (sentences an epoch) when given, else by the vocabulary
        scan when this is the corpus it read, else by one counting pass over the
        corpus (so that training on another corpus decays over that corpus)."""
        sentences = _either_name(sentences, corpus_iterable)
        if self.vocab is None:
            raise RuntimeError("call build_vocab() first (or load a saved model)")
        if len(self.wv) != len(self.vocab):
            raise ValueError(f"model.wv holds {len(self.wv)} vectors for a vocabulary of {len(self.vocab)} "
                             "words (vectors added to wv after build_vocab?); build_vocab(..., update=True) "
                             "adds words to a model")
        corpus = Corpus(corpus_file=corpus_file, sentences=sentences, unicode_errors=self.unicode_errors)
        epochs = self.epochs if epochs is None else _positive_int("epochs", epochs)
        a0 = self.alpha if start_alpha is None else _positive_float("start_alpha", start_alpha)
        a1 = self.min_alpha if end_alpha is None else _float("end_alpha", end_alpha)
        if a1 < 0:
            raise ValueError(f"end_alpha: must be >= 0, got {end_alpha}")
        progress = self.progress if progress is None else bool(progress)
        threads = self.workers or get_num_threads()
        per_epoch, raw_per_epoch = self._words_per_epoch(corpus, total_examples, total_words)
        total = per_epoch * epochs
        params = _w2v.Params(self.vector_size, self.window, self.negative, bool(self.hs), bool(self.sg),
                             bool(self.cbow_mean), self.shared_negatives, simd_level(), 0,
                             self.shrink_windows)
        hs_offset, hs_point, hs_code = self._hs
        keep_prob = self._keep_prob if self.sample > 0 else None
        syn0 = self.wv.vectors

        bar = _bar(progress, "train", unit="word", total=total)
        producer = _Producer(self, corpus, epochs, a0, a1, total)
        t0 = time.perf_counter()
        losses, examples = [0.0] * epochs, [0] * epochs
        self.epoch_losses, self.epoch_examples = losses, examples  # filled as epochs go
        self.running_training_loss = 0.0
        done, epoch = 0, -1
        last, next_postfix = None, 0.0
        self._callback("on_train_begin")
        try:
            producer.start()
            for batch in producer:
                epoch = self._enter_epoch(epoch, batch.epoch, epochs)
                params.seed = batch.seed
                try:
                    loss, n_ex = _w2v.train_batch(
                        params, syn0, self.syn1neg, self.syn1, batch.tokens, batch.sent_start,
                        batch.sent_alpha, self._neg_prob, self._neg_alias, hs_offset, hs_point, hs_code,
                        threads, keep_prob)
                except FloatingPointError:
                    raise FloatingPointError(
                        f"training diverged in epoch {batch.epoch + 1} at learning rate "
                        f"{batch.sent_alpha[0]:.4g}: vectors became NaN/inf; lower alpha "
                        f"(now {a0})") from None
                losses[batch.epoch] += loss
                examples[batch.epoch] += n_ex
                self.running_training_loss += loss
                done += batch.words
                if bar is not None:
                    last = batch
                    if time.perf_counter() >= next_postfix:  # (~50 us to format: a few times a second)
                        _postfix(bar, batch, losses, examples)
                        next_postfix = time.perf_counter() + 0.2
                    bar.update(batch.words)
        finally:
            producer.stop()
            self._drop_scan_ids()  # they serve the training after the scan, once: the disk space goes back
            self.wv._vectors_changed()  # (also after an interrupted run: some vectors changed)
            if bar is not None:
                if last is not None:
                    _postfix(bar, last, losses, examples)
                bar.close()
        self.train_seconds = time.perf_counter() - t0
        # (a float64 sum of float32 values cannot overflow: finite exactly when every value is)
        if not np.isfinite(np.sum(syn0, dtype=np.float64)):
            raise FloatingPointError(f"training diverged: vectors became NaN/inf; lower alpha (now {a0})")
        self.train_words = done
        self.raw_words_trained = raw_per_epoch * epochs
        self._enter_epoch(epoch, epochs, epochs)  # ends the last epoch (and any with no words)
        self._callback("on_train_end")
        return done, self.raw_words_trained

    def _enter_epoch(self, epoch, new, epochs):
        """Callbacks from epoch ``epoch`` (-1: none yet) to epoch ``new`` of
        ``epochs``: each epoch on the way ends, and each up to ``new`` begins (one
        with no words too). Returns ``new``."""
        while epoch < new:
            if epoch >= 0:
                self._epoch_end()
            epoch += 1
            if epoch < epochs:
                self._callback("on_epoch_begin")
        return new

    def _epoch_end(self):
        if self.callbacks:  # queries in a callback see this epoch's vectors, as in gensim
            self.wv._vectors_changed()
        self._callback("on_epoch_end")

    def _callback(self, event):
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self)

    def _words_per_epoch(self, corpus, total_examples, total_words):
        """(in-vocabulary words, raw words) of one epoch of ``corpus``: the first is
        the unit the schedule counts. total_words / total_examples of 0 (a model's
        corpus_count when it was not known) count as not given."""
        v = self.vocab
        ratio = v.retained_words / max(v.raw_words, 1)
        if total_words:
            total_words = _positive_int("total_words", total_words, highest=None)
            return max(1, round(total_words * ratio)), total_words
        if total_examples:
            total_examples = _positive_int("total_examples", total_examples, highest=None)
            raw = round(total_examples * v.raw_words / max(v.n_sentences, 1))
            return max(1, round(raw * ratio)), raw
        if self._scanned is not None and self._scanned == _corpus_key(corpus) and v.retained_words:
            return v.retained_words, v.raw_words
        counts, raw, _ = corpus.count_words()  # the vocabulary scan's pass, kept to itself
        return max(1, sum(c for w, c in counts.items() if w in v.index)), raw

    @property
    def corpus_count(self):
        """Sentences (lines) in the corpus the vocabulary was built from (gensim's name)."""
        return self.vocab.n_sentences if self.vocab is not None else 0

    @property
    def corpus_total_words(self):
        """Raw words in that corpus, out-of-vocabulary ones included (gensim's name)."""
        return self.vocab.raw_words if self.vocab is not None else 0

    def get_latest_training_loss(self):
        """The loss summed over the latest ``train()`` call so far, as gensim's (a
        float64 total: it cannot overflow); per epoch: ``epoch_losses``."""
        return self.running_training_loss

    def predict_output_word(self, context_words_list, topn=10):
        """gensim's: the ``topn`` likeliest centre words given context words, as
        ``[(word, probability)]``, by a CBOW-style pass (mean, or sum with
        ``cbow_mean=0``, of the context vectors against every output vector, then a
        softmax), in skip-gram models too. Needs negative sampling (the output
        vectors). Context words outside the vocabulary are ignored; None when none
        is known (gensim warns and returns None)."""
        if not self.negative or self.syn1neg is None:
            raise RuntimeError("predict_output_word needs a model trained with negative sampling "
                               "(negative > 0): hierarchical softmax has no output vector per word")
        if isinstance(context_words_list, (str, bytes)):
            context_words_list = [context_words_list]
        topn = _positive_int("topn", topn)
        rows = [i for w in context_words_list if (i := self.wv.get_index(w, -1)) >= 0]
        if not rows:
            return None
        h = self.wv.vectors[rows].sum(axis=0, dtype=np.float64)
        if self.cbow_mean:
            h /= len(rows)
        scores = self.syn1neg.astype(np.float64) @ h
        p = np.exp(scores - scores.max())  # (the softmax, without overflow for large scores)
        p /= p.sum()
        top = np.argsort(-p, kind="stable")[:topn]
        return [(self.wv.index_to_key[i], float(p[i])) for i in top]

    # ------------------------------------------------------------------ I/O
    def save(self, path):
        """Save everything needed to continue training (vocabulary with counts, all weights,
        settings) to one ``.npz``-style file (no pickle). Written atomically."""
        if self.vocab is None:
            raise RuntimeError("nothing to save: the model has no vocabulary yet")
        settings = {k: getattr(self, k) for k in _SETTINGS}
        settings.update(format=_FORMAT, version=_FORMAT_VERSION, raw_words=self.vocab.raw_words,
                        scanned=self._scanned if self._scanned and self._scanned[0] == "file" else None,
                        n_sentences=self.vocab.n_sentences, scan_retained=self.vocab.scan_retained,
                        epoch_losses=self.epoch_losses)
        # a JSON list: a word may hold any character, a newline included
        words = json.dumps(list(self.vocab.words), ensure_ascii=False).encode("utf-8")
        arrays = {"settings": np.frombuffer(json.dumps(settings).encode("utf-8"), dtype=np.uint8),
                  "words_json": np.frombuffer(words, dtype=np.uint8), "counts": self.vocab.counts,
                  "syn0": self.wv.vectors}
        if self.syn1neg is not None:
            arrays["syn1neg"] = self.syn1neg
        if self.syn1 is not None:
            arrays["syn1"] = self.syn1
        with atomic_write(path) as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path):
        """Load a model written by ``save``."""
        path = os.fspath(path)
        try:
            with open(path, "rb") as f:
                head = f.read(4)
            if head != b"PK\x03\x04":  # (NumPy's own message would suggest allow_pickle)
                raise ValueError("not an .npz archive; word vectors in word2vec or other formats "
                                 "load with fastseq.KeyedVectors.load")
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no such file") from None
        except Exception as e:  # zipfile.BadZipFile, ValueError, EOFError ...
            raise ValueError(f"{path}: not a fastseq word2vec model ({e})") from None
        try:
            settings = json.loads(data["settings"].tobytes().decode("utf-8"))
            if settings.get("format") != _FORMAT:
                raise KeyError("format")
            if int(settings.get("version", 1)) > _FORMAT_VERSION:
                raise ValueError(f"{path}: model format version {settings['version']}, newer than this "
                                 f"fastseq reads ({_FORMAT_VERSION}): upgrade fastseq")
            if "words_json" in data:
                words = json.loads(data["words_json"].tobytes().decode("utf-8"))
            else:  # files written before words_json: one word a line
                words = data["words"].tobytes().decode("utf-8").split("\n")
        except (KeyError, ValueError) as e:
            raise ValueError(f"{path}: not a fastseq word2vec model (missing or damaged {e})") from None
        if len(words) != len(data["counts"]):
            raise ValueError(f"{path}: damaged fastseq word2vec model: {len(words)} words, "
                             f"{len(data['counts'])} counts")
        model = cls(**{k: settings[k] for k in _SETTINGS if k in _INIT_ARGS})
        vocab = Vocab(words, data["counts"], settings.get("raw_words", 0), settings.get("n_sentences", 0),
                      scan_retained=settings.get("scan_retained"))
        if data["syn0"].shape != (len(vocab), model.vector_size):
            raise ValueError(f"{path}: syn0 has shape {data['syn0'].shape}, expected ({len(vocab)}, {model.vector_size})")
        model._set_vocab(vocab)
        model.wv = KeyedVectors(vocab.words, np.ascontiguousarray(data["syn0"], dtype=np.float32),
                                counts=vocab.counts)
        model.syn1neg = np.ascontiguousarray(data["syn1neg"]) if "syn1neg" in data else None
        model.syn1 = np.ascontiguousarray(data["syn1"]) if "syn1" in data else None
        model.epoch_losses = list(settings.get("epoch_losses", []))
        model.running_training_loss = float(sum(model.epoch_losses))
        scanned = settings.get("scanned")
        model._scanned = tuple(scanned) if isinstance(scanned, list) else None
        return model

    def __repr__(self):
        n = len(self.vocab) if self.vocab is not None else 0
        return (f"Word2Vec(vocab={n}, vector_size={self.vector_size}, sg={self.sg}, hs={self.hs}, "
                f"negative={self.negative}, window={self.window}, alpha={self.alpha})")


_INIT_ARGS = ("vector_size", "alpha", "window", "min_count", "max_vocab_size", "sample", "seed",
              "workers", "min_alpha", "sg", "hs", "negative", "ns_exponent", "cbow_mean", "epochs",
              "max_final_vocab", "shared_negatives", "unicode_errors", "max_sentence_length",
              "shrink_windows", "sorted_vocab", "compute_loss", "progress")
_SETTINGS = _INIT_ARGS


def _corpus_key(corpus):
    """What identifies a corpus between build_vocab and train: a file's path, size
    and modification time (saved with the model), or the sentences object itself."""
    if corpus.corpus_file is None:
        return ("sentences", id(corpus.sentences))
    k = _scan_key(corpus)
    return None if k is None else ("file", k[0], k[3], k[4])  # its path, size and mtime


def _scan_key(corpus):
    """What must not change between the vocabulary scan of a file and a training
    that reads its ids instead of the text: the file (path, device, inode, size,
    modification and status-change times: a same-size file copied over it with its
    times kept changes the last) and how its bytes are decoded. None for sentences."""
    if corpus.corpus_file is None:
        return None
    try:
        st = os.stat(corpus.corpus_file)
    except OSError:
        return None
    return (os.path.abspath(corpus.corpus_file), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns, corpus.unicode_errors)


class _Batch:
    __slots__ = ("tokens", "sent_start", "sent_alpha", "seed", "epoch", "words")


class _Producer:
    """Background thread: corpus -> ids (cached after epoch 1) -> batches of sentences."""

    def __init__(self, model, corpus, epochs, a0, a1, total):
        self.model = model
        self.corpus = corpus
        self.epochs = epochs
        self.a0, self.a1, self.total = a0, a1, max(total, 1)
        self.queue = queue.Queue(maxsize=3)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="fastseq-w2v-producer", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        while self.thread.is_alive():
            try:
                self.queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self.thread.join()

    def __iter__(self):
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, item):
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    def _run(self):
        cache = None
        m = self.model
        try:
            # epoch 1 reads the scan's ids of the file (or the corpus itself) and writes
            # the batches' ids to a cache that later epochs read back whole; without
            # room for it, later epochs read the scan's ids again (or, without those,
            # the corpus: then a warning says so)
            scan = m._scan_ids_for(self.corpus)
            if self.epochs > 1:
                cache = _IdCache.create(4 * (self.total // self.epochs + m.vocab.n_sentences),
                                        self.corpus.name, quiet=scan is not None)
            done = 0
            sizes = []  # ids per batch in epoch 1: later epochs read the same batches back whole
            for epoch in range(self.epochs):
                if epoch > 0 and cache is not None:
                    parts = cache.read_batches(sizes)
                else:
                    source = (scan.encoded(m.max_sentence_length) if scan is not None
                              else self.corpus.iter_encoded(m.vocab.index, m.max_sentence_length))
                    parts = _rebatch(_written(source, cache if epoch == 0 else None), _BATCH_WORDS)
                for b, part in enumerate(parts):
                    if epoch == 0:
                        sizes.append(len(part))
                    batch = self._make_batch(part, epoch, b, done)
                    done += batch.words
                    if not self._put(batch):
                        return
                if cache is not None and cache.fd is None:  # dropped: the disk filled up
                    cache = None
                if epoch == 0 and cache is not None and scan is not None:
                    scan.close()  # its disk space back now: the cache holds the batches
            self._put(None)
        except BaseException as e:  # handed to the main thread
            self._put(e)
        finally:
            if cache is not None:
                cache.close()

    def _make_batch(self, ids, epoch, b, done):
        """Index sentences and give each its learning rate. The kernel subsamples
        each sentence, with draws seeded by the batch's seed (redrawn every epoch),
        and skips the separators (SEP) the spans keep."""
        raw_sep = np.flatnonzero(ids == SEP)
        ns = len(raw_sep)
        words = len(ids) - ns
        sent_start = np.empty(ns + 1, dtype=np.int64)
        sent_start[0] = 0
        sent_start[1:] = raw_sep + 1  # sentence s ends with its separator
        # learning rate by words processed (before subsampling) at each sentence's start
        before = sent_start[:-1] - np.arange(ns)
        progress = (done + before) / self.total
        # (end_alpha may exceed start_alpha, as gensim allows: a linear ramp either way)
        alpha = (self.a0 - (self.a0 - self.a1) * np.minimum(progress, 1.0)).astype(np.float32)
        batch = _Batch()
        batch.tokens = np.ascontiguousarray(ids, dtype=np.int32)
        batch.sent_start = sent_start
        batch.sent_alpha = alpha
        m = self.model
        batch.seed = (((m.seed * 1000003) ^ epoch) * 1000003 + b) & 0xFFFFFFFFFFFFFFFF
        batch.epoch = epoch
        batch.words = words
        return batch


def _written(source, cache):
    """The id arrays of ``source``, written to ``cache`` (when it is open) on the way."""
    for ids in source:
        if cache is not None:
            cache.write(ids)
        yield ids


class _IdCache:
    """Word ids in a temporary file with no name (4 bytes an id; nothing is left
    behind, whatever ends the process). Two uses: the vocabulary scan's ids of a
    corpus file (_ScanIds), and epoch 1's ids when there are none, read back by
    later epochs instead of reading and encoding the corpus again. Without room in
    the temporary directory (checked before, and every 64 MiB written; a write
    that finds the disk full frees the space at once) the cache is dropped and
    later epochs encode the corpus again: the same batches, so the same vectors,
    only slower. A warning says so, unless ``quiet`` (the scan's cache, which
    any write error drops: training then makes its own)."""

    RESERVE = 256 << 20  # free space to leave to others on the temporary file system
    CHECK_EVERY = 64 << 20

    def __init__(self, fd, corpus_name, quiet=False):
        self.fd = fd
        self.corpus_name = corpus_name
        self.quiet = quiet
        self.written = 0

    @classmethod
    def create(cls, need, corpus_name, quiet=False):
        where = tempfile.gettempdir()
        free = _free_bytes(where)
        if free is not None and free < need + cls.RESERVE:
            if not quiet:
                _reread_warning(corpus_name, f"{where} has {free >> 20} MiB free and the word ids of an "
                                             f"epoch take ~{-(-need >> 20)} MiB")
            return None
        try:
            fd, path = tempfile.mkstemp(prefix="fastseq-ids-", suffix=".i32")
        except OSError as e:
            if not quiet:
                _reread_warning(corpus_name, f"cannot create a file in {where} ({e.strerror or e})")
            return None
        try:
            os.unlink(path)
        except OSError:
            os.close(fd)
            raise
        return cls(fd, corpus_name, quiet)

    def write(self, ids):
        if self.fd is None:
            return
        view = memoryview(ids).cast("B")  # ids: a contiguous int32 array
        if self.written // self.CHECK_EVERY != (self.written + len(view)) // self.CHECK_EVERY:
            free = _free_bytes(tempfile.gettempdir())
            if free is not None and free < len(view) + self.RESERVE:
                self._drop(f"{tempfile.gettempdir()} is filling up ({free >> 20} MiB free)")
                return
        try:
            while view:
                n = os.write(self.fd, view)
                self.written += n
                view = view[n:]
        except OSError as e:
            if e.errno not in _DISK_FULL and not self.quiet:
                raise type(e)(e.errno, f"{self.corpus_name}: cannot cache the word ids in "
                                       f"{tempfile.gettempdir()} ({e.strerror or e})") from None
            self._drop(f"{tempfile.gettempdir()} filled up ({e.strerror})")

    def _drop(self, why):
        self.close()  # frees the space at once
        if not self.quiet:
            _reread_warning(self.corpus_name, why)

    def read(self, offset, n):
        """Up to ``n`` ids from id ``offset`` on (fewer at the end)."""
        return np.frombuffer(os.pread(self.fd, 4 * n, 4 * offset), dtype=np.int32)

    def read_batches(self, sizes):
        """The batches of epoch 1 again, by their sizes."""
        at = 0
        for n in sizes:
            arr = self.read(at, n)
            if len(arr) != n:
                raise OSError(f"the id cache ({tempfile.gettempdir()}) ended early "
                              f"(expected {n} more ids)")
            at += n
            yield arr

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        self.close()


class _ScanIds:
    """A corpus file as the vocabulary scan saw it: each word's first-seen rank
    (SEP after every line) in an _IdCache, and ``remap``, rank -> vocabulary id
    (OOV: not in the vocabulary). The next training on the same file with the same
    vocabulary reads it instead of the text in epoch 1 (every epoch when there is
    no room to cache epoch 1's batches): ~2 ns a word instead of reading, decoding
    and looking up each word."""

    READ_IDS = 1 << 16  # below a batch (_BATCH_WORDS): _rebatch looks for sentence ends once a batch

    def __init__(self, cache, key, vocab, ranked_words):
        self.cache, self.key, self.vocab = cache, key, vocab
        get = vocab.index.get
        self.remap = np.fromiter((get(w, OOV) for w in ranked_words), dtype=np.int32,
                                 count=len(ranked_words))

    def usable(self, key, vocab):
        return self.cache.fd is not None and vocab is self.vocab and key is not None and key == self.key

    def __reduce__(self):  # a copied or pickled model has none (never the descriptor)
        return type(None), ()

    def encoded(self, max_sentence_length):
        """What Corpus.iter_encoded gives for the file: SEP-terminated arrays of
        in-vocabulary ids, runs longer than ``max_sentence_length`` cut."""
        def chunks():
            at = 0
            while len(raw := self.cache.read(at, self.READ_IDS)):
                at += len(raw)
                yield raw
        return whole_sentences(chunks(), self.remap, max_sentence_length)

    def close(self):
        self.cache.close()


def _free_bytes(where):
    try:
        st = os.statvfs(where)
        return st.f_bavail * st.f_frsize
    except (AttributeError, OSError):  # no statvfs (Windows): the writes will tell
        return None


_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def _reread_warning(corpus_name, why):
    warnings.warn(f"{why}: later epochs read and encode {corpus_name} again instead of caching its "
                  "word ids (same vectors, slower); point TMPDIR to a roomier place to cache them",
                  RuntimeWarning, stacklevel=2)


def _rebatch(stream, batch_words):
    """Regroup SEP-terminated id arrays into batches of about batch_words ids, cut at
    sentence ends. Batches do not depend on how the source was chunked, so a file,
    its .gz and the same sentences from Python train identically."""
    parts, size = [], 0
    for ids in stream:
        parts.append(ids)
        size += len(ids)
        while size >= batch_words:
            buf = np.concatenate(parts) if len(parts) > 1 else parts[0]
            seps = np.flatnonzero(buf == SEP)
            k = np.searchsorted(seps, batch_words - 1)
            end = int(seps[min(k, len(seps) - 1)]) + 1
            yield buf[:end]
            rest = buf[end:]
            parts, size = ([rest], len(rest)) if len(rest) else ([], 0)
    if size:
        yield np.concatenate(parts)


def _postfix(bar, batch, losses, examples):
    e = batch.epoch
    bar.set_postfix(lr=f"{batch.sent_alpha[-1]:.5f}", loss=f"{losses[e] / max(examples[e], 1):.4f}",
                    refresh=False)


def _bar(enabled, desc, unit, total=None):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr,
                dynamic_ncols=True, mininterval=0.5, smoothing=0.1)


def _either_name(sentences, corpus_iterable):
    if corpus_iterable is None:
        return sentences
    if sentences is not None:
        raise ValueError("give sentences or corpus_iterable (the same argument), not both")
    return corpus_iterable


def _int_at_least(name, v, lowest, highest=_INT_MAX):
    try:
        iv = int(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{name}: expected an integer, got {v!r}") from None
    if iv != v or iv < lowest:
        raise ValueError(f"{name}: must be {'a positive integer' if lowest == 1 else '>= 0'}, got {v!r}")
    if highest is not None and iv > highest:
        raise ValueError(f"{name}: must be at most {highest}, got {v!r}")
    return iv


def _positive_int(name, v, highest=_INT_MAX):
    return _int_at_least(name, v, 1, highest)


def _nonneg_int(name, v):
    return _int_at_least(name, v, 0)


def _float(name, v):
    try:
        fv = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {v!r}") from None
    if not np.isfinite(fv):
        raise ValueError(f"{name}: must be a finite number, got {v!r}")
    return fv


def _positive_float(name, v):
    fv = _float(name, v)
    if not fv > 0:
        raise ValueError(f"{name}: must be a positive number, got {v!r}")
    return fv
