"""The ledger (臺帳), registration, and the record page. Each handler: load → check access
(in ``records.policy``, through the services) → act."""
from __future__ import annotations

from datetime import datetime
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import (
    Blueprint, Response, current_app, flash, redirect, render_template, request, url_for,
)
from flask_babel import gettext as _
from sqlalchemy import select

from records.cases import operations
from records.intake import operations as intake
from records.reference import regions
from records.reference.models import Office
from records import policy
from records.reporting import roster
from records.errors import Msg, NotFound, TooLarge, ValidationError
from retention import destroyed
from records.cases.operations import LedgerFilters, Upload

from ..auth.session import login_required, me
from ..forms import offered, options
from ..web import client_address, db, instance
from ..workflow.views import panel_context
from ..intake.drafts import take_from_form
from ..search.views import repeat_panel
from .forms import RecordForm
from ..reference.pickers import category_options, region_note, region_options

bp = Blueprint("ledger", __name__)


def _tz() -> ZoneInfo:
    return instance().settings.tz


def _fill_choices(form: RecordForm, *, category: str | None = None) -> None:
    form.category.choices = category_options(db(), current=category)
    form.region_options = region_options(db())
    form.first_responder.choices = options([("", _("Myself"))] + [
        (u.username, u.display_name) for u in policy.holders(db(), policy.BE_FIRST_RESPONDER)])
    form.complained_unit.choices = options([("", _("None named"))] + [
        (o.code, o.name) for o in db().execute(select(Office).where(Office.is_intake.is_(False))
                                               .order_by(Office.is_external, Office.code)).scalars()])


def _suggest_region(form: RecordForm) -> bool:
    """No region given: the first six digits of the ID number suggest the petitioner's home
    region; the form comes back with it filled in, to be confirmed (or changed)."""
    region = regions.from_id_number(db(), form.petitioner_id_number.data)
    if region is None:
        return False
    form.region.data = region.code
    flash(_("Region %(code)s %(name)s was suggested from the ID number: check it and register again.",
            code=region.code, name=regions.full_name(db(), region)), "info")
    return True


def _uploads(form: RecordForm) -> list[Upload]:
    files = [f for f in (form.attachments.data or []) if getattr(f, "filename", "")]
    return [Upload(filename=f.filename, data=f.read()) for f in files]


@bp.get("/ledger")
@login_required
def index():
    user = me()
    try:
        filters = LedgerFilters.parse(request.args)
        page_no = int(request.args.get("page", "1") or 1)
        if page_no > operations.MAX_PAGE:   # below 1 is read as 1; beyond the last page is empty
            raise ValidationError("The page is out of range.", fields={"page": Msg("1 to %(n)s.", n=operations.MAX_PAGE)})
    except ValidationError as exc:
        flash(_("Invalid filter."), "error")
        filters, page_no = LedgerFilters(), 1
        errors = exc.fields
    except ValueError:
        filters, page_no, errors = LedgerFilters(), 1, {}
    else:
        errors = {}
    page = operations.ledger(db(), user, filters, page=page_no, per_page=current_app.config["LEDGER_PAGE_SIZE"],
                             address=client_address())
    regions = region_options(db(), current=filters.region)
    return render_template("ledger/index.html", page=page, filters=filters, regions=regions,
                           category_choices=category_options(db(), current=filters.category),
                           errors=errors, tz=_tz(), can_register=policy.can(user, policy.REGISTER)), \
        422 if "page" in errors else 200   # a page out of range is the caller's error, said so


