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
 *
 * This file holds the SQL-callable functions (argument checks, access checks, the result set)
 * and the settings; the index access is in bm25_index.c and the scoring in bm25_score.c.
 */
#include "bm25_internal.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(llmemory_bm25_topk);
PG_FUNCTION_INFO_V1(llmemory_bm25_search);

void _PG_init(void);

/*
 * Settings for tests and comparisons; the results never depend on them. pruning = off scores
 * every posting; prime = off starts pruning without the threshold prime() computes.
 */
bool lmb_setting_pruning = true;
bool lmb_setting_prime = true;

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
    t->index = lmb_open_postings_index(t);
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
        c->key = lmb_make_list_key(t, c->lexeme);
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
    t->pruning = t->safe && lmb_setting_pruning;
    /* Bounds and partial sums are rounded; 1e-9 relative dwarfs m * 2^-53 for any real m. */
    t->slack = Max(1e-9, 16.0 * (m + 1) * DBL_EPSILON);
    t->order = palloc(sizeof(int) * m);
    t->ecur = palloc(sizeof(int64) * m);
    t->prefix = palloc(sizeof(float8) * (m + 1));
    t->hit = palloc(sizeof(Entry) * m);
    t->contrib = palloc(sizeof(float8) * m);
    t->present = palloc0(sizeof(bool) * m);
    t->touched = palloc(sizeof(int) * m);

    lmb_run_topk(t);

    qsort(t->top, t->ntop, sizeof(Hit), lmb_hit_cmp_desc);
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
        lmb_cursor_release(&t->cursors[i]);
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
                             "Off scores every posting; the results are the same.", &lmb_setting_pruning,
                             true, PGC_USERSET, 0, NULL, NULL, NULL);
    DefineCustomBoolVariable("llmemory_bm25.prime",
                             "Scores a few likely chunks first to start pruning early.",
                             "Off starts from no threshold; the results are the same.", &lmb_setting_prime,
                             true, PGC_USERSET, 0, NULL, NULL, NULL);
    MarkGUCPrefixReserved("llmemory_bm25");
}
