"""The PostgreSQL search backend: configuration, the table, tsvector limits, the same answers
as Whoosh, the writer lock across machines, rebuilds, purges, crashes and destruction.

The rest of tests/search runs on this backend too (see conftest.py); here are the tests that
only mean something for it, and the counterparts of the Whoosh-only ones. Everything but the
configuration tests needs a PostgreSQL server (``XINFANG_TEST_DATABASE_URL``).
"""
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pytest
from sqlalchemy import inspect, select, text

from app.cli import cli
from records.settings import Settings
from records.errors import ConfigurationError
from app.composition import build_instance
from records.models import OutboxEntry, Record
from records.accounts.models import User
from records.setup import init_instance
from search import analysis, factory, indexer, query
from search import postgres as pg_backend
from search.interface import (
    Access, And, CharTerm, Everything, IndexDocument, Match, Not, Or, Phrase, Range, TextTerm,
)
from search.whoosh.backend import WhooshBackend
from tests.conftest import _pg_admin_url

from .conftest import index_bytes, word
from .test_crash import ROOT, run_killed

NEEDS_PG = "needs a PostgreSQL server (XINFANG_TEST_DATABASE_URL)"


@pytest.fixture(scope="module", params=["postgresql"])
def search_backend(request) -> str:
    """This module's instance always uses the PostgreSQL backend."""
    if not _pg_admin_url():
        pytest.skip(NEEDS_PG)
    return request.param


# -- configuration (runs on every database) ---------------------------------------------------------
def test_the_backend_is_chosen_by_configuration(tmp_path):
    def settings(env, **fields):
        return Settings.from_env(env, home=str(tmp_path), database_url="sqlite:///x.sqlite3", **fields)

    assert factory.configured(settings({})) == "whoosh"
    assert factory.configured(settings({"XINFANG_SEARCH_BACKEND": "postgresql"})) == "postgresql"
    assert factory.configured(settings({"XINFANG_SEARCH_BACKEND": " PostgreSQL "})) == "postgresql"
    # what the entry point passes wins over the environment
    assert factory.configured(settings({"XINFANG_SEARCH_BACKEND": "postgresql"}, search_backend="whoosh")) == "whoosh"
    for env, fields in (({"XINFANG_SEARCH_BACKEND": "elastic"}, {}), ({}, {"search_backend": "elastic"})):
        with pytest.raises(ConfigurationError) as err:
            settings(env, **fields)
        assert "whoosh, postgresql" in err.value.message and "XINFANG_SEARCH_BACKEND" in err.value.message


def test_postgresql_search_is_refused_on_sqlite(tmp_path):
    s = Settings.from_env({}, home=str(tmp_path / "inst"), database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}",
                          search_backend="postgresql")
    init_instance(s)
    inst = build_instance(s)
    try:
        with pytest.raises(ConfigurationError) as err:
            _ = indexer.service(inst).backend   # built on first use
        assert "XINFANG_DATABASE_URL" in err.value.message and "whoosh" in err.value.message
        # the migration made no search table on SQLite
        names = inspect(inst.db.engine).get_table_names()
        assert "records" in names and pg_backend.TABLE not in names and pg_backend.META not in names
    finally:
        inst.close()


# -- the table ------------------------------------------------------------------------------------------
def test_the_most_letters_a_query_can_match_follow_from_its_tokens_letters():
    """``most_hits``: the bound that keeps a query of few letters in one process."""
    from search.postgres.compile import most_hits

    df_text, df_chars, n = {"a": 3, "b": 40, "c": 0}, {"字": 7}, 1000
    assert most_hits(TextTerm("a"), df_text, df_chars, n) == 3
    assert most_hits(TextTerm("zz"), df_text, df_chars, n) == n   # not counted: anything
    assert most_hits(Phrase(("b", "a")), df_text, df_chars, n) == 3
    assert most_hits(CharTerm("字"), df_text, df_chars, n) == 7
    assert most_hits(And((TextTerm("b"), Match("year", 2026))), df_text, df_chars, n) == 40
    assert most_hits(And((TextTerm("b"), TextTerm("c"))), df_text, df_chars, n) == 0
    assert most_hits(Or((TextTerm("a"), CharTerm("字"))), df_text, df_chars, n) == 10
    assert most_hits(Or((TextTerm("b"), Everything())), df_text, df_chars, n) == n
    assert most_hits(Not(TextTerm("a")), df_text, df_chars, n) == n
    assert most_hits(And((Not(TextTerm("a")), TextTerm("a"))), df_text, df_chars, n) == 3
    assert most_hits(Range("year", 2024, 2026), df_text, df_chars, n) == n


def _indexes(inst) -> dict[str, str]:
    with inst.db.engine.connect() as conn:
        return dict(conn.execute(text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"),
                                 {"t": pg_backend.TABLE}).all())


def _oid(inst) -> int:
    with inst.db.engine.connect() as conn:
        return conn.execute(text("SELECT CAST(:t AS regclass)::oid"), {"t": pg_backend.TABLE}).scalar_one()


def test_the_migration_made_the_table_and_its_gin_indexes(inst, svc):
    assert isinstance(svc.backend, pg_backend.PostgresBackend)
    with inst.db.engine.connect() as conn:
        types = dict(conn.execute(text(
            "SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = :t"),
            {"t": pg_backend.TABLE}).all())
    assert types["text"] == "tsvector" and types["chars"] == "_text" and types["allowed"] == "_text"
    assert types["denied"] == "_text" and types["received"] == "int8"
    assert types["repeated_tokens"] == "_int8" and types["repeated_counts"] == "_int2"
    defs = _indexes(inst)
    for column in ("text", "chars", "allowed"):
        assert any("USING gin" in d and f"({column})" in d for d in defs.values()), column
    assert set(defs) == {f"pk_{pg_backend.TABLE}", *pg_backend.index_names(pg_backend.TABLE)}


