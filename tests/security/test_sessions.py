"""Sessions: idle timeout, absolute lifetime, cookie flags, fixation, epoch, headers, CSRF,
API token expiry and revocation."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select, update

from records.accounts import operations as accounts
from records.accounts.models import ApiToken, User
from records.models import AuditEntry
from tests.conftest import TEST_PASSWORD, csrf_token, login


def test_idle_timeout_ends_the_session(app, inst, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    assert client.get("/ledger").status_code == 200
    with client.session_transaction() as sess:
        sess["seen_at"] = time.time() - app.config["XINFANG_IDLE_TIMEOUT"] - 5
    r = client.get("/ledger")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.get("/ledger").status_code == 302, "the session stays ended"
    with inst.unit_of_work() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "session.expired",
                                                   AuditEntry.actor_id == clerk.id)).scalars().first()
        assert entry is not None and '"idle"' in entry.detail


def test_absolute_lifetime_even_when_active(app, inst, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    with client.session_transaction() as sess:
        sess["auth_at"] = time.time() - app.config["XINFANG_SESSION_LIFETIME"] - 5
        sess["seen_at"] = time.time()
    assert client.get("/ledger").status_code == 302
    with inst.unit_of_work() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "session.expired",
                                                   AuditEntry.actor_id == clerk.id)).scalars().first()
        assert '"lifetime"' in entry.detail


def test_a_session_without_timestamps_is_not_trusted(client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    with client.session_transaction() as sess:
        sess.pop("auth_at")
    assert client.get("/ledger").status_code == 302


def test_activity_keeps_the_session_alive(app, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    with client.session_transaction() as sess:
        sess["seen_at"] = time.time() - app.config["XINFANG_IDLE_TIMEOUT"] + 60
    assert client.get("/ledger").status_code == 200
    with client.session_transaction() as sess:
        assert time.time() - sess["seen_at"] < 5


def test_sign_in_starts_a_fresh_session(client, make_user):
    clerk = make_user("clerk")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
        sess["lang"] = "en"
    login(client, clerk.username)
    with client.session_transaction() as sess:
        assert "planted" not in sess and sess["lang"] == "en"


def test_password_change_and_deactivation_end_sessions(inst, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    with inst.unit_of_work() as s:
        accounts.set_password(s, s.get(User, clerk.id), "another-password-456")
    assert client.get("/ledger").status_code == 302
    login(client, clerk.username, "another-password-456")
    assert client.get("/ledger").status_code == 200
    with inst.unit_of_work() as s:
        accounts.set_active(s, s.get(User, clerk.id), False)
    assert client.get("/ledger").status_code == 302
    assert login(client, clerk.username, "another-password-456").status_code == 401


def test_cookie_flags(settings, make_user):
    from app import create_app

    secure = create_app({"XINFANG_SETTINGS": settings.with_(secure_cookies=True), "TESTING": True, "SECRET_KEY": "x",
                         "WTF_CSRF_ENABLED": False})
    clerk = make_user("clerk")
    r = login(secure.test_client(), clerk.username)
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Expires" not in cookie, "a browser-session cookie, not a persistent one"


def test_security_headers(client):
    r = client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["Cache-Control"] == "no-store"


def test_csrf_is_refused_without_a_token(settings, make_user):
    from app import create_app

    guarded = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "x",
                          "XINFANG_SECOND_FACTOR_ROLES": ()})
    client = guarded.test_client()
    clerk = make_user("clerk")
    assert client.post("/login", data={"username": clerk.username, "password": TEST_PASSWORD}).status_code == 400
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": clerk.username, "password": TEST_PASSWORD,
                                       "csrf_token": token}).status_code == 302
    form = {"confirm_old_received_date": "y", "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108",
            "category": "other", "subject": "x", "body": "y"}
    r = client.post("/records/new", data=form)
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert client.post("/logout").status_code == 400
    assert client.get("/ledger").status_code == 200, "a refused CSRF post changes nothing"


def test_api_tokens_expire_and_are_revoked(inst, client, make_user, api_token):
    clerk = make_user("clerk")
    token = api_token(clerk)
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/records", headers=h).status_code == 200
    with inst.unit_of_work() as s:
        s.execute(update(ApiToken).where(ApiToken.prefix == token[:10])
                  .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert client.get("/api/v1/records", headers=h).status_code == 401
    token2 = api_token(clerk)
    with inst.unit_of_work() as s:
        assert accounts.revoke_token(s, s.get(User, clerk.id), token2[:10]) == 1
    r = client.get("/api/v1/records", headers={"Authorization": f"Bearer {token2}"})
    assert r.status_code == 401 and "revoked" in r.get_json()["error"]
    with inst.unit_of_work() as s:
        stored = s.execute(select(ApiToken.token_hash).where(ApiToken.user_id == clerk.id)).scalars().all()
        assert token not in stored and token2 not in stored


@pytest.mark.parametrize("password,ok", [("short", False), ("aaaaaaaaaaaa", False), ("x" * 300, False),
                                         ("correct horse battery", True)])
def test_password_policy(password, ok):
    from records.errors import ValidationError

    if ok:
        accounts.check_password_policy(password)
    else:
        with pytest.raises(ValidationError):
            accounts.check_password_policy(password)
