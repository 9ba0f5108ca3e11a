/*
 * llmemory_bm25.c: exact BM25 top-k for one tenant, scored in C from llmemory's postings table.
 *
 * llmemory_bm25_topk() reads the leaf pages of the postings table's primary-key btree
 * (owner_id, lexeme, chunk_no) INCLUDE (tf, doc_len) directly, one chunk_no-ordered posting list
 * per query lexeme, and runs MaxScore document-at-a-time: lists whose summed upper bounds cannot
 * lift a chunk into the top k are only probed, by btree seek, for the chunks that the other lists
 * produce. Visibility follows index-only-scan rules under the active snapshot. It computes no
 * statistics: the caller passes each lexeme's weight (qtf * idf), k1, b and avgdl exactly as the
 * pure-SQL path computes them, and gets the same ranking back.
 * See docs/bm25-extension.md for the design, the exactness argument and measurements.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/visibilitymap.h"
#include "catalog/pg_am.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/predicate.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 160000
/* _bt_search(), _bt_getbuf() and BTScanInsertData change shape in PostgreSQL 16. */
#error "llmemory_bm25 is written against PostgreSQL 15's nbtree internals"
#endif

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(llmemory_bm25_topk);
PG_FUNCTION_INFO_V1(llmemory_bm25_search);

void _PG_init(void);

/*
 * Settings for tests and comparisons; the results never depend on them. pruning = off scores
 * every posting; prime = off starts pruning without the threshold prime() computes.
 */
static bool bm25_pruning = true;
static bool bm25_prime = true;

/* Entries decoded per look at a page when probing; sequential reads take the whole page. */
#define PROBE_WINDOW 8
/* Lists on at most this many leaf pages are read whole up front (cursor_materialize()). */
#define MAT_PAGES 8
/* Leaf tuples fetched into the CPU cache ahead of decoding. */
#define PREFETCH_AHEAD 8
#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif
/* Buffer hints cover indexes of up to this many blocks (4 bytes each). */
#define HINT_MAX_BLOCKS (1U << 22)
/* Chunks scored up front to start pruning with a good threshold (see prime()). */
#define PRIME_EXTRA 2
/* prime() reads up to this many lists with the largest bounds, this many entries in all. */
#define PRIME_LISTS   4
#define PRIME_ENTRIES 8192
/* ... and only when the lists span this many times the pages it probes (prime_pays()). */
#define PRIME_PAYS 4

/* The postings table's columns, in index order: three key columns, two included. */
#define NCOLS 5
static const char *const col_names[NCOLS] = {"owner_id", "lexeme", "chunk_no", "tf", "doc_len"};
static const Oid col_types[NCOLS] = {TEXTOID, TEXTOID, INT8OID, INT4OID, INT4OID};

#define ENTRY_VM_UNKNOWN 0
#define ENTRY_VM_ALL     1
#define ENTRY_VM_NOT     2

/* One index entry of one posting list. */
typedef struct Entry {
    int64 chunk_no;
    int32 tf;
    int32 dl;
    ItemPointerData tid; /* heap tuple of the posting */
    uint8 vm;            /* visibility map: ENTRY_VM_UNKNOWN, ENTRY_VM_ALL or ENTRY_VM_NOT */
} Entry;

/*
 * A position in one lexeme's posting list. Entries are decoded from the current leaf page under
 * its share lock into a window; the page then stays pinned (not locked) while the cursor is on
 * it, as an index-only scan keeps its current page pinned: VACUUM needs a cleanup lock on the
 * page to remove entries, so the visibility-map test of an entry taken while the pin is held
 * cannot be fooled by a heap tuple removed in between. Looking at the page again re-locks it and
 * searches by chunk_no, so concurrent inserts and splits need no special care.
 */
typedef struct Cursor {
    int term;        /* index into the caller's arrays */
    float8 weight;   /* qtf * idf */
    float8 ub;       /* upper bound of one contribution: weight * (k1 + 1) */
    Datum lexeme;    /* text, for descents */
    const char *lex; /* its bytes, for comparisons on leaf pages */
    int lexlen;
    BTScanInsertData *key; /* (owner_id, lexeme): orders other lexemes' tuples on shared pages */
    /*
     * The bytes (owner_id, lexeme) start a leaf tuple's data with when both fit 1-byte varlena
     * headers, as index_form_tuple() stores them; pfxlen 0 if they do not. A match is proof;
     * a mismatch is checked the slow way.
     */
    char *pfx;
    int pfxlen;

    Buffer buf;            /* current leaf page, pinned; InvalidBuffer if none */
    BlockNumber blk;       /* its block number */
    Entry *e;              /* window: entries decoded from it, chunk_no ascending (or mat) */
    Entry *win;            /* the window's storage */
    bool mat;              /* the whole list is in e[0..n-1], visibility-map bits read */
    int n;                 /* entries in the window */
    int pos;               /* current entry; pos == n: window used up */
    bool page_done;        /* the window holds the list's last entry on this page */
    bool more;             /* the list may continue on the right sibling */
    BlockNumber next;      /* right sibling, as of the last look */
    int64 page_last;       /* chunk_no of the list's last tuple on this page (or to its left) */
    bool started;          /* positioned at least once */
    bool at_end;           /* no entries left */
    BlockNumber first_blk; /* the leaf page the list starts on (its descent's landing page) */
    bool empty;            /* the list has no entries at all */
    int probes_here;       /* seeks on the current page */
    bool dense;            /* the last page took several seeks: decode whole pages */

    /*
     * Skip array: (lowest possible chunk_no, leaf block) of the list's leaf pages ahead, read
     * from the downlinks of the level-1 pages above them. A hint only: a page found through it
     * is read like any other, and right-links fix up pages split since.
     */
    int64 *skip_low;
    BlockNumber *skip_blk;
    int nskip, skipcap, skip_pos;
    BlockNumber l1_blk; /* level-1 page to read next, P_NONE when none */
    bool l1_carry;      /* its first downlink leads to the list, from chunk_no l1_low on */
    int64 l1_low;
    bool skip_tried;
} Cursor;

typedef struct Hit {
    int64 chunk_no;
    float8 score;
} Hit;

/* Extra index entries for one chunk in one list (dead versions); normally never used. */
typedef struct Dup {
    int term;
    Entry e;
} Dup;

typedef struct Stats {
    int64 candidates; /* chunks scored (at least partially) */
    int64 pruned;     /* ... of which rejected by an upper bound before full scoring */
    int64 looks;      /* leaf page looks (lock, search, decode) */
    int64 entries;    /* entries decoded */
    int64 descents;   /* root-to-leaf searches */
    int64 jumps;      /* seeks through a skip array */
    int64 fetches;    /* heap visibility checks (pages not all-visible) */
} Stats;

typedef struct Topk {
    Relation heap;
    Relation index;
    Snapshot snapshot;
    Buffer vmbuf;
    IndexFetchTableData *hfetch;
    TupleTableSlot *slot;
    bool heapkeyspace;
    bool allequalimage;
    char align[NCOLS]; /* attalign of the index tuple's columns */

    Datum owner; /* text */
    const char *own;
    int ownlen;

    float8 k1, b, avgdl;
    bool safe;    /* every contribution lies in [0, ub]: pruning and early rejection are valid */
    bool pruning; /* safe and enabled */
    float8 slack; /* relative allowance for rounding in bound tests */

    int m;           /* number of lists */
    Cursor *cursors; /* in the caller's order */
    int *order;      /* list indexes by ub ascending */
    float8 *prefix;  /* prefix[j] = sum of ub over order[0..j-1] */
    int ne;          /* order[0..ne-1] are non-essential (probed only) */
    /*
     * ecur[r]: the current chunk_no of list order[r] (PG_INT64_MAX at its end), kept for the
     * essential lists (r >= ne) so the merge reads one small array instead of chasing each
     * cursor's window. Refreshed whenever an essential cursor moves (only evaluate() moves them).
     */
    int64 *ecur;

    /* Per-candidate scratch, indexed by term. */
    Entry *hit;
    float8 *contrib;
    bool *present;
    int *touched;
    int ntouched;
    Dup *dups;
    int ndups, maxdups;

    /* Top k: a binary heap with the worst hit at the root. */
    Hit *top;
    int ntop, k, topcap;
    float8 theta;  /* score of the worst hit once ntop == k */
    float8 theta0; /* from prime(): k chunks score at least this; -inf if unknown */

    Stats st;
} Topk;

/* ---------------------------------------------------------------- scoring */

/*
 * One posting's contribution, with the same float8 operations in the same order as the SQL
 * path in src/lib/search/bm25.c:
 *   w * tf * (k1 + 1) / (tf + k1 * (1 - b + b * doc_len / avgdl))
 * PostgreSQL evaluates that left to right on float8 (the ints are converted exactly), so the
 * results are bit-identical; the Makefile turns off FMA contraction to keep it that way.
 */
static inline float8 contribution(const Topk *t, float8 w, int32 tf, int32 dl)
{
    float8 ftf = (float8)tf;

    return w * ftf * (t->k1 + 1.0) / (ftf + t->k1 * (1.0 - t->b + t->b * (float8)dl / t->avgdl));
}

