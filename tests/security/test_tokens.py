"""Issue 15, item 5: API tokens respect the second factor; they expire (90 days unless told),
carry scopes, a name and a last-used time, and are listed and revoked on the account page
and from the CLI."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.cli import cli
from records.accounts import operations as accounts, tokens, totp
from records.accounts.models import ApiToken, User
from records.db import utcnow
from records.errors import AccessDenied, ValidationError
from tests.conftest import login


def _enrol(s, user):
    secret, _uri = totp.begin_enrolment(s, user)
    totp.confirm_enrolment(s, user, totp.current_code(secret))


def test_a_leader_without_a_second_factor_gets_no_token(inst, strict_app, make_user):
    runner = strict_app.test_cli_runner()   # the production rule: leaders and the chief give a second factor
    leader = make_user("leader")
    r = runner.invoke(cli, ["users", "token", leader.username])
    assert r.exit_code != 0 and "second factor" in r.output
    with inst.unit_of_work() as s:
        with pytest.raises(AccessDenied):
            tokens.issue(s, s.get(User, leader.id))
        _enrol(s, s.get(User, leader.id))
    r = runner.invoke(cli, ["users", "token", leader.username, "--name", "nightly", "--scope", "read",
                            "--scope", "lookup", "--expires-days", "30"])
    assert r.exit_code == 0, r.output
    token = r.output.strip()
    with inst.unit_of_work() as s:
        row = s.execute(select(ApiToken).where(ApiToken.prefix == token[:10])).scalar_one()
        assert row.label == "nightly" and row.scopes == "read lookup"
        assert dt.timedelta(days=29) < row.expires_at - utcnow() <= dt.timedelta(days=30)


def test_lookup_scope_only_with_a_second_factor(inst, make_user):
    clerk_leader = make_user("leader")
    with inst.unit_of_work() as s:
        u = s.get(User, clerk_leader.id)
        # an instance that asks no second factor at sign-in of leaders still keeps look-ups behind it
        with pytest.raises(AccessDenied):
            tokens.issue(s, u, scopes=["lookup"], second_factor_roles=("chief",))
        plain = tokens.issue(s, u, second_factor_roles=("chief",))
        assert "lookup" not in tokens.find(s, plain).scopes


def test_default_expiry_is_90_days_and_scopes_are_checked(inst, make_user):
    clerk = make_user("clerk")
    with inst.unit_of_work() as s:
        u = s.get(User, clerk.id)
        t = tokens.issue(s, u)
        row = tokens.find(s, t)
        assert dt.timedelta(days=89) < row.expires_at - utcnow() <= dt.timedelta(days=90)
        assert row.scopes == "read register workflow"
        with pytest.raises(ValidationError):
            tokens.issue(s, u, scopes=["retention"])      # a clerk's roles give it no use
        with pytest.raises(ValidationError):
            tokens.issue(s, u, scopes=["everything"])


def test_a_read_token_cannot_register(client, inst, make_user):
    clerk = make_user("clerk")
    with inst.unit_of_work() as s:
        token = tokens.issue(s, s.get(User, clerk.id), scopes=["read"])
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/records", headers=h).status_code == 200
    r = client.post("/api/v1/records", json={"channel": "letter"}, headers=h)
    assert r.status_code == 403 and "register" in r.get_json()["error"]


def test_a_token_without_lookup_scope_cannot_look_up(client, inst, make_user):
    leader = make_user("leader")
    with inst.unit_of_work() as s:
        token = tokens.issue(s, s.get(User, leader.id), scopes=["read"], second_factor_roles=())
    r = client.post("/api/v1/lookups", json={"kind": "phone", "value": "13812345678", "reason": "核實重複來信情況需要"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and "lookup" in r.get_json()["error"]


def test_second_factor_reset_revokes_tokens(inst, make_user):
    leader = make_user("leader")
    with inst.unit_of_work() as s:
        _enrol(s, s.get(User, leader.id))
        token = tokens.issue(s, s.get(User, leader.id))
    with inst.unit_of_work() as s:
        totp.reset(s, s.get(User, leader.id))
    with inst.unit_of_work() as s:
        assert tokens.find(s, token) is None


def test_tokens_listed_and_revoked_on_the_account_page(app, inst, make_user):
    clerk = make_user("clerk")
    web = app.test_client()
    web.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(web, clerk.username)
    r = web.post("/account/tokens", data={"name": "scanner", "scopes": ["read", "register"], "days": "10"})
    assert r.status_code == 201
    page = r.get_data(as_text=True)
    with inst.unit_of_work() as s:
        row = s.execute(select(ApiToken).where(ApiToken.user_id == clerk.id)).scalar_one()
        assert row.label == "scanner" and row.scopes == "read register"
        prefix = row.prefix
    assert "shown only once" in page and prefix in page
    listing = web.get("/account").get_data(as_text=True)
    assert "scanner" in listing and prefix in listing and "never" in listing
    assert web.post(f"/account/tokens/{prefix}/revoke").status_code == 302
    with inst.unit_of_work() as s:
        assert s.execute(select(ApiToken).where(ApiToken.prefix == prefix)).scalar_one().revoked_at is not None


def test_cli_lists_and_revokes(inst, runner, make_user):
    clerk = make_user("clerk")
    token = runner.invoke(cli, ["users", "token", clerk.username, "--name", "export job"]).output.strip()
    out = runner.invoke(cli, ["users", "tokens", clerk.username]).output
    assert token[:10] in out and "export job" in out and "read register workflow" in out
    r = runner.invoke(cli, ["users", "revoke-token", clerk.username, token[:10]])
    assert r.exit_code == 0 and "Revoked 1" in r.output
    assert token[:10] not in runner.invoke(cli, ["users", "tokens", clerk.username]).output
    with inst.unit_of_work() as s:
        assert accounts.user_for_token(s, token) is None
