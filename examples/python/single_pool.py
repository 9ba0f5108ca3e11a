"""Pattern 1: one LLMemory (one connection pool) serves every tenant; each request names its
tenant, and every query is filtered by it inside PostgreSQL.

    LLMEMORY_DATABASE_URL=postgresql://localhost/app python single_pool.py
(without a URL the embedded database is used)."""

import asyncio
import os

from llmemory import DocumentType, LLMemory

memory = LLMemory(os.environ.get("LLMEMORY_DATABASE_URL"),
                  schema=os.environ.get("LLMEMORY_SCHEMA"))


async def handle_search_request(tenant_id: str, query: str):
    return await memory.search(owner_id=tenant_id, query_text=query)


async def main() -> None:
    await memory.initialize()
    try:
        await memory.add_document(owner_id="workspace-1", id_at_origin="user-123",
                                  document_name="Q4 Report.pdf", document_type=DocumentType.PDF,
                                  content="Quarterly revenue rose 12% on strong subscriptions.")
        await memory.add_document(owner_id="workspace-2", id_at_origin="user-9",
                                  document_name="Notes", document_type=DocumentType.TEXT,
                                  content="Team offsite planning and lunch options.")
        r1, r2 = await asyncio.gather(handle_search_request("workspace-1", "quarterly revenue"),
                                      handle_search_request("workspace-2", "quarterly revenue"))
        print(f"workspace-1 results: {len(r1)} ({r1[0].content[:40]!r})")
        print(f"workspace-2 results: {len(r2)}")
        assert r1 and all(r.document_id not in {x.document_id for x in r1} for r in r2)
        for t in ("workspace-1", "workspace-2"):
            await memory.erase_tenant(t)
    finally:
        await memory.close()


if __name__ == "__main__":
    asyncio.run(main())
