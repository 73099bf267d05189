"""JSON API /api/v1, authenticated by per-user bearer tokens (no cookies, so no CSRF)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import g, jsonify, request, url_for

from records.cases import drafts, operations, received, workflow
from records import policy
from records.cases import board as board_service
from records.errors import NotFound, ValidationError
from records.reference import regions
from records.cases.operations import LedgerFilters, Upload
from retention import destroyed

from ..web import client_address, db, instance
from .base import _json_body, bp, token_required, token_scope
from .openapi import openapi_document


def _tz() -> ZoneInfo:
    return instance().settings.tz


def record_json(view: operations.RecordView) -> dict:
    r = view.record
    tz = _tz()
    out = {
        "serial": r.serial,
        "channel": r.channel,
        "received_at": r.received_at.astimezone(tz).isoformat(),
        "region": r.region_code,
        #: the region's names, retired/successor and "outside_jurisdiction" (accepted, marked)
        "region_detail": regions.as_dict(db(), r.region),
        "category": r.category,
        "status": r.status,
        "office": r.office.code,
        "people_count": r.people_count,
        "first_responder": r.first_responder.username if r.first_responder else None,
        "registered_by": r.registered_by.username,
        "registered_at": r.created_at.astimezone(tz).isoformat(),
        "doc_version": r.doc_version,
        "content": None,
        "petitioner": None,
        "attachments": [],
    }
    if view.can_view_content:
        out["content"] = view.content
        out["petitioner"] = view.petitioner
        out["attachments"] = [
            {"id": a["uid"], "filename": a["filename"], "content_type": a["content_type"], "size": a["size"],
             "kind": a["kind"],
             "url": url_for("api.get_attachment", serial=r.serial, attachment_id=a["uid"])}
            for a in view.attachments
        ]
        out["history"] = [
            {"at": h["at"].astimezone(tz).isoformat(), "event": h["kind"], "actor": h["actor"],
             "from_status": h["from_status"], "to_status": h["to_status"], "note": h["note"]}
            for h in view.history
        ]
    out.update(workflow_json(view))
    return out


def workflow_json(view: operations.RecordView) -> dict:
    """The matter's life for the API caller: due dates with their explanations (an extension's
    reason only for callers who may read the content) and the transitions the caller may apply now."""
    r = view.record
    summary = workflow.summary(db(), r, g.api_user)
    with_reason = summary.with_content

    def name(user):
        return user.username if user else None

    return {
        "status": r.status,
        "final": summary.final,
        "due": [d.as_dict(summary.today, with_reason=with_reason) for d in summary.dues],
        "current_due": summary.current.as_dict(summary.today, with_reason=with_reason) if summary.current else None,
        "transitions": summary.transitions,
        "transferred_unit": r.transferred_unit,
        "decided_by": name(r.decided_by),
        "approved_by": name(r.approved_by),
        "extension_approved_by": name(r.extension_approved_by),
        "decision_reason": r.decision_reason,
        "stored_reason": r.stored_reason,
        "findings": [
            {"id": f.id, "stage": f.stage, "outcome": f.outcome, "at": f.at.astimezone(_tz()).isoformat(),
             "by": f.by, "action_due_on": _day(f.action_due_on), "action_confirmed_on": _day(f.action_confirmed_on),
             **({"corrective_action": f.corrective_action, "evidence": f.evidence} if with_reason else {})}
            for f in summary.findings
        ],
        **matter_json(r),
    }


def _day(day) -> str | None:
    return day.isoformat() if day else None


def matter_json(r) -> dict:
    """Clear metadata of round two (issue 16): reviews by the superior body, the extension asked
    for, a matter handed down, a major case, the remit, 息訪 (never sealed content)."""
    return {
        "review": {"body": r.review_body, "requested_on": _day(r.review_requested_on), "outcome": r.review_outcome,
                   "decided_on": _day(r.review_replied_on), "document_number": r.review_document_number,
                   "reply_received_on": _day(r.reply_received_on)},
        "rereview": {"body": r.rereview_body, "requested_on": _day(r.rereview_requested_on),
                     "outcome": r.rereview_outcome, "decided_on": _day(r.rereview_replied_on),
                     "document_number": r.rereview_document_number},
        "review_of_unit": r.review_of_unit,
        "remit": r.remit,
        "extension_requested": None if not r.extension_requested_days else {
            "days": r.extension_requested_days, "on": _day(r.extension_requested_on)},
        "handed_down": None if not r.handed_down_by else {
            "by": r.handed_down_by, "document_number": r.handed_down_number,
            "due_on": _day(r.handed_down_due_on), "report_back_required": r.report_back_required,
            "reported_back_on": _day(r.reported_back_on)},
        "major": r.major_at is not None,
        "petitioning_ceased_on": _day(r.petitioning_ceased_on),
        "complained_unit": r.complained_unit,
    }


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.post("/records")
@token_required
@token_scope("register")
def create_record():
    body = _json_body()
    # a received date more than a year ago is registered only when confirmed (records.cases.received)
    confirm = received.confirmation(body.pop(received.FIELD, None)) if isinstance(body, dict) else None
    record = operations.register(db(), body, by=g.api_user, address=client_address(), confirm_old_date=confirm)
    return jsonify({"serial": record.serial, "url": url_for("api.get_record", serial=record.serial)}), 201, {
        "Location": url_for("api.get_record", serial=record.serial)}


@bp.get("/records")
@token_required
def list_records():
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "25"))
    except ValueError:
        raise ValidationError("page and per_page must be whole numbers.",
                              fields={"page": "Must be a whole number."}) from None
    if page < 1 or not 1 <= per_page <= 200:
        raise ValidationError("page starts at 1; per_page is 1 to 200.")
    result = operations.ledger(db(), g.api_user, LedgerFilters.parse(request.args), page=page,
                               per_page=per_page, address=client_address())
    tz = _tz()
    return jsonify({
        "total": result.total, "page": result.page, "per_page": result.per_page, "pages": result.pages,
        "items": [operations.ledger_dict(line, tz) for line in result.items],
    })


@bp.get("/records/<serial>")
@token_required
def get_record(serial: str):
    try:
        record = operations.get_record(db(), serial, g.api_user)
    except NotFound:
        gone = destroyed.tombstone(db(), serial, g.api_user, _tz())
        if gone is None:
            raise
        return jsonify(gone), 410  # Gone: destroyed under a certificate
    return jsonify(record_json(operations.view(db(), record, g.api_user, address=client_address())))


@bp.post("/records/<serial>/attachments")
@token_required
@token_scope("register")
def add_attachment(serial: str):
    user = g.api_user
    record = operations.get_record(db(), serial, user)
    policy.require(user, policy.CORRECT_RECORD, record)
    files = request.files.getlist("file")
    if not files:
        raise ValidationError("Send the file as multipart/form-data in a field named 'file'.",
                              fields={"file": "Required."})
    uploads = [Upload(filename=f.filename or "attachment", data=f.read()) for f in files]
    added = operations.attach(db(), record, uploads, by=user, address=client_address())
    return jsonify({"serial": record.serial, "attachments": [a.uid for a in added]}), 201


@bp.get("/records/<serial>/attachments/<attachment_id>")
@token_required
def get_attachment(serial: str, attachment_id: str):
    from flask import Response
    from urllib.parse import quote

    record = operations.get_record(db(), serial, g.api_user)
    meta, data = operations.attachment_content(db(), record, attachment_id, g.api_user, address=client_address())
    response = Response(data, mimetype=meta["content_type"])
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(meta['filename'])}"
    return response


#: The body of POST /records/<serial>/transitions: the transition's name and its fields
#: (records.cases.workflow.FIELDS; each transition declares which it takes).
TRANSITION_BODY = ("transition", *workflow.FIELDS)


def _transition_body() -> dict:
    """A transition's fields: a JSON object, or multipart/form-data when a document goes with the
    step (the superior body's decision, in a file field named ``document``)."""
    if request.mimetype != "multipart/form-data":
        return _json_body()
    body = {k: v for k, v in request.form.items()}
    for name in request.files:
        if name != "document":
            raise ValidationError("Unknown file field.", fields={str(name)[:40]: "Unknown field."})
    document = request.files.get("document")
    if document is not None:
        body["document"] = Upload(filename=document.filename or "document", data=document.read())
    return body


@bp.post("/records/<serial>/transitions")
@token_required
def apply_transition(serial: str):
    user = g.api_user
    record = operations.get_record(db(), serial, user)
    body = _transition_body()
    unknown = sorted(k for k in body if k not in TRANSITION_BODY)
    if unknown:
        raise ValidationError("Unknown field(s) in the body.", fields={str(k)[:40]: "Unknown field." for k in unknown[:20]})
    name = body.get("transition")
    if not isinstance(name, str) or not name:
        raise ValidationError("Say which transition to apply.",
                              fields={"transition": "Required: one of " + ", ".join(workflow.NAMES) + "."})
    applied = workflow.transition(db(), record, name, by=user, address=client_address(),
                                  **{k: body[k] for k in TRANSITION_BODY[1:] if k in body})
    out = record_json(operations.view(db(), record, user, address=client_address()))
    out["applied"] = {
        "transition": name, "from_status": applied.event.from_status, "to_status": applied.event.to_status,
        "at": applied.event.at.astimezone(_tz()).isoformat(),
        "document": None if applied.document is None else {
            "id": applied.document.uid, "kind": applied.document.kind,
            "url": url_for("api.get_attachment", serial=record.serial, attachment_id=applied.document.uid)},
        "documents": [{"id": d.uid, "kind": d.kind,
                       "url": url_for("api.get_attachment", serial=record.serial, attachment_id=d.uid)}
                      for d in applied.documents],
    }
    return jsonify(out)


@bp.post("/records/<serial>/reply/preview")
@token_required
@token_scope("workflow")
def reply_preview(serial: str):
    """The written reply exactly as it will be printed (body: text, finding, on)."""
    user = g.api_user
    record = operations.get_record(db(), serial, user, address=client_address())
    body = _json_body()
    letter = drafts.preview(db(), record, user, text=body.get("text"), finding=body.get("finding"), on=body.get("on"))
    return jsonify({"kind": letter.kind, "lines": letter.lines(), "text": "\n".join(letter.lines())})


@bp.get("/records/<serial>/reply/draft")
@token_required
def get_reply_draft(serial: str):
    user = g.api_user
    record = operations.get_record(db(), serial, user, address=client_address())
    found = drafts.draft(db(), record, user)
    return jsonify(None if found is None else {"text": found.text, "saved_at": found.saved_at.astimezone(_tz())
                                               .isoformat(), "by": found.by})


@bp.put("/records/<serial>/reply/draft")
@token_required
@token_scope("workflow")
def put_reply_draft(serial: str):
    user = g.api_user
    record = operations.get_record(db(), serial, user, address=client_address())
    saved = drafts.save_draft(db(), record, user, _json_body().get("text"), address=client_address())
    return jsonify({"text": saved.text, "saved_at": saved.saved_at.astimezone(_tz()).isoformat(), "by": saved.by})


@bp.get("/board")
@token_required
def board():
    filters = board_service.BoardFilters.parse(request.args)
    result = board_service.board(db(), g.api_user, filters)
    tz = _tz()
    return jsonify({
        "today": result.today.isoformat(),
        "filters": result.filters.as_dict(),
        "counts": result.counts,
        "items": [row.as_dict(tz) for row in result.rows],
    })


@bp.get("/stats")
@token_required
def statistics():
    """Counts over the caller's ledger scope (records/stats.py); ``by`` picks the breakdowns."""
    from records.cases import deadlines
    from records.reporting import stats

    from ..stats.views import BREAKDOWNS

    by = [b.strip() for b in (request.args.get("by") or "").split(",") if b.strip()]
    unknown = [b for b in by if b not in BREAKDOWNS]
    if unknown:
        raise ValidationError("Invalid filter.", fields={"by": "Must be among: " + ", ".join(BREAKDOWNS) + "."})
    today = deadlines.calendar_for(db()).today()
    filters = stats.StatsFilters.parse(request.args, today=today)
    as_of = _as_of(request.args.get("as_of"), today)
    body = stats.compute(db(), g.api_user, filters, today=today, as_of=as_of).as_dict()
    for b in BREAKDOWNS:
        if by and b not in by:
            body.pop(f"by_{b}", None)
    return jsonify(body)


def _as_of(value: str | None, today: dt.date) -> dt.date:
    """The day open and overdue matters are counted as of (``as_of``, not in the future)."""
    if not value:
        return today
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationError("Invalid filter.", fields={"as_of": "Use a date like 2026-03-31."}) from None
    if day > today:
        raise ValidationError("Invalid filter.", fields={"as_of": "Must not be in the future."})
    return day


# -- search and identity look-ups (the ``search`` package) ------------------------------------
@bp.get("/search")
@token_required
def search():
    from search import query

    result = query.search(db(), g.api_user, request.args.get("q", ""), params=request.args,
                          sort=request.args.get("sort") or "relevance", page=request.args.get("page", "1"),
                          per_page=request.args.get("per_page", "20"), address=client_address())
    tz = _tz()
    return jsonify({
        "total": result.total, "page": result.page, "per_page": result.per_page, "pages": result.pages,
        "sort": result.sort,
        "hits": [{
            "serial": h.record.serial, "score": h.score, "snippet": str(h.snippet_html),
            "subject": str(h.subject_html), "attachment_snippet": str(h.attachment_html),
            "status": h.record.status, "channel": h.record.channel,
            "region": h.record.region_code, "category": h.record.category,
            "received_at": h.record.received_at.astimezone(tz).isoformat(),
            "url": url_for("api.get_record", serial=h.record.serial),
        } for h in result.hits],
        "facets": result.facets,
    })


@bp.post("/lookups")
@token_required
@token_scope("lookup")
def lookup():
    from search import lookups

    body = _json_body()
    unknown = sorted(k for k in body if k not in ("kind", "value", "reason"))[:10]
    if unknown:
        raise ValidationError("Unknown fields.", fields={str(k): "Unknown field." for k in unknown})
    result = lookups.lookup(db(), g.api_user, body.get("kind"), body.get("value"), body.get("reason"),
                            address=client_address())
    tz = _tz()
    return jsonify({
        "kind": result.kind, "count": result.count, "remaining_this_hour": result.remaining,
        "items": [operations.ledger_dict(operations.LedgerLine(record=line.record, subject=line.subject), tz)
                  for line in result.lines],
    })
