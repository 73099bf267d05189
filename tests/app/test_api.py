"""The JSON API /api/v1: registration for every channel, error shapes, tokens, reading
under the access policy, the ledger with filters and pages, the OpenAPI document, attachments."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from sqlalchemy import func, select, update

from records.accounts import operations as accounts
from records.reference.vocab import CHANNELS
from records.accounts.models import ApiToken, User
from records.models import Attachment, AuditEntry, Record
from records.reference.models import Office
from tests.conftest import api_letter, letter_data

SERIAL = re.compile(r"^XF-\d{4}-\d{6}$")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00\x00\x00\x01" * 2 + b"\x08\x02\x00\x00\x00" + b"\x00" * 64


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_json_error(response, status: int) -> dict:
    """An error is JSON {"error": str, "fields": {...}} with the right status, never a trace."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == "application/json", text
    body = response.get_json()
    assert isinstance(body.get("error"), str) and body["error"]
    assert isinstance(body.get("fields"), dict)
    assert "Traceback" not in text and 'File "' not in text
    return body


def count(inst, model, *where) -> int:
    with inst.unit_of_work() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def move_to(inst, serial: str, office: str) -> None:
    with inst.unit_of_work() as s:
        office_id = s.execute(select(Office.id).where(Office.code == office)).scalar_one()
        s.execute(update(Record).where(Record.serial == serial).values(office_id=office_id))


