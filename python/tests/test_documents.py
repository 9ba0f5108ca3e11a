"""Documents: add / re-index, get, chunks, count, list, delete, statistics, tenant erase."""

from datetime import date, datetime, timezone
from uuid import UUID

import pytest

from conftest import HANDBOOK
from llmemory import (
    ChunkingConfig,
    DocumentNotFoundError,
    DocumentType,
    ValidationError,
)


def test_add_returns_the_document_and_counts(mem, tenant):
    r = mem.add_document(tenant, "handbook-1", "Handbook", DocumentType.MARKDOWN, HANDBOOK,
                         document_date=date(2024, 5, 1), metadata={"dept": "hr", "n": 1})
    assert isinstance(r.document.document_id, UUID)
    assert r.created is True
    assert r.chunks_created >= 1 and r.embeddings_created == r.chunks_created
    assert r.embeddings_queued == 0
    assert r.processing_time_ms > 0
    d = r.document
    assert (d.owner_id, d.id_at_origin, d.document_name) == (tenant, "handbook-1", "Handbook")
    assert d.document_type is DocumentType.MARKDOWN
    assert d.document_date == datetime(2024, 5, 1, tzinfo=timezone.utc)
    assert d.metadata == {"dept": "hr", "n": 1}


def test_same_id_at_origin_reindexes_keeping_the_id(mem, tenant):
    a = mem.add_document(tenant, "k", "v1", "text", "first version of the text")
    b = mem.add_document(tenant, "k", "v2", "text", "second version, different words entirely")
    assert b.created is False
    assert b.document.document_id == a.document.document_id
    got = mem.get_document(tenant, a.document.document_id, include_chunks=True)
    assert got.document.document_name == "v2"
    assert "second version" in got.chunks[0].content
    assert mem.list_documents(tenant).total == 1


def test_type_and_strategy_strings_are_accepted_case_insensitively(mem, tenant):
    r = mem.add_document(tenant, "e1", "Mail", "EMAIL", "From: a@b.c\nSubject: hi\n\nHello there.",
                         chunking_strategy="semantic", chunking_config=ChunkingConfig())
    assert r.document.document_type is DocumentType.EMAIL


def test_get_document_with_chunks(mem, tenant):
    r = mem.add_document(tenant, "h", "Handbook", "markdown", HANDBOOK * 30, metadata={"a": [1]})
    got = mem.get_document(tenant, str(r.document.document_id), include_chunks=True,
                           include_embeddings=True)
    d = got.document
    assert d.document_id == r.document.document_id and d.owner_id == tenant
    assert d.metadata == {"a": [1]} and d.text_config == "english"
    assert d.created_at is not None and d.updated_at >= d.created_at
    assert got.chunk_count == len(got.chunks) == d.chunk_count > 1
    assert [c.chunk_index for c in got.chunks] == sorted(c.chunk_index for c in got.chunks)
    c = got.chunks[0]
    assert c.document_id == d.document_id and len(c.content_hash) == 64 and c.token_count > 0
    parents = {c.chunk_id for c in got.chunks}
    assert all(c.parent_chunk_id in parents for c in got.chunks if c.parent_chunk_id)
    assert mem.get_document(tenant, d.document_id).chunks is None


def test_get_document_chunks_pages_and_count(mem, tenant):
    r = mem.add_document(tenant, "h", "Handbook", "markdown", HANDBOOK * 30)
    did = r.document.document_id
    allc = mem.get_document_chunks(tenant, did)
    assert mem.get_chunk_count(tenant, did) == len(allc)
    assert mem.get_document_chunks(tenant, did, limit=2, offset=1) == allc[1:3]
    assert mem.get_document_chunks(tenant, did, offset=len(allc)) == []
    with pytest.raises(ValidationError) as e:
        mem.get_document_chunks(tenant, did, limit=-1)
    assert e.value.field == "limit"
    with pytest.raises(ValidationError) as e:
        mem.get_document_chunks(tenant, did, offset=-1)
    assert e.value.field == "offset"


def test_list_documents_filters_orders_and_pages(mem, tenant):
    for i, (t, meta) in enumerate([("text", {"k": "a"}), ("code", {"k": "b"}),
                                   ("text", {"k": "b"}), ("report", {})]):
        mem.add_document(tenant, f"d{i}", f"name-{3 - i}", t, f"content number {i}",
                         metadata=meta)
    page = mem.list_documents(tenant, limit=2)
    assert page.total == 4 and len(page.documents) == 2 and (page.limit, page.offset) == (2, 0)
    page2 = mem.list_documents(tenant, limit=2, offset=2)
    ids = {d.document_id for d in page.documents + page2.documents}
    assert len(ids) == 4
    by_name = mem.list_documents(tenant, order_by="document_name", order_desc=False)
    assert [d.document_name for d in by_name.documents] == ["name-0", "name-1", "name-2",
                                                            "name-3"]
    assert mem.list_documents(tenant, document_type=DocumentType.TEXT).total == 2
    assert mem.list_documents(tenant, document_type="code").total == 1
    assert mem.list_documents(tenant, metadata_filter={"k": "b"}).total == 2
    assert mem.list_documents(tenant, limit=0).documents == []
    for bad, field in [(dict(limit=-1), "limit"), (dict(offset=-1), "offset"),
                       (dict(order_by="size"), "order_by"), (dict(limit=10**6), "limit"),
                       (dict(document_type="spreadsheet"), "document_type")]:
        with pytest.raises(ValidationError) as e:
            mem.list_documents(tenant, **bad)
        assert e.value.field == field


