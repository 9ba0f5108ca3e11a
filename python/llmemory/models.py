"""Enums and result dataclasses, with the Python original's names and fields.

Fields the C library adds (per-leg scores, chunk counts, ...) come after the original ones and have
defaults, so code that builds or reads the original's objects keeps working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Optional, Union
from uuid import UUID


class DocumentType(str, Enum):
    """The 14 document types; the type chooses chunk sizes and the chunker."""

    PDF = "pdf"
    MARKDOWN = "markdown"
    CODE = "code"
    TEXT = "text"
    HTML = "html"
    DOCX = "docx"
    EMAIL = "email"
    REPORT = "report"
    CHAT = "chat"
    PRESENTATION = "presentation"
    LEGAL_DOCUMENT = "legal_document"
    TECHNICAL_DOC = "technical_doc"
    BUSINESS_REPORT = "business_report"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class SearchType(str, Enum):
    """Keyword (BM25), vector (cosine) or both fused by weighted reciprocal rank fusion."""

    VECTOR = "vector"
    TEXT = "text"
    HYBRID = "hybrid"

    def __str__(self) -> str:
        return self.value


class ChunkingStrategy(str, Enum):
    """How a document is split. Only hierarchical and semantic exist (as in the original)."""

    HIERARCHICAL = "hierarchical"
    SEMANTIC = "semantic"

    def __str__(self) -> str:
        return self.value


class EmbeddingStatus(str, Enum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


class KeyScope(str, Enum):
    """What an API key may do; each scope includes the ones below it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    def __str__(self) -> str:
        return self.value


@dataclass
class ChunkingConfig:
    """Accepted by add_document for compatibility. As in the original, no field changes the
    chunker: sizes come from the document type (docs/chunking.md)."""

    strategy: ChunkingStrategy = ChunkingStrategy.HIERARCHICAL
    chunk_size: int = 1000
    chunk_overlap: int = 200
    min_chunk_size: int = 100
    max_chunk_size: int = 2000
    enable_hierarchical: bool = True


@dataclass
class Document:
    document_id: UUID
    owner_id: str = ""
    id_at_origin: str = ""
    document_type: DocumentType = DocumentType.UNKNOWN
    document_name: str = ""
    document_date: Optional[datetime] = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
    # Added by the C library:
    chunk_count: Optional[int] = None
    content_bytes: Optional[int] = None
    text_config: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (without owner_id, as in the original)."""
        return {
            "document_id": str(self.document_id),
            "id_at_origin": self.id_at_origin,
            "document_type": self.document_type.value,
            "document_name": self.document_name,
            "document_date": _iso(self.document_date),
            "metadata": self.metadata,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
        }


@dataclass
class DocumentChunk:
    chunk_id: UUID
    document_id: UUID
    parent_chunk_id: Optional[UUID] = None
    chunk_index: int = 0
    chunk_level: int = 0
    content: str = ""
    content_hash: str = ""
    token_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: Optional[datetime] = None
    summary: Optional[str] = None
    # Added by the C library: whether keyword/vector search indexes the chunk.
    searchable: bool = True


@dataclass
class SearchResult:
    chunk_id: UUID
    document_id: UUID
    content: str
    metadata: dict[str, Any]
    score: float
    similarity: Optional[float] = None  # cosine similarity (vector leg), None when not found by it
    text_rank: Optional[float] = None  # BM25 score (keyword leg), None when not found by it
    rrf_score: Optional[float] = None  # fused score of a hybrid search
    rerank_score: Optional[float] = None
    summary: Optional[str] = None
    parent_chunks: list[DocumentChunk] = field(default_factory=list)
    # Added by the C library:
    rank: int = 0  # 1-based position in the results
    text_leg_rank: Optional[int] = None  # 1-based rank in the keyword leg
    vector_leg_rank: Optional[int] = None  # 1-based rank in the vector leg
    id_at_origin: str = ""
    chunk_index: int = 0
    chunk_level: int = 0
    owner_id: str = ""  # the tenant the hit belongs to (differs with include_subtenants)

    @property
    def text_score(self) -> Optional[float]:
        """The keyword leg's BM25 score (same as text_rank)."""
        return self.text_rank

    @property
    def vector_score(self) -> Optional[float]:
        """The vector leg's cosine similarity (same as similarity)."""
        return self.similarity

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk_id": str(self.chunk_id),
            "document_id": str(self.document_id),
            "content": self.content,
            "metadata": self.metadata,
            "score": self.score,
            "similarity": self.similarity,
            "text_rank": self.text_rank,
            "rrf_score": self.rrf_score,
            "rerank_score": self.rerank_score,
            "summary": self.summary,
            "parent_chunks": [
                {"chunk_id": str(p.chunk_id), "content": p.content, "chunk_level": p.chunk_level}
                for p in self.parent_chunks
            ],
            "rank": self.rank,
            "text_leg_rank": self.text_leg_rank,
            "vector_leg_rank": self.vector_leg_rank,
            "id_at_origin": self.id_at_origin,
        }


@dataclass
class EnrichedSearchResult(SearchResult):
    document_name: str = ""
    document_type: str = ""
    document_metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(document_name=self.document_name, document_type=self.document_type,
                 document_metadata=self.document_metadata)
        return d


@dataclass
class SearchResultWithDocuments:
    results: list[EnrichedSearchResult]
    total: int


@dataclass
class DocumentListResult:
    documents: list[Document]
    total: int
    limit: int
    offset: int


@dataclass
class DocumentWithChunks:
    document: Document
    chunks: Optional[list[DocumentChunk]]
    chunk_count: int


