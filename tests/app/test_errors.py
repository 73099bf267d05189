"""Errors as users see them: a calm HTML page on the web, JSON under /api, never a stack
trace; an unexpected exception is logged by type and place, never by its message (which
may hold letter text)."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from records import audit
from records.models import AuditEntry
from tests.conftest import api_letter, TEST_PASSWORD

CANARY = "CANARY-5J2K-王小明-110108199001011231"


def assert_page(response, status: int, message: str) -> str:
    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert response.mimetype == "text/html"
    assert message in page
    assert "Traceback" not in page and 'File "' not in page and "werkzeug" not in page.lower()
    assert 'href="/"' in page, "a way back"
    assert "Content-Security-Policy" in response.headers and response.headers["X-Frame-Options"] == "DENY"
    return page


def assert_json(response, status: int) -> dict:
    body_text = response.get_data(as_text=True)
    assert response.status_code == status, body_text
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"] and isinstance(body["fields"], dict)
    assert "Traceback" not in body_text and 'File "' not in body_text
    return body


@pytest.fixture
def web(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


# -- 404 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/nowhere", "/records/XF-2026-000001/nothing", "/static/nothing.css"])
def test_404_page(web, path):
    assert_page(web.get(path), 404, "Not found.")


def test_404_page_when_signed_in(web, make_user):
    clerk = make_user("clerk")
    web.post("/login", data={"username": clerk.username, "password": TEST_PASSWORD})
    page = assert_page(web.get("/records/XF-2026-999999"), 404, "No such record.")
    assert clerk.display_name in page, "the page keeps the signed-in header"


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v1/records/XF-2026-000001/nothing", "/api/x"])
def test_404_json(web, path):
    assert_json(web.get(path), 404)


# -- 405 ------------------------------------------------------------------------------------------
def test_405_page(web):
    r = web.get("/logout")
    assert_page(r, 405, "This method is not allowed here.")
    assert "POST" in r.headers["Allow"]
    r = web.put("/ledger")
    assert_page(r, 405, "This method is not allowed here.")
    assert "GET" in r.headers["Allow"]


def test_405_json(web):
    r = web.post("/api/v1/openapi.json", json={})
    assert_json(r, 405)
    assert "GET" in r.headers["Allow"]
    r = web.delete("/api/v1/records")
    assert_json(r, 405)
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


# -- 413 ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_app(settings):
    """An app that takes request bodies of at most 4 KB."""
    from app import create_app

    application = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "x",
                              "WTF_CSRF_ENABLED": False, "MAX_CONTENT_LENGTH": 4096})
    yield application
    application.extensions["xinfang"].close()


def test_413_page(small_app):
    client = small_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    r = client.post("/login", data={"username": "someone", "password": "x" * 10_000})
    assert_page(r, 413, "The upload is too large.")


def test_413_json(small_app, inst, make_user, api_token):
    clerk = make_user("clerk")
    with inst.unit_of_work() as s:
        before = s.execute(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "record.register")).scalar_one()
    r = small_app.test_client().post("/api/v1/records", json=api_letter(body="長" * 5000),
                                     headers={"Authorization": f"Bearer {api_token(clerk)}"})
    body = assert_json(r, 413)
    assert "長長長" not in body["error"]
    with inst.unit_of_work() as s:
        assert s.execute(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "record.register")).scalar_one() == before


# -- 500 ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def boom_app(settings):
    """A separate app with throw-away routes that fail after writing: nothing may be kept."""
    from app import create_app
    from app.web import db

    application = create_app({"XINFANG_SETTINGS": settings, "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False})

    def boom():
        audit.record(db(), "test.boom", target="half-written")
        raise RuntimeError(CANARY)

    def boom_key():
        return {}["letter text " + CANARY]

    application.add_url_rule("/boom", "boom", boom)
    application.add_url_rule("/boom-key", "boom_key", boom_key)
    application.add_url_rule("/api/v1/boom", "api_boom", boom)
    yield application
    application.extensions["xinfang"].close()


def test_500_page_is_generic_and_the_log_names_the_type_only(boom_app, inst, caplog):
    client = boom_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with caplog.at_level(logging.DEBUG):
        page = assert_page(client.get("/boom"), 500, "Something went wrong on our side")
    assert CANARY not in page and "RuntimeError" not in page
    lines = [r for r in caplog.records if r.name == "xinfang.web"]
    assert lines and any("RuntimeError" in r.getMessage() for r in lines), caplog.text
    assert any("test_errors.py" in r.getMessage() for r in lines), "the log says where"
    for r in caplog.records:
        assert CANARY not in r.getMessage() and not r.exc_info, r.getMessage()
    assert CANARY not in caplog.text and "王小明" not in caplog.text
    with inst.unit_of_work() as s:
        assert s.execute(select(func.count()).select_from(AuditEntry)
                         .where(AuditEntry.action == "test.boom")).scalar_one() == 0, "rolled back"


def test_500_key_error_does_not_leak_the_key(boom_app, caplog):
    client = boom_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    with caplog.at_level(logging.DEBUG):
        page = assert_page(client.get("/boom-key"), 500, "Something went wrong on our side")
    assert CANARY not in page
    assert "KeyError" in caplog.text and CANARY not in caplog.text


def test_500_json(boom_app, caplog):
    with caplog.at_level(logging.DEBUG):
        body = assert_json(boom_app.test_client().get("/api/v1/boom"), 500)
    assert CANARY not in str(body) and "RuntimeError" not in str(body)
    assert "RuntimeError" in caplog.text and CANARY not in caplog.text


def test_numbers_beyond_the_database_range_are_bad_input_not_a_crash(client, make_user, api_token):
    """PostgreSQL refuses integers beyond 32 bits where SQLite does not: either way the caller
    gets a 4xx, never a 500."""
    chief = make_user("chief")
    h = {"Authorization": f"Bearer {api_token(chief)}"}
    r = client.get("/api/v1/retention/batches/99999999999999999", headers=h)
    assert r.status_code in (400, 404), r.get_data(as_text=True)
    assert client.get("/api/v1/retention/batches?year=²", headers=h).status_code == 422
    assert client.get("/api/v1/retention/batches?year=99999999999", headers=h).status_code == 422
