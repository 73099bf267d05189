"""A destruction run and its certificate's check send statements whose size does not grow
with the batch: a batch of 100,000 letters once failed on PostgreSQL in the run's
preparation, with a NOT IN list of every letter going (a statement carries at most 65,535
parameters there). Here steps of two letters and a batch of 40: every list of letters in a
statement is one step's, never the batch's."""
from __future__ import annotations

import json

from sqlalchemy import event, select

from records.models import Record
from retention import certificate, destroy, operations as ret
from retention.certificate import verify
from retention.models import Certificate

from .conftest import TODAY, approved_batch

LETTERS = 40


def _size(parameters) -> int:
    if isinstance(parameters, (list, tuple)) and parameters and isinstance(parameters[0], (list, tuple, dict)):
        return max(len(p) for p in parameters)   # executemany: one set of parameters per row
    return len(parameters or ())


def test_destroying_and_verifying_a_batch_sends_no_statement_sized_by_the_batch(inst, make_user, store_letters,
                                                                                monkeypatch):
    monkeypatch.setattr(ret, "CHUNK", 2)
    monkeypatch.setattr(destroy, "CHUNK", 2)
    monkeypatch.setattr(certificate, "CHUNK", 2)
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, LETTERS, region="110114", year=2021)
    batch_id = approved_batch(inst, archivist, leader, "110114", 2021)

    sizes: list[tuple[int, str]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if "FROM outbox" not in statement:   # the index's drain: its own steps (search.indexer.BATCH)
            sizes.append((_size(parameters), statement[:120]))

    engine = inst.db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        reports = destroy.run(inst, batch_id=batch_id, by_id=leader.id, today=TODAY)
        with inst.unit_of_work() as s:
            cert = s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).scalar_one()
            report = verify(json.loads(cert.body), s, inst)
    finally:
        event.remove(engine, "before_cursor_execute", before)

    assert reports[0].residue_clean and report.ok, report.problems
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.id).where(Record.serial.in_(serials))).first() is None
    largest = max(sizes)
    assert largest[0] < LETTERS // 2, largest   # a step's rows (2 letters) with their columns, not 40 letters
