"""The seed's patterns in examples/python run, and the FastAPI service is exercised through real
HTTP requests (uvicorn on loopback, httpx)."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT

EXAMPLES = ROOT / "examples" / "python"


def _env(db_url, schema):
    env = dict(os.environ, LLMEMORY_DATABASE_URL=db_url, LLMEMORY_SCHEMA=schema)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "python"), str(EXAMPLES),
                                         env.get("PYTHONPATH", "")])
    return env


@pytest.mark.parametrize("name,expect", [
    ("single_pool", "workspace-1 results: 1"),
    ("schema_per_tenant", "workspace2 memory sees workspace1 data: False"),
    ("hierarchical", "user-789: 1, two users: 2, organisation: 3"),
    ("monitoring", "'tenant_id': 'tenant-3', 'documents': 3"),
    ("export", "exported 250 documents"),
    ("deletion", "tenant-kept still has 150 documents"),
])
def test_example_runs(db_url, tmp_path, name, expect):
    p = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), str(tmp_path / "out")],
                       env=_env(db_url, "pytest_ex_" + name), capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert expect in p.stdout


def test_export_file_holds_only_the_tenant(db_url, tmp_path):
    import json

    out = tmp_path / "export.jsonl"
    subprocess.run([sys.executable, str(EXAMPLES / "export.py"), str(out)],
                   env=_env(db_url, "pytest_ex_export2"), check=True, capture_output=True,
                   timeout=300)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 250 and len({r["document_id"] for r in rows}) == 250
    assert all(r["chunks"] == [f"note number {r['metadata']['i']}"] for r in rows)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(db_url):
    pytest.importorskip("fastapi")
    pytest.importorskip("uvicorn")
    httpx = pytest.importorskip("httpx")
    schema = "pytest_fastapi"
    env = _env(db_url, schema)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "fastapi_app:app", "--host",
                             "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            cwd=EXAMPLES, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("service did not start: " + (proc.stdout.read() or ""))
        time.sleep(0.1)

    def key(tenant, scope="write"):
        out = subprocess.run([sys.executable, str(EXAMPLES / "fastapi_app.py"), "create-key",
                              tenant, scope], env=env, check=True, capture_output=True,
                             text=True)
        return out.stdout.strip()

    yield base, key
    proc.terminate()
    proc.wait(timeout=30)


def test_service_derives_the_tenant_from_the_key(service):
    import httpx

    base, key = service
    a, b = key("acme-http"), key("globex-http")
    ha, hb = {"Authorization": f"Bearer {a}"}, {"Authorization": f"Bearer {b}"}
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/api/documents", headers=ha,
                   json={"name": "Plan", "content": "Acme launch plan: rockets in May",
                         "type": "markdown", "id_at_origin": "plan-1"})
        assert r.status_code == 201, r.text
        doc_id = r.json()["document_id"]
        assert r.json()["chunks_created"] >= 1
        hits = c.get("/api/search", params={"q": "rockets launch"}, headers=ha).json()["results"]
        assert hits and hits[0]["document_id"] == doc_id
        # Globex's key sees nothing of Acme's, whatever it asks for.
        assert c.get("/api/search", params={"q": "rockets launch", "type": "text"},
                     headers=hb).json()["results"] == []
        assert c.get(f"/api/documents/{doc_id}", headers=hb).status_code == 404
        assert c.delete(f"/api/documents/{doc_id}", headers=hb).status_code == 404
        assert c.get("/api/documents", headers=hb).json()["total"] == 0
        # A forged tenant is refused, by header or by query parameter.
        assert c.get("/api/search", params={"q": "rockets"},
                     headers={**hb, "X-Tenant-ID": "acme-http"}).status_code == 403
        assert c.get("/api/documents", params={"tenant_id": "acme-http"},
                     headers=hb).status_code == 403
        assert c.get("/api/statistics", headers=ha).json()["document_count"] == 1
        assert c.get(f"/api/documents/{doc_id}", headers=ha).json()["document_name"] == "Plan"
        assert c.delete(f"/api/documents/{doc_id}", headers=ha).status_code == 204


def test_service_refuses_missing_bad_and_read_only_keys(service):
    import httpx

    base, key = service
    ro = key("acme-http", "read")
    with httpx.Client(base_url=base, timeout=30) as c:
        assert c.get("/api/documents").status_code == 401
        assert c.get("/api/documents",
                     headers={"Authorization": "Bearer lmk_0000000000000000_" + "0" * 64}
                     ).status_code == 401
        assert c.get("/api/documents", headers={"Authorization": f"Bearer {ro}"}
                     ).status_code == 200
        assert c.post("/api/documents", headers={"Authorization": f"Bearer {ro}"},
                      json={"name": "x", "content": "y"}).status_code == 403
        bad = c.post("/api/documents", headers={"Authorization": f"Bearer {key('acme-http')}"},
                     json={"name": "", "content": "y"})
        assert bad.status_code == 400 and bad.json()["detail"]["field"] == "document_name"


def test_service_answers_while_a_large_add_runs(service):
    """The GIL is released during the C call: other requests are served meanwhile."""
    import httpx

    base, key = service
    h = {"Authorization": f"Bearer {key('acme-big')}"}

    async def run():
        async with httpx.AsyncClient(base_url=base, timeout=120) as c:
            big = asyncio.create_task(c.post("/api/documents", headers=h, json={
                "name": "Big", "content": "A paragraph about many things. " * 60000,
                "id_at_origin": "big"}))
            await asyncio.sleep(0.05)
            lat = []
            while not big.done():
                t0 = time.perf_counter()
                r = await c.get("/healthz")
                lat.append(time.perf_counter() - t0)
                assert r.status_code == 200
                await asyncio.sleep(0.01)
            return (await big), lat

    r, lat = asyncio.run(run())
    assert r.status_code == 201
    assert len(lat) >= 3, "the add finished too fast to tell"
    assert max(lat) < 1.0
