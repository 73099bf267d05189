"""Reference data as data (issue 14): the whole country's regions on letters, the bureau's
categories and units through their life, the letterhead's document numbers."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from records.accounts.models import User
from records.cases import operations
from records.errors import AccessDenied, Conflict, NotFound, ValidationError
from records.models import AuditEntry, Record
from records.reference import categories, letterhead, regions, units
from records.reference.models import Region
from records.reporting import stats
from tests.conftest import letter_data


@pytest.fixture(scope="module")
def clerk(inst):
    from records.accounts import operations as accounts
    from tests.conftest import TEST_PASSWORD

    with inst.unit_of_work() as s:
        return accounts.create_user(s, "ref-clerk", TEST_PASSWORD, ["clerk"], office="XFB").id


def _register(inst, clerk_id, **overrides) -> str:
    with inst.unit_of_work() as s:
        return operations.register(s, letter_data(**overrides), by=s.get(User, clerk_id)).serial


def _one_region_per_province() -> dict[str, str]:
    """province code -> a current county-level code in it (the province itself when it has none)."""
    rows = regions.national_list()
    out = {}
    for p in (r for r in rows if r.level == 1 and not r.retired_in):
        county = next((r.code for r in rows if r.level == 3 and not r.retired_in and r.code[:2] == p.code[:2]), None)
        out[p.code] = county or p.code
    return out


# -- regions -------------------------------------------------------------------------------------


def test_the_national_list_is_complete_and_names_its_source(inst):
    with inst.unit_of_work() as s:
        current = s.execute(select(func.count()).select_from(Region).where(Region.retired_in.is_(None))).scalar_one()
        provinces = s.execute(select(func.count()).select_from(Region).where(
            Region.level == 1, Region.retired_in.is_(None))).scalar_one()
        nanshan = s.get(Region, "440305")
        assert (nanshan.name, nanshan.name_hans) == ("南山區", "南山区")
        assert regions.full_name(s, nanshan) == "廣東省深圳市南山區"
    assert provinces == 34            # 31 provinces and municipalities, Taiwan, Hong Kong, Macao
    assert current > 3000             # every prefecture and county
    assert "2025-12-31" in regions.source_note()


def test_registration_with_a_code_from_every_province(inst, clerk):
    picks = _one_region_per_province()
    assert len(picks) == 34
    serials = {p: _register(inst, clerk, region=code) for p, code in picks.items()}
    with inst.unit_of_work() as s:
        for province, serial in serials.items():
            record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
            assert record.region_code == picks[province]
            # the jurisdiction is Beijing (110000): every other province is marked, none refused
            assert regions.outside_jurisdiction(s, record.region_code) == (province != "110000")


@pytest.mark.parametrize("code,successor", [("110103", "110101"), ("510122", "510116"), ("350402", "350404")])
def test_a_retired_code_is_kept_and_points_at_its_successor(inst, clerk, code, successor):
    serial = _register(inst, clerk, region=code)
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert record.region_code == code
        info = regions.as_dict(s, record.region)
        assert info["retired"] and info["successor"] == successor and info["current"] == successor


def test_outside_the_jurisdiction_is_accepted_and_marked(inst, clerk):
    serial = _register(inst, clerk, region="510107")     # 武侯區, Chengdu
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        info = regions.as_dict(s, record.region)
        assert info["outside_jurisdiction"] is True and info["full_name"] == "四川省成都市武侯區"
        assert regions.as_dict(s, s.get(Region, "110108"))["outside_jurisdiction"] is False


@pytest.mark.parametrize("code", ["999999", "12345", "1101081", "abcdef", "", None, 110108])
def test_unknown_or_malformed_region_codes_are_refused_naming_the_field(inst, clerk, code):
    with pytest.raises(ValidationError) as exc:
        _register(inst, clerk, region=code)
    assert "region" in exc.value.fields


def test_region_search_in_either_script_by_code_and_id_number(inst):
    with inst.unit_of_work() as s:
        assert "440305" in [r.code for r in regions.search(s, "南山區")]
        assert "440305" in [r.code for r in regions.search(s, "南山区")]
        assert [r.code for r in regions.search(s, "4403")][0] == "440300"
        assert regions.search(s, "%") == [] or all("%" in r.name for r in regions.search(s, "%"))
        # the jurisdiction's own come first: 朝陽區 of Beijing before 朝阳区 of Changchun
        assert regions.search(s, "朝陽")[0].code == "110105"
        assert regions.from_id_number(s, "510107199001011234").code == "510107"
        assert regions.from_id_number(s, "99999919900101") is None


def test_the_jurisdiction_changes_and_refuses_bad_codes(inst):
    with inst.unit_of_work() as s:
        for bad in ("999999", "110103", "x"):
            with pytest.raises(ValidationError):
                regions.set_jurisdiction(s, bad)
    with inst.unit_of_work() as s:
        regions.set_jurisdiction(s, "510100")
        assert not regions.outside_jurisdiction(s, "510107") and regions.outside_jurisdiction(s, "110108")
        regions.set_jurisdiction(s, "110000")
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "reference.jurisdiction")).scalars().first()


# -- categories ---------------------------------------------------------------------------------


def test_category_lifecycle_and_statistics_follow_the_vocabulary(inst, clerk, make_user):
    admin = make_user("admin")
    with inst.unit_of_work() as s:
        by = s.get(User, admin.id)
        categories.add(s, {"code": "patents_ip", "name": "專利與知識產權", "name_en": "Patents"}, by=by)
        categories.add(s, {"code": "patent_fees", "name_hans": "专利费用", "parent": "patents_ip"}, by=by)
    with inst.unit_of_work() as s:
        sub = categories.get(s, "patent_fees")
        assert sub.name == "專利費用" and sub.parent.code == "patents_ip"
        assert categories.labels(s)["patent_fees"] == "專利與知識產權 / 專利費用"
    first = _register(inst, clerk, category="patents_ip", received_at="2026-03-03T10:00")
    _register(inst, clerk, category="patent_fees", received_at="2026-03-04T10:00")
    with inst.unit_of_work() as s:
        categories.change(s, "patents_ip", {"name": "知識產權"}, by=s.get(User, admin.id))
        # in use: never deleted, deactivated (with its sub-categories)
        with pytest.raises(Conflict):
            categories.remove(s, "patents_ip", by=s.get(User, admin.id))
        categories.change(s, "patents_ip", {"active": False}, by=s.get(User, admin.id))
    with inst.unit_of_work() as s:
        assert not categories.get(s, "patent_fees").active
        assert "patents_ip" not in categories.codes(s, active_only=True)
    # no longer offered for a new letter...
    with pytest.raises(ValidationError) as exc:
        _register(inst, clerk, category="patents_ip")
    assert "category" in exc.value.fields
    # ...but the letters that carry it keep it through a correction
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == first)).scalar_one()
        operations.correct(s, record, {"subject": "專利費用問題（更正）"}, by=s.get(User, clerk))
    with inst.unit_of_work() as s:
        filters = stats.StatsFilters(date_from=dt.date(2026, 3, 1), date_to=dt.date(2026, 3, 31))
        result = stats.compute(s, None, filters, today=dt.date(2026, 4, 1))
        assert result.by_category.get("patents_ip") == 1 and result.by_category.get("patent_fees") == 1
        assert result.category_names["patents_ip"] == "知識產權"
        actions = set(s.execute(select(AuditEntry.action).where(AuditEntry.action.like("reference.category.%")))
                      .scalars())
        assert actions >= {"reference.category.add", "reference.category.change"}


def test_an_unused_category_is_removed_and_bad_input_is_refused(inst, make_user):
    admin, clerk = make_user("admin"), make_user("clerk")
    with inst.unit_of_work() as s:
        by = s.get(User, admin.id)
        categories.add(s, {"code": "to_remove", "name": "臨時"}, by=by)
        categories.remove(s, "to_remove", by=by)
        with pytest.raises(NotFound):
            categories.get(s, "to_remove")
        for values, field in (({"code": "Bad Code", "name": "x"}, "code"), ({"code": "other", "name": "x"}, "code"),
                              ({"code": "no_name"}, "name"), ({"code": "orphan", "name": "x", "parent": "nope"}, "parent"),
                              ({"code": "deep", "name": "x", "parent": "patent_fees"}, "parent")):
            with pytest.raises(ValidationError) as exc:
                categories.add(s, values, by=by)
            assert field in exc.value.fields, values
        with pytest.raises(ValidationError) as exc:
            categories.change(s, "other", {"code": "renamed"}, by=by)
        assert "code" in exc.value.fields
        with pytest.raises(AccessDenied):
            categories.add(s, {"code": "by_clerk", "name": "x"}, by=s.get(User, clerk.id))


# -- offices and units ----------------------------------------------------------------------------


def test_unit_lifecycle_with_regions(inst, clerk, make_user):
    admin, chief = make_user("admin"), make_user("chief")
    with inst.unit_of_work() as s:
        by = s.get(User, admin.id)
        units.add(s, {"code": "EXT-NS", "name": "南山區科技創新局", "external": True, "regions": ["440305"]}, by=by)
        assert [o.code for o in units.for_region(s, "440305")] == ["EXT-NS"]
        units.change(s, "EXT-NS", {"name": "深圳市南山區科技創新局", "regions": ["440305", "440306"]}, by=by)
        for values, field in (({"code": "EXT-X", "name": "x", "external": True, "regions": ["999999"]}, "regions"),
                              ({"code": "bad code", "name": "x"}, "code"), ({"code": "EXT-NS", "name": "x"}, "code"),
                              ({"code": "INT-R", "name": "x", "regions": ["110108"]}, "regions")):
            with pytest.raises(ValidationError) as exc:
                units.add(s, values, by=by)
            assert field in exc.value.fields
    serial = _register(inst, clerk, region="440305")
    with inst.unit_of_work() as s:
        from records.cases import workflow

        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        boss = s.get(User, chief.id)
        workflow.transition(s, record, "accept", by=boss)
        workflow.transition(s, record, "transfer", by=boss, unit="EXT-NS")
    with inst.unit_of_work() as s:
        by = s.get(User, admin.id)
        with pytest.raises(Conflict):
            units.remove(s, "EXT-NS", by=by)
        units.change(s, "EXT-NS", {"active": False}, by=by)
        assert units.for_region(s, "440305") == []
        with pytest.raises(ValidationError):
            units.change(s, "XFB", {"active": False}, by=by)   # the intake stays
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert record.transferred_unit == "EXT-NS"   # the record keeps naming it


# -- letterhead ------------------------------------------------------------------------------------


def test_letterhead_numbers_are_per_year_and_gap_free(inst, make_user):
    admin = make_user("admin")
    with inst.unit_of_work() as s:
        letterhead.update_letterhead(s, {"number_pattern": "X科信〔{year}〕{seq}號", "bureau_name": "某市科學技術局"},
                                     by=s.get(User, admin.id))
        first = letterhead.next_document_number(s, 2031)
        second = letterhead.next_document_number(s, 2031)
        other = letterhead.next_document_number(s, 2032)
    assert (first, second, other) == ("X科信〔2031〕1號", "X科信〔2031〕2號", "X科信〔2032〕1號")
    with pytest.raises(RuntimeError):   # a failed document gives its number back
        with inst.unit_of_work() as s:
            letterhead.next_document_number(s, 2031)
            raise RuntimeError("the notice could not be made")
    with inst.unit_of_work() as s:
        assert letterhead.next_document_number(s, 2031) == "X科信〔2031〕3號"
        assert letterhead.current(s).bureau_name == "某市科學技術局"
        for bad in ("no sequence {year}", "{seq} {unknown}", "{seq", "{seq:q}"):
            with pytest.raises(ValidationError) as exc:
                letterhead.update_letterhead(s, {"number_pattern": bad}, by=s.get(User, admin.id))
            assert "number_pattern" in exc.value.fields
        with pytest.raises(ValidationError):
            letterhead.update_letterhead(s, {"bureau_name": "  "}, by=s.get(User, admin.id))


def test_document_numbers_under_concurrency(inst):
    numbers: list[str] = []
    errors: list[BaseException] = []

    def issue():
        try:
            for _ in range(5):
                with inst.unit_of_work() as s:
                    numbers.append(letterhead.next_document_number(s, 2040))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=issue) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seqs = sorted(int(n.split("〕")[1].rstrip("號")) for n in numbers)
    assert seqs == list(range(1, 21))
