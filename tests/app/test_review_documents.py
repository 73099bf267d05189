"""Issue 16, the superior body's decision on a review of ours: its document (PDF or scan) goes
with the outcome step, on the web and through the API, sealed like every attachment, shown with
the outcome on the record page and opened by those who may read the letter; the step (and so
the upload) is refused to a role that may not record the outcome; nothing of it on disk in
plaintext. And a matter left "replied" after the petitioner's window closed stays on the board
(web and API) until the daily sweep concludes it. The same on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import io
import secrets

from sqlalchemy import select

from records.accounts.models import User
from records.cases import workflow
from records.models import AuditEntry, Record
from tests.conftest import letter_data, login

D = dt.date


def _review_requested(inst, team, *, reply_on=D(2026, 3, 10)) -> str:
    """A matter answered on ``reply_on`` whose petitioner asked the superior body for review."""
    from records.cases import operations

    with inst.unit_of_work() as s:
        who = {n: s.get(User, u.id) for n, u in team.items()}
        record = operations.register(s, letter_data(), by=who["clerk"])
        for name, by, day, kw in (("accept", "leader", D(2026, 3, 3), {}),
                                  ("assign", "leader", D(2026, 3, 3), {"office": "LDJC"}),
                                  ("start", "handler", D(2026, 3, 4), {}),
                                  ("reply", "handler", reply_on, {"text": "經查屬實，已督促整改。",
                                                                  "finding": {"outcome": "substantiated"}}),
                                  ("request_review", "clerk", reply_on + dt.timedelta(days=5), {})):
            workflow.transition(s, record, name, by=who[by], today=day, **kw)
        return record.serial


def _pdf(marker: str) -> bytes:
    """A small PDF whose bytes carry ``marker`` (a canary: it must never reach disk in clear)."""
    return (b"%PDF-1.4\n%" + marker.encode() + b"\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def _scan(home, needles: list[str]) -> list[tuple[str, str]]:
    hits = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [(n, str(path)) for n in needles if n.encode() in data]
    return hits


def test_the_decision_document_through_the_api(inst, settings, client, team, tokens):
    serial = _review_requested(inst, team)
    url = f"/api/v1/records/{serial}/transitions"
    marker, name = f"CNRYdecision{secrets.token_hex(6)}", f"CNRYname{secrets.token_hex(6)}"
    pdf = _pdf(marker)

    def post(who, document=(pdf, f"{name}.pdf"), **fields):
        data = {"transition": "record_review_outcome", "outcome": "changed", "document_number": "某科廳複〔2026〕7號",
                **fields, "document": (io.BytesIO(document[0]), document[1])}
        return client.post(url, data=data, headers=tokens[who], content_type="multipart/form-data")

    assert post("handler").status_code == 403                 # may not record the outcome
    refused = post("clerk", document=(b"just some words", "x.txt"))
    assert refused.status_code == 422 and "document" in refused.get_json()["fields"]
    as_json = client.post(url, json={"transition": "record_review_outcome", "outcome": "changed",
                                     "document": "not a file"}, headers=tokens["clerk"])
    assert as_json.status_code == 422 and "document" in as_json.get_json()["fields"]
    r = post("clerk")
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["status"] == "review_replied" and body["review"]["outcome"] == "changed"
    docs = [a for a in body["attachments"] if a["kind"] == "review_decision"]
    assert len(docs) == 1 and docs[0]["filename"] == f"{name}.pdf" and docs[0]["content_type"] == "application/pdf"
    # those who may read the letter open it; the bytes are the ones sent
    for who in ("clerk", "leader", "chief"):
        got = client.get(docs[0]["url"], headers=tokens[who])
        assert got.status_code == 200 and got.data == pdf, who
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert record.events[-1].kind == "record_review_outcome"
        entry = s.execute(select(AuditEntry).where(AuditEntry.target == serial, AuditEntry.action == "record.transition")
                          .order_by(AuditEntry.id.desc())).scalars().first()
        assert docs[0]["id"] in entry.detail                     # the outcome's event names its document
    assert _scan(settings.home, [marker, name]) == []         # sealed: neither the text nor the name in clear


def test_the_decision_document_on_the_web(app, inst, team, make_user):
    serial = _review_requested(inst, team)
    web = app.test_client()
    handler = app.test_client()
    assert login(web, team["clerk"].username).status_code == 302
    assert login(handler, team["handler"].username).status_code == 302
    page = web.get(f"/records/{serial}").get_data(as_text=True)
    action = f'action="/records/{serial}/transitions/record_review_outcome" enctype="multipart/form-data"'
    assert action in page and 'name="record_review_outcome-document"' in page
    pdf = _pdf(f"CNRY{secrets.token_hex(6)}")

    def post(client):
        return client.post(f"/records/{serial}/transitions/record_review_outcome", content_type="multipart/form-data",
                           data={"record_review_outcome-outcome": "upheld", "record_review_outcome-on": "2026-04-01",
                                 "record_review_outcome-document": (io.BytesIO(pdf), "複查決定.pdf")})

    assert post(handler).status_code == 403
    assert post(web).status_code == 303
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert (record.review_outcome, record.review_replied_on) == ("upheld", D(2026, 4, 1))
        assert [a.kind for a in record.attachments].count("review_decision") == 1
    page = web.get(f"/records/{serial}").get_data(as_text=True)
    assert "data-decision-document=" in page          # shown with the outcome, linked
    href = page.split("data-decision-document=")[0].rsplit('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    got = web.get(href)
    assert got.status_code == 200 and got.data == pdf
    assert handler.get(href).status_code == 200                 # the handling office reads it too
    outsider = app.test_client()
    assert login(outsider, make_user("handler", office="SHBX").username).status_code == 302
    assert outsider.get(href).status_code in (403, 404)         # another office: not a reader of this letter


def test_a_matter_whose_window_closed_stays_on_the_board_until_swept(app, inst, client, team, tokens):
    from records.cases import sweep

    serial = _review_requested(inst, team)
    with inst.unit_of_work() as s:                 # a second matter, answered, the window closed long ago
        who = {n: s.get(User, u.id) for n, u in team.items()}
        from records.cases import operations
        record = operations.register(s, letter_data(), by=who["clerk"])
        for name, by, kw in (("accept", "leader", {}), ("assign", "leader", {"office": "LDJC"}),
                             ("start", "handler", {}),
                             ("reply", "handler", {"text": "經查。", "finding": {"outcome": "substantiated"}})):
            workflow.transition(s, record, name, by=who[by], today=D(2026, 3, 10), **kw)
        replied = record.serial
    items = client.get("/api/v1/board?bucket=concluding", headers=tokens["chief"]).get_json()["items"]
    row = next(i for i in items if i["serial"] == replied)
    assert row["concluding"] and row["window_closed_on"] == "2026-04-09" and not row["overdue"]
    assert serial not in {i["serial"] for i in items}           # in review: not concluding
    web = app.test_client()
    assert login(web, team["chief"].username).status_code == 302
    assert 'data-concluding="2026-04-09"' in web.get("/board").get_data(as_text=True)
    with inst.unit_of_work() as s:
        sweep.sweep(s)
    items = client.get("/api/v1/board?bucket=concluding", headers=tokens["chief"]).get_json()["items"]
    assert replied not in {i["serial"] for i in items}