def blob_count(inst) -> int:
    return sum(1 for p in inst.settings.blob_dir.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def clerk(inst):
    """One clerk for the whole module (Argon2 makes every new user cost a few tenths of a second)."""
    with inst.unit_of_work() as s:
        user = accounts.create_user(s, "apiclerk", "test-password-123", ["clerk"], office="XFB")
        token = accounts.issue_token(s, user, label="test")
        s.flush()
        s.expunge(user)
    user.token = token
    return user


@pytest.fixture(scope="module")
def auth(clerk):
    return bearer(clerk.token)


# -- registration -----------------------------------------------------------------------
@pytest.mark.parametrize("channel", CHANNELS)
def test_register_every_channel(client, auth, channel):
    people = 12 if channel == "visit" else 1
    r = client.post("/api/v1/records", json=api_letter(channel=channel, people_count=people), headers=auth)
    assert r.status_code == 201, r.get_json()
    serial = r.get_json()["serial"]
    assert SERIAL.match(serial)
    assert r.headers["Location"].endswith(f"/api/v1/records/{serial}")
    got = client.get(f"/api/v1/records/{serial}", headers=auth).get_json()
    assert got["channel"] == channel and got["people_count"] == people and got["status"] == "registered"
    assert got["content"]["subject"] == letter_data()["subject"]


def test_register_without_petitioner_and_with_date_only(client, auth):
    data = api_letter(received_at="2026-03-05")
    del data["petitioner"]
    r = client.post("/api/v1/records", json=data, headers=auth)
    assert r.status_code == 201, r.get_json()
    got = client.get(f"/api/v1/records/{r.get_json()['serial']}", headers=auth).get_json()
    assert got["received_at"].startswith("2026-03-05T09:00")


def test_serials_follow_each_other(client, auth):
    first = client.post("/api/v1/records", json=api_letter(), headers=auth).get_json()["serial"]
    assert client.post("/api/v1/records", json=api_letter(region="11010"), headers=auth).status_code == 422
    second = client.post("/api/v1/records", json=api_letter(), headers=auth).get_json()["serial"]
    assert int(second[-6:]) == int(first[-6:]) + 1


@pytest.mark.parametrize("kwargs,status", [
    ({"data": "channel=letter&subject=x", "content_type": "application/x-www-form-urlencoded"}, 400),
    ({"data": "not json at all", "content_type": "text/plain"}, 400),
    ({"data": "{\"channel\": \"letter\",", "content_type": "application/json"}, 400),
    ({"json": [letter_data()]}, 422),
    ({"json": "a string"}, 422),
    ({"data": "null", "content_type": "application/json"}, 422),
], ids=["form", "text", "broken-json", "array", "string", "null"])
def test_body_that_is_not_a_json_object(client, inst, auth, kwargs, status):
    before = count(inst, Record)
    r = client.post("/api/v1/records", headers=auth, **kwargs)
    body = assert_json_error(r, status)
    assert "JSON" in body["error"]
    assert count(inst, Record) == before


def test_missing_fields_are_all_named(client, inst, auth):
    before = count(inst, Record)
    body = assert_json_error(client.post("/api/v1/records", json={}, headers=auth), 422)
    assert {"channel", "received_at", "region", "category", "subject", "body"} <= set(body["fields"])
    assert count(inst, Record) == before


@pytest.mark.parametrize("override,field", [
    ({"channel": "pigeon"}, "channel"),
    ({"channel": None}, "channel"),
    ({"received_at": "2026-02-30T10:00"}, "received_at"),
    ({"received_at": "yesterday"}, "received_at"),
    ({"received_at": "2099-01-01T10:00"}, "received_at"),
    ({"received_at": "1999-12-31"}, "received_at"),
    ({"received_at": 20260302}, "received_at"),
    ({"region": "11010"}, "region"),
    ({"region": "999999"}, "region"),
    ({"region": 110108}, "region"),
    ({"category": "gossip"}, "category"),
    ({"subject": ""}, "subject"),
    ({"subject": "   "}, "subject"),
    ({"subject": "字" * 201}, "subject"),
    ({"subject": "line\nbreak"}, "subject"),
    ({"body": "bell\x07"}, "body"),
    ({"subject": "lone surrogate \ud800"}, "subject"),
    ({"body": ["not", "text"]}, "body"),
    ({"people_count": 0}, "people_count"),
    ({"people_count": 10001}, "people_count"),
    ({"people_count": "many"}, "people_count"),
    ({"people_count": True}, "people_count"),
    ({"people_count": 2.5}, "people_count"),
    ({"petitioner": "王小明"}, "petitioner"),
    ({"petitioner": {"id_number": "110108199001011232"}}, "petitioner.id_number"),
    ({"petitioner": {"phone": "call me"}}, "petitioner.phone"),
    ({"petitioner": {"name": "名" * 101}}, "petitioner.name"),
    ({"first_responder": "nobody-of-that-name"}, "first_responder"),
])
def test_bad_values_are_refused_and_nothing_is_written(client, inst, auth, override, field):
    before = count(inst, Record), count(inst, AuditEntry, AuditEntry.action == "record.register")
    data = api_letter()
    for key, value in override.items():
        if key == "petitioner" and isinstance(value, dict):
            data["petitioner"].update(value)
        else:
            data[key] = value
    r = client.post("/api/v1/records", json=data, headers=auth)
    body = assert_json_error(r, 422)
    assert field in body["fields"], body
    assert (count(inst, Record), count(inst, AuditEntry, AuditEntry.action == "record.register")) == before


def test_unknown_fields_are_refused(client, inst, auth):
    before = count(inst, Record)
    body = assert_json_error(client.post("/api/v1/records", json=api_letter(colour="red", serial="XF-2026-000001"),
                                         headers=auth), 422)
    assert body["fields"]["colour"] == "Unknown field." and "serial" in body["fields"]
    assert count(inst, Record) == before


def test_error_messages_do_not_echo_letter_text(client, auth):
    canary = "CANARY-7Q9X-拖欠"
    r = client.post("/api/v1/records", json=api_letter(subject=canary + "\n", region="bad"), headers=auth)
    assert_json_error(r, 422)
    assert canary not in r.get_data(as_text=True)


# -- tokens --------------------------------------------------------------------------------
@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token xf_abc",
                                    "Bearer xf_not-a-real-token", "Bearer not-even-our-prefix",
                                    "Bearer " + "x" * 5000])
def test_missing_or_bad_token(client, inst, header):
    headers = {} if header is None else {"Authorization": header}
    before = count(inst, Record)
    for method, path in (("GET", "/api/v1/records"), ("POST", "/api/v1/records"),
                         ("GET", "/api/v1/records/XF-2026-000001")):
        r = client.open(path, method=method, headers=headers, json=api_letter() if method == "POST" else None)
        assert_json_error(r, 401)
    assert count(inst, Record) == before


