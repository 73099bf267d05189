"""The query language: operators, phrases, filters, refusals; facets, paging, sorting, snippets."""
import pytest
from sqlalchemy import select

from records.errors import ValidationError
from records.models import OutboxEntry, Record
from records.accounts.models import User
from search import query
from search.query import PBool, PFilter, PNot, PText

from .conftest import word


def run(inst, user, q="", **kw):
    with inst.unit_of_work() as s:
        r = query.search(s, s.get(User, user.id), q, **kw)
        return r, [h.record.serial for h in r.hits], [(str(h.subject_html), str(h.snippet_html)) for h in r.hits]


@pytest.fixture
def chief(make_user):
    return make_user("chief")


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


# -- parsing -------------------------------------------------------------------------------
def test_operators_and_grouping():
    assert query.parse("拖欠 工资") == PBool("and", (PText("拖欠"), PText("工资")))
    assert query.parse("拖欠 AND 工资 OR 社保") == PBool("or", (PBool("and", (PText("拖欠"), PText("工资"))),
                                                             PText("社保")))
    assert query.parse("拖欠 (工资 OR 社保)") == PBool("and", (PText("拖欠"), PBool("or", (PText("工资"), PText("社保")))))
    assert query.parse("NOT 社保") == PNot(PText("社保"))
    assert query.parse("工资 -社保") == PBool("and", (PText("工资"), PNot(PText("社保"))))
    assert query.parse('"back pay" status:registered') == PBool("and", (PText("back pay"),
                                                                          PFilter("status", "registered")))
    assert query.parse("「拖欠 工資」") == PText("拖欠 工資")
    assert query.parse("STATUS:registered") == PFilter("status", "registered")
    assert query.parse("received:2026") == PFilter("date", "2026")
    assert query.parse("-5度") == PText("-5度")   # a negative number is not NOT
    assert query.parse("") is None and query.parse("   ") is None


@pytest.mark.parametrize("q,expected", [
    ("工*", "Wildcards"), ("*工资", "Wildcards"), ("工?资", "Wildcards"), ("pay*", "Wildcards"),
    ("region:1101*", "Wildcards"), ("pay~", "Fuzzy"), ("pay~2", "Fuzzy"),
    ('"拖欠', "not closed"), ("(拖欠", "not closed"), ("拖欠)", "no opening"),
    ("拖欠 AND", "both sides"), ("OR 拖欠", "both sides"), ("NOT", "after it"),
    ("stauts:registered", "Unknown filter"), ("x" * 501, "too long"), ("a\x00b", "control"),
])
def test_refusals_are_clear(q, expected):
    with pytest.raises(ValidationError) as err:
        query.parse(q)
    assert expected in err.value.message and err.value.fields["q"] == err.value.message


def test_full_width_question_marks_are_punctuation():
    assert query.parse("怎麼辦？") == PText("怎麼辦\ue000")        # searched as the ? of NFKC
    assert query.parse("3～5個月") == PText("3\ue0025個月")
    assert query.parse("事由：拖欠") == PText("事由:拖欠")     # an unknown non-Latin name is text


def test_filter_values_are_checked():
    import zoneinfo

    tz = zoneinfo.ZoneInfo("Asia/Shanghai")
    for name, value in (("channel", "pigeon"), ("category", "x"), ("region", "11"), ("year", "26"),
                        ("year", "2027..2026"), ("date", "2026-13"), ("date", "2026-03-02..2026-03-01"),
                        ("office", "a b"), ("status", "no such state")):
        with pytest.raises(ValidationError):
            query.filter_node(name, value, tz)
    r = query.filter_node("date", "2026-03", tz)
    assert (r.high - r.low + 1) == 31 * 86400
    r = query.filter_node("date", "..2026-03-01", tz)
    assert r.low is None and r.high is not None


# -- searching -----------------------------------------------------------------------------------
def test_boolean_search(inst, clerk, chief, make_record, drain):
    w = word()
    a = make_record(by=clerk, subject="來信", body=f"拖欠工資 社保 {w}")
    b = make_record(by=clerk, subject="來信", body=f"拖欠工資 {w}")
    c = make_record(by=clerk, subject="來信", body=f"社保斷繳 {w}")
    drain()
    assert set(run(inst, chief, f"{w} 拖欠 社保")[1]) == {a}
    assert set(run(inst, chief, f"{w} (拖欠 OR 社保)")[1]) == {a, b, c}
    assert set(run(inst, chief, f"{w} 拖欠 NOT 社保")[1]) == {b}
    assert set(run(inst, chief, f"{w} -拖欠")[1]) == {c}
    assert set(run(inst, chief, f"{w} AND NOT (拖欠 OR 斷繳)")[1]) == set()


