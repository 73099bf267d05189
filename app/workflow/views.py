"""The life of a matter on the web: the actions of the record page (one form per transition
the user may apply now) and the supervision board (督辦) with its CSV export.

Each handler: load → check access (in ``records.policy``, through the services) → act."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from records.cases import board as board_service
from records.cases import drafts, operations, workflow
from records import policy
from records.errors import Conflict, ValidationError
from records.reference import units as ref_units
from records.reference.models import Office
from records.models import Record
from records.accounts.models import User

from ..auth.session import login_required, me
from ..labels import TRANSITION_LABELS, label
from ..messages import describe
from ..web import client_address, db, instance
from .forms import TransitionForm

bp = Blueprint("workflow", __name__)


@bp.app_context_processor
def _nav() -> dict:
    """Whether the navigation shows the supervision board."""
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_view_board_nav": policy.can(user, policy.VIEW_BOARD)}


def _tz() -> ZoneInfo:
    return instance().settings.tz


def _office_choices(record: Record | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The active internal offices, and the active external units: those covering the record's
    region first (records.reference.units)."""
    offices = db().execute(select(Office).where(Office.active.is_(True)).order_by(Office.code)).scalars().all()
    internal = [(o.code, o.name) for o in offices if not o.is_external and not o.is_intake]
    covering = [o.code for o in ref_units.for_region(db(), record.region_code)] if record is not None else []
    external = sorted(((o.code, o.name) for o in offices if o.is_external),
                      key=lambda pair: (pair[0] not in covering, covering.index(pair[0]) if pair[0] in covering
                                        else 0, pair[0]))
    return internal, external


def panel_context(record: Record, user: User) -> dict:
    """What ``workflow/_panel.html`` needs: the matter's summary and a form per available step.
    Call it after ``operations.view`` (whose audit entry covers the sealed reasons shown)."""
    summary = workflow.summary(db(), record, user)
    internal, external = _office_choices(record)
    forms = []
    for name in summary.transitions:
        spec = workflow.TRANSITIONS[name]
        form = TransitionForm(prefix=name, formdata=None).prepare(spec, internal, external)
        if name == "reply" and record.reply_draft_sealed is not None:
            form.text.data = drafts.draft(db(), record, user).text
        forms.append({"name": name, "spec": spec, "form": form, "fields": form.visible(spec)})
    unit = db().execute(select(Office).where(Office.code == record.transferred_unit)).scalar_one_or_none() \
        if record.transferred_unit else None
    return {"summary": summary, "forms": forms, "unit_name": unit.name if unit else record.transferred_unit,
            "irreversible": IRREVERSIBLE}


#: Steps that cannot be taken back: the form carries a ticked confirmation or nothing happens.
IRREVERSIBLE = ("decline_outside_authority", "decline_legal_channel", "store", "reply")


@bp.post("/records/<serial>/transitions/<name>")
@login_required
def apply(serial: str, name: str):
    user = me()
    record = operations.get_record(db(), serial, user, address=client_address())
    spec = workflow.TRANSITIONS.get(name)
    if spec is None:
        abort(404)
    policy.require(user, spec.permission, record)
    internal, external = _office_choices(record)
    form = TransitionForm(prefix=name).prepare(spec, internal, external)
    target = url_for("ledger.show", serial=record.serial) + "#workflow"
    if name in IRREVERSIBLE and not request.form.get(f"{name}-confirm"):
        flash(_("“%(step)s” was not applied: tick the box to confirm it.", step=label(TRANSITION_LABELS, name)),
              "error")
        return redirect(target, code=303)
    try:
        applied = workflow.transition(db(), record, name, by=user, address=client_address(), **form.params(spec))
    except (ValidationError, Conflict) as exc:
        db().rollback()
        flash(_("“%(step)s” was not applied: %(why)s", step=label(TRANSITION_LABELS, name),
                why=describe(exc, form.labels(spec), brief=True)), "error")
        return redirect(target, code=303)
    message = _("Done: %(step)s.", step=label(TRANSITION_LABELS, name))
    if applied.document is not None:
        message += " " + _("The letter was issued as a PDF attachment.")
    flash(message, "success")
    return redirect(target, code=303)


