"""Issue 15, items 3 and 4: sessions are server-side — a copied cookie stops working at
sign-out, password change, deactivation, role change and second-factor reset; a user sees and
ends their other sessions. And no open redirect through ``next``."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from records.accounts import operations as accounts, totp
from records.accounts.models import User, UserSession
from tests.conftest import TEST_PASSWORD, login


def _copy(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = app.test_client()
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def _bounced(r) -> bool:
    return r.status_code == 302 and "/login" in r.headers["Location"]


def test_sign_out_ends_the_session_for_a_copied_cookie(app, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    thief = _copy(app, client)
    assert thief.get("/ledger").status_code == 200
    client.post("/logout")
    assert _bounced(thief.get("/ledger")), "the copied cookie ended with the sign-out"


@pytest.mark.parametrize("event", ["password", "deactivate", "roles", "second_factor"])
def test_account_changes_end_every_session(app, inst, client, make_user, event):
    user = make_user("clerk")
    login(client, user.username)
    thief = _copy(app, client)
    with inst.unit_of_work() as s:
        u = s.get(User, user.id)
        if event == "password":
            accounts.set_password(s, u, "fresh lantern okra 42")
        elif event == "deactivate":
            accounts.set_active(s, u, False)
        elif event == "roles":
            accounts.update_user(s, u, roles=["clerk", "archivist"], office="XFB")
        else:
            totp.reset(s, u)
    assert _bounced(thief.get("/ledger")) and _bounced(client.get("/ledger"))
    with inst.unit_of_work() as s:
        rows = s.execute(select(UserSession).where(UserSession.user_id == user.id)).scalars().all()
        assert rows and all(r.ended_at is not None for r in rows)


def test_a_user_sees_and_ends_other_sessions(app, inst, make_user):
    clerk = make_user("clerk")
    here, elsewhere, third = app.test_client(), app.test_client(), app.test_client()
    here.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    for c in (here, elsewhere, third):
        assert login(c, clerk.username).status_code == 302
    page = here.get("/account").get_data(as_text=True)
    assert page.count('/end"') == 2 and "This browser" in page
    with inst.unit_of_work() as s:
        ids = [r.id for r in s.execute(select(UserSession).where(UserSession.user_id == clerk.id,
                                                                 UserSession.ended_at.is_(None))
                                       .order_by(UserSession.id)).scalars()]
    assert here.post(f"/account/sessions/{ids[1]}/end").status_code == 302
    assert _bounced(elsewhere.get("/ledger")) and third.get("/ledger").status_code == 200
    here.post("/account/sessions/end-others")
    assert _bounced(third.get("/ledger")) and here.get("/ledger").status_code == 200
    # nobody ends another user's session
    other = make_user("clerk")
    intruder = app.test_client()
    login(intruder, other.username)
    assert intruder.post(f"/account/sessions/{ids[0]}/end").status_code == 404
    assert here.get("/ledger").status_code == 200


def test_no_server_row_no_session(app, client, make_user):
    """A cookie whose session id was never issued (or a forged id) is not a session."""
    clerk = make_user("clerk")
    login(client, clerk.username)
    with client.session_transaction() as sess:
        sess["sid"] = "forged-" + "x" * 30
    assert _bounced(client.get("/ledger"))


EVIL = ["/\t/evil.example", "/%09/evil.example", "/\n/evil.example", "/%0a/evil.example", "/\r\n/evil.example",
        "/\\evil.example", "/%5Cevil.example", "\\/evil.example", "/\\/evil.example", "//evil.example",
        "/%2F/evil.example", "%2F%2Fevil.example", " //evil.example", "/\u202e/evil.example",
        "https://evil.example/", "javascript:alert(1)", "/\x00/evil.example"]


@pytest.mark.parametrize("target", EVIL)
def test_language_switch_never_leaves_the_site(client, target):
    r = client.get("/lang/en", query_string={"next": target})
    assert r.status_code == 302
    assert r.headers["Location"] in ("/", "http://localhost/"), r.headers["Location"]


@pytest.mark.parametrize("target", EVIL)
def test_sign_in_never_leaves_the_site(app, make_user, target):
    clerk = make_user("clerk")
    client = app.test_client()
    r = client.post("/login", query_string={"next": target},
                    data={"username": clerk.username, "password": TEST_PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/ledger"), r.headers["Location"]


def test_local_targets_still_work(client):
    r = client.get("/lang/en", query_string={"next": "/search?q=a%20b&page=2"})   # as base.html sends it
    assert r.headers["Location"].endswith("/search?q=a%20b&page=2")