def test_expired_token(client, inst, make_user, api_token):
    clerk = make_user("clerk")
    token = api_token(clerk)
    assert client.get("/api/v1/records", headers=bearer(token)).status_code == 200
    with inst.unit_of_work() as s:
        s.execute(update(ApiToken).where(ApiToken.prefix == token[:10])
                  .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    body = assert_json_error(client.get("/api/v1/records", headers=bearer(token)), 401)
    assert "expired" in body["error"]


def test_revoked_token(client, inst, make_user, api_token):
    clerk = make_user("clerk")
    token, other = api_token(clerk), api_token(clerk)
    with inst.unit_of_work() as s:
        assert accounts.revoke_token(s, s.get(User, clerk.id), token[:10]) == 1
    assert_json_error(client.get("/api/v1/records", headers=bearer(token)), 401)
    assert client.get("/api/v1/records", headers=bearer(other)).status_code == 200


def test_token_of_a_deactivated_user(client, inst, make_user, api_token):
    clerk = make_user("clerk")
    token = api_token(clerk)
    with inst.unit_of_work() as s:
        accounts.set_active(s, s.get(User, clerk.id), False)
    assert_json_error(client.get("/api/v1/records", headers=bearer(token)), 401)


# -- reading under the access policy ------------------------------------------------------------
@pytest.fixture
def held_by_ldjc(client, inst, clerk, auth):
    """A letter registered by ``clerk`` and moved to office LDJC."""
    serial = client.post("/api/v1/records", json=api_letter(notes="登記備註"), headers=auth).get_json()["serial"]
    move_to(inst, serial, "LDJC")
    return serial


def test_registrar_reads_content_and_identity(client, auth, held_by_ldjc):
    body = client.get(f"/api/v1/records/{held_by_ldjc}", headers=auth).get_json()
    assert body["content"] == {"subject": letter_data()["subject"], "body": letter_data()["body"], "notes": "登記備註"}
    assert body["petitioner"]["name"] == "王小明" and body["petitioner"]["masked"] is False
    assert body["petitioner"]["id_number"] == "110108199001011231"
    assert body["office"] == "LDJC" and [h["event"] for h in body["history"]] == ["registered"]


def test_handler_of_the_office_reads_content_with_identity_masked(client, make_user, api_token, held_by_ldjc):
    handler = make_user("handler", office="LDJC")
    body = client.get(f"/api/v1/records/{held_by_ldjc}", headers=bearer(api_token(handler))).get_json()
    assert body["content"]["subject"] == letter_data()["subject"]
    assert body["petitioner"] == {"name": "王**", "id_number": "1101**********1231", "phone": "138****5678",
                                  "address": "北京市****", "masked": True}
    assert "王小明" not in str(body) and "110108199001011231" not in str(body)


@pytest.mark.parametrize("roles,office", [(("clerk",), "XFB"), (("archivist",), None), (("inspector",), None)])
def test_ledger_only_roles_get_no_content(client, make_user, api_token, held_by_ldjc, roles, office):
    user = make_user(*roles, office=office)
    r = client.get(f"/api/v1/records/{held_by_ldjc}", headers=bearer(api_token(user)))
    assert r.status_code == 200
    body = r.get_json()
    assert body["serial"] == held_by_ldjc and body["channel"] == "letter"
    assert body["content"] is None and body["petitioner"] is None and body["attachments"] == []
    assert "history" not in body
    assert letter_data()["subject"] not in r.get_data(as_text=True)


@pytest.mark.parametrize("roles,office,oversees", [
    (("handler",), "SHBX", ()), (("leader",), None, ("SHBX",)), (("admin",), None, ()),
])
def test_other_office_gets_404(client, make_user, api_token, held_by_ldjc, roles, office, oversees):
    user = make_user(*roles, office=office, oversees=oversees)
    body = assert_json_error(client.get(f"/api/v1/records/{held_by_ldjc}", headers=bearer(api_token(user))), 404)
    assert held_by_ldjc not in body["error"]


@pytest.mark.parametrize("serial", ["XF-2026-999999", "XF-26-1", "nonsense", "XF-2026-000001'--"])
def test_unknown_serial_is_404(client, auth, serial):
    assert_json_error(client.get(f"/api/v1/records/{serial}", headers=auth), 404)


def test_reads_are_audited(client, inst, auth, held_by_ldjc):
    before = count(inst, AuditEntry, AuditEntry.action == "record.read", AuditEntry.target == held_by_ldjc)
    client.get(f"/api/v1/records/{held_by_ldjc}", headers=auth)
    assert count(inst, AuditEntry, AuditEntry.action == "record.read", AuditEntry.target == held_by_ldjc) == before + 1


# -- the ledger ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def april(inst, app):
    """Seven records received in April 2025 (a month no other test here uses), registered by one
    clerk: (serial, channel, region, local received_at)."""
    from records.cases import operations

    rows = [("letter", "110101", "2025-04-01T10:00"), ("visit", "110105", "2025-04-01T15:00"),
            ("letter", "110105", "2025-04-02T00:30"), ("email", "110101", "2025-04-02T11:00"),
            ("visit", "110101", "2025-04-03T09:00"), ("letter", "110105", "2025-04-03T23:30"),
            ("visit", "110105", "2025-04-03T23:59")]
    with inst.unit_of_work() as s:
        user = accounts.create_user(s, "aprilclerk", "test-password-123", ["clerk"], office="XFB")
        token = accounts.issue_token(s, user)
        made = []
        for channel, region, at in rows:
            r = operations.register(s, letter_data(channel=channel, region=region, received_at=at,
                                                   people_count=3 if channel == "visit" else 1), by=user)
            made.append((r.serial, channel, region, at))
    return {"token": token, "rows": made}


def _ledger(client, token, **params):
    r = client.get("/api/v1/records", query_string=params, headers=bearer(token))
    assert r.status_code == 200, r.get_json()
    return r.get_json()


APRIL = {"date_from": "2025-04-01", "date_to": "2025-04-30"}


def test_ledger_date_range(client, april):
    body = _ledger(client, april["token"], **APRIL)
    assert body["total"] == 7 and len(body["items"]) == 7
    assert {i["serial"] for i in body["items"]} == {r[0] for r in april["rows"]}
    # days are the office's days: 00:30 on the 2nd (Asia/Shanghai) is still the 1st in UTC
    assert _ledger(client, april["token"], date_from="2025-04-01", date_to="2025-04-01")["total"] == 2
    assert _ledger(client, april["token"], date_from="2025-04-02", date_to="2025-04-02")["total"] == 2
    assert _ledger(client, april["token"], date_from="2025-04-03", date_to="2025-04-03")["total"] == 3
    assert _ledger(client, april["token"], date_from="2025-04-04", date_to="2025-04-30")["total"] == 0


def test_ledger_newest_first_with_subjects_for_own_records(client, april):
    items = _ledger(client, april["token"], **APRIL)["items"]
    times = [i["received_at"] for i in items]
    assert times == sorted(times, reverse=True)
    assert items[0]["received_at"].startswith("2025-04-03T23:59") and items[0]["received_at"].endswith("+08:00")
    assert all(i["subject"] == letter_data()["subject"] for i in items)


def test_ledger_hides_subjects_of_records_of_other_clerks(client, make_user, api_token, april):
    other = make_user("clerk")
    items = _ledger(client, api_token(other), **APRIL)["items"]
    assert len(items) == 7 and all(i["subject"] is None for i in items)


@pytest.mark.parametrize("params,expected", [
    ({"channel": "visit"}, 3), ({"channel": "letter"}, 3), ({"channel": "email"}, 1), ({"channel": "fax"}, 0),
    ({"region": "110105"}, 4), ({"region": "110101"}, 3), ({"region": "110101", "channel": "visit"}, 1),
    ({"status": "registered"}, 7), ({"status": "concluded"}, 0), ({"category": "labour_wages"}, 7),
])
def test_ledger_filters(client, april, params, expected):
    body = _ledger(client, april["token"], **APRIL, **params)
    assert body["total"] == expected == len(body["items"])
    for key, value in params.items():
        assert all(i[key] == value for i in body["items"])


def test_ledger_pages(client, april):
    seen = []
    for page in (1, 2, 3):
        body = _ledger(client, april["token"], **APRIL, per_page=3, page=page)
        assert (body["total"], body["page"], body["per_page"], body["pages"]) == (7, page, 3, 3)
        assert len(body["items"]) == (3 if page < 3 else 1)
        seen += [i["serial"] for i in body["items"]]
    assert sorted(seen) == sorted(r[0] for r in april["rows"])
    assert _ledger(client, april["token"], **APRIL, per_page=3, page=4)["items"] == []
    empty = _ledger(client, april["token"], date_from="2025-04-04", date_to="2025-04-04")
    assert (empty["total"], empty["pages"], empty["items"]) == (0, 1, [])


@pytest.mark.parametrize("params,field", [
    ({"page": "abc"}, "page"), ({"page": "0"}, None), ({"page": "-1"}, None), ({"per_page": "0"}, None),
    ({"per_page": "201"}, None), ({"per_page": "1.5"}, "page"),
    ({"date_from": "2025-02-30"}, "date_from"), ({"date_to": "April"}, "date_to"),
    ({"date_from": "2025-04-03", "date_to": "2025-04-01"}, "date_to"),
    ({"channel": "pigeon"}, "channel"), ({"region": "1" * 40}, "region"),
])
def test_ledger_bad_parameters(client, april, params, field):
    r = client.get("/api/v1/records", query_string=params, headers=bearer(april["token"]))
    body = assert_json_error(r, 422)
    if field:
        assert field in body["fields"]


def test_ledger_refused_to_roles_without_it(client, make_user, api_token):
    admin = make_user("admin")
    assert_json_error(client.get("/api/v1/records", headers=bearer(api_token(admin))), 403)


# -- the OpenAPI document ---------------------------------------------------------------------------
def _flask_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_openapi_is_valid_and_lists_every_route(app, client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.mimetype == "application/json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1.")
    OpenAPIV31SpecValidator(doc).validate()
    base = doc["servers"][0]["url"]
    assert base == "/api/v1"
    documented = {(base + path, method.upper()) for path, ops in doc["paths"].items() for method in ops
                  if method in ("get", "post", "put", "patch", "delete")}
    served = {(_flask_to_openapi(rule.rule), method)
              for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert served - documented == set(), f"API routes missing from openapi.json: {sorted(served - documented)}"
    assert documented - served == set(), f"openapi.json documents routes the app lacks: {sorted(documented - served)}"
    operation_ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values() if "operationId" in op]
    assert len(operation_ids) == len(set(operation_ids))


def test_openapi_needs_no_token_and_holds_no_secrets(client):
    text = client.get("/api/v1/openapi.json").get_data(as_text=True)
    assert "xf_" not in text and "Traceback" not in text


# -- attachments ------------------------------------------------------------------------------------
def _upload(client, serial, headers, *files):
    import io

    return client.post(f"/api/v1/records/{serial}/attachments", headers=headers, content_type="multipart/form-data",
                       data={"file": [(io.BytesIO(data), name) for name, data in files]})


def test_attachments_upload_and_download_exact_bytes(client, inst, auth, held_by_ldjc):
    text = "補充材料：工資條三張。\n".encode()
    r = _upload(client, held_by_ldjc, auth, ("工資條.txt", text), ("scan.png", PNG))
    assert r.status_code == 201, r.get_json()
    ids = r.get_json()["attachments"]
    assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    record = client.get(f"/api/v1/records/{held_by_ldjc}", headers=auth).get_json()
    listed = {a["id"]: a for a in record["attachments"]}
    assert listed[ids[0]]["filename"] == "工資條.txt" and listed[ids[0]]["content_type"] == "text/plain"
    assert listed[ids[1]]["content_type"] == "image/png" and listed[ids[1]]["size"] == len(PNG)
    assert "attached" in [h["event"] for h in record["history"]]
    for uid, expected in zip(ids, (text, PNG)):
        d = client.get(listed[uid]["url"], headers=auth)
        assert d.status_code == 200 and d.data == expected
        assert d.headers["Content-Disposition"].startswith("attachment; filename*=UTF-8''")
    assert "%E5%B7%A5%E8%B3%87%E6%A2%9D.txt" in client.get(listed[ids[0]]["url"], headers=auth).headers[
        "Content-Disposition"]
    assert count(inst, AuditEntry, AuditEntry.action == "attachment.download", AuditEntry.target == held_by_ldjc) == 3


def test_oversized_attachment_is_413_and_nothing_is_kept(client, inst, auth, held_by_ldjc):
    blobs, atts = blob_count(inst), count(inst, Attachment)
    big = b"%PDF-1.4\n" + b"0" * inst.settings.max_attachment_bytes
    body = assert_json_error(_upload(client, held_by_ldjc, auth, ("big.pdf", big)), 413)
    assert "attachments" in body["fields"]
    assert (blob_count(inst), count(inst, Attachment)) == (blobs, atts)


@pytest.mark.parametrize("name,data", [
    ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200),
    ("elf.bin", b"\x7fELF\x02\x01\x01" + b"\x00" * 200),
    ("noise.pdf", bytes(range(128, 256)) * 8),
    ("empty.txt", b""),
])
def test_attachment_of_a_refused_type_is_422(client, inst, auth, held_by_ldjc, name, data):
    blobs, atts = blob_count(inst), count(inst, Attachment)
    body = assert_json_error(_upload(client, held_by_ldjc, auth, ("fine.txt", b"ok"), (name, data)), 422)
    assert "attachments" in body["fields"]
    assert (blob_count(inst), count(inst, Attachment)) == (blobs, atts)


