"""The Whoosh codec that keeps field lengths in memory reads exactly what Whoosh's own does,
the segments it writes name Whoosh's plain codec (any Whoosh reads them), and indexes
written with it answer the same as before."""
from whoosh import index as windex
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader

from search.whoosh.codec import LengthsInMemoryCodec
from search.whoosh.shards import INDEX_NAME

from .conftest import synthetic_documents, whoosh_only, word


def _segments(root):
    for toc in root.rglob(f"_{INDEX_NAME}_*.toc"):
        ix = windex.open_dir(str(toc.parent), indexname=INDEX_NAME)
        for segment in ix._read_toc().segments:
            yield ix.storage, segment


@whoosh_only("the codec is Whoosh's")
def test_lengths_read_in_memory_equal_whooshs_own(inst, make_user, make_record, drain):
    clerk = make_user("clerk")
    w = word()
    for n in range(12):
        make_record(by=clerk, body=f"第{n}封：公司拖欠工資{'很久' * n}。{w}" + ("x" * (n * 40)))
    drain()
    checked = 0
    for storage, segment in _segments(inst.settings.index_dir):
        assert type(segment.codec()) is W3Codec      # what the table of contents names
        ours = LengthsInMemoryCodec().per_document_reader(storage, segment)
        theirs = W3PerDocReader(storage, segment)
        for field in ("text", "chars", "status"):
            for docnum in range(segment.doc_count_all()):
                assert ours.doc_field_length(docnum, field) == theirs.doc_field_length(docnum, field)
                checked += 1
            assert ours.doc_field_length(0, "no-such-field", 7) == 7
        ours.close()
        theirs.close()
    assert checked >= 36


@whoosh_only("the codec is Whoosh's")
def test_index_written_with_the_codec_is_searchable_after_merges(inst, make_user, make_record, drain):
    from search import indexer

    clerk, chief = make_user("clerk"), make_user("chief")
    w = word()
    serials = [make_record(by=clerk, body=f"鄰居噪音擾民 {w} 第{n}次") for n in range(5)]
    drain()
    indexer.service(inst).backend.purge()   # rewrites every segment through the codec
    from records.accounts.models import User
    from search import query
    with inst.unit_of_work() as s:
        found = {h.record.serial for h in query.search(s, s.get(User, chief.id), f"噪音擾民 {w}").hits}
    assert found == set(serials)


def _postings(ix) -> dict:
    out = {}
    with ix.reader() as r:
        for field, term in r.all_terms():
            m = r.postings(field, term)
            items = []
            while m.is_active():
                items.append((m.id(), m.weight(), m.value()))
                m.next()
            ti = r.term_info(field, term)
            out[(field, term)] = (items, ti.min_length(), ti.max_length(), ti.max_weight(), ti.doc_frequency())
    return out


@whoosh_only("the codec is Whoosh's")
def test_lean_writing_path_writes_what_whooshs_own_writes(tmp_path):
    """The same documents through Whoosh's formats and field writer and through ours: the
    same terms, postings (ids, weights, positions), block statistics and stored lengths."""

    from whoosh.codec.whoosh3 import W3Codec

    from search.whoosh.schema import fields_of, make_schema

    docs = synthetic_documents(700, seed=5, common=20, longest=60, chars=5)
    from whoosh import fields, formats

    def whooshs_schema():
        """Our schema with Whoosh's own formats in place of the ones built from token lists."""
        schema = make_schema("k1")
        schema["text"].format = formats.Positions(field_boost=schema["text"].format.field_boost)
        schema["chars"].format = formats.Existence()
        assert type(schema["text"].format) is formats.Positions and isinstance(schema["text"], fields.TEXT)
        return schema

    built = {}
    for name, codec, schema in (("whoosh", W3Codec(), whooshs_schema()),
                                ("ours", LengthsInMemoryCodec(), make_schema("k1"))):
        (tmp_path / name).mkdir()
        ix = windex.create_in(str(tmp_path / name), schema, indexname=INDEX_NAME)
        w = ix.writer(codec=codec)
        for d in docs:
            w.add_document(**fields_of(d))
        w.commit()
        built[name] = _postings(ix)
        with ix.reader() as r:
            built[name + "-lengths"] = [(r.doc_field_length(n, "text"), r.doc_field_length(n, "chars"))
                                        for n in range(len(docs))]
    assert built["ours"] == built["whoosh"]
    assert built["ours-lengths"] == built["whoosh-lengths"]
    assert len(built["ours"]) > 300