/* Sum of the present contributions in the caller's term order, as SQL's sum() adds them. */
static float8 sum_in_order(const Topk *t)
{
    float8 s = 0.0;
    bool first = true;

    for (int i = 0; i < t->m; i++) {
        if (!t->present[i])
            continue;
        if (first) {
            s = t->contrib[i];
            first = false;
        } else {
            s = s + t->contrib[i];
        }
    }
    return s;
}

/*
 * Can a chunk whose score is at most `bound` (up to rounding) be left out? Below theta0 it
 * cannot be among the k best; at or below the heap's worst score it loses to every hit, since
 * chunks arrive in ascending chunk_no and ties go to the smaller chunk_no.
 */
static inline bool cannot_win_exact(const Topk *t, float8 score)
{
    return score < t->theta0 || (t->ntop == t->k && score <= t->theta);
}

static inline bool cannot_win(const Topk *t, float8 bound)
{
    return cannot_win_exact(t, bound * (1.0 + t->slack));
}

/* ---------------------------------------------------------------- top-k heap */

static inline bool hit_worse(const Hit *a, const Hit *b)
{
    return a->score < b->score || (a->score == b->score && a->chunk_no > b->chunk_no);
}

static void heap_sift_down(Hit *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        Hit tmp;

        if (l < n && hit_worse(&h[l], &h[w]))
            w = l;
        if (r < n && hit_worse(&h[r], &h[w]))
            w = r;
        if (w == i)
            return;
        tmp = h[i];
        h[i] = h[w];
        h[w] = tmp;
        i = w;
    }
}

static void heap_sift_up(Hit *h, int i)
{
    while (i > 0) {
        int p = (i - 1) / 2;
        Hit tmp;

        if (!hit_worse(&h[i], &h[p]))
            return;
        tmp = h[i];
        h[i] = h[p];
        h[p] = tmp;
        i = p;
    }
}

/* Offers a fully scored, visible chunk to a heap of at most `k` hits. */
static void heap_offer(Hit **heap, int *n, int *cap, int k, int64 chunk_no, float8 score)
{
    Hit h = {chunk_no, score};

    if (*n < k) {
        if (*n == *cap) {
            *cap = (int)Min((int64)k, (int64)*cap * 2);
            *heap = repalloc(*heap, sizeof(Hit) * *cap);
        }
        (*heap)[*n] = h;
        heap_sift_up(*heap, (*n)++);
    } else if (hit_worse(&(*heap)[0], &h)) {
        (*heap)[0] = h;
        heap_sift_down(*heap, *n, 0);
    }
}

static void top_offer(Topk *t, int64 chunk_no, float8 score)
{
    heap_offer(&t->top, &t->ntop, &t->topcap, t->k, chunk_no, score);
    if (t->ntop == t->k)
        t->theta = t->top[0].score;
}

static int hit_cmp_desc(const void *a, const void *b)
{
    const Hit *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->chunk_no < y->chunk_no ? -1 : (x->chunk_no > y->chunk_no);
}

static int hit_cmp_chunk(const void *a, const void *b)
{
    const Hit *x = a, *y = b;

    return x->chunk_no < y->chunk_no ? -1 : (x->chunk_no > y->chunk_no);
}

/* ---------------------------------------------------------------- index tuples */

/* Text datum on an index tuple equals the given bytes? Deterministic collations only. */
static bool text_equal(const char *att, const char *bytes, int len)
{
    if (VARATT_IS_COMPRESSED(att) || VARATT_IS_EXTERNAL(att)) {
        /* Index tuples compress wide values; never the case for short keys, but be exact. */
        text *v = DatumGetTextPP(PointerGetDatum(att));
        bool eq = VARSIZE_ANY_EXHDR(v) == (Size)len && memcmp(VARDATA_ANY(v), bytes, len) == 0;

        if ((Pointer)v != att)
            pfree(v);
        return eq;
    }
    return VARSIZE_ANY_EXHDR(att) == (Size)len && memcmp(VARDATA_ANY(att), bytes, len) == 0;
}

static inline IndexTuple page_tuple(Page page, OffsetNumber off)
{
    return (IndexTuple)PageGetItem(page, PageGetItemId(page, off));
}

/*
 * Locates the first `natts` columns of a tuple of the postings index. The layout is fixed
 * (checked when the index was chosen): two varlena keys, an int8 key, two int4 payload columns,
 * no nulls. Pivot tuples on internal pages carry only a prefix of the keys.
 */
static inline void tuple_fields(const Topk *t,
                                IndexTuple itup,
                                int natts,
                                char **own,
                                char **lex,
                                int64 *chunk_no,
                                int32 *tf,
                                int32 *dl)
{
    char *tp;
    long off = 0;

    if (IndexTupleHasNulls(itup))
        elog(ERROR, "llmemory_bm25: unexpected null in postings index \"%s\"",
             RelationGetRelationName(t->index));
    tp = (char *)itup + IndexInfoFindDataOffset(itup->t_info);
    if (natts < 1)
        return;
    off = att_align_pointer(off, t->align[0], -1, tp + off);
    *own = tp + off;
    if (natts < 2)
        return;
    off = att_addlength_pointer(off, -1, tp + off);
    off = att_align_pointer(off, t->align[1], -1, tp + off);
    *lex = tp + off;
    if (natts < 3)
        return;
    off = att_addlength_pointer(off, -1, tp + off);
    off = att_align_nominal(off, t->align[2]);
    memcpy(chunk_no, tp + off, sizeof(int64));
    if (natts < 5)
        return;
    off += sizeof(int64);
    off = att_align_nominal(off, t->align[3]);
    memcpy(tf, tp + off, sizeof(int32));
    off += sizeof(int32);
    off = att_align_nominal(off, t->align[4]);
    memcpy(dl, tp + off, sizeof(int32));
}

/* memcmp() == 0 for the few bytes of a key, without a library call per tuple. */
static inline bool bytes_equal(const char *a, const char *b, int len)
{
    while (len >= 8) {
        uint64 x, y;

        memcpy(&x, a, 8);
        memcpy(&y, b, 8);
        if (x != y)
            return false;
        a += 8;
        b += 8;
        len -= 8;
    }
    while (len-- > 0)
        if (*a++ != *b++)
            return false;
    return true;
}

static inline bool same_list(const Topk *t, const Cursor *c, const char *own, const char *lex)
{
    return text_equal(lex, c->lex, c->lexlen) && text_equal(own, t->own, t->ownlen);
}

/*
 * Is the leaf tuple one of the cursor's postings? If so, also reads chunk_no, tf and doc_len.
 * Fast path: the tuple starts with the cursor's key bytes, so the int8 follows at a fixed offset.
 */
static inline bool tuple_posting(
    const Topk *t, const Cursor *c, IndexTuple itup, int64 *chunk_no, int32 *tf, int32 *dl)
{
    char *own = NULL, *lex = NULL;

    if (c->pfxlen > 0 && !IndexTupleHasNulls(itup)) {
        char *tp = (char *)itup + IndexInfoFindDataOffset(itup->t_info);

        if (bytes_equal(tp, c->pfx, c->pfxlen)) {
            long off = TYPEALIGN(sizeof(int64), c->pfxlen);

            memcpy(chunk_no, tp + off, sizeof(int64));
            memcpy(tf, tp + off + sizeof(int64), sizeof(int32));
            memcpy(dl, tp + off + sizeof(int64) + sizeof(int32), sizeof(int32));
            return true;
        }
    }
    tuple_fields(t, itup, 5, &own, &lex, chunk_no, tf, dl);
    return same_list(t, c, own, lex);
}

/*
 * Does the leaf tuple at `off` sort before the list's entries >= target? Tuples of other lists
 * (only on the pages where this list starts or ends) are ordered with the index's own comparison.
 */
static bool before_target(const Topk *t, const Cursor *c, Page page, OffsetNumber off, int64 target)
{
    IndexTuple itup = page_tuple(page, off);
    int64 chunk_no = 0;
    int32 tf, dl;

    if (BTreeTupleIsPosting(itup))
        elog(ERROR, "llmemory_bm25: unexpected posting list tuple in postings index \"%s\"",
             RelationGetRelationName(t->index));
    if (tuple_posting(t, c, itup, &chunk_no, &tf, &dl))
        return chunk_no < target;
    return _bt_compare(t->index, c->key, page, off) > 0;
}

/* ---------------------------------------------------------------- buffers */

/*
 * Which shared buffer held each page of the postings index last time, for this backend. A
 * hint only: ReadRecentBuffer() pins it only if it still holds that page, which skips the
 * buffer mapping table (a hash probe under a partition lock) on the pages a tenant's queries
 * keep coming back to. Reset when the index's relfilenode changes.
 */
static RelFileNode hint_node;
static Buffer *hint;
static BlockNumber hint_size;

