"""Search finds exactly what was written (token scheme 2), on both backends: numbers and
words inside longer ones, Chinese next to digits only where they touch, variant characters
of either script, exact totals and facets under the access filter, one ranking."""
import json

import pytest
from sqlalchemy import text as sql

from app.cli import cli
from records.accounts.models import User
from search import analysis, indexer, query
from search.interface import Access, IndexSchemeOutdated

from .conftest import uses_database, word


def letters_word() -> str:
    """A Latin word no other letter contains, without digits or the letters of the queries
    below (``word()`` is hexadecimal: it may hold "30")."""
    import secrets

    return "kw" + "".join(secrets.choice("ghijlmnopqrstuvwxyz") for _ in range(12))


def run(inst, user, q, **kw):
    with inst.unit_of_work() as s:
        r = query.search(s, s.get(User, user.id), q, **kw)
        return r, {h.record.serial for h in r.hits}, [(str(h.subject_html), str(h.snippet_html)) for h in r.hits]


@pytest.fixture
def chief(make_user):
    return make_user("chief")


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


# -- 1. digits and Latin letters inside longer runs ------------------------------------------------
def test_a_query_inside_a_number_or_a_word_finds_it(inst, clerk, chief, make_record, drain):
    w = letters_word()
    amount = make_record(by=clerk, subject="欠款", body=f"公司尚欠3000元未付。{w}")
    day = make_record(by=clerk, subject="來訪", body=f"約定本月28日答覆。{w}")
    flat = make_record(by=clerk, subject="住房", body=f"住在5號樓1301室，漏水。{w}")
    latin = make_record(by=clerk, subject="反饋", body=f"Customer feedback ignored. {w}")
    other = make_record(by=clerk, subject="其他", body=f"付了300元，8月到期，號樓旁邊 back。{w}")
    drain()
    assert run(inst, chief, f"000元 {w}")[1] == {amount}
    assert run(inst, chief, f"8日 {w}")[1] == {day}
    assert run(inst, chief, f"號樓1 {w}")[1] == {flat}
    assert run(inst, chief, f"号楼1 {w}")[1] == {flat}            # the other script
    assert run(inst, chief, f"1301 {w}")[1] == {flat}
    assert run(inst, chief, f"30 {w}")[1] == {amount, flat, other}   # inside 3000, 1301 and 300
    assert run(inst, chief, f"ack {w}")[1] == {latin, other}      # inside feedback and back
    assert run(inst, chief, f"FEEDBACK {w}")[1] == {latin}
    # the reverse: a longer query never finds the shorter text
    assert run(inst, chief, f"3000元 {w}")[1] == {amount}
    assert run(inst, chief, f"28日答 {w}")[1] == {day}
    assert run(inst, chief, f"13011 {w}")[1] == set()


def test_chinese_next_to_digits_matches_only_where_they_touch(inst, clerk, chief, make_record, drain):
    w = letters_word()
    touching = make_record(by=clerk, subject="來訪", body=f"我於2025年3月14日在2025號窗口遞交。{w}")
    apart = make_record(by=clerk, subject="來訪", body=f"共14人，日後再來；2025年在家。工單號：2024。{w}")
    ticket = make_record(by=clerk, subject="工單", body=f"工單號2024-118已受理。{w}")
    drain()
    assert run(inst, chief, f"14日 {w}")[1] == {touching}
    assert run(inst, chief, f"在2025 {w}")[1] == {touching}
    assert run(inst, chief, f"5年在 {w}")[1] == {apart}
    assert run(inst, chief, f"工單號2024 {w}")[1] == {ticket}
    assert run(inst, chief, f"工单号2024 {w}")[1] == {ticket}
    assert run(inst, chief, f'"2024-118" {w}')[1] == {ticket}
    assert run(inst, chief, f"2024-119 {w}")[1] == set()
    # one character is the character field: every letter holding it
    assert run(inst, chief, f"日 {w}")[1] == {touching, apart}
    assert run(inst, chief, f"理 {w}")[1] == {ticket}
    # highlighting marks exactly the matched run
    shown = run(inst, chief, f"14日 {w}")[2]
    assert "3月<mark>14日</mark>在" in shown[0][1]


def test_full_width_punctuation_is_searched_as_written(inst, clerk, chief, make_record, drain):
    w = word()
    asked = make_record(by=clerk, subject="疑問", body=f"我們該怎麼辦？請儘快答覆。{w}")
    stated = make_record(by=clerk, subject="陳述", body=f"我們知道怎麼辦。{w}")
    drain()
    assert run(inst, chief, f"怎麼辦？ {w}")[1] == {asked}      # ？ is text here, not a wildcard
    assert run(inst, chief, f"怎么办。 {w}")[1] == {stated}
    assert run(inst, chief, f"怎麼辦 {w}")[1] == {asked, stated}


# -- 2. variant characters, both directions --------------------------------------------------------
VARIANTS = [("答覆", "答复"), ("看著", "看着"), ("二噁英", "二恶英"), ("乾淨", "干净"), ("以後", "以后"),
            ("頭髮", "头发"), ("瞭解", "了解"), ("一隻", "一只"), ("關於", "关于"), ("這裡", "这里"),
            ("裏面", "里面"), ("裡面", "裏面")]


@pytest.mark.parametrize(("written", "typed"), VARIANTS + [(b, a) for a, b in VARIANTS])
def test_variant_characters_find_each_other(inst, clerk, chief, make_record, drain, written, typed):
    w = word()
    serial = make_record(by=clerk, subject="變體", body=f"信中寫道：{written}，請處理。{w}")
    drain()
    r, found, shown = run(inst, chief, f"{typed} {w}")
    assert found == {serial}, (written, typed)
    assert f"<mark>{written}</mark>" in shown[0][1]   # marked as the letter writes it