@dataclass
class DocumentAddResult:
    document: Document
    chunks_created: int
    embeddings_created: int
    processing_time_ms: float
    # Added by the C library:
    created: bool = True  # False: an existing document (same id_at_origin) was re-indexed
    embeddings_queued: int = 0  # chunks left in the embedding queue


@dataclass
class OwnerStatistics:
    document_count: int
    chunk_count: int
    total_size_bytes: int  # content bytes (the original estimated 4 bytes per token)
    document_type_breakdown: Optional[dict[DocumentType, int]] = None
    created_date_range: Optional[tuple[datetime, datetime]] = None


@dataclass
class DeleteResult:
    deleted_count: int
    deleted_document_ids: list[UUID]


@dataclass
class SearchHistoryEntry:
    search_id: UUID
    query_text: str
    search_type: SearchType
    filters: dict[str, Any]
    result_count: int
    latency_ms: float
    created_at: Optional[datetime]


@dataclass
class EmbeddingQueueStats:
    pending: int
    processing: int
    dead: int


@dataclass
class EmbeddingRunResult:
    claimed: int
    embedded: int
    failed: int
    dead: int


@dataclass
class ApiKey:
    """A key just created. ``key`` is shown once and never stored."""

    key_id: str
    key: str
    created_at: Optional[datetime]
    expires_at: Optional[datetime]


@dataclass
class ApiKeyInfo:
    key_id: str
    owner_id: str
    origin: Optional[str]
    scope: KeyScope
    allow_subtenants: bool
    name: Optional[str]
    created_at: Optional[datetime]
    expires_at: Optional[datetime]
    revoked_at: Optional[datetime]
    last_used_at: Optional[datetime]


@dataclass
class Principal:
    """Who a verified API key speaks for."""

    key_id: str
    owner_id: str
    origin: Optional[str]
    scope: KeyScope
    allow_subtenants: bool


@dataclass
class OptimizeReport:
    postings_pages_before: int
    postings_pages_after: int
    elapsed_ms: float


@dataclass
class PoolUsage:
    size: int
    open: int
    in_use: int


@dataclass
class EmbeddedDatabaseInfo:
    initialized: bool
    running: bool
    pid: int
    home: str
    socket_dir: str
    conninfo: str
    server_version: str


@dataclass
class EraseReport:
    """What erase_tenant_report removed, per kind."""

    documents: int
    chunks: int
    vectors: int
    queue_entries: int
    postings: int
    terms: int
    history: int
    vector_indexes: int
    api_keys: int
    other_rows: int


@dataclass
class TransferCounts:
    """Records of an export or import (``vectors``: chunks that carried a stored vector)."""

    documents: int
    chunks: int
    vectors: int


@dataclass
class ImportResult:
    """What import_tenant did: records read, documents new to the tenant (the rest replaced
    one), stored vectors taken over, searchable chunks left to the embedding queue."""

    counts: TransferCounts
    documents_created: int
    vectors_reused: int
    chunks_queued: int


QuotaValue = Union[int, None, str]


@dataclass
class QuotaLimits:
    """Storage limits or usage per kind. As limits: an int >= 0, None (no limit) or "default"
    (follow the memory's configured default; only in QuotaStatus.override)."""

    documents: QuotaValue
    chunks: QuotaValue
    bytes: QuotaValue
    vectors: QuotaValue


@dataclass
class QuotaStatus:
    """A tenant's limits in force (None: no limit), its own overrides and its usage."""

    limit: QuotaLimits
    override: QuotaLimits
    usage: QuotaLimits


@dataclass
class TenantUsage:
    """One tenant's usage (list_usage, for operators)."""

    owner_id: str
    usage: QuotaLimits
    limit: QuotaLimits
    searches_today: int
    adds_today: int
    near_limit: Optional[str]  # the first kind at 90% of its limit or more


@dataclass
class UsageDay:
    """A tenant's searches and adds on one UTC day (get_usage_days)."""

    day: date
    searches: int
    adds: int


@dataclass
class RateLimits:
    """Rates in operations a second: a number, None (no limit) or "default" (the configured
    one; only in an override)."""

    adds: Any
    searches: Any


@dataclass
class RateStatus:
    """A tenant's rates in force (None: no limit) and its own overrides (get_rates)."""

    limit: RateLimits
    override: RateLimits


@dataclass
class QuotaAlerts:
    """How many tenants are near their storage quotas (counts only, never names), per kind
    ("documents", "chunks", "bytes", "vectors") and threshold (get_quota_alerts)."""

    tenants: int
    at_80: dict[str, int]
    at_95: dict[str, int]
    at_100: dict[str, int]
    age_s: float


@dataclass
class AuditEntry:
    """One audit record (get_audit_log), newest first."""

    audit_id: int
    at: Optional[datetime]
    actor: str
    action: str  # "key.create", "key.revoke", "tenant.erase", "tenant.export", ...
    source: Optional[str]
    outcome: str  # "success" or "failure"
    detail: dict[str, Any]


def _iso(d: Optional[datetime]) -> Optional[str]:
    return d.isoformat() if d is not None else None


_scan = json.JSONDecoder().scan_once  # the C scanner: no encoding sniffing per call


def _json(text: Optional[bytes]) -> dict[str, Any]:
    """A JSON object from the library (always valid JSON text) as a dict."""
    if not text or text == b"{}":
        return {}
    try:
        v = _scan(text.decode("utf-8"), 0)[0]
    except (StopIteration, ValueError):
        v = json.loads(text)
    return v if isinstance(v, dict) else {}
