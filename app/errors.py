"""Errors as the user should see them: JSON under /api, a calm page elsewhere; never a stack
trace, never letter text. Any error rolls the request's transaction back first, so nothing
is half-written."""
from __future__ import annotations

import logging
import traceback

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from records.errors import XinfangError

log = logging.getLogger("xinfang.web")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _rollback() -> None:
    session_ = g.get("db")
    if session_ is not None:
        session_.rollback()


def error_response(status: int, message: str, fields: dict | None = None):
    if wants_json():
        body = {"error": message}
        if fields:
            body["fields"] = fields
        return jsonify(body), status
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
        return error_response(exc.status if exc.status != 500 else 500,
                              exc.message if exc.status != 500 else "The record could not be decrypted; "
                              "the incident has been logged.", exc.fields)

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
        response = error_response(exc.code or 500, message)
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response[0].headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        _rollback()
        log.error("unhandled %s at %s", type(exc).__name__, _where(exc))
        return error_response(500, "Something went wrong on our side; the incident has been logged.")
