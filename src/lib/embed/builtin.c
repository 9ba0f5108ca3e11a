/*
 * embed/builtin.c: the built-in deterministic embedder ("hash-v2"). Signed feature hashing of
 * normalised, lightly stemmed words and of character 4-grams of each word, with sublinear term
 * frequency and word weights that stand in for IDF without corpus statistics (stop words and a
 * fixed list of common English words weigh less), L2-normalised. It needs no network and no model
 * file and is fast (tens of thousands of chunks per second per core), but it only sees LEXICAL
 * overlap, never meaning. docs/embeddings.md describes the design and its measurements.
 *
 * Everything in this file is part of the vector format: changing any constant, rule or table
 * changes the vectors, and then the provider id must change too ("builtin-hash-v3-<dim>").
 * hash-v1 (until this version) also had adjacent word pairs and character trigrams, no common
 * word list, and stop words at 0.2; its vectors are not comparable with these.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "embed/builtin.h"
#include "embed/embed.h"
#include "error.h"

/* ---- fixed parameters of hash-v2 ------------------------------------------------------------- */

#define WORD_MAX 40 /* code points per word piece; longer runs are cut into pieces */
#define NGRAM    4  /* characters per n-gram (a word shorter than that, with its marks: one) */

/*
 * Weights, measured on SciFact's train queries (docs/embeddings.md). A word's weight also scales
 * its n-grams, so that common words count less in both. Word pairs were dropped: at 384
 * dimensions their hash collisions cost more than their rare matches gave.
 */
#define W_WORD   1.0f  /* a word */
#define W_COMMON 0.3f  /* a common English word ("year", "people"): a cheap stand-in for IDF */
#define W_STOP   0.05f /* a stop word ("the", "of"): no n-grams */
#define W_NGRAMS 1.25f /* L2 weight of all character n-grams of one word occurrence, times W_* */
#define W_CJK    1.0f  /* two adjacent CJK characters (or a lone one) */

#define SEED_UNIGRAM 0x9ae16a3b2f90404fULL
#define SEED_NGRAM   0xb492b66fbe98f273ULL
#define SEED_CJK     0x9ddfea08eb382d69ULL
#define SEED_FORM    0x4cf5ad432745937fULL /* counts surface forms (for trigram tf) */
#define MARK_BEGIN   0x1FFFFEu /* "^" in trigrams: outside Unicode, so never a real character */
#define MARK_END     0x1FFFFDu /* "$" */

/* ---- hashing --------------------------------------------------------------------------------- */

/* MurmurHash3's 64-bit finaliser: full avalanche, so buckets and signs come from any bits. */
static inline uint64_t fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

