"""What the browser tests share: the real app served on a loopback port, the system's
Chromium driven by Playwright, a page that collects console errors, and signing in and out.

No ``playwright install``: the browser is the system's /usr/bin/chromium (``scripts/test.sh``
installs it when missing). In CI a missing browser fails the test; on a workstation it skips.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from tests.conftest import TEST_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def unavailable(reason: str):
    """In CI a missing browser is a failure, on a workstation a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true, so the browser test may not be skipped)", pytrace=False)
    pytest.skip(reason)


@contextlib.contextmanager
def serve(settings, **config):
    """The real app (CSRF on, the instance of ``settings``, ``config`` on top) served on a free
    loopback port in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    from app import create_app

    application = create_app({"XINFANG_SETTINGS": settings, "SECRET_KEY": "browser-test-secret",
                              "WTF_CSRF_ENABLED": True, **config})
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        application.extensions["xinfang"].close()


@contextlib.contextmanager
def chromium():
    """The system's Chromium, headless, for as long as the context lasts."""
    if not CHROMIUM.exists():
        unavailable(f"{CHROMIUM} is missing (Debian package 'chromium'; scripts/test.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def watched_page(browser, locale: str = "zh-TW", viewport: dict | None = None, expected: tuple[int, ...] = ()):
    """A page in a fresh context whose console errors and uncaught exceptions are collected in
    ``page.problems`` (a broken page or a CSP violation: no inline code is allowed).
    ``expected``: answer statuses the test provokes on purpose (a form sent back with its
    errors answers 422, which the console reports), not problems."""
    context = browser.new_context(locale=locale, **({"viewport": viewport} if viewport else {}))
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    problems: list[str] = []

    # The browser's own favicon probe may 404 where the app has no icon.
    def on_console(msg):
        if msg.type != "error" or msg.location.get("url", "").endswith("/favicon.ico"):
            return
        if not any(f"status of {code}" in msg.text for code in expected):
            problems.append(msg.text)

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.problems = problems
    try:
        yield pg
    finally:
        context.close()


def sign_in(page, base: str, username: str, password: str = TEST_PASSWORD) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main form button[type=submit]")
    # Each role lands where its work is (a clerk on the ledger, a handler on its matters).
    page.wait_for_url(lambda url: "/login" not in url)


def sign_out(page, base: str) -> None:
    page.click("header form[action='/logout'] button[type=submit]")
    page.wait_for_url(f"{base}/login**")
