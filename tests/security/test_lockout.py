"""Lockout with back-off after repeated failed sign-ins, per account and per address,
counted in the database (so several processes agree)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from records.accounts import operations as accounts, lockout
from app.composition import build_instance
from records.models import AuditEntry
from records.accounts.models import LoginThrottle
from tests.conftest import TEST_PASSWORD, login


def test_account_locks_after_repeated_failures_even_with_the_right_password(inst, client, make_user):
    clerk = make_user("clerk")
    for _ in range(lockout.ACCOUNT_THRESHOLD):
        assert login(client, clerk.username, "wrong-password-1").status_code == 401
    r = login(client, clerk.username)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    with inst.unit_of_work() as s:
        locked = s.execute(select(AuditEntry).where(AuditEntry.action == "login.locked",
                                                    AuditEntry.actor == clerk.username)).scalars().all()
        assert locked, "a refused attempt during a lock is audited"


def test_back_off_doubles_and_is_capped():
    t = lockout.ACCOUNT_THRESHOLD
    assert lockout.lock_duration(t - 1, t) is None
    assert lockout.lock_duration(t, t) == lockout.BASE_LOCK
    assert lockout.lock_duration(t + 1, t) == 2 * lockout.BASE_LOCK
    assert lockout.lock_duration(t + 50, t) == lockout.MAX_LOCK


def test_counts_are_shared_between_processes(settings, inst, make_user):
    clerk = make_user("clerk")
    other = build_instance(settings)   # a second process: its own engine and connections
    try:
        for i in range(lockout.ACCOUNT_THRESHOLD):
            owner = inst if i % 2 else other
            with owner.unit_of_work() as s:
                assert accounts.authenticate(s, clerk.username, "nope-nope-nope", address="10.0.0.9") is None
        with other.unit_of_work() as s:
            assert lockout.locked_for(s, clerk.username, "") > 0
    finally:
        other.close()


def test_address_locks_across_accounts(inst):
    address = "203.0.113.7"
    with inst.unit_of_work() as s:
        for i in range(lockout.ADDRESS_THRESHOLD):
            lockout.register_failure(s, f"guess{i}", address)
    with inst.unit_of_work() as s:
        assert lockout.locked_for(s, "someone-else", address) > 0
        assert lockout.locked_for(s, "someone-else", "203.0.113.8") == 0


def test_unknown_names_lock_like_known_ones(inst):
    with inst.unit_of_work() as s:
        for _ in range(lockout.ACCOUNT_THRESHOLD):
            assert accounts.authenticate(s, "no-such-account", "whatever-123", address="") is None
        assert lockout.locked_for(s, "No-Such-Account", "") > 0


def test_success_clears_the_account_count_and_old_failures_expire(inst, make_user):
    clerk = make_user("clerk")
    with inst.unit_of_work() as s:
        for _ in range(lockout.ACCOUNT_THRESHOLD - 1):
            accounts.authenticate(s, clerk.username, "bad-password-x", address="")
        assert accounts.authenticate(s, clerk.username, TEST_PASSWORD, address="") is not None
        assert s.get(LoginThrottle, ("user", clerk.username)) is None
    later = dt.datetime.now(dt.UTC) + lockout.WINDOW + dt.timedelta(minutes=1)
    with inst.unit_of_work() as s:
        for _ in range(lockout.ACCOUNT_THRESHOLD - 1):
            lockout.register_failure(s, clerk.username, "")
        lockout.register_failure(s, clerk.username, "", now=later)
        assert s.get(LoginThrottle, ("user", clerk.username)).failures == 1


def test_lock_expires(inst, make_user):
    clerk = make_user("clerk")
    with inst.unit_of_work() as s:
        for _ in range(lockout.ACCOUNT_THRESHOLD):
            lockout.register_failure(s, clerk.username, "")
        later = dt.datetime.now(dt.UTC) + lockout.BASE_LOCK + dt.timedelta(seconds=1)
        assert lockout.locked_for(s, clerk.username, "", now=later) == 0
