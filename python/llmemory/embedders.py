"""Embedding providers: the built-in deterministic embedder, an OpenAI-compatible HTTP client, the
one the environment describes (LLMEMORY_EMBEDDER), and embedders written in Python.

An Embedder may be shared by several memories and threads. A memory borrows it: keep the
Embedder alive while a memory uses it (LLMemory keeps a reference for you).
"""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Callable, Optional, Sequence

from . import _native as N
from ._util import b, check, cstr_array, s
from .exceptions import ConfigurationError, ValidationError


class Embedder:
    """A handle on a C lm_embedder. Build one with the class methods below."""

    def __init__(self, handle: int, keepalive: object = None) -> None:
        self._h: Optional[int] = handle
        self._keepalive = keepalive
        self._lock = threading.Lock()

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def builtin(cls, dim: int = 0) -> "Embedder":
        """The built-in deterministic embedder (no network, no model file; lexical similarity).
        ``dim`` 8..16000, or 0 for 384."""
        out = ctypes.c_void_p()
        _config(N.lib.lm_embedder_builtin_new(ctypes.byref(out), int(dim)))
        return cls(out.value)

    @classmethod
    def http(cls, *, base_url: Optional[str] = None, model: Optional[str] = None,
             dim: int, api_key: Optional[str] = None, batch_size: int = 0,
             concurrency: int = 0, timeout_ms: int = 0, max_retries: int = 0,
             retry_base_ms: int = 0, retry_max_ms: int = 0,
             send_dimensions: bool = False) -> "Embedder":
        """An OpenAI-compatible embeddings client (OpenAI, Ollama, vLLM, llama.cpp, TEI).
        Unset values come from LLMEMORY_EMBED_URL / _MODEL / _API_KEY (then OPENAI_API_KEY)."""
        o = N.HttpEmbedderOpts()
        N.lib.lm_http_embedder_opts_init(ctypes.byref(o), N.HTTP_EMBEDDER_OPTS_VERSION)
        o.base_url = b(base_url, "base_url")
        o.model = b(model, "model")
        o.api_key = b(api_key, "api_key")
        o.dim = int(dim)
        o.batch_size = batch_size
        o.concurrency = concurrency
        o.timeout_ms = timeout_ms
        o.max_retries = max_retries
        o.retry_base_ms = retry_base_ms
        o.retry_max_ms = retry_max_ms
        o.send_dimensions = 1 if send_dimensions else 0
        out = ctypes.c_void_p()
        _config(N.lib.lm_embedder_http_new(ctypes.byref(out), ctypes.byref(o)))
        return cls(out.value)

    @classmethod
    def openai(cls, api_key: Optional[str] = None, model: str = "text-embedding-3-small",
               dim: int = 1536, base_url: Optional[str] = None) -> "Embedder":
        """OpenAI's embeddings API (what the Python original used by default). ``base_url``
        defaults to $OPENAI_BASE_URL (as for the openai client), else OpenAI's."""
        url = base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        return cls.http(base_url=url, model=model, dim=dim, api_key=api_key)

    @classmethod
    def local(cls, model_dir: str, *, threads: int = 0, int8: Optional[bool] = None,
              max_tokens: int = 0, model_name: Optional[str] = None,
              query_prefix: Optional[str] = None) -> "Embedder":
        """The local encoder: a BERT-family sentence-transformers model directory (MiniLM, bge,
        e5, gte) run on the CPU by the library. ``int8=None``: $LLMEMORY_LOCAL_INT8. Requires a
        library built with it (``Embedder.has_local()``); see docs/embeddings.md."""
        if not cls.has_local():
            raise ConfigurationError("this libllmemory has no local encoder "
                                     "(lm_embedder_local_new)")
        o = N.LocalEmbedderOpts()
        N.lib.lm_local_embedder_opts_init(ctypes.byref(o), N.LOCAL_EMBEDDER_OPTS_VERSION)
        o.threads = int(threads)
        o.int8 = -1 if int8 is None else (1 if int8 else 0)
        o.max_tokens = int(max_tokens)
        o.model_name = b(model_name, "model_name")
        o.query_prefix = b(query_prefix, "query_prefix")
        out = ctypes.c_void_p()
        rc = N.lib.lm_embedder_local_new(ctypes.byref(out), b(model_dir, "model_dir"),
                                         ctypes.byref(o))
        if rc == -4:  # not found: the message names the missing file
            check(rc, resource="Model file", identifier=str(model_dir))
        _config(rc)
        return cls(out.value)

    @staticmethod
    def has_local() -> bool:
        """True when the loaded library has the local encoder."""
        return N.has("lm_embedder_local_new")

    @classmethod
    def from_env(cls) -> Optional["Embedder"]:
        """The embedder LLMEMORY_EMBEDDER describes ("builtin" by default, "openai"/"http",
        "local" where the library has it, or "none", which returns None)."""
        out = ctypes.c_void_p()
        _config(N.lib.lm_embedder_from_env(ctypes.byref(out)))
        return cls(out.value) if out.value else None

    @classmethod
    def custom(cls, fn: Callable[[list[str]], Sequence[Sequence[float]]], *, dim: int,
               provider_id: str, model: Optional[str] = None) -> "Embedder":
        """An embedder written in Python: ``fn(texts) -> one vector of dim floats per text``
        (e.g. a sentence-transformers model). ``provider_id`` names the model and its settings;
        vectors of different ids are never compared. ``fn`` runs with the GIL held, on the
        library's threads."""

        def embed(_self, out, d, texts, lens, n):  # type: ignore[no-untyped-def]
            try:
                items = [ctypes.string_at(texts[i], lens[i]).decode("utf-8", "replace")
                         for i in range(n)]
                vecs = fn(items)
                if len(vecs) != n:
                    return -13  # LM_EPARSE
                k = 0
                for v in vecs:
                    if len(v) != d:
                        return -13
                    for x in v:
                        out[k] = float(x)
                        k += 1
                return 0
            except Exception:  # noqa: BLE001 - reported to the library as a failed call
                return -1

        ops = N.EmbedderOps()
        ops.version = N.EMBEDDER_OPS_VERSION
        ops.embed = N.EMBED_FN(embed)
        ops.free = N.FREE_FN()
        out = ctypes.c_void_p()
        _config(N.lib.lm_embedder_custom_new(ctypes.byref(out), b(provider_id, "provider_id"),
                                             b(model or provider_id, "model"), int(dim),
                                             ctypes.byref(ops), None))
        return cls(out.value, keepalive=(ops, ops.embed, fn))

    # -- use ----------------------------------------------------------------------------------
    @property
    def handle(self) -> int:
        if self._h is None:
            raise ConfigurationError("embedder is closed")
        return self._h

    @property
    def dim(self) -> int:
        return int(N.lib.lm_embedder_dim(self.handle))

    @property
    def provider_id(self) -> str:
        return s(N.lib.lm_embedder_provider_id(self.handle))

    @property
    def kind(self) -> str:
        """"builtin", "http", "custom" (or "local")."""
        return s(N.lib.lm_embedder_kind(self.handle))

    @property
    def model(self) -> str:
        return s(N.lib.lm_embedder_model(self.handle))

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed texts (runs in C; the GIL is released unless this is a Python embedder)."""
        if isinstance(texts, str):
            raise ValidationError("texts", "texts must be a list of strings", texts)
        raw = [b(t, "texts") or b"" for t in texts]
        if not raw:
            raise ValidationError("texts", "cannot embed an empty list of texts")
        d = self.dim
        out = (ctypes.c_float * (d * len(raw)))()
        lens = (ctypes.c_size_t * len(raw))(*[len(x) for x in raw])
        check(N.lib.lm_embedder_embed(self.handle, out, cstr_array(raw), lens, len(raw)),
              embedding=True)
        return [list(out[i * d:(i + 1) * d]) for i in range(len(raw))]

    def embed_query(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed search queries: models trained with a query instruction (bge, e5) get it
        prepended; for other embedders this is embed(). Needs a library that has it."""
        if not N.has("lm_embedder_embed_query"):
            return self.embed(texts)
        if isinstance(texts, str):
            raise ValidationError("texts", "texts must be a list of strings", texts)
        raw = [b(t, "texts") or b"" for t in texts]
        if not raw:
            raise ValidationError("texts", "cannot embed an empty list of texts")
        d = self.dim
        out = (ctypes.c_float * (d * len(raw)))()
        lens = (ctypes.c_size_t * len(raw))(*[len(x) for x in raw])
        check(N.lib.lm_embedder_embed_query(self.handle, out, cstr_array(raw), lens, len(raw)),
              embedding=True)
        return [list(out[i * d:(i + 1) * d]) for i in range(len(raw))]

    def close(self) -> None:
        """Free the C embedder. Only once no memory uses it any more."""
        with self._lock:
            if self._h is not None:
                N.lib.lm_embedder_free(self._h)
                self._h = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def __repr__(self) -> str:
        if self._h is None:
            return "<Embedder closed>"
        return f"<Embedder {self.provider_id} dim={self.dim}>"


def _config(rc: int) -> None:
    """Embedder constructors report bad settings as ConfigurationError."""
    try:
        check(rc, embedding=False)
    except ValidationError as e:
        err = ConfigurationError(e.message, {"field": e.field})
        err.code, err.detail, err.hint = e.code, e.detail, e.hint
        raise err from None