def _doc(uid: str, tokens: list[str], *, chars=(), principal="p:test", year=2026, received=0,
         denied=frozenset(), **meta) -> IndexDocument:
    fields = {"record_id": abs(hash(uid)) % 10**9, "serial": f"XF-T-{uid}", "year": year, "status": "registered",
              "channel": "letter", "region": "110108", "category": "labour_wages", "office": "LDJC",
              "received": received, "doc_version": 1}
    fields.update(meta)
    return IndexDocument(uid=uid, allowed=frozenset({principal}), denied=frozenset(denied), text=list(tokens),
                         chars=list(chars), **fields)


def test_only_blind_tokens_reach_the_table(svc):
    with pytest.raises(TypeError):
        svc.backend.index([_doc("plain-" + secrets.token_hex(4), ["拖欠工资"])])
    with pytest.raises(TypeError):
        svc.backend.index([_doc("quote-" + secrets.token_hex(4), ["abc' | 'def"])])
    for node in (Phrase(("a'b", "c")), TextTerm("x y"), CharTerm("欠"), Phrase(("ok", "drop table"))):
        with pytest.raises(TypeError):
            svc.backend.search(node, Access(principals=None))
    with pytest.raises(TypeError):
        svc.backend.search(Match("uid; --", "x"), Access(principals=None))


def test_a_control_character_in_a_letters_uid_serial_or_metadata_is_refused_and_nothing_is_written(svc):
    """``compile.leading_pass`` joins a letter's facet values, uid and serial with
    ``chr(31)`` into one key: the writer refuses any control character in them, so no key
    can be read back wrong."""
    tag = secrets.token_hex(4)
    tokens = svc.blinder.text(analysis.analyse(f"{tag} 信訪").tokens)
    for field, value in (("uid", f"ctl{tag}\x1fx"), ("serial", "XF\x1f1"), ("category", "labour\x1fwages"),
                         ("office", "LD\nJC"), ("region", "\x00")):
        doc = _doc(f"ctl{tag}", tokens)
        setattr(doc, field, value)
        with pytest.raises(ValueError, match=field):
            svc.backend.index([_doc(f"ok{tag}", tokens), doc])
    assert svc.backend.search(query.compile_query(query.parse(tag), svc.blinder, None),
                              Access(principals=frozenset({"p:test"}))).total == 0


def test_a_letters_repeated_tokens_pairs_triples_and_runs_are_kept_in_its_row(inst, svc):
    """The tokens a letter holds more than once, with their counts, and its pairs, triples
    and runs of four and five tokens at consecutive positions are in its row (numbers that
    SQL computes alike): a hit is scored, and a phrase of two to five tokens found, without
    reading its tsvector; a longer one has its candidates' positions confirmed."""
    blind = svc.blinder.text
    once, twice, thrice = blind(["once", "twice", "thrice"])
    uid = "repeats-" + secrets.token_hex(4)
    tokens = [twice, thrice, once, thrice, twice, thrice]
    svc.backend.index([_doc(uid, tokens)])
    schema = pg_backend.schema
    with inst.db.engine.connect() as conn:
        row = conn.execute(text(f"SELECT repeated_tokens, repeated_counts, pairs, triples, runs "
                                f"FROM {pg_backend.TABLE} WHERE uid = :u"), {"u": uid}).one()
        in_sql = conn.execute(text("SELECT " + schema.NUMBER_SQL.format("CAST(:t AS text)")), {"t": thrice}
                              ).scalar_one()
    assert in_sql == schema.token_number(thrice)
    assert sorted(zip(row.repeated_tokens, row.repeated_counts)) == sorted(
        [(schema.token_number(twice), 2), (schema.token_number(thrice), 3)])
    assert sorted(row.pairs) == sorted({schema.pair_number(a, b) for a, b in
                                        ((twice, thrice), (thrice, once), (once, thrice), (thrice, twice))})
    assert sorted(row.triples) == sorted({schema.triple_number(a, b, c) for a, b, c in (
        (twice, thrice, once), (thrice, once, thrice), (once, thrice, twice), (thrice, twice, thrice))})
    assert row.runs == sorted({schema.run_number(tokens[i:i + n]) for n in (4, 5) for i in range(len(tokens) - n + 1)})
    assert len(row.runs) == 5   # three runs of four, two of five
    assert schema.run_number(tokens[:2]) == schema.pair_number(*tokens[:2])   # one formula for every length
    access = Access(principals=frozenset({"p:test"}))
    for phrase, found in (((thrice, once), True), ((once, twice), False), ((twice, thrice, once, thrice), True),
                          ((thrice, twice, thrice), True), ((thrice, once, twice), False),
                          ((twice, thrice, twice), False), ((thrice, once, thrice, twice, thrice), True),
                          ((twice, thrice, once, thrice, once), False), (tuple(tokens), True),
                          ((twice, thrice, once, thrice, twice, twice), False),
                          ((thrice, twice, thrice, once, thrice, twice), False)):
        assert (uid in {h.uid for h in svc.backend.search(Phrase(phrase), access, facets=()).hits}) is found, phrase
    compiled = pg_backend.compile.Compiled()
    two = compiled.where(Phrase((twice, thrice)))
    assert "d.pairs @>" in two and '"text"' not in two   # answered by the pairs' index alone
    three = compiled.where(Phrase((twice, thrice, once)))
    assert "d.triples @>" in three and '"text"' not in three   # by the triples' index alone
    for run in (tokens[:4], tokens[:5]):
        where = compiled.where(Phrase(tuple(run)))
        assert "d.runs @>" in where and '"text"' not in where   # by the runs' index alone
    six = compiled.where(Phrase(tuple(tokens)))
    assert "d.runs @>" in six and '"text" @@' in six   # candidates confirmed
    svc.backend.delete([uid], purge=False)