static Buffer get_page(Topk *t, BlockNumber blkno)
{
    RelFileNode node = t->index->rd_node;
    Buffer buf;

    if (hint == NULL || !RelFileNodeEquals(node, hint_node)) {
        if (hint != NULL)
            memset(hint, 0, sizeof(Buffer) * hint_size);
        hint_node = node;
    }
    if (blkno < hint_size && hint[blkno] != InvalidBuffer &&
        ReadRecentBuffer(node, MAIN_FORKNUM, blkno, hint[blkno])) {
        buf = hint[blkno];
    } else {
        buf = ReadBuffer(t->index, blkno);
        if (blkno >= hint_size && blkno < HINT_MAX_BLOCKS) {
            BlockNumber size = Max(Max(1024, hint_size * 2), blkno + 1);

            if (hint == NULL)
                hint = MemoryContextAllocZero(TopMemoryContext, sizeof(Buffer) * size);
            else {
                hint = repalloc(hint, sizeof(Buffer) * size);
                memset(hint + hint_size, 0, sizeof(Buffer) * (size - hint_size));
            }
            hint_size = size;
        }
        if (blkno < hint_size)
            hint[blkno] = buf;
    }
    _bt_lockbuf(t->index, buf, BT_READ);
    _bt_checkpage(t->index, buf);
    return buf;
}

/* Header, line pointers and special space: what a look reads first. */
static inline void prefetch_page(Page page)
{
    PREFETCH(page);
    PREFETCH((char *)page + 64);
    PREFETCH((char *)page + 128);
    PREFETCH((char *)page + BLCKSZ - sizeof(BTPageOpaqueData));
}

/* ---------------------------------------------------------------- cursors */

static void cursor_release(Cursor *c)
{
    if (BufferIsValid(c->buf))
        ReleaseBuffer(c->buf);
    c->buf = InvalidBuffer;
    c->blk = InvalidBlockNumber;
}

static void cursor_set_end(Cursor *c)
{
    cursor_release(c);
    c->at_end = true;
    c->more = false;
    if (c->mat)
        c->pos = c->n;
    else
        c->n = c->pos = 0;
}

/*
 * Back to the list's start without a new descent: the next read walks from the page its first
 * descent landed on. Splits only move keys right, and page deletion leaves right-links to
 * follow, so every entry visible to this snapshot is still on that page or to its right.
 */
static void cursor_rewind(Cursor *c)
{
    if (c->mat) {
        c->pos = 0;
        c->at_end = c->n == 0;
        return;
    }
    cursor_release(c);
    c->n = c->pos = 0;
    c->skip_pos = 0;
    if (c->empty)
        return;
    if (c->first_blk == InvalidBlockNumber) {
        c->at_end = c->started = false;
        c->more = c->page_done = false;
        return;
    }
    c->started = true;
    c->at_end = false;
    c->page_done = c->more = true;
    c->next = c->first_blk;
    c->page_last = PG_INT64_MIN;
}

typedef enum Look { LOOK_FOUND, LOOK_NEXT_PAGE, LOOK_END } Look;

/*
 * Decodes into the window up to `maxn` live entries >= target from a locked leaf page, never
 * splitting entries with equal chunk_no. LOOK_NEXT_PAGE: none here, but the list may go on at
 * the right sibling (c->next).
 */
static Look cursor_look(Topk *t, Cursor *c, Page page, int64 target, int maxn, bool cont)
{
    BTPageOpaque opaque = BTPageGetOpaque(page);
    OffsetNumber lo = P_FIRSTDATAKEY(opaque), hi = PageGetMaxOffsetNumber(page) + 1, off;
    int n = 0;

    t->st.looks++;
    /*
     * Dead tuples keep their keys, so a binary search over all of them is sound. A page
     * reached through the right-link of one the list ran off holds no earlier keys.
     */
    if (cont && target == PG_INT64_MIN)
        hi = lo;
    while (lo < hi) {
        OffsetNumber mid = lo + (hi - lo) / 2;

        if (before_target(t, c, page, mid, target))
            lo = mid + 1;
        else
            hi = mid;
    }
    c->next = opaque->btpo_next;
    c->page_done = true;
    c->more = !P_RIGHTMOST(opaque);
    /*
     * Where the list stands at the end of this page: a later target beyond page_last needs no
     * second look here. PG_INT64_MAX when the list ends on this page.
     */
    c->page_last = PG_INT64_MIN;
    if (PageGetMaxOffsetNumber(page) >= P_FIRSTDATAKEY(opaque)) {
        int64 chunk_no = 0;
        int32 tf, dl;

        if (tuple_posting(t, c, page_tuple(page, PageGetMaxOffsetNumber(page)), &chunk_no, &tf,
                          &dl))
            c->page_last = chunk_no;
        else if (lo <= PageGetMaxOffsetNumber(page))
            c->page_last = PG_INT64_MAX;
    }
    /* Tuples are scattered over the page: ask for the next few ahead of decoding them. */
    for (off = lo;
         off <= PageGetMaxOffsetNumber(page) && off < lo + PREFETCH_AHEAD && off < lo + maxn;
         off = OffsetNumberNext(off))
        PREFETCH(PageGetItem(page, PageGetItemId(page, off)));
    for (off = lo; off <= PageGetMaxOffsetNumber(page); off = OffsetNumberNext(off)) {
        ItemId iid = PageGetItemId(page, off);
        IndexTuple itup;
        int64 chunk_no = 0;
        int32 tf = 0, dl = 0;

        if (off + PREFETCH_AHEAD <= PageGetMaxOffsetNumber(page) && n + PREFETCH_AHEAD < maxn)
            PREFETCH(PageGetItem(page, PageGetItemId(page, off + PREFETCH_AHEAD)));

        /* Killed entries are dead to every snapshot. */
        if (ItemIdIsDead(iid))
            continue;
        itup = (IndexTuple)PageGetItem(page, iid);
        if (!tuple_posting(t, c, itup, &chunk_no, &tf, &dl)) {
            c->more = false;
            break;
        }
        if (n >= maxn && chunk_no != c->e[n - 1].chunk_no) {
            c->page_done = false;
            break;
        }
        /* The bound weight * (k1 + 1) needs tf >= 1 and doc_len >= 0 (the triggers ensure it). */
        if (tf < 1 || dl < 0)
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_CORRUPTED),
                     errmsg("posting of chunk " INT64_FORMAT " in \"%s\" has tf %d and doc_len %d",
                            chunk_no, RelationGetRelationName(t->heap), tf, dl),
                     errdetail("BM25 scoring needs tf >= 1 and doc_len >= 0.")));
        if (n == MaxIndexTuplesPerPage)
            elog(ERROR, "llmemory_bm25: too many entries on one page");
        c->e[n].chunk_no = chunk_no;
        c->e[n].tf = tf;
        c->e[n].dl = dl;
        c->e[n].tid = itup->t_tid;
        c->e[n].vm = ENTRY_VM_UNKNOWN;
        n++;
    }
    t->st.entries += n;
    c->n = n;
    c->pos = 0;
    if (n > 0)
        return LOOK_FOUND;
    return c->more ? LOOK_NEXT_PAGE : LOOK_END;
}

/*
 * Looks at leaf page `blkno` (the cursor's own pinned page or another). On LOOK_FOUND the page
 * stays pinned as the cursor's page and the previous one is let go; otherwise the page is
 * released and c->next says where the list may go on (for deleted pages: their right sibling).
 */
static Look cursor_look_at(Topk *t, Cursor *c, BlockNumber blkno, int64 target, int maxn, bool cont)
{
    Buffer buf;
    Page page;
    BTPageOpaque opaque;
    Look r;

    CHECK_FOR_INTERRUPTS();
    if (blkno == c->blk) {
        /* A second look at the same page: take the rest of it this time. */
        buf = c->buf;
        maxn = MaxIndexTuplesPerPage;
        _bt_lockbuf(t->index, buf, BT_READ);
    } else {
        buf = get_page(t, blkno);
    }
    page = BufferGetPage(buf);
    TestForOldSnapshot(t->snapshot, t->index, page);
    opaque = BTPageGetOpaque(page);
    if (P_IGNORE(opaque)) {
        /* Deleted or half-dead page: move right as nbtree's own scans do. */
        c->next = opaque->btpo_next;
        r = c->next == P_NONE ? LOOK_END : LOOK_NEXT_PAGE;
    } else {
        r = cursor_look(t, c, page, target, maxn, cont);
    }
    if (r == LOOK_FOUND) {
        _bt_unlockbuf(t->index, buf);
        if (buf != c->buf) {
            cursor_release(c);
            c->buf = buf;
            c->blk = blkno;
            c->dense = c->probes_here >= 4;
            c->probes_here = 0;
        }
        /*
         * A sequential reader will want the right sibling next: start its cache misses now,
         * through the buffer it was in last time (a wrong guess costs nothing).
         */
        if (maxn == MaxIndexTuplesPerPage && c->page_done && c->more && c->next < hint_size &&
            hint[c->next] > 0)
            prefetch_page(BufferGetPage(hint[c->next]));
    } else if (buf == c->buf) {
        _bt_unlockbuf(t->index, buf);
        cursor_release(c);
    } else {
        _bt_relbuf(t->index, buf);
    }
    if (r == LOOK_END)
        cursor_set_end(c);
    return r;
}

/*
 * Reads leaf pages from `blkno` rightwards until an entry >= target or the list's end. `cont`:
 * blkno is the right sibling of a page the list ran off.
 */
