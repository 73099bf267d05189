"""Fixtures shared by the tests of app/: a team of users (clerk, leader over LDJC, handler in
LDJC, chief) with their API tokens, per module, for the API tests (a module may define its own
``team``); one system Chromium per module and a watched page per test for the browser tests
(tests/app/*_browser.py, with tests/app/browser_support.py; a module serves the app itself with
``browser_support.serve`` under the configuration it needs)."""
from __future__ import annotations

import pytest

from tests.app.browser_support import chromium, watched_page


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    with watched_page(browser) as pg:
        yield pg


def make_team(inst, specs: dict) -> dict:
    """One user per part of ``specs`` (part -> (roles, office, oversees)), detached with their
    offices loaded: made once for a module, since password hashing is slow on purpose."""
    from records.accounts import operations as accounts
    from records.accounts.models import User
    from tests.conftest import TEST_PASSWORD, unique

    ids = {}
    with inst.unit_of_work() as s:
        for part, (roles, office, oversees) in specs.items():
            ids[part] = accounts.create_user(s, unique(part.replace("_", "-")), TEST_PASSWORD, list(roles),
                                             office=office, oversees=list(oversees)).id
    with inst.unit_of_work() as s:
        users = {part: s.get(User, uid) for part, uid in ids.items()}
        for u in users.values():
            _ = u.overseen, u.office
        s.expunge_all()
    return users


@pytest.fixture(scope="module")
def team(inst):
    return make_team(inst, {"clerk": (["clerk"], "XFB", ()), "leader": (["leader"], None, ("LDJC",)),
                            "handler": (["handler"], "LDJC", ()), "chief": (["chief"], None, ())})


@pytest.fixture(scope="module")
def tokens(inst, team):
    from records.accounts import operations as accounts
    from records.accounts.models import User

    with inst.unit_of_work() as s:
        return {n: {"Authorization": "Bearer " + accounts.issue_token(s, s.get(User, u.id), label="t",
                                                                      second_factor_roles=())}
                for n, u in team.items()}
