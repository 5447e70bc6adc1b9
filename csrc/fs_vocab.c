/* fs_vocab.c: see fs_vocab.h. */
#include "fs_vocab.h"

#include <stdlib.h>
#include <string.h>

#define FS_FNV_INIT 14695981039346656037ULL

static inline uint64_t fs_fnv_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * 1099511628211ULL;
}

uint64_t fs_fnv1a(const unsigned char *p, int64_t n)
{
    uint64_t h = FS_FNV_INIT;
    for (int64_t i = 0; i < n; i++) h = fs_fnv_step(h, p[i]);
    return h;
}

/* 1: whitespace to str.split() among ASCII bytes, 2: newline, 0: part of a word */
static void fs_space_table(unsigned char space[256])
{
    for (int c = 0; c < 256; c++)
        space[c] = (unsigned char)(c == 32 || (c >= 9 && c <= 13) || (c >= 28 && c <= 31));
    space['\n'] = 2;
}

/* end of the word starting at buf[i] (not whitespace), hashing it on the way */
static inline int64_t fs_word_end(const unsigned char *buf, int64_t i, int64_t n,
                                  const unsigned char space[256], uint64_t *hash)
{
    uint64_t h = FS_FNV_INIT;
    do {
        h = fs_fnv_step(h, buf[i]);
        i++;
    } while (i < n && !space[buf[i]]);
    *hash = h;
    return i;
}

/* slot of the word p[0:n] with hash h, or of the empty slot where it would go */
static inline uint64_t fs_probe(const fs_vslot *slots, uint64_t mask, const unsigned char *text,
                                const int64_t *start, const unsigned char *p, int64_t n, uint64_t h)
{
    uint64_t i = h & mask;
    uint32_t tag = (uint32_t)(h >> 32);
    for (;;) {
        fs_vslot s = slots[i];
        if (s.k < 0) return i;
        if (s.tag == tag && start[s.k + 1] - start[s.k] == n &&
            memcmp(text + start[s.k], p, (size_t)n) == 0)
            return i;
        i = (i + 1) & mask;
    }
}

static void fs_slots_clear(fs_vslot *slots, uint64_t mask)
{
    for (uint64_t i = 0; i <= mask; i++) {
        slots[i].k = -1;
        slots[i].tag = 0;
    }
}

static void fs_slots_fill(fs_vslot *slots, uint64_t mask, const unsigned char *text,
                          const int64_t *start, const uint64_t *hash, int64_t n)
{
    fs_slots_clear(slots, mask);
    for (int64_t k = 0; k < n; k++) {
        uint64_t h = hash ? hash[k] : fs_fnv1a(text + start[k], start[k + 1] - start[k]);
        uint64_t i = h & mask;
        while (slots[i].k >= 0) i = (i + 1) & mask;
        slots[i].k = (int32_t)k;
        slots[i].tag = (uint32_t)(h >> 32);
    }
}

void fs_vtable_fill(fs_vtable *t, int64_t n)
{
    fs_slots_fill(t->slots, t->mask, t->text, t->start, NULL, n);
}

int64_t fs_utf8_encode(const fs_vtable *t, const unsigned char *buf, int64_t n, int32_t *out)
{
    unsigned char space[256];
    fs_space_table(space);
    int64_t i = 0, m = 0;
    while (i < n) {
        unsigned char c = buf[i];
        if (space[c]) {
            if (space[c] == 2) out[m++] = -1;
            i++;
            continue;
        }
        uint64_t h;
        int64_t j = fs_word_end(buf, i, n, space, &h);
        fs_vslot s = t->slots[fs_probe(t->slots, t->mask, t->text, t->start, buf + i, j - i, h)];
        if (s.k >= 0) out[m++] = t->word_id[s.k];
        i = j;
    }
    return m;
}

/* ---- counting ---- */

fs_wcount *fs_wcount_new(int64_t max_size)
{
    fs_wcount *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cap = 1024;
    c->text_cap = 1 << 16;
    c->mask = 2047;
    c->text = malloc((size_t)c->text_cap);
    c->start = malloc(sizeof(int64_t) * (size_t)(c->cap + 1));
    c->count = malloc(sizeof(int64_t) * (size_t)c->cap);
    c->hash = malloc(sizeof(uint64_t) * (size_t)c->cap);
    c->slots = malloc(sizeof(fs_vslot) * (size_t)(c->mask + 1));
    if (!c->text || !c->start || !c->count || !c->hash || !c->slots) {
        fs_wcount_free(c);
        return NULL;
    }
    c->start[0] = 0;
    fs_slots_clear(c->slots, c->mask);
    c->max_size = max_size > 0 ? max_size : 0;
    c->min_reduce = 1;
    return c;
}

void fs_wcount_free(fs_wcount *c)
{
    if (!c) return;
    free(c->text);
    free(c->start);
    free(c->count);
    free(c->hash);
    free(c->slots);
    free(c);
}

/* room for the text of one more word of n bytes */
static int fs_text_room(fs_wcount *c, int64_t n)
{
    if (c->text_len + n <= c->text_cap) return 0;
    int64_t cap = c->text_cap;
    while (cap < c->text_len + n) cap *= 2;
    unsigned char *text = realloc(c->text, (size_t)cap);
    if (!text) return -1;
    c->text = text;
    c->text_cap = cap;
    return 0;
}