def test_tsvector_position_limits(svc):
    """PostgreSQL keeps positions up to 16383 and 256 per term: a phrase past position 16383
    (or through a term's 257th occurrence) of a very long letter is not found; the terms
    themselves still are."""
    blind = svc.blinder.text
    principal = "p:" + secrets.token_hex(4)
    access = Access(principals=frozenset({principal}))
    head = blind([f"head{i}" for i in range(3)])
    tail = blind([f"tail{i}" for i in range(3)])
    filler = blind([f"fill{i % 5000}" for i in range(17000)])
    long_uid = "long-" + secrets.token_hex(4)
    # one term 300 times, each time followed by its own successor
    rep, nexts = blind(["again"])[0], blind([f"after{i}" for i in range(300)])
    repeated = [t for pair in zip([rep] * 300, nexts) for t in pair]
    rep_uid = "rep-" + secrets.token_hex(4)
    svc.backend.index([_doc(long_uid, head + filler + tail, principal=principal),
                       _doc(rep_uid, repeated, principal=principal)])

    def found(node):
        return [h.uid for h in svc.backend.search(node, access, facets=()).hits]

    assert found(Phrase(tuple(head))) == [long_uid]
    assert found(Phrase(tuple(tail))) == []                     # beyond position 16383
    assert found(TextTerm(tail[-1])) == [long_uid]              # the term alone is kept
    assert found(Phrase((rep, nexts[10]))) == [rep_uid]
    assert found(Phrase((rep, nexts[299]))) == []               # the 300th occurrence's position is dropped
    assert svc.backend.describe()["limits"] == {"max_position": 16383, "max_positions_per_term": 256}
    svc.backend.delete([long_uid, rep_uid], purge=False)


def test_the_same_answers_as_whoosh(tmp_path, svc):
    """The two backends, given the same documents, agree on hits, totals, facets, sorting,
    access, more-like-this overlap and document frequencies."""
    blind, chars = svc.blinder.text, svc.blinder.chars
    principal, other = "p:" + secrets.token_hex(4), "p:" + secrets.token_hex(4)
    tag = secrets.token_hex(3)
    texts = [f"{tag}拖欠工资三个月 公司 老板 {tag}", f"{tag}拖欠工资 社保 {tag} 社保", f"社保断缴 {tag}",
             f"公司拖欠工程款 {tag} 工资", f"城管 噪音 {tag}", f"老板 三个月 拖欠 {tag}"]
    docs = []
    for i, t in enumerate(texts):
        a = analysis.analyse(t)
        docs.append(_doc(f"eq{tag}-{i}", blind(a.tokens), chars=chars(sorted(a.chars)),
                         principal=other if i == 4 else principal, year=2024 + i % 3, received=1_700_000_000 + i * 86400,
                         channel=("letter", "visit", "email")[i % 3], region=("110108", "110105")[i % 2],
                         denied=frozenset({"user:99"}) if i == 5 else frozenset()))
    whoosh = WhooshBackend(tmp_path / "whoosh", svc.blinder.key_id)
    whoosh.index(docs)
    svc.backend.index(docs)

    def q(s):
        return query.compile_query(query.parse(s), svc.blinder, None)

    mine = Access(principals=frozenset({principal}))
    masked = Access(principals=frozenset({principal, other}), denied=frozenset({"user:99"}),
                    excluded_uids=frozenset({f"eq{tag}-0"}))
    nodes = [q(f"拖欠工资 {tag}"), q(f"欠工 {tag}"), q(f"{tag} (社保 OR 城管)"), q(f"{tag} -拖欠"), q(f"{tag} 缴"),
             q(f'"{tag}" NOT (拖欠 OR 断缴)'), And((q(tag), Range("year", 2025, None))),
             And((q(tag), Match("channel", "letter"))), And((Everything(), Not(Match("region", "110108")))),
             Or((q(f"三个月 {tag}"), CharTerm(svc.blinder.char_one("噪"))))]
    for node in nodes:
        for access in (mine, masked):
            for sort, per_page in (("relevance", 20), ("newest", 3), ("oldest", 3)):
                a = whoosh.search(node, access, sort=sort, per_page=per_page)
                b = svc.backend.search(node, access, sort=sort, per_page=per_page)
                assert (a.total, a.facets) == (b.total, b.facets), (node, access, sort)
                if sort == "relevance":   # the scores differ (BM25F against cover density), the hits not
                    assert sorted(h.uid for h in a.hits) == sorted(h.uid for h in b.hits), node
                else:
                    assert [h.uid for h in a.hits] == [h.uid for h in b.hits], (node, sort)
    assert any(whoosh.search(node, mine).total for node in nodes)
    # page two and an empty access
    assert [h.uid for h in svc.backend.search(q(tag), mine, sort="oldest", page=2, per_page=2).hits] == \
        [h.uid for h in whoosh.search(q(tag), mine, sort="oldest", page=2, per_page=2).hits]
    assert svc.backend.search(q(tag), Access(principals=frozenset())).total == 0
    # relevance pages are consecutive slices of one order (each page a top-N sort of the hits)
    for node in (q(tag), q(f"{tag} 拖欠")):
        whole = svc.backend.search(node, mine, per_page=6)
        pages = [svc.backend.search(node, mine, page=n, per_page=2) for n in (1, 2, 3)]
        assert [h.uid for p in pages for h in p.hits] == [h.uid for h in whole.hits] and len(whole.hits) >= 3
        assert [h.score for p in pages for h in p.hits] == [h.score for h in whole.hits]
        assert {p.total for p in pages} == {whole.total} and all(p.facets == whole.facets for p in pages)
    # more like this: the same documents, the same share of the weight
    weighted = {t: 1.0 + i for i, t in enumerate(blind(analysis.analyse(texts[0]).tokens)[:8])}
    for access, exclude in ((mine, f"eq{tag}-0"), (Access(principals=None), None)):
        a = {h.uid: round(h.overlap, 6) for h in whoosh.similar(weighted, access, exclude_uid=exclude, limit=500)}
        b = {h.uid: round(h.overlap, 6) for h in svc.backend.similar(weighted, access, exclude_uid=exclude, limit=500)
             if h.uid.startswith(f"eq{tag}-")}
        assert a == b and a
    toks = blind([f"{tag}", "拖欠", "社保", "nosuchterm" + tag])
    assert whoosh.doc_frequencies(toks) == svc.backend.doc_frequencies(toks)
    whoosh.close()
    svc.backend.delete([d.uid for d in docs], purge=False)