def test_filters_facets_and_paging(inst, clerk, chief, make_record, drain):
    w = word()
    made = [make_record(by=clerk, body=f"請求處理 {w}", channel=ch, region=rg, received_at=at)
            for ch, rg, at in (("letter", "110108", "2026-03-02T10:00"), ("letter", "110105", "2026-03-05T10:00"),
                               ("visit", "110108", "2026-04-01T10:00"), ("email", "110108", "2025-12-30T10:00"),
                               ("letter", "110108", "2025-01-02T10:00"))]
    drain()
    r, found, _ = run(inst, chief, w, per_page=2, sort="newest")
    assert r.total == 5 and r.pages == 3 and found == [made[2], made[1]]
    assert r.facets["channel"] == {"letter": 3, "email": 1, "visit": 1}
    assert r.facets["year"] == {"2026": 3, "2025": 2}
    assert r.facets["region"] == {"110108": 4, "110105": 1}
    assert run(inst, chief, w, per_page=2, page=3, sort="newest")[1] == [made[4]]
    assert run(inst, chief, w, sort="oldest")[1][0] == made[4]
    assert set(run(inst, chief, f"{w} channel:letter region:110108")[1]) == {made[0], made[4]}
    assert set(run(inst, chief, f"{w} year:2025")[1]) == {made[3], made[4]}
    assert set(run(inst, chief, f"{w} year:2025..2026")[1]) == set(made)
    assert set(run(inst, chief, f"{w} date:2026-03")[1]) == {made[0], made[1]}
    assert set(run(inst, chief, f"{w} date:2026-03-03..2026-04-01")[1]) == {made[1], made[2]}
    assert set(run(inst, chief, f"{w} -channel:letter")[1]) == {made[2], made[3]}
    assert set(run(inst, chief, w, params={"channel": "letter", "date_from": "2026-01-01"})[1]) == {made[0], made[1]}
    r = run(inst, chief, w, params={"year": "2025"})[0]
    assert r.applied == {"year": "2025"} and r.total == 2
    with pytest.raises(ValidationError):
        run(inst, chief, w, params={"date_from": "2026-04-01", "date_to": "2026-03-01"})


def test_status_filter_and_filter_only_search(inst, clerk, chief, make_record, drain):
    w = word()
    make_record(by=clerk, body=f"甲 {w}")
    s2 = make_record(by=clerk, body=f"乙 {w}")
    with inst.unit_of_work() as s:
        rec = s.execute(select(Record).where(Record.serial == s2)).scalar_one()
        rec.status = "accepted"
        s.add(OutboxEntry(record_uid=rec.uid, op="index"))
    drain()
    assert run(inst, chief, f"{w} status:accepted")[1] == [s2]
    r = run(inst, chief, "", params={"status": "accepted"})[0]
    assert r.sort == "newest" and s2 in [h.record.serial for h in r.hits]
    with pytest.raises(ValidationError) as err:
        run(inst, chief, "")
    assert "Type something" in err.value.message
    with pytest.raises(ValidationError):
        run(inst, chief, "。，")


def test_snippets_highlight_in_the_letters_own_script(inst, clerk, chief, make_record, drain):
    w = word()
    filler = "無關的內容。" * 30
    make_record(by=clerk, subject="反映拖欠工資", body=f"{filler}公司拖欠工資三個月<b>未付</b>。{w}")
    drain()
    r, _, shown = run(inst, chief, f"拖欠工资 {w}")
    subject, snippet = shown[0]
    assert subject == "反映<mark>拖欠工資</mark>"
    assert "公司<mark>拖欠工資</mark>三個月&lt;b&gt;未付&lt;/b&gt;" in snippet
    assert snippet.startswith("…") and len(snippet) < 400
    assert r.hits[0].score is not None and r.hits[0].score > 0


def test_relevance_prefers_more_matches(inst, clerk, chief, make_record, drain):
    w = word()
    once = make_record(by=clerk, body=f"欠薪一次，別的不多說。{w}")   # as long as the other (BM25 weighs length)
    often = make_record(by=clerk, body=f"欠薪，欠薪，又是欠薪。{w}")
    drain()
    assert run(inst, chief, f"欠薪 {w}")[1] == [often, once]


def test_page_and_sort_are_checked(inst, chief):
    for kw in ({"page": 0}, {"per_page": 1000}, {"sort": "random"}, {"page": "x"}, {"page": 501}):
        with pytest.raises(ValidationError):
            run(inst, chief, "拖欠", **kw)


def test_search_is_audited_without_the_query(inst, clerk, chief, make_record, drain):
    from records.models import AuditEntry

    w = word()
    serial = make_record(by=clerk, body=f"審計 {w}")
    drain()
    run(inst, chief, f"審計 {w} channel:letter")
    with inst.unit_of_work() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "search.query")
                          .order_by(AuditEntry.id.desc())).scalars().first()
    assert entry.actor_id == chief.id
    assert serial in entry.detail and '"filters":["channel"]' in entry.detail
    assert w not in entry.detail and "審計" not in entry.detail
