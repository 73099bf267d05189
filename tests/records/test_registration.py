"""Registration for every channel (service, web form, JSON API), every validation rule, size
and type limits on attachments, nothing half-written after a failure, identity blind tokens,
and document history."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from sqlalchemy import select, text

from records import identity
from records.cases import operations
from records.reference.vocab import CHANNELS
from records.errors import AccessDenied, NotFound, TooLarge, ValidationError
from records.identity import id_check_char
from records.models import IdentityToken, Record, RecordEvent
from records.accounts.models import User
from records.cases.operations import Upload
from records.cases.schemas import MAX_BODY, MAX_NOTES, MAX_SUBJECT, validate_registration
from tests.conftest import api_letter, letter_data, login


@pytest.fixture(scope="module", autouse=True)
def _cheap_argon2():
    """Argon2id with small parameters: these tests create many accounts, and the strength of
    the hash is not what they test (test_accounts checks the production parameters)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as _accounts

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        yield

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
DROP = object()

TABLES = ("records", "record_keys", "identity_tokens", "attachments", "outbox", "record_versions",
          "record_events", "audit_entries")


def snapshot(inst) -> dict:
    """Row counts of every table a registration writes, the serial counters, and blob files."""
    with inst.db.engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}
        counts["serials"] = tuple(conn.execute(text("SELECT year, last FROM serial_counters ORDER BY year")).all())
    counts["blobs"] = frozenset(str(p) for p in inst.settings.blob_dir.rglob("*") if p.is_file())
    return counts


def _data(**overrides) -> dict:
    data = letter_data(**{k: v for k, v in overrides.items() if v is not DROP and not
                          (k == "petitioner" and not isinstance(v, dict))})
    for k, v in overrides.items():
        if v is DROP:
            data.pop(k, None)
        elif k == "petitioner" and not isinstance(v, dict):
            data[k] = v
    return data


def _register(inst, user, data, uploads=()):
    with inst.unit_of_work() as s:
        record = operations.register(s, data, by=s.get(User, user.id), uploads=list(uploads))
        return record.serial


def _record(s, serial) -> Record:
    return s.execute(select(Record).where(Record.serial == serial)).scalar_one()


def valid_id(first17: str = "11010819850612003") -> str:
    return first17 + id_check_char(first17)


def bad_id(first17: str = "11010819850612003") -> str:
    """The same number with a wrong check character."""
    good = id_check_char(first17)
    return first17 + ("1" if good != "1" else "2")


def id_ending_in_x() -> str:
    for n in range(1000):
        first17 = f"11010819770707{n:03d}"
        if id_check_char(first17) == "X":
            return first17 + "X"
    raise AssertionError("no ID number with check character X found")


@pytest.fixture(scope="module")
def registrar(inst):
    """One clerk for the many validation cases (creating a user per case costs an Argon2 hash)."""
    from records.accounts import operations as accounts
    from tests.conftest import TEST_PASSWORD

    with inst.unit_of_work() as s:
        user = accounts.create_user(s, "registrar", TEST_PASSWORD, ["clerk"], office="XFB")
    return user


