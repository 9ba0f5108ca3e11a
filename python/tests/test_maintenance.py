"""Embedding queue, background processing, optimize, readiness, pool usage, embedded database."""

import os
import subprocess
import time

import pytest

import llmemory
from llmemory import LLMemorySync


def test_queue_mode_and_process_pending(db_url, tenant):
    with LLMemorySync(db_url, schema="pytest_queue", embed_mode="queue") as m:
        r = m.add_document(tenant, "d", "d", "text", "queued words " * 50)
        assert r.embeddings_created == 0 and r.embeddings_queued == r.chunks_created
        assert m.get_embedding_queue_stats().pending >= r.chunks_created
        assert m.search(tenant, "queued", search_type="vector") == []
        n = m.process_pending_embeddings(batch_size=100, max_batches=10)
        assert n >= r.chunks_created
        assert m.get_embedding_queue_stats().pending == 0
        assert m.search(tenant, "queued", search_type="vector")
        run = m.run_embedding_queue()
        assert run.claimed == 0 and run.dead == 0


def test_generate_embeddings_false_queues_the_chunks(mem, tenant):
    r = mem.add_document(tenant, "d", "d", "text", "not embedded yet", generate_embeddings=False)
    assert r.embeddings_created == 0 and r.embeddings_queued == r.chunks_created
    assert mem.search(tenant, "embedded", search_type="vector") == []
    mem.process_pending_embeddings()
    assert mem.search(tenant, "embedded", search_type="vector")


def test_background_processing(db_url, tenant):
    with LLMemorySync(db_url, schema="pytest_queue", embed_mode="queue") as m:
        m.add_document(tenant, "bg", "bg", "text", "background worker words")
        m.start_background_processing(interval_seconds=0.2, batch_size=10)
        deadline = time.time() + 20
        while time.time() < deadline and m.get_embedding_queue_stats().pending:
            time.sleep(0.1)
        m.stop_background_processing()
        assert m.get_embedding_queue_stats().pending == 0
        assert m.search(tenant, "background", search_type="vector")


def test_optimize_ready_pool_usage(mem, tenant):
    mem.add_document(tenant, "d", "d", "text", "optimize me")
    before = mem.search(tenant, "optimize", search_type="text")
    rep = mem.optimize()
    assert rep.postings_pages_after > 0 and rep.elapsed_ms > 0
    assert mem.search(tenant, "optimize", search_type="text")[0].score == before[0].score
    assert mem.ready() is True
    u = mem.pool_usage()
    assert u.size == 8 and 1 <= u.open <= 8 and u.in_use == 0


def test_bm25_options(db_url, schema, tenant):
    texts = ["cat " * 3 + "dog", "cat dog " + "filler " * 40]
    scores = {}
    for k1, b in [(1.2, 0.75), (1.2, 0.0)]:
        with LLMemorySync(db_url, schema=schema, bm25_k1=k1, bm25_b=b) as m:
            for i, t in enumerate(texts):
                m.add_document(tenant, f"d{i}", "n", "text", t)
            scores[b] = [r.score for r in m.search(tenant, "dog", search_type="text")]
    assert scores[0.75] != scores[0.0]
    with LLMemorySync(db_url, schema=schema, no_bm25_extension=True) as m:
        sql = [r.score for r in m.search(tenant, "dog", search_type="text")]
    with LLMemorySync(db_url, schema=schema) as m:
        ext = [r.score for r in m.search(tenant, "dog", search_type="text")]
    assert sql == pytest.approx(ext)
    with pytest.raises(llmemory.ConfigurationError):
        LLMemorySync(db_url, schema=schema, bm25_k1=-5).initialize()


def test_log_callback(db_url, schema):
    got = []
    with LLMemorySync(db_url, schema=schema, log=lambda lvl, msg: got.append((lvl, msg)),
                      log_level="debug") as m:
        m.list_documents("x")
    assert all(isinstance(l, str) and isinstance(s, str) for l, s in got)


def test_embedded_database(monkeypatch):
    """LLMemory() with no URL starts (and then reuses) a private PostgreSQL in its home."""
    import tempfile

    top = tempfile.mkdtemp(prefix="llmemory-py-")
    os.chmod(top, 0o755)  # as root the server runs as "postgres", which must reach the home
    home = os.path.join(top, "home")
    for var in ("LLMEMORY_DATABASE_URL", "DATABASE_URL", "LLMEMORY_SCHEMA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LLMEMORY_HOME", home)
    assert llmemory.embedded_status().initialized is False
    try:
        import asyncio

        async def run():
            async with llmemory.LLMemory() as m:
                await m.add_document("t", "o", "n", "text", "hello embedded world")
                res = await m.search("t", "embedded")
                assert res[0].content == "hello embedded world"

        asyncio.run(run())
        info = llmemory.embedded_status(home)
        assert info.initialized and info.running and info.pid > 0 and info.conninfo
        with LLMemorySync() as m:  # reuses the running server and its data
            assert m.list_documents("t").total == 1
    finally:
        llmemory.embedded_stop(home)
    assert llmemory.embedded_status(home).running is False
    subprocess.run(["rm", "-rf", top], check=False)
