"""LLMemorySync: the synchronous binding. LLMemory (the async API) runs these same methods in a
thread pool. Every method is one C call (or a few) plus conversion; the rules live in C.

Threads: one LLMemorySync may be used by many threads at once. The C memory holds a pool of
PostgreSQL connections and is thread-safe (docs/threading.md); each call takes a connection for
its duration and waits when all are busy. Only opening and closing must not race with calls:
close() waits for the calls in flight and refuses new ones.
"""

from __future__ import annotations

import ctypes
import json
import os
import threading
from datetime import date, datetime
from typing import Any, Callable, Iterable, Literal, Optional, Sequence, Union
from uuid import UUID

from . import _native as N
from ._util import b, check, cstr_array, iso_arg, opt_s, s, ts, uuid, uuid_or_none
from .embedders import Embedder
from .exceptions import (
    ConfigurationError,
    DocumentNotFoundError,
    LLMemoryError,
    ValidationError,
)
from .models import (
    ApiKey,
    ApiKeyInfo,
    ChunkingConfig,
    ChunkingStrategy,
    DeleteResult,
    Document,
    DocumentAddResult,
    DocumentChunk,
    DocumentListResult,
    DocumentType,
    DocumentWithChunks,
    EmbeddedDatabaseInfo,
    EmbeddingQueueStats,
    EmbeddingRunResult,
    EnrichedSearchResult,
    EraseReport,
    ImportResult,
    KeyScope,
    AuditEntry,
    QuotaLimits,
    QuotaAlerts,
    QuotaStatus,
    RateLimits,
    RateStatus,
    TenantUsage,
    UsageDay,
    TransferCounts,
    OptimizeReport,
    OwnerStatistics,
    PoolUsage,
    Principal,
    SearchHistoryEntry,
    SearchResult,
    SearchResultWithDocuments,
    SearchType,
    _json,
)

_DOC_TYPES = list(DocumentType)  # index == lm_doc_type value (checked by the tests)
_SEARCH_TYPES = {SearchType.TEXT: 0, SearchType.VECTOR: 1, SearchType.HYBRID: 2}
_SEARCH_TYPE_OF = {v: k for k, v in _SEARCH_TYPES.items()}
_ORDER = {"created_at": 0, "updated_at": 1, "document_name": 2}
_SCOPES = {KeyScope.READ: 1, KeyScope.WRITE: 2, KeyScope.ADMIN: 3}
_SCOPE_OF = {v: k for k, v in _SCOPES.items()}
_LOG_LEVELS = {"error": 0, "warn": 1, "warning": 1, "info": 2, "debug": 3}

_SEARCH_DEFAULTS = N.SearchOpts()
N.lib.lm_search_opts_init(ctypes.byref(_SEARCH_DEFAULTS), N.SEARCH_OPTS_VERSION)

MetadataFilter = Optional[dict[str, Any]]
DateArg = Union[datetime, date, str, None]


def _doc_type(value: Union[DocumentType, str]) -> int:
    if isinstance(value, DocumentType):
        return _DOC_TYPES.index(value)
    out = ctypes.c_int()
    check(N.lib.lm_doc_type_parse(ctypes.byref(out), b(value, "document_type")))
    return out.value


def _search_type(value: Union[SearchType, str]) -> int:
    if isinstance(value, SearchType):
        return _SEARCH_TYPES[value]
    out = ctypes.c_int()
    check(N.lib.lm_search_type_parse(ctypes.byref(out), b(value, "search_type")))
    return out.value


def _query_syntax(value: str) -> int:
    out = ctypes.c_int()
    check(N.lib.lm_query_syntax_parse(ctypes.byref(out), b(value, "query_syntax")))
    return out.value


def _scope(value: Union[KeyScope, str]) -> int:
    if isinstance(value, KeyScope):
        return _SCOPES[value]
    out = ctypes.c_int()
    check(N.lib.lm_key_scope_parse(ctypes.byref(out), b(value, "scope")))
    return out.value


def _json_arg(value: Any, field: str) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, str):  # already JSON text; the library validates it
        return value.encode("utf-8")
    if not isinstance(value, dict):
        raise ValidationError(field, f"{field} must be a JSON object", value)
    try:
        return json.dumps(value, separators=(",", ":"), default=_json_default).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise ValidationError(field, f"{field} cannot be encoded as JSON: {e}", value) from None


def _json_default(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, UUID):
        return str(v)
    raise TypeError(f"{type(v).__name__} is not JSON serializable")


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"{field} must be an integer", value)
    return value


_LM_EIO = -15
_EXPORT_DEFAULTS = N.ExportOpts()
_IMPORT_DEFAULTS = N.ImportOpts()
if N.has("lm_tenant_export"):
    N.lib.lm_export_opts_init(ctypes.byref(_EXPORT_DEFAULTS), N.EXPORT_OPTS_VERSION)
    N.lib.lm_import_opts_init(ctypes.byref(_IMPORT_DEFAULTS), N.IMPORT_OPTS_VERSION)


def _need(symbol: str) -> None:
    if not N.has(symbol):
        raise ConfigurationError(f"the loaded libllmemory has no {symbol} (a newer one is needed)")


def _quota_in(v: Any, field: str) -> int:
    if v is None:
        return N.QUOTA_NONE
    if v == "default":
        return N.QUOTA_DEFAULT
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValidationError(field, f'{field} must be an integer, None or "default"', v)
    return v  # negative values: the library rejects them


def _quota_out(q: "N.Quota") -> QuotaLimits:
    def one(v: int) -> Any:
        return None if v == N.QUOTA_NONE else "default" if v == N.QUOTA_DEFAULT else int(v)
    return QuotaLimits(one(q.documents), one(q.chunks), one(q.bytes), one(q.vectors))


def _rate_in(v: Any, field: str) -> float:
    if v is None:
        return float(N.QUOTA_NONE)
    if v == "default":
        return float(N.QUOTA_DEFAULT)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValidationError(field, f'{field} must be a number, None or "default"', v)
    return float(v)  # negative values: the library rejects them


def _rates_out(r: "N.Rates") -> RateLimits:
    def one(v: float) -> Any:
        return None if v == N.QUOTA_NONE else "default" if v == N.QUOTA_DEFAULT else float(v)
    return RateLimits(one(r.adds), one(r.searches))


def _counts(c: "N.TransferCounts") -> TransferCounts:
    return TransferCounts(int(c.documents), int(c.chunks), int(c.vectors))


class _Stream:
    """A ctypes callback over a binary file object. An exception raised by the file (or by the
    progress function) stops the C call with LM_EIO and is re-raised once the call returned."""

    def __init__(self, f: Any, progress: Optional[Callable[[int, int], None]]) -> None:
        self.f = f
        self.error: Optional[BaseException] = None
        self.user_progress = progress
        # Kept on self: the C library calls them until the call returns.
        self.write_cb = N.WRITE_CB(self._write)
        self.read_cb = N.READ_CB(self._read)
        self.progress_cb = N.PROGRESS_CB(self._progress)

    def _write(self, data: int, n: int, _payload: Any) -> int:
        if self.error is not None:
            return _LM_EIO
        try:
            self.f.write(ctypes.string_at(data, n))
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised by finish()
            self.error = e
            return _LM_EIO

    def _read(self, buf: int, cap: int, _payload: Any) -> int:
        if self.error is not None:
            return _LM_EIO
        try:
            data = self.f.read(cap)
            if isinstance(data, str):
                raise TypeError("the import source must be opened in binary mode")
            n = len(data)
            if n > cap:
                raise ValueError("read() returned more bytes than asked for")
            ctypes.memmove(buf, data, n)
            return n
        except BaseException as e:  # noqa: BLE001 - re-raised by finish()
            self.error = e
            return _LM_EIO

    def _progress(self, done: int, total: int, _payload: Any) -> None:
        if self.user_progress is None or self.error is not None:
            return
        try:
            self.user_progress(int(done), int(total))
        except BaseException as e:  # noqa: BLE001 - stops at the next read or write
            self.error = e

    def finish(self, rc: int) -> None:
        if self.error is not None:
            raise self.error
        check(rc)


