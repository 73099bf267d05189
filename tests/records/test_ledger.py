"""The ledger's order: newest first, and a page read in that order from an index."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from records.accounts.models import User
from records.cases import operations
from records.cases.operations import LedgerFilters
from tests.conftest import letter_data, plan_of

#: A received time no other test of the module uses; the letters share it, as a day's post
#: registered with the postmark's date does.
SHARED = "2025-07-19T00:00"
DAY = LedgerFilters(date_from=dt.date(2025, 7, 19), date_to=dt.date(2025, 7, 19))


@pytest.fixture(scope="module")
def shared_day(inst):
    from records.accounts import operations as accounts
    from tests.conftest import TEST_PASSWORD

    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, "ledger_clerk", TEST_PASSWORD, ["clerk"], office="XFB")
        chief = accounts.create_user(s, "ledger_chief", TEST_PASSWORD, ["chief"])
        serials = [operations.register(s, letter_data(received_at=SHARED), by=clerk).serial for _ in range(7)]
    return chief.id, serials


def test_letters_sharing_a_received_time_list_newest_registered_first_across_pages(inst, shared_day):
    chief_id, serials = shared_day
    seen = []
    with inst.unit_of_work() as s:
        chief = s.get(User, chief_id)
        for page_no in (1, 2, 3):
            page = operations.ledger(s, chief, DAY, page=page_no, per_page=3)
            assert page.total == 7 and page.pages == 3
            seen += [line.record.serial for line in page.items]
    assert seen == serials[::-1], "no line skipped or repeated between pages"


def test_a_ledger_page_is_read_in_the_index_order_without_sorting(inst, shared_day):
    """Sorting is what made a page among thousands of letters of one received time cost 24
    to 32 ms on PostgreSQL: (received_at, id) is indexed, and the plan must use it."""
    chief_id, _ = shared_day
    plan = plan_of(inst, lambda s: operations.ledger(s, s.get(User, chief_id), page=2, per_page=3),
                   "SELECT records.id")
    assert "ix_records_received_at_id" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_the_letters_table_is_vacuumed_as_it_grows_on_postgresql(inst):
    """The ledger's count is an index-only scan: pages of new letters not yet vacuumed cost it
    a visit to the table each (migration 20261208_0020)."""
    if inst.db.is_sqlite:
        pytest.skip("PostgreSQL only: SQLite has no autovacuum")
    with inst.db.engine.connect() as conn:
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'records'")).scalar_one()
    assert {"autovacuum_vacuum_insert_scale_factor=0.02", "autovacuum_vacuum_scale_factor=0.02"} <= set(options)
