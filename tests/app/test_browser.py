"""End to end in a real headless browser: Debian's Chromium driven by Playwright.

The app runs for real (werkzeug server in a thread, CSRF on, the module's own instance);
the clerk signs in, registers a letter with a scanned attachment through the form, reads
the serial, finds the letter in the ledger and signs out. No ``playwright install``: the
browser is the system's /usr/bin/chromium (``scripts/test.sh`` installs it when missing).
"""
from __future__ import annotations

import re
import struct
import zlib

import pytest

from tests.app.browser_support import serve, sign_in, sign_out
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser

SERIAL_RE = re.compile(r"XF-\d{4}-\d{6}")


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
    with serve(settings) as base:
        yield base


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
