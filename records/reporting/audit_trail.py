"""The audit trail for its readers (inspector, chief): filtered, paged, checked, exported.

The web page, the API and the CLI ask this module; the rule of who may read it is the
policy's (``VIEW_AUDIT``). Sealed free text is opened through ``audit.readable_detail``,
which audits each opening; an export is audited with its filters and row count."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records import audit, policy
from records.accounts.models import User
from records.models import AuditEntry

PER_PAGE = 50
#: An export stops here; narrow the filters for more.
EXPORT_LIMIT = 50_000


@dataclass(frozen=True)
class TrailFilters:
    actor: str = ""
    action: str = ""
    target: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"actor": self.actor, "action": self.action, "target": self.target,
               "date_from": self.date_from.isoformat() if self.date_from else "",
               "date_to": self.date_to.isoformat() if self.date_to else ""}
        return {k: v for k, v in out.items() if v}


def _bound(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Local midnight of ``day`` as an aware UTC instant."""
    return dt.datetime.combine(day, dt.time(), tz).astimezone(dt.UTC)


def _where(q, filters: TrailFilters, tz: ZoneInfo):
    if filters.actor:
        q = q.where(AuditEntry.actor == filters.actor)
    if filters.action:
        q = q.where(AuditEntry.action.startswith(filters.action, autoescape=True))
    if filters.target:
        q = q.where(AuditEntry.target == filters.target)
    if filters.date_from:
        q = q.where(AuditEntry.at >= _bound(filters.date_from, tz))
    if filters.date_to:
        q = q.where(AuditEntry.at < _bound(filters.date_to + dt.timedelta(days=1), tz))
    return q


@dataclass
class TrailPage:
    rows: list[tuple[AuditEntry, dict]]
    total: int
    page: int
    pages: int


def page_of(session: Session, reader: User, filters: TrailFilters, tz: ZoneInfo, page: int = 1) -> TrailPage:
    """One page of entries, newest first, each with its readable detail."""
    policy.require(reader, policy.VIEW_AUDIT)
    total = session.execute(_where(select(func.count(AuditEntry.id)), filters, tz)).scalar_one()
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    q = _where(select(AuditEntry), filters, tz).order_by(AuditEntry.id.desc())
    entries = session.execute(q.offset((page - 1) * PER_PAGE).limit(PER_PAGE)).scalars().all()
    return TrailPage([(e, audit.readable_detail(session, e, reader)) for e in entries], total, page, pages)


def actions(session: Session) -> list[str]:
    """The actions present in the trail, for the filter's choices."""
    return list(session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).scalars())


def check_chain(session: Session, reader: User, *, address: str = "") -> audit.VerifyResult:
    """Walk the whole chain (as ``xinfang audit verify`` does); the check is itself audited."""
    policy.require(reader, policy.VIEW_AUDIT)
    result = audit.verify(session)
    audit.record(session, "audit.verify", actor=reader, address=address,
                 detail={"ok": result.ok, "checked": result.checked, "broken_id": result.broken_id})
    return result


def to_csv(session: Session, reader: User, filters: TrailFilters, tz: ZoneInfo, *, address: str = "") -> str:
    """The filtered entries (oldest first) as CSV, times in the office's zone; audited."""
    policy.require(reader, policy.VIEW_AUDIT)
    q = _where(select(AuditEntry), filters, tz).order_by(AuditEntry.id).limit(EXPORT_LIMIT)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["id", "at", "actor", "action", "target", "detail", "address"])
    count = 0
    for e in session.execute(q).scalars():
        detail = audit.readable_detail(session, e, reader)
        w.writerow([e.id, e.at.astimezone(tz).isoformat(timespec="seconds"), e.actor, e.action, e.target,
                    json.dumps(detail, ensure_ascii=False, sort_keys=True), e.address])
        count += 1
    audit.record(session, "audit.export", actor=reader, address=address,
                 detail={"filters": filters.as_dict(), "rows": count})
    return out.getvalue()
