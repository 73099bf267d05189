"""The audit trail, newest first, filtered by person, action, record and date; paged; the
chain check; CSV export. Sealed free text (look-up reasons) opened for its readers, each
opening audited. The rules live in records/reporting/audit_trail.py and the policy."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from records import policy
from records.reporting import audit_trail

from ..auth.session import login_required, me
from ..web import client_address, db, instance, writes_on_get

bp = Blueprint("audit", __name__)


def _date(name: str, errors: list[str]) -> dt.date | None:
    raw = (request.args.get(name) or "").strip()[:10]
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors.append(_("Enter dates as YYYY-MM-DD."))
        return None


def _filters() -> tuple[audit_trail.TrailFilters, list[str]]:
    errors: list[str] = []
    f = audit_trail.TrailFilters(
        actor=(request.args.get("actor") or "").strip()[:64],
        action=(request.args.get("action") or "").strip()[:64],
        target=(request.args.get("target") or "").strip()[:100],
        date_from=_date("date_from", errors), date_to=_date("date_to", errors))
    if f.date_from and f.date_to and f.date_to < f.date_from:
        errors.append(_("The end date is before the start date."))
    return f, errors


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) <= 6 else 1


def _render(check=None):
    user = me()
    policy.require(user, policy.VIEW_AUDIT)
    filters, errors = _filters()
    tz = instance().settings.tz
    page = audit_trail.page_of(db(), user, filters, tz, _page_number())
    return render_template("audit/trail.html", page=page, filters=filters, args=filters.as_dict(),
                           errors=errors, tz=tz, actions=audit_trail.actions(db()), check=check)


@bp.get("/audit")
@login_required
@writes_on_get  # opening a sealed reason writes its own entry
def trail():
    return _render()


@bp.post("/audit/verify")
@login_required
def verify():
    policy.require(me(), policy.VIEW_AUDIT)
    return _render(check=audit_trail.check_chain(db(), me(), address=client_address()))


@bp.get("/audit.csv")
@login_required
@writes_on_get  # the export is audited
def export():
    user = me()
    policy.require(user, policy.VIEW_AUDIT)
    filters, _errors = _filters()
    tz = instance().settings.tz
    text = audit_trail.to_csv(db(), user, filters, tz, address=client_address())
    today = dt.datetime.now(tz).date().isoformat()
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename=audit-{today}.csv"
    response.headers["Cache-Control"] = "no-store"
    return response