def test_a_query_of_many_hits_may_be_shared_among_parallel_workers(svc):
    """The statement of a search keeps nothing that holds PostgreSQL to one process (a lateral
    join, a Limit inside it): where the planner finds it worth it, the hits are read and
    scored by parallel workers, with the same page, scores and counts as in one process."""
    from sqlalchemy import event

    tag, principal = secrets.token_hex(3), "p:" + secrets.token_hex(4)
    docs = []
    for i in range(60):
        body = "拖欠工资，" * (1 + i % 3) + f"公司{i % 7}" if i % 2 else f"社保断缴 拖欠 工资 {i}"
        a = analysis.analyse(f"{tag} {body}")
        docs.append(_doc(f"par{tag}-{i}", svc.blinder.text(a.tokens), principal=principal, year=2024 + i % 3,
                         received=1_700_000_000 + i, channel=("letter", "visit")[i % 2]))
    svc.backend.index(docs)
    caught = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if "AS rank" in statement:
            caught.append((statement, parameters))

    event.listen(svc.backend.engine, "before_cursor_execute", catch)
    try:
        page = svc.backend.search(query.compile_query(query.parse(f"拖欠 {tag}"), svc.blinder, None),
                                  Access(principals=frozenset({principal})), per_page=5)
    finally:
        event.remove(svc.backend.engine, "before_cursor_execute", catch)
    assert page.total == 60 and len(page.hits) == 5
    statement, params = caught[-1]
    with svc.backend.engine.begin() as conn:   # the planner's idea of the table's size
        conn.execute(text(f"ANALYZE {pg_backend.TABLE}"))

    def run(**settings):
        with svc.backend.engine.connect() as conn:
            for name, value in settings.items():
                conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
            plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN (COSTS OFF, VERBOSE) " + statement, params))
            return plan, sorted((tuple(r) for r in conn.exec_driver_sql(statement, params)), key=repr)

    shared, shared_rows = run(parallel_setup_cost="0", parallel_tuple_cost="0", min_parallel_table_scan_size="0",
                              min_parallel_index_scan_size="0", max_parallel_workers_per_gather="2",
                              enable_seqscan="off")
    alone, alone_rows = run(max_parallel_workers_per_gather="0")
    assert "Gather" in shared and "Parallel" in shared and "Gather" not in alone
    # the token counts are taken in the workers (a lateral join took them above the Gather)
    lines = shared.splitlines()
    at = next(i for i, line in enumerate(lines) if "Gather" in line)
    depth = len(lines[at]) - len(lines[at].lstrip())
    workers = []
    for line in lines[at + 1:]:
        if len(line) - len(line.lstrip()) <= depth:
            break
        workers.append(line)
    assert any("width_bucket" in line for line in workers), shared
    assert shared_rows == alone_rows and len(shared_rows) > 5
    svc.backend.delete([d.uid for d in docs], purge=False)


def test_a_query_of_few_letters_starts_no_parallel_worker(svc, monkeypatch):
    """A query its tokens' counts show to match few letters (``most_hits`` below
    ``SERIAL_BELOW``) is answered in one process: a worker would open every partition and
    its indexes afresh, for a name among 1,000,000 letters 20 of 21 ms. A query of more
    letters leaves the choice to the planner. Both give the same answers."""
    from sqlalchemy import event

    from search.postgres import backend as pg_module

    monkeypatch.setattr(pg_module, "SERIAL_BELOW", 10)
    def cjk(n):   # a word of rare characters no other letter of the module holds
        return "".join(chr(0x4E00 + secrets.randbelow(0x9FA5 - 0x4E00)) for _ in range(n))

    tag, rare, principal = cjk(2), cjk(3), "p:" + secrets.token_hex(4)
    docs = [_doc(f"ser{tag}-{i}", svc.blinder.text(analysis.analyse(f"{tag} 信訪 {rare if i == 0 else ''}").tokens),
                 principal=principal) for i in range(30)]
    svc.backend.index(docs)
    caught: list[str] = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if "set_config('parallel_tuple_cost'" in statement:
            caught.append(statement)

    access = Access(principals=frozenset({principal}))
    event.listen(svc.backend.engine, "before_cursor_execute", catch)
    try:
        few = svc.backend.search(query.compile_query(query.parse(rare), svc.blinder, None), access)
        many = svc.backend.search(query.compile_query(query.parse(tag), svc.blinder, None), access)
        both = svc.backend.search(query.compile_query(query.parse(f"{tag} {rare}"), svc.blinder, None), access,
                                  sort="newest")
    finally:
        event.remove(svc.backend.engine, "before_cursor_execute", catch)
    assert (few.total, many.total, both.total) == (1, 30, 1)
    assert [h.uid for h in few.hits] == [h.uid for h in both.hits] == [f"ser{tag}-0"]
    assert ["max_parallel_workers_per_gather" in s for s in caught] == [True, False, True]
    svc.backend.delete([d.uid for d in docs], purge=False)


