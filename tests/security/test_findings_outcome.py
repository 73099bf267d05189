"""Issue 15, item 13: a finding's outcome on one record (屬實/部分屬實) judges what the letter
says, so it goes with the content (``policy.VIEW_FINDINGS``): the archivist and the inspector
do not see it on the record page or in the API; those who read the record do."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from records import policy
from records.accounts.models import User
from records.cases import workflow
from records.cases.models import Finding
from records.models import Record


def test_the_policy_table_decides(make_user):
    for role in ("archivist", "inspector", "admin"):
        assert role not in policy.PERMISSIONS[policy.VIEW_FINDINGS]
    for role in ("handler", "leader", "chief"):
        assert role in policy.PERMISSIONS[policy.VIEW_FINDINGS]


@pytest.mark.parametrize("role,sees", [("archivist", False), ("inspector", False), ("chief", True)])
def test_outcomes_only_with_the_content(inst, make_user, make_record, role, sees):
    clerk, viewer = make_user("clerk"), make_user(role)
    serial = make_record(by=clerk)
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        s.add(Finding(record_id=record.id, stage="handling", outcome="substantiated", created_by_id=clerk.id))
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        summary = workflow.summary(s, record, s.get(User, viewer.id))
        assert bool(summary.findings) is sees
        if sees:
            assert summary.findings[0].outcome == "substantiated"
