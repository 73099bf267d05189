"""benchmarks/retention_what_if.py (issue 19): the record tables laid out as partitions for a
run, a run that is still certified clean, and the check still catching the residue of a
partition the run did not rewrite (PostgreSQL only)."""
from __future__ import annotations

import pytest

from benchmarks import retention_what_if as what_if
from retention import certificate, compaction, destroy, residue
from tests.conftest import _pg_admin_url

pytestmark = pytest.mark.skipif(not _pg_admin_url(), reason="needs XINFANG_TEST_DATABASE_URL (a PostgreSQL server)")


def _originals():
    return compaction.affected_tables, certificate.affected_tables, residue._values


def test_a_run_on_partitioned_record_tables_is_certified_and_the_layout_is_undone():
    before = _originals()
    seen = {}
    partition = what_if.partition_record_tables

    def spy(engine, ids):
        partition(engine, ids)
        from sqlalchemy import text

        with engine.connect() as conn:
            seen["parts"] = dict(conn.execute(text(
                "SELECT c.relname, count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent "
                "GROUP BY c.relname")).all())
            seen["batch"] = conn.execute(text("SELECT count(*) FROM records_b")).scalar_one()
            seen["rest"] = conn.execute(text("SELECT count(*) FROM records_r")).scalar_one()
        seen["ids"] = len(ids)

    what_if.partition_record_tables = spy
    try:
        r = what_if.run("partitioned", 30, 40, 1, _pg_admin_url())
    finally:
        what_if.partition_record_tables = partition
    assert r["clean"] is True and r["left_out"] == []
    assert seen["ids"] == seen["batch"] == 30 and seen["rest"] == 80
    assert all(seen["parts"].get(t) == 2 for t, _ in what_if.record_tables())   # every record table: _b and _r
    assert _originals() == before


def test_narrow_leaves_the_rests_partitions_out_of_the_values_it_reads():
    r = what_if.run("narrow", 20, 40, 0, _pg_admin_url())
    assert r["clean"] is True
    assert "records_r" in r["left_out"] and "identity_tokens_r" in r["left_out"]
    assert not any(t.endswith("_b") for t in r["left_out"])


def test_the_check_finds_the_batch_partition_a_run_did_not_rewrite(monkeypatch):
    """The what-if's check is real: without the rewrite of the batch's partitions, the dead
    rows' bytes are found in their files and the certificate says so."""
    from sqlalchemy import create_engine

    engine = create_engine(_pg_admin_url())
    try:
        with engine.connect() as conn:
            if residue._data_directory(conn) is None:
                pytest.skip("the server's data directory cannot be read from here: no relation file is scanned")
    finally:
        engine.dispose()
    compact = destroy.compact

    def compact_but_the_batch(inst, run_id=None, **_kw):
        names = compaction.affected_tables(*compaction._run_batch(inst, run_id))
        compact(inst, run_id, tables=[n for n in names if not n.endswith("_b")])

    monkeypatch.setattr(destroy, "compact", compact_but_the_batch)
    with pytest.raises(AssertionError, match="not clean"):
        what_if.run("partitioned", 20, 40, 0, _pg_admin_url())
