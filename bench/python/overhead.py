"""Per-call overhead of the Python binding against the same calls made from C, in one process
on one lm_memory: calls alternate C / Python (sync) / Python (async) one by one, so all sides see
the same database state, caches and machine load. Reports medians of per-call wall time, client-side
thread CPU per call (what the binding itself costs), and the ratios.

    bench/python/run.sh overhead          (builds cbench.so, starts a throwaway PostgreSQL)
Environment: BENCH_DOCS (400 documents added per side), BENCH_QUERIES (300 per search type).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

import llmemory  # noqa: E402
from llmemory import _native as N  # noqa: E402

DOCS = int(os.environ.get("BENCH_DOCS", "400"))
QUERIES = int(os.environ.get("BENCH_QUERIES", "300"))


def corpus(n: int, seed: int = 7) -> tuple[list[str], list[str]]:
    """Deterministic documents (~180 words, Zipf-like vocabulary) and 3-word queries."""
    rnd = random.Random(seed)
    vocab = [f"w{i}{'abcdefgh'[i % 8]}" for i in range(6000)]
    weights = [1 / (i + 1) ** 0.9 for i in range(len(vocab))]
    docs = []
    for _ in range(n):
        words = rnd.choices(vocab, weights, k=180)
        docs.append(". ".join(" ".join(words[j:j + 12]) for j in range(0, 180, 12)) + ".")
    queries = [" ".join(rnd.choices(vocab[20:2000], k=3)) for _ in range(QUERIES)]
    return docs, queries


def load_cbench() -> ctypes.CDLL:
    lib = ctypes.CDLL(os.environ.get("CBENCH_LIBRARY", str(ROOT / "build/bench/python/cbench.so")))
    dp, sp = ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_char_p)
    lib.cbench_search.argtypes = [ctypes.c_void_p, ctypes.c_char_p, sp, ctypes.c_size_t,
                                  ctypes.c_int, ctypes.c_int, dp, dp,
                                  ctypes.POINTER(ctypes.c_size_t)]
    lib.cbench_add.argtypes = [ctypes.c_void_p, ctypes.c_char_p, sp, sp, sp, ctypes.c_char_p,
                               ctypes.c_size_t, ctypes.c_int, dp, dp]
    return lib


def carr(items: list[str]):
    arr = (ctypes.c_char_p * len(items))()
    for i, s in enumerate(items):
        arr[i] = s.encode()
    return arr


def main() -> None:
    url = os.environ["LLMEMORY_DATABASE_URL"]
    cb = load_cbench()
    docs, queries = corpus(DOCS)
    m = llmemory.LLMemorySync(url, schema="bench_py", pool_size=4)
    am = llmemory.LLMemory(url, schema="bench_py", pool_size=4)
    m.initialize()
    h = m._mem
    for t in ("bench-c", "bench-py", "bench-async"):
        m.erase_tenant(t)
    meta = {"source": "bench"}
    meta_json = json.dumps(meta, separators=(",", ":")).encode()

    # Every call is timed once per side, the sides interleaved call by call (the order rotating)
    # so that drift in the machine's load or the database's state hits all sides alike.
    loop = asyncio.new_event_loop()
    sides = ("c", "py", "async")

    def c_add(i: int) -> tuple[float, float]:
        wall, cpu = (ctypes.c_double * 1)(), ctypes.c_double()
        rc = cb.cbench_add(h, b"bench-c", carr([f"doc-{i}"]), carr([f"Document {i}"]),
                           carr([docs[i]]), meta_json, 1, 3, wall, ctypes.byref(cpu))
        assert rc == 0, rc
        return wall[0], cpu.value

    def py_add(i: int) -> tuple[float, float]:
        c0, t0 = time.thread_time(), time.perf_counter()
        m.add_document("bench-py", f"doc-{i}", f"Document {i}", "text", docs[i], metadata=meta)
        return (time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3

    def async_add(i: int) -> tuple[float, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        loop.run_until_complete(am.add_document("bench-async", f"doc-{i}", f"Document {i}",
                                                "text", docs[i], metadata=meta))
        return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3

    add = {k: [] for k in sides}
    add_cpu = {k: 0.0 for k in sides}
    fns = {"c": c_add, "py": py_add, "async": async_add}
    for i in range(DOCS):
        for k in sides[i % 3:] + sides[:i % 3]:
            w, c = fns[k](i)
            add[k].append(w)
            add_cpu[k] += c

    res: dict[str, dict[str, list[float]]] = {}
    cpu_s: dict[str, dict[str, float]] = {}
    n_q = len(queries)
    for stype, code in (("hybrid", 2), ("text", 0), ("vector", 1)):
        r = res[stype] = {k: [] for k in sides}
        c_ = cpu_s[stype] = {k: 0.0 for k in sides}
        for q in queries[:20]:  # warm the statement cache and the tenant's pages
            m.search("bench-c", q, search_type=stype)

        def c_search(q: str) -> tuple[float, float]:
            wall, cpu, hits = (ctypes.c_double * 1)(), ctypes.c_double(), ctypes.c_size_t()
            rc = cb.cbench_search(h, b"bench-c", carr([q]), 1, code, 10, wall,
                                  ctypes.byref(cpu), ctypes.byref(hits))
            assert rc == 0, rc
            return wall[0], cpu.value

        def py_search(q: str) -> tuple[float, float]:
            c0, t0 = time.thread_time(), time.perf_counter()
            m.search("bench-c", q, search_type=stype, limit=10)
            return (time.perf_counter() - t0) * 1e3, (time.thread_time() - c0) * 1e3

        def async_search(q: str) -> tuple[float, float]:
            c0, t0 = time.process_time(), time.perf_counter()
            loop.run_until_complete(am.search("bench-c", q, search_type=stype, limit=10))
            return (time.perf_counter() - t0) * 1e3, (time.process_time() - c0) * 1e3

        sfns = {"c": c_search, "py": py_search, "async": async_search}
        for i, q in enumerate(queries):
            for k in sides[i % 3:] + sides[:i % 3]:
                w, c = sfns[k](q)
                r[k].append(w)
                c_[k] += c
    per = n_q
    loop.run_until_complete(am.close())
    m.close()

    def line(label, d, cpu, n):
        mc, mp, ma = (statistics.median(d[k]) for k in ("c", "py", "async"))
        cc, cp, ca = (cpu[k] / n for k in ("c", "py", "async"))
        print(f"| {label} | {mc:.3f} | {mp:.3f} ({(mp / mc - 1) * 100:+.1f}%) | "
              f"{ma:.3f} ({(ma / mc - 1) * 100:+.1f}%) | {cc:.3f} | {cp:.3f} | {ca:.3f} |")
        return mp / mc - 1

    print(f"documents per side: {DOCS}, queries per type: {per}, "
          f"library: {llmemory.library_path()}")
    print("| call | C median ms | Python sync median ms | Python async median ms | "
          "C client CPU ms/call | sync CPU ms/call | async CPU ms/call (process) |")
    print("|---|---|---|---|---|---|---|")
    a = line("add_document (~1.2 KB, embedded)", add, add_cpu, DOCS)
    tot = {k: sum(v) for k, v in add.items()}
    s = {t: line(f"search {t}, 10 hits", res[t], cpu_s[t], per) for t in res}
    print(f"bulk add throughput: C {DOCS / tot['c'] * 1e3:.1f} docs/s, Python sync "
          f"{DOCS / tot['py'] * 1e3:.1f} docs/s ({(tot['py'] / tot['c'] - 1) * 100:+.1f}% time), "
          f"async {DOCS / tot['async'] * 1e3:.1f} docs/s "
          f"({(tot['async'] / tot['c'] - 1) * 100:+.1f}% time)")
    print(f"{'PASS' if s['hybrid'] <= 0.10 else 'FAIL'}: hybrid 10-hit search added latency "
          f"{s['hybrid'] * 100:+.1f}% (target <= 10%)")
    print(f"{'PASS' if tot['py'] / tot['c'] - 1 <= 0.05 else 'FAIL'}: bulk add added time "
          f"{(tot['py'] / tot['c'] - 1) * 100:+.1f}% (target <= 5%)")
    del a


if __name__ == "__main__":
    main()
