"""Side postings (``search.whoosh.sidecar``): every segment our codec writes holds the blind
fields' postings as fixed-width arrays beside Whoosh's blocks; they read back exactly what
Whoosh's blocks hold (document numbers, weights, positions), through commits, merges,
deletions and purges; a segment written before them is read from Whoosh's blocks and answers
the same; and they hold blind tokens only (the canary scan)."""
from __future__ import annotations

import random

import numpy as np
from whoosh import index as windex

from search.interface import IndexDocument
from search.whoosh import internals, sidecar
from search.whoosh.codec import LengthsInMemoryCodec
from search.whoosh.execution import Leaf, SegmentCache
from search.whoosh.schema import fields_of, make_schema
from search.whoosh.segments import PURGE_DELETED
from search.whoosh.shards import INDEX_NAME

from .conftest import synthetic_documents, whoosh_only, word

pytestmark = whoosh_only("side postings are files of the Whoosh index")


def _docs(n: int, seed: int = 3, start: int = 0) -> list[IndexDocument]:
    return synthetic_documents(n, seed=seed, start=start)


def _write(ix, docs, **commit) -> None:
    w = ix.writer(codec=LengthsInMemoryCodec())
    for d in docs:
        w.add_document(**fields_of(d))
    w.commit(**commit)


def _readers(ix):
    toc = internals.toc(ix)
    return [internals.segment_reader(ix.storage, toc.schema, s, codec=LengthsInMemoryCodec()) for s in toc.segments]


def _assert_side_equals_blocks(reader) -> int:
    """Every term of the side fields read both ways: same postings and positions; how many."""
    side = internals.side_postings(reader)
    assert side is not None
    terms, schema = internals.terms_of(reader), reader.schema
    fmt = schema["text"].format
    checked = 0
    for field in sidecar.FIELDS:
        assert side.covers(field)
        for field_, btext in list(reader.all_terms()):
            if field_ != field:
                continue
            term = btext.decode("utf-8")
            ids, weights, vals = internals.raw_postings(terms, schema, field, term, values=True)
            side_ids, side_weights = side.postings(field, term)
            assert side_ids.dtype == np.int32 and side_ids.tolist() == ids.tolist()
            assert side_weights.tolist() == weights.tolist()
            assert side.doc_frequency(field, term) == internals.doc_frequency(terms, schema, field, term)
            if field == "text":
                at = np.arange(len(ids))[::2]
                want = internals.positions([vals[j] for j in at.tolist()], fmt)
                got = side.positions(field, term, at)
                assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
            checked += 1
    for field in sidecar.FIELDS:
        assert side.doc_frequency(field, "absent") == 0 and len(side.postings(field, "absent")[0]) == 0
    return checked


def test_side_postings_read_back_what_whooshs_blocks_hold(tmp_path):
    ix = windex.create_in(str(tmp_path), make_schema("k1"), indexname=INDEX_NAME)
    _write(ix, _docs(700))
    readers = _readers(ix)
    assert len(readers) == 1
    assert _assert_side_equals_blocks(readers[0]) > 300
    side = internals.side_postings(readers[0])
    assert side._fields["text"]["ids"].dtype == np.dtype("<u2")   # fixed width, by range
    assert side._fields["text"]["weights"] == "counts"            # weight = count of positions
    assert side._fields["chars"]["weights"] == "ones"
    for r in readers:
        r.close()


def test_a_merge_and_a_purge_write_side_postings_of_what_they_keep(tmp_path):
    ix = windex.create_in(str(tmp_path), make_schema("k1"), indexname=INDEX_NAME)
    for k in range(3):
        _write(ix, _docs(150, seed=k, start=150 * k), merge=False)
    assert len(internals.toc(ix).segments) == 3
    w = ix.writer(codec=LengthsInMemoryCodec())
    w.delete_by_term("uid", "u7")
    w.delete_by_term("uid", "u160")
    w.commit(optimize=True)   # one segment: every segment merged, the deleted ones dropped
    readers = _readers(ix)
    assert len(readers) == 1 and readers[0].doc_count_all() == 448
    _assert_side_equals_blocks(readers[0])
    readers[0].close()
    w = ix.writer(codec=LengthsInMemoryCodec())
    w.delete_by_term("uid", "u8")
    w.commit(mergetype=PURGE_DELETED)
    readers = _readers(ix)
    assert readers[0].doc_count_all() == 447
    _assert_side_equals_blocks(readers[0])
    readers[0].close()