# -- every channel ---------------------------------------------------------------------
@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_through_the_service(inst, make_user, channel):
    clerk = make_user("clerk")
    people = 12 if channel == "visit" else 1
    serial = _register(inst, clerk, _data(channel=channel, people_count=people, notes="登記備註"))
    with inst.unit_of_work() as s:
        r = _record(s, serial)
        assert (r.channel, r.people_count, r.status, r.office.code) == (channel, people, "registered", "XFB")
        assert r.registered_by_id == clerk.id and r.first_responder_id == clerk.id
        assert r.key is not None and r.key.wrapped_by == "master:1"
        assert [e.kind for e in r.events] == ["registered"]
        doc = operations.document(s, r)
        assert doc["subject"] == letter_data()["subject"] and doc["notes"] == "登記備註"
        assert s.execute(text("SELECT count(*) FROM outbox WHERE record_uid = :u"), {"u": r.uid}).scalar_one() == 1


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_through_the_web_form(app, inst, make_user, channel):
    clerk = make_user("clerk")
    client = app.test_client()
    login(client, clerk.username)
    r = client.post("/records/new", content_type="multipart/form-data", data={
        "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
        "channel": channel, "received_at": "2026-03-02T10:00", "region": "110108", "category": "social_security",
        "people_count": "5", "subject": f"網頁登記 {channel}", "body": "內容",
        "petitioner_name": "李四", "petitioner_id_number": valid_id(), "petitioner_phone": "010-62345678",
        "petitioner_address": "北京市", "attachments": [(io.BytesIO(PDF), "掃描件.pdf")]})
    assert r.status_code == 302, r.get_data(as_text=True)[:1500]
    serial = r.headers["Location"].rsplit("/", 1)[-1]
    with inst.unit_of_work() as s:
        rec = _record(s, serial)
        assert (rec.channel, rec.people_count, rec.category) == (channel, 5, "social_security")
        assert [a.content_type for a in rec.attachments] == ["application/pdf"]
    page = client.get(f"/records/{serial}").get_data(as_text=True)
    assert f"網頁登記 {channel}" in page and "掃描件.pdf" in page


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_channel_through_the_api(app, inst, make_user, api_token, channel):
    clerk = make_user("clerk")
    h = {"Authorization": f"Bearer {api_token(clerk)}"}
    client = app.test_client()
    r = client.post("/api/v1/records", headers=h, json=api_letter(channel=channel, people_count=3))
    assert r.status_code == 201, r.get_json()
    serial = r.get_json()["serial"]
    assert r.headers["Location"].endswith(f"/records/{serial}")
    body = client.get(f"/api/v1/records/{serial}", headers=h).get_json()
    assert body["channel"] == channel and body["people_count"] == 3
    assert body["petitioner"]["name"] == "王小明" and body["petitioner"]["masked"] is False


# -- validation -----------------------------------------------------------------------------
FUTURE = (dt.datetime.now(dt.UTC) + dt.timedelta(days=2)).isoformat()

INVALID = [
    # (overrides, the field that must be named)
    *[({f: DROP}, f) for f in ("channel", "received_at", "region", "category", "subject", "body")],
    *[({f: ""}, f) for f in ("channel", "received_at", "region", "category", "subject", "body")],
    ({"subject": "   "}, "subject"),
    ({"channel": "pigeon"}, "channel"),
    ({"channel": None}, "channel"),
    ({"channel": ["letter"]}, "channel"),
    ({"category": "nonsense"}, "category"),
    ({"region": "999999"}, "region"),               # well-formed, not a known region
    ({"region": "11010"}, "region"),
    ({"region": 110108}, "region"),
    ({"region": "11O108"}, "region"),
    ({"received_at": "2026-13-01"}, "received_at"),
    ({"received_at": "2026-02-30"}, "received_at"),
    ({"received_at": "yesterday"}, "received_at"),
    ({"received_at": "02/03/2026"}, "received_at"),
    ({"received_at": "2026-03-02T25:00"}, "received_at"),
    ({"received_at": 20260302}, "received_at"),
    ({"received_at": "1999-12-31"}, "received_at"),
    ({"received_at": FUTURE}, "received_at"),
    ({"petitioner": {"id_number": bad_id()}}, "petitioner.id_number"),
    ({"petitioner": {"id_number": "12345"}}, "petitioner.id_number"),
    ({"petitioner": {"id_number": "11010819850612003Y"}}, "petitioner.id_number"),
    ({"petitioner": {"id_number": "1101081985061200312345"}}, "petitioner.id_number"),
    ({"petitioner": {"phone": "abc"}}, "petitioner.phone"),
    ({"petitioner": {"phone": "12"}}, "petitioner.phone"),
    ({"petitioner": {"phone": "138-1234-5678 ext. 9"}}, "petitioner.phone"),
    ({"petitioner": "王小明"}, "petitioner"),
    ({"people_count": 0}, "people_count"),
    ({"people_count": -1}, "people_count"),
    ({"people_count": "abc"}, "people_count"),
    ({"people_count": 10001}, "people_count"),
    ({"people_count": 1.5}, "people_count"),
    ({"people_count": True}, "people_count"),
    ({"people_count": "-3"}, "people_count"),
    ({"colour": "red"}, "colour"),
    ({"serial": "XF-2026-000001"}, "serial"),
    ({"subject": "拖欠\x00工資"}, "subject"),
    ({"subject": "拖欠\n工資"}, "subject"),
    ({"body": "正文\x1b[31m"}, "body"),
    ({"body": "正文\u2028後文"}, "body"),
    ({"notes": "\x7f"}, "notes"),
    ({"petitioner": {"name": "王\x07小明"}}, "petitioner.name"),
    ({"petitioner": {"address": "北京\tmarket"}}, "petitioner.address"),
    ({"subject": "字" * (MAX_SUBJECT + 1)}, "subject"),
    ({"body": "字" * (MAX_BODY + 1)}, "body"),
    ({"notes": "字" * (MAX_NOTES + 1)}, "notes"),
    ({"petitioner": {"name": "名" * 101}}, "petitioner.name"),
    ({"petitioner": {"address": "址" * 301}}, "petitioner.address"),
    ({"subject": 12345}, "subject"),
    ({"first_responder": "no-such-user"}, "first_responder"),
    ({"first_responder": "Not A User"}, "first_responder"),
    ({"first_responder": "ab\ud800"}, "first_responder"),      # a lone surrogate, as JSON allows
    ({"subject": "拖欠\ud800工資"}, "subject"),
    ({"petitioner": {"name": "\udc00王"}}, "petitioner.name"),
]