static void cursor_walk(Topk *t, Cursor *c, BlockNumber blkno, int64 target, int maxn, bool cont)
{
    while (cursor_look_at(t, c, blkno, target, maxn, cont) == LOOK_NEXT_PAGE) {
        blkno = c->next;
        cont = true;
    }
}

/*
 * Adds the downlinks of level-1 page `blkno` that lead to this list's leaf pages to the skip
 * array, and notes the next level-1 page when the list goes on past this one.
 */
static void skip_read_level1(Topk *t, Cursor *c, BlockNumber blkno)
{
    Buffer buf;
    Page page;
    BTPageOpaque opaque;
    bool seen = false;
    bool carried = c->l1_carry; /* the first downlink continues the list from the left page */

    c->l1_blk = P_NONE;
    c->l1_carry = false;
    for (;;) {
        buf = get_page(t, blkno);
        page = BufferGetPage(buf);
        TestForOldSnapshot(t->snapshot, t->index, page);
        opaque = BTPageGetOpaque(page);
        if (!P_IGNORE(opaque))
            break;
        blkno = opaque->btpo_next;
        _bt_relbuf(t->index, buf);
        if (blkno == P_NONE)
            return;
    }
    if (opaque->btpo_level != 1) {
        _bt_relbuf(t->index, buf); /* the tree changed shape; do without */
        return;
    }
    for (OffsetNumber off = P_FIRSTDATAKEY(opaque); off <= PageGetMaxOffsetNumber(page);
         off = OffsetNumberNext(off)) {
        IndexTuple itup = page_tuple(page, off);
        int natts = BTreeTupleGetNAtts(itup, t->index);
        char *own = NULL, *lex = NULL;
        int64 low = PG_INT64_MIN;
        int32 tf, dl;

        /*
         * The first item of a non-leftmost internal page is "minus infinity": its leaf starts
         * at the left page's high key, which belongs to the list when `carried`.
         */
        if (off == P_FIRSTDATAKEY(opaque) && !P_LEFTMOST(opaque)) {
            if (!carried)
                continue;
            low = c->l1_low;
            natts = 0;
        } else {
            natts = Min(natts, 3);
            if (natts >= 2)
                tuple_fields(t, itup, natts, &own, &lex, &low, &tf, &dl);
        }
        if (natts != 0 && (natts < 2 || !same_list(t, c, own, lex))) {
            if (seen)
                break; /* the list's pages end at the previous downlink */
            continue;
        }
        seen = true;
        if (c->nskip == c->skipcap) {
            c->skipcap = Max(64, c->skipcap * 2);
            c->skip_low = c->skip_low ? repalloc(c->skip_low, sizeof(int64) * c->skipcap)
                                      : palloc(sizeof(int64) * c->skipcap);
            c->skip_blk = c->skip_blk ? repalloc(c->skip_blk, sizeof(BlockNumber) * c->skipcap)
                                      : palloc(sizeof(BlockNumber) * c->skipcap);
        }
        c->skip_low[c->nskip] = low;
        c->skip_blk[c->nskip] = BTreeTupleGetDownLink(itup);
        c->nskip++;
    }
    /* Does the list go on under the right sibling? Its high key says. */
    if (!P_RIGHTMOST(opaque)) {
        IndexTuple hk = page_tuple(page, P_HIKEY);
        int natts = Min(BTreeTupleGetNAtts(hk, t->index), 3);
        char *own = NULL, *lex = NULL;
        int64 low;
        int32 tf, dl;

        if (natts >= 2) {
            low = PG_INT64_MIN;
            tuple_fields(t, hk, natts, &own, &lex, &low, &tf, &dl);
            if (same_list(t, c, own, lex)) {
                c->l1_blk = opaque->btpo_next;
                c->l1_carry = true;
                c->l1_low = low;
            }
        }
    }
    _bt_relbuf(t->index, buf);
}

/*
 * A leaf page to the right of the current one where the first entry >= target is, or more
 * to its right; P_NONE when the skip array cannot tell.
 */
static BlockNumber skip_lookup(Topk *t, Cursor *c, int64 target)
{
    int lo, hi;

    if (!t->heapkeyspace)
        return P_NONE;
    while ((c->nskip == 0 || c->skip_low[c->nskip - 1] <= target) && c->l1_blk != P_NONE)
        skip_read_level1(t, c, c->l1_blk);
    if (c->nskip == 0 || c->skip_pos >= c->nskip)
        return P_NONE;
    /* Last entry with low <= target, from skip_pos on. */
    lo = c->skip_pos;
    hi = c->nskip;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;

        if (c->skip_low[mid] <= target)
            lo = mid;
        else
            hi = mid;
    }
    if (c->skip_low[lo] > target)
        return P_NONE;
    c->skip_pos = lo;
    /* Only a page whose keys all lie beyond what this page showed is to its right. */
    if (c->skip_blk[lo] == c->blk || c->skip_low[lo] <= c->page_last)
        return P_NONE;
    t->st.jumps++;
    return c->skip_blk[lo];
}

/* Positions the cursor at its list's first live entry >= target by a search from the root. */
static void cursor_descend(Topk *t, Cursor *c, int64 target, int maxn)
{
    BTScanInsertData key;
    BTStack stack;
    Buffer buf;
    Datum vals[3];
    Look r;

    vals[0] = t->owner;
    vals[1] = c->lexeme;
    vals[2] = Int64GetDatum(target);
    key.heapkeyspace = t->heapkeyspace;
    key.allequalimage = t->allequalimage;
    key.anynullkeys = false;
    key.nextkey = false; /* first item >= key */
    key.pivotsearch = false;
    key.scantid = NULL;
    key.keysz = 3;
    for (int i = 0; i < 3; i++)
        ScanKeyEntryInitializeWithInfo(&key.scankeys[i], 0, (AttrNumber)(i + 1), InvalidStrategy,
                                       InvalidOid, t->index->rd_indcollation[i],
                                       index_getprocinfo(t->index, i + 1, BTORDER_PROC), vals[i]);

    t->st.descents++;
    c->started = true;
    stack = _bt_search(t->index, &key, &buf, BT_READ, t->snapshot);
    /* The leaf's parent starts the skip array, the first time this list jumps. */
    if (!c->skip_tried && stack != NULL) {
        c->skip_tried = true;
        c->l1_blk = stack->bts_blkno;
        c->l1_carry = false;
        c->nskip = c->skip_pos = 0;
    }
    _bt_freestack(stack);
    if (!BufferIsValid(buf)) {
        cursor_set_end(c); /* empty index */
        c->empty = target == PG_INT64_MIN;
        return;
    }
    if (target == PG_INT64_MIN && c->first_blk == InvalidBlockNumber)
        c->first_blk = BufferGetBlockNumber(buf);
    TestForOldSnapshot(t->snapshot, t->index, BufferGetPage(buf));
    r = cursor_look(t, c, BufferGetPage(buf), target, maxn, false);
    if (r == LOOK_FOUND) {
        _bt_unlockbuf(t->index, buf);
        cursor_release(c);
        c->buf = buf;
        c->blk = BufferGetBlockNumber(buf);
        return;
    }
    _bt_relbuf(t->index, buf);
    if (r == LOOK_END)
        cursor_set_end(c);
    else
        cursor_walk(t, c, c->next, target, maxn, true); /* the list starts further right */
    c->empty = target == PG_INT64_MIN && c->at_end;
}

/* Refills a used-up window with the list's next entries. */
static void cursor_fill(Topk *t, Cursor *c)
{
    int64 last;

    if (c->at_end || c->pos < c->n)
        return;
    if (!c->started) {
        cursor_descend(t, c, PG_INT64_MIN, MaxIndexTuplesPerPage);
    } else if (!c->page_done) {
        /* The rest of this page: entries after the last one decoded (never split by chunk). */
        last = c->e[c->n - 1].chunk_no;
        Assert(last < PG_INT64_MAX);
        cursor_walk(t, c, c->blk, last + 1, MaxIndexTuplesPerPage, false);
    } else if (c->more) {
        /* After a rewind, c->next is the list's first page, which may hold earlier keys. */
        cursor_walk(t, c, c->next, PG_INT64_MIN, MaxIndexTuplesPerPage,
                    c->blk != InvalidBlockNumber);
    } else {
        cursor_set_end(c);
    }
}

/* The current entry's chunk_no, refilling the window first; PG_INT64_MAX at the end. */
static inline int64 cursor_cur(Topk *t, Cursor *c)
{
    if (c->pos == c->n && !c->at_end)
        cursor_fill(t, c);
    return c->at_end ? PG_INT64_MAX : c->e[c->pos].chunk_no;
}

