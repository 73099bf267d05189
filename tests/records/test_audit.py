"""The hash-chained audit trail: what gets written, and that `xinfang audit verify` catches
an edited entry, a deleted middle entry and deleted last entries, naming the entry."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from app.cli import cli
from records.accounts import operations as accounts
from records import audit
from records.models import AuditEntry, AuditHead
from records.accounts.models import User
from tests.conftest import api_letter, TEST_PASSWORD, login


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2():
    """Argon2id with small parameters: these tests create many accounts, and the strength of
    the hash is not what they test (test_accounts checks the production parameters)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as _accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield


def _verify(inst) -> audit.VerifyResult:
    with inst.unit_of_work() as s:
        return audit.verify(s)


def _entries(inst, **where) -> list[AuditEntry]:
    with inst.unit_of_work() as s:
        stmt = select(AuditEntry).order_by(AuditEntry.id)
        for k, v in where.items():
            stmt = stmt.where(getattr(AuditEntry, k) == v)
        return list(s.execute(stmt).scalars())


def _last_id(inst) -> int:
    with inst.unit_of_work() as s:
        return s.execute(select(func.max(AuditEntry.id))).scalar_one()


def _row(inst, entry_id: int) -> dict:
    with inst.db.engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM audit_entries WHERE id = :i"), {"i": entry_id}).mappings().one())


def _restore(inst, rows: list[dict]) -> None:
    cols = list(rows[0])
    with inst.db.engine.begin() as conn:
        for row in rows:
            conn.execute(text(f"INSERT INTO audit_entries ({', '.join(cols)}) VALUES "
                              f"({', '.join(':' + c for c in cols)})"), row)


def _exec(inst, statement: str, **params) -> None:
    with inst.db.engine.begin() as conn:
        conn.execute(text(statement), params)


@pytest.fixture
def some_entries(inst, make_user, make_record):
    """A few entries of every kind, so the chain has a middle and an end."""
    clerk = make_user("clerk")
    for _ in range(3):
        make_record(clerk)
    assert _last_id(inst) >= 4
    return clerk


def test_fresh_chain_verifies(inst, runner, some_entries):
    result = _verify(inst)
    assert result.ok and result.checked == _last_id(inst) and result.broken_id is None
    out = runner.invoke(cli, ["audit", "verify"])
    assert out.exit_code == 0, out.output
    assert "intact" in out.output and str(result.checked) in out.output


def test_empty_chain_verifies(tmp_path):
    from records.settings import Settings
    from app.composition import build_instance
    from records.setup import init_instance

    settings = Settings.from_env({}, home=str(tmp_path / "empty"))
    init_instance(settings)
    inst = build_instance(settings)
    try:
        result = _verify(inst)
        assert result.ok and result.checked == 0
    finally:
        inst.close()


@pytest.mark.parametrize("column,value", [
    ("detail", json.dumps({"channel": "visit", "attachments": 0, "people_count": 99})),
    ("action", "record.read"),
    ("actor", "someone-else"),
    ("actor_id", 999999),
    ("target", "XF-2026-999999"),
    ("address", "10.0.0.99"),
    ("at", "2020-01-01 00:00:00.000000"),
    ("hash", "f" * 64),
])
def test_editing_one_entry_is_named(inst, runner, some_entries, column, value):
    victim = _last_id(inst) - 2   # a middle entry
    original = _row(inst, victim)
    _exec(inst, f"UPDATE audit_entries SET {column} = :v WHERE id = :i", v=value, i=victim)
    try:
        result = _verify(inst)
        assert not result.ok and result.broken_id == victim, result
        assert f"entry {victim}" in result.problem
        assert result.checked == victim - 1
        out = runner.invoke(cli, ["audit", "verify"])
        assert out.exit_code != 0
        assert f"entry {victim}" in out.output and "BROKEN" in out.output
    finally:
        _exec(inst, f"UPDATE audit_entries SET {column} = :v WHERE id = :i", v=original[column], i=victim)
    assert _verify(inst).ok


