"""Helpers of the search tests: the instance's search service, draining, index files.

Every test of this folder that uses an instance runs once per search backend: ``whoosh``
(the embedded index, on SQLite or PostgreSQL, whichever the suite runs on) and
``postgresql`` (the blind tokens in the database; skipped unless the suite runs on
PostgreSQL, i.e. ``XINFANG_TEST_DATABASE_URL`` is set). Each backend gets an instance
(and database) of its own per module. Tests about Whoosh's files themselves carry
``@whoosh_only("why")``; their PostgreSQL counterparts are in ``test_pg_backend.py``.
"""
from __future__ import annotations

import random
import secrets
from pathlib import Path

import pytest

from records.settings import Settings
from search import indexer
from tests.conftest import _pg_admin_url, fresh_instance

#: The PostgreSQL backend keeps its table in the instance's database: it runs when the suite does.
BACKENDS = ("whoosh", "postgresql") if _pg_admin_url() else ("whoosh",)


def pytest_configure(config):
    config.addinivalue_line("markers", "whoosh_only(reason): the test is about the Whoosh index's files")


def whoosh_only(reason: str):
    """Mark a test as meaningful for the Whoosh backend only (``reason`` says why)."""
    return pytest.mark.whoosh_only(reason=reason)


@pytest.fixture(scope="module", params=BACKENDS)
def search_backend(request) -> str:
    """The search backend the module's instance uses."""
    if request.param == "postgresql" and not _pg_admin_url():
        pytest.skip("the PostgreSQL search backend needs XINFANG_TEST_DATABASE_URL (a PostgreSQL server)")
    return request.param


@pytest.fixture(scope="module")
def settings(tmp_path_factory, search_backend) -> Settings:
    """As tests/conftest.py's, with ``search_backend`` set to the module's backend."""
    yield from fresh_instance(tmp_path_factory, f"instance-{search_backend}", search_backend=search_backend)


@pytest.fixture(autouse=True)
def _only_where_meaningful(request):
    marker = request.node.get_closest_marker("whoosh_only")
    if marker is not None and "search_backend" in request.fixturenames \
            and request.getfixturevalue("search_backend") != "whoosh":
        pytest.skip("Whoosh only: " + marker.kwargs.get("reason", ""))


@pytest.fixture
def svc(inst):
    return indexer.service(inst)


@pytest.fixture
def drain(inst):
    """drain() -> DrainReport: apply the outbox to the index (what a request does after its commit)."""
    def _drain():
        return indexer.drain(inst)
    return _drain


def word() -> str:
    """A Latin word no other letter contains."""
    return "kw" + secrets.token_hex(5)


def uses_database(inst) -> bool:
    return inst.settings.search_backend == "postgresql"


def index_files(inst) -> list[Path]:
    """Every file the index lives in: the index folder (Whoosh), or the relation files of
    the search tables, their TOAST tables and indexes (PostgreSQL, after a CHECKPOINT so
    what the server holds in memory is on disk)."""
    if not uses_database(inst):
        return [p for p in inst.settings.index_dir.rglob("*") if p.is_file()]
    from sqlalchemy import text

    from retention import residue
    from search import postgres as pg_backend

    with inst.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CHECKPOINT"))
    with inst.db.engine.connect() as conn:
        files = residue.relation_files(conn, [pg_backend.TABLE, pg_backend.TERMS, pg_backend.META])
        conn.rollback()
    assert files is not None, "the PostgreSQL server's data directory is not readable by the tests"
    return [p for p in files if p.is_file()]


def index_bytes(inst) -> bytes:
    return b"\n".join(p.read_bytes() for p in index_files(inst))


@pytest.fixture(autouse=True, scope="module")
def quick_password_hashing():
    """Cheap Argon2 parameters for the many accounts these tests create (the real ones are
    tested in tests/records); restored afterwards."""
    from argon2 import PasswordHasher

    from records.accounts import operations as accounts

    saved = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = saved


def synthetic_documents(n: int, *, seed: int, start: int = 0, common: int = 15, longest: int = 70,
                        chars: int = 6) -> list:
    """``n`` index documents (uids ``u<start>``…) of tokens ``t000``…``t299``: about half of
    each letter's tokens drawn from the ``common`` first ones, so a common token holds more
    postings than one of Whoosh's blocks (128)."""
    from search.interface import IndexDocument

    rng = random.Random(seed)
    vocab = [f"t{k:03d}" for k in range(300)]
    out = []
    for i in range(start, start + n):
        text = [rng.choice(vocab[: rng.choice((common, 300))]) for _ in range(rng.randint(0, longest))]
        out.append(IndexDocument(uid=f"u{i}", record_id=i, serial=f"XF-2026-{i:06d}", year=2026,
                                 status="registered", channel="letter", region="R1", category="c",
                                 office="XFB", received=1_700_000_000 + i, doc_version=1,
                                 allowed=frozenset({"office:XFB"}), denied=frozenset(),
                                 text=text, chars=sorted(set(text))[:chars]))
    return out
