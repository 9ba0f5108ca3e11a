"""Exception hierarchy of llmemory, with the Python original's class names and constructors.

Every failure of the C library is raised as one of these, chosen from its lm_error code (and, for
database errors, its SQLSTATE). Each instance carries what the library reported: ``code`` (the
stable symbolic name, e.g. ``"invalid_argument"``), ``sqlstate``, ``detail``, ``hint`` and, for
validation errors, ``field``.
"""

from __future__ import annotations

import builtins
from typing import Any, Optional


class LLMemoryError(Exception):
    """Base class of every llmemory error. ``str(e) == e.message``."""

    code: str = "error"
    sqlstate: str = ""
    detail: str = ""
    hint: str = ""

    def __init__(self, message: str, details: Optional[dict[str, Any]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


class ValidationError(LLMemoryError, ValueError):
    """An argument was rejected before any change was made (also a ``ValueError``)."""

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        super().__init__(message, {"field": field, "value": value})
        self.field = field
        self.value = value

    def __str__(self) -> str:
        return f"Validation error for {self.field}: {self.message}"


class QuotaExceededError(ValidationError):
    """A write would take the tenant's usage of one kind (``field``: "documents", "chunks",
    "bytes" or "vectors") past its quota; nothing was written. ``detail`` gives the limit and
    the usage. A ValidationError, as every other exceeded limit."""


_QUOTA_KINDS = ("documents", "chunks", "bytes", "vectors")


class ConfigurationError(LLMemoryError):
    """The memory or an embedder could not be configured as asked."""


class DatabaseError(LLMemoryError):
    """PostgreSQL reported an error, or the embedded database could not be run."""

    def __init__(self, message: str, operation: Optional[str] = None,
                 query: Optional[str] = None, **kw: Any) -> None:
        super().__init__(message, dict(kw))
        self.operation = operation
        self.query = query
        for k, v in kw.items():
            setattr(self, k, v)

    @property
    def retryable(self) -> bool:
        """True for a serialization failure or deadlock: the same call may simply be repeated."""
        return self.code == "retry"


class EmbeddingError(LLMemoryError):
    """The embedding provider failed (network, bad key, malformed response...)."""

    def __init__(self, message: str, provider: str = "openai", **kw: Any) -> None:
        super().__init__(message, dict(kw))
        self.provider = provider
        for k, v in kw.items():
            setattr(self, k, v)


class SearchError(LLMemoryError):
    """Kept for compatibility; search failures are raised as the more specific classes."""

    def __init__(self, message: str, search_type: Optional[str] = None, **kw: Any) -> None:
        super().__init__(message, dict(kw))
        self.search_type = search_type


class ChunkingError(LLMemoryError):
    """Kept for compatibility; the C chunker does not fail on valid UTF-8 content."""

    def __init__(self, message: str, strategy: Optional[str] = None, **kw: Any) -> None:
        super().__init__(message, dict(kw))
        self.strategy = strategy


class ResourceNotFoundError(LLMemoryError):
    """A named object does not exist for this tenant."""

    def __init__(self, resource_type: str, identifier: str) -> None:
        super().__init__(f"{resource_type} not found: {identifier}",
                         {"resource_type": resource_type, "identifier": identifier})
        self.resource_type = resource_type
        self.identifier = identifier


class DocumentNotFoundError(ResourceNotFoundError):
    """The tenant has no such document (another tenant's document looks exactly the same)."""

    def __init__(self, document_id: Any) -> None:
        super().__init__("Document", str(document_id))
        self.document_id = str(document_id)


class RateLimitError(LLMemoryError):
    """The embedding provider kept rate limiting after all retries, or a size cap was hit."""

    def __init__(self, message: str, retry_after: Optional[float] = None, **kw: Any) -> None:
        super().__init__(message, dict(kw))
        self.retry_after = retry_after


class ConnectionError(LLMemoryError):  # noqa: A001 - the original's name
    """A service (the database, an embedding provider) could not be reached."""

    def __init__(self, service: str, message: str, **kw: Any) -> None:
        super().__init__(f"Connection to {service} failed: {message}", dict(kw))
        self.service = service
        self.reason = message


class PermissionError(LLMemoryError):  # noqa: A001 - the original's name
    """Refused: an invalid, revoked or expired API key, or missing database privileges."""

    def __init__(self, message: str, resource: Optional[str] = None,
                 action: Optional[str] = None) -> None:
        super().__init__(message, {"resource": resource, "action": action})
        self.resource = resource
        self.action = action


class TimeoutError(LLMemoryError, builtins.TimeoutError):  # noqa: A001
    """A statement or a provider request timed out (also a builtin ``TimeoutError``)."""

    def __init__(self, message: str) -> None:
        LLMemoryError.__init__(self, message)


def _decorate(exc: LLMemoryError, code: str, sqlstate: str, detail: str, hint: str) -> LLMemoryError:
    exc.code = code
    exc.sqlstate = sqlstate
    exc.detail = detail
    exc.hint = hint
    return exc


_PROVIDER_MESSAGES = ("could not embed", "could not reach embedding", "embedding provider ",
                      "embedding request", "embedding response")


def from_error(code: int, name: str, message: str, detail: str, hint: str, field: str,
               sqlstate: str, *, resource: Optional[str] = None,
               identifier: Optional[str] = None, action: Optional[str] = None,
               embedding: Optional[bool] = None) -> BaseException:
    """The exception for one lm_error record (used by the binding; see README for the table).
    ``embedding``: the failure came from an embedding provider (None: tell by the message)."""
    if embedding is None:
        embedding = message.startswith(_PROVIDER_MESSAGES) or "Embedding provider" in detail
    exc: BaseException
    if code == -2:  # LM_ENOMEM
        return MemoryError(message)
    if code in (-3, -13) and not embedding:  # EINVAL, EPARSE
        exc = ValidationError(field or "input", message)
    elif code == -4:  # ENOTFOUND
        if resource == "Document":
            exc = DocumentNotFoundError(identifier or "")
        else:
            exc = ResourceNotFoundError(resource or "object", identifier or "")
        exc.message = message if resource is None else exc.message
    elif code == -12:  # EPERM
        exc = EmbeddingError(message, provider=field or "") if embedding else PermissionError(
            message, resource=resource, action=action)
    elif code == -11 and embedding:  # ELIMIT from the provider
        exc = RateLimitError(message)
    elif code == -11 and field in _QUOTA_KINDS:
        exc = QuotaExceededError(field, message)
    elif code == -11:
        exc = ValidationError(field or "limit", message)
    elif code == -9:  # ECONN
        exc = EmbeddingError(message) if embedding else ConnectionError("database", message)
    elif code == -8:  # ETIMEOUT (a statement, the embedded server's start, or a provider)
        exc = TimeoutError(message)
    elif embedding:
        exc = EmbeddingError(message)
    else:  # EDB, EEXISTS, ECONFLICT, ERETRY, EIO, ERROR
        exc = DatabaseError(message)
    assert isinstance(exc, LLMemoryError)
    return _decorate(exc, name, sqlstate, detail, hint)


__all__ = [
    "LLMemoryError", "ValidationError", "ConfigurationError", "DatabaseError", "EmbeddingError",
    "SearchError", "ChunkingError", "ResourceNotFoundError", "DocumentNotFoundError",
    "RateLimitError", "ConnectionError", "PermissionError", "TimeoutError", "QuotaExceededError",
]