/* Advances to the first live entry >= target (probing: small windows, skip-array jumps). */
static void cursor_seek(Topk *t, Cursor *c, int64 target)
{
    BlockNumber blk;

    c->probes_here++;
    if (!c->started) {
        cursor_descend(t, c, target, PROBE_WINDOW);
        return;
    }
    if (c->at_end)
        return;
    if (c->pos < c->n) {
        if (c->e[c->pos].chunk_no >= target)
            return;
        if (c->e[c->n - 1].chunk_no >= target) {
            int lo = c->pos + 1, hi = c->n - 1;

            while (lo < hi) {
                int mid = lo + (hi - lo) / 2;

                if (c->e[mid].chunk_no < target)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            c->pos = lo;
            return;
        }
    }
    if (!c->page_done && target <= c->page_last) {
        /* Further on this page: look again (it may have changed; search by chunk_no). */
        if (cursor_look_at(t, c, c->blk, target, PROBE_WINDOW, false) != LOOK_NEXT_PAGE)
            return;
    } else if (!c->more) {
        cursor_set_end(c);
        return;
    }
    /* Beyond this page: jump through the skip array, or step right. */
    blk = skip_lookup(t, c, target);
    cursor_walk(t, c, blk != P_NONE ? blk : c->next, target,
                c->dense ? MaxIndexTuplesPerPage : PROBE_WINDOW, false);
}

/* ---------------------------------------------------------------- visibility */

/* Reads the entry's visibility-map bit; only while its leaf page is pinned (see Cursor). */
static void entry_vm(Topk *t, Entry *e)
{
    if (e->vm == ENTRY_VM_UNKNOWN)
        e->vm = VM_ALL_VISIBLE(t->heap, ItemPointerGetBlockNumber(&e->tid), &t->vmbuf)
                    ? ENTRY_VM_ALL
                    : ENTRY_VM_NOT;
}

static bool entry_visible(Topk *t, Entry *e)
{
    bool call_again = false, all_dead = false, found;

    entry_vm(t, e);
    if (e->vm == ENTRY_VM_ALL)
        return true;
    t->st.fetches++;
    found =
        table_index_fetch_tuple(t->hfetch, &e->tid, t->snapshot, t->slot, &call_again, &all_dead);
    ExecClearTuple(t->slot);
    return found;
}

/* ---------------------------------------------------------------- MaxScore */

/*
 * Copies the current entry for the candidate. Its visibility-map bit is read only if the
 * candidate gets that far (verify()), which is before this cursor leaves the page: gather()
 * reads it first when it has to move on.
 */
static void take_entry(Topk *t, Cursor *c, Entry *e)
{
    *e = c->e[c->pos];
}

/*
 * Takes the cursor's entries for chunk d (the current one, and normally no other), records the
 * largest contribution as the term's provisional one, and moves past them.
 */
static void gather(Topk *t, Cursor *c, int64 d, int maxn)
{
    int i = c->term;

    take_entry(t, c, &t->hit[i]);
    t->contrib[i] = contribution(t, c->weight, t->hit[i].tf, t->hit[i].dl);
    t->present[i] = true;
    t->touched[t->ntouched++] = i;
    c->pos++;
    for (;;) {
        float8 v;

        if (c->pos == c->n) {
            /*
             * Windows never split a chunk's entries, but pages can: only when the list goes
             * on to the right does the next page need a look.
             */
            if (!c->page_done || !c->more)
                return;
            entry_vm(t, &t->hit[i]);
            for (int x = 0; x < t->ndups; x++)
                if (t->dups[x].term == i)
                    entry_vm(t, &t->dups[x].e);
            cursor_walk(t, c, c->next, d, maxn, true);
            if (c->at_end)
                return;
        }
        if (c->e[c->pos].chunk_no != d)
            return;
        /* Another version of the same posting (a dead one, under the unique index). */
        if (t->ndups == t->maxdups) {
            t->maxdups = Max(16, t->maxdups * 2);
            t->dups = t->dups ? repalloc(t->dups, sizeof(Dup) * t->maxdups)
                              : palloc(sizeof(Dup) * t->maxdups);
        }
        t->dups[t->ndups].term = i;
        take_entry(t, c, &t->dups[t->ndups].e);
        v = contribution(t, c->weight, c->e[c->pos].tf, c->e[c->pos].dl);
        if (v > t->contrib[i])
            t->contrib[i] = v;
        t->ndups++;
        c->pos++;
    }
}

/*
 * Keeps only the visible entry of each present term (at most one: the index is unique and the
 * snapshot MVCC). Returns true if any contribution changed.
 */
static bool verify(Topk *t)
{
    bool changed = false;

    for (int j = 0; j < t->ntouched; j++) {
        int i = t->touched[j];
        Cursor *c = &t->cursors[i];
        Entry *vis = NULL;
        bool hasdup = false;

        if (entry_visible(t, &t->hit[i]))
            vis = &t->hit[i];
        for (int x = 0; x < t->ndups; x++) {
            if (t->dups[x].term != i)
                continue;
            hasdup = true;
            if (entry_visible(t, &t->dups[x].e)) {
                if (vis != NULL)
                    elog(ERROR,
                         "llmemory_bm25: two visible postings for chunk " INT64_FORMAT
                         " in unique index \"%s\"",
                         t->dups[x].e.chunk_no, RelationGetRelationName(t->index));
                vis = &t->dups[x].e;
            }
        }
        if (vis == NULL) {
            t->present[i] = false;
            changed = true;
        } else if (hasdup) {
            t->contrib[i] = contribution(t, c->weight, vis->tf, vis->dl);
            changed = true;
        }
    }
    return changed;
}

static void clear_candidate(Topk *t)
{
    for (int j = 0; j < t->ntouched; j++)
        t->present[t->touched[j]] = false;
    t->ntouched = 0;
    t->ndups = 0;
}

/*
 * Exact visible score of the gathered candidate, or false if it has no visible posting.
 * may_reject: skip the visibility checks when even the unverified score cannot win.
 */
static bool finish_candidate(Topk *t, bool may_reject, float8 *score)
{
    float8 s = sum_in_order(t);

    /*
     * With every contribution >= 0, dropping invisible entries can only lower s (float
     * addition is monotone), so a chunk that cannot win now never will.
     */
    if (may_reject && cannot_win_exact(t, s))
        return false;
    if (verify(t)) {
        bool any = false;

        for (int j = 0; j < t->ntouched; j++)
            any = any || t->present[t->touched[j]];
        if (!any)
            return false;
        s = sum_in_order(t);
    }
    *score = s;
    return true;
}

/* Scores chunk d, the smallest chunk_no left in the essential lists. */
static void evaluate(Topk *t, int64 d)
{
    float8 partial = 0.0, s;

    t->st.candidates++;
    for (int r = t->ne; r < t->m; r++) {
        Cursor *c = &t->cursors[t->order[r]];

        if (t->ecur[r] == d && !c->at_end) {
            gather(t, c, d, MaxIndexTuplesPerPage);
            partial += t->contrib[c->term];
            t->ecur[r] = cursor_cur(t, c);
        }
    }
    /* Probe the non-essential lists, largest bound first, while the chunk can still win. */
    for (int r = t->ne - 1; r >= 0; r--) {
        Cursor *c = &t->cursors[t->order[r]];

        if (t->pruning && cannot_win(t, partial + t->prefix[r + 1])) {
            t->st.pruned++;
            goto out;
        }
        cursor_seek(t, c, d);
        if (!c->at_end && c->e[c->pos].chunk_no == d) {
            gather(t, c, d, PROBE_WINDOW);
            partial += t->contrib[c->term];
        }
    }
    if (finish_candidate(t, t->safe, &s))
        top_offer(t, d, s);
out:
    clear_candidate(t);
}

/*
 * A chunk found only in lists order[0..ne-1] scores at most prefix[ne]; once that cannot win,
 * those lists stop producing candidates and are only probed.
 */
static void update_essential(Topk *t)
{
    if (!t->pruning)
        return;
    while (t->ne < t->m && cannot_win(t, t->prefix[t->ne + 1]))
        t->ne++;
}

/*
 * Is priming worth its probes? Scoring k + PRIME_EXTRA chunks costs about one leaf page look
 * per chunk and list not held in memory; the main pass it shortens reads at most the lists'
 * pages. Short lists (small tenants, rare lexemes) gain little and pay the same.
 */
static bool prime_pays(const Topk *t)
{
    int64 pages = 0, probed = 0;

    for (int i = 0; i < t->m; i++) {
        const Cursor *c = &t->cursors[i];

        if (c->mat) {
            pages += (c->n + 99) / 100;
        } else if (!c->at_end) {
            probed++;
            /* Pages under the first level-1 page; at least twice that if the list goes on. */
            pages += Max(1, c->nskip) * (c->l1_blk != P_NONE ? 2 : 1);
        }
    }
    return pages >= PRIME_PAYS * (t->k + PRIME_EXTRA) * probed;
}

/*
 * Starts pruning from a good threshold instead of from nothing. Reads the lists with the
 * largest bounds (the rarest lexemes, usually short lists: up to PRIME_LISTS of them, whole,
 * PRIME_ENTRIES entries in all), takes the chunks with the best partial scores there, scores
 * those exactly, and keeps the k-th best visible score as theta0. Any k distinct visible chunks
 * bound the final k-th score from below, so chunks that cannot reach theta0 are skipped from the
 * start; how well the chunks were picked only decides how much that helps.
 */
static void prime(Topk *t)
{
    int want = t->k + PRIME_EXTRA, n = 0, cap, nscored = 0, budget = PRIME_ENTRIES;
    int hsize = 1, scap;
    int64 *hkey;
    float8 *hval;
    bool *hused;
    Hit *best, *scored;

    if (t->m < 2 || !t->pruning || !bm25_prime || t->k > 1000 || !prime_pays(t))
        return;
    /* Partial scores by chunk: open addressing, at most half full. */
    while (hsize < 2 * PRIME_ENTRIES)
        hsize <<= 1;
    hkey = palloc(sizeof(int64) * hsize);
    hval = palloc(sizeof(float8) * hsize);
    hused = palloc0(sizeof(bool) * hsize);
    for (int j = 0; j < Min(PRIME_LISTS, t->m - 1) && budget > 0; j++) {
        Cursor *c = &t->cursors[t->order[t->m - 1 - j]];
        int64 len;

        /*
         * Whole lists only, past the first: the first entries of a list alone would favour
         * chunks with small chunk_nos. Lengths are known for lists held in memory, otherwise
         * guessed from the leaf pages under their first level-1 page (about 100 entries each).
         */
        len = c->mat ? c->n : 100 * (int64)Max(1, c->nskip) * (c->l1_blk != P_NONE ? 2 : 1);
        if (j > 0 && len > budget)
            break;
        for (; budget > 0; budget--) {
            int64 d = cursor_cur(t, c);
            Entry *e;
            uint32 h;

            if (d == PG_INT64_MAX)
                break;
            e = &c->e[c->pos++];
            h = (uint32)hash_bytes_uint32((uint32)d ^ (uint32)(d >> 32)) & (hsize - 1);
            while (hused[h] && hkey[h] != d)
                h = (h + 1) & (hsize - 1);
            if (!hused[h]) {
                hused[h] = true;
                hkey[h] = d;
                hval[h] = 0.0;
            }
            /* Dead duplicates count twice here: harmless, this only picks chunks to score. */
            hval[h] += contribution(t, c->weight, e->tf, e->dl);
        }
        cursor_rewind(c);
    }
    cap = Min(want, 64);
    best = palloc(sizeof(Hit) * cap);
    for (int h = 0; h < hsize; h++)
        if (hused[h])
            heap_offer(&best, &n, &cap, want, hkey[h], hval[h]);
    if (n >= t->k) {
        qsort(best, n, sizeof(Hit), hit_cmp_chunk);
        scap = Min(t->k, 64);
        scored = palloc(sizeof(Hit) * scap);
        for (int j = 0; j < n; j++) {
            int64 d = best[j].chunk_no;
            float8 s;

            for (int i = 0; i < t->m; i++) {
                Cursor *c = &t->cursors[i];

                cursor_seek(t, c, d);
                if (!c->at_end && c->e[c->pos].chunk_no == d)
                    gather(t, c, d, PROBE_WINDOW);
            }
            if (finish_candidate(t, false, &s))
                heap_offer(&scored, &nscored, &scap, t->k, d, s);
            clear_candidate(t);
        }
        if (nscored == t->k)
            t->theta0 = scored[0].score;
    }
    for (int i = 0; i < t->m; i++)
        cursor_rewind(&t->cursors[i]);
}

/*
 * Reads a short list whole into memory right after its first descent (cursor on its first
 * page, window full), so that priming, restarts and seeks never touch its pages again. The
 * level-1 page above says how many leaf pages the list spans. Visibility-map bits are read
 * page by page while each page is pinned.
 */
static void cursor_materialize(Topk *t, Cursor *c)
{
    Entry *all;
    int n = 0, cap;

    if (c->at_end || c->mat)
        return;
    if (c->more) {
        if (!t->heapkeyspace || c->l1_blk == P_NONE || c->nskip > 0)
            return;
        skip_read_level1(t, c, c->l1_blk);
        if (c->l1_blk != P_NONE || c->nskip > MAT_PAGES)
            return; /* long list: read on demand */
    }
    cap = (c->nskip + 1) * c->n + 16;
    all = palloc(sizeof(Entry) * cap);
    for (;;) {
        for (int j = c->pos; j < c->n; j++) {
            if (n == cap) {
                cap *= 2;
                all = repalloc(all, sizeof(Entry) * cap);
            }
            all[n] = c->e[j];
            entry_vm(t, &all[n]);
            n++;
        }
        if (!c->more)
            break;
        cursor_walk(t, c, c->next, PG_INT64_MIN, MaxIndexTuplesPerPage, true);
        if (c->at_end)
            break;
    }
    cursor_release(c);
    c->mat = true;
    c->e = all;
    c->n = n;
    c->pos = 0;
    c->page_done = true;
    c->more = false;
    c->at_end = n == 0;
}

static int order_cmp(const void *a, const void *b, void *arg)
{
    const Topk *t = arg;
    int x = *(const int *)a, y = *(const int *)b;
    float8 ux = t->cursors[x].ub, uy = t->cursors[y].ub;

    if (ux != uy)
        return ux < uy ? -1 : 1;
    return x - y;
}

static void run_topk(Topk *t)
{
    int64 iter = 0;

    for (int i = 0; i < t->m; i++)
        t->order[i] = i;
    qsort_arg(t->order, t->m, sizeof(int), order_cmp, t);
    t->prefix[0] = 0.0;
    for (int j = 0; j < t->m; j++)
        t->prefix[j + 1] = t->prefix[j] + t->cursors[t->order[j]].ub;
    t->ne = 0;
    t->theta0 = -get_float8_infinity();
    /* One descent per list, to its start; later restarts walk from there. */
    for (int i = 0; i < t->m; i++) {
        cursor_descend(t, &t->cursors[i], PG_INT64_MIN, MaxIndexTuplesPerPage);
        cursor_materialize(t, &t->cursors[i]);
    }
    prime(t);
    update_essential(t);
    for (int r = 0; r < t->m; r++)
        t->ecur[r] = cursor_cur(t, &t->cursors[t->order[r]]);

    for (;;) {
        int64 d = PG_INT64_MAX;

        if ((++iter & 1023) == 0)
            CHECK_FOR_INTERRUPTS();
        for (int r = t->ne; r < t->m; r++)
            if (t->ecur[r] < d)
                d = t->ecur[r];
        if (d == PG_INT64_MAX) {
            /* Only a real chunk_no of PG_INT64_MAX is left, if any list is not at its end. */
            bool any = false;

            for (int r = t->ne; r < t->m; r++)
                any = any || !t->cursors[t->order[r]].at_end;
            if (!any)
                break;
        }
        evaluate(t, d);
        update_essential(t);
    }
}

/* ---------------------------------------------------------------- setup */

/*
 * The postings table's unique btree on (owner_id, lexeme, chunk_no) INCLUDE (tf, doc_len),
 * usable by this snapshot, with orderings this file relies on: chunk_no ascending as int8, and
 * text equality meaning byte equality (deterministic collations). Opened with AccessShareLock.
 */
static Relation open_postings_index(Topk *t)
{
    Relation heap = t->heap;
    TupleDesc hdesc = RelationGetDescr(heap);
    AttrNumber attnums[NCOLS];
    List *ids;
    ListCell *lc;

    for (int i = 0; i < NCOLS; i++) {
        AttrNumber a = InvalidAttrNumber;

        for (int j = 0; j < hdesc->natts; j++) {
            Form_pg_attribute att = TupleDescAttr(hdesc, j);

            if (!att->attisdropped && strcmp(NameStr(att->attname), col_names[i]) == 0) {
                if (att->atttypid != col_types[i])
                    ereport(ERROR,
                            (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                             errmsg("column \"%s\" of \"%s\" has type %s, expected %s",
                                    col_names[i], RelationGetRelationName(heap),
                                    format_type_be(att->atttypid), format_type_be(col_types[i]))));
                a = att->attnum;
            }
        }
        if (a == InvalidAttrNumber)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                            errmsg("relation \"%s\" has no column \"%s\"",
                                   RelationGetRelationName(heap), col_names[i])));
        attnums[i] = a;
    }

    ids = RelationGetIndexList(heap);
    foreach(lc, ids)
    {
        Relation ir = index_open(lfirst_oid(lc), AccessShareLock);
        Form_pg_index ix = ir->rd_index;
        TupleDesc idesc = RelationGetDescr(ir);
        bool ok = ir->rd_rel->relam == BTREE_AM_OID && ix->indisunique && ix->indisvalid &&
                  ix->indisready && ix->indislive && ix->indnatts == NCOLS &&
                  ix->indnkeyatts == 3 && RelationGetIndexExpressions(ir) == NIL &&
                  RelationGetIndexPredicate(ir) == NIL;

        /* Like the planner: an index built while HOT chains were broken may be too new. */
        if (ok && ix->indcheckxmin &&
            !TransactionIdPrecedes(HeapTupleHeaderGetXmin(ir->rd_indextuple->t_data),
                                   TransactionXmin))
            ok = false;
        for (int i = 0; ok && i < NCOLS; i++) {
            Form_pg_attribute att = TupleDescAttr(idesc, i);

            ok = ix->indkey.values[i] == attnums[i] && att->atttypid == col_types[i];
            t->align[i] = att->attalign;
        }
        /* tuple_posting() relies on these. */
        ok = ok && t->align[2] == TYPALIGN_DOUBLE && t->align[3] == TYPALIGN_INT &&
             t->align[4] == TYPALIGN_INT && ALIGNOF_DOUBLE == sizeof(int64);
        for (int i = 0; ok && i < 3; i++) {
            Oid fam = ir->rd_opfamily[i];

            ok = ir->rd_indoption[i] == 0 &&
                 (i == 2 ? fam == INTEGER_BTREE_FAM_OID
                         : (fam == TEXT_BTREE_FAM_OID || fam == TEXT_PATTERN_BTREE_FAM_OID) &&
                               OidIsValid(ir->rd_indcollation[i]) &&
                               get_collation_isdeterministic(ir->rd_indcollation[i]));
        }
        if (ok) {
            list_free(ids);
            return ir;
        }
        index_close(ir, AccessShareLock);
    }
    ereport(ERROR,
            (errcode(ERRCODE_UNDEFINED_OBJECT),
             errmsg("relation \"%s\" has no usable postings index", RelationGetRelationName(heap)),
             errdetail("A valid unique btree on (owner_id, lexeme, chunk_no) INCLUDE (tf, doc_len) "
                       "with default ordering and deterministic collations is required.")));
    return NULL; /* not reached */
}

