"""JSON API /api/v1, authenticated by per-user bearer tokens (no cookies, so no CSRF)."""
from __future__ import annotations

import functools
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify, request, url_for

from records import accounts, operations, policy
from records.errors import ValidationError, XinfangError
from records.operations import LedgerFilters, Upload

from ..auth.session import csrf
from ..web import client_address, db, instance
from .openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


class Unauthorized(XinfangError):
    status = 401


def _tz() -> ZoneInfo:
    return ZoneInfo(instance().settings.timezone)


def token_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
        user = accounts.user_for_token(db(), token.strip())
        if user is None:
            raise Unauthorized("The API token is unknown, expired or revoked.")
        policy.require(user, policy.USE_API)
        g.api_user = user
        return view(*args, **kwargs)
    return wrapped


def _json_body() -> dict:
    if not request.is_json:
        raise ValidationError("Send a JSON body with 'Content-Type: application/json'.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    return body


def record_json(view: operations.RecordView) -> dict:
    r = view.record
    tz = _tz()
    out = {
        "serial": r.serial,
        "channel": r.channel,
        "received_at": r.received_at.astimezone(tz).isoformat(),
        "region": r.region_code,
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
    return out


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.post("/records")
@token_required
def create_record():
    record = operations.register(db(), _json_body(), by=g.api_user, address=client_address())
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
    record = operations.get_record(db(), serial, g.api_user)
    return jsonify(record_json(operations.view(db(), record, g.api_user, address=client_address())))


@bp.post("/records/<serial>/attachments")
@token_required
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
