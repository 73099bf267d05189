"""Sign-in sessions (Flask-Login) and CSRF (Flask-WTF) for the web; API tokens for /api."""
from __future__ import annotations

import functools
import time

from flask import Flask, abort, flash, request, session
from flask_babel import gettext as _
from flask_login import LoginManager, current_user, logout_user
from flask_wtf.csrf import CSRFProtect

from records.accounts.models import User

login_manager = LoginManager()
csrf = CSRFProtect()


#: The key of the server-side session id in the cookie (``records.accounts.sessions``).
SESSION_ID = "sid"


class LoginUser:
    """Flask-Login's view of a user: the id carries the session epoch, and the cookie the id
    of a server-side session row; ending either ends the session."""

    def __init__(self, user: User, server_session=None):
        self.user = user
        #: The ``UserSession`` row in use (the account page marks it "this browser").
        self.server_session = server_session

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_epoch}"


def init_auth(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    # Who must give a one-time code after the password is the policy's SECOND_FACTOR rule;
    # XINFANG_SECOND_FACTOR_ROLES = () in the app config switches it off (the test app does).
    #: A session ends after this long without a request, and this long after sign-in, whatever happens.
    app.config.setdefault("XINFANG_IDLE_TIMEOUT", 30 * 60)
    app.config.setdefault("XINFANG_SESSION_LIFETIME", 12 * 3600)
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE", False))

    @app.before_request
    def _session_lifetime():
        """Idle timeout and absolute lifetime, checked before any view runs."""
        if "_user_id" not in session or request.endpoint == "static":
            return
        now = time.time()
        started, seen = session.get("auth_at"), session.get("seen_at")
        if isinstance(started, (int, float)) and isinstance(seen, (int, float)) \
                and now - seen <= app.config["XINFANG_IDLE_TIMEOUT"] \
                and now - started <= app.config["XINFANG_SESSION_LIFETIME"]:
            if now - seen >= 15:  # refresh the idle clock without rewriting the cookie on every click
                session["seen_at"] = now
            return
        from records import audit
        from records.accounts.models import User

        from ..web import client_address, db

        from records.accounts import sessions as server_sessions

        uid = str(session.get("_user_id", "")).partition(":")[0]
        actor = db().get(User, int(uid)) if uid.isdigit() else None
        server_sessions.end(db(), session.get(SESSION_ID), "expired")
        audit.record(db(), "session.expired", actor=actor, address=client_address(),
                     detail={"why": "idle" if isinstance(seen, (int, float)) and isinstance(started, (int, float))
                             and now - started <= app.config["XINFANG_SESSION_LIFETIME"] else "lifetime"})
        logout_user()
        end_session()
        flash(_("Your session has ended. Please sign in again."), "info")
        return

    @login_manager.user_loader
    def _load(user_id: str):
        from ..web import db

        from records.accounts import sessions as server_sessions

        uid, _, epoch = user_id.partition(":")
        if not uid.isdigit() or not epoch.isdigit() or len(uid) > 12 or len(epoch) > 12:
            return None
        row = server_sessions.find(db(), session.get(SESSION_ID))
        if row is None or row.user_id != int(uid):
            return None
        user = db().get(User, int(uid))
        if user is None or not user.active or user.session_epoch != int(epoch):
            return None
        return LoginUser(user, row)

    @app.context_processor
    def _user():
        from records import policy

        user = current_user.user if current_user.is_authenticated else None
        return {"me": user, "can_register_nav": policy.can(user, policy.REGISTER),
                "can_grants_nav": policy.can(user, policy.CONFIRM_GRANT),
                "can_audit_nav": policy.can(user, policy.VIEW_AUDIT)}


def end_session() -> None:
    """Forget everything in the session cookie but the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def begin_session(user: User) -> None:
    """Sign ``user`` in on a fresh session (no state carried over from before sign-in), with
    a server-side session row the cookie points to."""
    from flask_login import login_user

    from records.accounts import sessions as server_sessions

    from ..web import client_address, db

    end_session()
    session[SESSION_ID] = server_sessions.start(db(), user, address=client_address(),
                                                user_agent=request.headers.get("User-Agent", ""))
    login_user(LoginUser(user))
    now = time.time()
    session["auth_at"] = now
    session["seen_at"] = now


def me() -> User:
    """The signed-in user's record (views behind ``login_required`` only)."""
    if not current_user.is_authenticated:
        abort(401)
    return current_user.user


def login_required(view):
    """Like Flask-Login's, but on our LoginUser wrapper."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        return view(*args, **kwargs)
    return wrapped