@whoosh_only("segments are Whoosh's")
def test_rebuild_writes_bounded_segments_that_merging_leaves_alone(inst, make_user, make_record, drain,
                                                                   monkeypatch):
    """A rebuild commits a segment every SEGMENT_DOCS documents (its posting pool never
    spills to disk); the merge policy leaves segments of that size alone, smaller ones merge."""
    from records.accounts.models import User
    from search import indexer, query
    from search.whoosh import segments as policy

    monkeypatch.setattr(policy, "SEGMENT_DOCS", 4)
    clerk, chief = make_user("clerk"), make_user("chief")
    w = word()
    serials = {make_record(by=clerk, body=f"路燈不亮 {w} 第{n}盞", received_at="2026-03-02T10:00") for n in range(11)}
    drain()
    indexer.reindex(inst, procs=1)
    shard = next(p for p in inst.settings.index_dir.rglob("y2026") if p.is_dir())
    segments = windex.open_dir(str(shard), indexname=INDEX_NAME)._read_toc().segments
    assert len(segments) >= 3 and max(s.doc_count_all() for s in segments) <= 4
    assert not any(s.doc_count_all() >= 4 for s in policy.tiers_to_merge(segments * 10))
    assert indexer.check(inst).ok
    with inst.unit_of_work() as s:
        found = {h.record.serial for h in query.search(s, s.get(User, chief.id), f"路燈不亮 {w}", per_page=50).hits}
    assert found == serials


def test_merges_stay_about_one_segment_size():
    """Ten segments of a tier are merged a few at a time, so that a merge writes about
    SEGMENT_DOCS documents; segments of that size are never merged."""
    from search.whoosh import segments

    class Seg:
        def __init__(self, n):
            self.n = n

        def doc_count_all(self):
            return self.n

    small = [Seg(5) for _ in range(10)]
    assert segments.tiers_to_merge(small) == small
    mid = [Seg(600) for _ in range(10)]
    picked = segments.tiers_to_merge(mid)
    assert 2 <= len(picked) <= 4 and sum(s.n for s in picked) <= segments.SEGMENT_DOCS
    big = [Seg(segments.SEGMENT_DOCS) for _ in range(30)]
    assert segments.tiers_to_merge(big) == []
    assert segments.tiers_to_merge([Seg(5)] * 9) == []


def test_view_file_reads_as_bytesio_does():
    import io
    import random

    from search.whoosh.internals import _ViewIO

    rng = random.Random(4)
    data = bytes(rng.choice(b"ab\ncd\x00") for _ in range(2000))
    theirs, ours = io.BytesIO(data), _ViewIO(memoryview(data))
    for _ in range(500):
        op = rng.choice(("read", "readline", "seek", "readinto"))
        if op == "read":
            n = rng.choice((-1, 0, 1, 7, 300))
            assert ours.read(n) == theirs.read(n)
        elif op == "readline":
            n = rng.choice((-1, 3, 50))
            assert ours.readline(n) == theirs.readline(n)
        elif op == "readinto":
            a = bytearray(rng.randint(0, 40))
            b = bytearray(len(a))
            assert ours.readinto(a) == theirs.readinto(b) and a == b
        else:
            whence = rng.choice((0, 1, 2))
            pos = rng.randint(0, 2000) if whence == 0 else rng.randint(-50, 50) if whence == 1 else -rng.randint(0, 100)
            assert ours.seek(pos, whence) == theirs.seek(pos, whence)
        assert ours.tell() == theirs.tell()


@whoosh_only("the readers are Whoosh's")
def test_searchers_read_compound_segments_in_place_and_read_what_whoosh_reads(inst, make_user, make_record,
                                                                              drain):
    """A searcher's readers of compound segments read the mapped file where it lies (Whoosh's
    own copy every file of the segment into memory, a copy per thread) and read the same
    postings as Whoosh's own reader."""
    from whoosh.reading import SegmentReader

    from search import indexer
    from search.whoosh.internals import _SegmentReader, _ViewFile

    clerk = make_user("clerk")
    for n in range(4):
        make_record(by=clerk, body=f"第{n}封：公司拖欠工資{word()}")
    drain()
    backend = indexer.service(inst).backend
    s = backend._searcher()
    compound = 0
    for sub, _offset in s.leaf_searchers():
        ours = sub.reader()
        assert isinstance(ours, _SegmentReader)
        segment = ours.segment()
        if not segment.is_compound():
            continue
        compound += 1
        assert isinstance(ours._terms._postfile, _ViewFile)
        assert isinstance(ours._terms._postfile._buf, memoryview)
        theirs = SegmentReader(ours._storage.b, ours.schema, segment)
        for field, term in theirs.all_terms():
            a, b = ours.postings(field, term), theirs.postings(field, term)
            assert list(a.items_as("positions") if field == "text" else a.all_ids()) == \
                list(b.items_as("positions") if field == "text" else b.all_ids())
        theirs.close()
    assert compound
    backend.close()