def test_a_wide_query_with_facets_is_answered_by_the_leading_pass_or_in_two_parts_with_the_same_answers(
        svc, monkeypatch):
    """A query with facets that can match ``SPLIT_FROM`` letters or more is answered in two
    parts the workers can each share (``compile.two_parts``), not from every hit gathered
    into the leader (``compile.one_pass``); one ranked by relevance with text tokens to score
    (a character alone scores every hit the same) that can match ``LEAD_FROM`` letters or
    more, for a page no deeper than ``LEAD_DEEPEST`` hits, by
    ``compile.leading_pass`` (each hit read once, the page among the hits ranked at or before
    a bound taken from a sample of the hits, here 24 of 40, so the page may lie beyond the
    sample), unless no hit leads enough (as when letters changed after the bound was read:
    here a bound no hit reaches), when the other statement answers. The same page, scores,
    total and facet counts, whatever the sort, page, access or query; without facets, one
    pass."""
    from sqlalchemy import event

    from search.postgres import backend as pg_module
    from search.postgres import compile as compile_module

    tag, principal, other = secrets.token_hex(3), "p:" + secrets.token_hex(4), "p:" + secrets.token_hex(4)
    docs = []
    for i in range(48):
        body = ("拖欠工资，" * (1 + i % 3) + f"公司{i % 5}") if i % 2 else f"社保断缴 拖欠 {i % 4}"
        analysed = analysis.analyse(f"{tag} {body}")
        docs.append(_doc(f"two{tag}-{i}", svc.blinder.text(analysed.tokens), chars=svc.blinder.chars(sorted(analysed.chars)),
                         principal=principal if i % 6 else other, year=2024 + i % 3, received=1_700_000_000 + i % 9,
                         channel=("letter", "visit", "email")[i % 3], region=("110108", "110105")[i % 2],
                         status=("registered", "stored")[i % 4 == 0], category=("labour_wages", "housing")[i % 5 == 0],
                         denied=frozenset({"u:7"}) if i % 7 == 0 else frozenset()))
    svc.backend.index(docs)
    mine = Access(principals=frozenset({principal}))
    asked = [(f"拖欠 {tag}", mine, {}), (f"拖欠工资 {tag}", mine, {"sort": "newest", "page": 2, "per_page": 4}),
             (f"{tag} -公司", Access(principals=frozenset({principal, other}), denied=frozenset({"u:7"})),
              {"sort": "oldest"}),
             (f"{tag} 社保 OR {tag} 公司3", mine, {"per_page": 3, "page": 3}), (f"{tag} 无此词", mine, {}),
             (f"拖欠 {tag}", mine, {"facets": ("year", "channel")}), (f"拖欠 {tag}", mine, {"page": 40}),
             (f"拖欠工资 {tag}", mine, {"per_page": 4, "page": 2}), (f"{tag}", mine, {"per_page": 1, "page": 37}),
             (f"{tag} 社保", mine, {"facets": ("received", "office")}), ("欠", mine, {})]
    shapes: list[str] = []

    def catch(conn, cursor, statement, parameters, context, executemany):
        if "AS rank" in statement:
            shapes.append({"SELECT": "two", "WITH g": "lead"}.get(statement[:6], "one"))

    def answers(split_from, lead_from, deepest):
        monkeypatch.setattr(pg_module, "SPLIT_FROM", split_from)
        monkeypatch.setattr(pg_module, "LEAD_FROM", lead_from)
        monkeypatch.setattr(pg_module, "LEAD_DEEPEST", deepest)
        out = []
        for q, access, kw in asked:
            page = svc.backend.search(query.compile_query(query.parse(q), svc.blinder, None), access, **kw)
            out.append((page.total, [(h.uid, h.record_id, h.serial, h.score) for h in page.hits], page.facets))
        return out

    monkeypatch.setattr(compile_module, "SAMPLE", 24)
    event.listen(svc.backend.engine, "before_cursor_execute", catch)
    try:
        one, two, lead = answers(10**9, 10**9, 24), answers(0, 10**9, 24), answers(10**9, 0, 24)
        monkeypatch.setattr(pg_module, "leading_bound", lambda *args: "SELECT CAST(1e300 AS float8) AS score, "
                            "CAST(0 AS bigint) AS received, CAST(0 AS bigint) AS record_id")
        late = answers(10**9, 0, 24)
        without = svc.backend.search(query.compile_query(query.parse(f"拖欠 {tag}"), svc.blinder, None), mine,
                                     facets=())
    finally:
        event.remove(svc.backend.engine, "before_cursor_execute", catch)
    n = len(asked)
    assert shapes[:2 * n] == ["one"] * n + ["two"] * n and shapes[-1] == "one"
    # no hit: no bound; a character alone: every hit scores the same, the order is the date's
    assert shapes[2 * n:3 * n] == ["lead", "one", "one", "lead", "one", "lead", "one", "lead", "one", "lead", "one"]
    # the bound no hit reaches: the leading pass, then one pass (none needed for no hit at all)
    assert shapes[3 * n:-1] == ["lead", "one", "one", "one", "lead", "one", "lead", "lead", "one", "one", "lead", "one",
                                "one", "lead", "one", "one"]
    assert one == two == lead == late
    readable = [d for d in docs if principal in d.allowed]
    evens = [d for i, d in enumerate(docs) if principal in d.allowed and i % 2 == 0]
    assert [t for t, _, _ in one] == [40, 24, 20, 21, 0, 40, 40, 24, 40, len(evens), 40] and without.total == 40
    for field in ("channel", "year", "status", "region", "category"):   # as counted from the letters
        assert one[0][2][field] == {str(k): n for k, n in Counter(getattr(d, field) for d in readable).items()}
    assert set(one[5][2]) == {"year", "channel"} and one[6][1] == [] and len(one[1][1]) == 4
    assert len(one[7][1]) == 4 and len({score for _, _, _, score in one[0][1]}) < len(one[0][1])   # ties
    assert one[9][2] == {"received": {str(k): n for k, n in Counter(d.received for d in evens).items()},
                         "office": {"LDJC": len(evens)}}
    svc.backend.delete([d.uid for d in docs], purge=False)


