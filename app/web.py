"""Request plumbing: in-memory uploads, one unit of work per request, security headers,
and the small core blueprint (home, health, language)."""
from __future__ import annotations

import io
import unicodedata

from flask import (
    Blueprint, Flask, Request, current_app, g, jsonify, redirect, request, session, url_for,
)
from flask_login import current_user
from sqlalchemy import text
from flask.json.provider import DefaultJSONProvider
from werkzeug.routing import IntegerConverter

from records.instance import Instance, is_read_only

from .composition import build_instance


#: JSON bodies nest at most this deep (Python's parser would otherwise recurse into a 500).
MAX_JSON_DEPTH = 32


class BoundedJSONProvider(DefaultJSONProvider):
    """Flask's JSON with a depth limit on what it reads: a deeper body is malformed (400)."""

    def loads(self, s, **kwargs):
        text = s.decode("utf-8", "replace") if isinstance(s, (bytes, bytearray)) else str(s)
        depth, in_string, escaped = 0, False, False
        for c in text:
            if in_string:
                escaped, in_string = (not escaped and c == "\\"), (escaped or c != '"')
            elif c == '"':
                in_string = True
            elif c in "[{":
                depth += 1
                if depth > MAX_JSON_DEPTH:
                    raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            elif c in "]}":
                depth -= 1
        return super().loads(s, **kwargs)


class BoundedInt(IntegerConverter):
    """``<int:…>`` in routes: at most 2**31 - 1 (the databases' integer), a larger id is not
    found (404) instead of an overflow (500)."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = 2**31 - 1,
                 signed: bool = False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class InMemoryRequest(Request):
    """Uploads stay in memory: Werkzeug would otherwise spool large ones to a temporary file,
    and a letter's scan must never reach disk in plaintext. The size is capped by
    MAX_CONTENT_LENGTH before anything is read."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def instance() -> Instance:
    return current_app.extensions["xinfang"]


def db():
    """The request's session, opened on first use; committed after a successful request.

    A GET or HEAD request reads in a read-only unit of work: no write lock while it works;
    the audit entries of what it read are written when it ends, before the answer leaves."""
    if "db" not in g:
        from search.indexer import watch_outbox

        g.db = instance().session(read_only=_reads_only())
        watch_outbox(g.db)  # so the index is brought up to date after the commit
    return g.db


#: Methods that must not change anything: their requests read in a read-only unit of work.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WRITING_VIEWS: set = set()


def writes_on_get(view):
    """Mark a view whose GET must write (starting an authenticator enrolment shows a secret
    it has just stored): its requests get an ordinary unit of work."""
    _WRITING_VIEWS.add(view)
    return view


def _reads_only() -> bool:
    return request.method in READ_METHODS \
        and current_app.view_functions.get(request.endpoint) not in _WRITING_VIEWS


def client_address() -> str:
    return (request.remote_addr or "")[:64]


def init_unit_of_work(app: Flask) -> None:
    app.extensions["xinfang"] = build_instance(app.config["XINFANG_SETTINGS"])

    @app.after_request
    def _commit(response):
        session_ = g.pop("db", None)
        committed = False
        if session_ is not None:
            try:
                if response.status_code >= 500:
                    session_.rollback()
                elif is_read_only(session_):
                    instance().end_read(session_)   # the audit of what was read, committed now
                else:
                    session_.commit()
                    committed = True
            finally:
                session_.close()
        if committed and instance().settings.index_after_commit:   # else the separate indexer does it
            from search.indexer import drain_after_commit, maintain_quietly

            # After the commit, never instead of it: a failure is logged and the outbox keeps the work.
            inst = instance()
            if drain_after_commit(inst, session_) is not None:
                # merging index segments waits until the response has been sent
                response.call_on_close(lambda: maintain_quietly(inst))
        return response

    @app.teardown_request
    def _close(exc):
        session_ = g.pop("db", None)
        if session_ is not None:
            session_.rollback()
            session_.close()


#: Content-Security-Policy without 'unsafe-inline': the UI uses no inline script or style.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


#: Sent when cookies are Secure (HTTPS); docs/deploy/nginx.conf sends the same.
HSTS = "max-age=31536000; includeSubDomains"