/* SELECT on the table, or on each column read; and no row-level security to bypass. */
static void check_access(Relation heap)
{
    Oid relid = RelationGetRelid(heap);
    AclResult acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);

    if (acl != ACLCHECK_OK) {
        for (int i = 0; i < NCOLS; i++) {
            AttrNumber a = get_attnum(relid, col_names[i]);

            if (a == InvalidAttrNumber ||
                pg_attribute_aclcheck(relid, a, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
                aclcheck_error(acl, get_relkind_objtype(heap->rd_rel->relkind),
                               RelationGetRelationName(heap));
        }
    }
    if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot score \"%s\": row-level security is enabled for it",
                               RelationGetRelationName(heap))));
}

static ArrayType *check_array(ArrayType *a, Oid elemtype, const char *what)
{
    if (ARR_ELEMTYPE(a) != elemtype)
        elog(ERROR, "llmemory_bm25: %s has the wrong element type", what);
    if (ARR_NDIM(a) > 1)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("%s must be a one-dimensional array", what)));
    if (array_contains_nulls(a))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s must not contain nulls", what)));
    return a;
}

static BTScanInsertData *make_list_key(Topk *t, Datum lexeme)
{
    BTScanInsertData *key = palloc(sizeof(BTScanInsertData));
    Datum vals[2];

    vals[0] = t->owner;
    vals[1] = lexeme;
    key->heapkeyspace = t->heapkeyspace;
    key->allequalimage = t->allequalimage;
    key->anynullkeys = false;
    key->nextkey = false;
    key->pivotsearch = false;
    key->scantid = NULL;
    key->keysz = 2;
    for (int i = 0; i < 2; i++)
        ScanKeyEntryInitializeWithInfo(&key->scankeys[i], 0, (AttrNumber)(i + 1), InvalidStrategy,
                                       InvalidOid, t->index->rd_indcollation[i],
                                       index_getprocinfo(t->index, i + 1, BTORDER_PROC), vals[i]);
    return key;
}

