"""The server-rendered web UI: signing in and out, the registration form, the ledger, the
record page under the access policy, attachments, corrections, health and security headers.

Pages are requested in English (Accept-Language) so the assertions read the msgids."""
from __future__ import annotations

import io
import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from records.accounts import operations as accounts
from records.cases import operations
from records.models import Attachment, AuditEntry, Record, RecordVersion
from records.reference.models import Office
from records.accounts.models import User
from records.cases.operations import Upload
from tests.conftest import TEST_PASSWORD, letter_data, login

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
FORM = {
    "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
    "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
    "people_count": "1", "subject": "拖欠工資", "body": "公司拖欠工資三個月。",
    "petitioner_name": "王小明", "petitioner_id_number": "110108199001011231",
    "petitioner_phone": "13812345678", "petitioner_address": "北京市海淀區",
}


def count(inst, model, *where) -> int:
    with inst.unit_of_work() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def blob_count(inst) -> int:
    return sum(1 for p in inst.settings.blob_dir.rglob("*") if p.is_file())


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def people(inst):
    """The module's users (Argon2 makes each one cost a few tenths of a second)."""
    specs = {"registrar": (["clerk"], "XFB"), "clerk": (["clerk"], "XFB"), "handler": (["handler"], "LDJC"),
             "other_handler": (["handler"], "SHBX")}
    out = {}
    with inst.unit_of_work() as s:
        for role, (roles, office) in specs.items():
            user = accounts.create_user(s, f"web-{role.replace('_', '-')}", TEST_PASSWORD, roles, office=office,
                                        display_name=f"Web {role}")
            s.flush()
            out[role] = SimpleNamespace(id=user.id, username=user.username)
    return SimpleNamespace(**out)


@pytest.fixture
def web(app):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


_sessions: dict[tuple[int, str], str] = {}


def signed_in(web, user):
    """Sign in once per user and module (Argon2 is slow on purpose), then reuse the session cookie."""
    name = web.application.config["SESSION_COOKIE_NAME"]
    key = (id(web.application), user.username)
    if key in _sessions:
        web.set_cookie(name, _sessions[key])
        # sessions are server-side: a sign-out by an earlier test ended the cached one
        if web.get("/account").status_code == 200:
            return web
    r = login(web, user.username)
    assert r.status_code == 302, text(r)
    _sessions[key] = web.get_cookie(name).value
    return web


def new_record(inst, by, office: str | None = None, uploads=(), **overrides) -> str:
    with inst.unit_of_work() as s:
        record = operations.register(s, letter_data(**overrides), by=s.get(User, by.id), uploads=list(uploads))
        if office:
            office_id = s.execute(select(Office.id).where(Office.code == office)).scalar_one()
            s.execute(update(Record).where(Record.id == record.id).values(office_id=office_id))
        return record.serial


# -- signing in and out -----------------------------------------------------------------------
def test_login_page(web):
    r = web.get("/login")
    assert r.status_code == 200
    page = text(r)
    assert 'name="username"' in page and 'name="password"' in page and 'type="password"' in page


def test_login_good(web, inst, people):
    before = count(inst, AuditEntry, AuditEntry.action == "login.success", AuditEntry.actor == people.clerk.username)
    r = login(web, people.clerk.username)
    assert r.status_code == 302 and r.headers["Location"].endswith("/ledger")
    assert web.get("/ledger").status_code == 200
    assert count(inst, AuditEntry, AuditEntry.action == "login.success",
                 AuditEntry.actor == people.clerk.username) == before + 1


def test_login_follows_only_local_next(web, people):
    r = web.post("/login?next=/records/new", data={"username": people.clerk.username, "password": TEST_PASSWORD})
    assert r.headers["Location"].endswith("/records/new")
    for evil in ("//evil.example/x", "https://evil.example/", "javascript:alert(1)"):
        web.post("/logout")
        r = web.post("/login", query_string={"next": evil},
                     data={"username": people.clerk.username, "password": TEST_PASSWORD})
        assert r.status_code == 302 and r.headers["Location"].endswith("/ledger"), evil


