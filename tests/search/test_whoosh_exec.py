"""Queries run on arrays (``search.whoosh.execution``) answer exactly what Whoosh's own search
of the same query answers: the same hits, totals and facet counts, over several shards and
segments, with deletions and access; their order and scores are ``search.scoring``'s BM25
(checked against a plain-Python oracle over the documents), the PostgreSQL backend's too."""
from __future__ import annotations

import random
from collections import Counter

import pytest
from whoosh import query as wq, sorting

from search import scoring
from search.interface import (
    Access, And, CharTerm, Everything, IndexDocument, Match, Not, Or, Phrase, Range, TextTerm,
)
from search.whoosh.backend import WhooshBackend
from search.whoosh.execution import SegmentCache, to_whoosh

VOCAB = [f"t{n:02d}" for n in range(40)]
CHARS = [f"c{n}" for n in range(12)]
OFFICES = ("XFB", "GA", "RS")
STATUSES = ("registered", "accepted", "replied")


def _doc(i: int, rng: random.Random) -> IndexDocument:
    # a skewed vocabulary: some tokens are in most documents, some in few, phrases repeat
    text = [VOCAB[min(int(rng.expovariate(0.12)), 39)] for _ in range(rng.randint(0, 70))]
    if rng.random() < 0.3:
        at = rng.randint(0, len(text))
        text[at:at] = ["t01", "t02", "t03"]
    year = 2025 + i % 2
    office = OFFICES[i % 3]
    return IndexDocument(
        uid=f"u{i}", record_id=i, serial=f"XF-{year}-{i:06d}", year=year, status=rng.choice(STATUSES),
        channel=rng.choice(("letter", "visit")), region=rng.choice(("R1", "R2", "R3")), category="c",
        office=office, received=1_700_000_000 + i * 37, doc_version=1,
        allowed=frozenset({f"office:{office}", "role:chief"}), denied=frozenset({"user:9"} if i % 17 == 0 else ()),
        text=text, chars=sorted(rng.sample(CHARS, rng.randint(0, 5))))


def _docs() -> list[IndexDocument]:
    rng = random.Random(8)
    return [_doc(i, rng) for i in range(900)]


#: The documents the backend fixture keeps (the others are deleted).
LIVE = {d.uid: d for d in _docs() if int(d.uid[1:]) % 11}


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    b = WhooshBackend(tmp_path_factory.mktemp("exec"), "k1")
    docs = _docs()
    for start in range(0, 900, 150):   # several segments in each shard
        b.index(docs[start:start + 150], merge=False)
    b.delete([f"u{i}" for i in range(0, 900, 11)], purge=False)   # deleted, still in the segments
    segments = sum(1 for _ in b._searcher().leaf_searchers())
    assert segments >= 6
    return b


QUERIES = [
    TextTerm("t00"), TextTerm("t07"), TextTerm("t39"), TextTerm("absent"),
    Phrase(("t01", "t02", "t03")), Phrase(("t00", "t00")), Phrase(("t02", "t01")), Phrase(("t00", "absent")),
    CharTerm("c3"),
    And((TextTerm("t00"), TextTerm("t05"))),
    Or((TextTerm("t30"), Phrase(("t01", "t02")), CharTerm("c1"))),
    And((TextTerm("t00"), Not(TextTerm("t01")))),
    And((Everything(), Not(CharTerm("c2")))),
    And((TextTerm("t04"), Match("status", "accepted"), Match("year", 2026))),
    And((TextTerm("t02"), Range("received", 1_700_000_000 + 37 * 200, 1_700_000_000 + 37 * 600))),
    And((Range("year", 2025, None), Or((Match("region", "R1"), Match("channel", "visit"))))),
    Match("office", "GA"),
]
ACCESSES = [
    Access(principals=None),
    Access(principals=frozenset({"office:XFB"})),
    Access(principals=frozenset({"office:GA", "office:RS"}), denied=frozenset({"user:9"}),
           excluded_uids=frozenset({"u4", "u5", "u10"})),
    Access(principals=frozenset({"office:nowhere"})),
]
FACETS = ("status", "channel", "region", "year", "category")


