"""Issue 15, item 12: a letter that names every leader and the chief as accused would leave no
one able to decide it; the system refuses and says where such a letter goes."""
from __future__ import annotations

import pytest

from records.accounts.models import User
from records.cases import operations
from records.errors import ValidationError
from tests.conftest import letter_data


def test_naming_every_decider_is_refused(inst, make_user, make_record):
    clerk, leader, chief = make_user("clerk"), make_user("leader"), make_user("chief")
    with inst.unit_of_work() as s:
        with pytest.raises(ValidationError) as info:
            operations.register(s, letter_data(accused=[leader.username, chief.username]), by=s.get(User, clerk.id))
        assert "superior body" in info.value.fields["accused"]
    serial = make_record(by=clerk, accused=[leader.username])       # someone (the chief) is left
    with inst.unit_of_work() as s:
        record = operations.get_record(s, serial, s.get(User, clerk.id))
        with pytest.raises(ValidationError) as info:
            operations.exclude(s, record, [chief.username], by=s.get(User, clerk.id))
        assert "no one here may decide" in info.value.fields["accused"]

