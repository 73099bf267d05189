"""The PostgreSQL search table partitioned by year (issue 19): the migration from the
unpartitioned table with its rows, a letter whose year changes, a purge that rewrites only the
years it names, a rebuild that keeps the partitions' names, and a destruction's compaction and
residue scan narrowed to the batch's year. Needs a PostgreSQL server."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from records.db import Database, alembic_config, upgrade
from records.models import OutboxEntry, Record
from retention import compaction, residue
from search import analysis, indexer
from search import postgres as pg_backend
from search.postgres.schema import MOVED
from tests.conftest import _create_pg_database, _drop_pg_database, _pg_admin_url

from .conftest import index_bytes, word
from .test_pg_backend import NEEDS_PG, _doc, _terms_as_counted

TABLE = pg_backend.TABLE
pytestmark = pytest.mark.skipif(not _pg_admin_url(), reason=NEEDS_PG)


@pytest.fixture(scope="module", params=["postgresql"])
def search_backend(request) -> str:
    if not _pg_admin_url():
        pytest.skip(NEEDS_PG)
    return request.param


def _filenodes(inst) -> dict[str, int]:
    """partition -> relfilenode (a new one after VACUUM FULL rewrote it), of the letters'
    table and of the terms'."""
    with inst.db.engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT c.relname, c.relfilenode FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = ANY (ARRAY[CAST(:t AS regclass), CAST(:terms AS regclass)])"),
            {"t": TABLE, "terms": pg_backend.TERMS}).all())


def _rows(inst, uid: str) -> list[tuple[str, int]]:
    with inst.db.engine.connect() as conn:
        return conn.execute(text(f"SELECT tableoid::regclass::text, year FROM {TABLE} WHERE uid = :u"),
                            {"u": uid}).all()


def test_the_migration_partitions_a_populated_table_and_back():
    admin = _pg_admin_url()
    name, url = _create_pg_database(admin)
    db = Database(url)
    try:
        upgrade(db, "20261203_0012")
        columns = ("uid, record_id, serial, year, status, channel, region, category, office, received, doc_version, "
                   "allowed, denied, \"text\", chars, length")
        with db.engine.begin() as conn:
            for i, year in enumerate((2023, 2023, 2024, 2025)):
                conn.execute(text(
                    f"INSERT INTO {TABLE} ({columns}) VALUES (:u, :i, :s, :y, 'registered', 'letter', '110108', "
                    "'labour_wages', 'LDJC', 0, 1, ARRAY['p:x'], ARRAY[]::text[], CAST(:t AS tsvector), "
                    "ARRAY['c1'], 3)"), {"u": f"u{i}", "i": i, "s": f"XF-{i}", "y": year, "t": f"'tok{i}':1 'b':2"})
            conn.execute(text("INSERT INTO search_meta (name, value) VALUES ('format', '2'), ('documents', '4')"))
        upgrade(db)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                                {"t": TABLE}).scalar_one() == "p"
            placed = dict(conn.execute(text(f"SELECT uid, tableoid::regclass::text FROM {TABLE}")).all())
            assert placed == {"u0": f"{TABLE}_y2023", "u1": f"{TABLE}_y2023", "u2": f"{TABLE}_y2024",
                              "u3": f"{TABLE}_y2025"}
            assert conn.execute(text(f"SELECT count(*) FROM {TABLE} WHERE \"text\" @@ CAST('tok2' AS tsquery)")
                                ).scalar_one() == 1
            key = conn.execute(text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :c"),
                {"c": f"pk_{TABLE}"}).scalar_one()
            assert key == "PRIMARY KEY (uid, year)"
            indexes = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"),
                                       {"t": f"{TABLE}_y2024"}).scalars())
            assert {f"{TABLE}_y2024_pkey", f"{TABLE}_y2024_text_idx", f"{TABLE}_y2024_chars_idx"} <= indexes
            assert conn.execute(text("SELECT to_regclass('search_documents_before')")).scalar() is None
            meta = dict(conn.execute(text("SELECT name, value FROM search_meta")).all())
            assert meta == {"format": "2", "documents": "4"}   # no reindex asked for
        from alembic import command

        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "20261203_0012")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT relkind FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                                {"t": TABLE}).scalar_one() == "r"
            assert conn.execute(text(f"SELECT count(*) FROM {TABLE}")).scalar_one() == 4
            assert conn.execute(text(f"SELECT to_regclass('{TABLE}_y2023')")).scalar() is None
        upgrade(db)   # and up again
    finally:
        db.dispose()
        _drop_pg_database(admin, name)


