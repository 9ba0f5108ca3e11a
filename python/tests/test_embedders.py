"""Embedders: built-in, HTTP (against a local OpenAI-compatible server), from the environment,
and embedders written in Python; each used by a memory for vector search."""

import math

import pytest

from embed_server import EmbedServer, embed
from conftest import ROOT
from llmemory import (
    ConfigurationError,
    Embedder,
    LLMemorySync,
    ResourceNotFoundError,
    ValidationError,
)


def _norm(v):
    return math.sqrt(sum(x * x for x in v))


def test_builtin():
    e = Embedder.builtin(64)
    assert (e.dim, e.kind, e.model) == (64, "builtin", "hash-v2")
    assert e.provider_id.startswith("builtin-")
    a, b, c = e.embed(["vacation policy", "vacation policy", "quantum physics"])
    assert a == b and abs(_norm(a) - 1) < 1e-5
    assert sum(x * y for x, y in zip(a, b)) > sum(x * y for x, y in zip(a, c))
    with pytest.raises(ValidationError):
        e.embed([])
    with pytest.raises(ConfigurationError):
        Embedder.builtin(3)
    e.close()
    e.close()
    with pytest.raises(ConfigurationError):
        e.dim


def test_http_embedder_matches_the_server():
    srv = EmbedServer(dim=32).start()
    try:
        e = Embedder.http(base_url=srv.url, model="hash", dim=32, batch_size=2)
        assert e.kind == "http" and e.provider_id == "http:hash"
        got = e.embed(["one", "two words", "three little words"])
        for text, vec in zip(["one", "two words", "three little words"], got):
            assert vec == pytest.approx(embed(text, 32), abs=1e-6)
        assert srv.requests == 2
    finally:
        srv.stop()


def test_memory_with_http_embedder(db_url, tenant):
    srv = EmbedServer(dim=48).start()
    try:
        e = Embedder.http(base_url=srv.url, model="hash48", dim=48)
        with LLMemorySync(db_url, schema="pytest_http48", embedder=e) as m:
            r = m.add_document(tenant, "d", "d", "text", "penguins live in antarctica")
            assert r.embeddings_created == r.chunks_created
            res = m.search(tenant, "antarctic penguin", search_type="vector")
            assert res and res[0].similarity > 0.2
            m.erase_tenant(tenant)
    finally:
        srv.stop()


def test_from_env(monkeypatch):
    monkeypatch.setenv("LLMEMORY_EMBEDDER", "builtin")
    monkeypatch.setenv("LLMEMORY_EMBED_DIM", "128")
    e = Embedder.from_env()
    assert e is not None and e.dim == 128
    monkeypatch.setenv("LLMEMORY_EMBEDDER", "none")
    assert Embedder.from_env() is None
    monkeypatch.setenv("LLMEMORY_EMBEDDER", "telepathy")
    with pytest.raises(ConfigurationError) as err:
        Embedder.from_env()
    assert "LLMEMORY_EMBEDDER" in err.value.message + err.value.detail + err.value.hint


def test_python_embedder_drives_vector_search(db_url, tenant):
    seen = []

    def fn(texts):
        seen.extend(texts)
        return [embed(t, 16) for t in texts]

    e = Embedder.custom(fn, dim=16, provider_id="py-hash-16")
    assert e.kind == "custom" and e.embed(["abc"])[0] == pytest.approx(embed("abc", 16), abs=1e-6)
    with LLMemorySync(db_url, schema="pytest_custom16", embedder=e) as m:
        m.add_document(tenant, "d", "d", "text", "kangaroos hop across australia")
        res = m.search(tenant, "kangaroo australia", search_type="vector")
        assert res and "kangaroos" in res[0].content
        assert "kangaroo australia" in seen
        m.erase_tenant(tenant)


def test_failing_python_embedder_is_an_embedding_error(db_url):
    from llmemory import EmbeddingError

    def fn(texts):
        raise RuntimeError("model not loaded")

    e = Embedder.custom(fn, dim=8, provider_id="py-broken")
    with pytest.raises(EmbeddingError):
        e.embed(["x"])


def test_no_embedder_means_no_vector_search(db_url, schema, tenant):
    with LLMemorySync(db_url, schema=schema, no_embedder=True) as m:
        assert m.embedder is None
        m.add_document(tenant, "d", "d", "text", "text only memory")
        assert m.search(tenant, "memory", search_type="text")
        with pytest.raises(ValidationError) as e:
            m.search(tenant, "memory", search_type="vector")
        assert e.value.field == "search_type"


TINY_MODEL = ROOT / "tests" / "unit" / "embed" / "local" / "tiny"


@pytest.mark.skipif(not Embedder.has_local(), reason="this libllmemory has no local encoder")
def test_local_encoder(db_url, tenant, monkeypatch):
    e = Embedder.local(str(TINY_MODEL), threads=2)
    assert e.kind == "local" and e.provider_id.startswith("local:")
    a, b = e.embed(["a test sentence", "a test sentence"])
    assert a == b and abs(_norm(a) - 1) < 1e-4
    assert len(e.embed_query(["a test sentence"])[0]) == e.dim
    with pytest.raises(ResourceNotFoundError):
        Embedder.local(str(TINY_MODEL / "missing"))
    monkeypatch.setenv("LLMEMORY_EMBEDDER", "local:" + str(TINY_MODEL))
    env = Embedder.from_env()
    assert env is not None and env.provider_id == e.provider_id
    with LLMemorySync(db_url, schema="pytest_local", embedder=e) as m:
        m.add_document(tenant, "d", "d", "text", "a test sentence about the model")
        assert m.search(tenant, "test sentence", search_type="vector")
        m.erase_tenant(tenant)


def test_local_encoder_absent_is_a_configuration_error():
    if Embedder.has_local():
        pytest.skip("this libllmemory has the local encoder")
    with pytest.raises(ConfigurationError):
        Embedder.local(str(TINY_MODEL))
