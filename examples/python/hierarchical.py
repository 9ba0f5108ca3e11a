"""Hierarchical multi-tenancy: org -> workspace -> user. Owner ids may have '/'-separated
segments ("org-123/workspace-456"; the original rejected them although its guide used them), and
id_at_origin narrows within a workspace. Organisation-wide search aggregates per workspace."""

import asyncio
import os

from llmemory import DocumentType, LLMemory, owner_covers

WORKSPACES = ["org-123/workspace-456", "org-123/workspace-789"]


async def main() -> None:
    async with LLMemory(os.environ.get("LLMEMORY_DATABASE_URL"),
                        schema=os.environ.get("LLMEMORY_SCHEMA")) as memory:
        for ws, user, text in [(WORKSPACES[0], "user-789", "Design review of the billing page"),
                               (WORKSPACES[0], "user-123", "Billing migration checklist"),
                               (WORKSPACES[1], "user-555", "Billing support playbook")]:
            await memory.add_document(owner_id=ws, id_at_origin=user, document_name=f"{user}.md",
                                      document_type=DocumentType.MARKDOWN, content=text)
        mine = await memory.search(owner_id=WORKSPACES[0], query_text="billing",
                                   id_at_origin="user-789")
        both = await memory.search(owner_id=WORKSPACES[0], query_text="billing",
                                   id_at_origins=["user-789", "user-123"])
        all_results = []
        for ws in WORKSPACES:  # organisation-wide: one search per workspace
            if owner_covers("org-123", ws):
                all_results.extend(await memory.search(owner_id=ws, query_text="billing",
                                                       limit=10))
        all_results.sort(key=lambda r: r.score, reverse=True)
        print(f"user-789: {len(mine)}, two users: {len(both)}, organisation: {len(all_results)}")
        assert (len(mine), len(both), len(all_results)) == (1, 2, 3)
        for ws in WORKSPACES:
            await memory.erase_tenant(ws)


if __name__ == "__main__":
    asyncio.run(main())
