"""benchmarks/retention_bench.py (issue 19): the others copied in SQL (``--copies``) are new
letters, each with its rows, that a run leaves alone, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest

from benchmarks import retention_bench
from tests.conftest import _pg_admin_url

BACKENDS = [pytest.param(None, id="sqlite"),
            pytest.param("pg", id="postgresql", marks=pytest.mark.skipif(
                not _pg_admin_url(), reason="needs XINFANG_TEST_DATABASE_URL (a PostgreSQL server)"))]


@pytest.mark.parametrize("server", BACKENDS)
def test_copies_of_the_others_are_letters_of_their_own_that_a_run_leaves(server, monkeypatch):
    made = {}
    replicate = retention_bench._replicate

    def spy(inst, copies):
        from sqlalchemy import func, select

        from records.models import Record, RecordEvent, SerialCounter

        added = replicate(inst, copies)
        with inst.unit_of_work() as s:
            made["letters"] = s.execute(select(func.count(Record.id))).scalar_one()
            made["distinct"] = s.execute(select(func.count(func.distinct(Record.uid)))).scalar_one(), \
                s.execute(select(func.count(func.distinct(Record.serial)))).scalar_one()
            made["events"] = {n for (n,) in s.execute(select(func.count(RecordEvent.id))
                                                      .group_by(RecordEvent.record_id)).all()}
            made["counters"] = dict(s.execute(select(SerialCounter.year, SerialCounter.last)).all())
            made["serials"] = s.execute(select(Record.serial).order_by(Record.id.desc()).limit(1)).scalar_one()
        made["added"] = added
        return added

    monkeypatch.setattr(retention_bench, "_replicate", spy)
    r = retention_bench.bench(40, 80, _pg_admin_url() if server else None,
                              "postgresql" if server else "whoosh", copies=2)
    assert made["added"] == 160 and made["letters"] == 240
    assert made["distinct"] == (240, 240)
    assert len(made["events"]) == 1   # every copy has its original's events
    assert made["counters"] == {2022: 60, 2023: 60, 2024: 60, 2025: 60}
    assert made["serials"] == "XF-2025-000060"
    assert r["others"] == 240 and r["clean"] is True   # the run destroyed the batch only and certified it


def test_breakdown_times_the_residue_checks_parts_and_puts_them_back():
    from retention import certificate, residue

    before = (residue._scan_columns, residue.scan, residue._rows_left, certificate._surviving_tokens)
    r = retention_bench.bench(20, 40, breakdown=True)
    parts = {what for _took, what in r["breakdown"]}
    # SQLite: the instance's files, the database file among them, are scanned; no server to ask
    assert "retention.residue.scan" in parts and "retention.certificate._surviving_tokens" in parts
    assert all(took >= 0 for took, _what in r["breakdown"]) and r["clean"] is True
    assert (residue._scan_columns, residue.scan, residue._rows_left, certificate._surviving_tokens) == before
    assert retention_bench.bench(20, 40)["breakdown"] == []   # without it, nothing is timed
