"""The ledger (臺帳) as XLSX (openpyxl) and CSV, for reporting up.

Rows are the records the user may see in the ledger (``VIEW_LEDGER``), with the columns a
petition office keeps. The petitioner's identity is added only for users who hold
``VIEW_CONTENT`` somewhere: unmasked on the records where they hold ``VIEW_IDENTITY``,
masked on those where they only read the content, and left empty elsewhere; roles without
``VIEW_CONTENT`` (inspector, archivist) get no identity columns at all, so their files hold
metadata only. Every export writes one audit entry (format, row count, how many rows carry
unmasked or masked identity; never a value).

Both files are built in memory (openpyxl's normal workbook, not its write-only mode, which
spools to temporary files) and handed to the caller as bytes.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import audit, policy
from records.cases import deadlines, operations
from records.db import in_steps
from records.errors import CryptoError, Msg, ValidationError
from records.reference.models import Office
from records.models import Record
from records.accounts.models import User
from records.cases.operations import LedgerFilters
from records.reference import categories as vocabulary

#: Columns every export has (codes; the labels are the second item).
BASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("serial", "編號"), ("received_on", "收件日期"), ("channel", "渠道"), ("region", "地區"),
    ("region_name", "地區名稱"), ("category", "類別"), ("category_name", "類別名稱"), ("office", "承辦單位"),
    ("transferred_unit", "轉辦單位"), ("status", "狀態"),
    ("people_count", "人數"), ("accepted_on", "受理日期"), ("due_on", "辦結期限"),
    ("review_due_on", "複查期限"), ("replied_on", "答覆日期"), ("concluded_on", "辦結日期"),
    ("first_responder", "首問責任人"), ("stored_reason", "存信原因"), ("repeat_of", "重複件"),
)
IDENTITY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("petitioner_name", "信訪人"), ("petitioner_id_number", "身份證號"), ("petitioner_phone", "電話"),
    ("identity", "身份資料"),
)
FORMATS = ("xlsx", "csv")
#: A workbook has at most this many rows (one year of a busy office is far below it).
MAX_ROWS = 100_000


@dataclass
class Export:
    columns: list[tuple[str, str]]
    rows: list[dict]
    unmasked: int
    masked: int


def _date(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def collect(session: Session, user: User, filters: LedgerFilters | None = None, *, office: str | None = None) -> Export:
    """The rows ``user`` may export, oldest first; decrypts only for identity columns it may show."""
    policy.require(user, policy.EXPORT_LEDGER)
    filters = filters or LedgerFilters()
    tz = deadlines.calendar_for(session).tz
    cond = [policy.scope_clause(user, policy.VIEW_LEDGER)]
    for name, column in (("channel", Record.channel), ("status", Record.status), ("region", Record.region_code),
                         ("category", Record.category)):
        if getattr(filters, name):
            cond.append(column == getattr(filters, name))
    if filters.date_from:
        cond.append(Record.received_at >= dt.datetime.combine(filters.date_from, dt.time(), tz))
    if filters.date_to:
        cond.append(Record.received_at < dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time(), tz))
    if office:
        office_id = session.execute(select(Office.id).where(Office.code == office)).scalar_one_or_none()
        if office_id is None:
            raise ValidationError("Invalid filter.", fields={"office": "No office with that code."})
        cond.append(Record.office_id == office_id)
    records = session.execute(select(Record).where(*cond).order_by(Record.received_at, Record.id)
                              .limit(MAX_ROWS + 1)).scalars().all()
    if len(records) > MAX_ROWS:
        raise ValidationError(Msg("More than %(n)s rows: choose a shorter period.", n=MAX_ROWS),
                              fields={"date_from": "Too wide."})
    with_identity = policy.holds(user, policy.VIEW_CONTENT)
    columns = list(BASE_COLUMNS) + (list(IDENTITY_COLUMNS) if with_identity else [])
    # an export of up to MAX_ROWS letters may name more earlier letters than one statement takes
    earlier = sorted({r.repeat_of_id for r in records if r.repeat_of_id})
    repeat_serials = {rid: serial for step in in_steps(earlier) for rid, serial in session.execute(
        select(Record.id, Record.serial).where(Record.id.in_(step)))}
    category_names = vocabulary.labels(session)
    rows, unmasked, masked = [], 0, 0
    for r in records:
        row = {
            "serial": r.serial, "received_on": r.received_at.astimezone(tz).date().isoformat(),
            "channel": r.channel, "region": r.region_code, "region_name": r.region.name,
            "category": r.category, "category_name": category_names.get(r.category, r.category),
            "office": r.office.code,
            "transferred_unit": r.transferred_unit or "", "status": r.status, "people_count": r.people_count,
            "accepted_on": _date(r.accepted_on), "due_on": _date(r.due_on), "review_due_on": _date(r.review_due_on),
            "replied_on": _date(r.replied_on),
            "concluded_on": r.concluded_at.astimezone(tz).date().isoformat() if r.concluded_at else "",
            "first_responder": r.first_responder.display_name if r.first_responder else "",
            "stored_reason": r.stored_reason or "", "repeat_of": repeat_serials.get(r.repeat_of_id, ""),
        }
        if with_identity:
            row.update(petitioner_name="", petitioner_id_number="", petitioner_phone="", identity="")
            if policy.can(user, policy.VIEW_CONTENT, r):
                unmask = policy.can(user, policy.VIEW_IDENTITY, r)
                try:
                    pet = operations.document(session, r).get("petitioner") or {}
                except CryptoError:
                    row["identity"] = "unreadable"
                else:
                    shown = policy.petitioner_view(pet, unmask)
                    row.update(petitioner_name=shown.get("name", ""), petitioner_id_number=shown.get("id_number", ""),
                               petitioner_phone=shown.get("phone", ""), identity="unmasked" if unmask else "masked")
                    unmasked += unmask
                    masked += not unmask
            else:
                row["identity"] = "withheld"
        rows.append(row)
    return Export(columns=columns, rows=rows, unmasked=unmasked, masked=masked)


def _cell(value) -> str | int:
    """A cell; text a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, int):
        return value
    value = str(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _audit(session: Session, user: User, fmt: str, export: Export, filters: LedgerFilters | None,
           office: str | None, address: str) -> None:
    detail = {"format": fmt, "rows": len(export.rows), "identity_unmasked": export.unmasked,
              "identity_masked": export.masked,
              "identity_columns": len(export.columns) > len(BASE_COLUMNS)}
    f = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in vars(filters or LedgerFilters()).items() if v}
    if office:
        f["office"] = office
    detail["filters"] = f
    audit.record(session, "ledger.export", actor=user, address=address, detail=detail)


