"""Concurrency: many coroutines on one LLMemory, a responsive event loop during a large add, a
thread stress on one LLMemorySync, per-thread error records, and close() during calls."""

import asyncio
import random
import threading
import time

import pytest

from conftest import HANDBOOK
from llmemory import LLMemory, LLMemoryError, LLMemorySync, ValidationError


def test_many_coroutines_on_one_memory(db_url, schema, tenant):
    tenants = [f"{tenant}-{i}" for i in range(8)]

    async def worker(i):
        t = tenants[i % len(tenants)]
        await m.add_document(t, f"doc-{i}", f"Doc {i}", "text",
                             f"coroutine number {i} writes about topic{i % 5} and llamas")
        res = await m.search(t, f"topic{i % 5} llamas", search_type="hybrid", limit=20)
        assert all(r.id_at_origin.startswith("doc-") for r in res)
        return len(res)

    async def run():
        nonlocal m
        m = LLMemory(db_url, schema=schema, pool_size=8)
        async with m:
            counts = await asyncio.gather(*(worker(i) for i in range(64)))
            assert all(c >= 1 for c in counts)
            stats = await asyncio.gather(*(m.get_statistics(t) for t in tenants))
            assert [s.document_count for s in stats] == [8] * 8
            for t in tenants:
                await m.erase_tenant(t)

    m = None
    asyncio.run(run())


def test_event_loop_stays_responsive_during_a_large_add(db_url, schema, tenant):
    big = HANDBOOK * 1500  # ~ 700 KB, hundreds of chunks

    async def run():
        async with LLMemory(db_url, schema=schema) as m:
            gaps = []
            done = asyncio.Event()

            async def ticker():
                last = time.perf_counter()
                while not done.is_set():
                    await asyncio.sleep(0.005)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

            t = asyncio.create_task(ticker())
            t0 = time.perf_counter()
            r = await m.add_document(tenant, "big", "Big", "markdown", big)
            took = time.perf_counter() - t0
            done.set()
            await t
            return r, took, max(gaps), len(gaps)

    r, took, worst, ticks = asyncio.run(run())
    assert r.chunks_created > 100
    assert took > 0.3, "the add must be long enough for the check to mean something"
    assert worst < 0.25, f"event loop blocked for {worst:.3f}s during a {took:.2f}s add"
    assert ticks > took / 0.05


def test_thread_stress_on_one_sync_memory(db_url, schema, tenant):
    errors = []
    shared = tenant + "-shared"
    n_threads, n_ops = 16, 25

    with LLMemorySync(db_url, schema=schema, pool_size=4) as m:
        def worker(k):
            rnd = random.Random(k)
            mine = f"{tenant}-{k}"
            ids = []
            try:
                for j in range(n_ops):
                    op = rnd.random()
                    if op < 0.35 or not ids:
                        r = m.add_document(mine, f"d{j}", "n", "text", f"thread {k} op {j} words")
                        ids.append(r.document.document_id)
                        m.add_document(shared, f"t{k}-{j}", "n", "text", f"shared {k} {j}")
                    elif op < 0.6:
                        res = m.search(mine, "thread words", search_type="text", limit=50)
                        assert {x.document_id for x in res} <= set(ids)
                    elif op < 0.75:
                        assert m.get_document(mine, rnd.choice(ids)).document.owner_id == mine
                    elif op < 0.85:
                        assert m.list_documents(mine, limit=100).total == len(ids)
                    else:
                        m.delete_document(mine, ids.pop())
                assert m.get_statistics(mine).document_count == len(ids)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert m.list_documents(shared).total == m.get_statistics(shared).document_count > 0
        for k in range(n_threads):
            m.erase_tenant(f"{tenant}-{k}")
        m.erase_tenant(shared)


def test_error_records_are_per_thread(mem):
    barrier = threading.Barrier(8)
    got = {}

    def worker(k):
        barrier.wait()
        for _ in range(20):
            try:
                if k % 2:
                    mem.search("bad owner", "q")
                else:
                    mem.list_documents("ok-owner", limit=-1)
            except ValidationError as e:
                got.setdefault(k, set()).add(e.field)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(got[k] == ({"owner_id"} if k % 2 else {"limit"}) for k in range(8))


def test_close_waits_for_calls_in_flight(db_url, schema, tenant):
    m = LLMemorySync(db_url, schema=schema)
    m.add_document(tenant, "d", "d", "text", "closing time words")
    stop = threading.Event()
    outcomes = []

    def searcher():
        while not stop.is_set():
            try:
                m.search(tenant, "closing", search_type="text")
                outcomes.append("ok")
            except LLMemoryError as e:
                outcomes.append(str(e))
                return

    ts = [threading.Thread(target=searcher) for _ in range(6)]
    for t in ts:
        t.start()
    time.sleep(0.3)
    m.close()
    stop.set()
    for t in ts:
        t.join()
    assert "ok" in outcomes
    assert set(outcomes) <= {"ok", "memory is closed"}
    with pytest.raises(LLMemoryError):
        m.search(tenant, "closing")
