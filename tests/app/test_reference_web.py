"""Reference data on the web, in the API and on the console (issue 14): registering a letter
from another province (marked, not refused), the region suggested by the ID number without
JavaScript, the administrator's category, unit, letterhead and calendar pages, the API and
`xinfang categories|units|calendar|regions|letterhead`; a wrong role is refused everywhere."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.cli import cli
from records.accounts import operations as accounts
from records.models import Record
from records.reference import calendar, categories
from tests.conftest import TEST_PASSWORD, login, unique

FORM = {
    "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
    "channel": "letter", "received_at": "2026-03-02T10:00", "category": "labour_wages", "people_count": "1",
    "subject": "拖欠工資", "body": "公司拖欠工資三個月。", "petitioner_name": "王小明",
    "petitioner_phone": "13812345678", "petitioner_address": "四川省成都市武侯區",
}


@pytest.fixture(scope="module")
def people(inst):
    out = {}
    with inst.unit_of_work() as s:
        for role, office in (("clerk", "XFB"), ("admin", None)):
            name = unique(role)
            user = accounts.create_user(s, name, TEST_PASSWORD, [role], office=office, display_name=name)
            out[role] = name
            out[role + "_token"] = accounts.issue_token(s, user, label="reference test", second_factor_roles=())
    return out


def _id(first17: str) -> str:
    from records.identity import id_check_char

    return first17 + id_check_char(first17)


def _serial(response) -> str:
    return re.search(r"/records/(XF-\d{4}-\d{6})", response.headers["Location"]).group(1)


def test_a_letter_from_another_province_is_registered_and_marked(client, people):
    login(client, people["clerk"])
    page = client.get("/records/new")
    assert page.status_code == 200 and 'list="region-options"' in page.text and "regions.js" in page.text
    response = client.post("/records/new", data={**FORM, "region": "510107",
                                                  "petitioner_id_number": _id("51010719900101123")})
    assert response.status_code == 302, response.text
    shown = client.get(f"/records/{_serial(response)}")
    client.get("/lang/en")
    shown = client.get(f"/records/{_serial(response)}")
    assert "四川省成都市武侯區" in shown.text and "outside our area" in shown.text


def test_a_retired_code_is_shown_with_its_successor(client, people):
    login(client, people["clerk"])
    response = client.post("/records/new", data={**FORM, "region": "110103"})
    assert response.status_code == 302
    client.get("/lang/en")
    assert "retired code, now 110101" in client.get(f"/records/{_serial(response)}").text


def test_without_javascript_the_id_number_suggests_the_region(client, people, inst):
    login(client, people["clerk"])
    client.get("/lang/en")
    with inst.unit_of_work() as s:
        before = s.execute(select(Record.id)).all()
    page = client.post("/records/new", data={**FORM, "region": "", "petitioner_id_number": _id("44030519900101123")})
    assert page.status_code == 200
    assert 'value="440305"' in page.text and "suggested from the ID number" in page.text
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.id)).all() == before          # nothing registered yet


def test_an_unknown_region_comes_back_with_the_field_marked(client, people):
    login(client, people["clerk"])
    client.get("/lang/en")
    page = client.post("/records/new", data={**FORM, "region": "999999"})
    assert page.status_code == 422 and "Unknown region code" in page.text


def test_the_region_finder_in_either_script_and_its_json(client, people):
    login(client, people["clerk"])
    page = client.get("/reference/regions?q=南山区")
    assert page.status_code == 200 and "440305" in page.text and "廣東省深圳市南山區" in page.text
    data = client.get("/reference/regions.json?q=武侯&id_number=110108").get_json()
    assert any(r["code"] == "510107" and r["outside_jurisdiction"] for r in data["regions"])
    assert data["suggested"]["code"] == "110108"


def test_the_administrators_pages_and_a_wrong_role(client, people, inst):
    login(client, people["clerk"])
    assert client.get("/admin/reference/categories").status_code == 403
    assert client.post("/admin/reference/categories", data={"code": "sneaky", "name": "x"}).status_code == 403
    login(client, people["admin"])
    client.get("/lang/en")
    assert "Reference data" in client.get("/admin/reference").text
    response = client.post("/admin/reference/categories", data={"code": "medical", "name": "醫療衛生",
                                                                "name_en": "Health"}, follow_redirects=True)
    assert "Category medical added." in response.text and "医疗卫生" in response.text
    response = client.post("/admin/reference/categories", data={"code": "Bad Code", "name": "x"},
                           follow_redirects=True)
    assert "was not added" in response.text
    client.post("/admin/reference/categories/medical", data={"active": "0"})
    with inst.unit_of_work() as s:
        assert not categories.get(s, "medical").active
    # the letterhead: a bad pattern is refused naming the field
    page = client.post("/admin/reference/letterhead", data={"bureau_name": "某市科學技術局", "issuing_office": "信訪辦",
                                                           "superior_body": "某省科學技術廳", "number_pattern": "no seq",
                                                           "seal_line": "（蓋章）", "signature_block": "信訪辦"})
    assert page.status_code == 422 and "{seq}" in page.text
    # the calendar: a bad line is named and nothing is imported
    response = client.post("/admin/reference/calendar/import",
                           data={"text": "2041-01-01 holiday 元旦\n2041-01-0x holiday\n"}, follow_redirects=True)
    assert "line 2" in response.text
    with inst.unit_of_work() as s:
        assert calendar.is_provisional(s, 2041)
    response = client.post("/admin/reference/calendar/import", data={"text": "2041-01-01 holiday 元旦\n"},
                           follow_redirects=True)
    assert "Calendar imported for 2041" in response.text and "2041-01-01" in response.text


def test_the_api(client, people):
    admin = {"Authorization": f"Bearer {people['admin_token']}"}
    clerk = {"Authorization": f"Bearer {people['clerk_token']}"}
    assert client.get("/api/v1/regions?q=440305", headers=clerk).get_json()["regions"][0]["code"] == "440305"
    assert client.get("/api/v1/regions/999999", headers=clerk).status_code == 404
    assert client.get("/api/v1/regions", headers=clerk).status_code == 422
    assert client.post("/api/v1/categories", json={"code": "x_clerk", "name": "x"}, headers=clerk).status_code == 403
    created = client.post("/api/v1/categories", json={"code": "education", "name_hans": "教育"}, headers=admin)
    assert created.status_code == 201 and created.get_json()["name"] == "教育"
    bad = client.post("/api/v1/categories", json={"code": "education", "name": "x"}, headers=admin)
    assert bad.status_code == 422 and "code" in bad.get_json()["fields"]
    unit = client.post("/api/v1/units", json={"code": "EXT-WH", "name": "武侯區科技局", "external": True,
                                               "regions": ["510107", "000000"]}, headers=admin)
    assert unit.status_code == 422 and "regions" in unit.get_json()["fields"]
    bad_cal = client.post("/api/v1/calendar", json={"text": "2042-01-01 holiday\nnonsense\n"}, headers=admin)
    assert bad_cal.status_code == 422 and "line 2" in bad_cal.get_json()["error"]
    assert client.get("/api/v1/calendar/2042", headers=clerk).get_json()["provisional"] is True
    assert client.put("/api/v1/letterhead", json={"number_pattern": "{year}"}, headers=admin).status_code == 422


def test_the_console(runner, tmp_path, inst):
    bad = tmp_path / "bad.txt"
    bad.write_text("2043-01-01 holiday 元旦\n2043-02-30 holiday\n", "utf-8")
    result = runner.invoke(cli, ["calendar", "import", str(bad)])
    assert result.exit_code == 1 and "line 2" in result.output
    with inst.unit_of_work() as s:
        assert calendar.is_provisional(s, 2043)
    good = tmp_path / "2043.txt"
    good.write_text("# 通知\n2043-01-01 休 元旦\n2043-01-03 班\n", "utf-8")
    result = runner.invoke(cli, ["calendar", "import", str(good)])
    assert result.exit_code == 0 and "2043" in result.output
    assert "2043-01-03 workday" in runner.invoke(cli, ["calendar", "show", "2043"]).output
    assert runner.invoke(cli, ["categories", "add", "science_awards", "科技獎勵", "--en", "Awards"]).exit_code == 0
    result = runner.invoke(cli, ["categories", "add", "science_awards", "again"])
    assert result.exit_code == 1 and "exists already" in result.output
    assert runner.invoke(cli, ["categories", "deactivate", "science_awards"]).exit_code == 0
    assert "(inactive)" in runner.invoke(cli, ["categories", "list"]).output
    assert runner.invoke(cli, ["units", "add", "EXT-XH", "西湖區科技局", "--external", "--region", "330106"]).exit_code == 0
    assert "330106" in runner.invoke(cli, ["units", "list"]).output
    assert "440305" in runner.invoke(cli, ["regions", "find", "南山區"]).output
    result = runner.invoke(cli, ["letterhead", "set", "--number-pattern", "broken"])
    assert result.exit_code == 1 and "{seq}" in result.output


def test_the_api_record_marks_a_region_outside_the_area(client, people, inst):
    from records.accounts.models import User
    from records.cases import operations
    from tests.conftest import letter_data

    with inst.unit_of_work() as s:
        serial = operations.register(s, letter_data(region="330106"),
                                     by=s.execute(select(User).where(User.username == people["clerk"])).scalar_one()
                                     ).serial
    headers = {"Authorization": f"Bearer {people['clerk_token']}"}
    detail = client.get(f"/api/v1/records/{serial}", headers=headers).get_json()["region_detail"]
    assert detail["outside_jurisdiction"] is True and detail["full_name"] == "浙江省杭州市西湖區"


def test_from_november_the_board_and_the_admin_pages_say_next_year_is_missing(client, people, inst, make_user,
                                                                               monkeypatch):
    import datetime as dt

    import app.reference.views as reference_views
    from records.reference.models import CalendarYear

    with inst.unit_of_work() as s:
        row = s.get(CalendarYear, 2030)
        if row is not None:
            s.delete(row)
    monkeypatch.setattr(reference_views, "_today", lambda: dt.date(2029, 11, 2))
    chief = make_user("chief")
    login(client, chief.username)
    client.get("/lang/en")
    assert "The official holiday calendar for 2030 has not been entered" in client.get("/board").text
    login(client, people["admin"])
    client.get("/lang/en")
    assert "The official holiday calendar for 2030 has not been entered" in client.get("/admin/users").text
    monkeypatch.setattr(reference_views, "_today", lambda: dt.date(2029, 10, 31))
    assert "has not been entered" not in client.get("/admin/users").text
