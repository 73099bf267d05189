"""The PostgreSQL search tables partitioned (issue 19): by year (migration 0013, from the
unpartitioned table with its rows), then by part (0018: a destruction batch's stored
letters, a year's letters awaiting a decision, a year's others); a letter that moves when it
is stored or its year changes, a purge that rewrites only the partitions rows left, a
rebuild that keeps the partitions' names, and a destruction's compaction and residue scan
narrowed to the batch's partitions. Needs a PostgreSQL server."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from records.db import Database, alembic_config, upgrade
from records.models import OutboxEntry, Record
from retention import compaction, residue
from search import analysis, indexer
from search import postgres as pg_backend
from search.postgres.schema import MOVED, part_of
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


def _rows(inst, uid: str) -> list[tuple[str, str]]:
    with inst.db.engine.connect() as conn:
        return conn.execute(text(f"SELECT tableoid::regclass::text, part FROM {TABLE} WHERE uid = :u"),
                            {"u": uid}).all()


def _rewritten(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {n for n in after if after[n] != before.get(n)}


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
        upgrade(db, "20261204_0017")
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
            conn.execute(text(f"CREATE TABLE {TABLE}_y2025 PARTITION OF {TABLE} FOR VALUES IN (2025)"))
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
        with db.engine.begin() as conn:   # and 0017 counts the terms (0018 again, by part)
            held, counted = _terms_as_counted(conn)
        assert held == counted and held[("i2025", pg_backend.schema.term_number("FFFFFFFFFFF"))] == 1
        assert held[("i2025", pg_backend.schema.term_number("c1", char=True))] == 3
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


CASTS = {"allowed": "text[]", "denied": "text[]", "chars": "text[]", "text": "tsvector", "repeated_tokens": "bigint[]",
         "repeated_counts": "smallint[]", "pairs": "bigint[]", "triples": "bigint[]", "runs": "bigint[]"}


def test_the_migration_moves_the_rows_to_their_parts_and_back():
    """0018 partitions the tables by part: each row where ``part_of`` puts it (a stored letter
    in its batch's partition, a registered one in its year's intake, the others in their
    year's), the terms counted again per part, and back to years."""
    admin = _pg_admin_url()
    name, url = _create_pg_database(admin)
    db = Database(url)
    letters = [("u0", 2023, "registered", "110108"), ("u1", 2023, "stored", "110108"),
               ("u2", 2023, "stored", "东城区"), ("u3", 2024, "accepted", "110108"), ("u4", 2024, "stored", "110108")]
    try:
        upgrade(db, "20261204_0017")
        rows = [pg_backend.row_of(_doc(uid, [f"TOK{i:08d}", "SHAREDTOKEN"], chars=["c1"], year=year, status=status,
                                       region=region)) for i, (uid, year, status, region) in enumerate(letters)]
        columns = [c for c in pg_backend.schema.COLUMNS if c != "part"]
        with db.engine.begin() as conn:
            for year in (2023, 2024):
                for table in (TABLE, pg_backend.TERMS):
                    conn.execute(text(f"CREATE TABLE {table}_y{year} PARTITION OF {table} FOR VALUES IN ({year})"))
            conn.execute(text(
                f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES "
                f"({', '.join(f'CAST(:{c} AS {CASTS[c]})' if c in CASTS else ':' + c for c in columns)})"),
                [{c: r[c] for c in columns} for r in rows])
            conn.execute(text("INSERT INTO search_meta (name, value) VALUES ('moved:2023', '1')"))
        upgrade(db)
        with db.engine.begin() as conn:
            placed = dict(conn.execute(text(f"SELECT uid, tableoid::regclass::text FROM {TABLE}")).all())
            assert placed == {uid: f"{TABLE}_{part_of(status, year, region)}" for uid, year, status, region in letters}
            assert placed["u0"] == f"{TABLE}_i2023" and placed["u3"] == f"{TABLE}_y2024"
            assert placed["u1"] != placed["u2"] and placed["u1"].startswith(f"{TABLE}_s2023_")
            assert conn.execute(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :c"),
                                {"c": f"pk_{TABLE}"}).scalar_one() == "PRIMARY KEY (uid, part)"
            assert set(pg_backend.partitions(conn, pg_backend.TERMS)) == {
                part_of(status, year, region) for _, year, status, region in letters}
            held, counted = _terms_as_counted(conn)
            assert held == counted and held[(part_of("stored", 2023, "110108"),
                                             pg_backend.schema.term_number("SHAREDTOKEN"))] == 1
            assert conn.execute(text("SELECT count(*) FROM search_meta WHERE name LIKE 'moved:%'")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE '%before%'")).scalar_one() == 0
            indexes = set(conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = :t"),
                                       {"t": f"{TABLE}_y2024"}).scalars())
            assert {f"{TABLE}_y2024_pkey", f"{TABLE}_y2024_text_idx", f"{TABLE}_y2024_runs_idx"} <= indexes
        from alembic import command

        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "20261204_0017")
        with db.engine.connect() as conn:
            placed = dict(conn.execute(text(f"SELECT uid, tableoid::regclass::text FROM {TABLE}")).all())
            assert placed == {uid: f"{TABLE}_y{year}" for uid, year, _, _ in letters}
            assert conn.execute(text(f"SELECT sum(documents) FROM {pg_backend.TERMS} WHERE year = 2023 AND term = :t"),
                                {"t": pg_backend.schema.term_number("SHAREDTOKEN")}).scalar_one() == 3
        upgrade(db)   # and up again
    finally:
        db.dispose()
        _drop_pg_database(admin, name)


