"""Word-vector files: detection by content, readers and writers.

Formats
-------
``bin``     word2vec.c / gensim binary: header ``count dim``, then per word the
            UTF-8 word, a space and ``dim`` little-endian float32, with or
            without a newline after each vector.
``text``    word2vec.c / gensim / fastText ``.vec`` text: header ``count dim``,
            then ``word v1 ... vdim`` per line.
``glove``   GloVe text: like ``text`` without the header line.
``native``  fastseq's own: one file, vectors at a page boundary, word norms, counts
            and a hash index over the words, so that it is memory-mapped rather
            than read (instant to open, pages shared between processes).

Readers never trust a size they cannot check: a short or damaged file gives a
``ValueError`` naming the file and the line or byte offset, never fewer vectors
than the file promises. gzip, bzip2 and xz compressed ``bin``/``text``/``glove`` files
are recognised by their first bytes (as corpora are) and read through.
"""
from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import mmap
import os
import struct
import warnings
import zlib

import numpy as np

from . import _kv
from ._atomic import atomic_write
from .corpus import compression

# ---------------------------------------------------------------------------- native
# Layout (little-endian):
#   header (padded to 4096 bytes): magic, version, flags, n, dim, then for each section
#   (offset, nbytes, crc32), then the crc32 of everything before it.
#   sections: vectors (n, dim) f4 | norms (n,) f4 | counts (n,) i8 (flag bit 0) |
#             key_offsets (n + 1,) i8 | keys: UTF-8 words joined by "\n" |
#             hashes (n,) u4: crc32 of each word's UTF-8, sorted | order (n,) i8: word of each hash
NATIVE_MAGIC = b"\x89FSKV\r\n\x1a"
NATIVE_VERSION = 1
_SECTIONS = ("vectors", "norms", "counts", "key_offsets", "keys", "hashes", "order")
_HEAD = struct.Struct("<8sIIQQ")
_SECT = struct.Struct("<QQI4x")
_HEADER_BYTES = _HEAD.size + len(_SECTIONS) * _SECT.size + 4
_ALIGN_VECTORS = 4096
_ALIGN = 64
_FLAG_COUNTS = 1

_PICKLE_HINT = ("looks like a Python pickle (gensim's KeyedVectors.save); fastseq does not unpickle files. "
                "In gensim: KeyedVectors.load(path).save_word2vec_format('vectors.bin', binary=True)")


def container(path):
    """``native`` or ``model`` (a fastseq Word2Vec model file) from the first bytes of
    ``path``; None for anything else (word2vec/GloVe text or binary, maybe compressed)."""
    with open(path, "rb") as f:
        head = f.read(len(NATIVE_MAGIC))
    if head == NATIVE_MAGIC:
        return "native"
    if head.startswith(b"PK\x03\x04"):
        return "model"
    return None


def detect_format(path):
    """Name of the format of ``path``, from its content: ``native``, ``bin``, ``text``,
    ``glove``, ``model`` (a fastseq Word2Vec model file); compressed files report the
    format inside. Raises ``ValueError`` for anything else."""
    path = os.fspath(path)
    kind = container(path)
    if kind is not None:
        return kind
    buf = _open_buffer(path)
    try:
        return _sniff_word2vec(buf, path)[0]
    finally:
        _close(buf)


def _close(buf):
    if isinstance(buf, mmap.mmap):
        buf.close()


