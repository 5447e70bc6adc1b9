"""Reading corpora: UTF-8 text files (plain, .gz, .bz2 or .xz), or re-iterables of token lists.

A text corpus is one sentence per line, tokens separated by whitespace. Lines
may be of any length (a file with no newline at all, like text8, is read in
bounded memory and cut into sentences of ``max_sentence_length`` words).

Invalid UTF-8 is an error by default, naming the file, line and byte offset;
``unicode_errors="replace"`` turns bad bytes into U+FFFD instead (the choice
gensim offers under the same name).
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import stat
from collections import Counter
from itertools import filterfalse

import numpy as np

from . import _w2v

CHUNK_BYTES = 1 << 18  # small chunks keep the transient token lists (and peak memory) small
SEP = -1  # sentence separator in encoded id streams
OOV = -2  # word not in the vocabulary (dropped)
# UTF-8 of the non-ASCII characters str.split() splits at: U+0085, U+00A0, U+1680,
# U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000
_UNICODE_SPACE = re.compile(
    rb"\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80")


class CorpusError(ValueError):
    """A corpus that cannot be read: missing, unreadable, empty or badly encoded."""


# compressed corpora, told by their first bytes (not by the file name); bzip2's
# "BZh" is plain text too, so its block size digit and first block (or end of
# stream) marker must follow
_BZ2_HEAD = re.compile(rb"BZh[1-9](1AY&SY|\x17rE8P\x90)")
_COMPRESSED = (("gzip", lambda m: m.startswith(b"\x1f\x8b"), lambda f: gzip.GzipFile(fileobj=f, mode="rb")),
               ("bzip2", lambda m: _BZ2_HEAD.match(m) is not None, lambda f: bz2.BZ2File(f, mode="rb")),
               ("xz", lambda m: m.startswith(b"\xfd7zXZ\x00"), lambda f: lzma.LZMAFile(f, mode="rb")))


def compression(magic):
    """(name, opener) of the compressed format a file's first 10 bytes ``magic``
    announce, or None; opener(binary file) reads it decompressed."""
    for name, is_kind, opener in _COMPRESSED:
        if is_kind(magic):
            return name, opener
    return None


def decompressed(f):
    """The binary file ``f`` read decompressed when its first bytes say gzip, bzip2 or xz."""
    kind = compression(f.read(10))
    f.seek(0)
    return kind[1](f) if kind else f


def _open_binary(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CorpusError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CorpusError(f"{path}: is a directory, not a corpus file")
    if not stat.S_ISREG(os.stat(path).st_mode):  # before open(), which would wait on a FIFO
        raise CorpusError(f"{path}: not a regular file (a pipe or device): the corpus is read more "
                          "than once (vocabulary, then training), so save it to a file first")
    try:
        f = open(path, "rb")
    except OSError as e:
        raise CorpusError(f"{path}: cannot read ({e.strerror})") from None
    return decompressed(f)


def iter_text_chunks(path, unicode_errors="strict", chunk_bytes=None):
    """Yield decoded text chunks of ``path`` that end on whitespace (or at end of file)."""
    if unicode_errors not in ("strict", "replace", "ignore"):
        raise ValueError(f"unicode_errors: expected 'strict', 'replace' or 'ignore', got {unicode_errors!r}")
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    line_no = 1  # line number at the start of the current chunk
    offset = 0  # byte offset at the start of the current chunk
    carry = b""
    with _open_binary(path) as f:
        while True:
            try:
                data = f.read(chunk_bytes)
            except (OSError, EOFError, lzma.LZMAError) as e:
                raise CorpusError(f"{path}: read failed near byte {offset + len(carry)} ({e})") from None
            if data:
                buf = carry + data
                cut = max(buf.rfind(c, 0) for c in (b" ", b"\n", b"\t", b"\r"))
                if cut < 0:  # one enormous token so far: keep reading
                    carry = buf
                    continue
                carry, buf = buf[cut + 1:], buf[: cut + 1]
            else:
                buf, carry = carry, b""
                if not buf:
                    return
            try:
                text = buf.decode("utf-8", errors=unicode_errors)
            except UnicodeDecodeError as e:
                line = line_no + buf.count(b"\n", 0, e.start)
                raise CorpusError(
                    f"{path}:{line}: invalid UTF-8 at byte offset {offset + e.start} "
                    f"(pass unicode_errors='replace' / --unicode-errors replace to substitute U+FFFD)"
                ) from None
            yield text
            line_no += buf.count(b"\n")
            offset += len(buf)
            if not data:
                return


def _check_sentence(sentence, k):
    if isinstance(sentence, (str, bytes)):
        raise TypeError(f"sentences[{k}]: expected a list of tokens, got a {type(sentence).__name__} "
                        "(split your text into words first)")


class Corpus:
    """A corpus from a file path or a re-iterable of token lists."""

    def __init__(self, corpus_file=None, sentences=None, unicode_errors="strict"):
        if (corpus_file is None) == (sentences is None):
            raise ValueError("give exactly one of corpus_file or sentences")
        if sentences is not None and iter(sentences) is sentences:
            raise TypeError("sentences: must be re-iterable (a list, or an object with __iter__), "
                            "not a one-shot generator/iterator: it is read once per epoch")
        self.corpus_file = os.fspath(corpus_file) if corpus_file is not None else None
        self.sentences = sentences
        self.unicode_errors = unicode_errors
        if self.corpus_file is not None:
            # fail now, not after a long scan
            _open_binary(self.corpus_file).close()

    @property
    def name(self):
        return self.corpus_file if self.corpus_file is not None else "sentences"

    def iter_token_blocks(self):
        """Yield blocks: text chunks (str, ending on whitespace) for a file, lists of
        token lists for ``sentences``."""
        if self.corpus_file is not None:
            for text in iter_text_chunks(self.corpus_file, self.unicode_errors):
                yield text
        else:
            block = []
            size = 0
            for k, sentence in enumerate(self.sentences):
                _check_sentence(sentence, k)
                block.append(sentence)
                size += len(sentence)
                if size >= 1 << 18:
                    yield block
                    block, size = [], 0
            if block:
                yield block

    def count_words(self, max_vocab_size=None, on_progress=None, ids_out=None):
        """One streaming pass. Returns (counts dict in first-seen order, raw tokens,
        sentences: a file's lines that hold a word, the last one without a newline
        included, as gensim's corpus_count counts them).

        With ``max_vocab_size``, word2vec.c's pruning: at the word that takes the
        count past ``max_vocab_size`` distinct words, the words seen at most once
        are dropped, then at most twice, ... (the bar stays raised for later
        prunings) until it fits. Checked at every word, so that a file, its .gz and
        the same sentences from Python prune alike.

        ``ids_out`` (a file, without ``max_vocab_size``): called with each chunk of
        the corpus as int32 arrays of first-seen ranks (the order of the returned
        counts), SEP after every line, as the scan goes."""
        if self.corpus_file is not None:
            return self._count_file(max_vocab_size, on_progress, None if max_vocab_size else ids_out)
        raw = 0
        n_sent = 0
        pruner = _Pruner(max_vocab_size) if max_vocab_size else None
        counter = Counter()
        for block in self.iter_token_blocks():
            if pruner:
                toks = [w for sentence in block for w in sentence]
                counter = pruner.feed(counter, toks)
                raw += len(toks)
            else:
                for sentence in block:
                    counter.update(sentence)
                    raw += len(sentence)
            n_sent += len(block)
            if on_progress is not None:
                on_progress(raw)
        bad = next((w for w in counter if not isinstance(w, str)), None)
        if bad is not None:
            raise TypeError(f"sentences: tokens must be str, got {type(bad).__name__} {bad!r:.40}")
        return counter, raw, n_sent

    def _count_file(self, max_vocab_size, on_progress, ids_out):
        """count_words of a file, in C (csrc/fs_vocab.c, ~20 ns a word)."""
        counter = _w2v.WordCounter(max_vocab_size or 0)
        for block in self.iter_token_blocks():
            ids = counter.feed(_ascii_spaced(block), ids_out is not None)
            if ids_out is not None:
                ids_out(ids)
            if on_progress is not None:
                on_progress(counter.raw)
        return Counter(counter.counts()), counter.raw, counter.lines

    def iter_encoded(self, index, max_sentence_length=10000):
        """Yield int32 arrays of vocabulary ids with SEP after every sentence.

        Out-of-vocabulary words are dropped; sentences longer than
        ``max_sentence_length`` (after dropping) are cut into pieces; every
        yielded array ends with SEP, so arrays hold whole sentences."""
        if self.corpus_file is not None:
            table = _w2v.Utf8Vocab(index)  # a file's words looked up as UTF-8 bytes, in C
            arrays = (table.encode(_ascii_spaced(text)) for text in self.iter_token_blocks())
        else:
            arrays = (_w2v.encode_sentences(block, index) for block in self.iter_token_blocks())
        ids = np.arange(max(index.values(), default=-1) + 1, dtype=np.int32)  # (kept as they are)
        return whole_sentences(arrays, ids, max_sentence_length)


def _ascii_spaced(text):
    """A text chunk as UTF-8 for the C scanners, which split at ASCII whitespace: a
    chunk with other whitespace (U+00A0, U+3000, ...) respaced first, str.split()
    on each line, so that the words and lines are str.split()'s."""
    data = text.encode("utf-8")
    if not text.isascii() and _UNICODE_SPACE.search(data):
        data = "\n".join(" ".join(line.split()) for line in text.split("\n")).encode("utf-8")
    return data


def whole_sentences(arrays, remap, max_sentence_length):
    """SEP-terminated int32 arrays of whole sentences from a stream of id arrays
    (SEP after each sentence, which may go on into the next array): each id
    through ``remap`` (< 0: dropped), runs longer than ``max_sentence_length``
    cut into pieces (in C: csrc/fs_vocab.c fs_ids_remap), a last unfinished
    sentence closed."""
    run = np.zeros(1, dtype=np.int64)  # the open run's length, from array to array
    carry = np.empty(0, dtype=np.int32)  # the unfinished sentence
    for raw in arrays:
        ids, last = _w2v.remap_ids(raw, remap, max_sentence_length, run)
        if last < 0:
            carry = np.concatenate((carry, ids))
            continue
        yield np.concatenate((carry, ids[:last + 1])) if len(carry) else ids[:last + 1]
        carry = ids[last + 1:]
    if len(carry):
        yield np.concatenate((carry, np.array([SEP], dtype=np.int32)))


class _Pruner:
    """Counting under max_vocab_size with word2vec.c's ReduceVocab, checked at every
    word. The word that overflows is found at C speed: the new words of a run in
    order of first appearance, then the first appearance of the one too many."""

    def __init__(self, max_size):
        self.max_size = max_size
        self.min_reduce = 1

    def feed(self, counter, toks):
        while toks:
            room = self.max_size - len(counter)  # new words that still fit
            if len(toks) > room:
                new = list(filterfalse(counter.__contains__, dict.fromkeys(toks)))
                if len(new) > room:
                    end = toks.index(new[room]) + 1
                    counter.update(toks[:end])
                    while len(counter) > self.max_size:  # drop rare words, raising the bar until it fits
                        counter = Counter({w: c for w, c in counter.items() if c > self.min_reduce})
                        self.min_reduce += 1
                    toks = toks[end:]
                    continue
            counter.update(toks)
            break
        return counter