/* FNV-1a over code points (not bytes): the word hash that unigrams and bigrams build on. */
static inline uint64_t word_hash(const uint32_t *w, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ---- stop words and common words ------------------------------------------------------------ */

/* Function words: W_STOP, no n-grams. */

static const char *const stop_words[] = {
    "a",     "about", "after", "all",  "also",  "an",   "and",   "any",   "are",    "as",   "at",
    "be",    "been",  "being", "but",  "by",    "can",  "could", "did",   "do",     "does", "for",
    "from",  "had",   "has",   "have", "he",    "her",  "him",   "his",   "how",    "i",    "if",
    "in",    "into",  "is",    "it",   "its",   "may",  "me",    "more",  "most",   "my",   "no",
    "not",   "of",    "on",    "or",   "other", "our",  "out",   "she",   "should", "so",   "some",
    "such",  "than",  "that",  "the",  "their", "them", "then",  "there", "these",  "they", "this",
    "those", "to",    "too",   "up",   "us",    "very", "was",   "we",    "were",   "what", "when",
    "where", "which", "who",   "why",  "will",  "with", "would", "you",   "your",
};

/*
 * Frequent English content words, adverbs and verbs (W_COMMON): a generic list written for this
 * embedder, not derived from any evaluation corpus. It approximates IDF the only way possible
 * without corpus statistics: words that are frequent in any English text weigh less.
 */
static const char *const common_words[] = {
    "able",      "above",     "across",  "actually",  "add",      "again",    "against",
    "ago",       "almost",    "alone",   "along",     "already",  "although", "always",
    "among",     "another",   "anyone",  "anything",  "appear",   "area",     "around",
    "ask",       "away",      "back",    "bad",       "base",     "become",   "before",
    "begin",     "behind",    "believe", "best",      "better",   "between",  "big",
    "both",      "bring",     "build",   "call",      "came",     "case",     "cause",
    "certain",   "change",    "clear",   "close",     "come",     "common",   "consider",
    "course",    "cut",       "day",     "different", "done",     "down",     "during",
    "each",      "early",     "either",  "else",      "end",      "enough",   "even",
    "ever",      "every",     "example", "fact",      "far",      "feel",     "few",
    "find",      "first",     "follow",  "form",      "found",    "four",     "full",
    "general",   "get",       "give",    "given",     "go",       "going",    "good",
    "got",       "great",     "group",   "half",      "hand",     "happen",   "hard",
    "help",      "here",      "high",    "hold",      "home",     "house",    "however",
    "idea",      "important", "include", "including", "increase", "instead",  "just",
    "keep",      "kind",      "know",    "large",     "last",     "late",     "later",
    "lead",      "least",     "leave",   "less",      "let",      "life",     "like",
    "likely",    "line",      "little",  "live",      "long",     "look",     "lot",
    "low",       "made",      "main",    "major",     "make",     "man",      "many",
    "mean",      "men",       "might",   "mind",      "month",    "much",     "must",
    "near",      "need",      "never",   "new",       "next",     "nothing",  "now",
    "number",    "often",     "old",     "once",      "one",      "only",     "open",
    "order",     "own",       "part",    "people",    "per",      "perhaps",  "place",
    "point",     "possible",  "present", "problem",   "provide",  "put",      "quite",
    "rather",    "real",      "really",  "reason",    "result",   "right",    "run",
    "said",      "same",      "saw",     "say",       "see",      "seem",     "seen",
    "set",       "several",   "show",    "side",      "since",    "small",    "something",
    "sometimes", "soon",      "start",   "state",     "still",    "take",     "taken",
    "tell",      "thing",     "think",   "three",     "through",  "thus",     "time",
    "today",     "together",  "told",    "took",      "toward",   "turn",     "two",
    "under",     "until",     "upon",    "use",       "used",     "using",    "usually",
    "want",      "way",       "well",    "went",      "whether",  "while",    "whole",
    "within",    "without",   "work",    "world",     "year",     "years",    "yet",
};

/* Open-addressed sets of the (stemmed) words' hashes, filled once. Immutable afterwards. */
#define STOP_SLOTS 1024 /* a power of two, over twice the longer list */
static uint64_t stop_set[STOP_SLOTS];
static uint64_t common_set[STOP_SLOTS];
static float inv_sqrt[WORD_MAX + 3]; /* 1 / sqrt(n) for n n-grams */
#define TF_TABLE 64
static float tf_inc[TF_TABLE]; /* ln k - ln(k-1): see tf_step() */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static size_t stem(uint32_t *w, size_t n);

static void set_fill(uint64_t *set, const char *const *words, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t w[16];
        size_t n = strlen(words[i]);
        for (size_t j = 0; j < n; j++)
            w[j] = (unsigned char)words[i][j];
        n = stem(w, n);
        uint64_t h = word_hash(w, n) | 1;
        size_t k = h & (STOP_SLOTS - 1);
        while (set[k] != 0 && set[k] != h)
            k = (k + 1) & (STOP_SLOTS - 1);
        set[k] = h;
    }
}

static void tables_init(void)
{
    set_fill(stop_set, stop_words, sizeof(stop_words) / sizeof(stop_words[0]));
    set_fill(common_set, common_words, sizeof(common_words) / sizeof(common_words[0]));
    tf_inc[0] = 0.0f;
    tf_inc[1] = 1.0f;
    for (int k = 2; k < TF_TABLE; k++)
        tf_inc[k] = (float)log((double)k / (double)(k - 1));
    inv_sqrt[0] = 0.0f;
    for (size_t n = 1; n < sizeof(inv_sqrt) / sizeof(inv_sqrt[0]); n++)
        inv_sqrt[n] = 1.0f / sqrtf((float)n);
}