def _open_buffer(path, populate=False):
    """The whole file as a bytes-like object (an mmap, or the decompressed bytes).
    ``populate``: map every page up front (one call instead of a page fault per
    4 KiB: 15x faster when the whole file is going to be read)."""
    with open(path, "rb") as f:
        magic = f.read(10)
        if not magic:
            raise ValueError(f"{path}: empty file")
        kind = compression(magic)  # told by the first bytes, as for corpora
        if kind:
            f.seek(0)
            kind, opener = kind
            try:
                with opener(f) as z:
                    data = z.read()
            except (OSError, EOFError, ValueError, lzma.LZMAError) as e:
                raise ValueError(f"{path}: damaged {kind} stream ({e})") from None
            if not data:
                raise ValueError(f"{path}: empty file (after decompression)")
            return data
        if magic[:1] == b"\x80" and magic[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
            raise ValueError(f"{path}: {_PICKLE_HINT}")
        if not hasattr(mmap, "MAP_SHARED"):  # Windows
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        flags = mmap.MAP_SHARED | (getattr(mmap, "MAP_POPULATE", 0) if populate else 0)
        return mmap.mmap(f.fileno(), 0, flags=flags, prot=mmap.PROT_READ)


def _parse_header(line):
    parts = line.split()
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return int(parts[0]), int(parts[1])
    return None


def _floats(fields):
    try:
        return [float(x) for x in fields]
    except ValueError:
        return None


# what the numbers of a text vector line are made of (whitespace and printable ASCII)
_TEXT_BYTES = bytes([9, 10, 13]) + bytes(range(32, 127))


def _sniff_word2vec(buf, path):
    """(format, header_end, n or None, dim) of a word2vec/GloVe file held in ``buf``.
    A UTF-8 byte order mark before the first line (Windows editors write one) is
    skipped, as gensim skips it when told ``encoding='utf-8-sig'``."""
    bom = 3 if bytes(buf[:3]) == b"\xef\xbb\xbf" else 0
    eol = buf.find(b"\n")
    first = buf[bom:eol if eol >= 0 else min(len(buf), 4096)]
    header = _parse_header(first)
    if header is not None:
        n, dim = header
        if dim < 1:
            raise ValueError(f"{path}:1: header says {dim} dimensions")
        start = eol + 1 if eol >= 0 else len(buf)
        if start >= len(buf) or n == 0:
            return "bin", start, n, dim
        # the first record decides: text is a word and dim numbers on one line. The
        # word ends at its first space in both formats and may be of any length, so
        # the numbers' line end is looked for from there
        sp = buf.find(b" ", start)
        if sp < 0:
            return "bin", start, n, dim
        end = buf.find(b"\n", sp, sp + 64 * (dim + 64))
        fields = buf[sp:end].split() if end >= 0 else []
        if len(fields) == dim and _floats(fields) is not None:
            return "text", start, n, dim
        # not a good text line: binary if its raw vector bytes are not all text (a
        # damaged text line must fail on its line number, not load as garbage)
        raw = bytes(buf[sp + 1:sp + 1 + 4 * dim])
        if dim >= 2 and len(raw) == 4 * dim and not raw.translate(None, _TEXT_BYTES):
            return "text", start, n, dim
        return "bin", start, n, dim
    fields = first.rstrip().split(b" ")
    if len(fields) >= 2 and _floats(fields[1:]) is not None:
        return "glove", bom, None, len(fields) - 1
    raise ValueError(f"{path}: not a word-vector file: the first line is neither a 'count dim' header "
                     f"nor a word followed by numbers (it starts {bytes(first[:40])!r})")


def _decode(raw, path, where, unicode_errors):
    try:
        return raw.decode("utf-8", errors=unicode_errors)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: {where}: the word {bytes(raw)!r} is not valid UTF-8 ({e.reason} at byte "
                         f"{e.start} of the word); pass unicode_errors='replace' or 'ignore' "
                         f"(--unicode-errors on the command line) to read it anyway") from None


def read_vocab_counts(path, unicode_errors="strict"):
    """word2vec.c's ``-save-vocab`` file: ``word count`` per line -> dict."""
    counts = {}
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                raise ValueError(f"{path}:{line_no}: expected 'word count', got {line[:60]!r}")
            counts[_decode(parts[0], path, f"line {line_no}", unicode_errors)] = int(parts[1])
    return counts


def read_word2vec(path, limit=None, unicode_errors="strict"):
    """Read a ``bin``, ``text`` or ``glove`` file.

    Returns ``(keys, vectors, fmt)``. ``limit`` reads only the first ``limit`` vectors.
    Duplicate words keep their first vector, with a warning (as gensim does)."""
    path = os.fspath(path)
    if limit is not None:
        limit = int(limit)
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
    buf = _open_buffer(path, populate=limit is None)
    try:
        detected, start, n, dim = _sniff_word2vec(buf, path)
        if detected == "bin":
            keys, vectors, where = _read_binary(buf, path, start, n, dim, limit, unicode_errors)
        else:
            keys, vectors, where = _read_text(buf, path, start, n, dim, limit, unicode_errors,
                                              has_header=detected == "text")
    finally:
        _close(buf)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{path}: {where(i)}: the vector of {keys[i]!r} holds NaN or infinity")
    keys, vectors = _drop_duplicates(keys, vectors, path, where)
    return keys, vectors, detected


def _drop_duplicates(keys, vectors, path, where):
    if len(set(keys)) == len(keys):
        return keys, vectors
    seen = {}
    dups = []
    for i, k in enumerate(keys):
        if k in seen:
            dups.append(i)
        else:
            seen[k] = i
    if not dups:
        return keys, vectors
    i = dups[0]
    warnings.warn(f"{path}: {len(dups)} duplicate word(s), first {keys[i]!r} at {where(i)} "
                  f"(first seen at {where(seen[keys[i]])}); keeping the first vector of each",
                  stacklevel=4)
    keep = np.ones(len(keys), dtype=bool)
    keep[dups] = False
    return [k for k, ok in zip(keys, keep) if ok], np.ascontiguousarray(vectors[keep])


def _read_binary(buf, path, start, n, dim, limit, unicode_errors):
    size = len(buf)
    rec = 4 * dim
    count = n if limit is None else min(n, limit)
    # every record is at least a space and 4 * dim bytes: a header promising more cannot be right
    if count * (rec + 1) > size - start:
        have = (size - start) // (rec + 1)
        raise ValueError(f"{path}: truncated: header says {n} vectors of {dim} floats, but the rest of the "
                         f"file ({size - start} bytes after the header) holds at most {have}")
    max_word = max(1 << 16, size - start + 1)  # a word may be as long as the file (the writers allow it)
    vectors, rec_start, word_start, word_end, done, pos, why = _kv.parse_w2v_bin(buf, start, count, dim, max_word)
    if why == 1:
        raise ValueError(f"{path}: truncated: the file ends at byte {size} in the word of vector "
                         f"{done + 1} of {n} (which starts at byte {pos})")
    if why == 2:
        raise ValueError(f"{path}: byte {pos}: no space within {max_word} bytes where the word of vector "
                         f"{done + 1} of {n} should end: corrupted, or not this format")
    if why == 3:
        raise ValueError(f"{path}: truncated: the file ends at byte {size} inside the vector of word "
                         f"{done + 1} of {n}, which needs bytes {pos}..{pos + rec}")
    offsets = rec_start.tolist()
    spans = list(zip(word_start.tolist(), word_end.tolist()))
    try:
        keys = [buf[a:b].decode("utf-8", unicode_errors) for a, b in spans]
    except UnicodeDecodeError:
        keys = [_decode(buf[a:b], path, f"vector {i + 1} (byte {offsets[i]})", unicode_errors)
                for i, (a, b) in enumerate(spans)]
    if limit is None:
        if buf[pos:].strip():
            raise ValueError(f"{path}: header says {n} vectors, but more data follows at byte {pos}: "
                             f"the header is wrong or the file is corrupted (limit=N reads only the first N)")
    return keys, vectors, lambda i: f"vector {i + 1} (byte {offsets[i]})"


def _read_text(buf, path, start, n, dim, limit, unicode_errors, has_header):
    size = len(buf)
    line0 = 2 if has_header else 1
    count = n if n is not None else None
    if limit is not None:
        count = limit if count is None else min(count, limit)
    # every line is at least a word and dim one-digit numbers with spaces
    if n is not None and count * (2 * dim + 1) > size - start + 1:
        raise ValueError(f"{path}: truncated: header says {n} vectors of {dim} numbers, but the rest of the "
                         f"file ({size - start} bytes after the header) is too short for that")
    keys = []
    chunks = []
    pos = start
    i = 0
    chunk_lines = 4096
    while count is None or i < count:
        words, rests, first = [], [], i
        while len(words) < chunk_lines and (count is None or i < count):
            if pos >= size:
                break
            eol = buf.find(b"\n", pos)
            if eol < 0:
                eol = size
            line = buf[pos:eol].rstrip()
            pos = eol + 1
            if not line and n is None:
                continue  # GloVe: blank lines (at the end) carry nothing
            sp = line.find(b" ")
            if sp <= 0:
                what = "an empty line" if not line else f"{bytes(line[:40])!r}"
                raise ValueError(f"{path}:{line0 + i}: expected a word and {dim} numbers, got {what}")
            rest = line[sp + 1:]
            if rest.count(b" ") != dim - 1 and len(rest.split()) != dim:
                raise ValueError(f"{path}:{line0 + i}: expected {dim} numbers after the word, "
                                 f"got {len(rest.split())}")
            words.append((line[:sp], line0 + i))
            rests.append(rest)
            i += 1
        if not words:
            break
        blob = b" ".join(rests)
        values = None
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            try:
                values = np.fromstring(blob, dtype=np.float32, sep=" ")
            except (ValueError, DeprecationWarning):
                values = None
        if values is None or values.size != len(rests) * dim:
            _text_error(path, rests, first, line0, dim)
        chunks.append(values.reshape(len(rests), dim))
        for raw, line_no in words:
            keys.append(_decode(raw, path, f"line {line_no}", unicode_errors))
    if keys and pos > size and not buf[size - 1:size] == b"\n":
        # (gensim reads it; the line has its dim numbers, but the last may be cut short)
        warnings.warn(f"{path}: the last line ({line0 + i - 1}) has no newline; if the file was cut short, "
                      f"its last number may be incomplete", stacklevel=4)
    if n is not None and i < count:
        raise ValueError(f"{path}: truncated: header says {n} vectors, the file ends after {i} "
                         f"(at line {line0 + i})")
    if n is not None and limit is None and buf[pos:].strip():
        raise ValueError(f"{path}:{line0 + i}: header says {n} vectors, but more lines follow: "
                         f"the header is wrong or the file is corrupted (limit=N reads only the first N)")
    if not keys:
        if n is None:
            raise ValueError(f"{path}: no vectors in the file")
        vectors = np.empty((0, dim), dtype=np.float32)
    else:
        vectors = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    return keys, np.ascontiguousarray(vectors), lambda i: f"line {line0 + i}"


def _text_error(path, rests, first, line0, dim):
    """Find and name the first bad line of a chunk that failed to parse as a whole."""
    for j, rest in enumerate(rests):
        fields = rest.split()
        if len(fields) != dim:
            raise ValueError(f"{path}:{line0 + first + j}: expected {dim} numbers after the word, "
                             f"got {len(fields)}")
        for f in fields:
            try:
                float(f)
            except ValueError:
                raise ValueError(f"{path}:{line0 + first + j}: not a number: {bytes(f[:40])!r}") from None
    raise ValueError(f"{path}: lines {line0 + first}..{line0 + first + len(rests) - 1} do not parse as "
                     f"{dim} numbers each")


_ASCII_SPACE = frozenset(" \t\n\r\v\f")


def _check_writable_keys(keys, what):
    # the readers (word2vec.c's, gensim's, ours) split on ASCII whitespace only, so a
    # word with a no-break or ideographic space round-trips, as it does in gensim
    for i, k in enumerate(keys):
        if not isinstance(k, str):
            raise ValueError(f"key {i} ({k!r}) is not a string: {what} stores words only")
        if not k or not _ASCII_SPACE.isdisjoint(k):
            raise ValueError(f"word {k!r} cannot be written in {what} (empty or has an ASCII space, "
                             f"tab or line break)")


def write_word2vec(path, keys, vectors, binary=False, write_header=True):
    """word2vec.c / gensim format; ``write_header=False`` gives GloVe's. Atomic.
    A path ending in .gz or .bz2 is compressed, as gensim does.

    Text numbers are the shortest decimal that reads back to the same float32,
    exactly as gensim writes them; binary vectors end with a newline, as word2vec.c's."""
    n, dim = vectors.shape
    _check_writable_keys(keys, "word2vec format")
    if binary and not write_header:
        raise ValueError("binary files need the header (write_header=True)")
    with atomic_write(path) as raw_f, _compressed(raw_f, path) as f:
        if write_header:
            f.write(f"{n} {dim}\n".encode("utf-8"))
        step = 4096
        for s in range(0, n, step):
            block = vectors[s:s + step]
            words = keys[s:s + step]
            if binary:
                raw = np.ascontiguousarray(block, dtype="<f4")
                f.write(b"".join(w.encode("utf-8") + b" " + row.tobytes() + b"\n" for w, row in zip(words, raw)))
            else:
                f.write("".join(w + " " + " ".join(row.astype(str).tolist()) + "\n"
                                for w, row in zip(words, block)).encode("utf-8"))


@contextlib.contextmanager
def _compressed(f, path):
    """``f`` itself, or a gzip / bzip2 writer into it when ``path`` ends in .gz / .bz2."""
    name = os.fspath(path).lower()
    if name.endswith(".gz"):
        with gzip.GzipFile(filename="", fileobj=f, mode="wb", compresslevel=6) as z:  # no temp name
            yield z
    elif name.endswith(".bz2"):
        with bz2.BZ2File(f, "wb") as z:
            yield z
    else:
        yield f


def write_vocab_counts(path, keys, counts):
    """word2vec.c's ``-save-vocab`` format: ``word count`` per line. Atomic."""
    _check_writable_keys(keys, "a vocabulary file")
    with atomic_write(path) as f:
        f.write("".join(f"{k} {int(c)}\n" for k, c in zip(keys, counts)).encode("utf-8"))


def _pad(x, align):
    return (x + align - 1) // align * align


def write_native(path, keys, vectors, norms, counts=None):
    """fastseq's memory-mappable format (see the module docstring). Atomic."""
    n, dim = vectors.shape
    encoded = []
    for i, k in enumerate(keys):
        if not isinstance(k, str):
            raise ValueError(f"key {i} ({k!r}) is not a string: the native format stores words only")
        if "\n" in k:
            raise ValueError(f"word {k!r} contains a newline, which the native format cannot store")
        encoded.append(k.encode("utf-8"))
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=n)
    # word i is keys[key_offsets[i]:key_offsets[i + 1] - 1] (as if every word ended in "\n")
    key_offsets = np.zeros(n + 1, dtype="<i8")
    np.cumsum(lengths + 1, out=key_offsets[1:])
    blob = b"\n".join(encoded)
    hashes = np.fromiter((zlib.crc32(b) for b in encoded), dtype=np.uint32, count=n)
    order = np.argsort(hashes, kind="stable").astype("<i8")
    hashes = hashes[order].astype("<u4")
    sections = {
        "vectors": np.ascontiguousarray(vectors, dtype="<f4"),
        "norms": np.ascontiguousarray(norms, dtype="<f4"),
        "counts": None if counts is None else np.ascontiguousarray(counts, dtype="<i8"),
        "key_offsets": key_offsets, "keys": blob, "hashes": hashes, "order": order,
    }
    layout = []
    pos = _ALIGN_VECTORS
    for name in _SECTIONS:
        data = sections[name]
        raw = b"" if data is None else (data if isinstance(data, bytes) else memoryview(data).cast("B"))
        layout.append((name, pos, len(raw), zlib.crc32(raw), raw))
        pos = _pad(pos + len(raw), _ALIGN)
    head = _HEAD.pack(NATIVE_MAGIC, NATIVE_VERSION, _FLAG_COUNTS if counts is not None else 0, n, dim)
    head += b"".join(_SECT.pack(off, nb, crc) for _, off, nb, crc, _ in layout)
    head += struct.pack("<I", zlib.crc32(head))
    with atomic_write(path) as f:
        f.write(head.ljust(_ALIGN_VECTORS, b"\0"))
        at = _ALIGN_VECTORS
        for name, off, nb, crc, raw in layout:
            if off > at:
                f.write(b"\0" * (off - at))
            f.write(raw)
            at = off + nb


