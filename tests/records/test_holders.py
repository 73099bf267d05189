"""Candidate lists and the second-factor rule come from the policy (records.policy), not roles."""
from __future__ import annotations

from sqlalchemy import select

from records import policy
from records.accounts import operations as accounts
from records.accounts.models import User
from records.reference.models import Office


def test_holders_are_the_active_accounts_the_table_gives_the_permission(inst, make_user):
    leader, chief, clerk = make_user("leader"), make_user("chief"), make_user("clerk")
    handler, archivist = make_user("handler", office="LDJC"), make_user("archivist")
    gone, admin = make_user("leader"), make_user("admin")
    with inst.unit_of_work() as s:
        accounts.set_active(s, s.get(User, gone.id), False, by=s.get(User, admin.id))
    with inst.unit_of_work() as s:
        def names(permission, **kw):
            return {u.username for u in policy.holders(s, permission, **kw)}

        receiving = names(policy.RECEIVE_VISITORS)
        assert {leader.username, chief.username} <= receiving
        assert not receiving & {clerk.username, handler.username, archivist.username, gone.username}
        assert gone.username in names(policy.RECEIVE_VISITORS, include_inactive=True)
        on_duty = names(policy.BE_ON_DUTY)
        assert {clerk.username, handler.username, leader.username} <= on_duty and archivist.username not in on_duty
        responders = names(policy.BE_FIRST_RESPONDER)
        assert {leader.username, chief.username} <= responders and clerk.username not in responders
        ldjc = s.execute(select(Office).where(Office.code == "LDJC")).scalar_one()
        assert handler.username in names(policy.HANDLE, office=ldjc)
        assert clerk.username not in names(policy.BE_ON_DUTY, office=ldjc)
        # sorted by display name, the order of a form's options
        listed = [u.display_name for u in policy.holders(s, policy.BE_ON_DUTY)]
        assert listed == sorted(listed)


def test_holders_on_a_record_follow_its_scope(inst, make_user, make_record):
    clerk, other_clerk = make_user("clerk"), make_user("clerk")
    serial = make_record(by=clerk)
    with inst.unit_of_work() as s:
        from records.models import Record

        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        readers = {u.username for u in policy.holders(s, policy.VIEW_CONTENT, record=record)}
        assert clerk.username in readers and other_clerk.username not in readers


def test_the_second_factor_is_a_rule_of_the_policy(inst, make_user):
    leader, chief, clerk = make_user("leader"), make_user("chief"), make_user("clerk")
    assert policy.second_factor_roles() == tuple(policy.PERMISSIONS[policy.SECOND_FACTOR]) == ("leader", "chief")
    assert policy.requires_second_factor(leader) and policy.requires_second_factor(chief)
    assert not policy.requires_second_factor(clerk) and not policy.requires_second_factor(None)
    # an instance may switch it off (the test app does: XINFANG_SECOND_FACTOR_ROLES = ())
    assert not policy.requires_second_factor(leader, ())