def test_no_search_statement_is_compiled_to_machine_code(svc, monkeypatch):
    """PostgreSQL compiles a statement costed above ``jit_above_cost`` (as a search among
    1,000,000 letters is) to machine code, in each process and for every partition afresh:
    0.9 to 1.3 s of a 1.2 s search. Every statement that reads the letters' table for a
    search (with and without facets, the read of a query's kept hits, ``similar``) runs with
    it off, for its transaction only."""
    from sqlalchemy import event

    from search.postgres import hitcache

    monkeypatch.setattr(hitcache, "MIN_HITS", 1)
    tag, principal = secrets.token_hex(3), "p:" + secrets.token_hex(4)
    tokens = svc.blinder.text(analysis.analyse(f"{tag} 信訪").tokens)
    svc.backend.index([_doc(f"jit{tag}", tokens, principal=principal)])
    seen: list[tuple[str, str]] = []

    def after(conn, cursor, statement, parameters, context, executemany):
        if f"FROM {pg_backend.TABLE} d" in statement:   # the same transaction, right after it
            seen.append((statement, cursor.connection.execute("SELECT current_setting('jit')").fetchone()[0]))

    with svc.backend.engine.connect() as conn:
        default = conn.execute(text("SELECT current_setting('jit')")).scalar_one()
    access = Access(principals=frozenset({principal}))
    node = query.compile_query(query.parse(tag), svc.blinder, None)
    event.listen(svc.backend.engine, "after_cursor_execute", after)
    try:
        assert [svc.backend.search(node, access, facets=f).total for f in ((), ("year",), ("year",))] == [1, 1, 1]
        assert [h.uid for h in svc.backend.similar({t: 1.0 for t in tokens}, access)] == [f"jit{tag}"]
    finally:
        event.remove(svc.backend.engine, "after_cursor_execute", after)
    assert any("array_agg" in s for s, _ in seen)   # the kept hits' read (``hitcache``) is among them
    assert len(seen) >= 3 and [j for _, j in seen] == ["off"] * len(seen)
    with svc.backend.engine.connect() as conn:   # the server's setting stays
        assert conn.execute(text("SELECT current_setting('jit')")).scalar_one() == default
    svc.backend.delete([f"jit{tag}"], purge=False)


def _terms_as_counted(conn) -> dict[tuple[str, int], int]:
    """(part, term) -> letters, as ``TERMS`` holds it, and as a fresh count of the rows gives."""
    held = {(r.part, r.term): r.documents for r in conn.execute(text(
        f"SELECT part, term, documents FROM {pg_backend.TERMS}"))}
    conn.execute(text("CREATE TEMP TABLE recount (part text, term bigint, documents integer) ON COMMIT DROP"))
    conn.execute(text(pg_backend.schema.FILL_TERMS.format(terms="recount", table=pg_backend.TABLE)))
    counted = {(r.part, r.term): r.documents for r in conn.execute(text("SELECT * FROM recount"))}
    return held, counted


