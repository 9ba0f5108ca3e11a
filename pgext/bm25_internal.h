/*
 * bm25_internal.h: what the three files of llmemory_bm25 share: the index-tuple layout, the
 * cursor over one posting list and the top-k state (struct Topk), the cursor functions of
 * bm25_index.c that the scorer drives, the scorer of bm25_score.c that the SQL-callable
 * functions in llmemory_bm25.c run, and the settings. Names shared between files start with
 * lmb_ (the module's symbols live in the backend's global namespace).
 */
#ifndef LLMEMORY_BM25_INTERNAL_H
#define LLMEMORY_BM25_INTERNAL_H

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

/* Settings (llmemory_bm25.pruning, llmemory_bm25.prime), defined in llmemory_bm25.c. */
extern bool lmb_setting_pruning;
extern bool lmb_setting_prime;

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
static const char *const col_names[NCOLS] pg_attribute_unused() = {"owner_id", "lexeme",
                                                                   "chunk_no", "tf", "doc_len"};
static const Oid col_types[NCOLS] pg_attribute_unused() = {TEXTOID, TEXTOID, INT8OID, INT4OID,
                                                           INT4OID};

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

typedef enum Look { LOOK_FOUND, LOOK_NEXT_PAGE, LOOK_END } Look;

/* ---- index access (bm25_index.c) */

void lmb_cursor_release(Cursor *c);
void lmb_cursor_rewind(Cursor *c);
void lmb_cursor_walk(Topk *t, Cursor *c, BlockNumber blkno, int64 target, int maxn, bool cont);
void lmb_cursor_descend(Topk *t, Cursor *c, int64 target, int maxn);
void lmb_cursor_fill(Topk *t, Cursor *c);
void lmb_cursor_seek(Topk *t, Cursor *c, int64 target);
void lmb_cursor_materialize(Topk *t, Cursor *c);
Relation lmb_open_postings_index(Topk *t);
BTScanInsertData *lmb_make_list_key(Topk *t, Datum lexeme);

/* The current entry's chunk_no, refilling the window first; PG_INT64_MAX at the end. */
static inline int64 cursor_cur(Topk *t, Cursor *c)
{
    if (c->pos == c->n && !c->at_end)
        lmb_cursor_fill(t, c);
    return c->at_end ? PG_INT64_MAX : c->e[c->pos].chunk_no;
}

/* ---------------------------------------------------------------- visibility */

/* Reads the entry's visibility-map bit; only while its leaf page is pinned (see Cursor). */
static inline void entry_vm(Topk *t, Entry *e)
{
    if (e->vm == ENTRY_VM_UNKNOWN)
        e->vm = VM_ALL_VISIBLE(t->heap, ItemPointerGetBlockNumber(&e->tid), &t->vmbuf)
                    ? ENTRY_VM_ALL
                    : ENTRY_VM_NOT;
}

static inline bool entry_visible(Topk *t, Entry *e)
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
static inline void take_entry(Topk *t, Cursor *c, Entry *e)
{
    *e = c->e[c->pos];
}

/* ---- scoring (bm25_score.c) */

int lmb_hit_cmp_desc(const void *a, const void *b);
void lmb_run_topk(Topk *t);

#endif
