"""Search: every argument of search() and search_with_documents(), per-leg scores, history."""

from datetime import date, datetime, timezone

import pytest

from conftest import HANDBOOK
from llmemory import (
    EnrichedSearchResult,
    LLMemorySync,
    SearchResult,
    SearchType,
    ValidationError,
)


@pytest.fixture
def corpus(mem, tenant):
    docs = {}
    docs["hb"] = mem.add_document(tenant, "handbook", "Handbook", "markdown", HANDBOOK * 5,
                                  document_date="2024-01-15", metadata={"dept": "hr"})
    docs["it"] = mem.add_document(tenant, "it-guide", "IT guide", "technical_doc",
                                  "Laptops need disk encryption. Reset passwords every ninety "
                                  "days. Report phishing mail to security.",
                                  document_date="2024-06-01", metadata={"dept": "it"})
    docs["fin"] = mem.add_document(tenant, "finance", "Finance", "report",
                                   "Quarterly revenue grew twelve percent. Travel costs fell "
                                   "after the train policy.", document_date="2023-03-01",
                                   metadata={"dept": "finance"})
    return docs


@pytest.mark.parametrize("stype", list(SearchType) + ["text", "VECTOR", "hybrid"])
def test_each_search_type_finds_the_right_document(mem, tenant, corpus, stype):
    res = mem.search(tenant, "disk encryption laptops", search_type=stype, limit=5)
    assert res and isinstance(res[0], SearchResult)
    assert res[0].document_id in (corpus["it"].document.document_id,
                                  corpus["hb"].document.document_id)
    assert [r.rank for r in res] == list(range(1, len(res) + 1))
    assert all(res[i].score >= res[i + 1].score for i in range(len(res) - 1))


def test_per_leg_scores(mem, tenant, corpus):
    res = mem.search(tenant, "quarterly revenue", search_type="hybrid", limit=3)
    top = res[0]
    assert top.document_id == corpus["fin"].document.document_id
    assert top.text_rank is not None and top.text_rank > 0 and top.text_leg_rank == 1
    assert top.similarity is not None and top.vector_leg_rank is not None
    assert top.rrf_score == top.score and top.text_score == top.text_rank
    t = mem.search(tenant, "quarterly revenue", search_type="text", limit=3)[0]
    assert t.similarity is None and t.rrf_score is None and t.text_rank == pytest.approx(t.score)
    v = mem.search(tenant, "quarterly revenue", search_type="vector", limit=3)[0]
    assert v.text_rank is None and v.similarity == pytest.approx(v.score)


def test_origin_filters(mem, tenant, corpus):
    for stype in SearchType:
        res = mem.search(tenant, "encryption travel revenue", search_type=stype,
                         id_at_origin="finance")
        assert res and {r.id_at_origin for r in res} == {"finance"}
        res = mem.search(tenant, "encryption travel revenue", search_type=stype,
                         id_at_origins=["finance", "it-guide"])
        assert {r.id_at_origin for r in res} == {"finance", "it-guide"}
    # An empty list is no filter, as in the original (`if id_at_origins:`).
    assert len(mem.search(tenant, "encryption revenue", id_at_origins=[])) > 1


def test_metadata_type_and_date_filters(mem, tenant, corpus):
    res = mem.search(tenant, "encryption travel revenue", metadata_filter={"dept": "it"})
    assert {r.document_id for r in res} == {corpus["it"].document.document_id}
    res = mem.search(tenant, "encryption travel revenue", document_type="report")
    assert {r.document_id for r in res} == {corpus["fin"].document.document_id}
    res = mem.search(tenant, "encryption travel revenue", date_from=date(2024, 1, 1),
                     date_to=datetime(2024, 12, 31, tzinfo=timezone.utc))
    assert {r.document_id for r in res} == {corpus["hb"].document.document_id,
                                            corpus["it"].document.document_id}
    res = mem.search(tenant, "encryption travel revenue", date_to="2023-12-31")
    assert {r.document_id for r in res} == {corpus["fin"].document.document_id}


def test_parent_context(mem, tenant, corpus):
    res = mem.search(tenant, "vacation days", search_type="text", include_parent_context=True,
                     context_window=1)
    child = [r for r in res if r.chunk_level == 1]
    assert child and all(len(r.parent_chunks) == 1 for r in child)
    assert child[0].parent_chunks[0].chunk_level == 2
    assert all(r.parent_chunks == [] for r in mem.search(tenant, "vacation days"))


def test_alpha_changes_the_fusion(mem, tenant, corpus):
    kw = mem.search(tenant, "train travel policy", alpha=0.0, limit=5)
    vec = mem.search(tenant, "train travel policy", alpha=1.0, limit=5)
    assert kw and vec
    assert all(r.text_leg_rank for r in kw[:1])
    with pytest.raises(ValidationError) as e:
        mem.search(tenant, "x", alpha=1.5)
    assert e.value.field == "alpha"


