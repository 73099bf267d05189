"""The index fed by the outbox: script folding, substrings, updates, removal with purge,
year shards, check and reindex."""
import os

import pytest
from sqlalchemy import delete, select, update

from app.cli import cli
from records.cases import operations
from records.models import OutboxEntry, Record
from records.accounts.models import User
from search import analysis, factory, indexer, query
from search.interface import IndexKeyMismatch

from .conftest import index_bytes, index_files, whoosh_only, word


def find(inst, user, q, **kw) -> list[str]:
    """Serials found by ``user`` for ``q`` (in a unit of work of its own)."""
    with inst.unit_of_work() as s:
        return [h.record.serial for h in query.search(s, s.get(User, user.id), q, **kw).hits]


@pytest.fixture
def chief(make_user):
    return make_user("chief")


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


def test_outbox_rows_are_applied_and_removed(inst, clerk, make_record, drain):
    make_record(by=clerk, body="某公司拖欠工資 " + word())
    assert indexer.pending(inst) >= 1
    report = drain()
    assert report.rows >= 1 and not report.skipped
    assert indexer.pending(inst) == 0
    assert indexer.check(inst).ok


def test_either_script_finds_both(inst, clerk, chief, make_record, drain):
    w = word()
    trad = make_record(by=clerk, subject="工資", body=f"本人於某建築公司工作，公司拖欠工資三個月。{w}")
    simp = make_record(by=clerk, subject="工资", body=f"本人在某建筑公司工作，公司拖欠工资三个月。{w}")
    drain()
    for q in ("拖欠工資", "拖欠工资", "拖欠工資三个月", "欠工", "工資三", "建築公司"):
        got = find(inst, chief, f"{q} {w}")
        assert set(got) == {trad, simp}, q
    assert find(inst, chief, f'"{w}" 公司拖欠工資三個月') != []


def test_mixed_latin_digits_and_chinese(inst, clerk, chief, make_record, drain):
    w = word()
    serial = make_record(by=clerk, body=f"购买的iPhone15手機用了3個月就坏了，商家 refuses to refund。{w}")
    other = make_record(by=clerk, body=f"购买的手机用了三个月。{w}")
    drain()
    assert find(inst, chief, f"iphone15手机 {w}") == [serial]
    assert find(inst, chief, f"3个月 {w}") == [serial]
    assert find(inst, chief, f'"refuses to refund" {w}') == [serial]
    assert find(inst, chief, f'"to refuses" {w}') == []   # a phrase keeps its order
    assert set(find(inst, chief, f"个月 {w}")) == {serial, other}
    assert find(inst, chief, f"用了3 {w}") == [serial]    # a word at the edge of a run
    assert set(find(inst, chief, f"坏 {w}")) == {serial}  # one character


def test_substring_does_not_match_across_punctuation(inst, clerk, chief, make_record, drain):
    w = word()
    serial = make_record(by=clerk, body=f"拖欠工資，三個月 {w}")
    drain()
    assert find(inst, chief, f"工資三個月 {w}") == []
    assert find(inst, chief, f'"工資，三個月" {w}') == [serial]


def test_correction_replaces_the_document(inst, clerk, chief, make_record, drain):
    w = word()
    serial = make_record(by=clerk, body=f"原來的內容 {w} 舊詞彙")
    drain()
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        operations.correct(s, record, {"body": f"更正後的內容 {w} 新詞彙"}, by=s.get(User, clerk.id))
    drain()
    assert find(inst, chief, f"舊詞彙 {w}") == []
    assert find(inst, chief, f"新詞彙 {w}") == [serial]
    stored = {d["serial"]: d for d in indexer.service(inst).backend.stored_documents()}
    assert stored[serial]["doc_version"] == 2
    assert indexer.check(inst).ok


def _remove(inst, serial):
    """Remove a record as a destruction run would: the row goes, an outbox delete is written."""
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        uid = record.uid
        s.execute(update(Record).where(Record.repeat_of_id == record.id).values(repeat_of_id=None))
        s.delete(record)
        s.add(OutboxEntry(record_uid=uid, op="delete"))
    return uid