#: The columns of a row that migrations 0014, 0015 and 0016 derive from its ``tsvector``.
DERIVED = ("repeated_tokens", "repeated_counts", "pairs", "triples", "runs")


def test_the_migrations_fill_the_repeated_tokens_pairs_triples_and_runs_of_a_populated_table_and_back():
    """Migrations 0014, 0015 and 0016 fill each row's repeated tokens, pairs, triples and
    runs from its tsvector: what ``schema.row_of`` writes for the same letter; 0017 counts
    the letters holding each term, per year."""
    admin = _pg_admin_url()
    name, url = _create_pg_database(admin)
    db = Database(url)
    tokens = [["AAAAAAAAAAA", "BBBBBBBBBBB", "AAAAAAAAAAA", "CCCCCCCCCCC", "AAAAAAAAAAA", "BBBBBBBBBBB"],
              ["DDDDDDDDDDD", "EEEEEEEEEEE"], ["FFFFFFFFFFF"] * 300]
    try:
        upgrade(db, "20261203_0013")
        columns = ("uid, record_id, serial, year, status, channel, region, category, office, received, doc_version, "
                   "allowed, denied, \"text\", chars, length")
        with db.engine.begin() as conn:
            pg_backend.ensure_partitions(conn, TABLE, [2025])
            for i, toks in enumerate(tokens):
                conn.execute(text(
                    f"INSERT INTO {TABLE} ({columns}) VALUES (:u, :i, :s, 2025, 'registered', 'letter', '110108', "
                    "'labour_wages', 'LDJC', 0, 1, ARRAY['p:x'], ARRAY[]::text[], CAST(:t AS tsvector), "
                    "ARRAY['c1'], 3)"), {"u": f"u{i}", "i": i, "s": f"XF-{i}", "t": pg_backend.tsvector_literal(toks)})
        upgrade(db)
        with db.engine.connect() as conn:
            got = {r.uid: {k: list(r[k]) for k in DERIVED}
                   for r in conn.execute(text(f"SELECT uid, {', '.join(DERIVED)} FROM {TABLE}")).mappings()}
        want = {}
        for i, toks in enumerate(tokens):
            row = pg_backend.row_of(_doc(f"u{i}", toks))
            want[f"u{i}"] = {k: row[k] for k in DERIVED}
        assert got == want
        with db.engine.begin() as conn:   # and 0017 counts each year's terms
            held, counted = _terms_as_counted(conn)
        assert held == counted and held[(2025, pg_backend.schema.term_number("FFFFFFFFFFF"))] == 1
        assert held[(2025, pg_backend.schema.term_number("c1", char=True))] == 3
        assert len(got["u0"]["repeated_tokens"]) == 2 and got["u2"]["repeated_counts"] == [256]
        assert got["u1"] == {"repeated_tokens": [], "repeated_counts": [], "pairs": [
            pg_backend.schema.pair_number("DDDDDDDDDDD", "EEEEEEEEEEE")], "triples": [], "runs": []}
        assert len(got["u0"]["pairs"]) == 4   # AB BA AC CA (AB twice, once kept)
        assert len(got["u0"]["triples"]) == 4   # ABA BAC ACA CAB
        assert got["u2"]["triples"] == [pg_backend.schema.triple_number(*["FFFFFFFFFFF"] * 3)]
        assert len(got["u0"]["runs"]) == 5   # ABAC BACA ACAB, ABACA BACAB
        assert got["u2"]["runs"] == sorted(pg_backend.schema.run_number(["FFFFFFFFFFF"] * n) for n in (4, 5))
        from alembic import command

        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "20261203_0013")
        with db.engine.connect() as conn:
            assert conn.execute(text(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = :t "
                "AND column_name = ANY (:c)"), {"t": TABLE, "c": list(DERIVED)}).scalar_one() == 0
            assert conn.execute(text(f"SELECT to_regclass('{pg_backend.TERMS}')")).scalar() is None
        upgrade(db)   # and up again
    finally:
        db.dispose()
        _drop_pg_database(admin, name)


