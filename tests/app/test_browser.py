"""End to end in a real headless browser: Debian's Chromium driven by Playwright.

The app runs for real (werkzeug server in a thread, CSRF on, the module's own instance);
the clerk signs in, registers a letter with a scanned attachment through the form, reads
the serial, finds the letter in the ledger and signs out. No ``playwright install``: the
browser is the system's /usr/bin/chromium (``scripts/test.sh`` installs it when missing).
"""
from __future__ import annotations

import os
import re
import struct
import threading
import zlib
from pathlib import Path

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERIAL_RE = re.compile(r"XF-\d{4}-\d{6}")


def _unavailable(reason: str):
    """In CI a missing browser is a failure, on a workstation a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true, so the browser test may not be skipped)", pytrace=False)
    pytest.skip(reason)


def tiny_png() -> bytes:
    """A valid 1×1 grey PNG, built here so the test needs no binary fixture file."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
            + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def live_server(settings):
    """The real app with CSRF enabled, served on a free loopback port for this module."""
    from werkzeug.serving import make_server

    from app import create_app

    application = create_app({"XINFANG_SETTINGS": settings, "SECRET_KEY": "browser-test-secret",
                              "WTF_CSRF_ENABLED": True})
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    application.extensions["xinfang"].close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (Debian package 'chromium'; scripts/test.sh installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-TW")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    problems: list[str] = []
    # Errors in the console would mean a broken page or a CSP violation (no inline code
    # allowed). The browser's own favicon probe may 404: the app has no icon.
    def on_console(msg):
        if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico"):
            problems.append(msg.text)

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: problems.append(str(exc)))
    pg.problems = problems
    yield pg
    context.close()


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("main form button[type=submit]")
    # Each role lands where its work is (a clerk on the ledger, a handler on its matters).
    page.wait_for_url(lambda url: "/login" not in url)


def sign_out(page, base: str) -> None:
    page.click("header form[action='/logout'] button[type=submit]")
    page.wait_for_url(f"{base}/login**")


def test_clerk_registers_a_letter_and_finds_it_in_the_ledger(live_server, page, make_user):
    base = live_server
    clerk = make_user("clerk")
    subject = f"瀏覽器測試 拖欠工資 {clerk.username}"
    scan = tiny_png()

    sign_in(page, base, clerk.username)
    assert page.locator("header .who").inner_text().startswith(clerk.display_name)

    # The registration form, reached from the navigation as a person would.
    page.click("nav.main-nav a[href='/records/new']")
    page.wait_for_url(f"{base}/records/new")
    assert page.locator("input[name=csrf_token]").first.get_attribute("value")
    page.select_option("#channel", "letter")
    page.fill("#received_at", "2026-03-02T10:00")
    page.fill("#region", "110108")  # a text box with suggestions (any national code), not a list
    page.select_option("#category", "labour_wages")
    page.fill("#people_count", "1")
    page.fill("#petitioner_name", "王小明")
    page.fill("#petitioner_id_number", "110108199001011231")
    page.fill("#petitioner_phone", "13812345678")
    page.fill("#petitioner_address", "北京市海淀區中關村大街1號")
    page.fill("#subject", subject)
    page.fill("#body", "本人於某建築公司工作，公司拖欠工資三個月，請求協調解決。")
    page.set_input_files("#attachments", files=[{"name": "scan.png", "mimeType": "image/png", "buffer": scan}])
    page.click("form.record-form button[type=submit]")

    # The record page: the serial in the heading and in the confirmation.
    page.wait_for_url(re.compile(re.escape(base) + r"/records/XF-\d{4}-\d{6}$"))
    serial = page.url.rsplit("/", 1)[-1]
    assert SERIAL_RE.fullmatch(serial)
    assert serial.startswith("XF-2026-")
    assert serial in page.locator("h1").inner_text()
    assert serial in page.locator(".flash-success").inner_text()
    assert subject in page.content()
    # The clerk registered it, so the clerk reads it; the scan is listed and downloads intact.
    link = page.locator("ul.attachments a", has_text="scan.png")
    assert link.count() == 1
    download = page.context.request.get(base + link.get_attribute("href"))
    assert download.status == 200 and download.body() == scan

    # The ledger lists it, with its subject, under its serial.
    page.click("nav.main-nav a[href='/ledger']")
    page.wait_for_url(f"{base}/ledger")
    row = page.locator("table.ledger tbody tr", has=page.locator(f"a:text-is('{serial}')"))
    assert row.count() == 1
    assert subject in row.inner_text()
    row.locator("a", has_text=serial).click()
    page.wait_for_url(f"{base}/records/{serial}")

    sign_out(page, base)
    assert page.locator(".flash-info").count() == 1
    # Signed out: the ledger sends the browser back to the sign-in page.
    page.goto(f"{base}/ledger")
    assert "/login" in page.url
    assert not page.problems, page.problems

    # A handler of another office is refused the same record.
    outsider = make_user("handler", office="SHBX")
    sign_in(page, base, outsider.username)
    response = page.goto(f"{base}/records/{serial}")
    assert response.status == 404
    assert subject not in page.content()
    sign_out(page, base)


def test_forms_refuse_a_post_without_csrf_token(live_server, page, make_user):
    """CSRF is really on in this server: a sign-in POST without the token is refused."""
    clerk = make_user("clerk")
    response = page.context.request.post(f"{live_server}/login", form={
        "username": clerk.username, "password": TEST_PASSWORD}, max_redirects=0)
    assert response.status == 400