@pytest.mark.parametrize("username,password", [("web-clerk", "wrong-password-1"), ("no-such-user", TEST_PASSWORD)])
def test_login_bad(web, inst, people, username, password):
    before = count(inst, AuditEntry, AuditEntry.action == "login.failure", AuditEntry.actor == username)
    r = web.post("/login", data={"username": username, "password": password})
    assert r.status_code == 401
    page = text(r)
    assert "Wrong user name or password." in page and 'name="username"' in page
    assert password not in page
    assert count(inst, AuditEntry, AuditEntry.action == "login.failure", AuditEntry.actor == username) == before + 1
    bounced = web.get("/ledger")
    assert bounced.status_code == 302 and "/login" in bounced.headers["Location"]


def test_login_with_empty_fields(web):
    r = web.post("/login", data={"username": "", "password": ""})
    assert r.status_code == 422
    assert "Enter your user name and password." in text(r)


def test_logout(web, inst, people):
    signed_in(web, people.clerk)
    before = count(inst, AuditEntry, AuditEntry.action == "logout", AuditEntry.actor == people.clerk.username)
    r = web.post("/logout")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    assert count(inst, AuditEntry, AuditEntry.action == "logout", AuditEntry.actor == people.clerk.username) == before + 1
    r = web.get("/ledger")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert web.get("/logout").status_code == 405


# -- registration ----------------------------------------------------------------------------------
def test_register_letter_with_attachment(web, inst, people):
    signed_in(web, people.registrar)
    form = web.get("/records/new")
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in text(form)
    r = web.post("/records/new", content_type="multipart/form-data",
                 data={**FORM, "attachments": [(io.BytesIO(PDF), "信件掃描.pdf")]})
    assert r.status_code == 302, text(r)
    serial = r.headers["Location"].rsplit("/", 1)[-1]
    assert re.fullmatch(r"XF-\d{4}-\d{6}", serial)
    page = text(web.get(f"/records/{serial}"))
    assert "Registered as" in page and serial in page
    assert "拖欠工資" in page and "公司拖欠工資三個月。" in page and "王小明" in page and "110108199001011231" in page
    assert "信件掃描.pdf" in page
    uid = re.search(rf'/records/{serial}/attachments/([0-9a-f]{{32}})', page).group(1)
    d = web.get(f"/records/{serial}/attachments/{uid}")
    assert d.status_code == 200 and d.data == PDF and d.mimetype == "application/pdf"
    assert d.headers["Content-Disposition"] == "attachment; filename*=UTF-8''%E4%BF%A1%E4%BB%B6%E6%8E%83%E6%8F%8F.pdf"
    assert d.headers["Cache-Control"] == "no-store"
    inline = web.get(f"/records/{serial}/attachments/{uid}?inline=1")
    assert inline.headers["Content-Disposition"].startswith("inline;") and inline.data == PDF


def test_register_visit_of_twelve_people(web, people):
    signed_in(web, people.registrar)
    assert re.search(r'<option selected value="visit">|<option value="visit" selected>',
                     text(web.get("/records/new?channel=visit")))
    r = web.post("/records/new", data={**FORM, "channel": "visit", "people_count": "12", "subject": "集體訪：欠薪"})
    assert r.status_code == 302, text(r)
    serial = r.headers["Location"].rsplit("/", 1)[-1]
    page = text(web.get(f"/records/{serial}"))
    assert re.search(r"<dt>People</dt>\s*<dd>12</dd>", page)
    ledger = text(web.get("/ledger?channel=visit"))
    assert serial in ledger and "集體訪：欠薪" in ledger


def test_validation_messages_next_to_fields_and_nothing_written(web, inst, people):
    signed_in(web, people.registrar)
    before = count(inst, Record), count(inst, Attachment), blob_count(inst)
    bad = {**FORM, "subject": "", "received_at": "2026-02-30T10:00", "people_count": "0",
           "petitioner_id_number": "110108199001011232", "body": "保留我輸入的內容"}
    r = web.post("/records/new", content_type="multipart/form-data",
                 data={**bad, "attachments": [(io.BytesIO(PDF), "scan.pdf")]})
    assert r.status_code == 422
    page = text(r)
    for field in ("subject", "received_at", "people_count", "petitioner_id_number"):
        assert re.search(rf'<p class="field-error" id="{field}-error">[^<]+</p>', page), field
        assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', page), field
    assert "This field is required." in page and "Please correct the marked fields." in page
    assert "保留我輸入的內容" in page, "what was typed is kept"
    assert 'id="channel-error"' not in page
    assert (count(inst, Record), count(inst, Attachment), blob_count(inst)) == before