def test_expansion_and_rerank(mem, tenant, corpus):
    res = mem.search(tenant, "laptop encryption policy", query_expansion=True,
                     max_query_variants=3, search_type="text")
    assert res
    rr = mem.search(tenant, "report phishing", rerank=True, rerank_top_k=10,
                    rerank_return_k=3, limit=3)
    assert rr and len(rr) <= 3 and rr[0].rerank_score == rr[0].score
    assert rr[0].document_id == corpus["it"].document.document_id


def test_python_reranker_hook(db_url, schema, tenant):
    calls = []

    def reranker(query, texts):
        calls.append((query, len(texts)))
        return [1.0 if "zebra" in t else 0.0 for t in texts]

    with LLMemorySync(db_url, schema=schema, reranker=reranker) as m:
        m.add_document(tenant, "a", "a", "text", "animals: the lion and the elephant")
        m.add_document(tenant, "b", "b", "text", "animals: the zebra")
        res = m.search(tenant, "animals lion", search_type="text", rerank=True)
        assert calls and calls[0][0] == "animals lion"
        assert res[0].id_at_origin == "b"


def test_search_with_documents(mem, tenant, corpus):
    r = mem.search_with_documents(tenant, "quarterly revenue", limit=3)
    assert r.total == len(r.results) > 0
    top = r.results[0]
    assert isinstance(top, EnrichedSearchResult)
    assert (top.document_name, top.document_type, top.document_metadata) == (
        "Finance", "report", {"dept": "finance"})
    r2 = mem.search_with_documents(tenant, "quarterly revenue", include_document_metadata=False)
    assert (r2.results[0].document_name, r2.results[0].document_metadata) == ("", {})
    # Unlike the original, every filter of search() is available here.
    r3 = mem.search_with_documents(tenant, "encryption revenue", id_at_origin="it-guide",
                                   date_from="2024-01-01", search_type="text")
    assert {x.id_at_origin for x in r3.results} == {"it-guide"}
    with pytest.raises(TypeError):
        mem.search_with_documents(tenant, "x", nonsense=1)
    d = top.to_dict()
    assert d["document_name"] == "Finance" and isinstance(d["chunk_id"], str)


def test_history(mem, tenant, corpus):
    mem.search(tenant, "first query", search_type="text")
    mem.search(tenant, "second query", search_type="vector", metadata_filter={"dept": "it"})
    mem.search(tenant, "not recorded", record_history=False)
    h = mem.get_search_history(tenant, limit=10)
    assert [e.query_text for e in h] == ["second query", "first query"]
    assert h[0].search_type is SearchType.VECTOR and h[0].filters.get("metadata") == {
        "dept": "it"}


@pytest.mark.parametrize("kwargs,field", [
    (dict(query_text=""), "query"),
    (dict(query_text="q" * 1001), "query"),
    (dict(limit=0), "limit"),
    (dict(limit=101), "limit"),
    (dict(search_type="semantic"), "search_type"),
    (dict(metadata_filter="[1]"), "metadata_filter"),
    (dict(date_from="yesterday"), "date_from"),
    (dict(id_at_origins="one-string"), "id_at_origins"),
    (dict(max_query_variants=11, query_expansion=True), "max_variants"),
    (dict(rerank_top_k=5000, rerank=True), "rerank_top_k"),
    (dict(context_window=-1), "context_window"),
])
def test_bad_search_arguments(mem, tenant, kwargs, field):
    args = dict(owner_id=tenant, query_text="hello")
    args.update(kwargs)
    with pytest.raises(ValidationError) as e:
        mem.search(**args)
    assert e.value.field.startswith(field)


def test_plain_query_syntax_reads_operators_as_text(mem, tenant, corpus):
    # Web syntax: a leading "-" excludes the word, so only the exclusion remains and nothing
    # of the finance document can match; plain syntax reads the same query as text.
    web = mem.search(tenant, "-revenue", search_type="text", limit=5)
    plain = mem.search(tenant, "-revenue", search_type="text", limit=5, query_syntax="plain")
    fin = corpus["fin"].document.document_id
    assert fin not in [r.document_id for r in web]
    assert plain and plain[0].document_id == fin
    with pytest.raises(ValidationError):
        mem.search(tenant, "revenue", query_syntax="sql")


def test_include_subtenants_merges_own_subtree_only(mem, tenant, other):
    sub = tenant + "/team-a"
    mem.add_document(tenant, "p", "Parent", "text", "Quarterly revenue grew at the parent.")
    mem.add_document(sub, "s", "Sub", "text", "Quarterly revenue grew in team A.")
    mem.add_document(other, "x", "Other", "text", "Quarterly revenue grew elsewhere.")
    own = mem.search(tenant, "quarterly revenue", search_type="text", limit=10)
    assert {r.owner_id for r in own} == {tenant}
    both = mem.search(tenant, "quarterly revenue", search_type="text", limit=10,
                      include_subtenants=True)
    assert {r.owner_id for r in both} == {tenant, sub}
    listed = mem.list_documents(tenant, include_subtenants=True)
    assert {d.id_at_origin for d in listed.documents} == {"p", "s"}
    assert mem.list_documents(tenant).total == 1
