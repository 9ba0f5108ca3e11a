/*
 * bm25_score.c: the scorer of llmemory_bm25: BM25 contributions computed exactly as the SQL
 * path does, the top-k heap, and MaxScore document-at-a-time over the posting lists (essential
 * lists merged, the others probed, candidates rejected early by upper bounds, a threshold
 * primed from the longest lists). It reads postings only through the cursors of bm25_index.c.
 */
#include "bm25_internal.h"

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

int lmb_hit_cmp_desc(const void *a, const void *b)
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
            lmb_cursor_walk(t, c, c->next, d, maxn, true);
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
        lmb_cursor_seek(t, c, d);
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

    if (t->m < 2 || !t->pruning || !lmb_setting_prime || t->k > 1000 || !prime_pays(t))
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
        lmb_cursor_rewind(c);
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

                lmb_cursor_seek(t, c, d);
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
        lmb_cursor_rewind(&t->cursors[i]);
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

void lmb_run_topk(Topk *t)
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
        lmb_cursor_descend(t, &t->cursors[i], PG_INT64_MIN, MaxIndexTuplesPerPage);
        lmb_cursor_materialize(t, &t->cursors[i]);
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
