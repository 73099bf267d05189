"""The PostgreSQL backend's kept hits (``search.postgres.hitcache``) and the change log they
follow (``schema.log_changes``): a query asked again is answered from the hits a process
keeps, brought up to date with what other processes wrote, with exactly what the SQL gives
(order, scores, total, facets) whatever was written, moved, deleted or rebuilt in between.
Needs a PostgreSQL server (``XINFANG_TEST_DATABASE_URL``)."""
import secrets
import threading

import pytest
from sqlalchemy import create_engine, event, text

from search import analysis, query
from search import postgres as pg_backend
from search.interface import FACETS, Access, And, CharTerm, IndexDocument, Match, Not, Or, Range
from search.postgres import hitcache, schema
from search.postgres.backend import PostgresBackend
from tests.conftest import _pg_admin_url

NEEDS_PG = "needs a PostgreSQL server (XINFANG_TEST_DATABASE_URL)"


@pytest.fixture(scope="module", params=["postgresql"])
def search_backend(request) -> str:
    if not _pg_admin_url():
        pytest.skip(NEEDS_PG)
    return request.param


@pytest.fixture
def few(monkeypatch):
    """Queries of a few hits are kept too (the tests write dozens of letters, not thousands)."""
    monkeypatch.setattr(hitcache, "MIN_HITS", 3)


