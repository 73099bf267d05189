"""Issue 15, item 2: separation of duties holds against the administrator. An account never
holds admin with a role that reads letters; a grant of such a role (or of admin) takes effect
only when a second person (the chief, or another administrator) confirms it; both are audited."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from records.accounts import grants, operations as accounts
from records.accounts.models import RoleGrant, User
from records.errors import AccessDenied, ValidationError
from records.models import AuditEntry
from app.cli import cli
from tests.conftest import TEST_PASSWORD, login, unique


def _user(s, u):
    return s.get(User, u.id)


def test_admin_cannot_make_itself_chief(client, inst, make_user):
    admin = make_user("admin")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, admin.username)
    r = client.post(f"/admin/users/{admin.username}", data={"display_name": "x", "roles": ["admin", "chief"]})
    assert r.status_code == 422 and "separation of duties" in r.get_data(as_text=True)
    with inst.unit_of_work() as s:
        assert _user(s, admin).role_set == {"admin"}
        with pytest.raises(ValidationError):
            accounts.update_user(s, _user(s, admin), roles=["admin", "leader"], office=None, by=_user(s, admin))


def test_no_account_holds_admin_with_a_content_role_even_at_set_up(inst):
    with inst.unit_of_work() as s:
        for role in ("clerk", "handler", "leader", "chief", "inspector"):
            with pytest.raises(ValidationError) as info:
                accounts.create_user(s, unique("mix"), TEST_PASSWORD, ["admin", role], office="XFB")
            assert "separation of duties" in info.value.message


def test_a_grant_by_an_admin_waits_for_a_second_person(client, inst, make_user):
    admin, other_admin = make_user("admin"), make_user("admin")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, admin.username)
    name = unique("accomplice")
    r = client.post("/admin/users/new", data={"username": name, "display_name": name, "roles": ["chief"]})
    assert r.status_code == 200 and "take effect when the chief or another administrator" in r.get_data(as_text=True)
    with inst.unit_of_work() as s:
        user = accounts.get_user(s, name)
        assert user.role_set == frozenset(), "no role reads anything before the confirmation"
        [grant] = grants.pending(s, user)
        assert grant.role == "chief" and grant.requested_by_id == admin.id
        grant_id = grant.id
    # the admin who asked cannot confirm, on the page or in the service
    assert client.post(f"/grants/{grant_id}/confirm").status_code == 403
    with inst.unit_of_work() as s:
        with pytest.raises(AccessDenied):
            grants.confirm(s, grants.get(s, grant_id), by=_user(s, admin))
    # nor can the grantee, nor a clerk
    with inst.unit_of_work() as s:
        with pytest.raises(AccessDenied):
            grants.confirm(s, grants.get(s, grant_id), by=accounts.get_user(s, name))
    # the second administrator (or the chief) confirms: the role takes effect, both acts audited
    client2 = client.application.test_client()
    login(client2, other_admin.username)
    assert client2.get("/grants").status_code == 200
    assert client2.post(f"/grants/{grant_id}/confirm").status_code == 302
    with inst.unit_of_work() as s:
        assert accounts.get_user(s, name).role_set == {"chief"}
        actions = {(e.action, e.actor) for e in s.execute(
            select(AuditEntry).where(AuditEntry.target == name)).scalars()}
        assert ("role_grant.request", admin.username) in actions
        assert ("role_grant.confirm", other_admin.username) in actions
        assert s.get(RoleGrant, grant_id).decided_by_id == other_admin.id


def test_the_chief_confirms_and_may_refuse(inst, make_user):
    admin, chief, clerk = make_user("admin"), make_user("chief"), make_user("clerk")
    with inst.unit_of_work() as s:
        target = accounts.create_user(s, unique("t"), TEST_PASSWORD, ["archivist"], office="XFB",
                                      by=_user(s, admin))
        assert target.role_set == {"archivist"}, "a role that reads no letter takes effect at once"
        accounts.update_user(s, target, roles=["archivist", "leader"], office="XFB", by=_user(s, admin))
        assert target.role_set == {"archivist"}
        grant = grants.pending(s, target)[0]
        with pytest.raises(AccessDenied):
            grants.confirm(s, grant, by=_user(s, clerk))
        grants.refuse(s, grant, by=_user(s, chief))
        assert grants.pending(s, target) == [] and target.role_set == {"archivist"}


def test_an_admin_cannot_make_a_second_admin_to_confirm_its_own_requests(inst, make_user):
    admin = make_user("admin")
    with inst.unit_of_work() as s:
        puppet = accounts.create_user(s, unique("puppet"), TEST_PASSWORD, ["admin"], by=_user(s, admin))
        assert puppet.role_set == frozenset() and [g.role for g in grants.pending(s, puppet)] == ["admin"]


def test_console_grants_directly_only_until_the_first_chief(runner, inst, make_user):
    """The operator sets up an instance from the console; once a chief exists, the console's
    grants wait too, and `users confirm-grant` confirms with the confirmer's password."""
    chief_name = make_user("chief").username
    name = unique("console")
    r = runner.invoke(cli, args=["users", "create", name, "--role", "clerk", "--office", "XFB", "--password-stdin"],
                      input=TEST_PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert "Waiting for a second person's confirmation: clerk" in r.output
    r = runner.invoke(cli, args=["users", "confirm-grant", name, "--by", chief_name, "--password-stdin"],
                      input="wrong-password-1\n")
    assert r.exit_code != 0
    r = runner.invoke(cli, args=["users", "confirm-grant", name, "--by", chief_name, "--password-stdin"],
                      input=TEST_PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    with inst.unit_of_work() as s:
        assert accounts.get_user(s, name).role_set == {"clerk"}


def test_console_at_set_up_grants_the_first_chief(tmp_path_factory):
    from app import create_app
    from tests.conftest import fresh_instance

    gen = fresh_instance(tmp_path_factory, "setup")
    settings = next(gen)
    app = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "x"})
    try:
        runner = app.test_cli_runner()
        r = runner.invoke(cli, args=["users", "create", "boss", "--role", "chief", "--password-stdin"],
                          input=TEST_PASSWORD + "\n")
        assert r.exit_code == 0 and "Waiting" not in r.output, r.output
        r = runner.invoke(cli, args=["users", "create", "clerk1", "--role", "clerk", "--office", "XFB",
                                "--password-stdin"], input=TEST_PASSWORD + "\n")
        assert "Waiting for a second person's confirmation: clerk" in r.output
    finally:
        app.extensions["xinfang"].close()
        for _ in gen:
            pass
