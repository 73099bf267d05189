"""The one access policy, table-driven: who sees the ledger line, the content and the
identity of which record; exclusion of the people a letter complains about; masking; and
``scope_clause`` (SQL) agreeing with ``can`` (Python) on every record."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from records.accounts import operations as accounts
from records.cases import operations
from records import policy
from records.errors import AccessDenied, NotFound
from records.reference.models import Office
from records.models import Record, RecordExclusion
from records.accounts.models import User
from records.cases.operations import Upload
from tests.conftest import TEST_PASSWORD, letter_data


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2():
    """Argon2id with small parameters: these tests create many accounts, and the strength of
    the hash is not what they test (test_accounts checks the production parameters)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as _accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield

L, C, I, R = policy.VIEW_LEDGER, policy.VIEW_CONTENT, policy.VIEW_IDENTITY, policy.CORRECT_RECORD
PER_RECORD = (L, C, I, R)


@pytest.fixture(scope="module")
def world(inst):
    """Users of every role and three records: one at intake (XFB), one moved to LDJC, one to SHBX.

    Returns ({name: user id}, {name: serial})."""
    specs = {
        "registrar": (["clerk"], "XFB", ()),
        "clerk2": (["clerk"], "XFB", ()),
        "h_ldjc": (["handler"], "LDJC", ()),
        "h_shbx": (["handler"], "SHBX", ()),
        "h_xfb": (["handler"], "XFB", ()),
        "lead_ldjc": (["leader"], None, ("LDJC",)),
        "lead_zcfg": (["leader"], None, ("ZCFG",)),
        "lead_none": (["leader"], None, ()),
        "chief": (["chief"], None, ()),
        "chief_x": (["chief"], None, ()),          # excluded from the intake record
        "archivist": (["archivist"], None, ()),
        "inspector": (["inspector"], None, ()),
        "admin": (["admin"], None, ()),
        "clerk_handler": (["clerk", "handler"], "LDJC", ()),
        "inactive": (["chief"], None, ()),
    }
    users = {}
    with inst.unit_of_work() as s:
        for name, (roles, office, oversees) in specs.items():
            u = accounts.create_user(s, f"p_{name.replace('_', '')}", TEST_PASSWORD, roles, office=office,
                                     oversees=list(oversees))
            users[name] = u.id
        accounts.set_active(s, s.get(User, users["inactive"]), False)
    serials = {}
    with inst.unit_of_work() as s:
        reg = s.get(User, users["registrar"])
        for name in ("intake", "ldjc", "shbx"):
            serials[name] = operations.register(s, letter_data(subject=f"{name} 主題"), by=reg,
                                                uploads=[Upload("scan.pdf", b"%PDF-1.4\n" + b"0" * 64)]).serial
    with inst.unit_of_work() as s:
        for name, code in (("ldjc", "LDJC"), ("shbx", "SHBX")):
            office_id = s.execute(select(Office.id).where(Office.code == code)).scalar_one()
            s.execute(update(Record).where(Record.serial == serials[name]).values(office_id=office_id))
        intake_id = s.execute(select(Record.id).where(Record.serial == serials["intake"])).scalar_one()
        s.add(RecordExclusion(record_id=intake_id, user_id=users["chief_x"]))
    return users, serials


