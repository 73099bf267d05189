"""Retention pages for archivists and leaders: batches (counts per reason, due dates),
batch detail without content, holds, approvals, runs, certificates (JSON and PDF).
Each handler: load → check access (``records.policy`` through the services) → act."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from records import policy
from records.errors import Conflict, NotFound, ValidationError, XinfangError
from records.reference import letterhead

from retention import certificate as certs
from retention import destroyed
from retention import jobs as retention_jobs
from retention import operations as ret
from retention.schedules import REASONS

from ..auth.session import login_required, me
from ..jobs.handoff import hand_off
from ..web import client_address, db, instance
from .forms import ActionForm, ExcludeForm, HoldForm, ReasonForm
from ..messages import describe

bp = Blueprint("retention", __name__, url_prefix="/retention")

BATCH_STATE_LABELS = {
    "open": _l("Open"), "sealed": _l("Sealed"), "proposed": _l("Proposed"), "approved": _l("Approved"),
    "destroyed": _l("Destroyed"), "certified": _l("Certified"),
}
LETTER_STATE_LABELS = {
    "member": _l("In the batch"), "listed": _l("On the list"), "excluded": _l("Excluded (kept)"),
    "destroyed": _l("Destroyed"), "withdrawn": _l("No longer stored"),
}

#: A destruction job's status and phase (``retention.jobs``; its progress note is the phase).
JOB_STATUS_LABELS = {
    "queued": _l("Queued"), "running": _l("Running"), "done": _l("Done"), "failed": _l("Failed"),
}
RUN_PHASE_LABELS = {
    "starting": _l("Starting"), "prepare": _l("Preparing the journal"), "delete": _l("Deleting letters"),
    "index": _l("Purging the search index"), "compact": _l("Compacting the database"),
    "verify": _l("Checking for residue"), "certified": _l("Certified"),
}


@bp.app_context_processor
def _nav():
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_retention_nav": policy.can(user, policy.VIEW_RETENTION)}


@bp.context_processor
def _labels():
    return {"BATCH_STATE_LABELS": BATCH_STATE_LABELS, "LETTER_STATE_LABELS": LETTER_STATE_LABELS,
            "JOB_STATUS_LABELS": JOB_STATUS_LABELS, "RUN_PHASE_LABELS": RUN_PHASE_LABELS}

ACTIONS = {
    "seal": policy.MANAGE_RETENTION,
    "propose": policy.MANAGE_RETENTION,
    "approve": policy.APPROVE_DESTRUCTION,
    "run": policy.APPROVE_DESTRUCTION,
}


def _flash_error(exc: XinfangError) -> None:
    flash(describe(exc), "error")


@bp.get("")
@login_required
def index():
    user = me()
    policy.require(user, policy.VIEW_RETENTION)
    summaries = ret.list_batches(db(), user)
    return render_template("retention/index.html", summaries=summaries, reasons=REASONS,
                           can_manage=policy.can(user, policy.MANAGE_RETENTION))


@bp.get("/batches/<int:batch_id>")
@login_required
def batch(batch_id: int):
    user = me()
    b = ret.get_batch(db(), batch_id, user)
    summary = ret.summarise(db(), [b])[0]
    letters = ret.batch_letters(db(), b, user)
    _, held = ret.held_serials(db(), b)
    return render_template("retention/batch.html", b=b, summary=summary, letters=letters, held=held,
                           holds=ret.active_holds(db(), b), reasons=REASONS,
                           certificates=ret.list_certificates(db(), user, b),
                           region_name=ret.region_name(db(), b.region_code),
                           action_form=ActionForm(), exclude_form=ExcludeForm(), hold_form=HoldForm(),
                           can_manage=policy.can(user, policy.MANAGE_RETENTION),
                           can_approve=policy.can(user, policy.APPROVE_DESTRUCTION),
                           can_hold=policy.can(user, policy.PLACE_HOLD) and not destroyed.batch_is_spent(db(), b),
                           run_job=retention_jobs.latest_job(db(), b.id))


#: Steps that cannot be undone: the form must carry the batch's name typed by hand.
CONFIRMED = ("approve", "run")


@bp.post("/batches/<int:batch_id>/<any(seal, propose, approve, run):action>")
@login_required
def act(batch_id: int, action: str):
    user = me()
    policy.require(user, ACTIONS[action])
    b = ret.get_batch(db(), batch_id)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("retention.batch", batch_id=batch_id))
    if action in CONFIRMED and (request.form.get("confirm") or "").strip() != b.label:
        # irreversible: the batch's name typed in full, or nothing happens
        flash(_("Nothing was done: type the batch's name %(label)s to confirm.", label=b.label), "error")
        return redirect(url_for("retention.batch", batch_id=batch_id))
    try:
        if action == "seal":
            ret.seal(db(), b, by=user, address=client_address())
            flash(_("The batch is sealed."), "success")
        elif action == "propose":
            n = len(ret.propose(db(), b, by=user, address=client_address()))
            flash(_("%(n)s letters proposed for destruction; a leader must approve.", n=n), "success")
        elif action == "approve":
            ret.approve(db(), b, by=user, address=client_address())
            flash(_("The destruction list is approved."), "success")
        else:
            # a job, never inside this request: a worker process runs it; the page shows its progress
            retention_jobs.start_destruction(db(), b, by=user)
            db().commit()
            hand_off([retention_jobs.DESTRUCTION])
            flash(_("The destruction run has started; its progress is shown on this page."), "success")
    except (Conflict, ValidationError) as exc:
        db().rollback()
        _flash_error(exc)
    return redirect(url_for("retention.batch", batch_id=batch_id))


@bp.post("/batches/<int:batch_id>/exclude")
@login_required
def exclude(batch_id: int):
    user = me()
    policy.require(user, policy.APPROVE_DESTRUCTION)
    b = ret.get_batch(db(), batch_id)
    form = ExcludeForm()
    if not form.validate_on_submit():
        flash(_("Give the serial and a reason."), "error")
        return redirect(url_for("retention.batch", batch_id=batch_id))
    try:
        ret.exclude(db(), b, form.serial.data.strip(), by=user, reason=form.reason.data, address=client_address())
        flash(_("The letter is excluded from the list and kept."), "success")
    except (Conflict, ValidationError, NotFound) as exc:
        db().rollback()
        _flash_error(exc)
    return redirect(url_for("retention.batch", batch_id=batch_id))


@bp.route("/holds", methods=["GET", "POST"])
@login_required
def holds():
    user = me()
    policy.require(user, policy.VIEW_RETENTION)
    form = HoldForm()
    if request.method == "POST":
        policy.require(user, policy.PLACE_HOLD)
        back = request.form.get("next") or ""
        target = back if back.startswith("/retention") and not back.startswith("//") else url_for("retention.holds")
        if not form.validate_on_submit():
            flash(_("A hold needs a reason and a letter or a batch."), "error")
            return redirect(target)
        try:
            b = ret.get_batch(db(), form.batch.data) if form.batch.data else None
            ret.hold(db(), by=user, reason=form.reason.data, serial=(form.serial.data or "").strip() or None,
                     batch=b, address=client_address())
            flash(_("Hold placed."), "success")
        except (Conflict, ValidationError, NotFound) as exc:
            db().rollback()
            _flash_error(exc)
        return redirect(target)
    return render_template("retention/holds.html", holds=ret.list_holds(db(), user), form=form,
                           lift_form=ReasonForm(), can_hold=policy.can(user, policy.PLACE_HOLD))


@bp.post("/holds/<int:hold_id>/lift")
@login_required
def lift(hold_id: int):
    user = me()
    policy.require(user, policy.PLACE_HOLD)
    form = ReasonForm()
    if not form.validate_on_submit():
        flash(_("Lifting a hold needs a reason."), "error")
        return redirect(url_for("retention.holds"))
    try:
        ret.lift(db(), hold_id, by=user, reason=form.reason.data, address=client_address())
        flash(_("Hold lifted."), "success")
    except (Conflict, ValidationError, NotFound) as exc:
        db().rollback()
        _flash_error(exc)
    return redirect(url_for("retention.holds"))


@bp.get("/certificates")
@login_required
def certificates():
    user = me()
    return render_template("retention/certificates.html", certificates=ret.list_certificates(db(), user))


@bp.get("/certificates/<number>.<any(json, pdf):fmt>")
@login_required
def certificate_file(number: str, fmt: str):
    user = me()
    cert = ret.get_certificate(db(), number, user)
    body = json.loads(cert.body)
    if fmt == "json":
        data, mime = json.dumps(body, ensure_ascii=False, indent=1).encode(), "application/json"
    else:
        try:
            data, mime = certs.pdf(body, instance().settings,
                                   bureau_name=letterhead.current(db()).bureau_name), "application/pdf"
        except XinfangError:
            abort(503)
    response = Response(data, mimetype=mime)
    response.headers["Content-Disposition"] = f"attachment; filename={cert.number}.{fmt}"
    return response