@bp.route("/records/new", methods=["GET", "POST"])
@login_required
def register():
    user = me()
    policy.require(user, policy.REGISTER)
    form = RecordForm()
    _fill_choices(form)
    if request.method == "GET":
        form.received_at.data = datetime.now(_tz()).strftime("%Y-%m-%dT%H:%M")
        if request.args.get("channel") in offered(form.channel):
            form.channel.data = request.args["channel"]
        if form.channel.data == "visit":  # the leader receiving today (duty roster, Art 17 and 20)
            receiving = roster.receiving_leader(db(), datetime.now(_tz()).date())
            if receiving is not None and receiving.username in offered(form.first_responder):
                form.first_responder.data = receiving.username
    if form.validate_on_submit() and not form.region.data and _suggest_region(form):
        return render_template("ledger/form.html", form=form, mode="new")
    if form.validate_on_submit():
        try:
            record = operations.register(db(), form.to_raw(), by=user, uploads=_uploads(form),
                                         address=client_address(),
                                         confirm_old_date=bool(form.confirm_old_received_date.data))
            take_from_form(record, form, user)   # the scan recognised on the form, if any
        except (ValidationError, TooLarge) as exc:
            # the form comes back with what was typed and the message next to the field
            db().rollback()
            form.set_errors(exc.fields)
            flash(_("Please correct the marked fields."), "error")
            return render_template("ledger/form.html", form=form, mode="new"), exc.status
        flash(_("Registered as %(serial)s.", serial=record.serial), "success")
        if any(t.status in ("pending", "running") for t in intake.statuses(db(), record).values()):
            flash(_("The scan's text is being recognised: when it is ready, check it beside the scan on this "
                    "page and take it as the body."), "info")
        return redirect(url_for("ledger.show", serial=record.serial))
    if request.method == "POST":
        return render_template("ledger/form.html", form=form, mode="new"), 400
    return render_template("ledger/form.html", form=form, mode="new")


@bp.get("/records/<serial>")
@login_required
def show(serial: str):
    user = me()
    try:
        record = operations.get_record(db(), serial, user)
    except NotFound:
        gone = destroyed.tombstone(db(), serial, user, _tz())
        if gone is None:
            raise
        # 410 Gone: the letter existed and was destroyed under a certificate
        return render_template("ledger/destroyed.html", gone=gone,
                               can_retention=policy.can(user, policy.VIEW_RETENTION)), 410
    view = operations.view(db(), record, user, address=client_address())
    return render_template("ledger/show.html", view=view, record=record, tz=_tz(), wf=panel_context(record, user),
                           region=region_note(db(), record.region_code),
                           repeat=repeat_panel(record, user))


@bp.route("/records/<serial>/edit", methods=["GET", "POST"])
@login_required
def edit(serial: str):
    user = me()
    record = operations.get_record(db(), serial, user)
    policy.require(user, policy.CORRECT_RECORD, record)
    form = RecordForm()
    _fill_choices(form, category=record.category)
    form.first_responder.render_kw = {"disabled": True}
    if request.method == "GET":
        doc = operations.document(db(), record)
        pet = doc.get("petitioner", {})
        form.channel.data, form.region.data, form.category.data = record.channel, record.region_code, record.category
        form.received_at.data = record.received_at.astimezone(_tz()).strftime("%Y-%m-%dT%H:%M")
        form.people_count.data = str(record.people_count)
        form.complained_unit.data = record.complained_unit or ""
        form.subject.data, form.body.data, form.notes.data = doc.get("subject"), doc.get("body"), doc.get("notes")
        form.petitioner_name.data = pet.get("name")
        form.petitioner_id_number.data = pet.get("id_number")
        form.petitioner_phone.data = pet.get("phone")
        form.petitioner_address.data = pet.get("address")
        return render_template("ledger/form.html", form=form, mode="edit", record=record)
    if form.validate_on_submit():
        raw = form.to_raw()
        raw.pop("first_responder", None)
        try:
            operations.correct(db(), record, raw, by=user, reason=request.form.get("reason", ""),
                               address=client_address())
        except ValidationError as exc:
            db().rollback()
            form.set_errors(exc.fields)
            flash(_("Please correct the marked fields."), "error")
            return render_template("ledger/form.html", form=form, mode="edit", record=record), 422
        flash(_("The correction was saved; the previous version is kept in the history."), "success")
        return redirect(url_for("ledger.show", serial=record.serial))
    return render_template("ledger/form.html", form=form, mode="edit", record=record), 400


@bp.get("/records/<serial>/attachments/<uid>")
@login_required
def attachment(serial: str, uid: str):
    user = me()
    record = operations.get_record(db(), serial, user)
    meta, data = operations.attachment_content(db(), record, uid, user, address=client_address())
    if meta["content_type"] not in ("application/pdf", "image/jpeg", "image/png", "image/gif"):
        disposition = "attachment"
    else:
        disposition = request.args.get("inline") and "inline" or "attachment"
    response = Response(data, mimetype=meta["content_type"])
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(meta['filename'])}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/records/<serial>/versions/<int:version>")
@login_required
def version(serial: str, version: int):
    user = me()
    record = operations.get_record(db(), serial, user)
    old, doc = operations.view_version(db(), record, version, user, address=client_address())
    return render_template("ledger/version.html", record=record, old=old, doc=doc, petitioner=doc["petitioner"],
                           tz=_tz())
