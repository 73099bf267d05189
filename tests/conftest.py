"""Fixtures: a fresh instance (folder, key file, database) per test module, factories for
users and records, and flaskr's client/login trio.

Set XINFANG_TEST_DATABASE_URL (a PostgreSQL server URL whose user may create databases)
to run everything on PostgreSQL: each module then gets a database of its own.
"""
from __future__ import annotations

import itertools
import os
import re
import secrets
from pathlib import Path

import pytest

from records.accounts import operations as accounts
from records.cases import operations
from records.db import create_database, drop_database
from records.settings import Settings
from app.composition import build_instance
from records.instance import Instance
from records.setup import init_instance

TEST_PASSWORD = "test-password-123"
_counter = itertools.count(1)


def _pg_admin_url() -> str | None:
    return os.environ.get("XINFANG_TEST_DATABASE_URL") or None


def _create_pg_database(admin_url: str) -> tuple[str, str]:
    return create_database(admin_url, "xft_")


_drop_pg_database = drop_database


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing():
    """Argon2 with the smallest cost: the suite signs in thousands of times. Production keeps
    the library's defaults (see records.accounts.operations.use_hasher)."""
    from argon2 import PasswordHasher

    accounts.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield


@pytest.fixture(scope="session", autouse=True)
def compiled_translations():
    """The UI catalogues (.mo, and the derived zh_Hans) are build products: compile them
    when missing or older than the zh_Hant .po, so pages render translated."""
    from app.translations.build import ensure_compiled

    ensure_compiled()


def fresh_instance(tmp_path_factory, name: str = "instance", **fields):
    """A new instance folder, initialised, with its own database (SQLite in the folder, or a
    new PostgreSQL database dropped afterwards); yields its settings (``fields`` as given)."""
    home = tmp_path_factory.mktemp(name)
    admin = _pg_admin_url()
    pg_name = None
    if admin:
        pg_name, url = _create_pg_database(admin)
    else:
        url = f"sqlite:///{home / 'xinfang.sqlite3'}"
    s = Settings.from_env({}, home=str(home), database_url=url, **fields)
    init_instance(s, build=build_instance)
    yield s
    if pg_name:
        _drop_pg_database(admin, pg_name)


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    yield from fresh_instance(tmp_path_factory)


@pytest.fixture(scope="module")
def inst(settings) -> Instance:
    instance = build_instance(settings)
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def app(settings):
    from app import create_app

    application = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "test-only-secret",
                              "WTF_CSRF_ENABLED": False,
                              # leaders sign in with a password only here; the second factor is
                              # tested with an app of its own in tests/security/test_totp.py
                              "XINFANG_SECOND_FACTOR_ROLES": (),
                              # work handed off by a request waits in the queue: a test runs it
                              # with records.jobs.runner.run_pending (tests/retention/test_jobs.py
                              # starts real workers)
                              "XINFANG_JOB_WORKER": "off"})
    yield application
    application.extensions["xinfang"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def session(inst):
    """A unit of work for arranging or inspecting data directly; committed at the end."""
    with inst.unit_of_work() as s:
        yield s


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}{secrets.token_hex(2)}"


@pytest.fixture
def make_user(inst):
    """make_user("handler", office="LDJC") -> User (password TEST_PASSWORD)."""
    def _make(*roles: str, office: str | None = None, oversees: tuple[str, ...] = (), username: str | None = None):
        if office is None and set(roles) & {"clerk", "handler"}:
            office = "XFB" if "clerk" in roles else "LDJC"
        name = username or unique(roles[0] if roles else "u")
        with inst.unit_of_work() as s:
            user = accounts.create_user(s, name, TEST_PASSWORD, list(roles), office=office, oversees=list(oversees),
                                        display_name=name)
            user_id = user.id
        with inst.unit_of_work() as s:
            from records.accounts.models import User
            u = s.get(User, user_id)
            _ = u.overseen, u.office
            return u
    return _make