def test_a_letter_moves_to_its_part_and_the_part_it_left_is_purged(inst, svc):
    uid = "moving-" + word()
    svc.backend.index([_doc(uid, svc.blinder.text(["moving"]), year=2019)])
    assert _rows(inst, uid) == [(f"{TABLE}_i2019", "i2019")]   # registered: awaiting a decision
    count = svc.backend.doc_count()
    svc.backend.index([_doc(uid, svc.blinder.text(["moved"]), year=2018)])   # its received date corrected
    assert _rows(inst, uid) == [(f"{TABLE}_i2018", "i2018")] and svc.backend.doc_count() == count
    svc.backend.index([_doc(uid, svc.blinder.text(["moved"]), year=2018, status="stored")])   # stored
    batch = part_of("stored", 2018, "110108")
    assert _rows(inst, uid) == [(f"{TABLE}_{batch}", batch)] and svc.backend.doc_count() == count
    with inst.db.engine.connect() as conn:
        marks = set(conn.execute(text(f"SELECT name FROM {pg_backend.META} WHERE name LIKE '{MOVED}%'")).scalars())
    assert marks == {f"{MOVED}i2019", f"{MOVED}i2018"}
    before = _filenodes(inst)
    report = svc.backend.purge([2018], deleted_only=True)   # the partitions it left (their dead copies)
    rewritten = {f"{t}_{p}" for t in (TABLE, pg_backend.TERMS) for p in ("i2018", "i2019")}
    assert set(report.shards) == rewritten and _rewritten(before, _filenodes(inst)) == rewritten
    with inst.db.engine.connect() as conn:   # then forgotten
        assert conn.execute(text(f"SELECT count(*) FROM {pg_backend.META} WHERE name LIKE '{MOVED}%'")
                            ).scalar_one() == 0
    assert svc.backend.purge([2018], deleted_only=True).shards == []   # nothing left: nothing rewritten
    assert svc.backend.delete([uid], purge=False) == 1
    before = _filenodes(inst)
    assert set(svc.backend.purge([2018], deleted_only=True).shards) == {f"{t}_{batch}" for t in (TABLE, pg_backend.TERMS)}
    assert _rewritten(before, _filenodes(inst)) == {f"{t}_{batch}" for t in (TABLE, pg_backend.TERMS)}
    # an operator's purge of a year (xinfang search purge --year) rewrites all of its partitions
    every_2018 = {n for n in _filenodes(inst) if n.split("_")[-1] == "i2018" or "_s2018_" in n or n.endswith("_y2018")}
    before = _filenodes(inst)
    assert set(svc.backend.purge([2018]).shards) == every_2018 == _rewritten(before, _filenodes(inst))


