"""LLMemory: the async API of the Python original, running on libllmemory.

Each method runs the matching LLMemorySync method in this memory's thread pool. ctypes releases
the GIL for the whole C call, so the event loop (a FastAPI server, say) keeps serving other
requests while a large add_document or a search runs.
"""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional, TypeVar

from .exceptions import LLMemoryError
from .sync import LLMemorySync

T = TypeVar("T")


def _wrap(name: str) -> Callable[..., Any]:
    target = getattr(LLMemorySync, name)

    @functools.wraps(target)
    async def method(self: "LLMemory", *args: Any, **kwargs: Any) -> Any:
        return await self._run(getattr(self._sync, name), *args, **kwargs)

    return method


class LLMemory:
    """A multi-tenant document memory (async). Takes the same arguments as LLMemorySync.

    Usage::

        async with LLMemory(connection_string=url) as memory:
            await memory.add_document(owner_id="workspace-1", id_at_origin="doc-1",
                                      document_name="Q4 Report", document_type="report",
                                      content=text)
            results = await memory.search(owner_id="workspace-1", query_text="revenue")

    Threads: the calls of all coroutines share one pool of ``pool_size`` threads (at least 4)
    over the C memory's pool of connections, which is safe for concurrent use.
    """

    def __init__(self, connection_string: Optional[str] = None,
                 openai_api_key: Optional[str] = None, config: Any = None,
                 db_manager: Any = None, **options: Any) -> None:
        self._sync = LLMemorySync(connection_string, openai_api_key, config, db_manager,
                                  **options)
        workers = max(4, int(options.get("pool_size") or 4))
        self._executor = ThreadPoolExecutor(max_workers=workers,
                                            thread_name_prefix="llmemory")
        self._init_lock: Optional[asyncio.Lock] = None
        self._initialized = False
        self._closed = False

    @property
    def sync(self) -> LLMemorySync:
        """The synchronous facade over the same memory (same connections)."""
        return self._sync

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self._closed:
            raise LLMemoryError("memory is closed")
        if not self._initialized:
            await self.initialize()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def initialize(self) -> None:
        """Open the memory (idempotent; every method calls it lazily)."""
        if self._closed:
            raise LLMemoryError("memory is closed")
        if self._initialized:
            return
        if self._init_lock is None:
            self._init_lock = asyncio.Lock()
        async with self._init_lock:
            if not self._initialized:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(self._executor, self._sync.initialize)
                self._initialized = True

    async def close(self) -> None:
        """Close after the calls in flight; later calls raise LLMemoryError. Idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._sync.close)
        self._executor.shutdown(wait=False)

    async def __aenter__(self) -> "LLMemory":
        await self.initialize()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    @property
    def schema(self) -> str:
        return self._sync.schema

    @property
    def embedder(self) -> Any:
        return self._sync.embedder

    # The data calls: same signatures and documentation as LLMemorySync's.
    add_document = _wrap("add_document")
    get_document = _wrap("get_document")
    get_document_chunks = _wrap("get_document_chunks")
    get_chunk_count = _wrap("get_chunk_count")
    list_documents = _wrap("list_documents")
    delete_document = _wrap("delete_document")
    delete_documents = _wrap("delete_documents")
    get_statistics = _wrap("get_statistics")
    erase_tenant = _wrap("erase_tenant")
    erase_tenant_report = _wrap("erase_tenant_report")
    erase_tenant_start = _wrap("erase_tenant_start")
    pending_erasures = _wrap("pending_erasures")
    resume_erasures = _wrap("resume_erasures")
    run_erasures = _wrap("run_erasures")
    wait_erasures = _wrap("wait_erasures")
    export_tenant = _wrap("export_tenant")
    import_tenant = _wrap("import_tenant")
    set_quota = _wrap("set_quota")
    get_quota = _wrap("get_quota")
    list_usage = _wrap("list_usage")
    set_rates = _wrap("set_rates")
    get_rates = _wrap("get_rates")
    get_usage_days = _wrap("get_usage_days")
    get_quota_alerts = _wrap("get_quota_alerts")
    get_server_audit_log = _wrap("get_server_audit_log")
    get_audit_log = _wrap("get_audit_log")
    search = _wrap("search")
    search_with_documents = _wrap("search_with_documents")
    get_search_history = _wrap("get_search_history")
    process_pending_embeddings = _wrap("process_pending_embeddings")
    run_embedding_queue = _wrap("run_embedding_queue")
    get_embedding_queue_stats = _wrap("get_embedding_queue_stats")
    create_api_key = _wrap("create_api_key")
    verify_api_key = _wrap("verify_api_key")
    list_api_keys = _wrap("list_api_keys")
    revoke_api_key = _wrap("revoke_api_key")
    ready = _wrap("ready")
    optimize = _wrap("optimize")
    pool_usage = _wrap("pool_usage")

    async def start_background_processing(self, interval_seconds: float = 60,
                                          batch_size: int = 100) -> None:
        """Embed queued chunks in a background thread (see LLMemorySync)."""
        await self.initialize()
        self._sync.start_background_processing(interval_seconds, batch_size)

    async def stop_background_processing(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._sync.stop_background_processing)