def test_relinking_an_edited_entry_still_fails(inst, some_entries):
    """Recomputing a plain SHA-256 chain is not enough: the links are keyed (HMAC)."""
    import hashlib

    victim = _last_id(inst) - 1
    original = _row(inst, victim)
    forged = hashlib.sha256(b"forged").hexdigest()
    _exec(inst, "UPDATE audit_entries SET action = 'login.success', hash = :h WHERE id = :i", h=forged, i=victim)
    _exec(inst, "UPDATE audit_entries SET prev_hash = :h WHERE id = :i", h=forged, i=victim + 1)
    try:
        result = _verify(inst)
        assert not result.ok and result.broken_id == victim
    finally:
        _exec(inst, "UPDATE audit_entries SET action = :a, hash = :h WHERE id = :i",
              a=original["action"], h=original["hash"], i=victim)
        _exec(inst, "UPDATE audit_entries SET prev_hash = :h WHERE id = :i", h=original["hash"], i=victim + 1)
    assert _verify(inst).ok


def test_deleting_a_middle_entry_is_named(inst, runner, some_entries):
    victim = _last_id(inst) - 2
    saved = [_row(inst, victim)]
    _exec(inst, "DELETE FROM audit_entries WHERE id = :i", i=victim)
    try:
        result = _verify(inst)
        assert not result.ok and result.broken_id == victim
        assert f"entry {victim} is missing" in result.problem
        out = runner.invoke(cli, ["audit", "verify"])
        assert out.exit_code != 0 and f"entry {victim}" in out.output
    finally:
        _restore(inst, saved)
    assert _verify(inst).ok


def test_deleting_the_first_entry_is_named(inst, some_entries):
    saved = [_row(inst, 1)]
    _exec(inst, "DELETE FROM audit_entries WHERE id = 1")
    try:
        result = _verify(inst)
        assert not result.ok and result.broken_id == 1 and "entry 1 is missing" in result.problem
    finally:
        _restore(inst, saved)


def test_deleting_the_last_entries_is_detected_through_the_head(inst, runner, some_entries):
    last = _last_id(inst)
    saved = [_row(inst, last - 1), _row(inst, last)]
    _exec(inst, "DELETE FROM audit_entries WHERE id >= :i", i=last - 1)
    try:
        result = _verify(inst)
        assert not result.ok
        assert f"head says {last}" in result.problem and "removed from the end" in result.problem
        assert result.broken_id == last - 2
        out = runner.invoke(cli, ["audit", "verify"])
        assert out.exit_code != 0 and str(last) in out.output
    finally:
        _restore(inst, saved)
    assert _verify(inst).ok


def test_deleting_every_entry_is_detected(inst, some_entries):
    last = _last_id(inst)
    saved = [_row(inst, i) for i in range(1, last + 1)]
    _exec(inst, "DELETE FROM audit_entries")
    try:
        result = _verify(inst)
        assert not result.ok and f"head says {last}" in result.problem
    finally:
        _restore(inst, saved)
    assert _verify(inst).ok


def test_appending_after_a_restore_keeps_the_chain(inst, some_entries, make_record):
    make_record(some_entries)
    assert _verify(inst).ok


def test_an_entry_that_rolls_back_leaves_no_gap(inst, make_user):
    clerk = make_user("clerk")
    before = _last_id(inst)
    with pytest.raises(RuntimeError), inst.unit_of_work() as s:
        audit.record(s, "test.rolled_back", actor=s.get(User, clerk.id))
        raise RuntimeError("abort the unit of work")
    assert _last_id(inst) == before
    with inst.unit_of_work() as s:
        head = s.get(AuditHead, 1)
        assert head.last_id == before
    assert _verify(inst).ok


