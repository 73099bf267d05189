"""Fixtures for retention: stored letters in a (region, year) batch, a proposer and an approver."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from records.models import Record
from records.accounts.models import User
from tests.conftest import letter_data

#: A day on which every batch of 2020-2026 is due under the default policy (2 years).
TODAY = dt.date(2029, 6, 1)
REASONS = ("concluded_after_rereview", "repeat_already_answered", "no_reference_value", "unclear_content")


@pytest.fixture
def store_letters(inst):
    """store_letters(by, n, region=..., year=..., reason=None, canary=None, uploads=()) -> serials.

    Registers through the normal service, then stores each letter the way the workflow does:
    status and reason set, then the instance's ``on_stored`` hooks (retention re-keys it
    into its batch), in the same transaction."""
    from records.cases import operations

    def _make(by, n, *, region="110101", year=2024, reason=None, canary=None, uploads=()):
        serials = []
        with inst.unit_of_work() as s:
            user = s.get(User, by.id)
            for i in range(n):
                marker = f"{canary}-{i}" if canary else ""
                data = letter_data(region=region, received_at=f"{year}-03-0{1 + i % 9}T10:00",
                                   body="來信內容，請求協調。" + marker,
                                   petitioner={"name": f"測試{marker or i}", "phone": f"1390000{i:04d}"})
                record = operations.register(s, data, by=user, uploads=list(uploads))
                record.status = "stored"
                record.stored_reason = reason or REASONS[i % 4]
                s.flush()
                inst.stored(s, record)
                serials.append(record.serial)
        return serials
    return _make


def set_status(inst, serial: str, status: str, reason: str | None = None) -> None:
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        record.status = status
        record.stored_reason = reason
        s.flush()
        if status == "stored":
            inst.stored(s, record)


def approved_batch(inst, archivist, leader, region: str, year: int) -> int:
    """Seal, propose (``archivist``) and approve (``leader``) the batch of (region, year); its id."""
    from retention import operations as ret
    from retention.models import Batch

    with inst.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.region_code == region, Batch.year == year)).scalar_one()
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        ret.propose(s, batch, by=s.get(User, archivist.id))
        ret.approve(s, batch, by=s.get(User, leader.id))
        return batch.id