def test_variant_folding_is_one_class_per_character():
    fold = analysis.normalise
    for group in ("覆复復複", "著着", "噁恶惡", "乾干幹", "後后", "髮发發", "瞭了", "隻只", "於于", "里裡裏"):
        assert len({fold(c) for c in group}) == 1, group
    assert fold("答覆") == fold("答复") and fold("二噁英") == fold("二恶英")
    assert fold("拖欠") != fold("工資")


# -- 3. exact totals and facets under the access filter ---------------------------------------------
def test_totals_and_facets_are_exact_under_the_access_filter(inst, make_user, make_record, drain):
    w = word()
    mine, theirs = make_user("clerk"), make_user("clerk")
    chief = make_user("chief")
    hits_mine = [make_record(by=mine, subject="欠薪", body=f"於2025年3月14日來信 {w}", channel=ch)
                 for ch in ("letter", "letter", "email")]
    near_mine = [make_record(by=mine, subject="欠薪", body=f"14人，日後 2025 年 {w}") for _ in range(2)]
    hits_theirs = [make_record(by=theirs, subject="欠薪", body=f"3月14日收到 {w}") for _ in range(2)]
    drain()
    r, found, _ = run(inst, mine, f"14日 {w}", per_page=2)
    assert r.total == 3 and found <= set(hits_mine)
    assert r.facets["channel"] == {"letter": 2, "email": 1}
    assert sum(r.facets["year"].values()) == 3
    r2, found2, _ = run(inst, mine, f"14日 {w}", per_page=2, page=2)
    assert r2.total == 3 and len(found | found2) == 3
    r, found, _ = run(inst, chief, f"14日 {w}", per_page=100)
    assert r.total == 5 and found == set(hits_mine + hits_theirs)
    assert not found & set(near_mine)
    assert sum(r.facets["channel"].values()) == 5
    handler = make_user("handler", office="LDJC")
    r = run(inst, handler, f"14日 {w}")[0]
    assert r.total == 0 and not any(n for counts in r.facets.values() for n in counts.values())


# -- 4. the old token scheme is reported, and a reindex cures it ------------------------------------
def _mark_old_scheme(inst):
    if uses_database(inst):
        with inst.db.engine.begin() as conn:
            conn.execute(sql("UPDATE search_meta SET value = '1' WHERE name = 'format'"))
        return
    root = inst.settings.index_dir
    gen = root / (root / "CURRENT").read_text().strip()
    meta = json.loads((gen / "meta.json").read_text())
    meta.pop("scheme", None)   # written before token scheme 2
    (gen / "meta.json").write_text(json.dumps(meta))
    _forget_checked_meta(indexer.service(inst).backend)


def _forget_checked_meta(backend) -> None:
    """This process read meta.json already; make it read it again."""
    backend._checked = None   # noqa: SLF001 - the test changed the file behind its back


def test_an_index_of_the_old_scheme_is_reported_and_rebuilt(inst, runner, clerk, chief, make_record, drain):
    w = word()
    serial = make_record(by=clerk, subject="舊索引", body=f"號樓1301 {w}")
    drain()
    _mark_old_scheme(inst)
    result = runner.invoke(cli, ["search", "check"])
    assert result.exit_code == 2
    assert "token scheme 1" in result.output and "xinfang search reindex" in result.output
    with pytest.raises(IndexSchemeOutdated):
        run(inst, chief, f"1301 {w}")
    result = runner.invoke(cli, ["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "Indexing letters" in result.output
    assert runner.invoke(cli, ["search", "check"]).exit_code == 0
    assert run(inst, chief, f"樓13 {w}")[1] == {serial}


# -- 5. one ranking on both backends ---------------------------------------------------------------
def test_both_backends_rank_alike(inst, settings, clerk, make_record, drain, tmp_path):
    """The instance's index (Whoosh or PostgreSQL) against the other backend fed the same
    documents: the same hits, scores and order (PostgreSQL runs only)."""
    if not uses_database(inst):
        pytest.skip("needs the PostgreSQL backend beside Whoosh")
    from search.whoosh.backend import WhooshBackend

    w = word()
    bodies = ["欠薪欠薪，公司拖欠工資三個月。", "拖欠工資一次。", "工資條 2025年3月14日 拖欠", "拖欠 3000元 工资",
              "答覆遲遲未到，拖欠多時，拖欠工資，拖欠。", "工資"] * 3
    for i, body in enumerate(bodies):
        make_record(by=clerk, subject=f"排序 {i}", body=f"{body}{w}", received_at=f"2026-03-{1 + i % 4:02d}T10:00")
    drain()
    svc = indexer.service(inst)
    other = WhooshBackend(tmp_path / "ix", svc.blinder.key_id)
    loader = other.bulk_loader()
    with inst.session(read_only=True) as s:
        from records.models import Record
        for record in s.query(Record).order_by(Record.year, Record.id):
            got = indexer.read_for_index(s, record)
            if got is not None:
                loader.add_text(*got, svc.blinder)
    loader.commit()
    for q in ("拖欠", "工资", "拖欠工資", "欠薪 OR 答复", f"工資 {w}", "14日", "0元", "资 -欠薪"):
        node = query.compile_query(query.parse(q), svc.blinder, inst_tz(inst))
        a = svc.backend.search(node, Access(principals=None), per_page=50, facets=())
        b = other.search(node, Access(principals=None), per_page=50, facets=())
        assert a.total == b.total, q
        assert [h.uid for h in a.hits] == [h.uid for h in b.hits], q
        assert [h.score for h in a.hits] == pytest.approx([h.score for h in b.hits], rel=1e-12), q


def inst_tz(inst):
    from zoneinfo import ZoneInfo

    return ZoneInfo(inst.settings.timezone)
