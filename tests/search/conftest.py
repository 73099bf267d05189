"""Helpers of the search tests: the instance's search service, draining, index files."""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from search import indexer


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


def index_files(inst) -> list[Path]:
    return [p for p in inst.settings.index_dir.rglob("*") if p.is_file()]


def index_bytes(inst) -> bytes:
    return b"\n".join(p.read_bytes() for p in index_files(inst))


@pytest.fixture(autouse=True, scope="module")
def quick_password_hashing():
    """Cheap Argon2 parameters for the many accounts these tests create (the real ones are
    tested in tests/records); restored afterwards."""
    from argon2 import PasswordHasher

    from records import accounts

    saved = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = saved