def test_the_letters_per_term_counts_follow_every_write_and_score_as_a_fresh_count(svc):
    """BM25's letters-per-term counts are read from ``search_terms``, which the writer keeps
    in step: after letters are added, changed, moved to another year and deleted (by another
    process too), it holds exactly what counting the rows gives, with no row for a term no
    letter of that year holds, and a search scores as it would from counts made afresh."""
    from sqlalchemy import event

    from search.postgres import backend as pg_module

    blind, chars = svc.blinder.text, svc.blinder.chars
    tag, principal = secrets.token_hex(3), "p:" + secrets.token_hex(4)
    access = Access(principals=frozenset({principal}))

    def doc(i: int, body: str, year: int = 2025, **meta) -> IndexDocument:
        a = analysis.analyse(f"{tag} {body}")
        return _doc(f"df{tag}-{i}", blind(a.tokens), chars=chars(sorted(a.chars)), principal=principal,
                    received=1_700_000_000 + i, year=year, **meta)

    node = query.compile_query(query.parse(f"{tag} 拖欠工资"), svc.blinder, None)
    mine = svc.backend
    other = pg_module.PostgresBackend(mine.engine, svc.blinder.key_id)   # another process's

    def scores(backend):
        return [(h.uid, round(h.score, 9)) for h in backend.search(node, access).hits]

    def exact():
        with mine.engine.begin() as conn:
            held, counted = _terms_as_counted(conn)
        assert held == counted and all(n > 0 for n in held.values())

    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    other.index([doc(0, "拖欠工资三个月"), doc(1, "拖欠工资 社保")])
    exact()
    event.listen(mine.engine, "before_cursor_execute", before)
    try:
        first = scores(mine)
        assert len(first) == 2
        assert not [s for s in statements if "count(*)" in s and "@@" in s]   # read, not counted
    finally:
        event.remove(mine.engine, "before_cursor_execute", before)
    other.index([doc(2, "公司拖欠工资")])                      # another process writes
    exact()
    after_write = scores(mine)
    assert len(after_write) == 3 and dict(after_write)[f"df{tag}-0"] != dict(first)[f"df{tag}-0"]
    other.index([doc(1, "社保 医疗")])                          # a letter changes: 拖欠工资 no more
    other.index([doc(2, "公司拖欠工资", year=2024)])            # and one moves to another year
    exact()
    other.index([doc(2, "公司拖欠工资", year=2024, status="stored")])   # is stored: another partition
    exact()
    assert len(scores(mine)) == 2
    other.delete([f"df{tag}-2"], purge=False)                 # and deletes
    exact()
    other.index([doc(1, "拖欠工资 社保")])
    assert scores(mine) == first
    toks = pg_module.positive_tokens(node)[0]
    with mine.engine.connect() as conn:   # the counts more like this reads: those of the rows
        counted = {t: conn.execute(text(f"SELECT count(*) FROM {pg_backend.TABLE} d WHERE d.\"text\" @@ "
                                        "CAST(:q AS tsquery)"), {"q": pg_backend.schema.quoted(t)}).scalar_one()
                   for t in toks}
    assert mine.doc_frequencies(toks) == counted and counted[toks[0]] == 2
    other.delete([f"df{tag}-0", f"df{tag}-1"], purge=False)
    exact()