@pytest.mark.parametrize("overrides,field", INVALID, ids=[f"{f}-{i}" for i, (_, f) in enumerate(INVALID)])
def test_validation_errors_name_the_field_and_write_nothing(inst, registrar, overrides, field):
    before = snapshot(inst)
    with pytest.raises(ValidationError) as info:
        _register(inst, registrar, _data(**overrides))
    assert field in info.value.fields, info.value.fields
    assert info.value.status == 422
    # messages name the rule, never echo the input
    for v in overrides.values():
        if isinstance(v, str) and len(v) > 3:
            assert v not in info.value.message and all(v not in m for m in info.value.fields.values())
    assert snapshot(inst) == before


def test_every_bad_field_is_named_at_once(inst, make_user):
    clerk = make_user("clerk")
    with pytest.raises(ValidationError) as info:
        _register(inst, clerk, _data(channel="x", category="y", region="1", received_at="z", subject="",
                                     body="", people_count=0, petitioner={"phone": "x", "id_number": "1"}))
    assert set(info.value.fields) >= {"channel", "category", "region", "received_at", "subject", "body",
                                      "people_count", "petitioner.phone", "petitioner.id_number"}


def test_a_body_that_is_not_an_object_is_refused():
    from zoneinfo import ZoneInfo

    for raw in (None, [], "text", 5):
        with pytest.raises(ValidationError):
            validate_registration(raw, tz=ZoneInfo("Asia/Shanghai"))


def test_accepted_edge_values(inst, make_user):
    clerk = make_user("clerk")
    for overrides in ({"people_count": 10000}, {"people_count": "7"}, {"people_count": None},
                      {"received_at": "2026-03-02"}, {"received_at": "2026-03-02T10:00:00+08:00"},
                      {"received_at": "2026-03-02T02:00:00Z"},
                      {"subject": "字" * MAX_SUBJECT}, {"body": "第一行\n第二行\r\n第三行\t縮排"},
                      {"petitioner": {"id_number": "110108850612003"}},   # legacy 15-digit ID
                      {"petitioner": {"phone": "+86 (10) 6234-5678"}},
                      {"petitioner": {"name": "", "id_number": "", "phone": "", "address": ""}},
                      {"first_responder": make_user("leader").username}):     # Art 17: a leader
        _register(inst, clerk, _data(**overrides))


def test_non_registrars_cannot_register(inst, make_user):
    for role in ("handler", "archivist", "inspector", "admin"):
        user = make_user(role)
        before = snapshot(inst)
        with pytest.raises(AccessDenied):
            _register(inst, user, _data())
        assert snapshot(inst) == before


# -- web and API validation ---------------------------------------------------------------
def test_web_form_shows_messages_next_to_fields_and_writes_nothing(app, inst, make_user):
    clerk = make_user("clerk")
    client = app.test_client()
    login(client, clerk.username)
    before = snapshot(inst)
    r = client.post("/records/new", data={
        "channel": "letter", "received_at": "2026-02-30", "region": "110108", "category": "labour_wages",
        "people_count": "0", "subject": "", "body": "內容", "petitioner_phone": "abc",
        "petitioner_id_number": bad_id()})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    for f in ("received_at", "people_count", "subject", "petitioner_phone", "petitioner_id_number"):
        assert f'id="{f}-error"' in page, f
    assert 'id="body-error"' not in page
    assert snapshot(inst) == before