#: People of the tests: one counter for the whole run, from a random start, so no two
#: petitioners of a run share an ID number or a phone (look-ups and repeat detection would
#: otherwise find another test's letters).
_people = itertools.count(secrets.randbelow(10**6))


def new_person(name: str, phone_prefix: str = "139") -> dict:
    """A petitioner no other test of this run has: a valid ID number (the birth date and
    sequence number are drawn from one counter, so they never repeat) and a mobile number."""
    import datetime

    from records.identity import id_check_char

    n = next(_people)
    born = datetime.date(1950, 1, 1) + datetime.timedelta(days=(n // 1000) % 18000)
    first17 = f"110108{born:%Y%m%d}{n % 1000:03d}"
    return {"name": name, "id_number": first17 + id_check_char(first17),
            "phone": f"{phone_prefix}{n % 10**8:08d}"}


def letter_data(**overrides) -> dict:
    data = {
        "channel": "letter",
        "received_at": "2026-03-02T10:00",
        "region": "110108",
        "category": "labour_wages",
        "subject": "反映某公司拖欠工資問題",
        "body": "本人於某建築公司工作，公司拖欠工資三個月，請求協調解決。",
        "people_count": 1,
        "petitioner": {"name": "王小明", "id_number": "110108199001011231", "phone": "13812345678",
                       "address": "北京市海淀區中關村大街1號"},
    }
    for k, v in overrides.items():
        if k == "petitioner":
            data["petitioner"] = {**data["petitioner"], **v}
        else:
            data[k] = v
    return data


#: The tests' letters keep fixed received dates (2026 mostly), so deadlines, serials and
#: statistics can be asserted. From a year later on, the web form, the API and storing ask
#: the clerk to confirm such a date (records.cases.received); the letters the tests send
#: through the web and the API say it is confirmed, so the suite does not depend on today.
#: The rule itself is tested with dates relative to today (tests/app/test_old_received_date.py).
CONFIRM_OLD = "confirm_old_received_date"


def api_letter(**overrides) -> dict:
    """``letter_data`` as a client sends it to the API: its received date confirmed."""
    return {**letter_data(**overrides), CONFIRM_OLD: True}


@pytest.fixture
def make_record(inst):
    """make_record(by=user, **fields, uploads=[...]) -> serial."""
    def _make(by, uploads=(), **overrides):
        with inst.unit_of_work() as s:
            from records.accounts.models import User
            record = operations.register(s, letter_data(**overrides), by=s.get(User, by.id), uploads=list(uploads))
            return record.serial
    return _make


def login(client, username: str, password: str = TEST_PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


@pytest.fixture
def api_token(inst):
    """api_token(user) -> bearer token string."""
    def _token(user) -> str:
        with inst.unit_of_work() as s:
            from records.accounts.models import User
            # as the test app: no role asks a second factor (tests/security/test_tokens.py tests that rule)
            return accounts.issue_token(s, s.get(User, user.id), label="test", second_factor_roles=())
    return _token


def instance_files(home: Path):
    return [p for p in home.rglob("*") if p.is_file()]


def plan_of(inst: Instance, call, starts: str) -> str:
    """The database's plan of the statement beginning with ``starts`` that ``call(session)``
    runs (one), as the text EXPLAIN gives. On PostgreSQL sorting and whole-table scans are
    forbidden while it plans, so a table of a few test rows still shows the index a large
    one would use (and a plan that can only sort or scan still says so)."""
    from sqlalchemy import event

    seen = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith(starts):
            seen.append((statement, parameters))

    event.listen(inst.db.engine, "before_cursor_execute", keep)
    try:
        with inst.unit_of_work() as s:
            call(s)
    finally:
        event.remove(inst.db.engine, "before_cursor_execute", keep)
    assert len(seen) == 1, seen
    statement, parameters = seen[0]
    with inst.db.engine.connect() as conn:
        if inst.db.is_sqlite:
            plan = "\n".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters))
        else:
            for setting in ("enable_sort", "enable_incremental_sort", "enable_seqscan"):
                conn.exec_driver_sql(f"SET LOCAL {setting} = off")
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
        conn.rollback()
    return plan
