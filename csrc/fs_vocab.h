/* fs_vocab.h: words of UTF-8 text as bytes, for the vocabulary scan and the first
 * epoch's word -> id lookup. Plain C11, no Python.
 *
 * Text is split as Python's str.split() splits it when its only whitespace is
 * ASCII (\t \n \v \f \r, \x1c-\x1f, space); the caller sends chunks with other
 * whitespace (U+00A0, U+3000, ...) through Python first. A line ends at \n. */
#ifndef FS_VOCAB_H
#define FS_VOCAB_H

#include <stdint.h>

#include "fs_common.h"

/* 64-bit FNV-1a of n bytes (the hash both tables use). */
uint64_t fs_fnv1a(const unsigned char *p, int64_t n);

/* Open addressing, linear probing: a slot holds a word's index k (-1: empty) and
 * the high 32 bits of its hash, so that most mismatches are rejected without
 * reading the word. */
typedef struct {
    uint32_t tag;
    int32_t k;
} fs_vslot;

/* A fixed table of words (a vocabulary): word k is text[start[k]:start[k+1]]. */
typedef struct {
    const unsigned char *text;
    const int64_t *start;     /* n_words + 1 */
    const int32_t *word_id;   /* n_words */
    fs_vslot *slots;          /* mask + 1, a power of two > n_words */
    uint64_t mask;
} fs_vtable;

/* Fill t->slots with words 0..n-1 (the slots array is overwritten). */
void fs_vtable_fill(fs_vtable *t, int64_t n);

/* Ids of the in-vocabulary words of buf[0:n], -1 after every newline
 * (out-of-vocabulary words dropped); returns how many were written to out
 * (room for n + 1). */
int64_t fs_utf8_encode(const fs_vtable *t, const unsigned char *buf, int64_t n, int32_t *out);

/* Word counts of a stream of chunks, in first-seen order. With max_size > 0,
 * word2vec.c's pruning, checked at every word: at the word that takes the table
 * past max_size distinct words, the words seen at most min_reduce times are
 * dropped (min_reduce starts at 1 and goes up by one per round, staying raised)
 * until it fits; the survivors keep their order. */
typedef struct {
    unsigned char *text;      /* the words, back to back */
    int64_t text_len, text_cap;
    int64_t *start;           /* n + 1 offsets into text */
    int64_t *count;           /* n */
    uint64_t *hash;           /* n */
    int64_t n, cap;
    fs_vslot *slots;
    uint64_t mask;
    int64_t max_size, min_reduce;
    int64_t raw;              /* tokens seen */
    int64_t lines;            /* lines ended so far that hold a word */
    int line_open;            /* the current line holds a word */
} fs_wcount;

/* NULL when out of memory. */
fs_wcount *fs_wcount_new(int64_t max_size);
void fs_wcount_free(fs_wcount *c);

/* Count the words of buf[0:n]. A chunk must end at whitespace (or the text's
 * end): a word never continues into the next chunk. With ids (room for n + 1),
 * also write each word's index in the table (its first-seen rank) and -1 after
 * every newline, their number to *n_ids: the text as ids, for a table that is
 * not pruned (pruning renumbers). FS_ERR_NOMEM leaves the counts as they were
 * after some prefix of the chunk. */
fs_status fs_wcount_feed(fs_wcount *c, const unsigned char *buf, int64_t n, int32_t *ids,
                         int64_t *n_ids);

/* in[0:n] (table indices and -1 separators) through remap (n_remap entries: an
 * id, or < 0 to drop the word), with a -1 inserted wherever a run of kept words
 * would pass max_len; *run carries the current run's length from chunk to
 * chunk. Writes to out (room for n + n / max_len + 1) and returns how many,
 * or -1 for an index outside [-1, n_remap); *last_sep: where the last -1 of
 * out is (-1: none). */
int64_t fs_ids_remap(const int32_t *in, int64_t n, const int32_t *remap, int64_t n_remap,
                     int64_t max_len, int64_t *run, int32_t *out, int64_t *last_sep);

#endif
