"""Data export per tenant: every document with its chunks, one JSON line per document."""

import asyncio
import json
import os
import sys

from llmemory import LLMemory


async def export_tenant_data(memory: LLMemory, tenant_id: str, output_path: str) -> int:
    offset, limit, written = 0, 100, 0
    with open(output_path, "w") as f:
        while True:
            result = await memory.list_documents(owner_id=tenant_id, limit=limit, offset=offset)
            if not result.documents:
                break
            for doc in result.documents:
                doc_data = await memory.get_document(owner_id=tenant_id,
                                                     document_id=doc.document_id,
                                                     include_chunks=True)
                f.write(json.dumps({
                    "document_id": str(doc_data.document.document_id),
                    "document_name": doc_data.document.document_name,
                    "metadata": doc_data.document.metadata,
                    "chunks": [chunk.content for chunk in (doc_data.chunks or [])],
                }) + "\n")
                written += 1
            offset += limit
            if offset >= result.total:
                break
    return written


async def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "tenant-123-export.jsonl"
    async with LLMemory(os.environ.get("LLMEMORY_DATABASE_URL"),
                        schema=os.environ.get("LLMEMORY_SCHEMA")) as memory:
        for i in range(250):
            await memory.add_document("tenant-123", f"note-{i}", f"Note {i}", "text",
                                      f"note number {i}", metadata={"i": i})
        await memory.add_document("tenant-999", "other", "Other", "text", "not exported")
        n = await export_tenant_data(memory, "tenant-123", out)
        print(f"exported {n} documents to {out}")
        assert n == 250
        for t in ("tenant-123", "tenant-999"):
            await memory.erase_tenant(t)


if __name__ == "__main__":
    asyncio.run(main())
