"""The JSON API's blueprint and plumbing (bearer tokens, JSON bodies), shared by the
feature modules whose routes join it: ``app.api.views`` (records, board, search, look-ups)
and ``app.retention.api``. ``app.register_blueprints`` imports both before registering it."""
from __future__ import annotations

import functools

from flask import Blueprint, g, request
from werkzeug.exceptions import BadRequest as MalformedBody

from records import policy
from records.accounts import tokens
from records.errors import AccessDenied, ValidationError, XinfangError

from ..auth.session import csrf
from ..web import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


class Unauthorized(XinfangError):
    status = 401


class BadRequest(XinfangError):
    """A body that is not JSON at all (the OpenAPI document promises 400 for it)."""

    status = 400


def token_scope(scope: str):
    """Declare the token scope (``policy.TOKEN_SCOPES``) a write route needs; a route that
    declares none needs ``read`` for GET, ``retention`` under /retention, else ``workflow``."""
    assert scope in policy.TOKEN_SCOPES, scope

    def decorate(view):
        view.token_scope = scope
        return view
    return decorate


def _needed_scope(view) -> str:
    declared = getattr(view, "token_scope", None)
    if declared:
        return declared
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    return "retention" if request.path.startswith(bp.url_prefix + "/retention/") else "workflow"


def token_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
        row = tokens.find(db(), token.strip())
        if row is None:
            raise Unauthorized("The API token is unknown, expired or revoked.")
        user = row.user
        policy.require(user, policy.USE_API)
        needed = _needed_scope(view)
        # a scope the account's roles give no use to is left to the policy (it refuses, or hides, as for anyone)
        if needed not in tokens.scopes_of(row) and needed in policy.token_scopes_for(user):
            raise AccessDenied(f"This API token lacks the '{needed}' scope; ask for a token with it.")
        g.api_user = user
        return view(*args, **kwargs)
    return wrapped


def _json_body() -> dict:
    if not request.is_json:
        raise BadRequest("Send a JSON body with 'Content-Type: application/json'.")
    try:
        body = request.get_json()
    except MalformedBody:  # Flask's on_json_loading_failed (a 413 for a too large body passes on)
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    return body
