"""Issue 20 at registration: a scan uploaded on the registration form is sealed and recognised in
the job runner (outside the request); the form asks its status and shows the scan beside the
recognised text; the clerk takes the (corrected) text as the body or ignores it — nothing is
filled by itself. Registering makes the scan the letter's attachment with its text (taken as the
body or not), not recognised again. Only the uploader sees a draft; nothing of it in plaintext on
disk."""
from __future__ import annotations

import io
import secrets

from sqlalchemy import select

from records.cases import operations
from records.intake import drafts
from records.intake import operations as intake
from records.intake.models import AttachmentText
from records.jobs import runner as jobs
from records.jobs.models import Job
from records.models import Record
from tests.conftest import CONFIRM_OLD, letter_data
from tests.conftest import login as _login
from tests.records.intake.pages import encode, page

PHRASE = "本人反映科研經費被挪用"


def login(client, username):
    _login(client, username)
    client.get("/lang/en")


def _upload(client, data: bytes, name: str = "信.png"):
    return client.post("/intake/drafts", data={"scan": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def _form(**overrides) -> dict:
    raw = letter_data(**overrides)
    pet = raw.pop("petitioner")
    form = {k: str(v) for k, v in raw.items()}
    form.update({f"petitioner_{k}": v for k, v in pet.items()})
    form[CONFIRM_OLD] = "y"   # the fixed 2026 date (tests/conftest.py)
    return form


def _record(inst, serial):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        rows = {r.attachment_id: r for r in s.execute(select(AttachmentText).where(
            AttachmentText.record_id == record.id)).scalars()}
        atts = [(a.uid, a.kind, rows.get(a.id)) for a in record.attachments]
        body = operations.document(s, record)["body"]
        queued = s.execute(select(Job.id).where(Job.record_id == record.id, Job.kind == intake.JOB_KIND)).all()
        return atts, body, len(queued)


def _serial(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[1]


def test_the_form_offers_the_recognised_text_beside_the_scan(app, inst, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    html = client.get("/records/new").get_data(as_text=True)
    assert 'class="scan-offer" hidden data-draft-url="/intake/drafts"' in html and "/static/scan_draft.js" in html
    assert 'name="scan_draft"' in html and 'name="scan_text_taken"' in html

    scan = encode(page([PHRASE, "請求調查處理"], size=32))
    r = _upload(client, scan)
    assert r.status_code == 201, r.get_data(as_text=True)
    uid = r.get_json()["draft"]
    status_url = r.get_json()["status_url"]
    st = client.get(status_url).get_json()
    assert st["status"] == "pending" and st["text"] is None           # recognised outside the request
    jobs.run_pending(inst, kinds=[drafts.JOB_KIND])
    st = client.get(status_url).get_json()
    assert st["status"] == "done" and PHRASE in st["text"].replace(" ", "") and st["inline"]
    got = client.get(st["scan_url"])
    assert got.status_code == 200 and got.data == scan and got.headers["Cache-Control"] == "no-store"

    # the clerk corrects the text and takes it as the body; the scan goes with the letter
    corrected = PHRASE + "，請求調查處理。"
    serial = _serial(client.post("/records/new", data=_form(body=corrected, scan_draft=uid, scan_text_taken="yes")))
    atts, body, queued = _record(inst, serial)
    assert body == corrected and len(atts) == 1 and queued == 0       # not recognised again
    _, kind, row = atts[0]
    assert kind == "scan" and row.status == "done" and row.method == "ocr" and row.accepted_at is not None
    assert client.get(status_url).status_code == 404                  # taken: the draft is gone
    assert not inst.blobs.exists(uid)
    page_html = client.get(f"/records/{serial}").get_data(as_text=True)
    assert "taken as the body" in page_html
    assert "being recognised" not in page_html                        # recognised already: not said


def test_ignored_text_fills_nothing_and_a_pending_scan_is_recognised_after(app, inst, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    uid = _upload(client, encode(page([PHRASE], size=32))).get_json()["draft"]
    jobs.run_pending(inst, kinds=[drafts.JOB_KIND])
    serial = _serial(client.post("/records/new", data=_form(body="（待錄入）", scan_draft=uid)))
    atts, body, queued = _record(inst, serial)
    assert body == "（待錄入）" and atts[0][2].status == "done" and atts[0][2].accepted_at is None

    pending = _upload(client, encode(page([PHRASE], size=32))).get_json()["draft"]   # not recognised yet
    serial = _serial(client.post("/records/new", data=_form(scan_draft=pending, scan_text_taken="yes")))
    atts, body, queued = _record(inst, serial)
    assert body == letter_data()["body"] and queued == 1 and atts[0][2].status == "pending"
    assert "being recognised" in client.get(f"/records/{serial}").get_data(as_text=True)


def test_only_the_uploader_sees_a_draft_and_bad_files_are_refused(app, inst, client, make_user):
    clerk, other, handler = make_user("clerk"), make_user("clerk"), make_user("handler")
    login(client, clerk.username)
    r = _upload(client, b"just some words", "a.txt")
    assert r.status_code == 422 and r.get_json()["fields"]["scan"]
    uid = _upload(client, encode(page([PHRASE], size=32))).get_json()["draft"]
    for who in (other, handler):
        c = app.test_client()
        login(c, who.username)
        assert c.get(f"/intake/drafts/{uid}").status_code == 404
        assert c.get(f"/intake/drafts/{uid}/scan").status_code == 404
    c = app.test_client()
    login(c, handler.username)
    assert _upload(c, encode(page([PHRASE], size=32))).status_code == 403     # may not register letters
    assert client.get("/intake/drafts/not-a-draft").status_code == 404
    # another clerk cannot take it into their letter either
    c = app.test_client()
    login(c, other.username)
    r = c.post("/records/new", data=_form(scan_draft=uid))
    serial = _serial(r)
    atts, _, _ = _record(inst, serial)
    assert atts == [] and client.get(f"/intake/drafts/{uid}").status_code == 200


def test_a_corrupt_scan_fails_with_its_message(app, inst, client, make_user):
    login(client, make_user("clerk").username)
    uid = _upload(client, b"%PDF-1.4\n" + b"broken" * 40, "壞.pdf").get_json()["draft"]
    jobs.run_pending(inst, kinds=[drafts.JOB_KIND])
    st = client.get(f"/intake/drafts/{uid}").get_json()
    assert st["status"] == "failed" and st["error"] == "The PDF is damaged and cannot be read."
    assert "text extraction failed:" in st["note"]


def test_no_draft_text_or_name_on_disk(app, inst, settings, client, make_user):
    login(client, make_user("clerk").username)
    name = f"CNRY{secrets.token_hex(6)}"
    uid = _upload(client, encode(page([PHRASE], size=32)), f"{name}.png").get_json()["draft"]
    jobs.run_pending(inst, kinds=[drafts.JOB_KIND])
    assert client.get(f"/intake/drafts/{uid}").get_json()["status"] == "done"
    needles = [n.encode(enc) for n in (name, PHRASE[:6]) for enc in ("utf-8", "utf-16-le", "gb18030", "big5")]
    hits = [str(p) for p in settings.home.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]
    assert hits == []


def test_a_killed_recognition_resumes_after_the_last_stored_page(app, inst, client, make_user):
    from tests.records.intake.pages import tiff

    clerk = make_user("clerk")
    login(client, clerk.username)
    two = tiff([page(["第一頁" + PHRASE], size=32), page(["第二頁請求調查處理"], size=32)])
    uid = _upload(client, two, "兩頁.tiff").get_json()["draft"]
    # as a worker killed after storing page 1 leaves it (a stand-in text proves page 1 is not read again)
    stored = drafts._read_text(inst, uid)
    drafts._write_text(inst, uid, {**stored, "pages": ["（已識別的第一頁）"]})
    jobs.run_pending(inst, kinds=[drafts.JOB_KIND])
    st = client.get(f"/intake/drafts/{uid}").get_json()
    assert st["status"] == "done" and st["pages_total"] == 2
    first, second = st["text"].split("\n\n")
    assert first == "（已識別的第一頁）" and "請求調查處理" in second.replace(" ", "")