def test_a_deletion_keeps_the_side_postings_and_a_query_skips_the_deleted(tmp_path):
    ix = windex.create_in(str(tmp_path), make_schema("k1"), indexname=INDEX_NAME)
    docs = _docs(200)
    _write(ix, docs)
    w = ix.writer(codec=LengthsInMemoryCodec())
    w.delete_by_term("uid", "u3")
    w.commit()
    (reader,) = _readers(ix)
    assert reader.segment().deleted_count() == 1
    leaf = Leaf(reader, 0, SegmentCache())
    token = docs[3].text[0]
    holders = [i for i, d in enumerate(docs) if token in d.text]
    assert leaf.postings("text", token)[0].tolist() == holders   # deleted ones included, as Whoosh's
    assert leaf.doc_frequency("text", token) == len(holders) - 1  # live ones counted
    reader.close()


def _phrases(docs, rng, n=60):
    out = []
    for _ in range(n):
        d = rng.choice([d for d in docs if len(d.text) > 4])
        at = rng.randrange(len(d.text) - 3)
        out.append(tuple(d.text[at:at + rng.choice((2, 3, 4))]))
    return out + [("t000", "t001"), ("t001", "t001"), ("absent", "t000")]


def test_a_segment_written_before_side_postings_answers_the_same(tmp_path, monkeypatch):
    """An index written before side postings (no ``.spa`` file) is read from Whoosh's blocks:
    the same phrases found, with the same weights, as from a segment that has them."""
    docs = _docs(500, seed=11)
    (tmp_path / "new").mkdir()
    ix_new = windex.create_in(str(tmp_path / "new"), make_schema("k1"), indexname=INDEX_NAME)
    _write(ix_new, docs)
    (tmp_path / "old").mkdir()
    ix_old = windex.create_in(str(tmp_path / "old"), make_schema("k1"), indexname=INDEX_NAME)
    with monkeypatch.context() as m:
        m.setattr(internals._LeanFieldWriter, "close", internals.W3FieldWriter.close)
        _write(ix_old, docs)
    (new,), (old,) = _readers(ix_new), _readers(ix_old)
    assert internals.side_postings(new) is not None and internals.side_postings(old) is None
    leaf_new, leaf_old = Leaf(new, 0, SegmentCache()), Leaf(old, 0, SegmentCache())
    for tokens in _phrases(docs, random.Random(2)):
        docs_new, weights_new = leaf_new.phrase(tokens)
        docs_old, weights_old = leaf_old.phrase(tokens)
        assert docs_new.tolist() == docs_old.tolist()
        assert [w.tolist() for w in weights_new] == [w.tolist() for w in weights_old]
        expected = [i for i, d in enumerate(docs)
                    if any(tuple(d.text[k:k + len(tokens)]) == tokens for k in range(len(d.text)))]
        assert docs_new.tolist() == expected
    for token in ("t000", "t150", "absent"):
        for field in sidecar.FIELDS:
            assert [a.tolist() for a in leaf_new.postings(field, token)] == \
                [a.tolist() for a in leaf_old.postings(field, token)]
    new.close()
    old.close()


def test_the_side_postings_file_is_part_of_the_compound_segment(tmp_path):
    ix = windex.create_in(str(tmp_path), make_schema("k1"), indexname=INDEX_NAME)
    _write(ix, _docs(50))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not any(n.endswith(sidecar.EXT) for n in names)   # inside the .seg file, not beside it
    assert sum(n.endswith(".seg") for n in names) == 1


def test_the_canary_scan_finds_no_plaintext_in_the_side_postings(inst, make_user, make_record, drain, svc):
    """The side postings hold the blind tokens of a letter (the scan can see them there) and
    none of its words or numbers, in any file of the index (``test_canary`` scans them all)."""
    from search import analysis

    from .conftest import index_bytes

    canary, digits = "雞蛋糕攤販遭城管沒收三輪車" + word(), "8675309421"
    clerk = make_user("clerk")
    make_record(by=clerk, subject="關於" + canary, body=f"我在市場擺{canary}，號碼 {digits}。")
    drain()
    sides = []
    for toc in inst.settings.index_dir.rglob(f"_{INDEX_NAME}_*.toc"):
        ix = windex.open_dir(str(toc.parent), indexname=INDEX_NAME)
        for reader in _readers(ix):
            sides.append(bytes(internals.side_postings(reader).buffer))
            reader.close()
    side = b"".join(sides)
    assert sides and side.startswith(sidecar.MAGIC)
    assert svc.blinder.text_one(analysis.normalise(canary[:2])).encode() in side
    data = index_bytes(inst)
    # six digits of the number, not three: random hex and base64 in the index files (a key
    # id such as "bbb5300ee68b", blind tokens) hold any three digits by chance
    for text in (canary, canary[:2], digits, digits[2:8], analysis.normalise(canary)):
        for enc in ("utf-8", "utf-16-le", "gb18030"):
            assert text.encode(enc) not in side and text.encode(enc) not in data, (text, enc)