static inline int in_set(const uint64_t *set, uint64_t h)
{
    h |= 1;
    size_t k = h & (STOP_SLOTS - 1);
    while (set[k] != 0) {
        if (set[k] == h)
            return 1;
        k = (k + 1) & (STOP_SLOTS - 1);
    }
    return 0;
}

/* ---- normalisation --------------------------------------------------------------------------- */

/* Latin-1 letters U+00C0..U+00FF lower-cased and stripped of accents (0: separator). */
static const uint16_t latin1_fold[64] = {
    'a',  'a', 'a', 'a', 'a', 'a', 0xE6, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i',  'i',
    0xF0, 'n', 'o', 'o', 'o', 'o', 'o',  0,   'o', 'u', 'u', 'u', 'u', 'y', 0xFE, 0xDF,
    'a',  'a', 'a', 'a', 'a', 'a', 0xE6, 'c', 'e', 'e', 'e', 'e', 'i', 'i', 'i',  'i',
    0xF0, 'n', 'o', 'o', 'o', 'o', 'o',  0,   'o', 'u', 'u', 'u', 'u', 'y', 0xFE, 'y',
};

enum { C_SEP = 0, C_WORD = 1, C_CJK = 2 };

/*
 * Class and folded form of a non-ASCII code point. Punctuation and symbol blocks separate
 * words (hash-v2 has no word pairs, so sentence ends need no class of their own).
 * Greek and Cyrillic capitals are lower-cased; other scripts are kept as they are.
 */
static inline int classify(uint32_t *cp)
{
    uint32_t c = *cp;
    if (c < 0xC0)
        return C_SEP; /* C1 controls, NBSP and Latin-1 punctuation */
    if (c <= 0xFF) {
        *cp = latin1_fold[c - 0xC0];
        return *cp ? C_WORD : C_SEP;
    }
    if (c < 0x180) {
        if ((c < 0x138 || (c >= 0x14A && c < 0x178)) && (c & 1) == 0)
            *cp = c + 1;
        else if (((c >= 0x139 && c < 0x149) || (c >= 0x179 && c < 0x17F)) && (c & 1) == 1)
            *cp = c + 1;
        return C_WORD;
    }
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) {
        *cp = c + 0x20;
        return C_WORD;
    }
    if (c >= 0x400 && c <= 0x42F) {
        *cp = c < 0x410 ? c + 0x50 : c + 0x20;
        return C_WORD;
    }
    if (c >= 0x2000 && c <= 0x2BFF) /* general punctuation .. misc symbols and arrows */
        return C_SEP;
    if (c >= 0x2E00 && c <= 0x2E7F)
        return C_SEP;
    if (c >= 0x3000 && c <= 0x303F)
        return C_SEP;
    /* Scripts written without spaces: kana, CJK ideographs (and extensions), compatibility
       ideographs. They are indexed as overlapping character pairs, like Lucene's CJK bigrams. */
    if ((c >= 0x3040 && c <= 0x30FF) || (c >= 0x3400 && c <= 0x4DBF) ||
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) ||
        (c >= 0x20000 && c <= 0x2FFFF))
        return C_CJK;
    if (c == 0xFEFF)
        return C_SEP;
    if (c >= 0xFF01 && c <= 0xFF65) {
        if (c <= 0xFF0F || (c >= 0xFF1A && c <= 0xFF20) || (c >= 0xFF3B && c <= 0xFF40) ||
            c >= 0xFF5B)
            return C_SEP;
    }
    return C_WORD;
}

/*
 * Decode one UTF-8 sequence at s[*i] (s[*i] >= 0x80). Leniently: an invalid byte becomes the
 * "surrogate escape" U+DC80..U+DCFF, so any byte string has a deterministic vector.
 */
