"""Configuration: defaults, then environment (read when the app is built), then overrides."""
from __future__ import annotations

import secrets

from flask import Flask

from records.settings import Settings


def load_config(app: Flask, overrides: dict | None = None) -> None:
    """Flask's configuration from the instance's ``Settings`` (``XINFANG_SETTINGS`` when the
    caller passes them, else read from ``ENVIRON`` or the process environment), then overrides."""
    overrides = dict(overrides or {})
    environ = overrides.pop("ENVIRON", None)
    settings_overrides = {}
    if "XINFANG_HOME" in overrides:
        settings_overrides["home"] = overrides.pop("XINFANG_HOME")
    if "XINFANG_DATABASE_URL" in overrides:
        settings_overrides["database_url"] = overrides.pop("XINFANG_DATABASE_URL")
    settings = overrides.pop("XINFANG_SETTINGS", None) or Settings.from_env(environ, **settings_overrides)
    app.config.update(
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        MAX_FORM_MEMORY_SIZE=1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="xinfang_session",
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
        BABEL_DEFAULT_LOCALE="zh_Hant",
        BABEL_DEFAULT_TIMEZONE=settings.timezone,
        LEDGER_PAGE_SIZE=25,
        JSON_SORT_KEYS=False,
    )
    app.config["XINFANG_SETTINGS"] = settings
    # A per-instance secret kept beside the keys, so sessions survive restarts; never in the repo.
    app.config["SECRET_KEY"] = overrides.pop("SECRET_KEY", None) or settings.secret_key or _instance_secret(settings)
    app.config.update(overrides)


def _instance_secret(settings: Settings) -> str:
    """The per-instance session secret that ``xinfang init`` writes beside the keys (never in
    the repo); without one, a throw-away secret (sessions end when the process does)."""
    try:
        return (settings.keystore_dir / "session.secret").read_text().strip()
    except (FileNotFoundError, PermissionError):
        return secrets.token_urlsafe(32)
