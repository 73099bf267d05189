"""Ledger exports (XLSX, CSV) and the monthly report (PDF): the expected rows and figures,
identity only for the roles that may see it, nothing of a letter for an inspector."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from records.reporting import exports, reports
from records.errors import AccessDenied
from records.models import AuditEntry
from records.accounts.models import User
from records.cases.operations import LedgerFilters
from tests.conftest import letter_data

SUBJECT = "金絲雀主題甲乙丙"
BODY = "金絲雀正文丁戊己，拖欠工資。"
NAME = "歐陽金絲"
ID_NUMBER = "110108199001011231"
PHONE = "13912345678"
CANARIES = (SUBJECT, BODY, "金絲雀", NAME, ID_NUMBER, PHONE, "13912345678"[3:7] + "5678")


@pytest.fixture(scope="module")
def seeded(inst):
    from records.accounts import operations as accounts
    from records.cases import operations
    from tests.conftest import unique

    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, unique("clerk"), "test-password-123", ["clerk"], office="XFB", display_name="登記員")
        other = accounts.create_user(s, unique("clerk"), "test-password-123", ["clerk"], office="XFB", display_name="另一登記員")
        serials = []
        for i, (ch, cat, at) in enumerate([("letter", "labour_wages", "2026-10-08T09:00"),
                                            ("visit", "labour_wages", "2026-10-09T10:00"),
                                            ("email", "environment", "2026-10-12T11:00"),
                                            ("phone", "land_housing", "2026-09-30T11:00")]):
            r = operations.register(s, letter_data(channel=ch, category=cat, received_at=at, subject=SUBJECT, body=BODY,
                                                   people_count=i + 1,
                                                   petitioner={"name": NAME, "id_number": ID_NUMBER, "phone": PHONE}),
                                    by=clerk if i < 3 else other)
            serials.append(r.serial)
    return {"serials": serials, "clerk": clerk.id, "other": other.id}


def _user(s, uid):
    return s.get(User, uid)


def pdf_text(data: bytes) -> str:
    """The PDF's text without spaces (fpdf2's CID text extracts with NUL padding)."""
    return re.sub(r"[\s\x00]+", "", "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def test_xlsx_opens_and_holds_expected_rows(inst, seeded, make_user):
    chief = make_user("chief")
    with inst.unit_of_work() as s:
        data = exports.to_xlsx(s, _user(s, chief.id), LedgerFilters(date_from=dt.date(2026, 10, 1),
                                                                    date_to=dt.date(2026, 10, 31)))
    ws = load_workbook(io.BytesIO(data)).active
    rows = list(ws.iter_rows(values_only=True))
    codes = rows[1]
    body = [dict(zip(codes, r)) for r in rows[2:]]
    assert [r["serial"] for r in body] == seeded["serials"][:3]
    assert [r["channel"] for r in body] == ["letter", "visit", "email"]
    assert [r["people_count"] for r in body] == [1, 2, 3]
    assert body[0]["received_on"] == "2026-10-08" and body[0]["first_responder"] == "登記員"
    # the chief sees identities unmasked
    assert body[0]["petitioner_id_number"] == ID_NUMBER and body[0]["identity"] == "unmasked"
    with inst.unit_of_work() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "ledger.export")
                          .order_by(AuditEntry.id.desc())).scalars().first()
        assert '"format":"xlsx"' in entry.detail and '"rows":3' in entry.detail
        assert ID_NUMBER not in entry.detail


def test_csv_masks_identity_for_a_clerk_beyond_own_records(inst, seeded):
    with inst.unit_of_work() as s:
        data = exports.to_csv(s, _user(s, seeded["clerk"]))
    text = data.decode("utf-8-sig")
    rows = {r["serial"]: r for r in csv.DictReader(io.StringIO(text))}
    own, foreign = rows[seeded["serials"][0]], rows[seeded["serials"][3]]
    assert own["petitioner_name"] == NAME and own["identity"] == "unmasked"
    assert foreign["petitioner_name"] == "" and foreign["identity"] == "withheld"


def test_csv_masks_identity_where_only_content_is_readable(inst, seeded, make_user):
    handler = make_user("handler", office="XFB")
    with inst.unit_of_work() as s:
        text = exports.to_csv(s, _user(s, handler.id)).decode("utf-8-sig")
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["serial"] == seeded["serials"][0])
    assert row["identity"] == "masked" and row["petitioner_name"] == "歐***"
    assert row["petitioner_id_number"] == "1101**********1231" and ID_NUMBER not in text


def test_inspector_files_hold_no_content_or_identity(inst, seeded, make_user):
    """The canary: an inspector's XLSX, CSV and PDF contain nothing a person wrote and no identity."""
    inspector = make_user("inspector")
    with inst.unit_of_work() as s:
        me = _user(s, inspector.id)
        xlsx = exports.to_xlsx(s, me)
        text_csv = exports.to_csv(s, me).decode("utf-8-sig")
        pdf = reports.monthly_pdf(s, me, "2026-10")
    cells = " ".join(str(v) for row in load_workbook(io.BytesIO(xlsx)).active.iter_rows(values_only=True)
                     for v in row if v is not None)
    for blob in (cells, text_csv, pdf_text(pdf)):
        for canary in CANARIES:
            assert canary not in blob
    assert "petitioner_name" not in text_csv and "identity" not in text_csv.splitlines()[0]
    assert seeded["serials"][0] in cells and seeded["serials"][0] in text_csv
    for raw in (xlsx, pdf):   # the compressed files too
        for canary in (ID_NUMBER, PHONE):
            assert canary.encode() not in raw


