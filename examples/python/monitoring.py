"""Monitoring per tenant: statistics with the per-type breakdown, and an alert on usage."""

import asyncio
import os

from llmemory import LLMemory

LIMIT_MB = float(os.environ.get("TENANT_LIMIT_MB", "1000"))


async def get_tenant_metrics(memory: LLMemory, tenant_id: str) -> dict:
    stats = await memory.get_statistics(owner_id=tenant_id, include_breakdown=True)
    return {
        "tenant_id": tenant_id,
        "documents": stats.document_count,
        "chunks": stats.chunk_count,
        "size_mb": stats.total_size_bytes / 1024 / 1024,
        "document_types": {str(k): v for k, v in (stats.document_type_breakdown or {}).items()},
    }


def send_alert(message: str) -> None:
    print("ALERT:", message)


async def main() -> None:
    tenants = ["tenant-1", "tenant-2", "tenant-3"]
    async with LLMemory(os.environ.get("LLMEMORY_DATABASE_URL"),
                        schema=os.environ.get("LLMEMORY_SCHEMA")) as memory:
        for i, t in enumerate(tenants):
            for j in range(i + 1):
                await memory.add_document(t, f"doc-{j}", f"Doc {j}", ["text", "report"][j % 2],
                                          "usage data " * (2000 * (i + 1)))
        metrics = await asyncio.gather(*(get_tenant_metrics(memory, t) for t in tenants))
        for metric in metrics:
            print(metric)
            if metric["size_mb"] > LIMIT_MB:
                send_alert(f"Tenant {metric['tenant_id']} exceeds storage limit")
        assert [m["documents"] for m in metrics] == [1, 2, 3]
        for t in tenants:
            await memory.erase_tenant(t)


if __name__ == "__main__":
    asyncio.run(main())
