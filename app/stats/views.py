"""Statistics dashboard (Art 5, 14) and reports (monthly PDF, Art 18 inspection). Each
handler: load → check access (``records.policy``, through the services) → act. Figures are
computed from clear metadata only. Ledger exports are app.exports; the roster app.roster."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from records import policy
from records.cases import deadlines
from records.errors import ValidationError
from records.reference.models import Office, Region
from records.reporting import reports, stats

from ..auth.session import login_required, me
from ..exports.views import download
from ..labels import CATEGORY_LABELS, CHANNEL_LABELS, in_script, label, ref_name
from ..web import client_address, db
from . import charts

bp = Blueprint("stats", __name__)

TERM_LABELS = {
    "wage_arrears": _l("Wage arrears"), "demolition": _l("Demolition and compensation"),
    "land": _l("Land requisition"), "housing": _l("Housing and property management"), "pension": _l("Pensions"),
    "medical": _l("Medical insurance"), "social_aid": _l("Social assistance"), "pollution": _l("Pollution and noise"),
    "enforcement": _l("Enforcement actions"), "conduct": _l("Conduct of officials"), "delay": _l("Delays and buck-passing"),
    "employment": _l("Employment and work injury"), "education": _l("School admission"),
    "traffic": _l("Traffic and roads"), "illegal_building": _l("Illegal construction"),
}
BREAKDOWNS = ("channel", "category", "region", "office", "status", "month")


@bp.app_context_processor
def _nav() -> dict:
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_stats_nav": policy.can(user, policy.VIEW_STATS)}


def _today() -> dt.date:
    return deadlines.calendar_for(db()).today()


# -- the dashboard ------------------------------------------------------------------------------
@bp.get("/stats")
@login_required
def dashboard():
    user = me()
    policy.require(user, policy.VIEW_STATS)
    today = _today()
    errors: dict[str, str] = {}
    try:
        filters = stats.StatsFilters.parse(request.args, today=today)
        result = stats.compute(db(), user, filters, today=today)
    except ValidationError as exc:
        flash(_("Invalid filter."), "error")
        errors = exc.fields
        filters = stats.StatsFilters.parse({}, today=today)
        result = stats.compute(db(), user, filters, today=today)
    offices = db().execute(select(Office).where(Office.is_external.is_(False)).order_by(Office.code)).scalars().all()
    # offices and regions in the page's script (a region's stored Simplified name first)
    names = {code: in_script(name) for code, name in result.office_names.items()}
    regions = {r.code: ref_name(r) for r in db().execute(
        select(Region).where(Region.code.in_(list(result.region_names)))).scalars()} if result.region_names else {}
    total_rate = result.on_time_total
    figures = {
        "trend": charts.trend(_("Matters received per month"), result.by_month),
        "channel": charts.bars(_("By channel"), [(label(CHANNEL_LABELS, c), n) for c, n in result.by_channel.items()]),
        "category": charts.bars(_("By category"), [(label(CATEGORY_LABELS, c), n) for c, n in result.by_category.items()]),
        "office": charts.bars(_("By office"), [(names.get(c, c), n) for c, n in result.by_office.items()]),
        "region": charts.bars(_("By region"), [(regions.get(c, c), n) for c, n in list(result.by_region.items())[:12]]),
        "on_time": charts.bars(_("Replies on time"), [(in_script(r.office_name), r.rate) for r in result.on_time
                                                         if r.rate is not None],
                               percent=True),
    }
    month_start = today.replace(day=1)
    quick = {
        "month": url_for("stats.dashboard", **{"from": month_start.isoformat(), "to": today.isoformat()}),
        "year": url_for("stats.dashboard", **{"from": today.replace(month=1, day=1).isoformat(), "to": today.isoformat()}),
    }
    last_month = (month_start - dt.timedelta(days=1)).strftime("%Y-%m")
    return render_template("stats/dashboard.html", result=result, filters=filters, offices=offices, errors=errors,
                           figures=figures, total_rate=total_rate, quick=quick, last_month=last_month,
                           TERM_LABELS=TERM_LABELS, names=names, regions=regions,
                           can_inspect=policy.can(user, policy.VIEW_INSPECTION))


@bp.get("/stats/report.pdf")
@login_required
def monthly_report():
    user = me()
    policy.require(user, policy.VIEW_STATS)
    month = request.args.get("month") or (_today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    data = reports.monthly_pdf(db(), user, month, address=client_address())
    return download(data, f"monthly-report-{month}.pdf", "application/pdf")


@bp.get("/stats/inspection")
@login_required
def inspection():
    user = me()
    policy.require(user, policy.VIEW_INSPECTION)
    today = _today()
    errors: dict[str, str] = {}
    try:
        filters = stats.StatsFilters.parse(request.args, today=today)
    except ValidationError as exc:
        flash(_("Invalid filter."), "error")
        errors = exc.fields
        filters = stats.StatsFilters.parse({}, today=today)
    leader = request.args.get("leader") or None
    try:
        rows = reports.inspection(db(), user, filters.date_from, filters.date_to, leader=leader, today=today,
                                  address=client_address())
    except ValidationError as exc:
        flash(_("Invalid filter."), "error")
        errors.update(exc.fields)
        leader = None
        rows = reports.inspection(db(), user, filters.date_from, filters.date_to, today=today, address=client_address())
    leaders = policy.holders(db(), policy.RECEIVE_VISITORS, include_inactive=True)
    return render_template("stats/inspection.html", rows=rows, filters=filters, leader=leader, leaders=leaders,
                           errors=errors)