def test_monthly_pdf_text_has_the_figures(inst, seeded, make_user):
    chief = make_user("chief")
    with inst.unit_of_work() as s:
        data = reports.monthly_pdf(s, _user(s, chief.id), "2026-10", today=dt.date(2026, 11, 2))
        s_ = reports.monthly(s, _user(s, chief.id), "2026-10", today=dt.date(2026, 11, 2))
    text = pdf_text(data)
    assert data.startswith(b"%PDF")
    assert "信訪工作月報（2026年10月）" in text
    assert s_.total >= 3
    assert f"收到信訪事項（件）{s_.total}涉及人數（人次）{s_.people}" in text
    assert f"來訪{s_.by_channel['visit']}" in text
    assert "勞動工資" in text and "來訪" in text
    with inst.unit_of_work() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "report.monthly")).scalars().first()


def test_export_needs_permission(inst, make_user):
    archivist = make_user("archivist")
    with inst.unit_of_work() as s, pytest.raises(AccessDenied):
        exports.to_csv(s, _user(s, archivist.id))


def test_inspection_report_per_leader(inst, make_user):
    from records.cases import operations
    from records.reporting import roster

    leader, chief, inspector, clerk = make_user("leader"), make_user("chief"), make_user("inspector"), make_user("clerk")
    with inst.unit_of_work() as s:
        roster.assign(s, dt.date(2026, 10, 13), "reception", leader.username, by=_user(s, chief.id))
        roster.assign(s, dt.date(2026, 10, 15), "reception", leader.username, by=_user(s, chief.id))
        for people in (3, 4):
            operations.register(s, letter_data(channel="visit", received_at="2026-10-13T10:00", people_count=people,
                                               first_responder=leader.username), by=_user(s, clerk.id))
        operations.register(s, letter_data(channel="letter", received_at="2026-10-14T10:00",
                                           first_responder=leader.username), by=_user(s, clerk.id))
    with inst.unit_of_work() as s:
        rows = reports.inspection(s, _user(s, inspector.id), dt.date(2026, 10, 1), dt.date(2026, 10, 31),
                                  leader=leader.username, today=dt.date(2026, 11, 1))
        assert len(rows) == 1
        r = rows[0]
        assert (r.reception_days, r.visits_received, r.visitors, r.matters, r.concluded, r.open) == (2, 2, 7, 3, 0, 3)
        with pytest.raises(AccessDenied):
            reports.inspection(s, _user(s, leader.id), dt.date(2026, 10, 1), dt.date(2026, 10, 31))


def test_the_repeat_column_names_the_earlier_letter_read_a_step_at_a_time(inst, make_user, make_record):
    """Earlier letters are looked up in steps of 1,000 (an export of 100,000 rows may name more
    than a PostgreSQL statement may carry); every repeat still names its own earlier letter."""
    from sqlalchemy import update

    from records.models import Record

    clerk, chief = make_user("clerk", office="XFB"), make_user("chief")
    firsts = [make_record(clerk, received_at="2025-02-03T09:00") for _ in range(3)]
    repeats = [make_record(clerk, received_at="2025-02-04T09:00") for _ in range(3)]
    with inst.unit_of_work() as s:
        ids = dict(s.execute(select(Record.serial, Record.id).where(Record.serial.in_(firsts))).all())
        for first, repeat in zip(firsts, repeats):
            s.execute(update(Record).where(Record.serial == repeat).values(repeat_of_id=ids[first]))
    with inst.unit_of_work() as s:
        text = exports.to_csv(s, _user(s, chief.id), LedgerFilters(date_from=dt.date(2025, 2, 3),
                                                                  date_to=dt.date(2025, 2, 4))).decode("utf-8-sig")
    rows = {r["serial"]: r for r in csv.DictReader(io.StringIO(text))}
    assert [rows[r]["repeat_of"] for r in repeats] == firsts and all(rows[f]["repeat_of"] == "" for f in firsts)