def test_api_validation_errors_are_json_and_write_nothing(app, inst, make_user, api_token):
    clerk = make_user("clerk")
    h = {"Authorization": f"Bearer {api_token(clerk)}"}
    client = app.test_client()
    before = snapshot(inst)
    r = client.post("/api/v1/records", headers=h, json=_data(channel="pigeon", people_count="abc", extra=1))
    assert r.status_code == 422
    body = r.get_json()
    assert body["error"] and {"channel", "people_count", "extra"} <= set(body["fields"])
    r = client.post("/api/v1/records", headers=h, json=[1, 2])
    assert r.status_code == 422
    r = client.post("/api/v1/records", headers=h, data="not json", content_type="application/json")
    assert r.status_code in (400, 422) and "error" in r.get_json()
    r = client.post("/api/v1/records", headers=h, data="channel=letter")
    assert r.status_code in (400, 422) and "error" in r.get_json()
    for bad in ({"subject": "a\ud800"}, {"first_responder": "x\udfff"}, {"petitioner": {"address": "\ud83d"}}):
        # lone surrogates are valid JSON escapes but not text: refused, never a 500
        r = client.post("/api/v1/records", headers=h, data=json.dumps(_data(**bad)),
                        content_type="application/json")
        assert r.status_code == 422, (bad, r.get_json())
    r = client.post("/api/v1/records", json=_data())   # no token
    assert r.status_code == 401 and "error" in r.get_json()
    assert snapshot(inst) == before


# -- attachments: size, type, count ----------------------------------------------------------
def test_oversized_attachment_raises_too_large_and_writes_nothing(inst, make_user):
    clerk = make_user("clerk")
    limit = inst.settings.max_attachment_bytes
    before = snapshot(inst)
    with pytest.raises(TooLarge) as info:
        _register(inst, clerk, _data(), uploads=[Upload("ok.pdf", PDF), Upload("big.pdf", PDF + b"0" * limit)])
    assert info.value.status == 413 and "attachments" in info.value.fields
    assert snapshot(inst) == before
    # exactly at the limit is fine
    _register(inst, clerk, _data(), uploads=[Upload("limit.pdf", PDF + b"0" * (limit - len(PDF)))])


@pytest.mark.parametrize("name,data", [
    ("archive.zip", b"PK\x03\x04" + bytes(range(256)) * 4),
    ("random.bin", bytes(range(128, 256)) * 8),
    ("program.exe", b"MZ\x90\x00" + bytes(range(256)) * 4),
    ("empty.pdf", b""),
])
def test_unsupported_or_empty_attachment_is_refused(inst, make_user, name, data):
    clerk = make_user("clerk")
    before = snapshot(inst)
    with pytest.raises(ValidationError) as info:
        _register(inst, clerk, _data(), uploads=[Upload("fine.pdf", PDF), Upload(name, data)])
    assert "attachments" in info.value.fields
    assert snapshot(inst) == before


def test_content_type_is_sniffed_not_taken_from_the_name(inst, make_user):
    clerk = make_user("clerk")
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(32)
    serial = _register(inst, clerk, _data(), uploads=[Upload("scan.pdf", png), Upload("note.exe", "信件內容".encode()),
                                                      Upload("mail.eml", b"From: a@b.c\nSubject: x\n\nbody")])
    with inst.unit_of_work() as s:
        types = [a.content_type for a in _record(s, serial).attachments]
    assert types == ["image/png", "text/plain", "message/rfc822"]


def test_too_many_attachments_are_refused(inst, make_user):
    clerk = make_user("clerk")
    before = snapshot(inst)
    n = inst.settings.max_attachments + 1
    with pytest.raises(ValidationError):
        _register(inst, clerk, _data(), uploads=[Upload(f"{i}.pdf", PDF) for i in range(n)])
    assert snapshot(inst) == before


def test_oversized_and_unsupported_attachments_via_web(app, inst, make_user):
    clerk = make_user("clerk")
    client = app.test_client()
    login(client, clerk.username)
    form = {"confirm_old_received_date": "y", "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108",
            "category": "labour_wages", "people_count": "1", "subject": "附件", "body": "內容"}
    before = snapshot(inst)
    big = PDF + b"0" * inst.settings.max_attachment_bytes
    r = client.post("/records/new", content_type="multipart/form-data",
                    data={**form, "attachments": [(io.BytesIO(PDF), "a.pdf"), (io.BytesIO(big), "big.pdf")]})
    assert r.status_code == 413
    assert "Traceback" not in r.get_data(as_text=True)
    r = client.post("/records/new", content_type="multipart/form-data",
                    data={**form, "attachments": [(io.BytesIO(b"PK\x03\x04" + bytes(range(256))), "a.zip")]})
    assert r.status_code == 422
    assert 'id="attachments-error"' in r.get_data(as_text=True)
    assert snapshot(inst) == before