def _document(d: "N.Document") -> Document:
    return Document(
        document_id=uuid(d.document_id),
        owner_id=s(d.owner_id),
        id_at_origin=s(d.id_at_origin),
        document_type=_DOC_TYPES[d.type] if 0 <= d.type < len(_DOC_TYPES) else DocumentType.UNKNOWN,
        document_name=s(d.name),
        document_date=ts(d.document_date),
        metadata=_json(d.metadata),
        created_at=ts(d.created_at),
        updated_at=ts(d.updated_at),
        chunk_count=int(d.chunk_count),
        content_bytes=int(d.content_bytes),
        text_config=opt_s(d.text_config),
    )


def _chunk(c: "N.Chunk", document_id: UUID, created_at: Optional[datetime]) -> DocumentChunk:
    return DocumentChunk(
        chunk_id=uuid(c.chunk_id),
        document_id=document_id,
        parent_chunk_id=uuid_or_none(c.parent_chunk_id),
        chunk_index=c.chunk_index,
        chunk_level=c.chunk_level,
        content=s(c.content),
        content_hash=s(c.content_hash),
        token_count=c.token_count,
        metadata=_json(c.metadata),
        created_at=created_at,
        searchable=bool(c.searchable),
    )


class _Calls:
    """Counts calls in flight so that close() never races with them."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._n = 0
        self.closed = False

    def enter(self) -> None:
        with self._cv:
            if self.closed:
                raise LLMemoryError("memory is closed")
            self._n += 1

    def leave(self) -> None:
        with self._cv:
            self._n -= 1
            if self._n == 0:
                self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self.closed = True
            while self._n:
                self._cv.wait()


class LLMemorySync:
    """A multi-tenant document memory (synchronous API; see LLMemory for the async one).

    Args:
        connection_string: PostgreSQL URL or conninfo. None: $LLMEMORY_DATABASE_URL, then
            $DATABASE_URL, else the embedded database in ``home`` (started when needed).
        openai_api_key: when given (and no ``embedder``), chunks are embedded with OpenAI's
            text-embedding-3-small (1536 dimensions), as in the original.
        config: not supported (the original's LLMemoryConfig); pass keyword options instead.
        db_manager: not supported (pgdbm); use ``connection_string`` and ``schema``.
        schema: schema holding every object (default "llmemory", or $LLMEMORY_SCHEMA).
        home: directory of the embedded database.
        pool_size: connections kept (default 4); also the async API's thread count.
        embedder: an Embedder; None: the one LLMEMORY_EMBEDDER describes (built-in by default).
        no_embedder: True: no embeddings and no vector search.
        embed_mode: "sync" (embed during add_document) or "queue" (process_pending_embeddings).
        text_config: default text search configuration ("english").
        bm25_k1, bm25_b: BM25 parameters (None: the library's defaults).
        no_bm25_extension: True: always the pure-SQL keyword path.
        disable_history: True: searches are not recorded.
        max_content_bytes, max_limit, connect_timeout_s, vector_index_threshold, hnsw_m,
        hnsw_ef_construction, hnsw_ef_search, no_prepared_statements: see lm_memory_opts.
        reranker: ``fn(query, texts) -> scores`` used when a search asks for rerank (default:
            the library's lexical reranker).
        log: ``fn(level, message)`` receiving the library's log messages; log_level "error",
            "warn" (default), "info" or "debug".
    """

    def __init__(
        self,
        connection_string: Optional[str] = None,
        openai_api_key: Optional[str] = None,
        config: Any = None,
        db_manager: Any = None,
        *,
        schema: Optional[str] = None,
        home: Optional[str] = None,
        pool_size: int = 0,
        embedder: Optional[Embedder] = None,
        no_embedder: bool = False,
        embed_mode: Literal["sync", "queue"] = "sync",
        text_config: Optional[str] = None,
        bm25_k1: Optional[float] = None,
        bm25_b: Optional[float] = None,
        no_bm25_extension: bool = False,
        disable_history: bool = False,
        max_content_bytes: int = 0,
        max_limit: int = 0,
        connect_timeout_s: int = 0,
        vector_index_threshold: int = 0,
        hnsw_m: int = 0,
        hnsw_ef_construction: int = 0,
        hnsw_ef_search: int = 0,
        no_prepared_statements: bool = False,
        reranker: Optional[Callable[[str, list[str]], Sequence[float]]] = None,
        log: Optional[Callable[[str, str], None]] = None,
        log_level: str = "warn",
    ) -> None:
        if db_manager is not None:
            raise ConfigurationError(
                "db_manager is not supported: pass connection_string (and schema) instead")
        if config is not None:
            raise ConfigurationError(
                "config (LLMemoryConfig) is not supported: pass keyword options instead")
        if embed_mode not in ("sync", "queue"):
            raise ValidationError("embed_mode", 'embed_mode must be "sync" or "queue"', embed_mode)
        if log_level not in _LOG_LEVELS:
            raise ValidationError("log_level", "log_level must be error, warn, info or debug",
                                  log_level)
        self.connection_string = connection_string
        self.openai_api_key = openai_api_key
        self._kw = dict(
            schema=schema, home=home, pool_size=pool_size, no_embedder=no_embedder,
            embed_mode=embed_mode, text_config=text_config, bm25_k1=bm25_k1, bm25_b=bm25_b,
            no_bm25_extension=no_bm25_extension, disable_history=disable_history,
            max_content_bytes=max_content_bytes, max_limit=max_limit,
            connect_timeout_s=connect_timeout_s, vector_index_threshold=vector_index_threshold,
            hnsw_m=hnsw_m, hnsw_ef_construction=hnsw_ef_construction,
            hnsw_ef_search=hnsw_ef_search, no_prepared_statements=no_prepared_statements,
            log_level=log_level)
        self._embedder = embedder
        self._own_embedder = False
        self._reranker = reranker
        self._log = log
        self._mem: Optional[int] = None
        self._queue_mem: Optional[int] = None  # lazily opened for generate_embeddings=False
        self._opts_keep: list[Any] = []
        self._calls = _Calls()
        self._open_lock = threading.Lock()
        self._bg: Optional[threading.Thread] = None
        self._bg_stop = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------------
    def _make_opts(self, embed_mode: int) -> "N.MemoryOpts":
        k = self._kw
        o = N.MemoryOpts()
        check(N.lib.lm_memory_opts_init(ctypes.byref(o), N.MEMORY_OPTS_VERSION))
        o.database_url = b(self.connection_string, "connection_string")
        o.home = b(k["home"], "home")
        o.schema = b(k["schema"], "schema")
        o.pool_size = _int(k["pool_size"], "pool_size")
        o.disable_history = int(bool(k["disable_history"]))
        o.max_content_bytes = _int(k["max_content_bytes"], "max_content_bytes")
        o.max_limit = _int(k["max_limit"], "max_limit")
        o.text_config = b(k["text_config"], "text_config")
        if k["bm25_k1"] is not None:
            o.bm25_k1 = float(k["bm25_k1"])
        if k["bm25_b"] is not None:
            o.bm25_b = float(k["bm25_b"])
        o.connect_timeout_s = _int(k["connect_timeout_s"], "connect_timeout_s")
        o.log_level = _LOG_LEVELS[k["log_level"]]
        if self._log is not None:
            sink = self._log
            names = {0: "error", 1: "warn", 2: "info", 3: "debug"}

            def log_cb(level: int, msg: bytes, _payload: Any) -> None:
                try:
                    sink(names.get(level, "info"), s(msg))
                except Exception:  # noqa: BLE001 - a log sink must not break the call
                    pass

            o.log_fn = N.LOG_FN(log_cb)
            self._opts_keep.append(o.log_fn)
        if self._embedder is not None:
            o.embedder = self._embedder.handle
        o.no_embedder = int(bool(k["no_embedder"]))
        o.embed_mode = embed_mode
        o.vector_index_threshold = _int(k["vector_index_threshold"], "vector_index_threshold")
        o.hnsw_m = _int(k["hnsw_m"], "hnsw_m")
        o.hnsw_ef_construction = _int(k["hnsw_ef_construction"], "hnsw_ef_construction")
        o.hnsw_ef_search = _int(k["hnsw_ef_search"], "hnsw_ef_search")
        o.no_bm25_extension = int(bool(k["no_bm25_extension"]))
        o.no_prepared_statements = int(bool(k["no_prepared_statements"]))
        if self._reranker is not None:
            fn = self._reranker

            def rerank_cb(scores, query, texts, n, _payload):  # type: ignore[no-untyped-def]
                try:
                    got = fn(s(query), [s(texts[i]) for i in range(n)])
                    if len(got) != n:
                        return 1
                    for i, v in enumerate(got):
                        scores[i] = float(v)
                    return 0
                except Exception:  # noqa: BLE001 - falls back to the lexical reranker
                    return 1

            o.rerank_fn = N.RERANK_FN(rerank_cb)
            self._opts_keep.append(o.rerank_fn)
        return o

    def initialize(self) -> None:
        """Open the memory: connect (starting the embedded database when no URL is configured),
        create the schema and apply migrations. Idempotent; every method calls it lazily."""
        with self._open_lock:
            if self._mem is not None:
                return
            if self._calls.closed:
                raise LLMemoryError("memory is closed")
            if (self._embedder is None and self.openai_api_key
                    and not self._kw["no_embedder"]):
                self._embedder = Embedder.openai(self.openai_api_key)
                self._own_embedder = True
            mode = N.EMBED_QUEUE if self._kw["embed_mode"] == "queue" else N.EMBED_SYNC
            o = self._make_opts(mode)
            out = ctypes.c_void_p()
            rc = N.lib.lm_memory_open(ctypes.byref(out), ctypes.byref(o))
            if rc < 0:
                try:
                    check(rc)
                except ValidationError as e:
                    err = ConfigurationError(e.message, {"field": e.field})
                    err.code, err.detail, err.hint = e.code, e.detail, e.hint
                    raise err from None
            self._mem = out.value

    def close(self) -> None:
        """Close the memory after the calls in flight; later calls raise LLMemoryError."""
        self.stop_background_processing()
        self._calls.close()
        with self._open_lock:
            for attr in ("_queue_mem", "_mem"):
                h = getattr(self, attr)
                if h is not None:
                    N.lib.lm_memory_close(h)
                    setattr(self, attr, None)
            if self._own_embedder and self._embedder is not None:
                self._embedder.close()
                self._embedder = None

    def __enter__(self) -> "LLMemorySync":
        self.initialize()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _call(self, fn: Callable[[int], Any]) -> Any:
        if self._mem is None:
            self.initialize()
        self._calls.enter()
        try:
            assert self._mem is not None
            return fn(self._mem)
        finally:
            self._calls.leave()

    def _queue_handle(self) -> int:
        with self._open_lock:
            if self._queue_mem is None:
                o = self._make_opts(N.EMBED_QUEUE)
                out = ctypes.c_void_p()
                check(N.lib.lm_memory_open(ctypes.byref(out), ctypes.byref(o)))
                self._queue_mem = out.value
            return self._queue_mem

    @property
    def schema(self) -> str:
        """The schema in use."""
        return self._call(lambda m: s(N.lib.lm_memory_schema(m)))

    @property
    def embedder(self) -> Optional[Embedder]:
        return self._embedder

    # -- documents -----------------------------------------------------------------------------
    def add_document(
        self,
        owner_id: str,
        id_at_origin: str,
        document_name: str,
        document_type: Union[DocumentType, str],
        content: str,
        document_date: DateArg = None,
        metadata: Optional[dict[str, Any]] = None,
        chunking_strategy: Union[ChunkingStrategy, str] = "hierarchical",
        chunking_config: Optional[ChunkingConfig] = None,
        generate_embeddings: bool = True,
        *,
        text_config: Optional[str] = None,
    ) -> DocumentAddResult:
        """Add a document, or re-index the tenant's document with the same id_at_origin (same
        document_id; old chunks replaced, all in one transaction).

        generate_embeddings=False leaves the chunks in the embedding queue
        (process_pending_embeddings embeds them). chunking_config is accepted and, as in the
        original, changes nothing."""
        del chunking_config
        try:
            strategy = ChunkingStrategy(chunking_strategy)
        except ValueError:
            raise ValidationError("chunking_strategy",
                                  f'invalid chunking strategy "{chunking_strategy}"',
                                  chunking_strategy) from None
        if not isinstance(content, str):
            raise ValidationError("content", "content must be a string", None)
        o = N.DocAddOpts()
        N.lib.lm_doc_add_opts_init(ctypes.byref(o), N.DOC_ADD_OPTS_VERSION)
        o.document_date = iso_arg(document_date, "document_date")
        meta = _json_arg(metadata, "metadata")
        o.metadata = meta
        o.text_config = b(text_config, "text_config")
        o.strategy = 0 if strategy is ChunkingStrategy.HIERARCHICAL else 1
        owner = b(owner_id, "owner_id")
        origin = b(id_at_origin, "id_at_origin")
        name = b(document_name, "document_name")
        dtype = _doc_type(document_type)
        body = b(content, "content") or b""
        r = N.DocAddResult()

        def call(m: int) -> None:
            h = m if generate_embeddings else self._queue_handle()
            check(N.lib.lm_doc_add(ctypes.byref(r), h, owner, origin, name, dtype, body,
                                   len(body), ctypes.byref(o)))

        self._call(call)
        doc = Document(
            document_id=uuid(r.document_id),
            owner_id=owner_id,
            id_at_origin=id_at_origin,
            document_type=_DOC_TYPES[dtype],
            document_name=document_name,
            document_date=ts(o.document_date) if isinstance(document_date, str) else (
                document_date if isinstance(document_date, datetime) else ts(o.document_date)),
            metadata=dict(metadata) if isinstance(metadata, dict) else _json(meta),
            chunk_count=r.chunk_count,
            content_bytes=len(body.replace(b"\0", b"")),
        )
        return DocumentAddResult(
            document=doc,
            chunks_created=r.chunk_count,
            embeddings_created=r.embedded,
            processing_time_ms=r.elapsed_ms,
            created=bool(r.created),
            embeddings_queued=r.queued,
        )

    def _get(self, owner_id: str, document_id: Any, with_chunks: bool, action: str) -> Any:
        owner = b(owner_id, "owner_id")
        did = b(document_id, "document_id")

        def call(m: int) -> Any:
            out = ctypes.c_void_p()
            rc = N.lib.lm_doc_get(ctypes.byref(out), m, owner, did, 1 if with_chunks else 0)
            check(rc, resource="Document", identifier=str(document_id), action=action)
            try:
                d = _document(N.lib.lm_doc_document(out).contents)
                chunks = None
                if with_chunks:
                    n = N.lib.lm_doc_chunk_count(out)
                    chunks = [_chunk(N.lib.lm_doc_chunk_at(out, i).contents, d.document_id,
                                     d.updated_at) for i in range(n)]
                return d, chunks
            finally:
                N.lib.lm_doc_free(out)

        return self._call(call)

    def get_document(self, owner_id: str, document_id: Union[str, UUID],
                     include_chunks: bool = False,
                     include_embeddings: bool = False) -> DocumentWithChunks:
        """One of the tenant's documents (DocumentNotFoundError when the tenant has none by that
        id, including when another tenant has it). include_embeddings has no effect (as in the
        original, chunks expose no vectors)."""
        del include_embeddings
        d, chunks = self._get(owner_id, document_id, include_chunks, "get_document")
        return DocumentWithChunks(document=d, chunks=chunks, chunk_count=d.chunk_count or 0)

    def get_document_chunks(self, owner_id: str, document_id: Union[str, UUID],
                            limit: Optional[int] = None, offset: int = 0) -> list[DocumentChunk]:
        """The document's chunks in document order, optionally one page of them."""
        if limit is not None and _int(limit, "limit") < 0:
            raise ValidationError("limit", "limit must not be negative", limit)
        if _int(offset, "offset") < 0:
            raise ValidationError("offset", "offset must not be negative", offset)
        _, chunks = self._get(owner_id, document_id, True, "get_document_chunks")
        chunks = chunks[offset:]
        return chunks if limit is None else chunks[:limit]

    def get_chunk_count(self, owner_id: str, document_id: Union[str, UUID]) -> int:
        d, _ = self._get(owner_id, document_id, False, "get_chunk_count")
        return int(d.chunk_count or 0)

    def list_documents(
        self,
        owner_id: str,
        limit: int = 20,
        offset: int = 0,
        document_type: Union[DocumentType, str, None] = None,
        order_by: Literal["created_at", "updated_at", "document_name"] = "created_at",
        order_desc: bool = True,
        metadata_filter: MetadataFilter = None,
        *,
        include_subtenants: bool = False,
    ) -> DocumentListResult:
        """One page of the tenant's documents and the total that match the filters. Ties are
        broken by document id, so pages never overlap. include_subtenants: also the documents
        of every sub-tenant "<owner_id>/..." (the caller decides who may ask for it)."""
        if order_by not in _ORDER:
            raise ValidationError("order_by", f'invalid sort order "{order_by}"', order_by)
        o = N.DocListOpts()
        N.lib.lm_doc_list_opts_init(ctypes.byref(o), N.DOC_LIST_OPTS_VERSION)
        o.limit = _int(limit, "limit")
        o.offset = _int(offset, "offset")
        o.order_by = _ORDER[order_by]
        o.ascending = 0 if order_desc else 1
        if document_type is not None:
            o.has_type = 1
            o.type = _doc_type(document_type)
        o.metadata_filter = _json_arg(metadata_filter, "metadata_filter")
        o.include_subtenants = 1 if include_subtenants else 0
        owner = b(owner_id, "owner_id")

        def call(m: int) -> DocumentListResult:
            out = ctypes.c_void_p()
            check(N.lib.lm_doc_list(ctypes.byref(out), m, owner, ctypes.byref(o)))
            try:
                n = N.lib.lm_doc_page_count(out)
                docs = [_document(N.lib.lm_doc_page_at(out, i).contents) for i in range(n)]
                return DocumentListResult(documents=docs, total=int(N.lib.lm_doc_page_total(out)),
                                          limit=limit, offset=offset)
            finally:
                N.lib.lm_doc_page_free(out)

        return self._call(call)

    def _delete(self, owner_id: str, ids: Sequence[Any], metadata_filter: MetadataFilter,
                ) -> list[UUID]:
        owner = b(owner_id, "owner_id")
        raw = [b(i, "document_ids") or b"" for i in ids]
        arr = cstr_array(raw)
        filt = None if raw else _json_arg(metadata_filter, "metadata_filter")

        def call(m: int) -> list[UUID]:
            out = ctypes.c_void_p()
            check(N.lib.lm_doc_delete(ctypes.byref(out), m, owner, arr if raw else None,
                                      len(raw), filt))
            try:
                return [uuid(N.lib.lm_id_list_at(out, i))
                        for i in range(N.lib.lm_id_list_count(out))]
            finally:
                N.lib.lm_id_list_free(out)

        return self._call(call)

    def delete_document(self, owner_id: str, document_id: Union[str, UUID]) -> None:
        """Delete one document with its chunks, vectors and queued work
        (DocumentNotFoundError when the tenant has no such document)."""
        if document_id is None:
            raise ValidationError("document_id", "document_id must not be empty")
        if not self._delete(owner_id, [document_id], None):
            raise DocumentNotFoundError(document_id)

    def delete_documents(self, owner_id: str,
                         document_ids: Optional[Iterable[Union[str, UUID]]] = None,
                         metadata_filter: MetadataFilter = None) -> DeleteResult:
        """Delete the tenant's documents by id, or those whose metadata contains the filter, in
        one transaction. Ids the tenant does not own are skipped like missing ones."""
        ids = list(document_ids or [])
        if not ids and metadata_filter is None:
            raise ValidationError("document_ids",
                                  "Either document_ids or metadata_filter must be provided")
        deleted = self._delete(owner_id, ids, metadata_filter)
        return DeleteResult(deleted_count=len(deleted), deleted_document_ids=deleted)

    def get_statistics(self, owner_id: str, include_breakdown: bool = False) -> OwnerStatistics:
        """The tenant's document and chunk counts, content bytes, and optionally documents per
        type (types with none are left out)."""
        owner = b(owner_id, "owner_id")
        st = N.Stats()
        self._call(lambda m: check(N.lib.lm_stats_get(ctypes.byref(st), m, owner)))
        breakdown = None
        if include_breakdown:
            breakdown = {_DOC_TYPES[i]: int(st.by_type[i]) for i in range(len(_DOC_TYPES))
                         if st.by_type[i]}
        first, last = ts(st.first_created), ts(st.last_created)
        return OwnerStatistics(
            document_count=int(st.document_count),
            chunk_count=int(st.chunk_count),
            total_size_bytes=int(st.total_bytes),
            document_type_breakdown=breakdown,
            created_date_range=(first, last) if first and last else None,
        )

    def erase_tenant(self, owner_id: str) -> int:
        """Erase everything the tenant has (documents, chunks, statistics, search history) in one
        transaction. Returns the number of documents removed."""
        owner = b(owner_id, "owner_id")
        n = ctypes.c_int64()
        self._call(lambda m: check(N.lib.lm_tenant_erase(ctypes.byref(n), m, owner)))
        return int(n.value)

    def erase_tenant_report(self, owner_id: str) -> EraseReport:
        """erase_tenant, returning what was removed per kind (documents, chunks, vectors, queue
        entries, postings, terms, history, vector indexes, API keys, other rows)."""
        _need("lm_tenant_erase_report")
        owner = b(owner_id, "owner_id")
        r = N.EraseReport()
        self._call(lambda m: check(N.lib.lm_tenant_erase_report(ctypes.byref(r), m, owner)))
        return EraseReport(*(int(getattr(r, f)) for f, _ in N.EraseReport._fields_))

    def erase_tenant_start(self, owner_id: str) -> EraseReport:
        """Mark the tenant erased and return at once: it is invisible to every call from now on
        (reads find nothing, writes raise, its keys no longer authenticate) while a background
        thread of this memory deletes its rows in small batches. The report has documents,
        chunks and api_keys; the owner id can be used again once the cleanup has finished
        (wait_erasures, run_erasures)."""
        _need("lm_tenant_erase_start")
        owner = b(owner_id, "owner_id")
        r = N.EraseReport()
        self._call(lambda m: check(N.lib.lm_tenant_erase_start(ctypes.byref(r), m, owner)))
        return EraseReport(*(int(getattr(r, f)) for f, _ in N.EraseReport._fields_))

    def pending_erasures(self) -> int:
        """Tenants marked erased whose cleanup has not finished (all tenants: operators)."""
        _need("lm_erasure_pending")
        n = ctypes.c_int64()
        self._call(lambda m: check(N.lib.lm_erasure_pending(ctypes.byref(n), m)))
        return int(n.value)

    def resume_erasures(self) -> int:
        """Start the background cleanup of every pending erasure (after a crash); returns how
        many are pending."""
        _need("lm_erasure_resume")
        n = ctypes.c_int64()
        self._call(lambda m: check(N.lib.lm_erasure_resume(ctypes.byref(n), m)))
        return int(n.value)

    def run_erasures(self) -> int:
        """Finish every pending erasure now, on this thread; returns how many finished."""
        _need("lm_erasure_run")
        n = ctypes.c_int64()
        self._call(lambda m: check(N.lib.lm_erasure_run(ctypes.byref(n), m)))
        return int(n.value)

    def wait_erasures(self) -> None:
        """Wait until this memory's background cleanup has nothing left to do."""
        _need("lm_erasure_wait")
        self._call(lambda m: N.lib.lm_erasure_wait(m))

    # -- tenant lifecycle ----------------------------------------------------------------------
    def export_tenant(self, owner_id: str, dest: Any, *, vectors: bool = False,
                      batch: int = 0,
                      progress: Optional[Callable[[int, int], None]] = None) -> TransferCounts:
        """Write everything the tenant has as a JSON Lines stream ("llmemory-export", one
        consistent snapshot) to ``dest``: a binary file object (anything with ``write(bytes)``)
        or a path, created or truncated (and removed again when the export fails).
        ``vectors``: include each chunk's stored vector. ``progress(done, total)``: records so
        far (total is -1 while unknown). An exception raised by ``dest.write`` or ``progress``
        stops the export and is re-raised."""
        _need("lm_tenant_export")
        owner = b(owner_id, "owner_id")
        o = N.ExportOpts.from_buffer_copy(_EXPORT_DEFAULTS)
        o.with_vectors = 1 if vectors else 0
        o.batch = _int(batch, "batch")
        path = None if hasattr(dest, "write") else os.fspath(dest)
        f = open(path, "wb") if path is not None else dest
        st = _Stream(f, progress)
        if progress is not None:
            o.progress = st.progress_cb
        out = N.TransferCounts()
        ok = False
        try:
            rc = self._call(lambda m: N.lib.lm_tenant_export(ctypes.byref(out), m, owner,
                                                             ctypes.byref(o), st.write_cb, None))
            st.finish(rc)
            ok = True
        finally:
            if path is not None:
                f.close()
                if not ok:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
        return _counts(out)

    def import_tenant(self, owner_id: str, source: Any, *, max_line_bytes: int = 0,
                      progress: Optional[Callable[[int, int], None]] = None) -> ImportResult:
        """Restore an export stream into ``owner_id`` (the same or another tenant) from a binary
        file object (anything with ``read(n) -> bytes``) or a path. The whole stream is checked
        (format, counts, checksum, references) before anything is written: a truncated or
        corrupt stream raises ValidationError and changes nothing. Importing the same stream
        twice leaves the tenant as after the first time. An exception raised by
        ``source.read`` or ``progress`` stops the import (nothing written) and is re-raised."""
        _need("lm_tenant_import")
        owner = b(owner_id, "owner_id")
        o = N.ImportOpts.from_buffer_copy(_IMPORT_DEFAULTS)
        o.max_line_bytes = _int(max_line_bytes, "max_line_bytes")
        path = None if hasattr(source, "read") else os.fspath(source)
        f = open(path, "rb") if path is not None else source
        st = _Stream(f, progress)
        if progress is not None:
            o.progress = st.progress_cb
        out = N.ImportResult()
        try:
            rc = self._call(lambda m: N.lib.lm_tenant_import(ctypes.byref(out), m, owner,
                                                             ctypes.byref(o), st.read_cb, None))
            st.finish(rc)
        finally:
            if path is not None:
                f.close()
        return ImportResult(_counts(out.counts), int(out.documents_created),
                            int(out.vectors_reused), int(out.chunks_queued))

    def set_quota(self, owner_id: str, *, documents: Any = "default", chunks: Any = "default",
                  bytes: Any = "default", vectors: Any = "default") -> None:  # noqa: A002
        """Set the tenant's storage limits. Each: an int >= 0, None (no limit, even when a
        default is configured) or "default" (follow the configured default; what an omitted
        one does). A write past a limit raises QuotaExceededError and writes nothing; lowering
        a limit below the usage removes nothing."""
        _need("lm_quota_set")
        owner = b(owner_id, "owner_id")
        q = N.Quota(_quota_in(documents, "documents"), _quota_in(chunks, "chunks"),
                    _quota_in(bytes, "bytes"), _quota_in(vectors, "vectors"))
        self._call(lambda m: check(N.lib.lm_quota_set(m, owner, ctypes.byref(q))))

    def get_quota(self, owner_id: str) -> QuotaStatus:
        """The tenant's limits in force (None: no limit), its overrides ("default" where it
        follows the default) and its usage."""
        _need("lm_quota_get")
        owner = b(owner_id, "owner_id")
        st = N.QuotaStatus()
        self._call(lambda m: check(N.lib.lm_quota_get(ctypes.byref(st), m, owner)))
        return QuotaStatus(_quota_out(st.limit), _quota_out(st.override), _quota_out(st.usage))

    def set_rates(self, owner_id: str, *, adds: Any = "default",
                  searches: Any = "default") -> None:
        """Set the tenant's rates in operations a second: a number >= 0, None (no limit even
        when a default is configured) or "default" (follow the configured rate). A call past
        its rate raises ValidationError with field "rate_adds" or "rate_searches" (code
        "limit_exceeded")."""
        _need("lm_rate_set")
        owner = b(owner_id, "owner_id")
        r = N.Rates(_rate_in(adds, "adds"), _rate_in(searches, "searches"))
        self._call(lambda m: check(N.lib.lm_rate_set(m, owner, ctypes.byref(r))))

    def get_rates(self, owner_id: str) -> RateStatus:
        """The tenant's rates in force (None: no limit) and its overrides."""
        _need("lm_rate_get")
        owner = b(owner_id, "owner_id")
        st = N.RateStatus()
        self._call(lambda m: check(N.lib.lm_rate_get(ctypes.byref(st), m, owner)))
        return RateStatus(_rates_out(st.limit), _rates_out(st.override))

    def get_usage_days(self, owner_id: str, days: int = 7) -> list[UsageDay]:
        """The tenant's searches and adds per UTC day over the last ``days`` days (1..366),
        today first, zeros for days without calls."""
        _need("lm_usage_days")
        owner = b(owner_id, "owner_id")
        k = _int(days, "days")
        arr = (N.UsageDay * max(k, 1))()
        n = ctypes.c_int()
        self._call(lambda m: check(N.lib.lm_usage_days(arr, k, ctypes.byref(n), m, owner)))
        return [UsageDay(date.fromisoformat(arr[i].day.decode()), int(arr[i].searches),
                         int(arr[i].adds)) for i in range(n.value)]

    def get_quota_alerts(self, max_age_s: int = 30) -> QuotaAlerts:
        """How many tenants are at 80%, 95% and 100% of each storage limit (operators; counts
        only), computed at most once per ``max_age_s`` seconds (cached in the memory)."""
        _need("lm_quota_alerts_get")
        a = N.QuotaAlerts()
        age = _int(max_age_s, "max_age_s")
        self._call(lambda m: check(N.lib.lm_quota_alerts_get(ctypes.byref(a), m, age)))
        kinds = ("documents", "chunks", "bytes", "vectors")
        return QuotaAlerts(int(a.tenants), {k: int(a.at_80[i]) for i, k in enumerate(kinds)},
                           {k: int(a.at_95[i]) for i, k in enumerate(kinds)},
                           {k: int(a.at_100[i]) for i, k in enumerate(kinds)}, float(a.age_s))

    def list_usage(self, sort: str = "owner", limit: int = 100,
                   near_quota: Optional[int] = None) -> list[TenantUsage]:
        """Usage of every tenant that has stored anything (reads across tenants: for operators,
        never expose it to a tenant). ``sort``: "owner", "documents", "chunks", "bytes",
        "vectors", "searches" or "adds" (largest first); ``limit``: 1..100000 rows;
        ``near_quota``: only tenants at that percentage of some limit or more (1..1000)."""
        _need("lm_usage_list_get")
        how = ctypes.c_int()
        check(N.lib.lm_usage_sort_parse(ctypes.byref(how), b(sort, "sort")))
        n = _int(limit, "limit")
        near = None if near_quota is None else _int(near_quota, "near_quota")
        if near is not None:
            _need("lm_usage_list_near")

        def call(m: int) -> list[TenantUsage]:
            out = ctypes.c_void_p()
            if near is None:
                check(N.lib.lm_usage_list_get(ctypes.byref(out), m, how.value, n))
            else:
                check(N.lib.lm_usage_list_near(ctypes.byref(out), m, how.value, n, near))
            try:
                res = []
                for i in range(N.lib.lm_usage_list_count(out)):
                    r = N.lib.lm_usage_list_at(out, i).contents
                    res.append(TenantUsage(s(r.owner_id), _quota_out(r.usage),
                                           _quota_out(r.limit), int(r.searches_today),
                                           int(r.adds_today), opt_s(r.near_limit)))
                return res
            finally:
                N.lib.lm_usage_list_free(out)

        return self._call(call)

    def get_server_audit_log(self, limit: int = 100) -> list[AuditEntry]:
        """The server's own audit records (refused credentials no tenant can be named for),
        newest first: for operators."""
        _need("lm_audit_list_server")
        n = _int(limit, "limit")

        def call(m: int) -> list[AuditEntry]:
            out = ctypes.c_void_p()
            check(N.lib.lm_audit_list_server(ctypes.byref(out), m, n))
            try:
                res = []
                for i in range(N.lib.lm_audit_page_count(out)):
                    e = N.lib.lm_audit_page_at(out, i).contents
                    res.append(AuditEntry(int(e.audit_id), ts(e.at), s(e.actor), s(e.action),
                                          opt_s(e.source), s(e.outcome), _json(e.detail)))
                return res
            finally:
                N.lib.lm_audit_page_free(out)

        return self._call(call)

    def get_audit_log(self, owner_id: str, limit: int = 100) -> list[AuditEntry]:
        """The tenant's audit records (keys created and revoked, erasure, export, import, quota
        changes), newest first, at most ``limit`` (1..10000). Never another tenant's."""
        _need("lm_audit_list")
        owner = b(owner_id, "owner_id")
        n = _int(limit, "limit")

        def call(m: int) -> list[AuditEntry]:
            out = ctypes.c_void_p()
            check(N.lib.lm_audit_list(ctypes.byref(out), m, owner, n))
            try:
                res = []
                for i in range(N.lib.lm_audit_page_count(out)):
                    e = N.lib.lm_audit_page_at(out, i).contents
                    res.append(AuditEntry(int(e.audit_id), ts(e.at), s(e.actor), s(e.action),
                                          opt_s(e.source), s(e.outcome), _json(e.detail)))
                return res
            finally:
                N.lib.lm_audit_page_free(out)

        return self._call(call)

    # -- search --------------------------------------------------------------------------------
    def _search(self, owner_id: str, query_text: str, search_type: Union[SearchType, str],
                limit: int, id_at_origin: Optional[str], id_at_origins: Optional[Sequence[str]],
                metadata_filter: MetadataFilter, date_from: DateArg, date_to: DateArg,
                include_parent_context: bool, context_window: int, alpha: Optional[float],
                query_expansion: Optional[bool], max_query_variants: Optional[int],
                rerank: Optional[bool], rerank_top_k: Optional[int], document_type: Any,
                text_config: Optional[str], rrf_k: Optional[int], candidates: Optional[int],
                record_history: bool, with_documents: bool, query_syntax: str = "web",
                include_subtenants: bool = False) -> list[Any]:
        o = N.SearchOpts.from_buffer_copy(_SEARCH_DEFAULTS)
        stype = _search_type(search_type)
        o.type = stype
        o.limit = _int(limit, "limit")
        o.id_at_origin = b(id_at_origin, "id_at_origin")
        keep: list[Any] = []
        if id_at_origins is not None:
            if isinstance(id_at_origins, str):
                raise ValidationError("id_at_origins", "id_at_origins must be a list", None)
            raw = [b(x, "id_at_origins") or b"" for x in id_at_origins]
            arr = cstr_array(raw)
            keep.append(arr)
            o.id_at_origins = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
            o.n_id_at_origins = len(raw)
        o.metadata_filter = _json_arg(metadata_filter, "metadata_filter")
        if document_type is not None:
            o.has_type = 1
            o.doc_type = _doc_type(document_type)
        o.date_from = iso_arg(date_from, "date_from")
        o.date_to = iso_arg(date_to, "date_to")
        o.text_config = b(text_config, "text_config")
        o.no_history = 0 if record_history else 1
        if alpha is not None:
            if not isinstance(alpha, (int, float)) or isinstance(alpha, bool):
                raise ValidationError("alpha", "alpha must be a number", alpha)
            o.alpha = float(alpha)
        if rrf_k is not None:
            o.rrf_k = _int(rrf_k, "rrf_k")
        if candidates is not None:
            o.candidates = _int(candidates, "candidates")
        o.with_documents = 1 if with_documents else 0
        o.include_parent_context = 1 if include_parent_context else 0
        o.context_window = _int(context_window, "context_window")
        o.expand = 1 if query_expansion else 0
        if max_query_variants is not None:
            o.max_variants = max(1, _int(max_query_variants, "max_query_variants"))
        o.rerank = 1 if rerank else 0
        if rerank_top_k is not None:
            o.rerank_top_k = _int(rerank_top_k, "rerank_top_k")
        o.syntax = _query_syntax(query_syntax)
        o.include_subtenants = 1 if include_subtenants else 0
        owner = b(owner_id, "owner_id")
        query = b(query_text, "query_text")
        hybrid = stype == 2
        cls = EnrichedSearchResult if with_documents else SearchResult

        def call(m: int) -> list[Any]:
            out = ctypes.c_void_p()
            check(N.lib.lm_search(ctypes.byref(out), m, owner, query, ctypes.byref(o)))
            try:
                res = []
                docs: dict[bytes, UUID] = {}
                at = N.lib.lm_results_at
                for i in range(N.lib.lm_results_count(out)):
                    h = at(out, i).contents
                    raw_doc = h.document_id
                    did = docs.get(raw_doc)
                    if did is None:
                        did = docs[raw_doc] = uuid(raw_doc)
                    n_ctx = h.n_context
                    parents = [_chunk(h.context[j], did, None) for j in range(n_ctx)] \
                        if n_ctx else []
                    score = h.score
                    text_rank = h.text_rank
                    vector_rank = h.vector_rank
                    r = cls(
                        uuid(h.chunk_id), did, h.content.decode("utf-8", "replace"),
                        _json(h.metadata), score,
                        h.vector_score if vector_rank else None,
                        h.text_score if text_rank else None,
                        score if hybrid and not rerank else None,
                        score if rerank else None,
                        None,
                        parents,
                        h.rank,
                        text_rank or None,
                        vector_rank or None,
                        h.id_at_origin.decode("utf-8", "replace"),
                        h.chunk_index,
                        h.chunk_level,
                        s(h.owner_id),
                    )
                    if with_documents:
                        t = h.document_type
                        r.document_name = s(h.document_name)
                        r.document_type = _DOC_TYPES[t].value if 0 <= t < 14 else "unknown"
                        r.document_metadata = _json(h.document_metadata)
                    res.append(r)
                return res
            finally:
                N.lib.lm_results_free(out)

        return self._call(call)

    def search(
        self,
        owner_id: str,
        query_text: str,
        search_type: Union[SearchType, str] = SearchType.HYBRID,
        limit: int = 10,
        id_at_origin: Optional[str] = None,
        id_at_origins: Optional[Sequence[str]] = None,
        metadata_filter: MetadataFilter = None,
        date_from: DateArg = None,
        date_to: DateArg = None,
        include_parent_context: bool = False,
        context_window: int = 2,
        alpha: Optional[float] = None,
        query_expansion: Optional[bool] = None,
        max_query_variants: Optional[int] = None,
        rerank: Optional[bool] = None,
        rerank_top_k: Optional[int] = None,
        rerank_return_k: Optional[int] = None,
        *,
        document_type: Union[DocumentType, str, None] = None,
        text_config: Optional[str] = None,
        rrf_k: Optional[int] = None,
        candidates: Optional[int] = None,
        record_history: bool = True,
        query_syntax: Literal["web", "plain"] = "web",
        include_subtenants: bool = False,
    ) -> list[SearchResult]:
        """Search the tenant's chunks. The query uses web-search syntax (words OR-ed, "quoted
        phrases", -excluded). Keyword search ranks with per-tenant BM25; hybrid fuses it with
        the vector leg by weighted reciprocal rank fusion (alpha: 0 keyword only .. 1 vector
        only; None: the library's default for the embedder). Every filter applies to every
        search type. rerank_return_k is accepted for compatibility: results are always
        ``limit`` long. query_syntax="plain" reads the query as text only (no phrases, no
        exclusions: for natural-language questions). include_subtenants also searches every
        sub-tenant "<owner_id>/..." (each with its own BM25 statistics; lists merged by
        reciprocal rank fusion; each hit's owner_id says whose it is)."""
        del rerank_return_k
        return self._search(owner_id, query_text, search_type, limit, id_at_origin,
                            id_at_origins, metadata_filter, date_from, date_to,
                            include_parent_context, context_window, alpha, query_expansion,
                            max_query_variants, rerank, rerank_top_k, document_type, text_config,
                            rrf_k, candidates, record_history, False, query_syntax,
                            include_subtenants)

    def search_with_documents(
        self,
        owner_id: str,
        query_text: str,
        search_type: Union[SearchType, str] = SearchType.HYBRID,
        limit: int = 10,
        metadata_filter: MetadataFilter = None,
        include_document_metadata: bool = True,
        **search_kwargs: Any,
    ) -> SearchResultWithDocuments:
        """search() with each hit's document name, type and metadata (fetched in the same call).
        Accepts every keyword argument of search()."""
        args = dict(id_at_origin=None, id_at_origins=None, date_from=None, date_to=None,
                    include_parent_context=False, context_window=2, alpha=None,
                    query_expansion=None, max_query_variants=None, rerank=None,
                    rerank_top_k=None, document_type=None, text_config=None, rrf_k=None,
                    candidates=None, record_history=True, query_syntax="web",
                    include_subtenants=False)
        search_kwargs.pop("rerank_return_k", None)
        unknown = set(search_kwargs) - set(args)
        if unknown:
            raise TypeError(f"search_with_documents() got unexpected arguments {sorted(unknown)}")
        args.update(search_kwargs)
        res = self._search(owner_id, query_text, search_type, limit, args["id_at_origin"],
                           args["id_at_origins"], metadata_filter, args["date_from"],
                           args["date_to"], args["include_parent_context"],
                           args["context_window"], args["alpha"], args["query_expansion"],
                           args["max_query_variants"], args["rerank"], args["rerank_top_k"],
                           args["document_type"], args["text_config"], args["rrf_k"],
                           args["candidates"], args["record_history"], True,
                           args["query_syntax"], args["include_subtenants"])
        if not include_document_metadata:
            for r in res:
                r.document_name, r.document_type, r.document_metadata = "", "", {}
        return SearchResultWithDocuments(results=res, total=len(res))

    def get_search_history(self, owner_id: str, limit: int = 20) -> list[SearchHistoryEntry]:
        """The tenant's most recent searches, newest first."""
        owner = b(owner_id, "owner_id")
        lim = _int(limit, "limit")

        def call(m: int) -> list[SearchHistoryEntry]:
            out = ctypes.c_void_p()
            check(N.lib.lm_history_list(ctypes.byref(out), m, owner, lim))
            try:
                res = []
                for i in range(N.lib.lm_history_count(out)):
                    e = N.lib.lm_history_at(out, i).contents
                    res.append(SearchHistoryEntry(
                        search_id=uuid(e.search_id), query_text=s(e.query),
                        search_type=_SEARCH_TYPE_OF.get(e.type, SearchType.TEXT),
                        filters=_json(e.filters), result_count=e.result_count,
                        latency_ms=e.latency_ms, created_at=ts(e.created_at)))
                return res
            finally:
                N.lib.lm_history_free(out)

        return self._call(call)

    # -- embeddings ----------------------------------------------------------------------------
    def process_pending_embeddings(self, batch_size: int = 100, max_batches: int = 10) -> int:
        """Embed queued chunks (all tenants) with this memory's embedder; returns how many
        vectors were written. Jobs that fail are retried with backoff, then marked dead."""
        return self.run_embedding_queue(batch_size=batch_size, max_batches=max_batches).embedded

    def run_embedding_queue(self, batch_size: int = 0, max_batches: int = 0, lease_s: int = 0,
                            max_attempts: int = 0) -> EmbeddingRunResult:
        """Drain the embedding queue (max_batches 0: until no job is ready)."""
        o = N.EmbedRunOpts()
        N.lib.lm_embed_run_opts_init(ctypes.byref(o), N.EMBED_RUN_OPTS_VERSION)
        o.batch_size = _int(batch_size, "batch_size")
        o.max_batches = _int(max_batches, "max_batches")
        o.lease_s = _int(lease_s, "lease_s")
        o.max_attempts = _int(max_attempts, "max_attempts")
        r = N.EmbedRunResult()
        self._call(lambda m: check(N.lib.lm_embed_run(ctypes.byref(r), m, ctypes.byref(o))))
        return EmbeddingRunResult(int(r.claimed), int(r.embedded), int(r.failed), int(r.dead))

    def get_embedding_queue_stats(self) -> EmbeddingQueueStats:
        """Jobs pending, processing and dead for this memory's embedder (all tenants)."""
        st = N.EmbedQueueStats()
        self._call(lambda m: check(N.lib.lm_embed_queue_stats_get(ctypes.byref(st), m)))
        return EmbeddingQueueStats(int(st.pending), int(st.processing), int(st.dead))

    def start_background_processing(self, interval_seconds: float = 60,
                                     batch_size: int = 100) -> None:
        """Embed queued chunks in a background thread: one batch at a time, again after 1 s when
        something was done, else after interval_seconds."""
        self.stop_background_processing()
        self._bg_stop.clear()

        def loop() -> None:
            while not self._bg_stop.is_set():
                try:
                    n = self.process_pending_embeddings(batch_size=batch_size, max_batches=1)
                except LLMemoryError:
                    n = 0
                self._bg_stop.wait(1.0 if n else interval_seconds)

        self._bg = threading.Thread(target=loop, name="llmemory-embed", daemon=True)
        self._bg.start()

    def stop_background_processing(self) -> None:
        self._bg_stop.set()
        if self._bg is not None:
            self._bg.join()
            self._bg = None

    # -- API keys ------------------------------------------------------------------------------
    def create_api_key(self, owner_id: str, *, scope: Union[KeyScope, str] = KeyScope.WRITE,
                       origin: Optional[str] = None, allow_subtenants: bool = False,
                       expires_at: DateArg = None, name: Optional[str] = None) -> ApiKey:
        """Create an API key for the tenant. ``key`` is shown once: only its hash is stored."""
        o = N.KeyOpts()
        N.lib.lm_key_opts_init(ctypes.byref(o), N.KEY_OPTS_VERSION)
        o.origin = b(origin, "origin")
        o.scope = _scope(scope)
        o.allow_subtenants = 1 if allow_subtenants else 0
        o.expires_at = iso_arg(expires_at, "expires_at")
        o.name = b(name, "name")
        owner = b(owner_id, "owner_id")
        k = N.KeyCreated()
        try:
            self._call(lambda m: check(N.lib.lm_key_create(ctypes.byref(k), m, owner,
                                                           ctypes.byref(o))))
            return ApiKey(key_id=k.key_id.decode(), key=k.key.decode(),
                          created_at=ts(k.created_at), expires_at=ts(k.expires_at))
        finally:
            N.lib.lm_key_created_dispose(ctypes.byref(k))

    def verify_api_key(self, key: str) -> Principal:
        """Who a presented key speaks for; PermissionError for an invalid, revoked or expired
        key (an unknown key and a wrong secret are indistinguishable)."""
        raw = b(key, "key")
        p = N.Principal()
        self._call(lambda m: check(N.lib.lm_key_verify(ctypes.byref(p), m, raw)))
        return Principal(key_id=p.key_id.decode(), owner_id=p.owner_id.decode(),
                         origin=p.origin.decode() or None, scope=_SCOPE_OF.get(p.scope,
                                                                               KeyScope.READ),
                         allow_subtenants=bool(p.allow_subtenants))

    def list_api_keys(self, owner_id: Optional[str],
                      with_subtenants: bool = False) -> list[ApiKeyInfo]:
        """The keys of a tenant (and its sub-tenants), or of every owner when owner_id is None;
        oldest first, without secrets."""
        owner = b(owner_id, "owner_id")

        def call(m: int) -> list[ApiKeyInfo]:
            out = ctypes.c_void_p()
            check(N.lib.lm_key_list(ctypes.byref(out), m, owner, 1 if with_subtenants else 0))
            try:
                res = []
                for i in range(N.lib.lm_keys_count(out)):
                    k = N.lib.lm_keys_at(out, i).contents
                    res.append(ApiKeyInfo(
                        key_id=s(k.key_id), owner_id=s(k.owner_id), origin=opt_s(k.origin),
                        scope=_SCOPE_OF.get(k.scope, KeyScope.READ),
                        allow_subtenants=bool(k.allow_subtenants), name=opt_s(k.name),
                        created_at=ts(k.created_at), expires_at=ts(k.expires_at),
                        revoked_at=ts(k.revoked_at), last_used_at=ts(k.last_used_at)))
                return res
            finally:
                N.lib.lm_keys_free(out)

        return self._call(call)

    def revoke_api_key(self, key_id: str, owner_id: Optional[str] = None,
                       with_subtenants: bool = False) -> None:
        """Revoke a key (ResourceNotFoundError when it does not exist or, with owner_id, is not
        that owner's)."""
        kid = b(key_id, "key_id")
        owner = b(owner_id, "owner_id")
        self._call(lambda m: check(N.lib.lm_key_revoke(m, owner, 1 if with_subtenants else 0,
                                                       kid), resource="API key",
                                   identifier=str(key_id)))

    # -- operations ----------------------------------------------------------------------------
    def ready(self) -> bool:
        """True when the database answers and every migration is applied."""
        return self._call(lambda m: N.lib.lm_memory_ready(m)) == 0

    def optimize(self) -> OptimizeReport:
        """Rebuild the BM25 postings index and vacuum/analyze the search tables (after bulk
        loads; results never change)."""
        r = N.OptimizeReport()
        self._call(lambda m: check(N.lib.lm_memory_optimize(m, ctypes.byref(r))))
        return OptimizeReport(int(r.postings_pages_before), int(r.postings_pages_after),
                              r.elapsed_ms)

    def pool_usage(self) -> PoolUsage:
        u = N.PoolUsage()
        self._call(lambda m: N.lib.lm_memory_pool_usage(ctypes.byref(u), m))
        return PoolUsage(u.size, u.open, u.in_use)


def owner_covers(owner_id: str, tenant: str) -> bool:
    """True when ``tenant`` is ``owner_id`` or one of its sub-tenants ("owner/...")."""
    return N.lib.lm_owner_covers(b(owner_id, "owner_id"), b(tenant, "tenant")) == 1


def _db_info(i: "N.DbInfo") -> EmbeddedDatabaseInfo:
    return EmbeddedDatabaseInfo(bool(i.initialized), bool(i.running), int(i.pid),
                                s(i.home), s(i.socket_dir), s(i.conninfo), s(i.server_version))


def embedded_status(home: Optional[str] = None) -> EmbeddedDatabaseInfo:
    """State of the embedded database in ``home`` (default $LLMEMORY_HOME). Starts nothing."""
    i = N.DbInfo()
    check(N.lib.lm_db_status(ctypes.byref(i), b(home, "home")))
    return _db_info(i)


def embedded_start(home: Optional[str] = None) -> EmbeddedDatabaseInfo:
    """Create and start the embedded database if needed (safe from several processes)."""
    i = N.DbInfo()
    check(N.lib.lm_db_start(ctypes.byref(i), b(home, "home")))
    return _db_info(i)


def embedded_stop(home: Optional[str] = None) -> None:
    """Stop the embedded database's server (not running is not an error)."""
    check(N.lib.lm_db_stop(b(home, "home")))


def set_audit_context(actor: Optional[str], source: Optional[str] = None) -> None:
    """Who acts, and from where (a client address), for the audit records that the calling
    thread's next calls write ("cli:USER", "key:KEY_ID", ...; None: "library"). Thread-local:
    with the async API, each call runs on a pool thread, so set it there (or use the sync API)."""
    _need("lm_audit_context_set")
    N.lib.lm_audit_context_set(b(actor, "actor"), b(source, "source"))