def init_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config.get("SESSION_COOKIE_SECURE"):
            # served over HTTPS (the cookies say so): browsers must never fall back to HTTP
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.endpoint and request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


bp = Blueprint("core", __name__)


def landing_url(user) -> str:
    """Where a user starts, by what the policy lets them do: a leader or the chief on what
    waits for their decision, a handler on their own matters, the archivist on retention,
    the inspector on statistics, an administrator on accounts; others on the ledger."""
    from records import policy

    if policy.holds(user, policy.DECIDE) or policy.holds(user, policy.APPROVE_EXTENSION):
        return url_for("desk.decisions")
    if policy.holds(user, policy.HANDLE):
        return url_for("desk.mine")
    if policy.holds(user, policy.MANAGE_RETENTION):
        return url_for("retention.index")
    if policy.holds(user, policy.VIEW_STATS) and not policy.holds(user, policy.REGISTER):
        return url_for("stats.dashboard")
    if not policy.holds(user, policy.VIEW_LEDGER) and policy.holds(user, policy.MANAGE_USERS):
        return url_for("admin.users")
    if not policy.holds(user, policy.VIEW_LEDGER):   # e.g. a role still waiting for confirmation
        return url_for("account.index")
    return url_for("ledger.index")


@bp.get("/")
def home():
    if current_user.is_authenticated:
        return redirect(landing_url(current_user.user))
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    from .i18n import LOCALES

    if code in LOCALES:
        session["lang"] = code
    return redirect(local_path(request.args.get("next")) or url_for("core.home"))


def local_path(target) -> str | None:
    """``target`` if it is a path on this site, else None (never an open redirect).

    Browsers drop tabs and newlines from a URL and read a backslash as a slash, so
    ``/\t/evil.example`` or ``/\\evil.example`` would leave the site: any control, format or
    space character, any backslash, and a second slash or a scheme (also once percent-decoded)
    make the target refused."""
    from urllib.parse import unquote, urlsplit

    if not isinstance(target, str) or not target or len(target) > 2048:
        return None
    decoded = unquote(target)
    if any(c.isspace() or unicodedata.category(c)[0] in "CZ" for c in target):
        return None
    for t in (target, decoded):
        if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in t):
            return None
        if not t.startswith("/") or t.startswith("//") or "\\" in t:
            return None
        parts = urlsplit(t)
        if parts.scheme or parts.netloc:
            return None
    return target


def _index_answers(inst: Instance) -> bool:
    """The configured search backend opens and counts its documents (the embedded index only
    where its folder exists: a missing folder is an error, not something to create afresh)."""
    from search import factory
    from search.indexer import service

    try:
        if factory.kind(inst) == factory.WHOOSH and not inst.settings.index_dir.is_dir():
            return False
        service(inst).backend.doc_count()
        return True
    except Exception:  # noqa: BLE001 - a health check reports, it does not raise
        return False


def _indexing(inst: Instance) -> str:
    """"behind" when ``indexer.behind``: the separate indexer is not running, or a rebuild
    is under way."""
    from search import indexer

    try:
        return "behind" if indexer.behind(inst) else "ok"
    except Exception:  # noqa: BLE001 - a health check reports, it does not raise
        return "error"


@bp.get("/healthz")
def healthz():
    """Database, key store and search index: 200 when all answer, 503 otherwise; and
    whether indexing keeps up ("indexing": ok or behind, which does not fail it). No details
    leak."""
    checks = {}
    inst = instance()
    try:
        with inst.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - a health check reports, it does not raise
        checks["database"] = "error"
    try:
        inst.keyring.current_ref()
        checks["keys"] = "ok"
    except Exception:  # noqa: BLE001
        checks["keys"] = "error"
    checks["index"] = "ok" if _index_answers(inst) else "error"
    checks["indexing"] = _indexing(inst)
    # A lagging index is for monitoring to alert on, not a reason to take a process that
    # serves out of a load balancer's rotation: it does not fail the check.
    ok = all(v == "ok" for k, v in checks.items() if k != "indexing")
    return jsonify(status="ok" if ok else "error", checks=checks), 200 if ok else 503