static inline uint32_t decode(const unsigned char *s, size_t len, size_t *i)
{
    size_t p = *i;
    unsigned char c = s[p];
    if (c >= 0xC2 && c <= 0xDF && p + 1 < len && (s[p + 1] & 0xC0) == 0x80) {
        *i = p + 2;
        return ((uint32_t)(c & 0x1F) << 6) | (s[p + 1] & 0x3F);
    }
    if (c >= 0xE0 && c <= 0xEF && p + 2 < len && (s[p + 1] & 0xC0) == 0x80 &&
        (s[p + 2] & 0xC0) == 0x80) {
        *i = p + 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(s[p + 1] & 0x3F) << 6) |
               (s[p + 2] & 0x3F);
    }
    if (c >= 0xF0 && c <= 0xF4 && p + 3 < len && (s[p + 1] & 0xC0) == 0x80 &&
        (s[p + 2] & 0xC0) == 0x80 && (s[p + 3] & 0xC0) == 0x80) {
        *i = p + 4;
        return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(s[p + 1] & 0x3F) << 12) |
               ((uint32_t)(s[p + 2] & 0x3F) << 6) | (s[p + 3] & 0x3F);
    }
    *i = p + 1;
    return 0xDC00u | c;
}

static inline int is_vowel(uint32_t c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

static int has_vowel(const uint32_t *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_vowel(w[i]))
            return 1;
    return 0;
}

static inline int ends(const uint32_t *w, size_t n, const char *suf, size_t k)
{
    if (n < k)
        return 0;
    for (size_t i = 0; i < k; i++)
        if (w[n - k + i] != (unsigned char)suf[i])
            return 0;
    return 1;
}

/*
 * Light English suffix stripping on ASCII words of 4+ letters (far lighter than Porter): plural
 * "-s"/"-es"/"-ies", then "-ing"/"-ed"/"-ied" when a stem of 3+ letters with a vowel remains,
 * undoubling a final consonant ("running" -> "run"). Returns the new length; may rewrite w.
 */
static size_t stem(uint32_t *w, size_t n)
{
    if (n < 4)
        return n;
    for (size_t i = 0; i < n; i++)
        if (w[i] < 'a' || w[i] > 'z')
            return n;
    if (ends(w, n, "sses", 4)) {
        n -= 2;
    } else if (n >= 5 && ends(w, n, "ies", 3)) {
        w[n - 3] = 'y';
        n -= 2;
    } else if (w[n - 1] == 's' && w[n - 2] != 's' && w[n - 2] != 'u' && w[n - 2] != 'i') {
        n -= 1;
    }
    size_t m = n;
    if (n >= 5 && ends(w, n, "ied", 3)) {
        w[n - 3] = 'y';
        return n - 2;
    }
    if (ends(w, n, "ing", 3))
        m = n - 3;
    else if (ends(w, n, "ed", 2))
        m = n - 2;
    if (m == n || m < 3 || !has_vowel(w, m))
        return n;
    if (w[m - 1] == w[m - 2] && !is_vowel(w[m - 1]) && w[m - 1] != 'l' && w[m - 1] != 's' &&
        w[m - 1] != 'z')
        m--;
    return m;
}

/* ---- feature accumulation -------------------------------------------------------------------- */

typedef struct acc {
    lm__hash_slot *table; /* per-text occurrence counts, keyed by the 64-bit feature hash */
    uint32_t *used;       /* slots in use, for clearing without a full scan */
    size_t mask, nused, limit;
    float *out;
    uint64_t dim;
} acc;

/*
 * Sublinear term frequency without a second pass: the k-th occurrence of a feature adds
 * w * (ln k - ln(k-1)) (the first adds w), so after tf occurrences the feature holds exactly
 * w * (1 + ln tf). Repeated words cannot drown the rest of the text.
 */

static inline float tf_step(uint32_t k)
{
    return k < TF_TABLE ? tf_inc[k] : 1.0f / ((float)k - 0.5f);
}

