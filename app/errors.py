"""Errors as the user should see them: JSON under /api, a calm page elsewhere; never a stack
trace, never letter text. Any error rolls the request's transaction back first, so nothing
is half-written."""
from __future__ import annotations

import logging
import traceback

from flask import Flask, g, jsonify, make_response, render_template, request
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from records.errors import CryptoError, XinfangError

log = logging.getLogger("xinfang.web")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _rollback() -> None:
    session_ = g.get("db")
    if session_ is not None:
        session_.rollback()


def write_kept_audit(exc: XinfangError) -> None:
    """After the rollback, write the audit entry a refused attempt carries, and commit it on
    its own: the attempt is on the trail even though nothing else of the request is kept."""
    if not exc.audit:
        return
    from records import audit
    from records.accounts.models import User

    from .web import db

    payload = dict(exc.audit)
    session_ = db()
    actor_id = payload.pop("actor_id", None)
    actor = session_.get(User, actor_id) if actor_id is not None else None
    try:
        audit.record(session_, payload.pop("action"), actor=actor, **payload)
        session_.commit()
    except Exception:  # noqa: BLE001 - the refusal must still be answered; the failure is logged
        session_.rollback()
        log.error("could not write the audit entry of a refused request (%s)", exc.audit.get("action"))


def error_response(status: int, message: str, fields: dict | None = None):
    if wants_json():
        # Always both keys, so clients can rely on one shape: {"error": ..., "fields": {...}}.
        # The API speaks English: its keys are field names, its messages the English msgids
        # (a Msg reads as its English text).
        return jsonify({"error": message, "fields": fields or {}}), status
    return render_template("errors/error.html", status=status, message=message, fields=fields or {}), status


def _where(exc: BaseException) -> str:
    """The innermost frame of our own code, without the exception's message (it may hold input)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/site-packages/" not in f.filename] or frames
    f = ours[-1] if ours else None
    return f"{f.filename}:{f.lineno} in {f.name}" if f else "?"


def init_errors(app: Flask) -> None:
    @app.errorhandler(XinfangError)
    def _domain_error(exc: XinfangError):
        _rollback()
        write_kept_audit(exc)
        if exc.status < 500:
            return error_response(exc.status, exc.message, exc.fields)
        # CryptoError and ConfigurationError: the operator must hear of it; the user gets no detail.
        log.error("%s at %s on %s %s", type(exc).__name__, _where(exc), request.method, request.url_rule or "?")
        if isinstance(exc, CryptoError):
            return error_response(500, "The record could not be decrypted; the incident has been logged.")
        return error_response(500, "The system is not configured correctly; the incident has been logged.")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        _rollback()
        messages = {
            400: "The request was malformed.",
            401: "Sign in first.",
            403: "You are not allowed to do this.",
            404: "Not found.",
            405: "This method is not allowed here.",
            413: "The upload is too large.",
            429: "Too many requests; wait a little and try again.",
        }
        message = messages.get(exc.code or 500, exc.name)
        if exc.code == 400 and getattr(exc, "description", "") and "CSRF" in str(exc.description):
            message = "The form expired or was not sent from this site (CSRF check failed). Reload and try again."
        # a real response object (a page is a str until then), so headers can be set on both kinds
        response = make_response(error_response(exc.code or 500, message))
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(DataError)
    def _out_of_range(exc: DataError):
        # The database refused a value the checks let through (a number beyond its column's
        # range, say): bad input, not a fault of ours.
        _rollback()
        log.warning("database refused a value (%s) at %s", type(exc.orig).__name__, _where(exc))
        return error_response(400, "A value in the request is out of range.")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        _rollback()
        log.error("unhandled %s at %s", type(exc).__name__, _where(exc))
        return error_response(500, "Something went wrong on our side; the incident has been logged.")
