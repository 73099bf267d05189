"""Accounts: password policy, Argon2, sign-in, session epochs, API tokens (stored hashed)."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import select, update

from records.accounts import operations as accounts
from records import policy
from records.errors import Conflict, NotFound, ValidationError
from records.accounts.models import ApiToken, User
from records.db import utcnow
from tests.conftest import TEST_PASSWORD, login


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2():
    """Argon2id with small parameters: these tests create many accounts, and the strength of
    the hash is not what they test (test_accounts checks the production parameters)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as _accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


#: The hasher the service really uses (captured before the module's cheap one replaces it).
PRODUCTION_HASHER = accounts._hasher


def _user(s, user) -> User:
    return s.get(User, user.id)


# -- password policy ----------------------------------------------------------------------
@pytest.mark.parametrize("password", ["", "short", "123456789", "a" * 10, "abababababab", "x" * 257, None, 12345678901,
                                      "abcd123456", "x" * 200 + "abcd"])
def test_weak_passwords_are_refused(password):
    """Too short, too long, too few different characters, not text, too easy to guess
    (issue 15: the strength estimator refuses common patterns)."""
    with pytest.raises(ValidationError) as info:
        accounts.check_password_policy(password)
    assert "password" in info.value.fields
    if isinstance(password, str) and password:
        assert password not in info.value.message


@pytest.mark.parametrize("password", ["plum-river-4071", "正確的馬電池釘書針很長", "Ocean tide 58 mirror; " + "x" * 200,
                                      "P@ss w0rd!!"])
def test_reasonable_passwords_are_accepted(password):
    accounts.check_password_policy(password)


def test_passwords_are_stored_as_argon2_hashes(inst, make_user):
    user = make_user("clerk")
    with inst.unit_of_work() as s:
        stored = _user(s, user).password_hash
    assert stored.startswith("$argon2id$") and TEST_PASSWORD not in stored


def test_production_argon2_parameters_and_rehash_on_login(inst, make_user, monkeypatch):
    """The service hashes with Argon2id at (at least) argon2-cffi's recommended cost; a hash
    made with weaker parameters is upgraded at the next good sign-in."""
    params = PRODUCTION_HASHER.hash("abcd123456").split("$")[3]
    m, t, p = (int(kv.split("=")[1]) for kv in params.split(","))
    assert m >= 65536 and t >= 2 and p >= 1
    user = make_user("clerk")   # hashed with this module's cheap parameters
    monkeypatch.setattr(accounts, "_hasher", PRODUCTION_HASHER)
    with inst.unit_of_work() as s:
        assert accounts.authenticate(s, user.username, TEST_PASSWORD) is not None
    with inst.unit_of_work() as s:
        upgraded = _user(s, user).password_hash
    assert upgraded.split("$")[3] == params
    assert not PRODUCTION_HASHER.check_needs_rehash(upgraded)