class NativeFile:
    """An open native file: memory-mapped arrays plus word lookups through its hash index."""

    def __init__(self, path, limit=None, mmap_mode=True):
        path = os.fspath(path)
        self.path = path
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(_HEADER_BYTES)
            if len(head) < _HEADER_BYTES:
                raise ValueError(f"{path}: truncated: the file has {size} bytes, the native header alone "
                                 f"needs {_HEADER_BYTES}")
            magic, version, flags, n, dim = _HEAD.unpack_from(head)
            if magic != NATIVE_MAGIC:
                raise ValueError(f"{path}: not a fastseq native file (bad magic at byte 0)")
            (crc,) = struct.unpack_from("<I", head, _HEADER_BYTES - 4)
            if zlib.crc32(head[:_HEADER_BYTES - 4]) != crc:
                raise ValueError(f"{path}: corrupted: the header (bytes 0..{_HEADER_BYTES}) fails its checksum")
            if version != NATIVE_VERSION:
                raise ValueError(f"{path}: native format version {version}; this fastseq reads version "
                                 f"{NATIVE_VERSION} (upgrade fastseq)")
            sects = {}
            for j, name in enumerate(_SECTIONS):
                off, nb, crc = _SECT.unpack_from(head, _HEAD.size + j * _SECT.size)
                sects[name] = (off, nb, crc)
            expect = {"vectors": 4 * n * dim, "norms": 4 * n, "counts": 8 * n if flags & _FLAG_COUNTS else 0,
                      "key_offsets": 8 * (n + 1), "hashes": 4 * n, "order": 8 * n}
            for name, (off, nb, crc) in sects.items():
                if name in expect and nb != expect[name]:
                    raise ValueError(f"{path}: corrupted: section {name} has {nb} bytes, expected {expect[name]} "
                                     f"for {n} x {dim}")
                if off + nb > size:
                    raise ValueError(f"{path}: truncated: section {name} needs bytes {off}..{off + nb}, the file "
                                     f"ends at byte {size}")
            if mmap_mode:
                self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                data = self._mm
            else:
                f.seek(0)
                data = f.read()
                self._mm = None
                if len(data) != size:
                    raise ValueError(f"{path}: the file changed while being read")
        checked = [s for s in _SECTIONS if s != "vectors" or not mmap_mode]
        for name in checked:
            off, nb, crc = sects[name]
            if zlib.crc32(memoryview(data)[off:off + nb]) != crc:
                raise ValueError(f"{path}: corrupted: section {name} (bytes {off}..{off + nb}) fails its checksum")
        self.n_all = n
        self.n = n if limit is None else min(n, int(limit))
        self.dim = dim
        self._data = data
        self._sects = sects

        def arr(name, dtype, shape):
            off, nb, _ = sects[name]
            a = np.frombuffer(data, dtype=dtype, count=nb // np.dtype(dtype).itemsize, offset=off) if nb else \
                np.zeros(0, dtype=dtype)
            return a.reshape(shape)

        k = self.n
        self.vectors = arr("vectors", "<f4", (n, dim))[:k]
        self.norms = arr("norms", "<f4", (n,))[:k]
        self.counts = arr("counts", "<i8", (n,))[:k] if flags & _FLAG_COUNTS else None
        self.key_offsets = arr("key_offsets", "<i8", (n + 1,))
        self.hashes = arr("hashes", "<u4", (n,))
        self.order = arr("order", "<i8", (n,))
        koff, knb, _ = sects["keys"]
        self._keys_off, self._keys_nb = koff, knb
        if n and (int(self.key_offsets[0]) != 0 or int(self.key_offsets[n]) != knb + 1):
            raise ValueError(f"{path}: corrupted: word offsets do not span the word section")
        if not mmap_mode:
            self.vectors = np.array(self.vectors)  # own the memory, writable like any loaded set

    def key_bytes(self, i):
        a, b = int(self.key_offsets[i]), int(self.key_offsets[i + 1]) - 1
        return self._data[self._keys_off + a:self._keys_off + b]

    def find(self, key):
        """Index of ``key`` (a str), or -1."""
        try:
            raw = key.encode("utf-8")
        except (AttributeError, UnicodeEncodeError):
            return -1
        h = zlib.crc32(raw)
        j = int(np.searchsorted(self.hashes, h))
        while j < self.n_all and int(self.hashes[j]) == h:
            i = int(self.order[j])
            if i < self.n and self.key_bytes(i) == raw:
                return i
            j += 1
        return -1

    def keys(self):
        """All words (the first ``limit``), decoded in one go."""
        if self.n_all == 0:
            return []
        blob = bytes(self._data[self._keys_off:self._keys_off + self._keys_nb])
        try:
            keys = blob.decode("utf-8").split("\n")
        except UnicodeDecodeError as e:
            raise ValueError(f"{self.path}: corrupted: byte {self._keys_off + e.start} in the word section "
                             f"is not UTF-8") from None
        if len(keys) != self.n_all:
            raise ValueError(f"{self.path}: corrupted: {len(keys)} words for {self.n_all} vectors")
        return keys[:self.n]
