"""The demo data: registered like any record, then taken through the workflow."""
from sqlalchemy import func, select

from records import audit
from records.demo import add_demo_records, advance_demo_records, create_demo_users
from records.models import Record


def test_demo_matters_reach_several_stages_and_keep_the_audit_chain(inst):
    with inst.unit_of_work() as s:
        passwords = create_demo_users(s)
    assert {"clerk", "handler", "handler2", "leader", "chief", "archivist", "inspector", "admin"} <= set(passwords)
    with inst.unit_of_work() as s:
        serials = add_demo_records(s, 30, seed=7)
        steps = advance_demo_records(s, serials, seed=7)
    assert len(serials) == 30 and steps > 10
    with inst.unit_of_work() as s:
        statuses = dict(s.execute(select(Record.status, func.count()).where(Record.serial.in_(serials))
                                  .group_by(Record.status)).all())
        assert len(statuses) >= 4, statuses
        assert audit.verify(s).ok
    with inst.unit_of_work() as s:
        assert create_demo_users(s) == {}  # a second run creates nobody
