"""Issue 18, confirm before the irreversible: each such step's form, posted without its
confirmation, does nothing (HTTP level, the Flask test client).

Covered elsewhere and not repeated here: 存信 without the ticked box
(tests/app/test_workflow_web.py::test_irreversible_steps_need_the_confirmation), approving a
destruction list without the batch's name or with another
(tests/retention/test_destroyed_address.py::test_approve_and_run_need_the_batch_name_typed),
a run posted with no name at all (tests/retention/test_web_api.py) and replacing a month's
roster without the box ticked (tests/app/test_stats_web.py::test_replacing_a_months_roster_needs_the_box_ticked).
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from records.accounts.models import User
from records.cases import notices, workflow
from records.models import Record
from retention import jobs as retention_jobs
from retention import operations as ret
from retention.models import Batch
from tests.conftest import login


@pytest.fixture
def quick_letters(monkeypatch):
    """A stand-in for the PDF letters (tests/records test the letters themselves)."""
    monkeypatch.setattr(notices, "render", lambda kind, context, settings=None: b"%PDF-1.4\n% stand-in\n%%EOF\n")


def step(inst, serial: str, name: str, by, **given) -> None:
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        workflow.transition(s, record, name, by=s.get(User, by.id), **given)


def record_of(inst, serial: str) -> Record:
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        s.expunge(record)
        return record


def post_step(client, serial: str, name: str, **fields):
    return client.post(f"/records/{serial}/transitions/{name}", data={f"{name}-{k}": v for k, v in fields.items()})


def refused(response, client) -> bool:
    """The step came back to the record page with an error said, not a success."""
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return response.status_code == 303 and "flash-error" in page and "flash-success" not in page


def test_not_accepting_needs_the_confirmation(app, inst, make_user, make_record, quick_letters):
    clerk, leader = make_user("clerk"), make_user("leader")
    web = app.test_client()
    login(web, leader.username)
    outside, channel = make_record(clerk), make_record(clerk)
    for typed in ({}, {"confirm": ""}):
        r = post_step(web, outside, "decline_outside_authority", reason="屬於法院職權範圍，請向法院反映", **typed)
        assert refused(r, web) and record_of(inst, outside).status == "registered"
        r = post_step(web, channel, "decline_legal_channel", reason_code="litigation", **typed)
        assert refused(r, web) and record_of(inst, channel).status == "registered"
    post_step(web, outside, "decline_outside_authority", reason="屬於法院職權範圍，請向法院反映", confirm="yes")
    post_step(web, channel, "decline_legal_channel", reason_code="litigation", confirm="yes")
    assert record_of(inst, outside).status == record_of(inst, channel).status == "not_accepted"


def test_issuing_the_reply_needs_the_confirmation(app, inst, make_user, make_record, quick_letters):
    clerk, leader, handler = make_user("clerk"), make_user("leader", oversees=("LDJC",)), make_user("handler")
    serial = make_record(clerk)
    step(inst, serial, "accept", leader)
    step(inst, serial, "assign", leader, office="LDJC")
    step(inst, serial, "start", handler)
    web = app.test_client()
    login(web, handler.username)
    reply = {"text": "經查，公司已補發工資。", "finding_outcome": "substantiated", "corrective_action": "責令補發"}

    r = post_step(web, serial, "reply", **reply)
    assert refused(r, web)
    record = record_of(inst, serial)
    assert record.status == "in_progress" and record.replied_on is None

    # the preview and the draft are not irreversible: one click, no confirmation
    fields = {f"reply-{k}": v for k, v in reply.items()}
    preview = web.post(f"/records/{serial}/reply/preview", data=fields)
    # the preview's own "issue" button carries the same confirmation as the record page's
    assert preview.status_code == 200 and 'name="reply-confirm"' in preview.get_data(as_text=True)
    assert web.post(f"/records/{serial}/reply/draft", data=fields).status_code == 303
    assert record_of(inst, serial).reply_draft_sealed is not None
    assert record_of(inst, serial).status == "in_progress"

    post_step(web, serial, "reply", confirm="yes", **reply)
    assert record_of(inst, serial).status == "replied"


def test_a_destruction_run_needs_the_batch_name_typed(app, inst, make_user, make_record):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serial = make_record(clerk, region="110106", received_at="2020-05-06T10:00")
    step(inst, serial, "store", leader, reason="unclear_content", confirm_old_received_date=True)
    with inst.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.region_code == "110106", Batch.year == 2020)).scalar_one()
        ret.seal(s, batch, by=s.get(User, archivist.id))
        ret.propose(s, batch, by=s.get(User, archivist.id))
        ret.approve(s, batch, by=s.get(User, leader.id))
        batch_id, label = batch.id, batch.label
    web = app.test_client()
    login(web, leader.username)
    for typed in (None, "", "110106", "110106/2021", label.replace("/", " ")):
        r = web.post(f"/retention/batches/{batch_id}/run", data={} if typed is None else {"confirm": typed})
        assert r.status_code == 302
        assert "flash-error" in web.get(r.headers["Location"]).get_data(as_text=True), typed
        with inst.unit_of_work() as s:
            assert retention_jobs.latest_job(s, batch_id) is None, typed
            assert s.get(Batch, batch_id).state == "approved"
    web.post(f"/retention/batches/{batch_id}/run", data={"confirm": f" {label} "})   # spaces around are no matter
    with inst.unit_of_work() as s:
        assert retention_jobs.latest_job(s, batch_id).status == "queued"
