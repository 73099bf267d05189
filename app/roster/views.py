"""The duty roster (Art 20): the month's reception days and staff on duty, built and changed
by the managers (records.reporting.roster)."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from records import policy
from records.cases import deadlines
from records.errors import ValidationError
from records.reporting import roster as roster_service
from records.reporting.models import DutyDay

from ..auth.session import login_required, me
from ..forms import options
from ..web import client_address, db
from .forms import RosterAssignForm, RosterBuildForm
from ..messages import tr

bp = Blueprint("roster", __name__)

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


@bp.app_context_processor
def _nav() -> dict:
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_roster_nav": policy.can(user, policy.VIEW_ROSTER)}


def _today() -> dt.date:
    return deadlines.calendar_for(db()).today()


def _month_arg() -> str:
    value = request.args.get("month") or request.form.get("month") or ""
    if not value:
        today = _today()
        return f"{today.year:04d}-{today.month:02d}"
    return value


def _people_options(permission: str) -> list:
    """Active accounts the policy lets hold ``permission``, as the options of a roster field."""
    return options((u.username, u.display_name) for u in policy.holders(db(), permission))


def _roster_page(month: str, build: RosterBuildForm | None = None, assign: RosterAssignForm | None = None,
                 status: int = 200):
    user = me()
    try:
        days = roster_service.month(db(), user, month)
    except ValidationError as exc:
        flash(exc.fields.get("month") and _("No official calendar for this month: %(m)s", m=month)
              or _("Invalid month."), "error")
        today = _today()
        month = f"{today.year:04d}-{today.month:02d}"
        days = roster_service.month(db(), user, month)
    can_manage = policy.can(user, policy.MANAGE_ROSTER)
    if build is None:
        build = RosterBuildForm(formdata=None, month=month)
    staff = _people_options(policy.BE_ON_DUTY)
    build.leaders.choices = _people_options(policy.RECEIVE_VISITORS)
    build.staff.choices = staff
    if assign is None:
        assign = RosterAssignForm(formdata=None)
    assign.username.choices = staff
    first = days[0].on
    prev_month = (first - dt.timedelta(days=1)).strftime("%Y-%m")
    next_month = (first + dt.timedelta(days=32)).strftime("%Y-%m")
    today = _today()
    return render_template("roster/month.html", days=days, month=month, can_manage=can_manage, build=build,
                           assign=assign, prev_month=prev_month, next_month=next_month,
                           CONFLICT_LABELS=CONFLICT_LABELS, HOLIDAY_LABELS=HOLIDAY_LABELS, today=today,
                           today_duty=roster_service.on_duty(db(), today)), status


@bp.get("/roster")
@login_required
def page():
    policy.require(me(), policy.VIEW_ROSTER)
    return _roster_page(_month_arg())


@bp.post("/roster/build")
@login_required
def build():
    user = me()
    policy.require(user, policy.MANAGE_ROSTER)
    form = RosterBuildForm()
    form.leaders.choices = _people_options(policy.RECEIVE_VISITORS)
    form.staff.choices = _people_options(policy.BE_ON_DUTY)
    month = form.month.data or _month_arg()
    if not form.validate_on_submit():
        flash(_("Please correct the marked fields."), "error")
        return _roster_page(_month_arg() if not form.month.errors else "", build=form, status=422)
    if form.leaders.data and form.staff.data and request.form.get("replace") != "yes" \
            and any(d.entries for d in roster_service.month(db(), user, month)):
        # replacing a month's roster removes every entry it holds: only when asked for in so many words
        flash(_("The roster of %(month)s already has entries: tick “Replace the month's roster” to replace "
                "them all.", month=month), "error")
        return _roster_page(month, build=form, status=409)
    try:
        roster_service.build(db(), month, leaders=form.leaders.data or [], staff=form.staff.data or [], by=user,
                             weekdays=tuple(int(w) for w in form.weekdays.data or ()), address=client_address())
    except ValidationError as exc:
        db().rollback()
        for name, message in exc.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [tr(message)]
        flash(_("The roster was not built: %(why)s", why=tr(exc.message)), "error")
        return _roster_page(month, build=form, status=422)
    flash(_("The roster of %(month)s was built.", month=month), "success")
    return redirect(url_for("roster.page", month=month), code=303)


@bp.post("/roster/assign")
@login_required
def assign():
    user = me()
    policy.require(user, policy.MANAGE_ROSTER)
    form = RosterAssignForm()
    form.username.choices = _people_options(policy.BE_ON_DUTY)
    month = _month_arg()
    if not form.validate_on_submit():
        flash(_("Please correct the marked fields."), "error")
        return _roster_page(month, assign=form, status=422)
    on = dt.date.fromisoformat(form.on.data) if _valid_date(form.on.data) else None
    if on is None:
        form.on.errors = [_("Use a date like 2026-11-25.")]
        return _roster_page(month, assign=form, status=422)
    try:
        roster_service.assign(db(), on, form.kind.data, form.username.data, by=user, address=client_address())
    except ValidationError as exc:
        db().rollback()
        flash(_("The roster was not changed: %(why)s", why=tr(exc.message)), "error")
        return _roster_page(month, assign=form, status=422)
    flash(_("Added to the roster."), "success")
    return redirect(url_for("roster.page", month=on.strftime("%Y-%m")), code=303)


def _valid_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


@bp.post("/roster/<int:entry_id>/remove")
@login_required
def remove(entry_id: int):
    user = me()
    policy.require(user, policy.MANAGE_ROSTER)
    entry = db().get(DutyDay, entry_id)
    if entry is None:  # removed already (a second click, another manager)
        flash(_("That entry is no longer on the roster."), "info")
        return redirect(url_for("roster.page", month=_month_arg()), code=303)
    month = entry.on.strftime("%Y-%m")
    roster_service.remove(db(), entry_id, by=user, address=client_address())
    flash(_("Removed from the roster."), "success")
    return redirect(url_for("roster.page", month=month), code=303)

