"""Second factor: enrolment with a QR code, codes within a small window, no replay,
one-time recovery codes, required for leaders and the chief."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from records.accounts import totp
from records.models import AuditEntry
from records.accounts.models import RecoveryCode, TotpSecret, User
from tests.conftest import login


class _StoppedClock:
    """``records.accounts.totp``'s clock, stopped in the middle of a 30-second step: a slow run can
    not cross into the next step between two requests of one test."""

    def __init__(self):
        self.now = (int(time.time()) // totp.STEP) * totp.STEP + totp.STEP / 2

    def time(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def stopped_clock(monkeypatch):
    clock = _StoppedClock()
    monkeypatch.setattr(totp, "time", clock)
    return clock


def _secret_from(html: str) -> str:
    m = re.search(r'<code class="secret">([A-Z2-7]+)</code>', html)
    assert m, "no secret on the enrolment page"
    return m.group(1)


def _enrol(client, user) -> tuple[str, list[str]]:
    r = login(client, user.username)
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/enrol")
    page = client.get("/login/enrol")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in html and "otpauth://totp/" in html
    assert "style=" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    secret = _secret_from(html)
    r = client.post("/login/enrol", data={"code": totp.current_code(secret)})
    assert r.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", r.get_data(as_text=True))
    assert len(codes) == 10
    return secret, codes


def test_leader_must_enrol_then_gets_in(strict_app, inst, make_user):
    client = strict_app.test_client()
    leader = make_user("leader")
    assert login(client, leader.username).status_code == 302
    assert client.get("/ledger").status_code == 302   # password alone is not a session
    secret, codes = _enrol(client, leader)
    assert client.get("/ledger").status_code == 200
    with inst.unit_of_work() as s:
        row = s.get(TotpSecret, leader.id)
        assert row.confirmed_at is not None and secret.encode() not in row.secret_sealed
        stored = s.execute(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == leader.id)).scalars().all()
        assert len(stored) == 10 and all(c.replace("-", "").encode() not in h for c in codes for h in stored)


def test_code_step_accepts_once_and_refuses_replay(strict_app, inst, make_user):
    client = strict_app.test_client()
    chief = make_user("chief")
    secret, codes = _enrol(client, chief)
    client.post("/logout")
    r = login(client, chief.username)
    assert r.headers["Location"].endswith("/login/code")
    assert client.post("/login/code", data={"code": "000000"}).status_code == 401
    assert client.post("/login/code", data={"code": totp.current_code(secret)}).status_code == 401, \
        "the code used to enrol is spent"
    code = totp.current_code(secret, totp.time.time() + 30)   # the next step, inside the window
    r = client.post("/login/code", data={"code": code})
    assert r.status_code == 302 and client.get("/ledger").status_code == 200
    client.post("/logout")
    login(client, chief.username)
    assert client.post("/login/code", data={"code": code}).status_code == 401, "a code works once"
    # a recovery code works, once
    r = client.post("/login/code", data={"code": codes[0].upper()})
    assert r.status_code == 302
    client.post("/logout")
    login(client, chief.username)
    assert client.post("/login/code", data={"code": codes[0]}).status_code == 401
    with inst.unit_of_work() as s:
        actions = s.execute(select(AuditEntry.action).where(AuditEntry.actor_id == chief.id)).scalars().all()
    assert {"totp.enrol", "login.second_factor", "login.second_factor_failure", "totp.recovery_code"} <= set(actions)


def test_window_is_small(inst, make_user):
    user = make_user("leader")
    with inst.unit_of_work() as s:
        u = s.get(User, user.id)
        secret, uri = totp.begin_enrolment(s, u)
        assert parse_qs(urlsplit(uri).query)["issuer"] == ["Xinfang Records"]
        now = time.time()
        totp.confirm_enrolment(s, u, totp.current_code(secret, now), now=now)
        assert not totp.verify(s, u, totp.current_code(secret, now - 90), now=now)
        assert not totp.verify(s, u, totp.current_code(secret, now + 90), now=now)
        assert totp.verify(s, u, totp.current_code(secret, now + 30), now=now)
        assert not totp.verify(s, u, totp.current_code(secret, now), now=now), "older step after a newer one"
        for junk in (None, 123456, "12345", "1234567", "abcdef", "١٢٣٤٥٦", "x" * 5000):
            assert not totp.verify(s, u, junk, now=now)
            assert not totp.use_recovery_code(s, u, junk)


def test_code_page_needs_the_password_step_first(strict_app, make_user):
    client = strict_app.test_client()
    assert client.get("/login/code").headers["Location"].endswith("/login")
    assert client.post("/login/enrol", data={"code": "123456"}).headers["Location"].endswith("/login")


def test_clerks_are_not_asked_unless_enrolled(strict_app, make_user):
    client = strict_app.test_client()
    clerk = make_user("clerk")
    r = login(client, clerk.username)
    assert r.status_code == 302 and r.headers["Location"].endswith("/ledger")


def test_reset_ends_sessions_and_asks_to_enrol_again(strict_app, inst, make_user):
    client = strict_app.test_client()
    leader = make_user("leader")
    _enrol(client, leader)
    with inst.unit_of_work() as s:
        totp.reset(s, s.get(User, leader.id))
    assert client.get("/ledger").status_code == 302
    assert login(client, leader.username).headers["Location"].endswith("/login/enrol")


def test_a_wrong_code_while_enrolling_is_explained_not_a_crash(strict_app, make_user):
    client = strict_app.test_client()
    leader = make_user("leader")
    login(client, leader.username)
    html = client.get("/login/enrol").get_data(as_text=True)
    secret = _secret_from(html)
    wrong = f"{(int(totp.current_code(secret)) + 500_000) % 1_000_000:06d}"
    r = client.post("/login/enrol", data={"code": wrong})
    assert r.status_code == 422
    assert "otpauth://totp/" in r.get_data(as_text=True)
    assert client.get("/ledger").status_code == 302   # still no session