# -- creating users ---------------------------------------------------------------------------
def test_create_user_validates_input(inst):
    cases = [
        ({"username": "Bad Name", "roles": ["clerk"], "office": "XFB"}, "username"),
        ({"username": "x", "roles": ["clerk"], "office": "XFB"}, "username"),
        ({"username": "okname1", "roles": [], "office": "XFB"}, "roles"),
        ({"username": "okname2", "roles": ["emperor"]}, "roles"),
        ({"username": "okname3", "roles": ["clerk"]}, "office"),
        ({"username": "okname4", "roles": ["handler"]}, "office"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ValidationError) as info, inst.unit_of_work() as s:
            accounts.create_user(s, password=TEST_PASSWORD, **kwargs)
        assert field in info.value.fields, (kwargs, info.value.fields)
    with pytest.raises(NotFound), inst.unit_of_work() as s:
        accounts.create_user(s, "okname5", TEST_PASSWORD, ["clerk"], office="NOPE")
    with pytest.raises(ValidationError), inst.unit_of_work() as s:
        accounts.create_user(s, "okname6", "weak", ["clerk"], office="XFB")
    with inst.unit_of_work() as s:
        assert s.execute(select(User).where(User.username.like("okname%"))).first() is None


def test_duplicate_user_names_conflict(inst, make_user):
    user = make_user("inspector")
    with pytest.raises(Conflict), inst.unit_of_work() as s:
        accounts.create_user(s, user.username, TEST_PASSWORD, ["inspector"])


def test_leaders_oversee_offices(inst, make_user):
    leader = make_user("leader", oversees=("LDJC", "SHBX"))
    assert sorted(o.code for o in leader.overseen) == ["LDJC", "SHBX"]
    multi = make_user("clerk", "handler", office="XFB")
    assert multi.role_set == {"clerk", "handler"} and multi.office.code == "XFB"


# -- authentication ----------------------------------------------------------------------
def test_authenticate_good_bad_unknown_and_inactive(inst, make_user):
    # (few failures per account: five in a row would lock it, see records/lockout.py)
    user, other, third = make_user("clerk"), make_user("clerk"), make_user("clerk")
    with inst.unit_of_work() as s:
        got = accounts.authenticate(s, user.username, TEST_PASSWORD, address="127.0.0.1")
        assert got is not None and got.id == user.id and got.last_login_at is not None
    with inst.unit_of_work() as s:
        assert accounts.authenticate(s, user.username, TEST_PASSWORD + "x") is None
        assert accounts.authenticate(s, user.username, "") is None
        assert accounts.authenticate(s, other.username, None) is None
        assert accounts.authenticate(s, other.username.upper(), TEST_PASSWORD) is None
        assert accounts.authenticate(s, "nobody-" + user.username, TEST_PASSWORD) is None
        assert accounts.authenticate(s, "", TEST_PASSWORD) is None
        assert accounts.authenticate(s, "a" * 500, TEST_PASSWORD) is None
        assert accounts.authenticate(s, None, TEST_PASSWORD) is None
    with inst.unit_of_work() as s:
        assert accounts.authenticate(s, user.username, TEST_PASSWORD) is not None
        accounts.set_active(s, _user(s, third), False)
    with inst.unit_of_work() as s:
        assert accounts.authenticate(s, third.username, TEST_PASSWORD) is None
    with inst.unit_of_work() as s:
        accounts.set_active(s, _user(s, third), True)
    with inst.unit_of_work() as s:
        assert accounts.authenticate(s, third.username, TEST_PASSWORD) is not None


def test_set_password_changes_the_password(inst, make_user):
    user = make_user("clerk")
    with pytest.raises(ValidationError), inst.unit_of_work() as s:
        accounts.set_password(s, _user(s, user), "short")
    with inst.unit_of_work() as s:
        accounts.set_password(s, _user(s, user), "a-new-password-789")
    with inst.unit_of_work() as s:
        assert accounts.authenticate(s, user.username, TEST_PASSWORD) is None
        assert accounts.authenticate(s, user.username, "a-new-password-789") is not None


def test_session_epoch_bumps_on_password_change_and_deactivation(inst, make_user):
    user = make_user("clerk")
    epoch = user.session_epoch
    with inst.unit_of_work() as s:
        accounts.set_password(s, _user(s, user), "a-new-password-789")
    with inst.unit_of_work() as s:
        assert _user(s, user).session_epoch == epoch + 1
        accounts.set_active(s, _user(s, user), False)
    with inst.unit_of_work() as s:
        assert _user(s, user).session_epoch == epoch + 2
        accounts.set_active(s, _user(s, user), True)
    with inst.unit_of_work() as s:
        assert _user(s, user).session_epoch == epoch + 3


def test_a_password_change_ends_open_web_sessions(app, inst, make_user):
    user = make_user("clerk")
    client = app.test_client()
    assert login(client, user.username).status_code == 302
    assert client.get("/ledger").status_code == 200
    with inst.unit_of_work() as s:
        accounts.set_password(s, _user(s, user), "a-new-password-789")
    r = client.get("/ledger")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert login(client, user.username, "a-new-password-789").status_code == 302
    assert client.get("/ledger").status_code == 200
    with inst.unit_of_work() as s:
        accounts.set_active(s, _user(s, user), False)
    assert client.get("/ledger").status_code == 302


# -- API tokens ------------------------------------------------------------------------------
def test_token_issue_use_and_hash_only(inst, make_user):
    user = make_user("handler")
    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, _user(s, user), label="integration")
    assert token.startswith(accounts.TOKEN_PREFIX) and len(token) > 40
    with inst.unit_of_work() as s:
        assert accounts.user_for_token(s, token).id == user.id
        row = s.execute(select(ApiToken).where(ApiToken.user_id == user.id)).scalar_one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.prefix == token[:10] and row.label == "integration"
        assert dt.timedelta(days=89) < row.expires_at - utcnow() <= dt.timedelta(days=90)  # issue 15: 90 days
        assert row.last_used_at is not None