def test_attachment_without_a_file(client, auth, held_by_ldjc):
    body = assert_json_error(client.post(f"/api/v1/records/{held_by_ldjc}/attachments", headers=auth,
                                         content_type="multipart/form-data", data={"other": "x"}), 422)
    assert "file" in body["fields"]
    assert_json_error(client.post(f"/api/v1/records/{held_by_ldjc}/attachments", headers=auth,
                                  json={"file": "aGVsbG8="}), 422)


def test_attachments_refused_to_others(client, make_user, api_token, held_by_ldjc):
    other_clerk = make_user("clerk")
    assert_json_error(_upload(client, held_by_ldjc, bearer(api_token(other_clerk)), ("a.txt", b"x")), 403)
    shbx = make_user("handler", office="SHBX")
    assert_json_error(_upload(client, held_by_ldjc, bearer(api_token(shbx)), ("a.txt", b"x")), 404)


def test_attachment_download_refused_and_unknown(client, make_user, api_token, auth, held_by_ldjc):
    uid = _upload(client, held_by_ldjc, auth, ("a.txt", b"secret scan")).get_json()["attachments"][0]
    url = f"/api/v1/records/{held_by_ldjc}/attachments/{uid}"
    other_clerk = make_user("clerk")
    r = client.get(url, headers=bearer(api_token(other_clerk)))
    assert_json_error(r, 403)
    assert b"secret scan" not in r.data
    shbx = make_user("handler", office="SHBX")
    assert_json_error(client.get(url, headers=bearer(api_token(shbx))), 404)
    assert_json_error(client.get(f"/api/v1/records/{held_by_ldjc}/attachments/{'0' * 32}", headers=auth), 404)
    assert_json_error(client.get(f"/api/v1/records/{held_by_ldjc}/attachments/..%2F..%2Fkeys", headers=auth), 404)


# -- unknown paths --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v2/records", "/api/v1/records/XF-2026-000001/x/y",
                                  "/api/"])
def test_unknown_api_path_is_json_404(client, auth, path):
    assert_json_error(client.get(path, headers=auth), 404)
