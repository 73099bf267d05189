"""The Whoosh codec that keeps field lengths in memory reads exactly what Whoosh's own does,
the segments it writes name Whoosh's plain codec (any Whoosh reads them), and indexes
written with it answer the same as before."""
from whoosh import index as windex
from whoosh.codec.whoosh3 import W3Codec, W3PerDocReader

from search.whoosh_backend import INDEX_NAME, LengthsInMemoryCodec

from .conftest import whoosh_only, word


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
    from records.models import User
    from search import query
    with inst.unit_of_work() as s:
        found = {h.record.serial for h in query.search(s, s.get(User, chief.id), f"噪音擾民 {w}").hits}
    assert found == set(serials)