# -- the one writer, across machines ------------------------------------------------------------------
def test_the_writer_lock_holds_across_machines(inst, settings, make_user, make_record, tmp_path):
    """Another machine (another process with an instance folder of its own, the same
    database) holding the writer lock keeps this one from writing: an advisory lock, not a file."""
    make_record(by=make_user("clerk"), body=f"另一台機器 {word()}")
    other_home = tmp_path / "machine-b"
    script = textwrap.dedent(f"""
        import sys, time
        from records.settings import Settings
        from app.composition import build_instance
        from search import indexer
        inst = build_instance(Settings.from_env({{}}, home={str(other_home)!r}, database_url={settings.database_url!r},
                                          search_backend="postgresql"))
        with indexer.writer_lock(inst, 5) as held:
            print("held" if held else "not held", flush=True)
            sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held", proc.stderr.read() if proc.poll() is not None else ""
        report = indexer.drain(inst, wait=0.2)
        assert report.skipped and indexer.pending(inst) >= 1
        with indexer.writer_lock(inst, 0.05) as held:
            assert not held
    finally:
        proc.communicate("done\n", timeout=30)
    assert proc.returncode == 0
    assert not (settings.index_dir / ".writer.lock").exists() and not other_home.exists()
    assert not indexer.drain(inst, wait=5).skipped and indexer.pending(inst) == 0


def test_a_writer_that_dies_leaves_no_stale_lock(inst, settings):
    result = run_killed(settings, """
        from search import indexer
        assert inst.settings.search_backend == "postgresql"
        with indexer.writer_lock(inst, 5) as held:
            assert held
            die()
    """)
    assert result.returncode == -signal.SIGKILL, result.stderr
    deadline = time.monotonic() + 10
    while True:   # the server notices the dead connection
        with indexer.writer_lock(inst, 0.5) as held:
            if held or time.monotonic() > deadline:
                break
    assert held


# -- rebuild, crash, purge, destruction ---------------------------------------------------------------------------
def _find(inst, user, q) -> list[str]:
    with inst.unit_of_work() as s:
        return [h.record.serial for h in query.search(s, s.get(User, user.id), q).hits]


def test_reindex_replaces_the_table_and_keeps_searching(inst, make_user, make_record, drain, svc):
    w = word()
    chief = make_user("chief")
    serial = make_record(by=make_user("clerk"), body=f"重建索引 {w}")
    drain()
    before_oid, before_defs = _oid(inst), _indexes(inst)
    during = []

    def progress(_n):   # the rebuild's transaction is open: searches read the old table
        during.append(_find(inst, chief, w))

    report = indexer.reindex(inst, progress=progress)
    assert during and all(found == [serial] for found in during)
    assert report.indexed == report.records
    assert _oid(inst) != before_oid and _indexes(inst) == before_defs   # same names, same definitions
    assert _find(inst, chief, w) == [serial]
    assert indexer.check(inst).ok
    with inst.db.engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass(:t)"), {"t": pg_backend.NEW_TABLE}).scalar() is None


def test_a_rebuild_with_two_processes_writes_the_same_rows(inst, make_user, make_record, drain, svc, monkeypatch):
    """``reindex --procs 2``: the letters are analysed and blinded by two forked processes,
    a batch at a time (here 3 letters, so there are several rounds and a last partial one),
    and the table holds exactly the rows one process writes."""
    from search.postgres import backend as pg_module
    from search.postgres import bulk as bulk_module

    clerk, chief = make_user("clerk"), make_user("chief")
    w = word()
    serials = [make_record(by=clerk, body=f"兩個進程 {i} 號 {w}") for i in range(7)]
    drain()

    def rows():
        with inst.db.engine.connect() as conn:
            return conn.execute(text(f'SELECT uid, "text"::text, chars, length, repeated_tokens, repeated_counts, pairs, '
                                     f'triples, runs FROM {pg_backend.TABLE} ORDER BY uid')
                                ).all()

    indexer.reindex(inst, procs=1)
    one = rows()
    monkeypatch.setattr(bulk_module, "PARALLEL_BATCH", 3)
    report = indexer.reindex(inst, procs=2)
    assert report.indexed == report.records and rows() == one
    assert sorted(_find(inst, chief, w)) == sorted(serials)

    loader = pg_module.PostgresBackend(inst.db.engine, svc.blinder.key_id, procs=2).bulk_loader()
    loader.add_text(_doc("cancelled-" + secrets.token_hex(4), []), "取消的重建", svc.blinder)
    pool = loader.pool
    loader.cancel()   # the analysing processes end with it
    assert loader.pool is None and pool is not None and all(not p.is_alive() for p in pool._pool)
    assert rows() == one


def test_a_cancelled_rebuild_leaves_the_index_untouched(inst, svc):
    before_oid, before_count = _oid(inst), svc.backend.doc_count()
    loader = svc.backend.bulk_loader()
    loader.add(_doc("cancelled-" + secrets.token_hex(4), svc.blinder.text(["cancelled"])))
    assert svc.backend.doc_count() == before_count   # not visible before commit
    loader.cancel()
    assert _oid(inst) == before_oid and svc.backend.doc_count() == before_count
    with inst.db.engine.connect() as conn:
        assert conn.execute(text("SELECT to_regclass(:t)"), {"t": pg_backend.NEW_TABLE}).scalar() is None


def test_killed_in_the_middle_of_a_table_write(inst, settings, make_user, make_record, runner):
    clerk = make_user("clerk")
    for i in range(3):
        make_record(by=clerk, body=f"寫到一半 {i} {word()}")
    result = run_killed(settings, """
        from sqlalchemy import text
        from search import indexer
        from search import postgres as pg_backend
        def crash(self, docs, merge=True):
            rows = [pg_backend.row_of(d) for d in docs]
            with self.engine.begin() as conn:
                self._check_key(conn, claim=True)
                pg_backend.ensure_partitions(conn, pg_backend.TABLE, {r["part"] for r in rows})
                conn.execute(text(pg_backend.UPSERT), rows)   # written, never committed
                die()
        pg_backend.PostgresBackend.index = crash
        indexer.drain(inst)
    """)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert indexer.pending(inst) >= 3
    report = indexer.check(inst)
    assert len(report.missing) >= 3
    out = runner.invoke(cli, ["search", "sync"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["search", "check"])
    assert out.exit_code == 0, out.output


def test_purge_rewrites_the_table_files(inst, make_user, make_record, drain, svc, runner):
    secret = "鸚鵡螺號潛艇的秘密航線"
    serial = make_record(by=make_user("clerk"), body=f"{secret} {word()}")
    drain()
    tokens = set(svc.blinder.text(analysis.analyse(secret).tokens))
    assert any(t.encode() in index_bytes(inst) for t in tokens)
    with inst.unit_of_work() as s:
        uid = s.execute(select(Record.uid).where(Record.serial == serial)).scalar_one()
    assert svc.backend.delete([uid], purge=False) == 1
    # deleted, not purged: the rows are dead but their tokens are still in the files
    assert any(t.encode() in index_bytes(inst) for t in tokens)
    out = runner.invoke(cli, ["search", "purge"])
    assert out.exit_code == 0, out.output
    assert "Rewrote 2 segments" in out.output   # the letters' table and the terms'

    data = index_bytes(inst)
    assert [t for t in tokens if t.encode() in data] == [] and uid.encode() not in data
    with inst.unit_of_work() as s:   # put it back for check()
        s.add(OutboxEntry(record_uid=uid, op="index"))
    drain()
    assert indexer.check(inst).ok


def test_destruction_purges_the_search_table(inst, make_user, make_record, drain, svc):
    from retention import destroy
    from search.indexer import purge_deleted

    assert pg_backend.TABLE in destroy.affected_tables()
    secret = "雪豹巡山隊偷偷搭建營地"   # no pair of it in any other letter of this module
    serial = make_record(by=make_user("clerk"), received_at="2025-02-03T10:00", body=f"{secret} {word()}")
    drain()
    tokens = set(svc.blinder.text(analysis.analyse(secret).tokens))
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        uid = record.uid
        s.delete(record)
        s.add(OutboxEntry(record_uid=uid, op="delete"))
    assert purge_deleted(inst, [2025]) == 1
    data = index_bytes(inst)
    assert [t for t in tokens if t.encode() in data] == [] and uid.encode() not in data
    assert indexer.pending(inst) == 0 and indexer.check(inst).ok


def test_describe_reports_the_table(inst, svc):
    info = svc.backend.describe()
    assert info["backend"] == "postgresql" and info["key_id"] == svc.blinder.key_id
    assert info["documents"] == svc.backend.doc_count() and info["bytes"] >= info["table_bytes"] > 0