@pytest.mark.parametrize("name,data,status", [
    ("program.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200, 422),
    ("empty.pdf", b"", 422),
])
def test_attachment_type_checked(web, inst, people, name, data, status):
    signed_in(web, people.registrar)
    before = count(inst, Record), count(inst, Attachment), blob_count(inst)
    r = web.post("/records/new", content_type="multipart/form-data",
                 data={**FORM, "attachments": [(io.BytesIO(PDF), "ok.pdf"), (io.BytesIO(data), name)]})
    assert r.status_code == status
    assert re.search(r'id="attachments-error">[^<]+<', text(r))
    assert (count(inst, Record), count(inst, Attachment), blob_count(inst)) == before


def test_empty_file_input_is_no_attachment(web, inst, people):
    signed_in(web, people.registrar)
    r = web.post("/records/new", content_type="multipart/form-data",
                 data={**FORM, "attachments": [(io.BytesIO(b""), "")]})
    assert r.status_code == 302, text(r)
    assert "/attachments/" not in text(web.get(r.headers["Location"]))


def test_oversized_attachment_413_and_nothing_written(web, inst, people):
    signed_in(web, people.registrar)
    before = count(inst, Record), count(inst, Attachment), blob_count(inst)
    big = b"%PDF-1.4\n" + b"0" * inst.settings.max_attachment_bytes
    r = web.post("/records/new", content_type="multipart/form-data",
                 data={**FORM, "subject": "保留主題", "attachments": [(io.BytesIO(big), "big.pdf")]})
    assert r.status_code == 413
    page = text(r)
    assert re.search(r'id="attachments-error">[^<]+<', page) and "保留主題" in page
    assert "Traceback" not in page
    assert (count(inst, Record), count(inst, Attachment), blob_count(inst)) == before


def test_registration_refused_to_handlers(web, people):
    signed_in(web, people.handler)
    assert web.get("/records/new").status_code == 403
    assert web.post("/records/new", data=FORM).status_code == 403


# -- the ledger ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def may(inst, people):
    """Seven records received in May 2025 (no other test here uses it): (serial, channel, region)."""
    rows = [("letter", "110101", "2025-05-01T10:00"), ("visit", "110105", "2025-05-01T11:00"),
            ("letter", "110105", "2025-05-02T10:00"), ("fax", "110101", "2025-05-02T12:00"),
            ("visit", "110101", "2025-05-03T09:00"), ("letter", "110105", "2025-05-03T10:00"),
            ("phone", "110105", "2025-05-04T10:00")]
    return [(new_record(inst, people.registrar, channel=c, region=r, received_at=at, subject=f"五月{i}"), c, r)
            for i, (c, r, at) in enumerate(rows)]


def serials_on(page: str) -> list[str]:
    return re.findall(r'<a href="/records/(XF-\d{4}-\d{6})">', page)


MAY = "date_from=2025-05-01&date_to=2025-05-31"


def test_ledger_filters(web, people, may):
    signed_in(web, people.registrar)
    page = text(web.get(f"/ledger?{MAY}"))
    assert sorted(serials_on(page)) == sorted(s for s, _, _ in may)
    assert "7 records" in page
    assert set(serials_on(text(web.get(f"/ledger?{MAY}&channel=letter")))) == {s for s, c, _ in may if c == "letter"}
    assert set(serials_on(text(web.get(f"/ledger?{MAY}&region=110101")))) == {s for s, _, r in may if r == "110101"}
    assert set(serials_on(text(web.get("/ledger?date_from=2025-05-02&date_to=2025-05-03")))) == {
        s for s, _, _ in may[2:6]}
    assert serials_on(text(web.get(f"/ledger?{MAY}&status=concluded"))) == []
    filtered = text(web.get(f"/ledger?{MAY}&channel=visit"))
    assert '<option value="visit" selected>' in filtered and 'value="2025-05-01"' in filtered


@pytest.mark.parametrize("query,field", [
    ("date_from=2025-02-30", "From"), ("date_to=not-a-date", "To"),
    ("date_from=2025-05-03&date_to=2025-05-01", "To"), ("channel=pigeon", "Channel"),
])
def test_ledger_invalid_filter_gives_a_message(web, people, may, query, field):
    """The bad filter is named by its label (never by the parameter's name)."""
    signed_in(web, people.registrar)
    r = web.get(f"/ledger?{query}")
    assert r.status_code == 200
    page = text(r)
    assert "Invalid filter." in page and re.search(rf'<p class="field-error">{field}: [^<]+</p>', page)


def test_ledger_bad_page_number_is_not_an_error(web, people, may):
    signed_in(web, people.registrar)
    for page in ("abc", "-3", "0", "99999"):
        assert web.get(f"/ledger?{MAY}&page={page}").status_code == 200


def test_ledger_pages(web, app, people, may, monkeypatch):
    monkeypatch.setitem(app.config, "LEDGER_PAGE_SIZE", 3)
    signed_in(web, people.registrar)
    seen = []
    for n in (1, 2, 3):
        page = text(web.get(f"/ledger?{MAY}&page={n}"))
        assert f"Page {n} of 3" in page
        seen += serials_on(page)
        assert ('rel="prev"' in page) == (n > 1) and ('rel="next"' in page) == (n < 3)
        if n < 3:
            nxt = re.search(r'<a href="([^"]+)" rel="next">', page).group(1).replace("&amp;", "&")
            assert "date_from=2025-05-01" in nxt and f"page={n + 1}" in nxt
    assert len(seen) == 7 and sorted(seen) == sorted(s for s, _, _ in may)
    assert seen[0] == may[-1][0], "newest first"


def test_ledger_subjects_restricted_for_other_clerks(web, people, may):
    signed_in(web, people.clerk)
    page = text(web.get(f"/ledger?{MAY}"))
    assert len(serials_on(page)) == 7 and "五月" not in page and "(restricted)" in page


# -- the record page ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def held(inst, people):
    """A letter registered by the registrar with an attachment, moved to office LDJC."""
    return new_record(inst, people.registrar, office="LDJC", uploads=[Upload("掃描.txt", "附件內容".encode())],
                      notes="登記備註")


def test_record_page_for_the_registrar(web, people, held):
    signed_in(web, people.registrar)
    page = text(web.get(f"/records/{held}"))
    assert letter_data()["subject"] in page and letter_data()["body"] in page and "登記備註" in page
    assert "王小明" in page and "110108199001011231" in page and "13812345678" in page
    assert "(masked)" not in page and "掃描.txt" in page and f"/records/{held}/edit" in page


def test_record_page_for_a_handler_of_the_office_masks_identity(web, people, held):
    signed_in(web, people.handler)
    page = text(web.get(f"/records/{held}"))
    assert letter_data()["subject"] in page and letter_data()["body"] in page
    assert "(masked)" in page
    assert "<dd>王**</dd>" in page and "<dd>1101**********1231</dd>" in page and "<dd>138****5678</dd>" in page
    assert "王小明" not in page and "110108199001011231" not in page and "13812345678" not in page
    assert "中關村" not in page
    assert f"/records/{held}/edit" not in page


def test_record_page_for_another_clerk_is_the_ledger_line_only(web, people, held):
    signed_in(web, people.clerk)
    r = web.get(f"/records/{held}")
    assert r.status_code == 200
    page = text(r)
    assert "You may see this record's ledger line only" in page and held in page
    assert letter_data()["subject"] not in page and letter_data()["body"] not in page
    assert "王小明" not in page and "王**" not in page and "1101**" not in page
    assert "掃描.txt" not in page and "/attachments/" not in page


def test_record_page_for_another_office_is_404(web, people, held):
    signed_in(web, people.other_handler)
    r = web.get(f"/records/{held}")
    assert r.status_code == 404
    page = text(r)
    assert held not in page.split("<main", 1)[1] and letter_data()["subject"] not in page


def test_attachment_download_refused_to_ledger_only_and_other_office(web, inst, people, held):
    with inst.unit_of_work() as s:
        uid = s.execute(select(Attachment.uid).join(Record).where(Record.serial == held)).scalar_one()
    signed_in(web, people.handler)
    d = web.get(f"/records/{held}/attachments/{uid}")
    assert d.status_code == 200 and d.data == "附件內容".encode()
    assert d.headers["Content-Disposition"] == "attachment; filename*=UTF-8''%E6%8E%83%E6%8F%8F.txt"
    assert web.get(f"/records/{held}/attachments/{uid}?inline=1").headers["Content-Disposition"].startswith(
        "attachment;"), "only PDFs and images are shown inline"
    web.post("/logout")
    signed_in(web, people.clerk)
    assert web.get(f"/records/{held}/attachments/{uid}").status_code == 403
    web.post("/logout")
    signed_in(web, people.other_handler)
    assert web.get(f"/records/{held}/attachments/{uid}").status_code == 404


def test_unknown_record_and_attachment_are_404(web, people, held):
    signed_in(web, people.registrar)
    assert web.get("/records/XF-2026-999999").status_code == 404
    assert web.get("/records/not-a-serial").status_code == 404
    assert web.get(f"/records/{held}/attachments/{'0' * 32}").status_code == 404
    assert web.get(f"/records/{held}/versions/99").status_code == 404


# -- corrections ----------------------------------------------------------------------------------------
def test_correction_keeps_the_previous_version(web, inst, people):
    serial = new_record(inst, people.registrar)
    signed_in(web, people.registrar)
    form = text(web.get(f"/records/{serial}/edit"))
    assert letter_data()["subject"] in form and 'value="2026-03-02T10:00"' in form and 'name="reason"' in form
    r = web.post(f"/records/{serial}/edit", data={**FORM, "subject": "更正後的主題", "reason": "主題錄入錯誤"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/records/{serial}")
    page = text(web.get(f"/records/{serial}"))
    assert "The correction was saved" in page and "更正後的主題" in page
    assert f'href="/records/{serial}/versions/1"' in page and "Version 1" in page and "主題錄入錯誤" in page
    old = web.get(f"/records/{serial}/versions/1")
    assert old.status_code == 200
    old_page = text(old)
    assert letter_data()["subject"] in old_page and "更正後的主題" not in old_page and "Version 1" in old_page
    assert count(inst, AuditEntry, AuditEntry.action == "record.correct", AuditEntry.target == serial) == 1


def test_correction_with_bad_values_changes_nothing(web, inst, people):
    serial = new_record(inst, people.registrar)
    signed_in(web, people.registrar)
    r = web.post(f"/records/{serial}/edit", data={**FORM, "subject": "", "received_at": "2025-12-31T10:00"})
    assert r.status_code == 422
    page = text(r)
    assert 'id="subject-error"' in page
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert record.doc_version == 1
        assert s.execute(select(func.count()).select_from(RecordVersion)
                         .where(RecordVersion.record_id == record.id)).scalar_one() == 0


def test_handler_may_read_versions_but_not_correct(web, inst, people):
    serial = new_record(inst, people.registrar, office="LDJC")
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        operations.correct(s, record, {"subject": "第二版"}, by=s.get(User, people.registrar.id))
    signed_in(web, people.handler)
    assert web.get(f"/records/{serial}/edit").status_code == 403
    assert web.post(f"/records/{serial}/edit", data=FORM).status_code == 403
    old = text(web.get(f"/records/{serial}/versions/1"))
    assert letter_data()["subject"] in old and "王**" in old and "王小明" not in old


# -- health and headers -------------------------------------------------------------------------------
def test_healthz(web):
    r = web.get("/healthz")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.get_json()["status"] == "ok"
    assert all(v == "ok" for v in r.get_json()["checks"].values())


def _assert_security_headers(r, path):
    csp = r.headers.get("Content-Security-Policy", "")
    assert csp, path
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
    assert r.headers.get("X-Frame-Options") == "DENY", path
    assert r.headers.get("X-Content-Type-Options") == "nosniff", path


def test_security_headers_and_no_inline_code(web, people, held):
    for path in ("/login", "/nowhere"):
        r = web.get(path)
        _assert_security_headers(r, path)
    signed_in(web, people.registrar)
    for path in ("/ledger", "/records/new", f"/records/{held}", f"/records/{held}/edit", "/records/XF-2026-999999"):
        r = web.get(path)
        _assert_security_headers(r, path)
        page = text(r)
        assert r.headers.get("Cache-Control") == "no-store", path
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), f"inline script on {path}"
        assert not re.search(r"\sstyle=", page) and "<style" not in page, f"inline style on {path}"
        assert not re.search(r"\son[a-z]+=", page), f"inline event handler on {path}"