/*
 * Scores and returns the top k into the function's result tuplestore (set up by the caller).
 * lexemes and weights have m entries each.
 */
static void topk_emit(FunctionCallInfo fcinfo,
                      Oid relid,
                      text *owner,
                      Datum *lexemes,
                      float8 *weights,
                      int m,
                      float8 k1,
                      float8 b,
                      float8 avgdl,
                      int32 k)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
    MemoryContext work, old;
    Topk *t;

    if (isnan(k1) || isnan(b) || isnan(avgdl) || isinf(k1) || isinf(b) || isinf(avgdl))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("k1, b and avgdl must be finite")));
    for (int i = 0; i < m; i++)
        if (isnan(weights[i]) || isinf(weights[i]))
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("weights must be finite")));
    if (k <= 0 || m == 0)
        return;

    work = AllocSetContextCreate(CurrentMemoryContext, "llmemory_bm25", ALLOCSET_DEFAULT_SIZES);
    old = MemoryContextSwitchTo(work);

    t = palloc0(sizeof(Topk));
    t->snapshot = GetActiveSnapshot();
    if (t->snapshot == NULL || !IsMVCCSnapshot(t->snapshot))
        elog(ERROR, "llmemory_bm25: needs an MVCC snapshot");
    t->heap = table_open(relid, AccessShareLock);
    if (t->heap->rd_rel->relkind != RELKIND_RELATION)
        ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                        errmsg("\"%s\" is not a table", RelationGetRelationName(t->heap))));
    if (RELATION_IS_OTHER_TEMP(t->heap))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("cannot access temporary tables of other sessions")));
    check_access(t->heap);
    t->index = open_postings_index(t);
    _bt_metaversion(t->index, &t->heapkeyspace, &t->allequalimage);
    PredicateLockRelation(t->index, t->snapshot);
    t->vmbuf = InvalidBuffer;
    t->hfetch = table_index_fetch_begin(t->heap);
    t->slot = table_slot_create(t->heap, NULL);

    t->owner = PointerGetDatum(owner);
    t->own = VARDATA_ANY(owner);
    t->ownlen = VARSIZE_ANY_EXHDR(owner);
    t->k1 = k1;
    t->b = b;
    t->avgdl = avgdl;
    t->k = k;
    t->topcap = Min(k, 64);
    t->top = palloc(sizeof(Hit) * t->topcap);
    t->m = m;
    t->safe = k1 >= 0.0 && b >= 0.0 && b <= 1.0 && avgdl > 0.0;
    t->cursors = palloc0(sizeof(Cursor) * m);
    for (int i = 0; i < m; i++) {
        Cursor *c = &t->cursors[i];
        text *lx = DatumGetTextPP(lexemes[i]);

        t->safe = t->safe && weights[i] >= 0.0;
        c->term = i;
        c->weight = weights[i];
        c->ub = weights[i] * (k1 + 1.0);
        c->lexeme = PointerGetDatum(lx);
        c->lex = VARDATA_ANY(lx);
        c->lexlen = VARSIZE_ANY_EXHDR(lx);
        c->key = make_list_key(t, c->lexeme);
        if (t->ownlen + VARHDRSZ_SHORT <= VARATT_SHORT_MAX &&
            c->lexlen + VARHDRSZ_SHORT <= VARATT_SHORT_MAX) {
            char *p = c->pfx = palloc(2 * VARHDRSZ_SHORT + t->ownlen + c->lexlen);

            SET_VARSIZE_SHORT(p, t->ownlen + VARHDRSZ_SHORT);
            memcpy(p + VARHDRSZ_SHORT, t->own, t->ownlen);
            p += VARHDRSZ_SHORT + t->ownlen;
            SET_VARSIZE_SHORT(p, c->lexlen + VARHDRSZ_SHORT);
            memcpy(p + VARHDRSZ_SHORT, c->lex, c->lexlen);
            c->pfxlen = 2 * VARHDRSZ_SHORT + t->ownlen + c->lexlen;
        }
        c->buf = InvalidBuffer;
        c->blk = InvalidBlockNumber;
        c->l1_blk = P_NONE;
        c->first_blk = InvalidBlockNumber;
        c->e = c->win = palloc(sizeof(Entry) * MaxIndexTuplesPerPage);
    }
    t->pruning = t->safe && bm25_pruning;
    /* Bounds and partial sums are rounded; 1e-9 relative dwarfs m * 2^-53 for any real m. */
    t->slack = Max(1e-9, 16.0 * (m + 1) * DBL_EPSILON);
    t->order = palloc(sizeof(int) * m);
    t->ecur = palloc(sizeof(int64) * m);
    t->prefix = palloc(sizeof(float8) * (m + 1));
    t->hit = palloc(sizeof(Entry) * m);
    t->contrib = palloc(sizeof(float8) * m);
    t->present = palloc0(sizeof(bool) * m);
    t->touched = palloc(sizeof(int) * m);

    run_topk(t);

    qsort(t->top, t->ntop, sizeof(Hit), hit_cmp_desc);
    elog(DEBUG1,
         "llmemory_bm25: lists %d non-essential %d theta0 %g candidates " INT64_FORMAT
         " pruned " INT64_FORMAT " looks " INT64_FORMAT " entries " INT64_FORMAT
         " descents " INT64_FORMAT " jumps " INT64_FORMAT " heap checks " INT64_FORMAT,
         t->m, t->ne, t->theta0, t->st.candidates, t->st.pruned, t->st.looks, t->st.entries,
         t->st.descents, t->st.jumps, t->st.fetches);

    MemoryContextSwitchTo(old);
    for (int i = 0; i < t->ntop; i++) {
        Datum values[2];
        bool nulls[2] = {false, false};

        values[0] = Int64GetDatum(t->top[i].chunk_no);
        values[1] = Float8GetDatum(t->top[i].score);
        tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
    }

    for (int i = 0; i < t->m; i++)
        cursor_release(&t->cursors[i]);
    if (BufferIsValid(t->vmbuf))
        ReleaseBuffer(t->vmbuf);
    ExecDropSingleTupleTableSlot(t->slot);
    table_index_fetch_end(t->hfetch);
    index_close(t->index, AccessShareLock);
    table_close(t->heap, AccessShareLock);
    MemoryContextDelete(work);
}

