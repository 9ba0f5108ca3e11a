"""Pattern 2: schema isolation. Each tenant gets its own PostgreSQL schema (its own tables,
statistics and indexes); one LLMemory per tenant. The original built this on a pgdbm shared pool;
here the `schema` option of the memory does it (each memory has its own small pool)."""

import asyncio
import os

from llmemory import LLMemory

URL = os.environ.get("LLMEMORY_DATABASE_URL")
_memories: dict[str, LLMemory] = {}


async def get_memory_for_tenant(tenant_id: str) -> LLMemory:
    if tenant_id not in _memories:
        memory = LLMemory(URL, schema=f"tenant_{tenant_id}", pool_size=2)
        await memory.initialize()  # creates the tables in the tenant's schema
        _memories[tenant_id] = memory
    return _memories[tenant_id]


async def main() -> None:
    try:
        m1 = await get_memory_for_tenant("workspace1")
        m2 = await get_memory_for_tenant("workspace2")
        await m1.add_document("workspace1", "doc-1", "Plan", "text", "Launch plan for the robot")
        await m2.add_document("workspace2", "doc-1", "Plan", "text", "Garden plan for spring")
        print("schemas:", m1.schema, m2.schema)
        # Even with the same owner_id, a tenant's memory cannot see the other schema's rows.
        hits = await m2.search("workspace1", "robot launch")
        print("workspace2 memory sees workspace1 data:", bool(hits))
        assert not hits
        assert (await m1.search("workspace1", "robot launch"))
        for t, m in _memories.items():
            await m.erase_tenant(t)
    finally:
        for m in _memories.values():
            await m.close()


if __name__ == "__main__":
    asyncio.run(main())
