"""The residue check's reading of every value on PostgreSQL (``residue._values`` and
``residue._copy_rows``): every row of a binary COPY read straight from libpq, a value's
window found wherever its row falls, and the connection left usable whether the COPY ends,
fails on the way or is left early."""
from __future__ import annotations

import hashlib
import os

import pytest
from sqlalchemy import text

from retention import residue


@pytest.fixture(scope="module")
def engine(inst, settings):
    if settings.is_sqlite:
        pytest.skip("PostgreSQL only: on SQLite the check scans the database files")
    with inst.db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE residue_probe (id INTEGER PRIMARY KEY, data BYTEA, note TEXT)"))
    yield inst.db.engine
    with inst.db.engine.begin() as conn:
        conn.execute(text("DROP TABLE residue_probe"))


@pytest.fixture
def rows(engine):
    """10,000 rows of random bytes and text; row 7,777 holds a window the needles look for."""
    window = os.urandom(32)
    values = [{"i": i, "d": os.urandom(40) + (window if i == 7777 else b"") + os.urandom(9), "n": f"第{i}件"}
              for i in range(10_000)]
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO residue_probe (id, data, note) VALUES (:i, :d, :n)"), values)
    yield window, values
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM residue_probe"))


def _driver(conn):
    return conn.connection.driver_connection


def test_every_row_is_read_and_the_planted_window_is_found(engine, rows):
    window, values = rows
    needles = residue.Needles()
    needles.add("LETTER-1", [["c", residue._tag_int(window[:8]), 32, hashlib.sha256(window).hexdigest(),
                              residue.TAG_VERSION]])
    with engine.connect() as conn:
        got = [bytes(row) for row in residue._values(
            conn, _driver(conn), "SELECT data, convert_to(note, 'UTF8') FROM residue_probe")]
        result = residue.ScanResult()
        residue._scan_columns(conn, needles, result)
        conn.rollback()
    # a row of a binary COPY: its field count, then each field's length and bytes
    assert len(got) == len(values) + 1   # and the trailer
    assert sum(window in row for row in got) == 1
    assert any("第9999件".encode() in row for row in got)
    assert [(h["file"], h["serial"], h["kind"]) for h in result.hits] == [("table residue_probe", "LETTER-1", "c")]


def test_a_statement_the_server_refuses_raises_its_error_and_the_connection_recovers(engine):
    from psycopg import errors

    with engine.connect() as conn:
        with pytest.raises(errors.UndefinedTable):
            list(residue._values(conn, _driver(conn), "SELECT data FROM no_such_table"))
        conn.rollback()
        assert conn.execute(text("SELECT 41 + 1")).scalar_one() == 42


def test_a_copy_that_fails_on_the_way_raises_after_its_rows_and_the_connection_recovers(engine, rows):
    from psycopg import errors

    seen = []
    with engine.connect() as conn:
        with pytest.raises(errors.DivisionByZero):
            for row in residue._values(conn, _driver(conn),
                                       "SELECT data, 1 / (id - 9000) FROM residue_probe ORDER BY id"):
                seen.append(row)
        conn.rollback()
        assert conn.execute(text("SELECT count(*) FROM residue_probe")).scalar_one() == 10_000
    assert 0 < len(seen) <= 9_000


def test_a_copy_left_early_is_read_to_its_end_and_the_transaction_goes_on(engine, rows):
    with engine.connect() as conn:
        conn.execute(text("UPDATE residue_probe SET note = 'changed' WHERE id = 1"))   # in this transaction
        values = residue._values(conn, _driver(conn), "SELECT data FROM residue_probe")
        first = [next(values) for _ in range(3)]
        values.close()
        assert len(first) == 3
        assert conn.execute(text("SELECT note FROM residue_probe WHERE id = 1")).scalar_one() == "changed"
        conn.rollback()
        assert conn.execute(text("SELECT note FROM residue_probe WHERE id = 1")).scalar_one() == "第1件"
