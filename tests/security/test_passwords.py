"""Issue 15, item 8: a length floor and a maintained strength estimator (zxcvbn) refuse common
and user-derived passwords, and say why."""
from __future__ import annotations

import pytest

from records.accounts import operations as accounts
from records.errors import ValidationError
from tests.conftest import unique


@pytest.mark.parametrize("password", ["password12", "1234567890", "qwertyuiop", "iloveyou12", "abc123abc123"])
def test_common_passwords_are_refused_with_a_reason(password):
    with pytest.raises(ValidationError) as info:
        accounts.check_password_policy(password)
    message = info.value.message
    assert message.startswith("The password is too weak: ") and len(message) > 40
    assert password not in message


def test_a_password_made_of_the_user_name_is_refused(inst):
    name = unique("victim")
    with inst.unit_of_work() as s:
        with pytest.raises(ValidationError) as info:
            accounts.create_user(s, name, name + name, ["clerk"], office="XFB")
        assert "name" in info.value.fields["password"]
    with inst.unit_of_work() as s:
        user = accounts.create_user(s, name, "amber-violin-forest-7", ["clerk"], office="XFB")
        with pytest.raises(ValidationError):
            accounts.set_password(s, user, "victimvictim")


def test_victimvictim_for_victim(inst):
    with pytest.raises(ValidationError):
        accounts.check_password_policy("victimvictim", user_inputs=["victim"])


@pytest.mark.parametrize("password", ["amber-violin-forest-7", "正確的馬電池釘書針很長", "Tundra!Kettle%Mosaic"])
def test_strong_passwords_pass(password):
    accounts.check_password_policy(password)
