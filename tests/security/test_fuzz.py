"""Property-based fuzzing of every form and API endpoint: malformed, huge, wrongly typed,
mixed-encoding and control-character input. Never a 500; a refused request writes nothing."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import func, select

from records.models import Record, RecordExclusion
from tests.conftest import letter_data, login

FIELDS = ["channel", "received_at", "region", "category", "people_count", "subject", "body", "notes",
          "petitioner", "first_responder", "accused"]

nasty_text = st.one_of(
    st.text(max_size=50),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x9f), max_size=30),   # control characters
    st.sampled_from(["\x00", "\ud800", "\u2028", "\ufeff拖欠", "é" * 3, "e\u0301", "ＸＦ－２０２６", "'; DROP TABLE records;--",
                     "<script>x</script>", "../../etc/passwd", "%00", "\r\n\r\n", "𠀀" * 5]),
    st.just("長" * 25_000),                                                             # huge
)
#: Form fields and URLs carry bytes: lone surrogates cannot be sent, so they become U+FFFD.
form_text = nasty_text.map(lambda v: v.encode("utf-8", "replace").decode("utf-8"))
#: Raw bodies in other encodings (GBK, Big5, Latin-1, broken UTF-8), percent-encoded as a browser would.
mixed_encoding = st.sampled_from([
    "反映拖欠工資".encode("gbk"), "反映拖欠工資".encode("big5"), "café".encode("latin-1"), b"\xff\xfe\x00A",
    b"\xe6\x8b", "正常".encode() + b"\xc0\xaf",
])
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), nasty_text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)

FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


def _counts(inst):
    with inst.unit_of_work() as s:
        return (s.execute(select(func.count()).select_from(Record)).scalar_one(),
                s.execute(select(func.count()).select_from(RecordExclusion)).scalar_one())


@pytest.fixture(scope="module")
def actors(inst, app):
    from records.accounts import operations as accounts
    from tests.conftest import TEST_PASSWORD

    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, "fuzzclerk", TEST_PASSWORD, ["clerk"], office="XFB")
        token = accounts.issue_token(s, clerk, label="fuzz")
    client = app.test_client()
    login(client, "fuzzclerk")
    return client, {"Authorization": f"Bearer {token}"}


@FUZZ
@given(field=st.sampled_from(FIELDS), value=json_value)
def test_api_register_one_bad_field(inst, actors, field, value):
    client, h = actors
    before = _counts(inst)
    body = letter_data(**{field: value}) if field != "petitioner" else {**letter_data(), "petitioner": value}
    r = client.post("/api/v1/records", json=body, headers=h)
    assert r.status_code < 500, r.get_data(as_text=True)[:300]
    assert r.is_json and "error" in r.get_json() or r.status_code == 201
    if r.status_code != 201:
        assert _counts(inst) == before, "a refused registration wrote nothing"


@FUZZ
@given(body=st.one_of(json_value, st.binary(max_size=200)))
def test_api_register_any_body(inst, actors, body):
    client, h = actors
    before = _counts(inst)
    if isinstance(body, bytes):
        r = client.post("/api/v1/records", data=body, headers={**h, "Content-Type": "application/json"})
    else:
        r = client.post("/api/v1/records", json=body, headers=h)
    assert r.status_code in (400, 413, 415, 422), r.status_code
    assert _counts(inst) == before


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["channel", "status", "region", "category", "date_from", "date_to",
                                               "page", "per_page"]), form_text, max_size=4))
def test_api_and_web_ledger_filters(actors, params):
    client, h = actors
    assert client.get("/api/v1/records", query_string=params, headers=h).status_code in (200, 422)
    assert client.get("/ledger", query_string=params).status_code in (200,)


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["channel", "received_at", "region", "category", "people_count",
                                             "subject", "body", "notes", "petitioner_name", "petitioner_id_number",
                                             "petitioner_phone", "petitioner_address", "first_responder",
                                             "accused"]),
                            st.one_of(form_text, mixed_encoding), max_size=8))
def test_web_register_form(inst, actors, form):
    client, _ = actors
    before = _counts(inst)
    r = client.post("/records/new", data=form)
    assert r.status_code in (302, 400, 413, 422), r.status_code
    if r.status_code != 302:
        assert _counts(inst) == before


@FUZZ
@given(serial=form_text, att=form_text)
def test_record_and_attachment_paths(actors, serial, att):
    client, h = actors
    from urllib.parse import quote

    s, a = quote(serial, safe=""), quote(att, safe="")
    if not s or not a:
        return
    for path in (f"/records/{s}", f"/records/{s}/edit", f"/records/{s}/attachments/{a}"):
        assert client.get(path).status_code in (404, 308), path
    for path in (f"/api/v1/records/{s}", f"/api/v1/records/{s}/attachments/{a}"):
        assert client.get(path, headers=h).status_code in (404, 308), path


@FUZZ
@given(username=st.one_of(form_text, mixed_encoding), password=form_text, code=st.one_of(form_text, mixed_encoding))
def test_sign_in_forms(app, username, password, code):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code in (200, 302, 400, 401, 422, 429)
    assert client.post("/login/code", data={"code": code}).status_code == 302
    assert client.post("/login/enrol", data={"code": code}).status_code == 302


@FUZZ
@given(token=nasty_text)
def test_api_tokens(app, token):
    client = app.test_client()
    token = token.replace("\n", "").replace("\r", "").replace("\x00", "")
    try:
        r = client.get("/api/v1/records", headers={"Authorization": f"Bearer {token}"})
    except ValueError:   # a header value the HTTP client itself refuses to send
        return
    assert r.status_code == 401
