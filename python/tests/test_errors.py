"""Every exception class, raised by a real failure of the library (or, for the two the library
never raises, their constructors as in the original)."""

import pytest

import llmemory
from conftest import psql
from embed_server import EmbedServer
from llmemory import (
    ChunkingError,
    ConfigurationError,
    ConnectionError,
    DatabaseError,
    DocumentNotFoundError,
    Embedder,
    EmbeddingError,
    LLMemory,
    LLMemoryError,
    LLMemorySync,
    PermissionError,
    RateLimitError,
    ResourceNotFoundError,
    SearchError,
    TimeoutError,
    ValidationError,
)


def test_hierarchy():
    for cls in (ValidationError, ConfigurationError, DatabaseError, EmbeddingError, SearchError,
                ChunkingError, ResourceNotFoundError, RateLimitError, ConnectionError,
                PermissionError, TimeoutError):
        assert issubclass(cls, LLMemoryError)
    assert issubclass(DocumentNotFoundError, ResourceNotFoundError)
    assert issubclass(ValidationError, ValueError)
    assert issubclass(TimeoutError, __builtins__["TimeoutError"] if isinstance(
        __builtins__, dict) else __builtins__.TimeoutError)


def test_constructors_match_the_original():
    e = ValidationError("owner_id", "cannot be empty", "")
    assert str(e) == "Validation error for owner_id: cannot be empty"
    assert (e.field, e.value, e.message) == ("owner_id", "", "cannot be empty")
    assert e.details == {"field": "owner_id", "value": ""}
    assert str(DocumentNotFoundError("abc")) == "Document not found: abc"
    assert str(ResourceNotFoundError("Key", "k1")) == "Key not found: k1"
    assert str(ConnectionError("database", "refused")) == "Connection to database failed: refused"
    assert RateLimitError("slow down", retry_after=60.0).retry_after == 60.0
    assert SearchError("x", search_type="text").search_type == "text"
    assert ChunkingError("x", strategy="semantic").strategy == "semantic"
    assert EmbeddingError("x", provider="openai", error_type="auth").error_type == "auth"
    assert DatabaseError("x", operation="op", query="q").operation == "op"
    p = PermissionError("no", resource="r", action="a")
    assert (p.resource, p.action) == ("r", "a")


def test_validation_error_carries_the_library_record(mem):
    with pytest.raises(ValidationError) as e:
        mem.search("bad owner", "q")
    assert e.value.field == "owner_id" and e.value.code == "invalid_argument"
    assert e.value.message and not e.value.message.endswith(".")


def test_document_not_found(mem, tenant):
    with pytest.raises(DocumentNotFoundError) as e:
        mem.get_document(tenant, "00000000-0000-4000-8000-000000000000")
    assert e.value.code == "not_found" and e.value.document_id.startswith("00000000")
    with pytest.raises(ValidationError):
        mem.get_document(tenant, "not-a-uuid")


def test_resource_not_found_for_keys(mem, tenant):
    with pytest.raises(ResourceNotFoundError) as e:
        mem.revoke_api_key("0123456789abcdef", owner_id=tenant)
    assert not isinstance(e.value, DocumentNotFoundError)


def test_permission_error_for_a_bad_key(mem):
    with pytest.raises(PermissionError) as e:
        mem.verify_api_key("lmk_0123456789abcdef_" + "0" * 64)
    assert e.value.message == "invalid API key"


def test_connection_error(tmp_path):
    m = LLMemorySync(f"host={tmp_path} port=1 dbname=x connect_timeout=2")
    with pytest.raises(ConnectionError) as e:
        m.initialize()
    assert str(e.value).startswith("Connection to database failed: ")
    assert e.value.code == "connection_failure"


def test_configuration_errors(db_url):
    with pytest.raises(ConfigurationError):
        LLMemorySync(db_url, db_manager=object())
    with pytest.raises(ConfigurationError):
        LLMemorySync(db_url, config=object())
    with pytest.raises(ConfigurationError) as e:
        LLMemorySync(db_url, schema="bad-schema!").initialize()
    assert e.value.details.get("field") == "schema" or "schema" in e.value.message
    with pytest.raises(ConfigurationError):
        Embedder.http(base_url=None, model=None, dim=0)
    with pytest.raises(ValidationError):
        LLMemorySync(db_url, embed_mode="later")


def test_database_error_from_a_modified_migration(db_url):
    schema = "pytest_dberr"
    LLMemorySync(db_url, schema=schema).close() if False else None
    with LLMemorySync(db_url, schema=schema):
        pass
    tables = psql(db_url, f"SELECT table_name FROM information_schema.columns WHERE "
                          f"table_schema = '{schema}' AND column_name = 'checksum'")
    assert tables, "the migration bookkeeping table has a checksum column"
    psql(db_url, f"UPDATE {schema}.{tables.splitlines()[0]} SET checksum = 'tampered'")
    with pytest.raises(DatabaseError) as e:
        LLMemorySync(db_url, schema=schema).initialize()
    assert e.value.code == "database_error" and not e.value.retryable
    psql(db_url, f"DROP SCHEMA {schema} CASCADE")


def test_timeout_error_from_a_slow_provider():
    srv = EmbedServer(delay_ms=3000).start()
    try:
        e = Embedder.http(base_url=srv.url, model="m", dim=8, max_retries=-1, timeout_ms=300)
        with pytest.raises(TimeoutError) as err:
            e.embed(["hello"])
        assert err.value.code == "timeout"
    finally:
        srv.stop()


def test_embedding_error_when_the_provider_is_unreachable():
    e = Embedder.http(base_url="http://127.0.0.1:9/v1", model="m", dim=8, max_retries=-1,
                      timeout_ms=2000)
    with pytest.raises(EmbeddingError) as err:
        e.embed(["hello"])
    assert err.value.code == "connection_failure"


def test_rate_limit_error_from_a_429_provider():
    srv = EmbedServer(status=429).start()
    try:
        e = Embedder.http(base_url=srv.url, model="m", dim=8, max_retries=-1)
        with pytest.raises(RateLimitError):
            e.embed(["hello"])
    finally:
        srv.stop()


def test_embedding_error_from_a_401_provider():
    srv = EmbedServer(status=401).start()
    try:
        e = Embedder.http(base_url=srv.url, model="m", dim=8, api_key="sk-wrong", max_retries=-1)
        with pytest.raises(EmbeddingError) as err:
            e.embed(["hello"])
        assert "sk-wrong" not in str(err.value) + err.value.detail
    finally:
        srv.stop()


def test_closed_memory_refuses_calls(db_url, schema):
    m = LLMemorySync(db_url, schema=schema)
    m.initialize()
    m.close()
    with pytest.raises(LLMemoryError):
        m.list_documents("x")


def test_async_errors_are_the_same_classes(db_url, schema):
    import asyncio

    async def run():
        async with LLMemory(db_url, schema=schema) as m:
            with pytest.raises(ValidationError):
                await m.search("", "q")
            with pytest.raises(DocumentNotFoundError):
                await m.delete_document("t", "00000000-0000-4000-8000-000000000000")

    asyncio.run(run())
    assert llmemory.LLMemoryError