# (user, record) -> which of ledger, content, identity, correct are allowed
EXPECTED = {
    # the registering clerk: everything on what they registered
    ("registrar", "intake"): "LCIR", ("registrar", "ldjc"): "LCIR", ("registrar", "shbx"): "LCIR",
    # another clerk: the ledger line only
    ("clerk2", "intake"): "L", ("clerk2", "ldjc"): "L", ("clerk2", "shbx"): "L",
    # handlers: their own office's records, content without identity
    ("h_ldjc", "intake"): "", ("h_ldjc", "ldjc"): "LC", ("h_ldjc", "shbx"): "",
    ("h_shbx", "intake"): "", ("h_shbx", "ldjc"): "", ("h_shbx", "shbx"): "LC",
    ("h_xfb", "intake"): "LC", ("h_xfb", "ldjc"): "", ("h_xfb", "shbx"): "",
    # leaders: the intake plus what they oversee
    ("lead_ldjc", "intake"): "LCIR", ("lead_ldjc", "ldjc"): "LCIR", ("lead_ldjc", "shbx"): "",
    ("lead_zcfg", "intake"): "LCIR", ("lead_zcfg", "ldjc"): "", ("lead_zcfg", "shbx"): "",
    ("lead_none", "intake"): "LCIR", ("lead_none", "ldjc"): "", ("lead_none", "shbx"): "",
    # the chief: everything; an excluded chief: nothing on that record
    ("chief", "intake"): "LCIR", ("chief", "ldjc"): "LCIR", ("chief", "shbx"): "LCIR",
    ("chief_x", "intake"): "", ("chief_x", "ldjc"): "LCIR", ("chief_x", "shbx"): "LCIR",
    # archivist and inspector: ledger lines, no content; admin: nothing
    ("archivist", "intake"): "L", ("archivist", "ldjc"): "L", ("archivist", "shbx"): "L",
    ("inspector", "intake"): "L", ("inspector", "ldjc"): "L", ("inspector", "shbx"): "L",
    ("admin", "intake"): "", ("admin", "ldjc"): "", ("admin", "shbx"): "",
    # roles add up: a clerk who is also an LDJC handler
    ("clerk_handler", "intake"): "L", ("clerk_handler", "ldjc"): "LC", ("clerk_handler", "shbx"): "L",
    # an inactive account: nothing, whatever its roles
    ("inactive", "intake"): "", ("inactive", "ldjc"): "", ("inactive", "shbx"): "",
}
_LETTER = {L: "L", C: "C", I: "I", R: "R"}


def _load(s, world):
    users, serials = world
    return ({n: s.get(User, i) for n, i in users.items()},
            {n: s.execute(select(Record).where(Record.serial == sr)).scalar_one() for n, sr in serials.items()})


def test_the_table_covers_every_user_and_record(world):
    users, serials = world
    assert {k for k in EXPECTED} == {(u, r) for u in users for r in serials}


@pytest.mark.parametrize("who,which", sorted(EXPECTED))
def test_can(inst, world, who, which):
    with inst.unit_of_work() as s:
        users, records = _load(s, world)
        got = "".join(_LETTER[p] for p in PER_RECORD if policy.can(users[who], p, records[which]))
    assert got == EXPECTED[(who, which)]


@pytest.mark.parametrize("who,which", sorted(EXPECTED))
def test_services_follow_the_table(inst, world, who, which):
    """get_record / view / attachment_content / correct give exactly what the table allows."""
    expected = EXPECTED[(who, which)]
    users, serials = world
    serial = serials[which]
    with inst.unit_of_work() as s:
        user = s.get(User, users[who])
        if "L" not in expected:
            with pytest.raises(NotFound):
                operations.get_record(s, serial, user)
            return
        record = operations.get_record(s, serial, user)
        view = operations.view(s, record, user)
        assert view.can_view_content == ("C" in expected)
        assert view.identity_visible == ("I" in expected)
        assert view.can_correct == ("R" in expected)
        if "C" in expected:
            assert view.content["subject"] == f"{which} 主題"
            assert len(view.attachments) == 1
            _meta, data = operations.attachment_content(s, record, view.attachments[0]["uid"], user)
            assert data.startswith(b"%PDF")
            pet = view.petitioner
            if "I" in expected:
                assert (pet["name"], pet["masked"]) == ("王小明", False)
                assert pet["id_number"] == "110108199001011231" and pet["phone"] == "13812345678"
            else:
                assert pet == {"name": "王**", "id_number": "1101**********1231", "phone": "138****5678",
                               "address": "北京市****", "masked": True}
        else:
            assert view.content is None and view.petitioner is None and view.attachments == []
            assert view.history == []
            uid = record.attachments[0].uid
            with pytest.raises(AccessDenied):
                operations.attachment_content(s, record, uid, user)
        if "R" not in expected:
            with pytest.raises(AccessDenied):
                operations.correct(s, record, {"notes": "x"}, by=user)