/* room for word c->n: start holds cap + 1 entries, count and hash cap */
static int fs_word_room(fs_wcount *c)
{
    if (c->n < c->cap) return 0;
    int64_t cap = c->cap * 2;
    int64_t *start = realloc(c->start, sizeof(int64_t) * (size_t)(cap + 1));
    if (!start) return -1;
    c->start = start;
    int64_t *count = realloc(c->count, sizeof(int64_t) * (size_t)cap);
    if (!count) return -1;
    c->count = count;
    uint64_t *hash = realloc(c->hash, sizeof(uint64_t) * (size_t)cap);
    if (!hash) return -1;
    c->hash = hash;
    c->cap = cap;
    return 0;
}

/* word2vec.c's ReduceVocab, repeated until the table fits */
static void fs_wcount_prune(fs_wcount *c)
{
    while (c->n > c->max_size) {
        int64_t m = 0, pos = 0;
        for (int64_t k = 0; k < c->n; k++) {
            if (c->count[k] <= c->min_reduce) continue;
            int64_t len = c->start[k + 1] - c->start[k];
            memmove(c->text + pos, c->text + c->start[k], (size_t)len);
            c->start[m] = pos;
            c->count[m] = c->count[k];
            c->hash[m] = c->hash[k];
            pos += len;
            m++;
        }
        c->start[m] = pos;  /* the loop wrote start[0..m-1] only, each after reading it */
        c->n = m;
        c->text_len = pos;
        c->min_reduce++;
    }
    fs_slots_fill(c->slots, c->mask, c->text, c->start, c->hash, c->n);
}

/* append word p[0:n] (hash h) with count 1; its slot is `at` */
static fs_status fs_wcount_add(fs_wcount *c, const unsigned char *p, int64_t n, uint64_t h,
                               uint64_t at)
{
    if (fs_word_room(c) || fs_text_room(c, n)) return FS_ERR_NOMEM;
    if ((uint64_t)(c->n + 1) * 2 > c->mask + 1) {  /* keep the load at most 1/2 */
        uint64_t mask = c->mask * 2 + 1;
        fs_vslot *slots = malloc(sizeof(fs_vslot) * (size_t)(mask + 1));
        if (!slots) return FS_ERR_NOMEM;
        free(c->slots);
        c->slots = slots;
        c->mask = mask;
        fs_slots_fill(c->slots, c->mask, c->text, c->start, c->hash, c->n);
        at = fs_probe(c->slots, c->mask, c->text, c->start, p, n, h);
    }
    memcpy(c->text + c->text_len, p, (size_t)n);
    c->text_len += n;
    c->start[c->n + 1] = c->text_len;
    c->count[c->n] = 1;
    c->hash[c->n] = h;
    c->slots[at].k = (int32_t)c->n;
    c->slots[at].tag = (uint32_t)(h >> 32);
    c->n++;
    if (c->max_size && c->n > c->max_size) fs_wcount_prune(c);
    return FS_OK;
}

fs_status fs_wcount_feed(fs_wcount *c, const unsigned char *buf, int64_t n, int32_t *ids,
                         int64_t *n_ids)
{
    int64_t m = 0;
    if (n_ids) *n_ids = 0;
    unsigned char space[256];
    fs_space_table(space);
    if (c->n >= INT32_MAX - 1) return FS_ERR_ARG;
    int64_t i = 0;
    while (i < n) {
        unsigned char ch = buf[i];
        if (space[ch]) {
            if (space[ch] == 2) {
                c->lines += c->line_open;
                c->line_open = 0;
                if (ids) ids[m++] = -1;
            }
            i++;
            continue;
        }
        uint64_t h;
        int64_t j = fs_word_end(buf, i, n, space, &h);
        uint64_t at = fs_probe(c->slots, c->mask, c->text, c->start, buf + i, j - i, h);
        int32_t k = c->slots[at].k;
        if (k >= 0) {
            c->count[k]++;
        } else {
            if (c->n >= INT32_MAX - 1) return FS_ERR_ARG;
            k = (int32_t)c->n;
            fs_status st = fs_wcount_add(c, buf + i, j - i, h, at);
            if (st != FS_OK) return st;
        }
        if (ids) ids[m++] = k;
        c->raw++;
        c->line_open = 1;
        i = j;
    }
    if (n_ids) *n_ids = m;
    return FS_OK;
}

int64_t fs_ids_remap(const int32_t *in, int64_t n, const int32_t *remap, int64_t n_remap,
                     int64_t max_len, int64_t *run, int32_t *out, int64_t *last_sep)
{
    int64_t m = 0, r = *run, sep = -1;
    for (int64_t i = 0; i < n; i++) {
        int32_t x = in[i];
        if (x == -1) {
            sep = m;
            out[m++] = -1;
            r = 0;
            continue;
        }
        if (x < -1 || x >= n_remap) return -1;
        int32_t y = remap[x];
        if (y < 0) continue;
        if (r == max_len) {
            sep = m;
            out[m++] = -1;
            r = 0;
        }
        out[m++] = y;
        r++;
    }
    *run = r;
    *last_sep = sep;
    return m;
}