def test_oversized_and_unsupported_attachments_via_api(app, inst, make_user, api_token, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk)
    h = {"Authorization": f"Bearer {api_token(clerk)}"}
    client = app.test_client()
    before = snapshot(inst)
    big = PDF + b"0" * inst.settings.max_attachment_bytes
    r = client.post(f"/api/v1/records/{serial}/attachments", headers=h, content_type="multipart/form-data",
                    data={"file": [(io.BytesIO(PDF), "a.pdf"), (io.BytesIO(big), "big.pdf")]})
    assert r.status_code == 413 and r.get_json()["error"]
    r = client.post(f"/api/v1/records/{serial}/attachments", headers=h, content_type="multipart/form-data",
                    data={"file": [(io.BytesIO(b"PK\x03\x04" + bytes(range(256))), "a.zip")]})
    assert r.status_code == 422 and "fields" in r.get_json()
    r = client.post(f"/api/v1/records/{serial}/attachments", headers=h, content_type="multipart/form-data", data={})
    assert r.status_code == 422
    assert snapshot(inst) == before
    r = client.post(f"/api/v1/records/{serial}/attachments", headers=h, content_type="multipart/form-data",
                    data={"file": [(io.BytesIO(PDF), "late-scan.pdf")]})
    assert r.status_code == 201
    after = snapshot(inst)
    assert after["attachments"] == before["attachments"] + 1 and len(after["blobs"]) == len(before["blobs"]) + 1


def test_a_failure_after_blobs_were_written_removes_them(inst, make_user, monkeypatch):
    """The outbox write fails after both blobs are on disk: the rollback takes them away."""
    clerk = make_user("clerk")
    before = snapshot(inst)
    real = operations.audit.record

    def fail_on_register(session, action, **kw):
        if action == "record.register":
            raise RuntimeError("simulated crash at the end of registration")
        return real(session, action, **kw)

    monkeypatch.setattr(operations.audit, "record", fail_on_register)
    with pytest.raises(RuntimeError):
        _register(inst, clerk, _data(), uploads=[Upload("a.pdf", PDF), Upload("b.pdf", PDF)])
    monkeypatch.undo()
    assert snapshot(inst) == before


# -- identity blind tokens ---------------------------------------------------------------------
def _tokens(inst, serial) -> dict[str, bytes]:
    with inst.unit_of_work() as s:
        rid = _record(s, serial).id
        rows = s.execute(select(IdentityToken).where(IdentityToken.record_id == rid)).scalars()
        return {t.kind: t.token for t in rows}


def test_identity_tokens_are_created_for_id_phone_and_name(inst, make_user):
    clerk = make_user("clerk")
    serial = _register(inst, clerk, _data())
    toks = _tokens(inst, serial)
    assert set(toks) == {"id_number", "phone", "name"}
    assert all(len(t) == 16 for t in toks.values())
    key = inst.purpose_key("identity")
    p = letter_data()["petitioner"]
    assert toks["id_number"] == identity.token(key, "id_number", p["id_number"])
    assert toks["phone"] == identity.token(key, "phone", p["phone"])
    assert toks["name"] == identity.token(key, "name", p["name"])
    # keyed: the same value under another key gives another token
    assert identity.token(b"k" * 32, "name", p["name"]) != toks["name"]
    # no identity, no tokens
    assert _tokens(inst, _register(inst, clerk, _data(petitioner={"name": "", "id_number": "", "phone": ""}))) == {}


def test_equivalent_identities_give_equal_tokens(inst, make_user):
    clerk = make_user("clerk")
    idn = id_ending_in_x()
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c.lower() for c in idn)
    a = _register(inst, clerk, _data(petitioner={"name": "陳大偉", "id_number": idn, "phone": "+86 138 1234 5678"}))
    b = _register(inst, clerk, _data(petitioner={"name": "陈 大伟", "id_number": " " + fullwidth[:6] + " " + fullwidth[6:],
                                                 "phone": "１３８１２３４５６７８"}))
    c = _register(inst, clerk, _data(petitioner={"name": "陳大偉", "id_number": idn, "phone": "0086-13812345678"}))
    other = valid_id(idn[:14] + ("999" if idn[14:17] != "999" else "998"))
    d = _register(inst, clerk, _data(petitioner={"name": "陳大衛", "id_number": other, "phone": "13812345679"}))
    ta, tb, tc, td = (_tokens(inst, x) for x in (a, b, c, d))
    assert ta == tb == tc
    assert all(ta[k] != td[k] for k in ("name", "id_number", "phone"))
    # the stored ID number is normalised (half-width, upper-case X), the phone as written
    with inst.unit_of_work() as s:
        doc = operations.document(s, _record(s, b))
    assert doc["petitioner"]["id_number"] == idn


