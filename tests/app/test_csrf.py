"""CSRF on every form: with the protection on (as in production), a POST without the form's
token is refused with a clear message and changes nothing; with the token it works."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from records.models import AuditEntry, Record
from tests.conftest import api_letter, TEST_PASSWORD, csrf_token

FORM = {
    "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
    "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
    "people_count": "1", "subject": "拖欠工資", "body": "公司拖欠工資三個月。",
    "petitioner_name": "王小明", "petitioner_id_number": "110108199001011231",
    "petitioner_phone": "13812345678", "petitioner_address": "北京市海淀區",
}
CSRF_MESSAGE = "CSRF check failed"


@pytest.fixture(scope="module")
def csrf_app(settings):
    from app import create_app

    application = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "x"})
    assert application.config.get("WTF_CSRF_ENABLED", True) is not False
    yield application
    application.extensions["xinfang"].close()


@pytest.fixture(scope="module")
def clerk(inst):
    """One clerk for the module (Argon2 makes every new user cost a few tenths of a second)."""
    from types import SimpleNamespace

    from records.accounts import operations as accounts

    with inst.unit_of_work() as s:
        user = accounts.create_user(s, "csrfclerk", TEST_PASSWORD, ["clerk"], office="XFB")
        s.flush()
        return SimpleNamespace(id=user.id, username=user.username)


@pytest.fixture
def web(csrf_app):
    client = csrf_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def count(inst, model, *where) -> int:
    with inst.unit_of_work() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def assert_refused(response):
    page = response.get_data(as_text=True)
    assert response.status_code == 400, page
    assert response.mimetype == "text/html"
    assert CSRF_MESSAGE in page and "Traceback" not in page


def sign_in(web, user):
    token = csrf_token(web.get("/login").get_data(as_text=True))
    r = web.post("/login", data={"username": user.username, "password": TEST_PASSWORD, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)


def signed_in(web) -> bool:
    return web.get("/ledger").status_code == 200


def test_login_without_token_is_refused_and_nothing_is_written(web, inst, clerk):
    before = count(inst, AuditEntry)
    assert_refused(web.post("/login", data={"username": clerk.username, "password": TEST_PASSWORD}))
    assert count(inst, AuditEntry) == before, "not even a failed sign-in is recorded"
    assert not signed_in(web)


def test_login_with_a_wrong_token_is_refused(web, clerk):
    web.get("/login")
    assert_refused(web.post("/login", data={"username": clerk.username, "password": TEST_PASSWORD,
                                            "csrf_token": "not-the-token"}))
    assert not signed_in(web)


def test_token_of_another_session_is_refused(csrf_app, web, clerk):
    foreign = csrf_token(csrf_app.test_client().get("/login").get_data(as_text=True))
    web.get("/login")
    assert_refused(web.post("/login", data={"username": clerk.username, "password": TEST_PASSWORD,
                                            "csrf_token": foreign}))


def test_login_with_token_works(web, clerk):
    sign_in(web, clerk)
    assert signed_in(web)


def test_registration_without_token_is_refused_and_nothing_is_written(web, inst, clerk):
    sign_in(web, clerk)
    before = count(inst, Record), count(inst, AuditEntry, AuditEntry.action == "record.register")
    assert_refused(web.post("/records/new", data=FORM))
    assert_refused(web.post("/records/new", data={**FORM, "csrf_token": "forged"}))
    assert (count(inst, Record), count(inst, AuditEntry, AuditEntry.action == "record.register")) == before


def test_registration_with_token_works(web, inst, clerk):
    sign_in(web, clerk)
    before = count(inst, Record)
    token = csrf_token(web.get("/records/new").get_data(as_text=True))
    r = web.post("/records/new", data={**FORM, "csrf_token": token})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert count(inst, Record) == before + 1
    assert "拖欠工資" in web.get(r.headers["Location"]).get_data(as_text=True)


def test_logout_without_token_is_refused(web, inst, clerk):
    sign_in(web, clerk)
    before = count(inst, AuditEntry, AuditEntry.action == "logout")
    assert_refused(web.post("/logout"))
    assert signed_in(web), "still signed in"
    assert count(inst, AuditEntry, AuditEntry.action == "logout") == before


def test_logout_with_the_token_from_the_page_works(web, clerk):
    sign_in(web, clerk)
    token = csrf_token(web.get("/ledger").get_data(as_text=True))   # the sign-out form in the header
    r = web.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert not signed_in(web)


def test_api_needs_no_csrf_token(web, clerk, api_token):
    r = web.post("/api/v1/records", json=api_letter(), headers={"Authorization": f"Bearer {api_token(clerk)}"})
    assert r.status_code == 201, r.get_json()


def test_api_refuses_cookie_sessions(web, clerk):
    """The API is exempt from CSRF because it takes bearer tokens only: a signed-in browser
    session must not be enough to call it."""
    sign_in(web, clerk)
    r = web.post("/api/v1/records", json=api_letter())
    assert r.status_code == 401 and r.get_json()["error"]
