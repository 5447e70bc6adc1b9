"""Vocabulary: counts, pruning, subsampling probabilities, noise table, Huffman tree."""
from __future__ import annotations

import numpy as np


class Vocab:
    """Words by descending count (equal counts: the later-seen word first, as gensim
    orders them), or in first-seen order (``from_counts(sort=False)``).

    Attributes: ``words`` (list of str), ``counts`` (int64 array), ``index``
    (dict word -> id), ``raw_words`` (tokens in the corpus, kept or not),
    ``n_sentences``."""

    def __init__(self, words, counts, raw_words=0, n_sentences=0, scan_retained=None):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise ValueError("words and counts differ in length")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("duplicate words in vocabulary")
        self.raw_words = int(raw_words)
        self.n_sentences = int(n_sentences)
        # in-vocabulary tokens of the scanned corpus, when counts also hold earlier
        # corpora (a vocabulary updated with another corpus)
        self.scan_retained = None if scan_retained is None else int(scan_retained)

    def __len__(self):
        return len(self.words)

    @property
    def retained_words(self):
        """Tokens of the scanned corpus that are in the vocabulary (what an epoch of
        it trains on before subsampling)."""
        return int(self.counts.sum()) if self.scan_retained is None else self.scan_retained

    def updated(self, counts: dict, raw_words, n_sentences, min_count, trim_rule=None):
        """This vocabulary grown by another corpus's ``counts``, as gensim's
        ``build_vocab(update=True)``: the counts of known words grow (whatever they
        are), and the new words that pass ``min_count`` / ``trim_rule`` are appended
        in the order the corpus first has them (gensim does not sort an update)."""
        new = Vocab.from_counts({w: c for w, c in counts.items() if w not in self.index}, min_count,
                                trim_rule=trim_rule, sort=False)
        add = np.fromiter((counts.get(w, 0) for w in self.words), dtype=np.int64, count=len(self))
        v = Vocab(self.words + new.words, np.concatenate((self.counts + add, new.counts)),
                  raw_words, n_sentences, scan_retained=int(add.sum() + new.counts.sum()))
        v.effective_min_count = min_count
        return v

    @classmethod
    def from_counts(cls, counts: dict, min_count=5, max_final_vocab=None, raw_words=0, n_sentences=0,
                    trim_rule=None, sort=True):
        """Keep words with count >= min_count (raised, as gensim does, so that at most
        ``max_final_vocab`` words remain), sorted by descending count; equal counts
        in gensim's order (the later-seen word first), so that the same corpus gives
        gensim's word order (which ``restrict_vocab`` cuts)."""
        words_all = list(counts.keys())
        cnt_all = np.fromiter(counts.values(), dtype=np.int64, count=len(words_all))
        effective = min_count
        if max_final_vocab is not None and max_final_vocab < len(words_all):
            kth = np.sort(cnt_all)[::-1][max_final_vocab]
            effective = max(min_count, int(kth) + 1)
        keep = cnt_all >= effective
        if trim_rule is not None:  # gensim's: 1 discard, 2 keep, anything else the default
            for i, (w, c) in enumerate(zip(words_all, cnt_all.tolist())):
                rule = trim_rule(w, c, effective)
                if rule == 1:
                    keep[i] = False
                elif rule == 2:
                    keep[i] = True
        kept = np.flatnonzero(keep)
        if sort:
            kept = kept[np.lexsort((-kept, -cnt_all[kept]))]  # by count, then later-seen first
        words = [words_all[i] for i in kept]
        cnts = cnt_all[kept]
        v = cls(words, cnts, raw_words, n_sentences)
        v.effective_min_count = effective
        return v

    def keep_probabilities(self, sample):
        """word2vec.c's subsampling: P(keep w) = (sqrt(f/t) + 1) * t/f, f = count(w),
        t = sample * retained words; capped at 1. ``sample`` <= 0 keeps everything;
        ``sample`` >= 1 is a count, as in gensim: t = int(sample * (3 + sqrt 5) / 2),
        which subsamples the words more frequent than ``sample``."""
        if not sample or sample <= 0:
            return np.ones(len(self), dtype=np.float32)
        t = sample * int(self.counts.sum()) if sample < 1 else int(sample * (3 + np.sqrt(5)) / 2)
        f = self.counts.astype(np.float64)
        p = (np.sqrt(f / t) + 1.0) * t / f
        return np.minimum(p, 1.0).astype(np.float32)

    def noise_weights(self, ns_exponent=0.75):
        with np.errstate(over="ignore", under="ignore"):
            w = self.counts.astype(np.float64) ** ns_exponent
        if not (np.isfinite(w).all() and w.max() > 0):
            # an exponent so large (or so negative) that count^x leaves float64's range:
            # the same distribution, scaled by its largest term, computed in logs
            # relative to the largest (x > 0) or smallest (x < 0) count, so that the
            # products are <= 0 and never inf - inf (x = 1e308 made NaNs)
            logc = np.log(self.counts.astype(np.float64))
            ref = logc.max() if ns_exponent > 0 else logc.min()
            with np.errstate(over="ignore", under="ignore"):
                w = np.exp(ns_exponent * (logc - ref))
        return w

    def huffman(self):
        """Huffman tree of the counts (word2vec.c's construction).

        Returns (offset int64 (n+1), point int32, code uint8): word w's path from
        the root is point/code[offset[w]:offset[w+1]]; points index the n - 1
        inner nodes (root = n - 2), codes are the branch bits."""
        n = len(self)
        if n < 2:
            raise ValueError("hierarchical softmax needs a vocabulary of at least 2 words")
        if np.any(np.diff(self.counts) > 0):  # (sorted_vocab=False) built in count order, mapped back
            order = np.lexsort((-np.arange(n), -self.counts))  # from_counts' order: the same tree
            off, point, code = Vocab([self.words[i] for i in order], self.counts[order]).huffman()
            seg = [None] * n
            for j, w in enumerate(order.tolist()):
                seg[w] = slice(off[j], off[j + 1])
            lens = np.array([s.stop - s.start for s in seg], dtype=np.int64)
            return (np.concatenate(([0], np.cumsum(lens))).astype(np.int64),
                    np.concatenate([point[s] for s in seg]), np.concatenate([code[s] for s in seg]))
        # two queues: leaves from the rarest up (pos1), inner nodes in creation order (pos2)
        c = self.counts.tolist() + [0] * (n - 1)
        par = [0] * (2 * n - 1)
        bits = [0] * (2 * n - 1)
        pos1, pos2 = n - 1, n
        for a in range(n - 1):
            picks = []
            for _ in range(2):
                if pos1 >= 0 and (pos2 >= n + a or c[pos1] < c[pos2]):
                    picks.append(pos1)
                    pos1 -= 1
                else:
                    picks.append(pos2)
                    pos2 += 1
            c[n + a] = c[picks[0]] + c[picks[1]]
            par[picks[0]] = n + a
            par[picks[1]] = n + a
            bits[picks[1]] = 1
        parent = np.array(par, dtype=np.int64)
        binary = np.array(bits, dtype=np.uint8)
        root = 2 * n - 2
        # depth of every node, top-down (inner nodes were created bottom-up)
        depth = [0] * (2 * n - 1)
        for node in range(root - 1, -1, -1):
            depth[node] = depth[par[node]] + 1
        leaf_depth = np.array(depth[:n], dtype=np.int64)
        offset = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(leaf_depth, out=offset[1:])
        point = np.empty(offset[-1], dtype=np.int32)
        code = np.empty(offset[-1], dtype=np.uint8)
        # walk all leaves up at once; level k fills the k-th entry from the bottom
        cur = np.arange(n)
        for k in range(int(leaf_depth.max())):
            live = leaf_depth > k
            pos = offset[:n][live] + leaf_depth[live] - 1 - k
            code[pos] = binary[cur[live]]
            point[pos] = parent[cur[live]] - n
            cur = np.where(live, parent[cur], cur)
        return offset, point, code