def _whooshs(backend, node, access, sort):
    """Whoosh's own search of the same query: every hit, in order."""
    s = backend._searcher()
    flt = wq.Or([wq.Term("allowed", p) for p in access.principals]) if access.principals is not None else None
    masks = [wq.Term("denied", d) for d in access.denied] + [wq.Term("uid", u) for u in access.excluded_uids]
    kwargs = {"filter": flt, "mask": wq.Or(masks) if masks else None, "limit": None}
    if sort != "relevance":
        kwargs["sortedby"] = sorting.FieldFacet("received", reverse=sort == "newest")
    results = s.search(to_whoosh(node), **kwargs)
    return [(h["uid"], h.score, h.fields()) for h in results]


def _matches(node, d: IndexDocument) -> bool:
    if isinstance(node, TextTerm):
        return node.token in d.text
    if isinstance(node, Phrase):
        n = len(node.tokens)
        return any(tuple(d.text[i:i + n]) == node.tokens for i in range(len(d.text) - n + 1))
    if isinstance(node, CharTerm):
        return node.token in d.chars
    if isinstance(node, Everything):
        return True
    if isinstance(node, Match):
        return getattr(d, node.field) == node.value
    if isinstance(node, Range):
        v = getattr(d, node.field)
        return (node.low is None or v >= node.low) and (node.high is None or v <= node.high)
    if isinstance(node, And):
        return all(_matches(n, d) for n in node.items)
    if isinstance(node, Or):
        return any(_matches(n, d) for n in node.items)
    return not _matches(node.item, d)


def _bm25(token: str, d: IndexDocument) -> float:
    live = LIVE.values()
    n = len(LIVE)
    idf = scoring.idf(n, sum(1 for x in live if token in x.text))
    avg = scoring.average_length(sum(scoring.quantised_length(len(x.text)) for x in live), n)
    tf = float(min(d.text.count(token), scoring.MAX_TF))
    dl = scoring.quantised_length(len(d.text))
    return idf * ((tf * scoring.K1_PLUS_1) / (tf + scoring.K1 * (scoring.ONE_MINUS_B + scoring.B * dl / avg)))


def _score(node, d: IndexDocument) -> float:
    """``search.scoring`` by the letter of its docstring, one document at a time."""
    if isinstance(node, TextTerm):
        return _bm25(node.token, d)
    if isinstance(node, Phrase):
        return sum(_bm25(t, d) for t in node.tokens)
    if isinstance(node, CharTerm):
        return scoring.idf(len(LIVE), sum(1 for x in LIVE.values() if node.token in x.chars))
    if isinstance(node, And):
        return sum(_score(n, d) for n in node.items)
    if isinstance(node, Or):
        return sum(_score(n, d) for n in node.items if _matches(n, d))
    return 1.0


def _oracle_order(uids, node) -> list[tuple[str, float]]:
    scored = [(uid, _score(node, LIVE[uid])) for uid in uids]
    return sorted(scored, key=lambda us: (-us[1], -LIVE[us[0]].received, -LIVE[us[0]].record_id))


