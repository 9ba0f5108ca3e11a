"""Tenant deletion (GDPR): the seed's page-and-delete loop, and erase_tenant, which removes
documents, chunks, statistics and search history in one transaction."""

import asyncio
import os

from llmemory import LLMemory


async def delete_tenant_data(memory: LLMemory, tenant_id: str) -> dict:
    deleted_total = 0
    while True:
        result = await memory.list_documents(owner_id=tenant_id, limit=100, offset=0)
        if not result.documents:
            break
        doc_ids = [str(doc.document_id) for doc in result.documents]
        delete_result = await memory.delete_documents(owner_id=tenant_id, document_ids=doc_ids)
        deleted_total += delete_result.deleted_count
    return {"tenant_id": tenant_id, "documents_deleted": deleted_total}


async def main() -> None:
    async with LLMemory(os.environ.get("LLMEMORY_DATABASE_URL"),
                        schema=os.environ.get("LLMEMORY_SCHEMA")) as memory:
        for t in ("tenant-to-delete", "tenant-to-erase", "tenant-kept"):
            for i in range(150):
                await memory.add_document(t, f"d{i}", "n", "text", f"personal data {i}")
        await memory.search("tenant-to-erase", "personal")
        result = await delete_tenant_data(memory, "tenant-to-delete")
        print(f"Deleted {result['documents_deleted']} documents")
        erased = await memory.erase_tenant("tenant-to-erase")
        print(f"Erased {erased} documents and the search history")
        kept = (await memory.get_statistics("tenant-kept")).document_count
        print(f"tenant-kept still has {kept} documents")
        assert (result["documents_deleted"], erased, kept) == (150, 150, 150)
        assert await memory.get_search_history("tenant-to-erase") == []
        await memory.erase_tenant("tenant-kept")


if __name__ == "__main__":
    asyncio.run(main())
