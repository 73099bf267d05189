"""Issue 20 on the record page: the JSON status of the attachments' text extraction that the
page polls (app/static/intake.js) to show "recognising page 3 of 7" and then the result or the
failure without a reload; access as for the letter's content."""
from __future__ import annotations

from sqlalchemy import select, update

from records.cases.operations import Upload
from records.intake import operations as intake
from records.intake.models import AttachmentText
from records.jobs import runner as jobs
from records.models import Record
from tests.conftest import login as _login
from tests.records.intake.pages import encode, page


def login(client, username):
    _login(client, username)
    client.get("/lang/en")


def _ids(inst, serial):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        return record.id, record.attachments[0].uid


def test_the_record_page_polls_the_status_until_the_text_is_ready(app, inst, client, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("信.png", encode(page(["請求調查處理"], size=32)))])
    record_id, uid = _ids(inst, serial)
    login(client, clerk.username)
    html = client.get(f"/records/{serial}").get_data(as_text=True)
    url = f"/records/{serial}/intake/status"
    assert f'data-intake-status-url="{url}"' in html and "/static/intake.js" in html
    assert f'data-attachment="{uid}"' in html

    with inst.unit_of_work() as s:  # as the worker leaves it mid-document
        s.execute(update(AttachmentText).where(AttachmentText.record_id == record_id)
                  .values(status="running", method="ocr", pages_done=2, pages_total=7))
    r = client.get(url)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    item = body["attachments"][0]
    assert body["finished"] is False and (item["attachment"], item["status"], item["pages_done"],
                                          item["pages_total"]) == (uid, "running", 2, 7)
    assert "recognising page 3 of 7" in item["html"] and f'data-attachment="{uid}"' in item["html"]

    with inst.unit_of_work() as s:
        s.execute(update(AttachmentText).where(AttachmentText.record_id == record_id)
                  .values(status="pending", method="", pages_done=0, pages_total=None))
    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    body = client.get(url).get_json()
    item = body["attachments"][0]
    assert body["finished"] is True and item["status"] == "done" and "Check and take as the body" in item["html"]
    assert "請求" not in r.get_data(as_text=True)           # status only: never the text itself


def test_a_failure_comes_with_its_message(app, inst, client, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("壞.pdf", b"%PDF-1.4\n" + b"broken" * 40)])
    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    login(client, clerk.username)
    item = client.get(f"/records/{serial}/intake/status").get_json()["attachments"][0]
    assert item["status"] == "failed" and item["error"] == "The PDF is damaged and cannot be read."
    assert "text extraction failed:" in item["html"]


def test_the_status_is_refused_to_who_may_not_read_the_letter(app, inst, client, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("a.txt", "附件文字".encode())])
    login(client, make_user("handler", office="SHBX").username)
    assert client.get(f"/records/{serial}/intake/status").status_code in (403, 404)
    anonymous = app.test_client()
    assert anonymous.get(f"/records/{serial}/intake/status").status_code in (302, 401)
