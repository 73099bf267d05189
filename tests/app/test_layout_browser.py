"""The 390-px layouts and keyboard use, in a real browser (issue 18): the main pages have no
horizontal overflow on a phone-sized screen (ledger, registration form, record page, search,
board, decisions, my matters, statistics, roster); the skip link is the first thing the
keyboard reaches and leads to the main content; after a registration with errors, focus is on
the first field in error. (The HTML side: tests/app/test_layout_web.py.)"""
from __future__ import annotations

import pytest

from tests.app.browser_support import serve, sign_in, watched_page

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def live_server(settings):
    with serve(settings, XINFANG_SECOND_FACTOR_ROLES=(), XINFANG_JOB_WORKER="off") as base:
        yield base


@pytest.fixture
def phone(browser):
    # a form sent back with its errors answers 422, which the console reports: not a problem
    with watched_page(browser, viewport=PHONE, expected=(422,)) as pg:
        yield pg


def overflow(page) -> list[str]:
    """What sticks out to the right of the viewport (empty when nothing does)."""
    return page.evaluate("""() => {
      const w = document.documentElement.clientWidth;
      if (document.documentElement.scrollWidth <= w) return [];
      const out = [];
      for (const el of document.querySelectorAll('body *')) {
        const r = el.getBoundingClientRect();
        const parent = el.parentElement && el.parentElement.getBoundingClientRect();
        if (r.right > w + 1 && !(parent && parent.right > w + 1)) out.push(el.tagName + '.' + el.className);
      }
      return out.length ? out.slice(0, 8) : ['(document wider than the viewport)'];
    }""")


def test_main_pages_fit_a_390_px_screen(live_server, phone, make_user, make_record):
    base = live_server
    clerk = make_user("clerk")
    leader = make_user("leader", oversees=("XFB", "LDJC"))
    handler = make_user("handler", office="LDJC")
    serial = make_record(clerk, subject="窄屏測試 拖欠工資三個月未發放，請求協調解決")
    pages = {clerk: ["/ledger", "/records/new", f"/records/{serial}", "/search?q=工資", "/search?q=無此字詞甲乙"],
             leader: ["/board", "/desk/decisions", f"/records/{serial}", "/stats", "/roster"],
             handler: ["/desk/mine", "/ledger"]}
    for user, paths in pages.items():
        sign_in(phone, base, user.username)
        for path in paths:
            response = phone.goto(base + path)
            assert response.status == 200, path
            assert overflow(phone) == [], (user.username, path)
        phone.context.clear_cookies()
    assert not phone.problems, phone.problems


def test_skip_link_and_favicon(live_server, phone, make_user):
    base = live_server
    sign_in(phone, base, make_user("clerk").username)
    phone.goto(f"{base}/ledger")
    icon = phone.locator("link[rel=icon]").get_attribute("href")
    assert phone.context.request.get(base + icon).status == 200
    phone.keyboard.press("Tab")
    assert phone.evaluate("document.activeElement.className") == "skip-link"
    assert phone.locator(".skip-link").is_visible()   # shown once it has the focus
    phone.keyboard.press("Enter")
    phone.wait_for_function("document.activeElement && document.activeElement.id === 'main'")


def test_focus_moves_to_the_first_field_in_error(live_server, phone, make_user):
    base = live_server
    sign_in(phone, base, make_user("clerk").username)
    phone.goto(f"{base}/records/new")
    phone.fill("#received_at", "")
    phone.fill("#region", "110108")
    phone.fill("#subject", "")
    phone.fill("#body", "內容")
    phone.click("form.record-form button[type=submit]")
    phone.wait_for_selector("#received_at[aria-invalid=true]")
    phone.wait_for_function("document.activeElement && document.activeElement.id === 'received_at'")
    assert phone.locator("#subject").get_attribute("aria-invalid") == "true"
    assert overflow(phone) == []
    assert not phone.problems, phone.problems