def test_ledger_lists_exactly_the_visible_lines(inst, world):
    users, serials = world
    mine = set(serials.values())
    for who in users:
        with inst.unit_of_work() as s:
            user = s.get(User, users[who])
            if not any(r in policy.PERMISSIONS[L] for r in user.role_set) or not user.active:
                if not user.active:
                    continue
                with pytest.raises(AccessDenied):
                    operations.ledger(s, user)
                continue
            page = operations.ledger(s, user, per_page=200)
            shown = {line.record.serial: line.subject for line in page.items if line.record.serial in mine}
        expected = {serials[w] for w in serials if "L" in EXPECTED[(who, w)]}
        assert set(shown) == expected, who
        for w in serials:
            if serials[w] in shown:
                # a subject is shown only when the content may be read
                assert (shown[serials[w]] is not None) == ("C" in EXPECTED[(who, w)]), (who, w)


def test_scope_clause_agrees_with_can_on_every_record(inst, world):
    users, _ = world
    # more variety: a first responder who did not register it, other offices, more exclusions
    with inst.unit_of_work() as s:
        clerk2, lead = s.get(User, users["clerk2"]), s.get(User, users["lead_ldjc"])
        extra = [
            operations.register(s, letter_data(first_responder="p_leadnone"), by=clerk2),
            operations.register(s, letter_data(channel="visit", people_count=30), by=lead),
            operations.register(s, letter_data(channel="phone"), by=clerk2),
        ]
        offices = {o.code: o.id for o in s.execute(select(Office)).scalars()}
        extra[0].office_id, extra[1].office_id = offices["ZCFG"], offices["RSK"]
        s.flush()
        s.add(RecordExclusion(record_id=extra[1].id, user_id=users["lead_ldjc"]))
        s.add(RecordExclusion(record_id=extra[2].id, user_id=users["registrar"]))
        s.add(RecordExclusion(record_id=extra[2].id, user_id=users["h_xfb"]))
        extra_ids = [r.id for r in extra]
    with inst.unit_of_work() as s:
        extra = [s.get(Record, i) for i in extra_ids]
        users_ = {n: s.get(User, i) for n, i in users.items()}
        records = s.execute(select(Record)).scalars().all()
        assert len(records) >= 6
        for who, user in users_.items():
            for perm in PER_RECORD:
                by_sql = set(s.execute(select(Record.id).where(policy.scope_clause(user, perm))).scalars())
                by_can = {r.id for r in records if policy.can(user, perm, r)}
                assert by_sql == by_can, (who, perm)
        # spot checks of the extra records
        # Art 17: the first responder (a leader overseeing nothing) follows the matter until 息訪
        assert policy.can(users_["lead_none"], C, extra[0])
        extra[0].petitioning_ceased_on = dt.date(2026, 3, 1)
        assert not policy.can(users_["lead_none"], C, extra[0])
        extra[0].petitioning_ceased_on = None
        assert not policy.can(users_["registrar"], L, extra[2])    # excluded
        assert not policy.can(users_["lead_ldjc"], L, extra[1])    # registered it, then excluded


def test_excluded_user_is_refused_everything_even_as_chief(inst, world):
    users, serials = world
    with inst.unit_of_work() as s:
        chief_x = s.get(User, users["chief_x"])
        record = s.execute(select(Record).where(Record.serial == serials["intake"])).scalar_one()
        assert policy.is_excluded(chief_x, record)
        for perm in policy.PERMISSIONS:
            assert not policy.can(chief_x, perm, record), perm
        with pytest.raises(NotFound):
            policy.require(chief_x, C, record)
        # still a chief elsewhere, and for global permissions
        assert policy.can(chief_x, policy.REGISTER) and policy.can(chief_x, policy.VIEW_AUDIT)