static void clear_counts(acc *a)
{
    for (size_t j = 0; j < a->nused; j++)
        a->table[a->used[j]].key = 0;
    a->nused = 0;
}

/* Count one more occurrence of the (mixed) feature @p key; returns its count so far. */
static inline uint32_t bump(acc *a, uint64_t key)
{
    size_t i = (size_t)key & a->mask;
    for (;;) {
        lm__hash_slot *s = &a->table[i];
        if (s->key == key)
            return ++s->count;
        if (s->key == 0) {
            /* Only pathological texts (huge, all-distinct tokens) fill the table; their counts
               restart, which is still deterministic. */
            if (a->nused >= a->limit) {
                clear_counts(a);
                i = (size_t)key & a->mask;
                s = &a->table[i];
            }
            s->key = key;
            s->count = 1;
            a->used[a->nused++] = (uint32_t)i;
            return 1;
        }
        i = (i + 1) & a->mask;
    }
}

/* Signed hashing: bucket from the high 32 bits (multiply-shift), sign from the lowest bit. */
static inline void emit(acc *a, uint64_t key, float w)
{
    static const float sign[2] = {1.0f, -1.0f}; /* a table, not a branch: the bit is random */
    size_t bucket = (size_t)(((key >> 32) * a->dim) >> 32);
    a->out[bucket] += w * sign[key & 1];
}

static inline void add(acc *a, uint64_t raw, float w)
{
    uint64_t key = fmix64(raw);
    if (key == 0)
        key = 1; /* 0 marks an empty slot */
    emit(a, key, w * tf_step(bump(a, key)));
}

/*
 * One word (or piece of a long word): its character n-grams (of the unstemmed form, "^" and "$"
 * marking the word's ends), then the stemmed word itself.
 */
static void word(acc *a, uint32_t *w, size_t n, int at_start, int at_end)
{
    uint64_t form = word_hash(w, n);
    uint32_t pad[WORD_MAX + 2];
    size_t m = 0;
    if (at_start)
        pad[m++] = MARK_BEGIN;
    memcpy(pad + m, w, n * sizeof(*w));
    m += n;
    if (at_end)
        pad[m++] = MARK_END;

    size_t sn = stem(w, n); /* may rewrite w's tail; pad keeps the surface form */
    uint64_t h = sn == n ? form : word_hash(w, sn);
    if (in_set(stop_set, h)) {
        add(a, h ^ SEED_UNIGRAM, W_STOP);
        return;
    }
    float ww = in_set(common_set, h) ? W_COMMON : W_WORD;

    /* W_NGRAMS * ww in total per word (1/sqrt(count) each) so that long words do not dominate.
       Their tf is that of the surface form, counted under a key of its own. */
    size_t g = m < NGRAM ? m : NGRAM;
    uint64_t fkey = fmix64(form ^ SEED_FORM);
    if (fkey == 0)
        fkey = 1;
    float nw = W_NGRAMS * ww * inv_sqrt[m - g + 1] * tf_step(bump(a, fkey));
    for (size_t i = 0; i + g <= m; i++)
        emit(a, fmix64(word_hash(pad + i, g) ^ SEED_NGRAM), nw);
    add(a, h ^ SEED_UNIGRAM, ww);
}

size_t lm__embed_builtin_scratch_cap(size_t text_len)
{
    size_t want = text_len / 2 + 64, cap = 128;
    while (cap < want && cap < ((size_t)1 << 17))
        cap <<= 1;
    return cap;
}