def test_removed_record_leaves_none_of_its_unique_tokens(inst, clerk, chief, make_record, drain, svc):
    w1, w2 = word(), word()
    body = f"鼴鼷齲齶之事 {w1} {w2} 另有隱情"
    serial = make_record(by=clerk, body=body)
    keep = make_record(by=clerk, body=f"另有隱情 {word()}")
    drain()
    # correct it twice: the stale versions sit in segments as deleted documents
    for n in (1, 2):
        with inst.unit_of_work() as s:
            record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
            operations.correct(s, record, {"body": body + f" 第{n}版"}, by=s.get(User, clerk.id))
        drain()
    a = analysis.analyse("鼴鼷齲齶之事")   # its own pairs (those of the Latin words are shared with other words)
    others = set(svc.blinder.text(analysis.analyse("另有隱情 第1版 第2版").tokens))
    unique = set(svc.blinder.text(a.tokens)) - others
    unique_chars = set(svc.blinder.chars(analysis.analyse("鼴鼷齲齶").chars))
    data = index_bytes(inst)
    assert unique and [t for t in unique | unique_chars if t.encode() not in data] == []  # the scan can see them
    _remove(inst, serial)
    report = drain()
    assert report.deleted == 1
    data = index_bytes(inst)
    assert [t for t in unique | unique_chars if t.encode() in data] == []
    assert not any(p.name.endswith(".tmp") for p in inst.settings.index_dir.rglob("*"))
    assert find(inst, chief, "另有隱情").count(keep) == 1
    assert indexer.check(inst).ok


@whoosh_only("year shards are folders of the Whoosh index; the PostgreSQL table is one relation "
             "(its purge: test_pg_backend.py)")
def test_purging_one_year_leaves_other_shards_untouched(inst, clerk, make_record, drain, svc):
    old = make_record(by=clerk, received_at="2025-06-01T10:00", body=f"去年的信 {word()}")
    gone = make_record(by=clerk, received_at="2025-07-01T10:00", body=f"去年的另一封信 {word()}")
    make_record(by=clerk, received_at="2026-01-05T10:00", body=f"今年的信 {word()}")
    drain()
    gen = inst.settings.index_dir / (inst.settings.index_dir / "CURRENT").read_text().strip()
    before_2026 = {p.name: p.stat().st_ino for p in (gen / "y2026").iterdir()}
    _remove(inst, gone)
    drain()
    after_2026 = {p.name: p.stat().st_ino for p in (gen / "y2026").iterdir()}
    assert before_2026 == after_2026, "purging a 2025 letter rewrote the 2026 shard"
    info = svc.backend.describe()["shards"]
    assert info["2025"]["deleted"] == 0
    assert old in {d["serial"] for d in svc.backend.stored_documents()}


