"""Statistics dashboard (Art 5, 14), reports (monthly PDF, Art 18 inspection), ledger exports
and the duty roster (Art 20). Each handler: load → check access (``records.policy``,
through the services) → act. Figures are computed from clear metadata only."""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from records.cases import deadlines
from records.reporting import exports, reports, roster, stats
from records import policy
from records.errors import ValidationError
from records.reporting.models import DutyDay
from records.reference.models import Office
from records.accounts.models import User
from records.cases.operations import LedgerFilters

from ..auth.session import login_required, me
from ..forms import options
from ..labels import CATEGORY_LABELS, CHANNEL_LABELS, label
from ..web import client_address, db
from . import charts
from .forms import RosterAssignForm, RosterBuildForm

bp = Blueprint("stats", __name__)

TERM_LABELS = {
    "wage_arrears": _l("Wage arrears"), "demolition": _l("Demolition and compensation"),
    "land": _l("Land requisition"), "housing": _l("Housing and property management"), "pension": _l("Pensions"),
    "medical": _l("Medical insurance"), "social_aid": _l("Social assistance"), "pollution": _l("Pollution and noise"),
    "enforcement": _l("Enforcement actions"), "conduct": _l("Conduct of officials"), "delay": _l("Delays and buck-passing"),
    "employment": _l("Employment and work injury"), "education": _l("School admission"),
    "traffic": _l("Traffic and roads"), "illegal_building": _l("Illegal construction"),
}
CONFLICT_LABELS = {
    "not_a_working_day": _l("on a holiday or rest day"), "no_reception": _l("no receiving leader"),
    "no_duty": _l("no staff on duty"), "inactive": _l("inactive account"),
    "not_a_leader": _l("reception by someone who is not a leader"),
}
#: The calendar's holiday names (``chinesecalendar``), translated.
HOLIDAY_LABELS = {
    "New Year's Day": _l("New Year's Day"), "Spring Festival": _l("Spring Festival"),
    "Tomb-sweeping Day": _l("Tomb-sweeping Day"), "Labour Day": _l("Labour Day"),
    "Dragon Boat Festival": _l("Dragon Boat Festival"), "National Day": _l("National Day"),
    "Mid-autumn Festival": _l("Mid-autumn Festival"), "Anti-Fascist 70th Day": _l("Anti-Fascist 70th Day"),
}
BREAKDOWNS = ("channel", "category", "region", "office", "status", "month")


@bp.app_context_processor
def _nav() -> dict:
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_stats_nav": policy.can(user, policy.VIEW_STATS),
            "can_roster_nav": policy.can(user, policy.VIEW_ROSTER),
            "can_export_ledger": policy.can(user, policy.EXPORT_LEDGER)}


