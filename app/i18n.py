"""Languages: Traditional Chinese (default), Simplified Chinese, English."""
from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel

LOCALES = ("zh_Hant", "zh_Hans", "en")
LOCALE_NAMES = {"zh_Hant": "繁體中文", "zh_Hans": "简体中文", "en": "English"}


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    best = request.accept_languages.best_match(["zh-TW", "zh-HK", "zh-Hant", "zh-CN", "zh-Hans", "zh", "en"])
    if best in ("zh-CN", "zh-Hans"):
        return "zh_Hans"
    if best == "en":
        return "en"
    return "zh_Hant"


def init_babel(app: Flask) -> None:
    from .labels import init_labels
    from .messages import init_messages

    Babel(app, locale_selector=select_locale)
    init_labels(app)
    init_messages(app)

    @app.context_processor
    def _languages():
        from flask_babel import get_locale

        return {"LOCALES": LOCALES, "LOCALE_NAMES": LOCALE_NAMES, "current_locale": str(get_locale())}
