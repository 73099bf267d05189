"""Read-only units of work (what a GET request gets): they read without the write lock,
their audit entries are written when they end, and any other write is refused."""
import threading
import time

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from records import audit
from records.cases import operations
from records.db import ReadOnlyWrite
from records.instance import is_read_only
from records.models import AuditEntry, Record
from records.accounts.models import User


def _entries(inst, target: str) -> list[AuditEntry]:
    with inst.session() as s:
        return list(s.execute(select(AuditEntry).where(AuditEntry.target == target)).scalars())


def test_audit_entries_of_a_read_are_written_when_it_ends(inst, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(by=clerk)
    s = inst.session(read_only=True)
    try:
        assert is_read_only(s)
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        before = [e.action for e in _entries(inst, serial)]
        shown = operations.view(s, record, s.get(User, clerk.id))
        assert shown.content["subject"]
        assert [e.action for e in _entries(inst, serial)] == before     # not yet
        assert inst.end_read(s) == 1
    finally:
        s.close()
    assert [e.action for e in _entries(inst, serial)] == before + ["record.read"]
    with inst.session() as s:
        assert audit.verify(s).ok


def test_a_read_does_not_wait_for_the_writer(inst, make_user, make_record):
    """Another connection holds the write lock (SQLite) or the audit head's row lock
    (PostgreSQL); the read and its decryption still go ahead at once."""
    clerk = make_user("clerk")
    serial = make_record(by=clerk)
    writer = inst.session()
    audit.record(writer, "test.hold", target="lock")   # takes the lock until commit
    try:
        started = time.monotonic()
        s = inst.session(read_only=True)
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        operations.view(s, record, s.get(User, clerk.id))
        assert time.monotonic() - started < 2.0
        done = threading.Event()
        threading.Thread(target=lambda: (inst.end_read(s), s.close(), done.set()), daemon=True).start()
        assert not done.wait(0.3)          # its audit entry queues behind the writer ...
    finally:
        writer.commit()
        writer.close()
    assert done.wait(10)                   # ... and is written as soon as the writer is done
    assert [e.action for e in _entries(inst, serial)][-1] == "record.read"


@pytest.mark.parametrize("statement", [
    "INSERT INTO outbox (record_uid, op) VALUES ('x', 'index')",
    "UPDATE users SET active = active",
    "DELETE FROM outbox",
])
def test_any_other_write_is_refused(inst, statement):
    s = inst.session(read_only=True)
    try:
        with pytest.raises(ReadOnlyWrite) as caught:
            s.execute(text(statement))
        assert statement.split()[0] in str(caught.value)
    finally:
        s.rollback()
        s.close()


def test_orm_changes_are_refused_too(inst, make_user):
    user = make_user("clerk")
    s = inst.session(read_only=True)
    try:
        s.get(User, user.id).display_name = "changed"
        with pytest.raises(ReadOnlyWrite):
            s.flush()
    finally:
        s.rollback()
        s.close()
    with inst.session() as s:
        assert s.get(User, user.id).display_name != "changed"


def test_a_failed_read_writes_nothing(inst, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(by=clerk)
    with inst.session() as s:
        before = s.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    s = inst.session(read_only=True)
    record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
    operations.view(s, record, s.get(User, clerk.id))
    s.rollback()   # the request failed: what it queued goes with it
    s.close()
    with inst.session() as s:
        assert s.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == before


def test_entries_appended_together_in_a_read_are_written_when_it_ends(inst, make_user):
    """``audit.record_many`` in a read-only unit of work queues its entries like ``record``."""
    reader = make_user("inspector")
    targets = [f"many-{i}-{time.monotonic_ns()}" for i in range(3)]
    s = inst.session(read_only=True)
    try:
        n = audit.record_many(s, "test.many", [(t, {"i": i}) for i, t in enumerate(targets)],
                              actor=s.get(User, reader.id))
        assert n == 3 and all(_entries(inst, t) == [] for t in targets)   # not yet
        assert inst.end_read(s) == 3
    finally:
        s.close()
    written = [_entries(inst, t) for t in targets]
    assert [len(w) for w in written] == [1, 1, 1]
    assert [w[0].detail for w in written] == ['{"i":0}', '{"i":1}', '{"i":2}']
    assert written[1][0].id == written[0][0].id + 1 and written[0][0].actor_id == reader.id
    with inst.session() as s:
        assert audit.verify(s).ok


def _checkouts(inst) -> list:
    taken: list = []
    event.listen(inst.db.engine.pool, "checkout", lambda *a: taken.append(1))
    return taken


def test_postgresql_writes_the_queue_in_the_reads_own_transaction(inst, make_user, make_record):
    """PostgreSQL: the queued entries are written and committed by the read's own transaction
    (no second connection, liveness check, BEGIN and ROLLBACK per request); SQLite ends the
    read and writes in a write transaction of its own. Either way the next transaction of the
    session is read-only again."""
    clerk = make_user("clerk")
    serial = make_record(by=clerk)
    taken = _checkouts(inst)
    s = inst.session(read_only=True)
    try:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        operations.view(s, record, s.get(User, clerk.id))
        before = len(taken)
        assert inst.end_read(s) == 1
        assert len(taken) - before == (1 if inst.db.is_sqlite else 0)
        with pytest.raises(ReadOnlyWrite):
            s.execute(text("DELETE FROM outbox"))
        s.rollback()
    finally:
        s.close()
    assert [e.action for e in _entries(inst, serial)][-1] == "record.read"
    with inst.session() as s:
        assert audit.verify(s).ok


def test_a_read_whose_statement_failed_still_writes_its_audit(inst, make_user, make_record):
    """A failed statement the read caught aborts a PostgreSQL transaction: the entries then go
    in a new one, never lost."""
    clerk = make_user("clerk")
    serial = make_record(by=clerk)
    s = inst.session(read_only=True)
    try:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        operations.view(s, record, s.get(User, clerk.id))
        with pytest.raises(DBAPIError):
            s.execute(text("SELECT no_such_column FROM records"))
        assert inst.end_read(s) == 1
    finally:
        s.close()
    assert [e.action for e in _entries(inst, serial)][-1] == "record.read"
    with inst.session() as s:
        assert audit.verify(s).ok
