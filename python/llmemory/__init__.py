"""llmemory: multi-tenant document memory with BM25, vector and hybrid search.

A thin binding over libllmemory (the C library) with the API of the Python llmemory package:
``LLMemory`` (async) and ``LLMemorySync`` (the same calls, synchronous).
"""

from ._native import library_path
from .client import LLMemory
from .embedders import Embedder
from .exceptions import (
    ChunkingError,
    ConfigurationError,
    ConnectionError,
    DatabaseError,
    DocumentNotFoundError,
    EmbeddingError,
    LLMemoryError,
    PermissionError,
    QuotaExceededError,
    RateLimitError,
    ResourceNotFoundError,
    SearchError,
    TimeoutError,
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
    EmbeddingStatus,
    EnrichedSearchResult,
    EraseReport,
    ImportResult,
    QuotaLimits,
    QuotaAlerts,
    QuotaStatus,
    RateLimits,
    RateStatus,
    TenantUsage,
    UsageDay,
    TransferCounts,
    AuditEntry,
    KeyScope,
    OptimizeReport,
    OwnerStatistics,
    PoolUsage,
    Principal,
    SearchHistoryEntry,
    SearchResult,
    SearchResultWithDocuments,
    SearchType,
)
from .sync import (
    LLMemorySync,
    embedded_start,
    embedded_status,
    embedded_stop,
    owner_covers,
    set_audit_context,
)


def library_version() -> str:
    """Version of the loaded libllmemory ("0.1.0")."""
    from . import _native

    return _native.lib.lm_version().decode()


__version__ = "0.1.0"

__all__ = [
    "LLMemory", "LLMemorySync", "Embedder", "owner_covers", "embedded_status", "embedded_start",
    "embedded_stop", "library_path", "library_version",
    "Document", "DocumentChunk", "DocumentType", "SearchType", "ChunkingConfig",
    "ChunkingStrategy", "EmbeddingStatus", "KeyScope", "DocumentListResult", "DocumentWithChunks",
    "EnrichedSearchResult", "SearchResult", "SearchResultWithDocuments", "DocumentAddResult",
    "OwnerStatistics", "DeleteResult", "SearchHistoryEntry", "EmbeddingQueueStats",
    "EmbeddingRunResult", "ApiKey", "ApiKeyInfo", "Principal", "OptimizeReport", "PoolUsage",
    "EmbeddedDatabaseInfo",
    "LLMemoryError", "ValidationError", "ConfigurationError", "DatabaseError", "EmbeddingError",
    "SearchError", "ChunkingError", "ResourceNotFoundError", "DocumentNotFoundError",
    "RateLimitError", "ConnectionError", "PermissionError", "TimeoutError", "QuotaExceededError",
    "TransferCounts", "ImportResult", "EraseReport", "QuotaLimits", "QuotaStatus", "TenantUsage",
    "UsageDay", "RateLimits", "RateStatus", "QuotaAlerts",
    "AuditEntry", "set_audit_context",
]