def test_check_names_every_kind_of_difference(inst, clerk, make_record, drain, runner):
    missing = make_record(by=clerk, body=f"未索引 {word()}")
    with inst.unit_of_work() as s:   # registered, but the outbox row is lost
        uid = s.execute(select(Record.uid).where(Record.serial == missing)).scalar_one()
        s.execute(delete(OutboxEntry).where(OutboxEntry.record_uid == uid))
    stale = make_record(by=clerk, body=f"狀態改了 {word()}")
    drain()
    with inst.unit_of_work() as s:   # changed behind the outbox's back
        s.execute(update(Record).where(Record.serial == stale).values(status="accepted"))
    extra = make_record(by=clerk, body=f"刪了 {word()}")
    drain()
    with inst.unit_of_work() as s:
        s.execute(delete(Record).where(Record.serial == extra))
    report = indexer.check(inst)
    assert not report.ok
    assert missing in report.missing
    assert report.stale.get(stale) == ["status"]
    assert extra in report.extra
    result = runner.invoke(cli, ["search", "check"])
    assert result.exit_code == 1
    assert missing in result.output and stale in result.output and "reindex" in result.output
    result = runner.invoke(cli, ["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexed" in result.output
    result = runner.invoke(cli, ["search", "check"])
    assert result.exit_code == 0, result.output
    assert "agree" in result.output


@whoosh_only("generations are folders of the Whoosh index; PostgreSQL swaps tables "
             "(test_pg_backend.py::test_reindex_replaces_the_table_and_keeps_searching)")
def test_reindex_switches_generation_and_keeps_searching(inst, clerk, chief, make_record, drain):
    w = word()
    serial = make_record(by=clerk, body=f"重建索引 {w}")
    drain()
    before = (inst.settings.index_dir / "CURRENT").read_text()
    seen = []
    report = indexer.reindex(inst, progress=seen.append, procs=1)
    after = (inst.settings.index_dir / "CURRENT").read_text()
    assert after != before and not (inst.settings.index_dir / before).exists()
    assert sum(seen) == report.records and report.indexed == report.records
    assert find(inst, chief, w) == [serial]
    assert indexer.check(inst).ok


def test_reindex_with_two_processes(inst, clerk, make_record, drain):
    for i in range(6):
        make_record(by=clerk, body=f"多進程索引 第{i}封 {word()}")
    report = indexer.reindex(inst, procs=2)
    assert report.indexed == report.records
    assert indexer.check(inst).ok
    # the sub-writers' job files are gone
    assert not [p for p in index_files(inst) if p.suffix in (".doclist", ".run")]


def test_index_built_with_another_key_is_refused(inst, svc, make_user, make_record, drain):
    make_record(by=make_user("clerk"), body=f"有了索引 {word()}")
    drain()   # the index exists, built with the instance's key
    other = factory.make_backend(inst, "000000000000")
    with pytest.raises(IndexKeyMismatch):
        list(other.stored_documents())


@whoosh_only("the pickled Whoosh schema's analyzer; PostgreSQL refuses non-tokens itself "
             "(test_pg_backend.py::test_only_blind_tokens_reach_the_table)")
def test_schema_refuses_plain_text(svc):
    analyzer = svc.backend._schema["text"].analyzer
    with pytest.raises(TypeError):
        list(analyzer("拖欠工資"))
    assert analyzer.key_id == svc.blinder.key_id


def test_a_drain_waits_its_turn(inst, clerk, make_record):
    make_record(by=clerk, body=f"排隊 {word()}")
    with indexer.writer_lock(inst, 0) as held:
        assert held
        report = indexer.drain(inst, wait=0.05)
        assert report.skipped and indexer.pending(inst) >= 1
    assert not indexer.drain(inst, wait=1).skipped
    assert indexer.pending(inst) == 0


@whoosh_only("segments and their merges are Whoosh's; PostgreSQL leaves upkeep to autovacuum")
def test_quick_commits_then_tiered_merges(inst, clerk, make_record, svc):
    """After a request the outbox is applied without merging (fast); maintain() then merges
    a tier once it holds ten segments."""
    for i in range(12):
        make_record(by=clerk, received_at="2024-05-01T10:00", body=f"分段合併 {i} {word()}")
        indexer.drain(inst, merge=False)
    shard = svc.backend.describe()["shards"]["2024"]
    assert shard["segments"] >= 10
    indexer.maintain_quietly(inst)
    after = svc.backend.describe()["shards"]["2024"]
    assert after["segments"] < shard["segments"] and after["documents"] == shard["documents"]
    assert indexer.check(inst).ok


def test_follow_drains_until_stopped(inst, clerk, make_record):
    make_record(by=clerk, body=f"跟隨 {word()}")
    seen, rounds = [], iter(range(3))
    indexer.follow(inst, interval=0.01, stop=lambda: next(rounds, None) is None, on_drain=seen.append)
    assert seen and seen[0].rows >= 1 and indexer.pending(inst) == 0


@whoosh_only("Whoosh's multi-process writer; a PostgreSQL rebuild is one COPY stream of blind tokens")
def test_sub_writers_get_ciphertext_only(svc):
    """In a multi-process rebuild the text reaches the sub-writers sealed under a key that
    only exists in memory; their analyzer opens it, a plain string is refused."""
    from search.whoosh import handoff

    key_id = svc.blinder.key_id
    analyzer = svc.backend._schema["text"].analyzer
    text = "公司拖欠工資三個月 backpay"
    handoff.start(key_id, os.urandom(32), svc.blinder)
    try:
        value = handoff.seal(key_id, text)
        assert value.startswith(handoff.PREFIX)
        assert all(part.encode() not in value.encode() for part in ("拖欠", "工資", "backpay"))
        got = [t.text for t in analyzer(value, positions=True)]
        assert got == svc.blinder.text(analysis.analyse(text).tokens)
        chars = [t.text for t in svc.backend._schema["chars"].analyzer(value)]
        assert chars == svc.blinder.chars(sorted(analysis.analyse(text).chars))
        with pytest.raises(TypeError):
            list(analyzer(text))
    finally:
        handoff.forget(key_id)
    with pytest.raises(TypeError):   # no rebuild in progress: no key to open it with
        list(analyzer(value))
