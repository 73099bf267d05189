"""Intake on the web: the record page's extraction status ("recognising page 3 of 7", a
failure's message), the recognised text beside the scan with highlights, taking it as the
body only when the clerk does, and the e-mail upload form."""
from __future__ import annotations

import io

from sqlalchemy import select, update

from records.accounts.models import User
from records.cases import operations
from records.cases.operations import Upload
from records.intake import operations as intake
from records.intake.models import AttachmentText
from records.jobs import runner as jobs
from records.models import Record
from tests.conftest import login as _login
from tests.records.intake.pages import encode, page
from tests.records.intake.test_mail import message


def login(client, username):
    _login(client, username)
    client.get("/lang/en")  # English pages: the assertions name the English texts


def _record(inst, serial):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        return record.id, record.attachments[0].uid


def test_status_text_view_and_accepting_the_text(app, inst, client, make_user, make_record):
    clerk = make_user("clerk")
    scan = page(["本人反映科研經費被挪用", "請求調查處理"], size=32)
    serial = make_record(clerk, uploads=[Upload("信.png", encode(scan))], body="（待錄入）")
    record_id, uid = _record(inst, serial)
    login(client, clerk.username)

    with inst.unit_of_work() as s:  # as the worker leaves it mid-document
        s.execute(update(AttachmentText).where(AttachmentText.record_id == record_id)
                  .values(status="running", method="ocr", pages_done=2, pages_total=7))
    html = client.get(f"/records/{serial}").get_data(as_text=True)
    assert "recognising page 3 of 7" in html
    with inst.unit_of_work() as s:
        s.execute(update(AttachmentText).where(AttachmentText.record_id == record_id)
                  .values(status="pending", method="", pages_done=0, pages_total=None))

    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    html = client.get(f"/records/{serial}").get_data(as_text=True)
    assert "recognised text" in html and "Check and take as the body" in html
    with inst.unit_of_work() as s:  # nothing was filled silently
        assert operations.document(s, s.get(Record, record_id))["body"] == "（待錄入）"

    html = client.get(f"/records/{serial}/attachments/{uid}/text?q=科研经费").get_data(as_text=True)
    assert "<mark>科研經費</mark>" in html and f"/records/{serial}/attachments/{uid}?inline=1" in html
    r = client.post(f"/records/{serial}/attachments/{uid}/accept", data={"body": "本人反映科研經費被挪用，請求調查處理。"})
    assert r.status_code == 302
    with inst.unit_of_work() as s:
        record = s.get(Record, record_id)
        assert operations.document(s, record)["body"] == "本人反映科研經費被挪用，請求調查處理。"
        assert record.doc_version == 2
    assert "taken as the body" in client.get(f"/records/{serial}").get_data(as_text=True)


def test_a_failure_is_shown_on_the_record_page(app, inst, client, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("壞.pdf", b"%PDF-1.4\n" + b"broken" * 40)])
    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    login(client, clerk.username)
    html = client.get(f"/records/{serial}").get_data(as_text=True)
    assert "text extraction failed:" in html and "The PDF is damaged and cannot be read." in html


def test_other_clerks_see_no_text(app, inst, client, make_user, make_record):
    clerk, other = make_user("clerk"), make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("a.txt", "附件文字".encode())])
    _, uid = _record(inst, serial)
    login(client, other.username)
    assert client.get(f"/records/{serial}/attachments/{uid}/text").status_code in (403, 404)


def test_mail_upload_form(app, inst, client, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    assert client.get("/intake/mail").status_code == 200
    raw = message("big5", subject="網上來信", sender="周先生", body="反映噪音擾民")
    data = {"message": (io.BytesIO(raw), "m.eml"), "region": "110108", "category": "other"}
    html = client.post("/intake/mail", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "Registered as" in html
    data = {"message": (io.BytesIO(raw), "m.eml"), "region": "110108", "category": "other"}
    html = client.post("/intake/mail", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert "already registered as XF-" in html
    with inst.unit_of_work() as s:
        user = s.get(User, clerk.id)
        assert user is not None
