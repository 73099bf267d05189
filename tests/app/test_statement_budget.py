"""The pages staff open all day read the reference tables they need once, not once per
loaded user or office: a leader's overseen offices and a unit's regions are loaded when
asked for, so a ledger page or a record does not grow with the people and offices it names."""
from __future__ import annotations

import collections
import re

import pytest
from sqlalchemy import event

from tests.conftest import login

#: The tables a statement loads from: its first FROM list (subqueries of a scope filter are
#: part of the one statement that loads records, not loads of their own).
FIRST_FROM = re.compile(r"\bFROM\s+([a-z_]+(?:\s*,\s*[a-z_]+)*)", re.IGNORECASE)


@pytest.fixture
def statements(app):
    seen: list[str] = []

    def before(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    engine = app.extensions["xinfang"].db.engine
    event.listen(engine, "before_cursor_execute", before)
    yield seen
    event.remove(engine, "before_cursor_execute", before)


def _tables(seen: list[str]) -> collections.Counter:
    loads = collections.Counter()
    for statement in seen:
        match = FIRST_FROM.search(statement)
        if match:
            loads.update(t.strip().lower() for t in match.group(1).split(","))
    return loads


def test_leader_pages_read_overseen_offices_once_and_no_unit_regions(inst, make_user, make_record, client, statements):
    leader = make_user("leader", oversees=("LDJC",))
    clerks = [make_user("clerk") for _ in range(3)]
    serials = [make_record(by=clerks[i % 3]) for i in range(6)]
    login(client, leader.username)
    for url in ("/ledger", "/search?q=工資", f"/records/{serials[0]}"):
        statements.clear()
        response = client.get(url)
        assert response.status_code == 200, url
        tables = _tables(statements)
        assert tables["records"] >= 1, (url, tables)   # the listener saw the page's statements
        assert tables["leader_offices"] <= 1, (url, tables)
        assert tables["unit_regions"] == 0, (url, tables)
        assert len(statements) <= 40, (url, len(statements), tables)


def test_units_page_loads_regions_in_one_query(inst, make_user, client, statements):
    manager = make_user("admin")
    login(client, manager.username)
    statements.clear()
    response = client.get("/admin/reference/units")
    assert response.status_code == 200
    tables = _tables(statements)
    assert tables["offices"] >= 1 and tables["unit_regions"] <= 1, tables