def test_a_decided_letter_moving_leaves_no_mark(inst, svc):
    """A decided letter is never destroyed: its year corrected, the dead copy it leaves in
    its old year's partition of decided letters asks no destruction to rewrite that partition."""
    uid = "decided-" + word()
    svc.backend.index([_doc(uid, svc.blinder.text(["decided"]), year=2017, status="accepted")])
    svc.backend.index([_doc(uid, svc.blinder.text(["decided"]), year=2016, status="accepted")])
    assert _rows(inst, uid) == [(f"{TABLE}_y2016", "y2016")]
    with inst.db.engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {pg_backend.META} WHERE name LIKE '{MOVED}%'")
                            ).scalar_one() == 0
    assert svc.backend.delete([uid], purge=False) == 1   # a deletion does mark it
    assert set(svc.backend.purge(deleted_only=True).shards) == {f"{t}_y2016" for t in (TABLE, pg_backend.TERMS)}


def test_purging_after_a_deletion_rewrites_that_letters_partition_only(inst, make_user, make_record, drain, svc):
    secret = "松鼠藏了三顆核桃在樹洞"
    clerk = make_user("clerk")
    serial = make_record(by=clerk, received_at="2024-03-04T10:00", body=f"{secret} {word()}")
    other = make_record(by=clerk, received_at="2023-05-06T10:00", body=f"別的年份 {word()}")
    drain()
    tokens = set(svc.blinder.text(analysis.analyse(secret).tokens))
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        uid, region = record.uid, record.region_code
        s.delete(record)
        s.add(OutboxEntry(record_uid=uid, op="delete"))
    before = _filenodes(inst)
    assert indexer.purge_deleted(inst, [2024]) == 1
    assert _rewritten(before, _filenodes(inst)) == {f"{TABLE}_i2024", f"{pg_backend.TERMS}_i2024"}
    # (2023 untouched)
    data = index_bytes(inst)
    assert [t for t in tokens if t.encode() in data] == [] and uid.encode() not in data
    # the run's compaction and residue scan: the batch's partition and its year's intake stand for the tables
    batch = part_of("stored", 2024, region)
    assert set(compaction.affected_tables(2024, region)) >= {
        f"{t}_{p}" for t in (TABLE, pg_backend.TERMS) for p in (batch, "i2024")}
    assert TABLE not in compaction.affected_tables(2024, region) and f"{TABLE}_y2024" not in compaction.affected_tables(
        2024, region)
    with inst.db.engine.connect() as conn:
        one_part = residue.relation_files(conn, [f"{TABLE}_i2024"])
        every_part = residue.relation_files(conn, [TABLE])
    assert one_part and set(one_part) < set(every_part)
    # the residue check's scan of every value reads the search rows through the partitions, once
    with inst.unit_of_work() as s:
        other_uid = s.execute(select(Record.uid).where(Record.serial == other)).scalar_one()
    needles = residue.Needles()
    needles.add(other, residue.fingerprint(other_uid.encode(), "u", windows=1))
    found = residue.scan_postgresql(inst.db.engine, needles, record_ids=[], keyed_tables=[], affected=[])
    places = [h["file"] for h in found.hits]
    assert places.count(f"table {TABLE}_i2023") == 1 and f"table {TABLE}" not in places
    # but not the blinded words (``residue._SCANNED_TYPES``): nothing fingerprinted can be in them
    with inst.db.engine.connect() as conn:
        words = conn.execute(text(f'SELECT CAST("text" AS text) FROM {TABLE}_i2023')).scalar_one().encode()
    needles = residue.Needles()
    needles.add(other, residue.fingerprint(words, "c"))
    unread = residue.scan_postgresql(inst.db.engine, needles, record_ids=[], keyed_tables=[], affected=[])
    assert unread.clean and unread.needles == 3 and unread.tables and unread.bytes   # a scan that read, not none