/*
 * llmemory_bm25_topk(postings regclass, owner_id text, lexemes text[], weights float8[],
 *                    k1 float8, b float8, avgdl float8, k int)
 *   RETURNS TABLE (chunk_no bigint, score float8), best first, ties by chunk_no ascending.
 * Scores are summed in the order of the arrays.
 */
Datum llmemory_bm25_topk(PG_FUNCTION_ARGS)
{
    Oid relid = PG_GETARG_OID(0);
    text *owner = PG_GETARG_TEXT_PP(1);
    ArrayType *lexarr = check_array(PG_GETARG_ARRAYTYPE_P(2), TEXTOID, "lexemes");
    ArrayType *warr = check_array(PG_GETARG_ARRAYTYPE_P(3), FLOAT8OID, "weights");
    Datum *lexemes;
    int m, nw;

    InitMaterializedSRF(fcinfo, 0);
    deconstruct_array(lexarr, TEXTOID, -1, false, TYPALIGN_INT, &lexemes, NULL, &m);
    nw = ArrayGetNItems(ARR_NDIM(warr), ARR_DIMS(warr));
    if (nw != m)
        ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
                        errmsg("lexemes and weights have different lengths (%d and %d)", m, nw)));
    topk_emit(fcinfo, relid, owner, lexemes, (float8 *)ARR_DATA_PTR(warr), m, PG_GETARG_FLOAT8(4),
              PG_GETARG_FLOAT8(5), PG_GETARG_FLOAT8(6), PG_GETARG_INT32(7));
    PG_RETURN_NULL();
}

/* ---------------------------------------------------------------- statistics */

/*
 * The statistics CTEs of src/lib/search/bm25.c (st, q, w), verbatim but for the table names:
 * avgdl and the (lexeme, weight) pairs in lexeme order (C collation), the order in which the SQL
 * path adds the contributions too. A fixed order keeps scores bit-identical whatever plan the
 * statistics query gets (after an ANALYZE, say). Running the same SQL keeps the per-tenant
 * statistics semantics identical by construction.
 */
static const char *const stats_sql =
    "WITH st AS ("
    "  SELECT chunk_count::float8 AS n,"
    "         greatest(total_len::float8 / greatest(chunk_count, 1), 1e-9) AS avgdl"
    "    FROM %s WHERE owner_id = $1 AND chunk_count > 0),"
    " q AS ("
    "  SELECT u.lexeme, coalesce(array_length(u.positions, 1), 1)::float8 AS qtf"
    "    FROM unnest(to_tsvector($2, $3)) u),"
    " w AS MATERIALIZED ("
    "  SELECT q.lexeme, q.qtf * ln(1 + (st.n - ts.df + 0.5) / (ts.df + 0.5)) AS w"
    "    FROM q JOIN %s ts ON ts.owner_id = $1 AND ts.lexeme = q.lexeme"
    "    CROSS JOIN st WHERE ts.df > 0 ORDER BY q.lexeme COLLATE \"C\")"
    " SELECT st.avgdl, a.lx, a.wt"
    "   FROM st, (SELECT array_agg(w.lexeme ORDER BY w.lexeme COLLATE \"C\") AS lx,"
    "                    array_agg(w.w ORDER BY w.lexeme COLLATE \"C\") AS wt FROM w) a";

/* Saved plans of stats_sql, one per pair of statistics tables, for the backend's life. */
typedef struct StatsPlan {
    Oid term_stats;
    Oid tenant_stats;
    char *sql;
    SPIPlanPtr plan;
} StatsPlan;

static StatsPlan *stats_plans;
static int n_stats_plans, cap_stats_plans;

static char *qualified_name(Oid relid)
{
    char *name = get_rel_name(relid);

    if (name == NULL)
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
                        errmsg("relation with OID %u does not exist", relid)));
    return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), name);
}

static SPIPlanPtr stats_plan(Oid term_stats, Oid tenant_stats)
{
    char *sql = psprintf(stats_sql, qualified_name(tenant_stats), qualified_name(term_stats));
    Oid argtypes[3] = {TEXTOID, REGCONFIGOID, TEXTOID};
    MemoryContext old;
    SPIPlanPtr plan;

    /* Keyed by OIDs and checked by text, so a rename or a recycled OID gets a new plan. */
    for (int i = 0; i < n_stats_plans; i++) {
        StatsPlan *sp = &stats_plans[i];

        if (sp->term_stats == term_stats && sp->tenant_stats == tenant_stats &&
            strcmp(sp->sql, sql) == 0)
            return sp->plan;
    }
    plan = SPI_prepare(sql, 3, argtypes);
    if (plan == NULL)
        elog(ERROR, "llmemory_bm25: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    if (SPI_keepplan(plan) != 0)
        elog(ERROR, "llmemory_bm25: SPI_keepplan failed");
    old = MemoryContextSwitchTo(TopMemoryContext);
    if (n_stats_plans == cap_stats_plans) {
        cap_stats_plans = Max(4, cap_stats_plans * 2);
        stats_plans = stats_plans ? repalloc(stats_plans, sizeof(StatsPlan) * cap_stats_plans)
                                  : palloc(sizeof(StatsPlan) * cap_stats_plans);
    }
    stats_plans[n_stats_plans].term_stats = term_stats;
    stats_plans[n_stats_plans].tenant_stats = tenant_stats;
    stats_plans[n_stats_plans].sql = pstrdup(sql);
    stats_plans[n_stats_plans].plan = plan;
    n_stats_plans++;
    MemoryContextSwitchTo(old);
    return plan;
}

/*
 * llmemory_bm25_search(postings regclass, term_stats regclass, tenant_stats regclass,
 *                      owner_id text, config regconfig, query text, k1 float8, b float8, k int)
 *   RETURNS TABLE (chunk_no bigint, score float8)
 * bm25.c's keyword leg without filters: its statistics query (on the caller's snapshot), then
 * the same scoring as llmemory_bm25_topk().
 */
Datum llmemory_bm25_search(PG_FUNCTION_ARGS)
{
    Oid postings = PG_GETARG_OID(0), term_stats = PG_GETARG_OID(1);
    Oid tenant_stats = PG_GETARG_OID(2);
    text *owner = PG_GETARG_TEXT_PP(3);
    MemoryContext outer = CurrentMemoryContext;
    Datum args[3];
    Datum *lexemes = NULL;
    float8 *weights = NULL, avgdl = 0.0;
    int m = 0;

    InitMaterializedSRF(fcinfo, 0);
    args[0] = PointerGetDatum(owner);
    args[1] = PG_GETARG_DATUM(4);
    args[2] = PG_GETARG_DATUM(5);
    if (SPI_connect() != SPI_OK_CONNECT)
        elog(ERROR, "llmemory_bm25: SPI_connect failed");
    /* read_only: runs on the active snapshot, the one the postings are read with. */
    if (SPI_execute_plan(stats_plan(term_stats, tenant_stats), args, NULL, true, 1) !=
        SPI_OK_SELECT)
        elog(ERROR, "llmemory_bm25: statistics query failed");
    if (SPI_processed == 1) {
        HeapTuple tup = SPI_tuptable->vals[0];
        TupleDesc desc = SPI_tuptable->tupdesc;
        bool null_avgdl, null_lx, null_wt;
        Datum d_avgdl = SPI_getbinval(tup, desc, 1, &null_avgdl);
        Datum d_lx = SPI_getbinval(tup, desc, 2, &null_lx);
        Datum d_wt = SPI_getbinval(tup, desc, 3, &null_wt);

        if (!null_avgdl && !null_lx && !null_wt) {
            MemoryContext old = MemoryContextSwitchTo(outer);
            ArrayType *lexarr = DatumGetArrayTypePCopy(d_lx);
            ArrayType *warr = DatumGetArrayTypePCopy(d_wt);

            avgdl = DatumGetFloat8(d_avgdl);
            deconstruct_array(lexarr, TEXTOID, -1, false, TYPALIGN_INT, &lexemes, NULL, &m);
            weights = (float8 *)ARR_DATA_PTR(warr);
            MemoryContextSwitchTo(old);
        }
    }
    SPI_finish();
    if (m > 0)
        topk_emit(fcinfo, postings, owner, lexemes, weights, m, PG_GETARG_FLOAT8(6),
                  PG_GETARG_FLOAT8(7), avgdl, PG_GETARG_INT32(8));
    PG_RETURN_NULL();
}

void _PG_init(void)
{
    DefineCustomBoolVariable("llmemory_bm25.pruning",
                             "Skips postings that cannot change the top k (MaxScore).",
                             "Off scores every posting; the results are the same.", &bm25_pruning,
                             true, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomBoolVariable("llmemory_bm25.prime",
                             "Scores a few likely chunks first to start pruning early.",
                             "Off starts from no threshold; the results are the same.", &bm25_prime,
                             true, PGC_USERSET, 0, NULL, NULL, NULL);
    MarkGUCPrefixReserved("llmemory_bm25");
}