def test_a_letter_lives_in_its_years_partition_and_moves_with_its_year(inst, svc):
    uid = "moving-" + word()
    svc.backend.index([_doc(uid, svc.blinder.text(["moving"]), year=2019)])
    assert _rows(inst, uid) == [(f"{TABLE}_y2019", 2019)]
    count = svc.backend.doc_count()
    svc.backend.index([_doc(uid, svc.blinder.text(["moved"]), year=2018)])   # its received date corrected
    assert _rows(inst, uid) == [(f"{TABLE}_y2018", 2018)] and svc.backend.doc_count() == count
    with inst.db.engine.connect() as conn:
        assert conn.execute(text(f"SELECT value FROM {pg_backend.META} WHERE name = :n"),
                            {"n": f"{MOVED}2019"}).scalar() == "1"
    before = _filenodes(inst)
    report = svc.backend.purge([2018])   # the year it left is rewritten too (its dead copy), then forgotten
    after = _filenodes(inst)
    rewritten = {f"{t}_y{y}" for t in (TABLE, pg_backend.TERMS) for y in (2018, 2019)}
    assert set(report.shards) == rewritten
    assert {n for n in after if after[n] != before.get(n)} == rewritten
    with inst.db.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {pg_backend.META} WHERE name LIKE '{MOVED}%'")
                            ).scalar_one() == 0
    assert svc.backend.delete([uid], purge=False) == 1


def test_purging_a_year_rewrites_that_years_partition_only(inst, make_user, make_record, drain, svc):
    secret = "松鼠藏了三顆核桃在樹洞"
    clerk = make_user("clerk")
    serial = make_record(by=clerk, received_at="2024-03-04T10:00", body=f"{secret} {word()}")
    other = make_record(by=clerk, received_at="2023-05-06T10:00", body=f"別的年份 {word()}")
    drain()
    tokens = set(svc.blinder.text(analysis.analyse(secret).tokens))
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        uid = record.uid
        s.delete(record)
        s.add(OutboxEntry(record_uid=uid, op="delete"))
    before = _filenodes(inst)
    assert indexer.purge_deleted(inst, [2024]) == 1
    after = _filenodes(inst)
    assert {n for n in after if after[n] != before.get(n)} == {f"{TABLE}_y2024", f"{pg_backend.TERMS}_y2024"}
    # (2023 untouched)
    data = index_bytes(inst)
    assert [t for t in tokens if t.encode() in data] == [] and uid.encode() not in data
    # the run's compaction and residue scan: that year's partition stands for the search table
    assert {f"{TABLE}_y2024", f"{pg_backend.TERMS}_y2024"} <= set(compaction.affected_tables(2024))
    assert TABLE not in compaction.affected_tables(2024)
    with inst.db.engine.connect() as conn:
        one_year = residue.relation_files(conn, [f"{TABLE}_y2024"])
        every_year = residue.relation_files(conn, [TABLE])
    assert one_year and set(one_year) < set(every_year)
    # the residue check's scan of every value reads the search rows through the partitions, once
    with inst.unit_of_work() as s:
        other_uid = s.execute(select(Record.uid).where(Record.serial == other)).scalar_one()
    needles = residue.Needles()
    needles.add(other, residue.fingerprint(other_uid.encode(), "u", windows=1))
    found = residue.scan_postgresql(inst.db.engine, needles, record_ids=[], keyed_tables=[], affected=[])
    places = [h["file"] for h in found.hits]
    assert places.count(f"table {TABLE}_y2023") == 1 and f"table {TABLE}" not in places


def test_a_rebuild_keeps_the_partitions_and_their_names(inst, make_user, make_record, drain, svc):
    make_record(by=make_user("clerk"), received_at="2022-08-09T10:00", body=f"重建 {word()}")
    drain()
    with inst.unit_of_work() as s:
        years = set(s.execute(select(Record.year).distinct()).scalars())
    indexer.reindex(inst)
    after = set(_filenodes(inst))   # a partition for each year that has letters, under the tables' names
    assert after == {f"{t}_y{y}" for t in (TABLE, pg_backend.TERMS) for y in years} and f"{TABLE}_y2022" in after
    with inst.db.engine.connect() as conn:
        stray = conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexname LIKE :p OR indexname LIKE :q"),
                             {"p": f"{pg_backend.NEW_TABLE}%", "q": f"%{pg_backend.schema.NEW_TERMS}%"}
                             ).scalars().all()
        held, counted = _terms_as_counted(conn)   # the rebuild counted the terms afresh
        conn.rollback()
    assert stray == [] and indexer.check(inst).ok and held == counted and held
    info = svc.backend.describe()
    assert info["partitions"] == len(years) and info["bytes"] >= info["table_bytes"] > 0
