"""Tenant lifecycle: export and import, erasure report, quotas, usage and the audit log, against
the real database, with the cross-tenant checks."""

import asyncio
import io
import json

import pytest

from conftest import HANDBOOK
from llmemory import (
    AuditEntry,
    ImportResult,
    LLMemory,
    QuotaExceededError,
    TransferCounts,
    ValidationError,
    set_audit_context,
)


def _fill(mem, owner):
    mem.add_document(owner, "handbook", "Handbook", "markdown", HANDBOOK, metadata={"team": "hr"})
    mem.add_document(owner, "note", "Note", "text", "Vacation requests go to the HR portal.")


def _hits(mem, owner, query="vacation days"):
    return [(h.content, round(h.score, 6))
            for h in mem.search(owner, query, search_type="text", limit=10)]


def _export(mem, owner, **kw):
    buf = io.BytesIO()
    counts = mem.export_tenant(owner, buf, **kw)
    return counts, buf.getvalue()


def test_export_import_round_trip_gives_the_same_search_results(mem, tenant, other):
    _fill(mem, tenant)
    counts, data = _export(mem, tenant)
    assert isinstance(counts, TransferCounts)
    assert counts.documents == 2 and counts.chunks >= 2
    lines = [json.loads(x) for x in data.decode().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["owner_id"] == tenant
    assert lines[-1]["type"] == "trailer"

    r = mem.import_tenant(other, io.BytesIO(data))
    assert isinstance(r, ImportResult)
    assert r.counts == counts and r.documents_created == 2
    before = _hits(mem, tenant)
    assert before and _hits(mem, other) == before
    assert mem.get_statistics(other).chunk_count == mem.get_statistics(tenant).chunk_count
    # The same stream twice: nothing new.
    again = mem.import_tenant(other, io.BytesIO(data))
    assert again.documents_created == 0
    assert mem.get_statistics(other).document_count == 2


def test_export_and_import_through_paths(mem, tenant, other, tmp_path):
    _fill(mem, tenant)
    path = tmp_path / "t.jsonl"
    counts = mem.export_tenant(tenant, path)
    assert path.stat().st_size > 0
    assert mem.import_tenant(other, str(path)).counts == counts
    assert _hits(mem, other) == _hits(mem, tenant)


def test_truncated_or_corrupt_stream_is_rejected_and_writes_nothing(mem, tenant, other):
    _fill(mem, tenant)
    _, data = _export(mem, tenant)
    truncated = b"".join(data.splitlines(keepends=True)[:-2])
    with pytest.raises(ValidationError):
        mem.import_tenant(other, io.BytesIO(truncated))
    i = data.index(b"Vacation")
    corrupt = data[:i] + b"Xacation" + data[i + 8:]  # still valid JSON: the checksum catches it
    with pytest.raises(ValidationError):
        mem.import_tenant(other, io.BytesIO(corrupt))
    with pytest.raises(ValidationError):
        mem.import_tenant(other, io.BytesIO(b"not json at all\n"))
    assert mem.get_statistics(other).document_count == 0
    assert mem.search(other, "vacation", search_type="text") == []


class _Boom(Exception):
    pass


class _FailingWriter:
    def __init__(self):
        self.calls = 0

    def write(self, data):
        self.calls += 1
        if self.calls == 1:
            raise _Boom("disk full")
        return len(data)


class _FailingReader:
    def __init__(self, data):
        self.buf = io.BytesIO(data)

    def read(self, n):
        if self.buf.tell() > 100:
            raise _Boom("connection lost")
        return self.buf.read(min(n, 64))


def test_exceptions_in_the_callbacks_abort_and_are_re_raised(mem, tenant, other, tmp_path):
    _fill(mem, tenant)
    w = _FailingWriter()
    with pytest.raises(_Boom, match="disk full"):
        mem.export_tenant(tenant, w)
    assert w.calls == 1  # stopped at the failing write

    def progress(done, total):
        raise _Boom("stop")

    path = tmp_path / "partial.jsonl"
    with pytest.raises(_Boom, match="stop"):
        mem.export_tenant(tenant, path, progress=progress)
    assert not path.exists()  # a file the export created is removed when it fails

    _, data = _export(mem, tenant)
    with pytest.raises(_Boom, match="connection lost"):
        mem.import_tenant(other, _FailingReader(data))
    assert mem.get_statistics(other).document_count == 0
    with pytest.raises(TypeError):
        mem.import_tenant(other, io.StringIO(data.decode()))
    # The memory is fine afterwards.
    assert mem.import_tenant(other, io.BytesIO(data)).documents_created == 2


def test_progress_reports_records(mem, tenant, other):
    _fill(mem, tenant)
    seen = []
    counts = mem.export_tenant(tenant, io.BytesIO(), progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == counts.documents + counts.chunks


def test_export_of_another_tenant_shows_nothing_of_this_one(mem, tenant, other):
    _fill(mem, tenant)
    counts, data = _export(mem, other)
    assert counts == TransferCounts(0, 0, 0)
    assert b"Vacation" not in data
    r = mem.import_tenant(tenant, io.BytesIO(data))  # an empty stream changes nothing
    assert r.counts == TransferCounts(0, 0, 0)
    assert mem.get_statistics(tenant).document_count == 2


def test_erase_tenant_report(mem, tenant, other):
    _fill(mem, tenant)
    _fill(mem, other)
    mem.search(tenant, "vacation")
    r = mem.erase_tenant_report(tenant)
    assert r.documents == 2 and r.chunks >= 2 and r.history >= 1
    assert mem.get_statistics(tenant).document_count == 0
    assert mem.get_statistics(other).document_count == 2
    assert mem.erase_tenant_report(tenant).documents == 0
    assert mem.erase_tenant(other) == 2  # the old call keeps its int


def test_erase_tenant_start_is_invisible_at_once_then_cleaned(mem, tenant, other):
    _fill(mem, tenant)
    _fill(mem, other)
    r = mem.erase_tenant_start(tenant)
    assert r.documents == 2
    # Invisible at once (the cleanup may still be running).
    assert mem.get_statistics(tenant).document_count == 0
    assert mem.search(tenant, "vacation", search_type="text") == []
    mem.wait_erasures()
    assert mem.pending_erasures() == 0
    assert mem.run_erasures() == 0
    # The owner id is free again; the other tenant kept everything.
    mem.add_document(tenant, "new", "New", "text", "A fresh start.")
    assert mem.get_statistics(tenant).document_count == 1
    assert mem.get_statistics(other).document_count == 2
    assert [e.action for e in mem.get_audit_log(tenant)].count("tenant.erase") == 1


def test_usage_days_rates_and_alerts(mem, tenant, other):
    mem.add_document(tenant, "a", "A", "text", "first document")
    mem.search(tenant, "first", search_type="text")
    mem.search(tenant, "first", search_type="text")
    days = mem.get_usage_days(tenant, days=3)
    assert len(days) == 3 and days[0].day > days[1].day
    assert (days[0].searches, days[0].adds) == (2, 1)
    assert mem.get_usage_days(other)[0].searches == 0  # never another tenant's
    with pytest.raises(ValidationError):
        mem.get_usage_days(tenant, days=0)
    # Rates: one add in 100 s for this tenant only.
    mem.set_rates(tenant, adds=0.01)
    st = mem.get_rates(tenant)
    assert st.limit.adds == 0.01 and st.override.adds == 0.01 and st.override.searches == "default"
    assert st.limit.searches is None
    mem.add_document(tenant, "b", "B", "text", "second")  # the burst of one
    with pytest.raises(ValidationError) as e:
        mem.add_document(tenant, "c", "C", "text", "third")
    assert e.value.field == "rate_adds" and e.value.code == "limit_exceeded"
    for i in range(3):
        mem.add_document(other, f"x{i}", "X", "text", "not limited")
    mem.set_rates(tenant)
    mem.add_document(tenant, "c", "C", "text", "third")
    with pytest.raises(ValidationError):
        mem.set_rates(tenant, adds="fast")
    # Near-quota alerts and the operator's list.
    mem.set_quota(tenant, documents=3)
    a = mem.get_quota_alerts(max_age_s=0)
    assert a.at_100["documents"] >= 1 and a.tenants >= 2 and set(a.at_80) == {
        "documents", "chunks", "bytes", "vectors"}
    near = [r.owner_id for r in mem.list_usage(near_quota=80, limit=100000)]
    assert tenant in near and other not in near


def test_quota_exceeded_raises_and_writes_nothing(mem, tenant, other):
    mem.set_quota(tenant, documents=1)
    q = mem.get_quota(tenant)
    assert q.limit.documents == 1 and q.override.documents == 1
    assert q.override.chunks == "default" and q.limit.chunks is None
    mem.add_document(tenant, "a", "A", "text", "first document")
    with pytest.raises(QuotaExceededError) as e:
        mem.add_document(tenant, "b", "B", "text", "second document")
    assert isinstance(e.value, ValidationError) and e.value.field == "documents"
    assert e.value.code == "limit_exceeded"
    assert mem.get_statistics(tenant).document_count == 1
    assert mem.get_quota(tenant).usage.documents == 1
    # Another tenant is not limited, and does not see the override.
    mem.add_document(other, "a", "A", "text", "first")
    mem.add_document(other, "b", "B", "text", "second")
    assert mem.get_quota(other).override.documents == "default"
    # An import past the quota is refused whole.
    _, data = _export(mem, other)
    with pytest.raises(QuotaExceededError):
        mem.import_tenant(tenant, io.BytesIO(data))
    assert mem.get_statistics(tenant).document_count == 1
    mem.set_quota(tenant, documents=None)
    assert mem.get_quota(tenant).override.documents is None
    mem.add_document(tenant, "b", "B", "text", "second document")
    mem.set_quota(tenant)  # all back to the default
    assert mem.get_quota(tenant).override.documents == "default"
    with pytest.raises(ValidationError):
        mem.set_quota(tenant, documents="lots")
    with pytest.raises(ValidationError):
        mem.set_quota(tenant, chunks=-5)


def test_usage_lists_both_tenants(mem, tenant, other):
    _fill(mem, tenant)
    mem.add_document(other, "a", "A", "text", "short")
    rows = {r.owner_id: r for r in mem.list_usage(sort="documents", limit=100000)}
    assert rows[tenant].usage.documents == 2 and rows[other].usage.documents == 1
    assert rows[tenant].adds_today >= 2 and rows[tenant].usage.bytes > rows[other].usage.bytes
    by_owner = [r.owner_id for r in mem.list_usage(limit=100000)]
    assert by_owner == sorted(by_owner)
    with pytest.raises(ValidationError):
        mem.list_usage(sort="size")
    with pytest.raises(ValidationError):
        mem.list_usage(limit=0)


def test_audit_entries_are_readable_only_by_their_tenant(mem, tenant, other):
    set_audit_context("cli:tester", "127.0.0.1")
    try:
        mem.set_quota(tenant, documents=10)
        _export(mem, tenant)
    finally:
        set_audit_context(None)
    log = mem.get_audit_log(tenant)
    assert all(isinstance(e, AuditEntry) for e in log)
    actions = [e.action for e in log]
    assert "quota.set" in actions and "tenant.export" in actions
    assert actions.index("tenant.export") < actions.index("quota.set")  # newest first
    e = log[actions.index("quota.set")]
    assert e.actor == "cli:tester" and e.source == "127.0.0.1" and e.outcome == "success"
    assert isinstance(e.detail, dict) and e.at is not None
    assert mem.get_audit_log(other) == []
    assert len(mem.get_audit_log(tenant, limit=1)) == 1
    with pytest.raises(ValidationError):
        mem.get_audit_log(tenant, limit=0)


def test_async_lifecycle_calls(db_url, schema, tenant, other):
    async def run():
        m = LLMemory(db_url, schema=schema)
        try:
            await m.add_document(tenant, "a", "A", "text", "alpha beta gamma")
            buf = io.BytesIO()
            counts = await m.export_tenant(tenant, buf)
            r = await m.import_tenant(other, io.BytesIO(buf.getvalue()))
            assert r.counts == counts and r.documents_created == 1
            await m.set_quota(other, chunks=100)
            assert (await m.get_quota(other)).limit.chunks == 100
            assert {u.owner_id for u in await m.list_usage(limit=100000)} >= {tenant, other}
            assert [e.action for e in await m.get_audit_log(other)][:2] == [
                "quota.set", "tenant.import"]
            assert (await m.erase_tenant_report(other)).documents == 1
        finally:
            await m.close()

    asyncio.run(run())