def test_tokens_are_not_the_identifier(inst, make_user):
    clerk = make_user("clerk")
    serial = _register(inst, clerk, _data())
    p = letter_data()["petitioner"]
    for tok in _tokens(inst, serial).values():
        for v in p.values():
            assert v.encode() not in tok


# -- document history ----------------------------------------------------------------------
def test_correct_keeps_the_previous_version_and_bumps_doc_version(inst, make_user):
    clerk = make_user("clerk")
    serial = _register(inst, clerk, _data(subject="原主題", body="原內容"))
    old_tokens = _tokens(inst, serial)
    with inst.unit_of_work() as s:
        r = _record(s, serial)
        operations.correct(s, r, {"subject": "更正主題", "petitioner": {"name": "王大明"}, "people_count": 2},
                           by=s.get(User, clerk.id), reason="登記時姓名寫錯")
        assert r.doc_version == 2
    with inst.unit_of_work() as s:
        r = _record(s, serial)
        operations.correct(s, r, {"body": "第三版內容"}, by=s.get(User, clerk.id))
    with inst.unit_of_work() as s:
        r = _record(s, serial)
        u = s.get(User, clerk.id)
        assert r.doc_version == 3 and r.people_count == 2
        assert [v.version for v in r.versions] == [1, 2]
        v1, v2 = (operations.version_document(s, r, v) for v in r.versions)
        assert (v1["subject"], v1["body"], v1["petitioner"]["name"]) == ("原主題", "原內容", "王小明")
        assert (v2["subject"], v2["body"], v2["petitioner"]["name"]) == ("更正主題", "原內容", "王大明")
        view = operations.view(s, r, u)
        assert (view.content["subject"], view.content["body"]) == ("更正主題", "第三版內容")
        assert [h["kind"] for h in view.history] == ["registered", "corrected", "corrected"]
        assert view.history[1]["note"] == "登記時姓名寫錯"
        # a version's ciphertext is bound to its version number
        from records.errors import CryptoError
        with pytest.raises(CryptoError):
            operations.version_document(s, r, type(r.versions[0])(version=2, document_sealed=r.versions[0].document_sealed))
    new_tokens = _tokens(inst, serial)
    assert new_tokens["name"] != old_tokens["name"] and new_tokens["phone"] == old_tokens["phone"]


def test_an_invalid_correction_changes_nothing(inst, make_user):
    clerk = make_user("clerk")
    serial = _register(inst, clerk, _data())
    before = snapshot(inst)
    for changes in ({"subject": ""}, {"people_count": 0}, {"region": "999999"},
                    {"received_at": "2025-03-02T10:00"},   # another year: the serial is per year
                    {"petitioner": {"id_number": "110108199001011230"}}):
        with pytest.raises(ValidationError), inst.unit_of_work() as s:
            operations.correct(s, _record(s, serial), changes, by=s.get(User, clerk.id))
    assert snapshot(inst) == before
    with inst.unit_of_work() as s:
        assert _record(s, serial).doc_version == 1


def test_only_those_allowed_may_correct(inst, make_user):
    clerk = make_user("clerk")
    serial = _register(inst, clerk, _data())
    other_clerk = make_user("clerk")
    handler = make_user("handler", office="SHBX")
    with pytest.raises(AccessDenied), inst.unit_of_work() as s:
        operations.correct(s, _record(s, serial), {"subject": "x"}, by=s.get(User, other_clerk.id))
    with pytest.raises(NotFound), inst.unit_of_work() as s:
        operations.correct(s, _record(s, serial), {"subject": "x"}, by=s.get(User, handler.id))
    with inst.unit_of_work() as s:
        assert _record(s, serial).doc_version == 1
        assert s.execute(select(RecordEvent.kind).join(Record).where(Record.serial == serial)).scalars().all() \
            == ["registered"]