def test_require_hides_records_the_user_cannot_see(inst, world):
    _users, _serials = world
    with inst.unit_of_work() as s:
        users_, records = _load(s, world)
        with pytest.raises(NotFound):
            policy.require(users_["h_shbx"], C, records["ldjc"])      # not even the ledger line: 404
        with pytest.raises(AccessDenied):
            policy.require(users_["clerk2"], C, records["ldjc"])      # the line, not the content: 403
        with pytest.raises(AccessDenied):
            policy.require(users_["admin"], policy.REGISTER)
        policy.require(users_["registrar"], C, records["ldjc"])
        assert not policy.can(None, L, records["ldjc"])


def test_global_permissions(inst, world):
    users, _ = world
    expected = {
        policy.REGISTER: {"registrar", "clerk2", "lead_ldjc", "lead_zcfg", "lead_none", "chief", "chief_x",
                          "clerk_handler"},
        policy.MANAGE_USERS: {"admin"},
        policy.VIEW_AUDIT: {"inspector", "chief", "chief_x"},
    }
    with inst.unit_of_work() as s:
        for perm, who in expected.items():
            got = {n for n, i in users.items() if policy.can(s.get(User, i), perm)}
            assert got == who, perm


def test_every_permission_names_known_roles_and_scopes():
    from records.reference.vocab import ROLES

    scopes = {policy.ALL, policy.OWN, policy.OFFICE, policy.OVERSEEN, policy.GLOBAL}
    for perm, grants in policy.table():
        assert set(grants) <= set(ROLES), perm
        assert set(grants.values()) <= scopes, perm
    for perm in PER_RECORD:
        assert policy.GLOBAL not in policy.PERMISSIONS[perm].values()
    # no role but the chief and a leader's own offices ever reads identities; never archivist/inspector/admin
    for role in ("archivist", "inspector", "admin", "handler"):
        assert role not in policy.PERMISSIONS[I] and (role == "handler" or role not in policy.PERMISSIONS[C])


# -- masking ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fn,value,masked", [
    (policy.mask_name, "王小明", "王**"),
    (policy.mask_name, "歐陽娜娜", "歐***"),
    (policy.mask_name, "李", "李"),
    (policy.mask_name, " 王小明 ", "王**"),
    (policy.mask_name, "John Smith", "J*********"),
    (policy.mask_name, "", ""),
    (policy.mask_id_number, "110101199001011234", "1101**********1234"),
    (policy.mask_id_number, "11010119900101123X", "1101**********123X"),
    (policy.mask_id_number, "110101900101123", "1101*******1123"),
    (policy.mask_id_number, "", ""),
    (policy.mask_phone, "13812345678", "138****5678"),
    (policy.mask_phone, "010-62345678", "010*****5678"),
    (policy.mask_phone, "1234", "1***"),
    (policy.mask_phone, "", ""),
    (policy.mask_address, "北京市海淀區中關村大街1號", "北京市****"),
    (policy.mask_address, "12 Baker Street, London", "12 Bak****"),
    (policy.mask_address, "", ""),
])
def test_masking(fn, value, masked):
    assert fn(value) == masked


def test_petitioner_view_masks_or_shows():
    p = {"name": "王小明", "id_number": "110101199001011234", "phone": "13812345678", "address": "北京市海淀區"}
    assert policy.petitioner_view(p, True) == {**p, "masked": False}
    shown = policy.petitioner_view(p, False)
    assert shown == {"name": "王**", "id_number": "1101**********1234", "phone": "138****5678",
                     "address": "北京市****", "masked": True}
    for v in p.values():
        assert v not in shown.values()
    assert policy.petitioner_view({}, False) == {"name": "", "id_number": "", "phone": "", "address": "",
                                                  "masked": True}
