"""The registration form's scan: uploaded before the letter exists, recognised in the job
runner, shown beside its recognised text for the clerk to correct and take as the body (or
ignore); app/static/scan_draft.js drives it. The rules live in ``records.intake.drafts``
(only the uploader sees a draft: ``policy.require_own_draft``). Routes of the intake blueprint."""
from __future__ import annotations

from flask import Response, flash, jsonify, request, url_for
from flask_babel import gettext as _

from records import policy
from records.cases.operations import Upload
from records.errors import NotFound, TooLarge, ValidationError
from records.intake import drafts

from ..auth.session import login_required, me
from ..jobs.handoff import hand_off
from ..web import client_address, db
from .views import bp

#: Scans a browser shows as an image beside the text.
INLINE_IMAGES = ("image/jpeg", "image/png", "image/gif")


def _status_json(uid: str) -> dict:
    st = drafts.status(db(), uid, me())
    if st.status == "running" and st.pages_total:
        note = _("recognising page %(n)s of %(total)s", n=min(st.pages_done + 1, st.pages_total),
                 total=st.pages_total)
    elif st.status in ("pending", "running"):
        note = _("waiting for text extraction")
    elif st.status == "failed":
        note = _("text extraction failed:") + (" " + _(st.error) if st.error else "")
    elif st.text:
        note = _("Read the text against the scan and correct it; nothing is filled in until you take it.")
    else:
        note = _("no text found")
    return {"draft": uid, "status": st.status, "pages_done": st.pages_done, "pages_total": st.pages_total,
            "note": note, "error": _(st.error) if st.error else None, "text": st.text,
            "scan_url": url_for("intake.draft_scan", uid=uid), "inline": st.content_type in INLINE_IMAGES}


@bp.post("/intake/drafts")
@login_required
def new_draft():
    """A scan from the registration form: sealed and queued for recognition (JSON, 201)."""
    user = me()
    policy.require(user, policy.REGISTER)
    file = request.files.get("scan")
    upload = Upload(filename=file.filename or "scan", data=file.read()) if file is not None else None
    try:
        job = drafts.create(db(), upload, by=user, address=client_address())
    except (ValidationError, TooLarge) as exc:
        db().rollback()
        return jsonify({"error": _(exc.message), "fields": {k: _(str(v)) for k, v in exc.fields.items()}}), exc.status
    uid = job.payload["draft"]
    db().commit()
    hand_off([drafts.JOB_KIND])   # recognised by a worker process at once (or by 'xinfang jobs run')
    response = jsonify({"draft": uid, "status_url": url_for("intake.draft_status", uid=uid),
                        "scan_url": url_for("intake.draft_scan", uid=uid)})
    return response, 201


@bp.get("/intake/drafts/<uid>")
@login_required
def draft_status(uid: str):
    """How far the recognition got; the recognised text once done (the uploader only)."""
    response = jsonify(_status_json(uid))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/intake/drafts/<uid>/scan")
@login_required
def draft_scan(uid: str):
    """The draft's scan, shown beside its text (the uploader only)."""
    mime, data = drafts.scan(db(), uid, me())
    response = Response(data, mimetype=mime)
    response.headers["Content-Disposition"] = "inline" if mime in INLINE_IMAGES + ("application/pdf",) \
        else "attachment"
    response.headers["Cache-Control"] = "no-store"
    return response


def take_from_form(record, form, user) -> None:
    """At registration: the form's scan draft, if any, becomes the letter's attachment (its text
    marked as taken as the body when the clerk took it). A draft gone meanwhile is said so."""
    uid = (form.scan_draft.data or "").strip()
    if not uid:
        return
    try:
        drafts.take(db(), record, uid, by=user, accepted=form.scan_text_taken.data == "yes",
                    address=client_address())
    except NotFound:
        flash(_("The scan recognised on the form is no longer available: attach it again."), "warning")