def _today() -> dt.date:
    return deadlines.calendar_for(db()).today()


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


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
    names = result.office_names
    regions = result.region_names
    total_rate = result.on_time_total
    figures = {
        "trend": charts.trend(_("Matters received per month"), result.by_month),
        "channel": charts.bars(_("By channel"), [(label(CHANNEL_LABELS, c), n) for c, n in result.by_channel.items()]),
        "category": charts.bars(_("By category"), [(label(CATEGORY_LABELS, c), n) for c, n in result.by_category.items()]),
        "office": charts.bars(_("By office"), [(names.get(c, c), n) for c, n in result.by_office.items()]),
        "region": charts.bars(_("By region"), [(regions.get(c, c), n) for c, n in list(result.by_region.items())[:12]]),
        "on_time": charts.bars(_("Replies on time"), [(r.office_name, r.rate) for r in result.on_time if r.rate is not None],
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
    return _download(data, f"monthly-report-{month}.pdf", "application/pdf")


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
    leaders = [u for u in db().execute(select(User).order_by(User.display_name)).scalars() if u.has_role("leader", "chief")]
    return render_template("stats/inspection.html", rows=rows, filters=filters, leader=leader, leaders=leaders,
                           errors=errors)


# -- ledger exports -----------------------------------------------------------------------------
@bp.get("/exports/ledger.<fmt>")
@login_required
def export_ledger(fmt: str):
    user = me()
    if fmt not in exports.FORMATS:
        abort(404)
    policy.require(user, policy.EXPORT_LEDGER)
    filters = LedgerFilters.parse(request.args)
    office = request.args.get("office") or None
    stamp = _today().isoformat()
    if fmt == "xlsx":
        data = exports.to_xlsx(db(), user, filters, office=office, address=client_address())
        return _download(data, f"ledger-{stamp}.xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    data = exports.to_csv(db(), user, filters, office=office, address=client_address())
    return _download(data, f"ledger-{stamp}.csv", "text/csv; charset=utf-8")


# -- the duty roster ----------------------------------------------------------------------------
def _month_arg() -> str:
    value = request.args.get("month") or request.form.get("month") or ""
    if not value:
        today = _today()
        return f"{today.year:04d}-{today.month:02d}"
    return value


def _people_options(roles: tuple[str, ...]) -> list:
    """Active accounts holding one of ``roles``, as the options of a roster field."""
    users = db().execute(select(User).where(User.active.is_(True)).order_by(User.display_name)).scalars().all()
    return options((u.username, u.display_name) for u in users if u.has_role(*roles))


def _roster_page(month: str, build: RosterBuildForm | None = None, assign: RosterAssignForm | None = None,
                 status: int = 200):
    user = me()
    try:
        days = roster.month(db(), user, month)
    except ValidationError as exc:
        flash(exc.fields.get("month") and _("No official calendar for this month: %(m)s", m=month)
              or _("Invalid month."), "error")
        today = _today()
        month = f"{today.year:04d}-{today.month:02d}"
        days = roster.month(db(), user, month)
    can_manage = policy.can(user, policy.MANAGE_ROSTER)
    if build is None:
        build = RosterBuildForm(formdata=None, month=month)
    staff = _people_options(roster.DUTY_ROLES)
    build.leaders.choices = _people_options(roster.RECEIVING_ROLES)
    build.staff.choices = staff
    if assign is None:
        assign = RosterAssignForm(formdata=None)
    assign.username.choices = staff
    first = days[0].on
    prev_month = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    next_month = (first + dt.timedelta(days=32)).strftime("%Y-%m")
    today = _today()
    return render_template("stats/roster.html", days=days, month=month, can_manage=can_manage, build=build,
                           assign=assign, prev_month=prev_month, next_month=next_month,
                           CONFLICT_LABELS=CONFLICT_LABELS, HOLIDAY_LABELS=HOLIDAY_LABELS, today=today,
                           today_duty=roster.on_duty(db(), today)), status


@bp.get("/roster")
@login_required
def roster_page():
    policy.require(me(), policy.VIEW_ROSTER)
    return _roster_page(_month_arg())


@bp.post("/roster/build")
@login_required
def roster_build():
    user = me()
    policy.require(user, policy.MANAGE_ROSTER)
    form = RosterBuildForm()
    form.leaders.choices = _people_options(roster.RECEIVING_ROLES)
    form.staff.choices = _people_options(roster.DUTY_ROLES)
    month = form.month.data or _month_arg()
    if not form.validate_on_submit():
        flash(_("Please correct the marked fields."), "error")
        return _roster_page(_month_arg() if not form.month.errors else "", build=form, status=422)
    try:
        roster.build(db(), month, leaders=form.leaders.data or [], staff=form.staff.data or [], by=user,
                     weekdays=tuple(int(w) for w in form.weekdays.data or ()), address=client_address())
    except ValidationError as exc:
        db().rollback()
        for name, message in exc.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [_(message)]
        flash(_("The roster was not built: %(why)s", why=_(exc.message)), "error")
        return _roster_page(month, build=form, status=422)
    flash(_("The roster of %(month)s was built.", month=month), "success")
    return redirect(url_for("stats.roster_page", month=month), code=303)


@bp.post("/roster/assign")
@login_required
def roster_assign():
    user = me()
    policy.require(user, policy.MANAGE_ROSTER)
    form = RosterAssignForm()
    form.username.choices = _people_options(roster.DUTY_ROLES)
    month = _month_arg()
    if not form.validate_on_submit():
        flash(_("Please correct the marked fields."), "error")
        return _roster_page(month, assign=form, status=422)
    on = dt.date.fromisoformat(form.on.data) if _valid_date(form.on.data) else None
    if on is None:
        form.on.errors = [_("Use a date like 2026-11-25.")]
        return _roster_page(month, assign=form, status=422)
    try:
        roster.assign(db(), on, form.kind.data, form.username.data, by=user, address=client_address())
    except ValidationError as exc:
        db().rollback()
        flash(_("The roster was not changed: %(why)s", why=_(exc.message)), "error")
        return _roster_page(month, assign=form, status=422)
    flash(_("Added to the roster."), "success")
    return redirect(url_for("stats.roster_page", month=on.strftime("%Y-%m")), code=303)


def _valid_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


@bp.post("/roster/<int:entry_id>/remove")
@login_required
def roster_remove(entry_id: int):
    user = me()
    policy.require(user, policy.MANAGE_ROSTER)
    entry = db().get(DutyDay, entry_id)
    if entry is None:  # removed already (a second click, another manager)
        flash(_("That entry is no longer on the roster."), "info")
        return redirect(url_for("stats.roster_page", month=_month_arg()), code=303)
    month = entry.on.strftime("%Y-%m")
    roster.remove(db(), entry_id, by=user, address=client_address())
    flash(_("Removed from the roster."), "success")
    return redirect(url_for("stats.roster_page", month=month), code=303)