def _reply_form(record: Record) -> TransitionForm:
    internal, external = _office_choices()
    return TransitionForm(prefix="reply").prepare(workflow.TRANSITIONS["reply"], internal, external)


@bp.post("/records/<serial>/reply/preview")
@login_required
def reply_preview(serial: str):
    """The written reply exactly as it will be printed, from the reply form as filled in."""
    user = me()
    record = operations.get_record(db(), serial, user, address=client_address())
    policy.require(user, policy.HANDLE, record)
    form = _reply_form(record)
    given = form.params(workflow.TRANSITIONS["reply"])
    try:
        letter = drafts.preview(db(), record, user, text=given.get("text") or "", finding=given.get("finding"),
                                on=given.get("on"))
    except (ValidationError, Conflict) as exc:
        flash(_("The preview could not be made: %(why)s",
                why=describe(exc, form.labels(workflow.TRANSITIONS["reply"]), brief=True)), "error")
        return redirect(url_for("ledger.show", serial=record.serial) + "#workflow", code=303)
    return render_template("workflow/reply_preview.html", record=record, letter=letter, form=form,
                           fields=form.visible(workflow.TRANSITIONS["reply"]))


@bp.post("/records/<serial>/reply/draft")
@login_required
def reply_draft(serial: str):
    """Keep the reply being written as a draft (sealed), to finish later."""
    user = me()
    record = operations.get_record(db(), serial, user, address=client_address())
    policy.require(user, policy.HANDLE, record)
    form = _reply_form(record)
    try:
        drafts.save_draft(db(), record, user, form.text.data or "", address=client_address())
    except ValidationError as exc:
        db().rollback()
        flash(_("The draft was not saved: %(why)s", why=describe(exc, form.labels(workflow.TRANSITIONS["reply"]),
                                                                  brief=True)), "error")
    else:
        flash(_("The draft of the reply was saved."), "success")
    return redirect(url_for("ledger.show", serial=record.serial) + "#workflow", code=303)


def _filters():
    try:
        return board_service.BoardFilters.parse(request.args), {}
    except ValidationError as exc:
        return board_service.BoardFilters(), exc.fields


@bp.get("/board")
@login_required
def board():
    user = me()
    policy.require(user, policy.VIEW_BOARD)
    filters, errors = _filters()
    if errors:
        flash(_("Invalid filter."), "error")
    try:
        result = board_service.board(db(), user, filters)
    except ValidationError as exc:
        flash(_("Invalid filter."), "error")
        errors = exc.fields
        filters = board_service.BoardFilters()
        result = board_service.board(db(), user, filters)
    offices = db().execute(select(Office).order_by(Office.is_external, Office.code)).scalars().all()
    leaders = policy.holders(db(), policy.DECIDE)
    responders = policy.holders(db(), policy.BE_FIRST_RESPONDER)
    return render_template("workflow/board.html", result=result, filters=filters, errors=errors, offices=offices,
                           leaders=leaders, responders=responders, tz=_tz(),
                           units={o.code: o.name for o in offices if o.is_external},
                           csv_url=url_for("workflow.board_csv", **filters.as_dict()))


@bp.get("/board.csv")
@login_required
def board_csv():
    user = me()
    policy.require(user, policy.VIEW_BOARD)
    filters, errors = _filters()
    if errors:
        raise ValidationError("Invalid filter.", fields=errors)
    text = board_service.to_csv(db(), user, filters, address=client_address())
    today = dt.datetime.now(_tz()).date().isoformat()
    # a byte-order mark, so spreadsheet programs read the UTF-8 (Chinese names) correctly
    response = Response("\ufeff" + text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename=board-{today}.csv"
    response.headers["Cache-Control"] = "no-store"
    return response