class Letters:
    """Letters of one test (a tag of their own), written by 'another process' (a backend
    that keeps nothing), searched by ours (which keeps) and by a backend that keeps nothing."""

    def __init__(self, svc):
        self.svc = svc
        self.tag, self.principal = secrets.token_hex(3), "p:" + secrets.token_hex(4)
        self.access = Access(principals=frozenset({self.principal}))
        self.ours = PostgresBackend(svc.backend.engine, svc.blinder.key_id)
        # another process's: an engine of its own
        self.other = PostgresBackend(create_engine(svc.backend.engine.url), svc.blinder.key_id, cache_bytes=0)
        self.statements: list[str] = []

    def doc(self, i: int, body: str, *, year=2025, status="handling", region="110108", channel="letter",
            received=None, principal=None) -> IndexDocument:
        a = analysis.analyse(f"{self.tag} {body}")
        return IndexDocument(
            uid=f"hc{self.tag}-{i}", record_id=10_000 + i, serial=f"XF-HC-{i}", year=year, status=status,
            channel=channel, region=region, category=("labour_wages", "housing")[i % 2], office="LDJC",
            received=1_700_000_000 + (i * 7919) % 500 if received is None else received, doc_version=1,
            allowed=frozenset({principal or self.principal}), denied=frozenset(),
            text=self.svc.blinder.text(a.tokens), chars=self.svc.blinder.chars(sorted(a.chars)))

    def q(self, s: str):
        return query.compile_query(query.parse(f"{self.tag} {s}" if s else self.tag), self.svc.blinder, None)

    def same(self, node, access=None, **kw):
        """Ours and the SQL answer alike: hits in order, exact scores, total, facets."""
        access = access or self.access
        a, b = self.ours.search(node, access, **kw), self.other.search(node, access, **kw)
        assert (a.total, a.facets) == (b.total, b.facets), (node, kw)
        assert [(h.uid, h.record_id, h.serial, h.score) for h in a.hits] == \
            [(h.uid, h.record_id, h.serial, h.score) for h in b.hits], (node, kw)
        return a

    def watch(self):
        self.statements.clear()
        event.listen(self.ours.engine, "before_cursor_execute", self._catch)

    def unwatch(self):
        event.remove(self.ours.engine, "before_cursor_execute", self._catch)

    def _catch(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def read_whole(self) -> int:
        """Statements of the last search that read every hit (the SQL page, or a fresh read)."""
        return sum(1 for s in self.statements if s.startswith("WITH h AS") or (
            s.startswith("SELECT count(*), string_agg(d.uid") and "d.uid = ANY" not in s))

    def cleanup(self):
        with self.ours.engine.begin() as conn:
            uids = conn.execute(text(f"SELECT uid FROM {pg_backend.TABLE} WHERE uid LIKE :p"),
                                {"p": f"hc{self.tag}-%"}).scalars().all()
        self.other.delete(uids, purge=False)
        self.other.engine.dispose()


BODIES = ["拖欠工资三个月 公司 老板", "拖欠工资 社保 社保 社保", "社保断缴 拖欠", "公司拖欠工程款 工资",
          "城管 噪音 拖欠工资", "老板 三个月 拖欠", "拖欠工资 拖欠工资 医疗"]


def test_kept_hits_answer_as_the_sql_through_writes_moves_and_deletions_by_another_process(svc, few):
    t = Letters(svc)
    try:
        t.other.index([t.doc(i, BODIES[i % len(BODIES)], year=2024 + i % 3, channel=("letter", "visit")[i % 2],
                             region=("110108", "110105")[i % 3 == 0]) for i in range(21)])
        nodes = [t.q("拖欠工资"), t.q("拖欠"), t.q("欠工"), t.q("社保 公司"), t.q(""),
                 And((t.q("拖欠"), Range("year", 2025, None))), And((t.q("拖欠"), Match("channel", "letter"))),
                 And((t.q("拖欠"), CharTerm(svc.blinder.char_one("欠"))))]
        kinds = [dict(), dict(sort="newest", per_page=4), dict(sort="oldest", per_page=4, page=2),
                 dict(per_page=3, page=3), dict(facets=("region", "year"))]

        def everything():
            for node in nodes:
                for kw in kinds:
                    t.same(node, **kw)

        everything()          # asked once: the SQL answers; a second time: kept
        t.watch()
        try:
            everything()
            t.statements.clear()
            t.same(nodes[0])
            assert t.read_whole() == 0 and not any("search_changes" in s for s in t.statements)
            assert t.ours._hits.stats()["queries"] >= len(nodes) - 1
            # another process writes: a new letter, a changed one (its counts), one that no
            # longer matches, one decided (moves partition), one whose facets change
            t.other.index([t.doc(30, "拖欠工资 拖欠工资 拖欠工资 新"), t.doc(1, "拖欠工资 社保"),
                           t.doc(2, "城管 噪音"), t.doc(3, "公司拖欠工程款 工资", status="stored"),
                           t.doc(4, "城管 噪音 拖欠工资", channel="email", region="110101")])
            t.statements.clear()
            first = t.same(nodes[0])
            assert t.read_whole() == 0, t.statements        # brought up to date, not read again
            assert any("d.uid = ANY" in s for s in t.statements)
            assert f"hc{t.tag}-30" == first.hits[0].uid
            everything()
            # a deletion: every process reads its hits afresh, and no entry of the letter is left
            t.other.delete([f"hc{t.tag}-0", f"hc{t.tag}-30"], purge=False)
            with t.ours.engine.connect() as conn:
                assert not conn.execute(text(f"SELECT count(*) FROM {schema.CHANGES} WHERE uid = ANY (:u)"),
                                        {"u": [f"hc{t.tag}-0", f"hc{t.tag}-30"]}).scalar_one()
            t.statements.clear()
            gone = t.same(nodes[0])
            assert t.read_whole() == 1 and f"hc{t.tag}-30" not in {h.uid for h in gone.hits}
            everything()
        finally:
            t.unwatch()
        # another user's access is another set of hits: nothing of ours shows
        stranger = Access(principals=frozenset({"p:" + secrets.token_hex(4)}))
        for _ in range(2):
            assert t.same(nodes[1], stranger).total == 0
    finally:
        t.cleanup()


def test_or_and_not_are_asked_of_the_sql_every_time(svc, few):
    t = Letters(svc)
    try:
        t.other.index([t.doc(i, BODIES[i % len(BODIES)]) for i in range(8)])
        for node in (Or((t.q("社保"), t.q("城管"))), And((t.q("拖欠"), Not(t.q("社保"))))):
            assert not hitcache.keepable(node, FACETS)
            for _ in range(3):
                t.same(node)
        assert hitcache.keepable(t.q("拖欠"), FACETS) and not hitcache.keepable(t.q("拖欠"), ("office",))
        assert t.ours._hits.stats()["queries"] == 0
    finally:
        t.cleanup()


def test_a_query_of_few_hits_is_not_kept(svc):
    t = Letters(svc)
    try:
        t.other.index([t.doc(i, BODIES[i % len(BODIES)]) for i in range(5)])
        for _ in range(3):
            t.same(t.q("拖欠"))
        assert t.ours._hits.stats()["queries"] == 0
    finally:
        t.cleanup()


def test_a_trimmed_log_or_a_rebuild_makes_a_process_read_its_hits_afresh(svc, few, monkeypatch):
    monkeypatch.setattr(schema, "CHANGES_TRIM_EVERY", 4)
    monkeypatch.setattr(schema, "CHANGES_KEPT", 2)
    t = Letters(svc)
    try:
        t.other.index([t.doc(i, BODIES[i % len(BODIES)]) for i in range(10)])
        node = t.q("拖欠")
        t.same(node)
        t.same(node)
        kept = t.ours._hits.stats()["queries"]
        assert kept == 1
        for i in range(8):   # eight writes: the log is trimmed past what we saw
            t.other.index([t.doc(40 + i, "拖欠 新的")])
        with t.ours.engine.connect() as conn:
            meta = dict(conn.execute(text(f"SELECT name, value FROM {pg_backend.META}")).all())
            oldest = conn.execute(text(f"SELECT min(seq) FROM {schema.CHANGES}")).scalar_one()
        assert int(meta[schema.CHANGE_FLOOR]) > 0 and oldest > int(meta[schema.CHANGE_FLOOR])
        with t.ours.engine.connect() as conn:   # what was trimmed is not offered as all that changed
            assert schema.changed_since(conn, 0, int(meta[schema.CHANGE_SEQ]), 10**6) is None
            assert schema.changed_since(conn, int(meta[schema.CHANGE_FLOOR]), int(meta[schema.CHANGE_SEQ]), 10**6)
        t.watch()
        try:
            assert t.same(node).total == 18
            assert t.read_whole() == 1
        finally:
            t.unwatch()
    finally:
        t.cleanup()


def test_a_rebuild_starts_the_log_again(inst, svc, few):
    t = Letters(svc)
    docs = [t.doc(i, BODIES[i % len(BODIES)]) for i in range(9)]
    try:
        t.other.index(docs)
        node = t.q("拖欠")
        t.same(node)
        t.same(node)
        with t.ours.engine.connect() as conn:
            before = int(conn.execute(text(f"SELECT value FROM {pg_backend.META} WHERE name = :n"),
                                      {"n": schema.CHANGE_SEQ}).scalar_one())
        loader = t.other.bulk_loader()   # the rebuild holds these letters only
        for d in [*docs[:5], t.doc(20, "拖欠 重建")]:
            loader.add(d)
        loader.commit()
        with t.ours.engine.connect() as conn:
            meta = dict(conn.execute(text(f"SELECT name, value FROM {pg_backend.META}")).all())
            assert not conn.execute(text(f"SELECT count(*) FROM {schema.CHANGES}")).scalar_one()
        assert int(meta[schema.CHANGE_SEQ]) == int(meta[schema.CHANGE_FLOOR]) == before + 1
        t.watch()
        try:
            assert t.same(node).total == 6 and t.read_whole() == 1
        finally:
            t.unwatch()
    finally:
        t.cleanup()


def test_change_numbers_follow_the_commits(svc):
    """A second writer waits for the first one's commit to take its number, so a reader that
    sees number n sees every change up to n."""
    engine = svc.backend.engine
    tag = secrets.token_hex(3)
    first = engine.connect()
    tx = first.begin()
    mine = schema.log_changes(first, [f"cn{tag}-a"])
    got = {}

    def second():
        with engine.begin() as conn:
            got["seq"] = schema.log_changes(conn, [f"cn{tag}-b"])

    th = threading.Thread(target=second)
    th.start()
    th.join(0.5)
    assert th.is_alive()            # waiting on the first writer's number
    with engine.connect() as conn:   # a reader sees neither yet
        assert not schema.changed_since(conn, mine - 1, mine + 1, 10)
    tx.commit()
    first.close()
    th.join(10)
    assert got["seq"] == mine + 1
    with engine.connect() as conn:
        assert set(schema.changed_since(conn, mine - 1, mine + 1, 10)) == {f"cn{tag}-a", f"cn{tag}-b"}
        assert schema.changed_since(conn, mine - 1, mine + 1, 1) is None   # more than asked: read afresh
        conn.execute(text(f"DELETE FROM {schema.CHANGES} WHERE uid LIKE :p"), {"p": f"cn{tag}-%"})
        conn.commit()


def test_memory_is_bounded(svc, few):
    t = Letters(svc)
    try:
        t.other.index([t.doc(i, BODIES[i % len(BODIES)]) for i in range(12)])
        t.ours._hits.max_bytes = 1   # nothing fits
        for _ in range(3):
            t.same(t.q("拖欠"))
        assert t.ours._hits.stats()["queries"] == 0 and t.ours._hits.stats()["bytes"] == 0
        t.ours._hits.max_bytes = 1 << 20
        for s in ("拖欠", "拖欠"):
            t.same(t.q(s))
        one = t.ours._hits.stats()["bytes"]
        assert t.ours._hits.stats()["queries"] == 1 and one > 0
        t.ours._hits.max_bytes = one + 200   # room for one such set, not two: the older goes
        for s in ("工资", "工资"):
            t.same(t.q(s))
        assert t.ours._hits.stats()["queries"] == 1 and t.ours._hits.stats()["bytes"] <= one + 200
    finally:
        t.cleanup()
