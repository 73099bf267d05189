"""Intake pages: e-mail upload, an attachment's extracted text (highlighted) beside its
scan, and taking the recognised text as the letter's body. Each handler: load → check
access (``records.policy``, through the services) → act."""
from __future__ import annotations


from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from records import policy
from records.cases import operations
from records.errors import Conflict, ValidationError, XinfangError
from records.intake import importing
from records.intake import operations as intake
from records.reference import regions
from search import highlight
from search import query as search_query
from search.indexer import service

from ..auth.session import login_required, me
from ..reference.pickers import category_options, region_options
from ..web import client_address, db, instance
from .forms import AcceptTextForm, MailUploadForm, SearchWithinForm
from ..messages import tr

bp = Blueprint("intake", __name__)

#: Scans a browser shows as an image beside the text.
INLINE_IMAGES = ("image/jpeg", "image/png", "image/gif")


@bp.app_context_processor
def _helpers():
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None

    def intake_statuses(record):
        """Attachment uid -> extraction status, for those who may read the letter."""
        if not policy.can(user, policy.VIEW_CONTENT, record):
            return {}
        return intake.statuses(db(), record)

    return {"intake_statuses": intake_statuses, "can_import_mail_nav": policy.can(user, policy.REGISTER)}


def _mail_form() -> MailUploadForm:
    form = MailUploadForm()
    area = regions.jurisdiction(db())
    form.region.choices = region_options(db(), current=area.code if area else None)
    form.category.choices = category_options(db())
    if request.method == "GET":
        form.region.data = area.code if area else None
        form.category.data = "other"
    return form


@bp.route("/intake/mail", methods=["GET", "POST"])
@login_required
def mail():
    user = me()
    policy.require(user, policy.REGISTER)
    form = _mail_form()
    results = None
    if request.method == "POST" and form.validate_on_submit():
        upload = form.message.data
        data = upload.read() if upload else b""
        if not data:
            flash(_("Choose an e-mail file to import."), "error")
            return render_template("intake/mail.html", form=form, results=None), 422
        results = []
        for i, raw in enumerate(importing.split_upload(data), 1):
            result = importing.ImportResult(index=i)
            try:
                with db().begin_nested():
                    result.serial = importing.import_message(
                        db(), raw, by=user, region=form.region.data or None, category=form.category.data or "other",
                        address=client_address()).serial
            except XinfangError as exc:
                result.refused = exc.message
            results.append(result)
        if any(r.serial for r in results):
            flash(_("%(n)s e-mail(s) registered; their attachments' text is extracted in the background.",
                    n=sum(1 for r in results if r.serial)), "success")
    return render_template("intake/mail.html", form=form, results=results)


def _terms(q: str):
    """The search terms of ``q`` to highlight (the same analysis as search)."""
    terms = search_query.Terms()
    if q:
        try:
            search_query.compile_query(search_query.parse(q), service(instance()).blinder,
                                       instance().settings.tz, terms)
        except ValidationError:
            pass
    return terms


@bp.get("/records/<serial>/attachments/<uid>/text")
@login_required
def text(serial: str, uid: str):
    user = me()
    record = operations.get_record(db(), serial, user)
    info, pages = intake.attachment_text(db(), record, uid, user, address=client_address())
    within = SearchWithinForm(request.args)
    terms = _terms(within.q.data or "")
    marked = [highlight.mark(p, terms) for p in pages]
    can_accept = info["status"] == "done" and policy.can(user, policy.CORRECT_RECORD, record)
    form = AcceptTextForm()
    form.body.data = "\n\n".join(p for p in pages if p)
    return render_template("intake/text.html", record=record, info=info, pages=marked, within=within,
                           form=form if can_accept else None, inline=info["content_type"] in INLINE_IMAGES)


@bp.post("/records/<serial>/attachments/<uid>/accept")
@login_required
def accept(serial: str, uid: str):
    user = me()
    record = operations.get_record(db(), serial, user)
    policy.require(user, policy.CORRECT_RECORD, record)
    form = AcceptTextForm()
    if not form.validate_on_submit():
        flash(_("The form expired; please try again."), "error")
        return redirect(url_for("intake.text", serial=serial, uid=uid))
    try:
        intake.accept_text(db(), record, uid, form.body.data or "", by=user, address=client_address())
    except (Conflict, ValidationError) as exc:
        db().rollback()
        flash(tr(exc.message), "error")
        return redirect(url_for("intake.text", serial=serial, uid=uid))
    flash(_("The text was taken as the letter's body; the previous version is kept in the history."), "success")
    return redirect(url_for("ledger.show", serial=serial))

@bp.get("/records/<serial>/intake/status")
@login_required
def progress(serial: str):
    """The text extraction of each attachment of the record (JSON, for the record page's
    polling: app/static/intake.js): its status, pages, error and the status line as the page
    shows it. For those who may read the letter, like the status on the page."""
    from flask import jsonify

    user = me()
    record = operations.get_record(db(), serial, user)
    policy.require(user, policy.VIEW_CONTENT, record)
    view = {"can_correct": policy.can(user, policy.CORRECT_RECORD, record)}
    items = []
    for uid, t in intake.statuses(db(), record).items():
        items.append({"attachment": uid, "status": t.status, "method": t.method, "pages_done": t.pages_done,
                      "pages_total": t.pages_total, "error": _(error) if (error := t.error or t.job_error) else None,
                      "accepted": t.accepted, "key": f"{t.status}-{t.pages_done}-{t.pages_total}-{t.accepted}",
                      "html": render_template("intake/_status.html", t=t, a={"uid": uid}, record=record,
                                              view=view).strip()})
    response = jsonify({"serial": record.serial, "attachments": items,
                        "finished": not any(i["status"] in ("pending", "running") for i in items)})
    response.headers["Cache-Control"] = "no-store"
    return response

from . import drafts as _drafts  # noqa: E402,F401 - the registration form's scan drafts: routes of this blueprint
