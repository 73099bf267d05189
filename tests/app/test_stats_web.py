"""The statistics pages, exports, reports, the JSON API, the CLI and the roster on the web:
an inspector's downloads and dashboard hold no content and no identity (canary)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from app.cli import cli
from records.reporting import roster
from records.accounts.models import User
from tests.conftest import login

SUBJECT = "金絲雀網頁主題"
BODY = "金絲雀網頁正文，拖欠工資。"
NAME = "諸葛金絲"
ID_NUMBER = "110108199001011231"
PHONE = "13712345678"
CANARIES = (SUBJECT, BODY, "金絲雀", NAME, ID_NUMBER, PHONE, "諸葛")


@pytest.fixture(scope="module")
def seeded(inst):
    from records.accounts import operations as accounts
    from records.cases import operations
    from tests.conftest import letter_data, unique

    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, unique("clerk"), "test-password-123", ["clerk"], office="XFB", display_name="登記員甲")
        serials = [operations.register(s, letter_data(channel=ch, received_at=at, subject=SUBJECT, body=BODY,
                                                      petitioner={"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}),
                                       by=clerk).serial
                   for ch, at in (("letter", "2026-03-02T10:00"), ("visit", "2026-03-03T10:00"),
                                  ("email", "2026-03-04T10:00"))]
    return serials


def _pdf_text(data: bytes) -> str:
    return re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def test_leader_dashboard_shows_charts_and_figures(client, make_user, seeded):
    leader = make_user("leader", oversees=("LDJC",))
    login(client, leader.username)
    page = client.get("/stats?from=2026-03-01&to=2026-03-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<svg class="chart trend"' in html and '<svg class="chart bars"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html) and ' style="' not in html  # no inline script
    assert re.search(r'class="figure">3</span>', html)
    assert url_in(html, "/stats/report.pdf")


def url_in(html: str, path: str) -> bool:
    return path in html


def test_bad_filter_is_a_message_not_an_error(client, make_user):
    chief = make_user("chief")
    login(client, chief.username)
    page = client.get("/stats?from=2026-13-45")
    assert page.status_code == 200 and "field-error" in page.get_data(as_text=True)


def test_inspector_dashboard_and_downloads_hold_no_content_or_identity(client, make_user, seeded):
    inspector = make_user("inspector")
    login(client, inspector.username)
    dashboard = client.get("/stats?from=2026-03-01&to=2026-03-31").get_data(as_text=True)
    xlsx = client.get("/exports/ledger.xlsx?date_from=2026-03-01&date_to=2026-03-31")
    text_csv = client.get("/exports/ledger.csv?date_from=2026-03-01&date_to=2026-03-31")
    pdf = client.get("/stats/report.pdf?month=2026-03")
    assert xlsx.status_code == text_csv.status_code == pdf.status_code == 200
    assert xlsx.headers["Content-Disposition"].startswith("attachment")
    assert xlsx.headers["Cache-Control"] == "no-store"
    cells = " ".join(str(v) for row in load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True)
                     for v in row if v is not None)
    csv_text = text_csv.data.decode("utf-8-sig")
    for blob in (dashboard, cells, csv_text, _pdf_text(pdf.data)):
        for canary in CANARIES:
            assert canary not in blob
    for raw in (xlsx.data, pdf.data, text_csv.data):
        assert ID_NUMBER.encode() not in raw and PHONE.encode() not in raw
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert {r["serial"] for r in rows} >= set(seeded)
    assert "petitioner_name" not in rows[0]


def test_exports_are_audited(client, make_user, inst, seeded):
    from sqlalchemy import select

    from records.models import AuditEntry

    chief = make_user("chief")
    login(client, chief.username)
    client.get("/exports/ledger.csv")
    client.get("/stats/report.pdf?month=2026-03")
    with inst.unit_of_work() as s:
        actions = [a for a, in s.execute(select(AuditEntry.action).where(AuditEntry.actor == chief.username))]
    assert "ledger.export" in actions and "report.monthly" in actions
    assert client.get("/exports/ledger.pdf").status_code == 404


def test_api_stats_equals_the_service(client, make_user, api_token, inst, seeded):
    from records.reporting import stats

    inspector = make_user("inspector")
    token = api_token(inspector)
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/stats?from=2026-03-01&to=2026-03-31&by=channel,month", headers=headers).get_json()
    with inst.unit_of_work() as s:
        expected = stats.compute(s, s.get(User, inspector.id),
                                 stats.StatsFilters(dt.date(2026, 3, 1), dt.date(2026, 3, 31)))
    assert body["total"] == expected.total and body["by_channel"] == expected.by_channel
    assert body["by_month"] == [{"month": "2026-03", "count": expected.total}]
    assert "by_region" not in body and "by_category" not in body
    bad = client.get("/api/v1/stats?by=colour", headers=headers)
    assert bad.status_code == 422 and "by" in bad.get_json()["fields"]
    assert client.get("/api/v1/stats?from=yesterday", headers=headers).status_code == 422


def test_cli_monthly_report(runner, tmp_path, seeded):
    out = tmp_path / "report.pdf"
    result = runner.invoke(cli, ["report", "monthly", "--month", "2026-03", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = _pdf_text(out.read_bytes())
    assert "信訪工作月報（2026年3月）" in text and "範圍：全局" in text
    bad = runner.invoke(cli, ["report", "monthly", "--month", "March", "--out", str(tmp_path / "x.pdf")])
    assert bad.exit_code != 0 and "Invalid month" in bad.output
    assert not (tmp_path / "x.pdf").exists()


def test_roster_page_and_visit_prefill(client, make_user, inst):
    chief, leader, clerk = make_user("chief"), make_user("leader"), make_user("clerk")
    login(client, chief.username)
    page = client.post("/roster/build", data={"month": "2026-10", "leaders": leader.username,
                                              "staff": clerk.username, "weekdays": ["0", "2"]})
    assert page.status_code == 303
    html = client.get("/roster?month=2026-10").get_data(as_text=True)
    assert ("國慶節" in html or "National Day" in html) and leader.display_name in html
    # today on the roster: the clerk registering a visit gets the receiving leader pre-filled
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    with inst.unit_of_work() as s:
        roster.assign(s, today, "reception", leader.username, by=s.get(User, chief.id))
    login(client, clerk.username)
    form = client.get("/records/new?channel=visit").get_data(as_text=True)
    assert re.search(rf'<option selected value="{leader.username}">|<option value="{leader.username}" selected>', form)
    letter_form = client.get("/records/new").get_data(as_text=True)
    assert not re.search(rf'<option selected value="{leader.username}">', letter_form)
    assert client.post("/roster/build", data={"month": "2026-10"}).status_code == 403


def test_roster_build_refusal_is_shown(client, make_user):
    chief = make_user("chief")
    login(client, chief.username)
    page = client.post("/roster/build", data={"month": "2026-10", "weekdays": "1"})
    assert page.status_code == 422
    assert "field-error" in page.get_data(as_text=True)


def test_roster_of_a_year_the_official_calendar_lacks(client, make_user):
    chief = make_user("chief")
    login(client, chief.username)
    client.get("/lang/en")
    page = client.get("/roster?month=2099-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "2099-01-02" in html
    assert "The official holiday calendar for 2099 has not been entered yet" in html and "(provisional)" in html
    refused = client.post("/roster/build", data={"month": "2099-01", "weekdays": "1"})
    assert refused.status_code == 422


def test_cli_report_to_a_missing_folder_fails_cleanly(runner, tmp_path):
    result = runner.invoke(cli, ["report", "monthly", "--month", "2026-03", "--out", str(tmp_path / "no" / "r.pdf")])
    assert result.exit_code == 1 and "Cannot write" in result.output


def test_replacing_a_months_roster_needs_the_box_ticked(client, make_user):
    """Issue 18: building over a month that has a roster is refused unless 'replace' is ticked."""
    chief, leader, clerk = make_user("chief"), make_user("leader"), make_user("clerk")
    login(client, chief.username)
    data = {"month": "2026-11", "leaders": leader.username, "staff": clerk.username, "weekdays": ["0"]}
    assert client.post("/roster/build", data=data).status_code == 303
    assert client.post("/roster/build", data=data).status_code == 409
    assert client.post("/roster/build", data={**data, "replace": "yes"}).status_code == 303