# -- what is recorded ------------------------------------------------------------------
def test_logins_registrations_reads_and_account_changes_are_recorded(inst, app, make_user):
    clerk = make_user("clerk")
    start = _last_id(inst)
    client = app.test_client()

    # logins, failed and good, through the web
    assert login(client, clerk.username, "wrong-password-1").status_code == 401
    assert login(client, "nobody-" + clerk.username, "whatever-123").status_code == 401
    assert login(client, clerk.username).status_code == 302

    # a registration and a read through the web
    r = client.post("/records/new", data={
        "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
        "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
        "people_count": "1", "subject": "審計測試主題", "body": "審計測試正文"})
    assert r.status_code == 302
    serial = r.headers["Location"].rsplit("/", 1)[-1]
    assert client.get(f"/records/{serial}").status_code == 200

    # account changes through the services
    with inst.unit_of_work() as s:
        u = s.get(User, clerk.id)
        accounts.set_password(s, u, "another-password-456")
        accounts.set_active(s, u, False)
        accounts.set_active(s, u, True)
        accounts.issue_token(s, u, label="audit test")

    entries = [e for e in _entries(inst) if e.id > start]
    seen = [(e.action, e.actor, e.target) for e in entries]
    assert ("login.failure", clerk.username, "") in seen
    assert ("login.failure", "nobody-" + clerk.username, "") in seen
    assert ("login.success", clerk.username, "") in seen
    assert ("record.register", clerk.username, serial) in seen
    assert ("record.read", clerk.username, serial) in seen
    for action in ("user.password", "user.deactivate", "user.activate"):
        assert any(a == action and t == clerk.username for a, _, t in seen), action
    assert any(a == "token.issue" and t == clerk.username for a, _, t in seen)

    failures = [e for e in entries if e.action == "login.failure"]
    assert {json.loads(e.detail)["known_user"] for e in failures} == {True, False}
    assert all(e.actor_id is None for e in failures)

    # details never carry letter text or passwords
    for e in entries:
        for secret in ("審計測試", "wrong-password-1", "another-password-456", TEST_PASSWORD):
            assert secret not in e.detail and secret not in e.target
    # the chain still verifies, in order, with no gap
    assert [e.id for e in entries] == list(range(start + 1, start + 1 + len(entries)))
    assert _verify(inst).ok


def test_user_creation_and_api_reads_are_recorded(inst, app, make_user, api_token):
    start = _last_id(inst)
    clerk = make_user("clerk")
    token = api_token(clerk)
    client = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/records", json=api_letter(), headers=h)
    serial = r.get_json()["serial"]
    assert client.get(f"/api/v1/records/{serial}", headers=h).status_code == 200
    entries = [e for e in _entries(inst) if e.id > start]
    actions = [(e.action, e.target) for e in entries]
    assert ("user.create", clerk.username) in actions
    assert ("record.register", serial) in actions
    assert ("record.read", serial) in actions
    created = next(e for e in entries if e.action == "user.create")
    assert json.loads(created.detail)["roles"] == ["clerk"] and created.actor == "system"
    # the token is never in the trail, only its prefix
    assert all(token not in e.detail for e in entries)


def test_refused_access_of_an_excluded_user_is_recorded(inst, app, make_user, make_record, api_token):
    """The request is answered 404 and rolled back, yet the refused attempt stays on the trail."""
    from records.models import Record, RecordExclusion

    clerk = make_user("clerk")
    chief = make_user("chief")
    serial = make_record(clerk)
    with inst.unit_of_work() as s:
        rid = s.execute(select(Record.id).where(Record.serial == serial)).scalar_one()
        s.add(RecordExclusion(record_id=rid, user_id=chief.id))
    start = _last_id(inst)
    client = app.test_client()
    assert login(client, chief.username).status_code == 302
    assert client.get(f"/records/{serial}").status_code == 404
    h = {"Authorization": f"Bearer {api_token(chief)}"}
    assert client.get(f"/api/v1/records/{serial}", headers=h).status_code == 404
    refused = [e for e in _entries(inst, action="record.refused") if e.id > start]
    assert len(refused) == 2
    assert all(e.target == serial and e.actor == chief.username for e in refused)
    assert _verify(inst).ok


def test_a_cut_tail_with_the_head_moved_back_is_caught_by_an_anchor(inst, runner, some_entries):
    """Someone who can write the database cuts the last entries and moves the head back: the
    chain alone cannot tell, the head printed earlier and kept outside the system can."""
    out = runner.invoke(cli, ["audit", "verify"])
    anchor = next(line.split()[1] for line in out.output.splitlines() if line.startswith("Head: "))
    last = _last_id(inst)
    saved = [_row(inst, last)]
    before = _row(inst, last - 1)
    _exec(inst, "DELETE FROM audit_entries WHERE id = :i", i=last)
    _exec(inst, "UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1", i=last - 1, h=before["hash"])
    try:
        assert _verify(inst).ok  # the chain itself still links
        out = runner.invoke(cli, ["audit", "verify", "--anchor", anchor])
        assert out.exit_code == 2 and "anchor" in out.output
    finally:
        _restore(inst, saved)
        _exec(inst, "UPDATE audit_head SET last_id = :i, last_hash = :h WHERE id = 1", i=last,
              h=anchor.split(":")[1])
    assert runner.invoke(cli, ["audit", "verify", "--anchor", anchor]).exit_code == 0
