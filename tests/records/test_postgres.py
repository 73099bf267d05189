"""Several processes registering at once keep serials unique and gap-free.

Runs on PostgreSQL when XINFANG_TEST_DATABASE_URL is set (``scripts/test.sh`` does), on
SQLite otherwise. Each process is spawned fresh (no inherited connections or keys), builds
its own Instance from the same Settings and registers through ``records.cases.operations``.
"""
from __future__ import annotations

import multiprocessing
import os
import traceback

from sqlalchemy import func, select

from records import audit
from records.cases import operations
from app.composition import build_instance
from records.models import Record, SerialCounter
from records.accounts.models import User
from tests.conftest import api_letter, letter_data

PROCESSES = 4
PER_PROCESS = 15
#: A year of its own, so the counter row does not exist yet and the processes also race to create it.
YEAR = 2025


def register_many(settings, user_id: int, worker: int, count: int, start, results) -> None:
    """One process: wait for the others, then register ``count`` letters, one unit of work each."""
    inst = build_instance(settings)
    serials = []
    try:
        start.wait(timeout=60)
        for i in range(count):
            with inst.unit_of_work() as session:
                data = letter_data(received_at=f"{YEAR}-06-{1 + i % 28:02d}T09:{worker:02d}",
                                   subject=f"並發登記 {worker}-{i}")
                record = operations.register(session, data, by=session.get(User, user_id))
                serials.append(record.serial)
        results.put((worker, "ok", serials))
    except BaseException:  # noqa: BLE001 - report everything to the parent, which fails the test
        results.put((worker, "error", traceback.format_exc()))
    finally:
        inst.close()


def test_processes_registering_at_once_get_gap_free_serials(settings, make_user, inst):
    clerks = [make_user("clerk") for _ in range(PROCESSES)]
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=register_many, args=(settings, clerks[w].id, w, PER_PROCESS, start, results),
                         name=f"register-{w}") for w in range(PROCESSES)]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()
    errors = [detail for _, state, detail in outcomes if state != "ok"]
    assert not errors, "\n".join(errors)
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]

    serials = [s for _, _, got in outcomes for s in got]
    total = PROCESSES * PER_PROCESS
    assert len(serials) == total
    assert sorted(serials) == [f"XF-{YEAR}-{n:06d}" for n in range(1, total + 1)]
    # Each process saw its own serials increase: a counter never went backwards.
    for _, _, got in outcomes:
        assert got == sorted(got)

    with inst.unit_of_work() as s:
        rows = s.execute(select(Record.seq).where(Record.year == YEAR).order_by(Record.seq)).scalars().all()
        assert rows == list(range(1, total + 1))
        assert s.get(SerialCounter, YEAR).last == total
        # The audit chain stayed one chain while four writers appended to it.
        result = audit.verify(s)
        assert result.ok, result.problem
        registered = s.execute(select(func.count()).select_from(Record)
                               .where(Record.registered_by_id.in_([c.id for c in clerks]))).scalar_one()
        assert registered == total


def test_row_locks_work_on_models_with_joined_relationships(inst, make_user, make_record):
    """PostgreSQL refuses FOR UPDATE on the nullable side of the outer joins the ORM adds
    for ``lazy="joined"`` relationships; records.db makes such a lock name its own table."""
    clerk = make_user("clerk")
    serial = make_record(clerk)
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial).with_for_update()).scalar_one()
        assert record.office.code and record.registered_by.id == clerk.id
        assert s.get(Record, record.id, with_for_update=True) is record
        s.refresh(record, with_for_update=True)
        user = s.execute(select(User).where(User.id == clerk.id).with_for_update(nowait=True)).scalar_one()
        assert user.office.code == "XFB"
        # An explicit join still locks what it names, unchanged.
        rows = s.execute(select(Record.id, User.id).join(User, Record.registered_by_id == User.id)
                         .where(Record.serial == serial).with_for_update(of=Record)).all()
        assert rows == [(record.id, clerk.id)]


def test_backend_is_the_one_asked_for(settings):
    """Guards the PostgreSQL run against silently testing SQLite again."""
    if os.environ.get("XINFANG_TEST_DATABASE_URL"):
        assert settings.database_url.startswith("postgresql")
    else:
        assert settings.database_url.startswith("sqlite")


def test_nul_characters_are_refused_alike_on_both_backends(inst, client, make_user):
    """PostgreSQL cannot store U+0000 in text; both backends refuse it as invalid input."""
    import pytest

    from records.errors import ValidationError

    with inst.unit_of_work() as s:
        with pytest.raises(ValidationError, match="NUL"):
            s.execute(select(User).where(User.username == "clerk\x00")).all()
    clerk = make_user("clerk")
    r = client.post("/login", data={"username": clerk.username + "\x00", "password": "x"})
    assert r.status_code in (400, 401, 422)
    token_user = make_user("clerk")
    from records.accounts import operations as accounts

    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, s.get(User, token_user.id), label="nul")
    r = client.post("/api/v1/records", json=api_letter(region="1101\x0008"),
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422 and r.get_json()["error"]