def test_a_rebuild_keeps_the_partitions_and_their_names(inst, make_user, make_record, drain, svc):
    make_record(by=make_user("clerk"), received_at="2022-08-09T10:00", body=f"重建 {word()}")
    drain()
    with inst.unit_of_work() as s:
        parts = {part_of(*r) for r in s.execute(select(Record.status, Record.year, Record.region_code).distinct())}
    indexer.reindex(inst)
    after = set(_filenodes(inst))   # a partition for each part that has letters, under the tables' names
    assert after == {f"{t}_{p}" for t in (TABLE, pg_backend.TERMS) for p in parts} and f"{TABLE}_i2022" in after
    with inst.db.engine.connect() as conn:
        stray = conn.execute(text("SELECT indexname FROM pg_indexes WHERE indexname LIKE :p OR indexname LIKE :q"),
                             {"p": f"{pg_backend.NEW_TABLE}%", "q": f"%{pg_backend.schema.NEW_TERMS}%"}
                             ).scalars().all()
        held, counted = _terms_as_counted(conn)   # the rebuild counted the terms afresh
        conn.rollback()
    assert stray == [] and indexer.check(inst).ok and held == counted and held
    info = svc.backend.describe()
    assert info["partitions"] == len(parts) and info["bytes"] >= info["table_bytes"] > 0


def test_a_destruction_rewrites_its_batchs_partition_and_the_intake_only(inst, make_user, make_record, drain, svc):
    """A whole run (``retention.destroy``) of a (region, year) batch: the letters were
    registered, indexed, then stored (their rows moved from the year's intake to the batch's
    partition); the run rewrites those two partitions and leaves the year's decided letters
    and another region's batch untouched; no token of the destroyed text is left."""
    from retention import destroy
    from tests.retention.conftest import REASONS, TODAY, approved_batch, set_status

    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    secret = "白鷺在稻田邊上數青蛙"
    body = f"{secret} {word()}"
    batch = [make_record(by=clerk, region="110112", received_at="2021-04-0{}T10:00".format(i + 1), body=body)
             for i in range(2)]
    elsewhere = make_record(by=clerk, region="110101", received_at="2021-05-01T10:00", body=f"別處 {word()}")
    kept = make_record(by=clerk, region="110112", received_at="2021-06-01T10:00", body=f"受理 {word()}")
    drain()
    assert {_rows(inst, _uid(inst, s))[0][1] for s in batch} == {"i2021"}   # awaiting a decision
    for serial, status in [*((s, "stored") for s in (*batch, elsewhere)), (kept, "accepted")]:
        set_status(inst, serial, status, REASONS[2] if status == "stored" else None)
        with inst.unit_of_work() as s:   # as the workflow does: the index is told
            s.add(OutboxEntry(record_uid=_uid(inst, serial), op="index"))
    drain()
    mine, theirs = part_of("stored", 2021, "110112"), part_of("stored", 2021, "110101")
    assert {_rows(inst, _uid(inst, s))[0][1] for s in batch} == {mine}
    assert _rows(inst, _uid(inst, elsewhere))[0][1] == theirs and _rows(inst, _uid(inst, kept))[0][1] == "y2021"
    tokens = set(svc.blinder.text(analysis.analyse(secret).tokens))
    assert any(t.encode() in index_bytes(inst) for t in tokens)
    batch_id = approved_batch(inst, archivist, leader, "110112", 2021)
    before = _filenodes(inst)
    reports = destroy.run(inst, batch_id=batch_id, today=TODAY)
    assert reports[0].residue_clean and len(reports[0].letters) == 2
    rewritten = _rewritten(before, _filenodes(inst))
    ours = {f"{t}_{p}" for t in (TABLE, pg_backend.TERMS) for p in (mine, "i2021")}
    assert f"{TABLE}_{mine}" in rewritten and rewritten <= ours | {n for n in before if "_i" in n}
    assert not rewritten & {f"{t}_{p}" for t in (TABLE, pg_backend.TERMS) for p in ("y2021", theirs)}
    data = index_bytes(inst)
    assert [t for t in tokens if t.encode() in data] == []
    assert _rows(inst, _uid(inst, elsewhere)) and _rows(inst, _uid(inst, kept))


def _uid(inst, serial: str) -> str:
    with inst.unit_of_work() as s:
        return s.execute(select(Record.uid).where(Record.serial == serial)).scalar_one()