def test_delete_document_and_documents(mem, tenant):
    ids = [mem.add_document(tenant, f"d{i}", "n", "text", f"body {i}",
                            metadata={"batch": i % 2}).document.document_id for i in range(5)]
    mem.delete_document(tenant, ids[0])
    with pytest.raises(DocumentNotFoundError):
        mem.get_document(tenant, ids[0])
    with pytest.raises(DocumentNotFoundError):
        mem.delete_document(tenant, ids[0])
    r = mem.delete_documents(tenant, document_ids=[str(ids[1]), ids[0]])
    assert r.deleted_count == 1 and r.deleted_document_ids == [ids[1]]
    r = mem.delete_documents(tenant, metadata_filter={"batch": 0})
    assert sorted(r.deleted_document_ids) == sorted([ids[2], ids[4]])
    with pytest.raises(ValidationError):
        mem.delete_documents(tenant)
    with pytest.raises(ValidationError):
        mem.delete_documents(tenant, document_ids=[])
    assert [d.document_id for d in mem.list_documents(tenant).documents] == [ids[3]]


def test_statistics_with_breakdown(mem, tenant):
    empty = mem.get_statistics(tenant, include_breakdown=True)
    assert (empty.document_count, empty.chunk_count, empty.total_size_bytes) == (0, 0, 0)
    assert empty.document_type_breakdown == {} and empty.created_date_range is None
    mem.add_document(tenant, "a", "n", "text", "alpha beta gamma")
    mem.add_document(tenant, "b", "n", "text", "delta epsilon")
    mem.add_document(tenant, "c", "n", "pdf", "zeta")
    st = mem.get_statistics(tenant, include_breakdown=True)
    assert st.document_count == 3 and st.chunk_count >= 3
    assert st.total_size_bytes == len("alpha beta gamma") + len("delta epsilon") + len("zeta")
    assert st.document_type_breakdown == {DocumentType.TEXT: 2, DocumentType.PDF: 1}
    first, last = st.created_date_range
    assert first <= last
    assert mem.get_statistics(tenant).document_type_breakdown is None


def test_erase_tenant(mem, tenant):
    for i in range(3):
        mem.add_document(tenant, f"d{i}", "n", "text", f"searchable words {i}")
    mem.search(tenant, "searchable")
    assert mem.erase_tenant(tenant) == 3
    assert mem.get_statistics(tenant).document_count == 0
    assert mem.get_search_history(tenant) == []
    assert mem.erase_tenant(tenant) == 0


@pytest.mark.parametrize("kwargs,field", [
    (dict(owner_id=""), "owner_id"),
    (dict(owner_id="a b"), "owner_id"),
    (dict(owner_id="x" * 256), "owner_id"),
    (dict(owner_id=12), "owner_id"),
    (dict(id_at_origin=""), "id_at_origin"),
    (dict(id_at_origin="has space"), "id_at_origin"),
    (dict(document_name=""), "document_name"),
    (dict(document_name="n" * 501), "document_name"),
    (dict(document_type="spreadsheet"), "document_type"),
    (dict(metadata=[1, 2]), "metadata"),
    (dict(metadata={"x": object()}), "metadata"),
    (dict(document_date="not a date"), "document_date"),
    (dict(chunking_strategy="sliding_window"), "chunking_strategy"),
    (dict(content="bad \udc80 surrogate"), "content"),
])
def test_add_rejects_bad_input_and_writes_nothing(mem, tenant, kwargs, field):
    args = dict(owner_id=tenant, id_at_origin="doc", document_name="n", document_type="text",
                content="some content")
    args.update(kwargs)
    with pytest.raises(ValidationError) as e:
        mem.add_document(**args)
    assert e.value.field == field
    assert str(e.value).startswith(f"Validation error for {field}: ")
    if isinstance(args["owner_id"], str) and args["owner_id"] == tenant:
        assert mem.get_statistics(tenant).document_count == 0


def test_owner_ids_with_segments_and_origins_with_pipes(mem):
    # The original rejected both although its own guide used them (spec section 17.18).
    r = mem.add_document("org-1/workspace-2", "auth0|abc", "n", "text", "hierarchical owner")
    assert mem.get_document("org-1/workspace-2", r.document.document_id).document.owner_id == \
        "org-1/workspace-2"
    mem.erase_tenant("org-1/workspace-2")


def test_content_limit_and_nul_bytes(db_url, schema, tenant):
    import llmemory

    with llmemory.LLMemorySync(db_url, schema=schema, max_content_bytes=100) as m:
        with pytest.raises(ValidationError) as e:
            m.add_document(tenant, "big", "n", "text", "x" * 101)
        assert e.value.field == "content"
        r = m.add_document(tenant, "nul", "n", "text", "a\0b")
        assert r.document.content_bytes == 2
        assert m.get_document_chunks(tenant, r.document.document_id)[0].content == "ab"
