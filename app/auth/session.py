"""Sign-in sessions (Flask-Login) and CSRF (Flask-WTF) for the web; API tokens for /api."""
from __future__ import annotations

import functools

from flask import Flask, abort
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

from records.models import User

login_manager = LoginManager()
csrf = CSRFProtect()


class LoginUser:
    """Flask-Login's view of a user: the id carries the session epoch, so a password change
    or deactivation ends every open session."""

    def __init__(self, user: User):
        self.user = user

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

    @login_manager.user_loader
    def _load(user_id: str):
        from ..web import db

        uid, _, epoch = user_id.partition(":")
        if not uid.isdigit() or not epoch.isdigit():
            return None
        user = db().get(User, int(uid))
        if user is None or not user.active or user.session_epoch != int(epoch):
            return None
        return LoginUser(user)

    @app.context_processor
    def _user():
        from records import policy

        user = current_user.user if current_user.is_authenticated else None
        return {"me": user, "can_register_nav": policy.can(user, policy.REGISTER)}


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