void lm__embed_builtin_one(float *out,
                           int dim,
                           const char *text,
                           size_t len,
                           lm__hash_slot *table,
                           uint32_t *used,
                           size_t cap)
{
    pthread_once(&tables_once, tables_init);
    acc a = {table, used, cap - 1, 0, cap - cap / 4, out, (uint64_t)dim};
    const unsigned char *s = (const unsigned char *)text;
    uint32_t w[WORD_MAX];
    size_t n = 0, i = 0, cjk_run = 0;
    uint32_t cjk_prev = 0;
    int at_start = 1;

    memset(out, 0, (size_t)dim * sizeof(*out));
    while (i < len) {
        uint32_t cp = s[i];
        int cls;
        if (cp < 0x80) {
            i++;
            if (cp - 'A' < 26u) {
                cp += 32;
                cls = C_WORD;
            } else if (cp - 'a' < 26u || cp - '0' < 10u) {
                cls = C_WORD;
            } else {
                cls = C_SEP;
            }
        } else {
            cp = decode(s, len, &i);
            cls = classify(&cp);
        }
        if (cls == C_CJK) {
            if (n > 0)
                word(&a, w, n, at_start, 1);
            n = 0;
            at_start = 1;
            if (cjk_run++ > 0)
                add(&a, (((uint64_t)cjk_prev << 21) | cp) ^ SEED_CJK, W_CJK);
            cjk_prev = cp;
            continue;
        }
        if (cjk_run > 0) {
            if (cjk_run == 1)
                add(&a, cjk_prev ^ SEED_CJK, W_CJK);
            cjk_run = 0;
        }
        if (cls == C_WORD) {
            if (n == WORD_MAX) {
                word(&a, w, n, at_start, 0);
                at_start = 0;
                n = 0;
            }
            w[n++] = cp;
            continue;
        }
        if (n > 0)
            word(&a, w, n, at_start, 1);
        n = 0;
        at_start = 1;
    }
    if (n > 0)
        word(&a, w, n, at_start, 1);
    if (cjk_run == 1)
        add(&a, cjk_prev ^ SEED_CJK, W_CJK);
    clear_counts(&a);

    double ss = 0.0;
    for (int j = 0; j < dim; j++)
        ss += (double)out[j] * (double)out[j];
    if (ss <= 0.0) {
        /* No features (empty or separator-only text), or they cancelled out. A zero vector would
           make pgvector's cosine distance NaN, so use the first basis vector instead. */
        out[0] = 1.0f;
        return;
    }
    float inv = (float)(1.0 / sqrt(ss));
    for (int j = 0; j < dim; j++)
        out[j] *= inv;
}

/* ---- provider -------------------------------------------------------------------------------- */

static int builtin_embed(
    void *self, float *out, int dim, const char *const *texts, const size_t *lens, size_t n)
{
    lm__hash_slot *table = NULL;
    uint32_t *used = NULL;
    int rc = 0;
    LM_UNUSED(self);

    size_t maxlen = 0;
    for (size_t i = 0; i < n; i++)
        if (lens[i] > maxlen)
            maxlen = lens[i];
    /* One scratch table per call, sized for the longest text: no allocation per text/feature. */
    size_t cap = lm__embed_builtin_scratch_cap(maxlen);
    table = lm__calloc(cap, sizeof(*table));
    used = lm__malloc(cap * sizeof(*used));
    if (table == NULL || used == NULL) {
        rc = LM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        lm__embed_builtin_one(out + i * (size_t)dim, dim, texts[i], lens[i], table, used,
                              lm__embed_builtin_scratch_cap(lens[i]));

out:
    lm__free(table);
    lm__free(used);
    return rc;
}

int lm_embedder_builtin_new(lm_embedder **out, int dim)
{
    LM_ASSERT_ARG(out != NULL);
    *out = NULL;
    if (dim == 0)
        dim = LM_BUILTIN_EMBED_DIM;
    if (dim < 8 || dim > LM_MAX_EMBED_DIM) {
        lm__error_set_field(LM_EINVAL, "dim", "built-in embedder dimension %d is out of range",
                            dim);
        lm__error_detail("The dimension must be from 8 to %d.", LM_MAX_EMBED_DIM);
        return LM_EINVAL;
    }
    char id[LM__EMBED_ID_MAX];
    snprintf(id, sizeof(id), "builtin-hash-v2-%d", dim);
    lm_embedder_ops ops = {LM_EMBEDDER_OPS_VERSION, builtin_embed, NULL};
    return lm__embedder_new(out, "builtin", id, "hash-v2", dim, 1, &ops, NULL);
}
