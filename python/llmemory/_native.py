"""ctypes declarations of libllmemory's public C API (include/llmemory/*.h).

This module is the only place that knows the C layouts. Every structure mirrors its header field
by field; tests/test_abi.py compares sizes and offsets with the C compiler's when one is present.
ctypes releases the GIL around every foreign call, so the C library runs while other Python
threads (and the event loop) keep going.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int64,
    c_long,
    c_longlong,
    c_size_t,
    c_uint,
    c_void_p,
)
from pathlib import Path

UUID_LEN = 36
KEY_ID_LEN = 16
KEY_LEN = 4 + 16 + 1 + 64
MAX_OWNER_ID_BYTES = 255
MAX_ID_AT_ORIGIN_BYTES = 255
DOC_TYPE_COUNT = 14

MEMORY_OPTS_VERSION = 1
DOC_ADD_OPTS_VERSION = 1
DOC_LIST_OPTS_VERSION = 1
SEARCH_OPTS_VERSION = 2
HTTP_EMBEDDER_OPTS_VERSION = 1
KEY_OPTS_VERSION = 1
EMBED_RUN_OPTS_VERSION = 1
EMBEDDER_OPS_VERSION = 1

EMBED_SYNC = 0
EMBED_QUEUE = 1

LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
RERANK_FN = CFUNCTYPE(c_int, POINTER(c_double), c_char_p, POINTER(c_char_p), c_size_t, c_void_p)
EMBED_FN = CFUNCTYPE(c_int, c_void_p, POINTER(c_float), c_int, POINTER(c_char_p),
                     POINTER(c_size_t), c_size_t)
FREE_FN = CFUNCTYPE(None, c_void_p)
WRITE_CB = CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)
READ_CB = CFUNCTYPE(c_long, c_void_p, c_size_t, c_void_p)
PROGRESS_CB = CFUNCTYPE(None, c_int64, c_int64, c_void_p)

EXPORT_OPTS_VERSION = 1
IMPORT_OPTS_VERSION = 1
QUOTA_DEFAULT = -2
QUOTA_NONE = -1


class Error(Structure):
    _fields_ = [
        ("code", c_int),
        ("message", c_char_p),
        ("detail", c_char_p),
        ("hint", c_char_p),
        ("field", c_char_p),
        ("sqlstate", c_char * 6),
    ]


class MemoryOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("database_url", c_char_p),
        ("home", c_char_p),
        ("schema", c_char_p),
        ("pool_size", c_int),
        ("disable_history", c_int),
        ("max_content_bytes", c_size_t),
        ("max_limit", c_int),
        ("text_config", c_char_p),
        ("bm25_k1", c_double),
        ("bm25_b", c_double),
        ("connect_timeout_s", c_int),
        ("log_fn", LOG_FN),
        ("log_level", c_int),
        ("log_payload", c_void_p),
        ("embedder", c_void_p),
        ("no_embedder", c_int),
        ("embed_mode", c_int),
        ("vector_index_threshold", c_int),
        ("hnsw_m", c_int),
        ("hnsw_ef_construction", c_int),
        ("hnsw_ef_search", c_int),
        ("rerank_fn", RERANK_FN),
        ("rerank_payload", c_void_p),
        ("no_bm25_extension", c_int),
        ("no_prepared_statements", c_int),
        ("statement_timeout_ms", c_int),
        ("quota_documents", c_int64),
        ("quota_chunks", c_int64),
        ("quota_bytes", c_int64),
        ("quota_vectors", c_int64),
        ("rate_adds", c_double),
        ("rate_searches", c_double),
        ("rate_burst", c_double),
        ("migrate_url", c_char_p),
        ("tenancy", c_int),
        ("tenant_url", c_char_p),
        ("tenant_map", c_char_p),
        ("tenant_handles", c_int),
        ("vector_index_max_per_tenant", c_int),
        ("vector_index_max_per_tree", c_int),
    ]


class OptimizeReport(Structure):
    _fields_ = [
        ("postings_pages_before", c_longlong),
        ("postings_pages_after", c_longlong),
        ("elapsed_ms", c_double),
    ]


class PoolUsage(Structure):
    _fields_ = [("size", c_int), ("open", c_int), ("in_use", c_int)]


class DbInfo(Structure):
    _fields_ = [
        ("initialized", c_int),
        ("running", c_int),
        ("pid", c_long),
        ("home", c_char * 512),
        ("socket_dir", c_char * 512),
        ("conninfo", c_char * 1024),
        ("server_version", c_char * 32),
    ]


class DocAddOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("document_date", c_char_p),
        ("metadata", c_char_p),
        ("text_config", c_char_p),
        ("strategy", c_int),
    ]


class DocAddResult(Structure):
    _fields_ = [
        ("document_id", c_char * (UUID_LEN + 1)),
        ("created", c_int),
        ("chunk_count", c_int),
        ("elapsed_ms", c_double),
        ("embedded", c_int),
        ("queued", c_int),
    ]


class Document(Structure):
    _fields_ = [
        ("document_id", c_char * (UUID_LEN + 1)),
        ("owner_id", c_char_p),
        ("id_at_origin", c_char_p),
        ("type", c_int),
        ("name", c_char_p),
        ("document_date", c_char_p),
        ("metadata", c_char_p),
        ("text_config", c_char_p),
        ("created_at", c_char_p),
        ("updated_at", c_char_p),
        ("chunk_count", c_int64),
        ("content_bytes", c_int64),
    ]


class Chunk(Structure):
    _fields_ = [
        ("chunk_id", c_char * (UUID_LEN + 1)),
        ("parent_chunk_id", c_char * (UUID_LEN + 1)),
        ("chunk_index", c_int),
        ("chunk_level", c_int),
        ("searchable", c_int),
        ("token_count", c_int),
        ("content", c_char_p),
        ("content_hash", c_char_p),
        ("metadata", c_char_p),
    ]


class DocListOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("limit", c_int),
        ("offset", c_int64),
        ("order_by", c_int),
        ("ascending", c_int),
        ("has_type", c_int),
        ("type", c_int),
        ("metadata_filter", c_char_p),
        ("include_subtenants", c_int),
    ]


class Stats(Structure):
    _fields_ = [
        ("document_count", c_int64),
        ("chunk_count", c_int64),
        ("total_bytes", c_int64),
        ("by_type", c_int64 * DOC_TYPE_COUNT),
        ("first_created", c_char * 40),
        ("last_created", c_char * 40),
    ]


class SearchOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("type", c_int),
        ("limit", c_int),
        ("id_at_origin", c_char_p),
        ("id_at_origins", POINTER(c_char_p)),
        ("n_id_at_origins", c_size_t),
        ("metadata_filter", c_char_p),
        ("has_type", c_int),
        ("doc_type", c_int),
        ("date_from", c_char_p),
        ("date_to", c_char_p),
        ("text_config", c_char_p),
        ("no_history", c_int),
        ("alpha", c_double),
        ("rrf_k", c_int),
        ("candidates", c_int),
        ("with_documents", c_int),
        ("include_parent_context", c_int),
        ("context_window", c_int),
        ("expand", c_int),
        ("max_variants", c_int),
        ("rerank", c_int),
        ("rerank_top_k", c_int),
        ("syntax", c_int),
        ("include_subtenants", c_int),
    ]


class Hit(Structure):
    _fields_ = [
        ("chunk_id", c_char * (UUID_LEN + 1)),
        ("document_id", c_char * (UUID_LEN + 1)),
        ("id_at_origin", c_char_p),
        ("document_name", c_char_p),
        ("document_type", c_int),
        ("content", c_char_p),
        ("metadata", c_char_p),
        ("rank", c_int),
        ("score", c_double),
        ("text_score", c_double),
        ("text_rank", c_int),
        ("vector_score", c_double),
        ("vector_rank", c_int),
        ("chunk_level", c_int),
        ("chunk_index", c_int),
        ("document_metadata", c_char_p),
        ("n_context", c_size_t),
        ("context", POINTER(Chunk)),
        ("owner_id", c_char_p),
    ]


class HistoryEntry(Structure):
    _fields_ = [
        ("search_id", c_char * (UUID_LEN + 1)),
        ("query", c_char_p),
        ("type", c_int),
        ("filters", c_char_p),
        ("result_count", c_int),
        ("latency_ms", c_double),
        ("created_at", c_char_p),
    ]


class HttpEmbedderOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("base_url", c_char_p),
        ("model", c_char_p),
        ("api_key", c_char_p),
        ("dim", c_int),
        ("batch_size", c_int),
        ("concurrency", c_int),
        ("timeout_ms", c_int),
        ("max_retries", c_int),
        ("retry_base_ms", c_int),
        ("retry_max_ms", c_int),
        ("send_dimensions", c_int),
    ]


class EmbedderOps(Structure):
    _fields_ = [("version", c_uint), ("embed", EMBED_FN), ("free", FREE_FN)]


class LocalEmbedderOpts(Structure):
    """lm_local_embedder_opts (libraries with the local encoder only)."""

    _fields_ = [
        ("version", c_uint),
        ("threads", c_int),
        ("int8", c_int),
        ("max_tokens", c_size_t),
        ("model_name", c_char_p),
        ("query_prefix", c_char_p),
    ]


LOCAL_EMBEDDER_OPTS_VERSION = 1


class KeyOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("origin", c_char_p),
        ("scope", c_int),
        ("allow_subtenants", c_int),
        ("expires_at", c_char_p),
        ("name", c_char_p),
    ]


class KeyCreated(Structure):
    _fields_ = [
        ("key_id", c_char * (KEY_ID_LEN + 1)),
        ("key", c_char * (KEY_LEN + 1)),
        ("created_at", c_char * 40),
        ("expires_at", c_char * 40),
    ]


class Principal(Structure):
    _fields_ = [
        ("key_id", c_char * (KEY_ID_LEN + 1)),
        ("owner_id", c_char * (MAX_OWNER_ID_BYTES + 1)),
        ("origin", c_char * (MAX_ID_AT_ORIGIN_BYTES + 1)),
        ("scope", c_int),
        ("allow_subtenants", c_int),
    ]


class KeyInfo(Structure):
    _fields_ = [
        ("key_id", c_char_p),
        ("owner_id", c_char_p),
        ("origin", c_char_p),
        ("scope", c_int),
        ("allow_subtenants", c_int),
        ("name", c_char_p),
        ("created_at", c_char_p),
        ("expires_at", c_char_p),
        ("revoked_at", c_char_p),
        ("last_used_at", c_char_p),
    ]


class EmbedRunOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("batch_size", c_int),
        ("max_batches", c_int),
        ("lease_s", c_int),
        ("max_attempts", c_int),
    ]


class EmbedRunResult(Structure):
    _fields_ = [("claimed", c_int64), ("embedded", c_int64), ("failed", c_int64), ("dead", c_int64)]


class EmbedQueueStats(Structure):
    _fields_ = [("pending", c_int64), ("processing", c_int64), ("dead", c_int64)]


class EraseReport(Structure):
    _fields_ = [
        ("documents", c_int64),
        ("chunks", c_int64),
        ("vectors", c_int64),
        ("queue_entries", c_int64),
        ("postings", c_int64),
        ("terms", c_int64),
        ("history", c_int64),
        ("vector_indexes", c_int64),
        ("api_keys", c_int64),
        ("other_rows", c_int64),
    ]


class TransferCounts(Structure):
    _fields_ = [("documents", c_int64), ("chunks", c_int64), ("vectors", c_int64)]


class ExportOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("with_vectors", c_int),
        ("batch", c_int),
        ("progress", PROGRESS_CB),
        ("progress_payload", c_void_p),
    ]


class ImportOpts(Structure):
    _fields_ = [
        ("version", c_uint),
        ("max_line_bytes", c_size_t),
        ("progress", PROGRESS_CB),
        ("progress_payload", c_void_p),
    ]


class ImportResult(Structure):
    _fields_ = [
        ("counts", TransferCounts),
        ("documents_created", c_int64),
        ("vectors_reused", c_int64),
        ("chunks_queued", c_int64),
    ]


class Quota(Structure):
    _fields_ = [("documents", c_int64), ("chunks", c_int64), ("bytes", c_int64),
                ("vectors", c_int64)]


class QuotaStatus(Structure):
    _fields_ = [("limit", Quota), ("override", Quota), ("usage", Quota)]


class UsageRow(Structure):
    _fields_ = [
        ("owner_id", c_char_p),
        ("usage", Quota),
        ("limit", Quota),
        ("searches_today", c_int64),
        ("adds_today", c_int64),
        ("near_limit", c_char_p),
    ]


class AuditEntry(Structure):
    _fields_ = [
        ("audit_id", c_int64),
        ("at", c_char_p),
        ("actor", c_char_p),
        ("action", c_char_p),
        ("source", c_char_p),
        ("outcome", c_char_p),
        ("detail", c_char_p),
    ]


class UsageDay(Structure):
    _fields_ = [("day", c_char * 11), ("searches", c_int64), ("adds", c_int64)]


class Rates(Structure):
    _fields_ = [("adds", c_double), ("searches", c_double)]


class RateStatus(Structure):
    _fields_ = [("limit", Rates), ("override", Rates)]


class QuotaAlerts(Structure):
    _fields_ = [("tenants", c_int64), ("at_80", c_int64 * 4), ("at_95", c_int64 * 4),
                ("at_100", c_int64 * 4), ("age_s", c_double)]


# Every structure whose layout tests/test_abi.py checks against the C compiler.
STRUCTS = {
    "lm_error": Error,
    "lm_memory_opts": MemoryOpts,
    "lm_optimize_report": OptimizeReport,
    "lm_pool_usage": PoolUsage,
    "lm_db_info": DbInfo,
    "lm_doc_add_opts": DocAddOpts,
    "lm_doc_add_result": DocAddResult,
    "lm_document": Document,
    "lm_chunk": Chunk,
    "lm_doc_list_opts": DocListOpts,
    "lm_stats": Stats,
    "lm_search_opts": SearchOpts,
    "lm_hit": Hit,
    "lm_history_entry": HistoryEntry,
    "lm_http_embedder_opts": HttpEmbedderOpts,
    "lm_embedder_ops": EmbedderOps,
    "lm_key_opts": KeyOpts,
    "lm_key_created": KeyCreated,
    "lm_principal": Principal,
    "lm_key_info": KeyInfo,
    "lm_embed_run_opts": EmbedRunOpts,
    "lm_embed_run_result": EmbedRunResult,
    "lm_embed_queue_stats": EmbedQueueStats,
    "lm_erase_report": EraseReport,
    "lm_transfer_counts": TransferCounts,
    "lm_export_opts": ExportOpts,
    "lm_import_opts": ImportOpts,
    "lm_import_result": ImportResult,
    "lm_quota": Quota,
    "lm_quota_status": QuotaStatus,
    "lm_usage_row": UsageRow,
    "lm_audit_entry": AuditEntry,
    "lm_usage_day": UsageDay,
    "lm_rates": Rates,
    "lm_rate_status": RateStatus,
    "lm_quota_alerts": QuotaAlerts,
}

P = c_void_p
PP = POINTER(c_void_p)

# name: (restype, argtypes)
_PROTOTYPES = {
    "lm_version": (c_char_p, []),
    "lm_error_last": (POINTER(Error), []),
    "lm_error_clear": (None, []),
    "lm_strerror": (c_char_p, [c_int]),
    "lm_errname": (c_char_p, [c_int]),
    "lm_doc_type_name": (c_char_p, [c_int]),
    "lm_doc_type_parse": (c_int, [POINTER(c_int), c_char_p]),
    "lm_search_type_name": (c_char_p, [c_int]),
    "lm_search_type_parse": (c_int, [POINTER(c_int), c_char_p]),
    "lm_query_syntax_parse": (c_int, [POINTER(c_int), c_char_p]),
    "lm_key_scope_name": (c_char_p, [c_int]),
    "lm_key_scope_parse": (c_int, [POINTER(c_int), c_char_p]),
    "lm_memory_opts_init": (c_int, [POINTER(MemoryOpts), c_uint]),
    "lm_memory_open": (c_int, [PP, POINTER(MemoryOpts)]),
    "lm_memory_close": (None, [P]),
    "lm_memory_schema": (c_char_p, [P]),
    "lm_memory_ready": (c_int, [P]),
    "lm_memory_optimize": (c_int, [P, POINTER(OptimizeReport)]),
    "lm_memory_pool_usage": (None, [POINTER(PoolUsage), P]),
    "lm_db_status": (c_int, [POINTER(DbInfo), c_char_p]),
    "lm_db_start": (c_int, [POINTER(DbInfo), c_char_p]),
    "lm_db_stop": (c_int, [c_char_p]),
    "lm_doc_add_opts_init": (c_int, [POINTER(DocAddOpts), c_uint]),
    "lm_doc_add": (c_int, [POINTER(DocAddResult), P, c_char_p, c_char_p, c_char_p, c_int,
                           c_char_p, c_size_t, POINTER(DocAddOpts)]),
    "lm_doc_get": (c_int, [PP, P, c_char_p, c_char_p, c_int]),
    "lm_doc_document": (POINTER(Document), [P]),
    "lm_doc_chunk_count": (c_size_t, [P]),
    "lm_doc_chunk_at": (POINTER(Chunk), [P, c_size_t]),
    "lm_doc_free": (None, [P]),
    "lm_doc_list_opts_init": (c_int, [POINTER(DocListOpts), c_uint]),
    "lm_doc_list": (c_int, [PP, P, c_char_p, POINTER(DocListOpts)]),
    "lm_doc_page_count": (c_size_t, [P]),
    "lm_doc_page_total": (c_int64, [P]),
    "lm_doc_page_at": (POINTER(Document), [P, c_size_t]),
    "lm_doc_page_free": (None, [P]),
    "lm_id_list_count": (c_size_t, [P]),
    "lm_id_list_at": (c_char_p, [P, c_size_t]),
    "lm_id_list_free": (None, [P]),
    "lm_doc_delete": (c_int, [PP, P, c_char_p, POINTER(c_char_p), c_size_t, c_char_p]),
    "lm_stats_get": (c_int, [POINTER(Stats), P, c_char_p]),
    "lm_tenant_erase": (c_int, [POINTER(c_int64), P, c_char_p]),
    "lm_search_opts_init": (c_int, [POINTER(SearchOpts), c_uint]),
    "lm_search": (c_int, [PP, P, c_char_p, c_char_p, POINTER(SearchOpts)]),
    "lm_results_count": (c_size_t, [P]),
    "lm_results_at": (POINTER(Hit), [P, c_size_t]),
    "lm_results_elapsed_ms": (c_double, [P]),
    "lm_results_free": (None, [P]),
    "lm_history_list": (c_int, [PP, P, c_char_p, c_int]),
    "lm_history_count": (c_size_t, [P]),
    "lm_history_at": (POINTER(HistoryEntry), [P, c_size_t]),
    "lm_history_free": (None, [P]),
    "lm_embedder_builtin_new": (c_int, [PP, c_int]),
    "lm_http_embedder_opts_init": (c_int, [POINTER(HttpEmbedderOpts), c_uint]),
    "lm_embedder_http_new": (c_int, [PP, POINTER(HttpEmbedderOpts)]),
    "lm_embedder_from_env": (c_int, [PP]),
    "lm_embedder_custom_new": (c_int, [PP, c_char_p, c_char_p, c_int, POINTER(EmbedderOps),
                                       c_void_p]),
    "lm_embedder_embed": (c_int, [P, POINTER(c_float), POINTER(c_char_p), POINTER(c_size_t),
                                  c_size_t]),
    "lm_embedder_dim": (c_int, [P]),
    "lm_embedder_provider_id": (c_char_p, [P]),
    "lm_embedder_kind": (c_char_p, [P]),
    "lm_embedder_model": (c_char_p, [P]),
    "lm_embedder_free": (None, [P]),
    "lm_key_opts_init": (c_int, [POINTER(KeyOpts), c_uint]),
    "lm_key_create": (c_int, [POINTER(KeyCreated), P, c_char_p, POINTER(KeyOpts)]),
    "lm_key_created_dispose": (None, [POINTER(KeyCreated)]),
    "lm_key_verify": (c_int, [POINTER(Principal), P, c_char_p]),
    "lm_key_list": (c_int, [PP, P, c_char_p, c_int]),
    "lm_keys_count": (c_size_t, [P]),
    "lm_keys_at": (POINTER(KeyInfo), [P, c_size_t]),
    "lm_keys_free": (None, [P]),
    "lm_key_revoke": (c_int, [P, c_char_p, c_int, c_char_p]),
    "lm_owner_covers": (c_int, [c_char_p, c_char_p]),
    "lm_embed_run_opts_init": (c_int, [POINTER(EmbedRunOpts), c_uint]),
    "lm_embed_run": (c_int, [POINTER(EmbedRunResult), P, POINTER(EmbedRunOpts)]),
    "lm_embed_queue_stats_get": (c_int, [POINTER(EmbedQueueStats), P]),
}

# Symbols that later library versions add; bound when present (see has()).
_OPTIONAL = {
    "lm_local_embedder_opts_init": (c_int, [POINTER(LocalEmbedderOpts), c_uint]),
    "lm_embedder_local_new": (c_int, [PP, c_char_p, POINTER(LocalEmbedderOpts)]),
    "lm_embedder_embed_query": (c_int, [P, POINTER(c_float), POINTER(c_char_p),
                                        POINTER(c_size_t), c_size_t]),
    # Tenant lifecycle (llmemory/lifecycle.h, lm_tenant_erase_report in llmemory/doc.h).
    "lm_tenant_erase_report": (c_int, [POINTER(EraseReport), P, c_char_p]),
    "lm_export_opts_init": (c_int, [POINTER(ExportOpts), c_uint]),
    "lm_tenant_export": (c_int, [POINTER(TransferCounts), P, c_char_p, POINTER(ExportOpts),
                                 WRITE_CB, c_void_p]),
    "lm_import_opts_init": (c_int, [POINTER(ImportOpts), c_uint]),
    "lm_tenant_import": (c_int, [POINTER(ImportResult), P, c_char_p, POINTER(ImportOpts),
                                 READ_CB, c_void_p]),
    "lm_quota_set": (c_int, [P, c_char_p, POINTER(Quota)]),
    "lm_quota_get": (c_int, [POINTER(QuotaStatus), P, c_char_p]),
    "lm_rate_retry_after": (c_double, []),
    "lm_usage_sort_parse": (c_int, [POINTER(c_int), c_char_p]),
    "lm_usage_list_get": (c_int, [PP, P, c_int, c_int]),
    "lm_usage_list_count": (c_size_t, [P]),
    "lm_usage_list_at": (POINTER(UsageRow), [P, c_size_t]),
    "lm_usage_list_free": (None, [P]),
    "lm_audit_context_set": (None, [c_char_p, c_char_p]),
    "lm_audit_list": (c_int, [PP, P, c_char_p, c_int]),
    "lm_audit_page_count": (c_size_t, [P]),
    "lm_audit_page_at": (POINTER(AuditEntry), [P, c_size_t]),
    "lm_audit_page_free": (None, [P]),
    # Erasure in two steps, usage metering, rates, near-quota alerts, the server's audit log.
    "lm_tenant_erase_start": (c_int, [POINTER(EraseReport), P, c_char_p]),
    "lm_erasure_pending": (c_int, [POINTER(c_int64), P]),
    "lm_erasure_resume": (c_int, [POINTER(c_int64), P]),
    "lm_erasure_run": (c_int, [POINTER(c_int64), P]),
    "lm_erasure_wait": (None, [P]),
    "lm_usage_days": (c_int, [POINTER(UsageDay), c_int, POINTER(c_int), P, c_char_p]),
    "lm_rate_set": (c_int, [P, c_char_p, POINTER(Rates)]),
    "lm_rate_get": (c_int, [POINTER(RateStatus), P, c_char_p]),
    "lm_usage_list_near": (c_int, [PP, P, c_int, c_int, c_int]),
    "lm_quota_alerts_get": (c_int, [POINTER(QuotaAlerts), P, c_int]),
    "lm_audit_list_server": (c_int, [PP, P, c_int]),
}


def _candidates() -> list[str]:
    """Where libllmemory.so is looked for, in order."""
    out = []
    env = os.environ.get("LLMEMORY_LIBRARY")
    if env:
        return [env]
    here = Path(__file__).resolve().parent
    out.append(str(here / "libllmemory.so"))  # bundled by the wheel
    # A checkout: python/llmemory/ -> repository root -> build/<variant>/libllmemory.so
    root = here.parent.parent
    for variant in ("debug", "release"):
        out.append(str(root / "build" / variant / "libllmemory.so"))
    found = ctypes.util.find_library("llmemory")
    if found:
        out.append(found)
    out.append("libllmemory.so.0")
    return out


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(f"{path}: not found")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
    raise ImportError(
        "could not load libllmemory.so; set LLMEMORY_LIBRARY to its path, or build it with "
        "`make` in the repository (tried: " + "; ".join(errors) + ")"
    )


lib = _load()
for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args
for _name, (_res, _args) in _OPTIONAL.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        continue
    _fn.restype = _res
    _fn.argtypes = _args


def has(symbol: str) -> bool:
    """True when the loaded library exports @symbol (for capabilities added later)."""
    try:
        getattr(lib, symbol)
        return True
    except AttributeError:
        return False


def library_path() -> str:
    """Path of the loaded library."""
    return lib._name