@pytest.mark.parametrize("access", ACCESSES, ids=["all", "one-office", "refusals", "no-one"])
@pytest.mark.parametrize("node", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_same_hits_order_scores_and_facets_as_whooshs_search(backend, node, access):
    theirs = _whooshs(backend, node, access, "relevance")
    ours = backend.search(node, access, per_page=100, page=1, facets=FACETS)
    assert ours.total == len(theirs)
    every = backend.search(node, access, per_page=1000, page=1, facets=())
    assert {h.uid for h in every.hits} == {uid for uid, _s, _f in theirs}
    expected = _oracle_order([uid for uid, _s, _f in theirs], node)[:100]
    assert [h.uid for h in ours.hits] == [uid for uid, _s in expected]
    assert [h.score for h in ours.hits] == pytest.approx([s for _u, s in expected], rel=1e-9)
    expected = {f: Counter(str(fields[f]) for _u, _s, fields in theirs) for f in FACETS}
    assert ours.facets == {f: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for f, c in expected.items()}


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_sorted_pages_follow_whooshs_order(backend, sort):
    node, access = TextTerm("t00"), ACCESSES[2]
    theirs = [uid for uid, _s, _f in _whooshs(backend, node, access, sort)]
    assert len(theirs) > 60
    pages = [backend.search(node, access, sort=sort, page=p, per_page=25) for p in (1, 2, 3)]
    assert [h.uid for page in pages for h in page.hits] == theirs[:75]
    assert all(p.total == len(theirs) for p in pages)


def test_similar_ranks_as_whooshs_boosted_terms(backend):
    weighted = {"t20": 3.0, "t25": 2.0, "t01": 0.5, "absent": 1.0}
    access = Access(principals=None)
    ours = backend.similar(weighted, access, exclude_uid="u1", limit=15)
    s = backend._searcher()
    q = wq.Or([wq.Term("text", t, boost=w) for t, w in weighted.items()])
    hits = {h["uid"]: h for h in s.search(q, limit=None, mask=wq.Term("uid", "u1"), terms=True)}
    scored = [(uid, sum(w * _bm25(t, LIVE[uid]) for t, w in weighted.items() if t in LIVE[uid].text)) for uid in hits]
    expected = sorted(scored, key=lambda us: (-us[1], -LIVE[us[0]].received, -LIVE[us[0]].record_id))[:15]
    theirs = [hits[uid] for uid, _s in expected]
    assert [h.uid for h in ours] == [uid for uid, _s in expected]
    assert [h.score for h in ours] == pytest.approx([sc for _u, sc in expected], rel=1e-9)
    for mine, hit in zip(ours, theirs):
        held = {t.decode() for f, t in hit.matched_terms() if f == "text"}
        assert mine.overlap == pytest.approx(sum(weighted[t] for t in held) / sum(weighted.values()))


def test_phrases_far_into_long_letters_match_as_whooshs(tmp_path, monkeypatch):
    """Positions past 255 and 65,535 are pickled with wider opcodes; near misses (the tokens
    in order with a gap, or apart) are not matches. The index's values are all read in one
    go, never one by one."""
    from search.whoosh import internals

    monkeypatch.setattr(internals, "gaps_one_by_one", None)
    rng = random.Random(5)
    filler = [rng.choice(VOCAB[5:]) for _ in range(70_000)]
    texts = {
        "far": filler[:300] + ["t01", "t02", "t03"] + filler[300:400],
        "very-far": filler + ["t01", "t02", "t03"],
        "gap": filler[:500] + ["t01", "t02", "t09", "t03"],
        "apart": ["t01"] + filler[:70_000] + ["t02", "t03"],
        "twice": ["t02", "t03", "t01", "t01", "t02", "t01", "t02", "t03"],
        "repeated": ["t00", "t00", "t00", "t05", "t00"],
    }
    b = WhooshBackend(tmp_path, "k1")
    docs = [IndexDocument(uid=uid, record_id=i, serial=f"XF-2026-{i:06d}", year=2026, status="registered",
                          channel="letter", region="R1", category="c", office="XFB", received=i, doc_version=1,
                          allowed=frozenset({"role:chief"}), denied=frozenset(), text=text, chars=[])
            for i, (uid, text) in enumerate(texts.items())]
    b.index(docs[:3], merge=False)
    b.index(docs[3:], merge=False)
    access = Access(principals=None)
    for tokens, want in [(("t01", "t02", "t03"), {"far", "very-far", "twice"}), (("t00", "t00"), {"repeated"}),
                         (("t00", "t00", "t05", "t00"), {"repeated"}), (("t03", "t01", "t01"), {"twice"})]:
        node = Phrase(tokens)
        ours = b.search(node, access, per_page=10)
        assert {h.uid for h in ours.hits} == want, tokens
        assert {uid for uid, _s, _f in _whooshs(b, node, access, "relevance")} == want, tokens


@pytest.mark.parametrize("trailing_stop", [True, False])
def test_positions_of_many_documents_are_read_at_once(trailing_stop):
    from whoosh.formats import Positions

    from search.whoosh.internals import positions

    fmt = Positions()
    rng = random.Random(3)
    lists = [[0], [255, 256, 65_535, 65_536, 2**31 - 1], [7], []]
    lists += [sorted(rng.sample(range(100_000), rng.randint(1, 40))) for _ in range(200)]
    values = [fmt.encode(ps) for ps in lists]
    values = [v if trailing_stop else v[:-1] for v in values]
    counts, flat = positions(values, fmt)
    assert counts.tolist() == [len(ps) for ps in lists]
    assert flat.tolist() == [p for ps in lists for p in ps]


def test_positions_not_pickled_are_read_by_the_formats_own_decoder():
    from search.whoosh.internals import positions

    class Format:
        @staticmethod
        def decode_positions(value):
            return [int(x) for x in value[4:].split(b",")]

    counts, flat = positions([b"\x00\x00\x00\x023,9", b"\x00\x00\x00\x014"], Format())
    assert counts.tolist() == [2, 1] and flat.tolist() == [3, 9, 4]


def test_a_new_segment_is_read_and_the_cache_stays_within_its_budget(tmp_path):
    rng = random.Random(2)
    b = WhooshBackend(tmp_path, "k1")
    b._cache = SegmentCache(budget=20_000)
    b.index([_doc(i, rng) for i in range(300)], merge=False)
    first = b.search(TextTerm("t00"), Access(principals=None), per_page=5).total
    b.index([IndexDocument(**{**_doc(1000, rng).__dict__, "text": ["t00"] * 3})], merge=False)
    again = b.search(TextTerm("t00"), Access(principals=None), per_page=5)
    assert again.total == first + 1
    assert b._cache.size <= 20_000 + max(v[1] for v in b._cache._items.values())
    assert b._cache.hits > 0


def test_writing_a_held_uid_again_replaces_it_across_writes_and_merges(tmp_path):
    """The writer finds the documents it replaces with terms readers kept between writes:
    after new segments, a merge that removes segments, and a uid given twice in one batch,
    every uid is held once, with its last text."""
    rng = random.Random(3)
    b = WhooshBackend(tmp_path, "k1")
    everyone = Access(principals=None)

    def doc(i, word):
        return IndexDocument(**{**_doc(i, rng).__dict__, "text": [word, f"w{i}"]})

    for start in range(0, 60, 10):
        b.index([doc(i, "old") for i in range(start, start + 10)], merge=False)
    b.index([doc(3, "new"), doc(25, "new"), doc(40, "mid"), doc(40, "new")], merge=False)
    assert b.search(TextTerm("new"), everyone).total == 3
    assert b.search(TextTerm("mid"), everyone).total == 0
    assert b.search(TextTerm("old"), everyone).total == 57
    b.maintain()   # merges the small segments: the kept readers of those are closed
    b.index([doc(7, "new")], merge=True)
    assert b.search(TextTerm("new"), everyone).total == 4
    assert b.search(TextTerm("w7"), everyone).total == 1
    assert b.doc_count() == 60
    b.close()


def test_cache_budget_is_read_from_the_environment(tmp_path):
    from records.errors import ConfigurationError
    from records.settings import Settings

    def cache_bytes(env):
        return Settings.from_env(env, home=str(tmp_path)).search_cache_bytes

    assert cache_bytes({}) == 96 * 1024 * 1024
    assert cache_bytes({"XINFANG_SEARCH_CACHE_MB": "512"}) == 512 * 1024 * 1024
    for bad in ("0", "-3", "lots", "1e3"):
        with pytest.raises(ConfigurationError, match="XINFANG_SEARCH_CACHE_MB must be a whole number of megabytes"):
            cache_bytes({"XINFANG_SEARCH_CACHE_MB": bad})
