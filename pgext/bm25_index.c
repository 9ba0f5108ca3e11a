/*
 * bm25_index.c: reading the postings index for llmemory_bm25: the btree leaf pages of one
 * posting list (owner_id, lexeme) in chunk_no order, through a cursor that decodes a window of
 * entries, seeks by chunk_no (probes, skip arrays from the level-1 pages, right-links), reads
 * small lists whole, and checks visibility under the snapshot. Scoring is in bm25_score.c.
 */
#include "bm25_internal.h"

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

void lmb_cursor_release(Cursor *c)
{
    if (BufferIsValid(c->buf))
        ReleaseBuffer(c->buf);
    c->buf = InvalidBuffer;
    c->blk = InvalidBlockNumber;
}

static void cursor_set_end(Cursor *c)
{
    lmb_cursor_release(c);
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
void lmb_cursor_rewind(Cursor *c)
{
    if (c->mat) {
        c->pos = 0;
        c->at_end = c->n == 0;
        return;
    }
    lmb_cursor_release(c);
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
            lmb_cursor_release(c);
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
        lmb_cursor_release(c);
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
void lmb_cursor_walk(Topk *t, Cursor *c, BlockNumber blkno, int64 target, int maxn, bool cont)
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
void lmb_cursor_descend(Topk *t, Cursor *c, int64 target, int maxn)
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
        lmb_cursor_release(c);
        c->buf = buf;
        c->blk = BufferGetBlockNumber(buf);
        return;
    }
    _bt_relbuf(t->index, buf);
    if (r == LOOK_END)
        cursor_set_end(c);
    else
        lmb_cursor_walk(t, c, c->next, target, maxn, true); /* the list starts further right */
    c->empty = target == PG_INT64_MIN && c->at_end;
}

/* Refills a used-up window with the list's next entries. */
void lmb_cursor_fill(Topk *t, Cursor *c)
{
    int64 last;

    if (c->at_end || c->pos < c->n)
        return;
    if (!c->started) {
        lmb_cursor_descend(t, c, PG_INT64_MIN, MaxIndexTuplesPerPage);
    } else if (!c->page_done) {
        /* The rest of this page: entries after the last one decoded (never split by chunk). */
        last = c->e[c->n - 1].chunk_no;
        Assert(last < PG_INT64_MAX);
        lmb_cursor_walk(t, c, c->blk, last + 1, MaxIndexTuplesPerPage, false);
    } else if (c->more) {
        /* After a rewind, c->next is the list's first page, which may hold earlier keys. */
        lmb_cursor_walk(t, c, c->next, PG_INT64_MIN, MaxIndexTuplesPerPage,
                    c->blk != InvalidBlockNumber);
    } else {
        cursor_set_end(c);
    }
}

/* Advances to the first live entry >= target (probing: small windows, skip-array jumps). */
void lmb_cursor_seek(Topk *t, Cursor *c, int64 target)
{
    BlockNumber blk;

    c->probes_here++;
    if (!c->started) {
        lmb_cursor_descend(t, c, target, PROBE_WINDOW);
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
    lmb_cursor_walk(t, c, blk != P_NONE ? blk : c->next, target,
                c->dense ? MaxIndexTuplesPerPage : PROBE_WINDOW, false);
}

/*
 * Reads a short list whole into memory right after its first descent (cursor on its first
 * page, window full), so that priming, restarts and seeks never touch its pages again. The
 * level-1 page above says how many leaf pages the list spans. Visibility-map bits are read
 * page by page while each page is pinned.
 */
void lmb_cursor_materialize(Topk *t, Cursor *c)
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
        lmb_cursor_walk(t, c, c->next, PG_INT64_MIN, MaxIndexTuplesPerPage, true);
        if (c->at_end)
            break;
    }
    lmb_cursor_release(c);
    c->mat = true;
    c->e = all;
    c->n = n;
    c->pos = 0;
    c->page_done = true;
    c->more = false;
    c->at_end = n == 0;
}

/* ---------------------------------------------------------------- setup */

/*
 * The postings table's unique btree on (owner_id, lexeme, chunk_no) INCLUDE (tf, doc_len),
 * usable by this snapshot, with orderings this file relies on: chunk_no ascending as int8, and
 * text equality meaning byte equality (deterministic collations). Opened with AccessShareLock.
 */
Relation lmb_open_postings_index(Topk *t)
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

BTScanInsertData *lmb_make_list_key(Topk *t, Datum lexeme)
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
