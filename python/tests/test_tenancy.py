"""Cross-tenant isolation for every call: another tenant's object is indistinguishable from a
missing one, and nothing one tenant does changes another's data or results."""

import pytest

from llmemory import DocumentNotFoundError, ResourceNotFoundError, SearchType

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def victim(mem, other):
    r = mem.add_document(other, "secret", "Secret plan", "text",
                         "The merger with Globex closes in March. Zebra codename.",
                         metadata={"tag": "secret"})
    mem.search(other, "merger")
    return r.document.document_id


def _same_error(fn, *args, **kw):
    """The error for another tenant's id is exactly the error for a missing id."""
    with pytest.raises(DocumentNotFoundError) as a:
        fn(*args, **kw)
    return type(a.value), a.value.code, a.value.message.replace(str(args[1]), "<id>")


@pytest.mark.parametrize("call", ["get_document", "get_document_chunks", "get_chunk_count",
                                  "delete_document"])
def test_document_calls_do_not_reach_another_tenant(mem, tenant, other, victim, call):
    fn = getattr(mem, call)
    assert _same_error(fn, tenant, victim) == _same_error(fn, tenant, MISSING)
    assert mem.get_document(other, victim).document.document_name == "Secret plan"


def test_delete_documents_skips_other_tenants(mem, tenant, other, victim):
    assert mem.delete_documents(tenant, document_ids=[victim]).deleted_count == 0
    assert mem.delete_documents(tenant, metadata_filter={"tag": "secret"}).deleted_count == 0
    assert mem.get_chunk_count(other, victim) >= 1


@pytest.mark.parametrize("stype", list(SearchType))
def test_search_never_returns_other_tenants(mem, tenant, other, victim, stype):
    mem.add_document(tenant, "mine", "Mine", "text", "Our own notes about a merger.")
    res = mem.search(tenant, "merger Globex zebra", search_type=stype, limit=20)
    assert res and all(r.document_id != victim for r in res)
    assert mem.search(tenant, "Globex", search_type="text", id_at_origin="secret") == []
    w = mem.search_with_documents(tenant, "merger Globex", search_type=stype)
    assert all(r.document_id != victim for r in w.results)


def test_scores_do_not_depend_on_other_tenants(mem, tenant, other):
    mem.add_document(tenant, "a", "a", "text", "apples and oranges")
    before = mem.search(tenant, "apples", search_type="text")[0].score
    for i in range(20):
        mem.add_document(other, f"n{i}", "n", "text", "apples apples apples everywhere")
    assert mem.search(tenant, "apples", search_type="text")[0].score == pytest.approx(before)


def test_listing_statistics_and_history_are_per_tenant(mem, tenant, other, victim):
    assert mem.list_documents(tenant).total == 0
    assert mem.list_documents(tenant, metadata_filter={"tag": "secret"}).documents == []
    assert mem.get_statistics(tenant, include_breakdown=True).document_count == 0
    assert mem.get_search_history(tenant) == []
    assert [h.query_text for h in mem.get_search_history(other)] == ["merger"]


def test_same_id_at_origin_in_two_tenants_are_two_documents(mem, tenant, other, victim):
    mine = mem.add_document(tenant, "secret", "Mine", "text", "nothing to see")
    assert mine.created and mine.document.document_id != victim
    assert mem.get_document(other, victim).document.document_name == "Secret plan"


def test_erase_tenant_leaves_others_alone(mem, tenant, other, victim):
    mem.add_document(tenant, "x", "x", "text", "to be erased")
    assert mem.erase_tenant(tenant) == 1
    assert mem.get_document(other, victim).document.owner_id == other


def test_api_keys_are_per_tenant(mem, tenant, other):
    k = mem.create_api_key(other, name="theirs")
    assert mem.list_api_keys(tenant) == []
    with pytest.raises(ResourceNotFoundError) as a:
        mem.revoke_api_key(k.key_id, owner_id=tenant)
    with pytest.raises(ResourceNotFoundError) as b:
        mem.revoke_api_key("0123456789abcdef", owner_id=tenant)
    assert a.value.message.replace(k.key_id, "?") == b.value.message.replace(
        "0123456789abcdef", "?")
    assert mem.verify_api_key(k.key).owner_id == other


def test_sub_tenants_are_separate_tenants(mem, tenant):
    parent, child = tenant, tenant + "/ws-1"
    mem.add_document(child, "d", "d", "text", "child workspace words")
    assert mem.search(parent, "workspace", search_type="text") == []
    assert len(mem.search(child, "workspace", search_type="text")) == 1
    mem.erase_tenant(child)