def test_unknown_or_malformed_tokens_are_refused(inst, make_user):
    user = make_user("clerk")
    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, _user(s, user))
    with inst.unit_of_work() as s:
        for bad in ("", "xf_", token[:-1], token + "a", token[len(accounts.TOKEN_PREFIX):],
                    "xf_" + "a" * 200, None, 42, hashlib.sha256(token.encode()).hexdigest()):
            assert accounts.user_for_token(s, bad) is None, bad


def test_expired_tokens_are_refused(inst, make_user):
    user = make_user("clerk")
    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, _user(s, user), days=1)
    with inst.unit_of_work() as s:
        assert accounts.user_for_token(s, token) is not None
        s.execute(update(ApiToken).where(ApiToken.user_id == user.id)
                  .values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    with inst.unit_of_work() as s:
        assert accounts.user_for_token(s, token) is None


def test_tokens_without_expiry(inst, make_user):
    user = make_user("clerk")
    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, _user(s, user), days=None)
    with inst.unit_of_work() as s:
        assert accounts.user_for_token(s, token) is not None
        assert s.execute(select(ApiToken.expires_at).where(ApiToken.user_id == user.id)).scalar_one() is None


def test_revoked_tokens_are_refused_and_others_keep_working(inst, make_user):
    user = make_user("clerk")
    with inst.unit_of_work() as s:
        t1 = accounts.issue_token(s, _user(s, user), label="one")
        t2 = accounts.issue_token(s, _user(s, user), label="two")
    with inst.unit_of_work() as s:
        assert accounts.revoke_token(s, _user(s, user), t1[:10]) == 1
    with inst.unit_of_work() as s:
        assert accounts.user_for_token(s, t1) is None
        assert accounts.user_for_token(s, t2) is not None
        assert accounts.revoke_token(s, _user(s, user), t1[:10]) == 0   # already revoked
        assert accounts.revoke_token(s, _user(s, user), "xf_nothing") == 0


def test_a_deactivated_users_tokens_stop_working(app, inst, make_user):
    user = make_user("clerk")
    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, _user(s, user))
    client = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/records", headers=h).status_code == 200
    with inst.unit_of_work() as s:
        accounts.set_active(s, _user(s, user), False)
    r = client.get("/api/v1/records", headers=h)
    assert r.status_code == 401 and "error" in r.get_json()


def test_the_api_refuses_bad_authorization_headers(app, make_user, api_token):
    client = app.test_client()
    token = api_token(make_user("clerk"))
    for header in ({}, {"Authorization": token}, {"Authorization": f"Basic {token}"},
                   {"Authorization": "Bearer "}, {"Authorization": "Bearer xf_unknown"}):
        r = client.get("/api/v1/records", headers=header)
        assert r.status_code == 401, header
        assert token not in r.get_data(as_text=True)
    assert client.get("/api/v1/records", headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_every_role_may_hold_a_token(inst, make_user):
    for role in ("clerk", "handler", "leader", "chief", "archivist", "inspector", "admin"):
        assert policy.can(make_user(role), policy.USE_API)


def test_the_token_string_is_never_stored(inst, settings, make_user):
    user = make_user("clerk")
    with inst.unit_of_work() as s:
        token = accounts.issue_token(s, _user(s, user))
    with inst.unit_of_work() as s:
        accounts.user_for_token(s, token)
    secret_part = token[10:].encode()   # the prefix (first 10 characters) is kept on purpose
    for path in settings.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert token.encode() not in data, path
            assert secret_part not in data, path
    # nor in the audit trail
    from records.models import AuditEntry
    with inst.unit_of_work() as s:
        for e in s.execute(select(AuditEntry)).scalars():
            assert token not in e.detail and token[10:] not in e.detail
