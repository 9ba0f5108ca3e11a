"""Fixtures of the Python package's tests: a real PostgreSQL (the one tests/run.sh started, from
LLMEMORY_TEST_DATABASE_URL, or a throwaway cluster started here), one schema per session, and
the summary line tests/run.sh parses ("python: N passed, N failed, N skipped")."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench" / "python"))

import llmemory  # noqa: E402


@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    url = os.environ.get("LLMEMORY_TEST_DATABASE_URL")
    if url:
        yield url
        return
    out = subprocess.run(["sh", str(ROOT / "scripts" / "pg-test-cluster.sh"), "start"],
                         check=True, capture_output=True, text=True).stdout
    env = dict(line.split("=", 1) for line in out.strip().splitlines())
    env = {k: v.strip("'") for k, v in env.items()}
    os.environ["LLMEMORY_TEST_DATABASE_URL"] = env["LLMEMORY_TEST_DATABASE_URL"]
    try:
        yield env["LLMEMORY_TEST_DATABASE_URL"]
    finally:
        subprocess.run(["sh", str(ROOT / "scripts" / "pg-test-cluster.sh"), "stop",
                        env["LLMEMORY_TEST_PG_DIR"]], check=False)


@pytest.fixture(scope="session")
def schema() -> str:
    return "pytest_" + uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def mem(db_url: str, schema: str) -> Iterator[llmemory.LLMemorySync]:
    m = llmemory.LLMemorySync(db_url, schema=schema, pool_size=8)
    m.initialize()
    yield m
    m.close()


@pytest.fixture
def tenant() -> str:
    """A fresh tenant id for each test."""
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def other() -> str:
    return "o-" + uuid.uuid4().hex[:12]


def psql(db_url: str, sql: str) -> str:
    """Run SQL through psql (for tests that need to break something on purpose)."""
    psql_bin = "/usr/lib/postgresql/15/bin/psql"
    if not os.path.exists(psql_bin):
        psql_bin = "psql"
    return subprocess.run([psql_bin, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-d",
                           db_url, "-c", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


HANDBOOK = """# Vacation policy

Employees receive 25 days of paid vacation per year. Unused vacation days carry over to the
next year, up to ten days. Ask your manager before booking long holidays.

# Travel

Book trains for trips under five hours. Flights need approval from the finance team.

# Security

Laptops must use full disk encryption. Report lost badges to the front desk immediately.
"""


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    st = terminalreporter.stats
    passed = len(st.get("passed", []))
    failed = len(st.get("failed", [])) + len(st.get("error", []))
    skipped = len(st.get("skipped", []))
    terminalreporter.write_line(f"python: {passed} passed, {failed} failed, {skipped} skipped")
