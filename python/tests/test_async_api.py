"""Every method of the async LLMemory once, and its synchronous facade."""

import asyncio

import pytest

from embed_server import EmbedServer
from llmemory import (
    DocumentNotFoundError,
    Embedder,
    LLMemory,
    LLMemoryError,
    LLMemorySync,
    OwnerStatistics,
    SearchResultWithDocuments,
)


def test_every_async_method(db_url, schema, tenant):
    async def run():
        m = LLMemory(db_url, schema=schema)
        assert (await m.list_documents(tenant)).total == 0  # lazy initialize
        await m.initialize()  # idempotent
        assert m.schema == schema and m.embedder is None and m.sync.schema == schema
        r = await m.add_document(tenant, "a", "A", "markdown", "# Title\n\nalpha beta gamma",
                                 metadata={"k": 1})
        did = r.document.document_id
        assert (await m.get_document(tenant, did)).document.document_name == "A"
        assert len(await m.get_document_chunks(tenant, did)) == await m.get_chunk_count(tenant,
                                                                                        did)
        assert (await m.search(tenant, "alpha"))[0].document_id == did
        sw = await m.search_with_documents(tenant, "alpha")
        assert isinstance(sw, SearchResultWithDocuments) and sw.results[0].document_name == "A"
        assert (await m.get_search_history(tenant))[0].query_text == "alpha"
        assert isinstance(await m.get_statistics(tenant, include_breakdown=True),
                          OwnerStatistics)
        assert await m.process_pending_embeddings() == 0
        assert (await m.run_embedding_queue()).claimed == 0
        assert (await m.get_embedding_queue_stats()).dead == 0
        await m.start_background_processing(interval_seconds=0.1)
        await m.stop_background_processing()
        k = await m.create_api_key(tenant, scope="admin")
        assert (await m.verify_api_key(k.key)).owner_id == tenant
        assert [x.key_id for x in await m.list_api_keys(tenant)] == [k.key_id]
        await m.revoke_api_key(k.key_id, owner_id=tenant)
        assert await m.ready()
        assert (await m.pool_usage()).size == 4
        assert (await m.optimize()).elapsed_ms >= 0
        m.sync.add_document(tenant, "b", "B", "text", "from the sync facade")
        assert (await m.delete_documents(tenant, metadata_filter={"k": 1})).deleted_count == 1
        with pytest.raises(DocumentNotFoundError):
            await m.delete_document(tenant, did)
        assert await m.erase_tenant(tenant) == 1
        await m.close()
        await m.close()  # idempotent
        with pytest.raises(LLMemoryError):
            await m.search(tenant, "alpha")
        with pytest.raises(LLMemoryError):
            await m.initialize()

    asyncio.run(run())


def test_openai_api_key_embeds_with_openai_at_openai_base_url(db_url, tenant, monkeypatch):
    srv = EmbedServer(dim=1536).start()
    monkeypatch.setenv("OPENAI_BASE_URL", srv.url)
    try:
        with LLMemorySync(db_url, schema="pytest_openai", openai_api_key="sk-test") as m:
            assert m.embedder.provider_id == "http:text-embedding-3-small"
            r = m.add_document(tenant, "d", "d", "text", "seals sleep on ice floes")
            assert r.embeddings_created == r.chunks_created and srv.texts >= r.chunks_created
            assert m.search(tenant, "seal ice", search_type="vector")
            m.erase_tenant(tenant)
        e = Embedder.openai("sk-test")
        assert len(e.embed(["x"])[0]) == 1536
    finally:
        srv.stop()