def to_csv(session: Session, user: User, filters: LedgerFilters | None = None, *, office: str | None = None,
           address: str = "") -> bytes:
    """The ledger as CSV (UTF-8 with a byte-order mark, so spreadsheets read the Chinese); audited."""
    export = collect(session, user, filters, office=office)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([code for code, _ in export.columns])
    for row in export.rows:
        writer.writerow([_cell(row[code]) for code, _ in export.columns])
    _audit(session, user, "csv", export, filters, office, address)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(session: Session, user: User, filters: LedgerFilters | None = None, *, office: str | None = None,
            address: str = "") -> bytes:
    """The ledger as an XLSX workbook (sheet 臺帳, a header row of labels then codes); audited."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    export = collect(session, user, filters, office=office)
    wb = Workbook()
    ws = wb.active
    ws.title = "臺帳"
    ws.append([label for _, label in export.columns])
    ws.append([code for code, _ in export.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in export.rows:
        ws.append([_cell(row[code]) for code, _ in export.columns])
    ws.freeze_panes = "B3"
    for i, (code, _) in enumerate(export.columns, start=1):
        ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = 20 if code == "petitioner_id_number" else 14
    wb.properties.creator = "Xinfang Records"
    buf = io.BytesIO()
    wb.save(buf)
    _audit(session, user, "xlsx", export, filters, office, address)
    return buf.getvalue()
