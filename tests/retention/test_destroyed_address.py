"""Issue 18: a destroyed letter's address answers 410 Gone with what happened to it (date,
batch, certificate) on the web and in the API; a destroyed batch no longer offers a hold."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from records.accounts.models import User
from records.errors import Conflict
from retention import destroy
from retention import operations as ret
from retention.models import Batch, Certificate
from tests.conftest import login

from .conftest import TODAY, approved_batch


def test_destroyed_letter_page_api_and_batch(app, inst, make_user, store_letters, api_token):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, 2, region="110117", year=2020)
    batch_id = approved_batch(inst, archivist, leader, "110117", 2020)
    lead = app.test_client()
    login(lead, leader.username)
    assert 'name="batch"' in lead.get(f"/retention/batches/{batch_id}").get_data(as_text=True)
    reports = destroy.run(inst, batch_id=batch_id, by_id=leader.id, today=TODAY)
    assert reports and reports[0].residue_clean
    with inst.unit_of_work() as s:
        number = s.execute(select(Certificate.number).where(Certificate.batch_id == batch_id)).scalar_one()

    web = app.test_client()
    login(web, leader.username)
    page = web.get(f"/records/{serials[0]}")
    assert page.status_code == 410
    text = page.get_data(as_text=True)
    assert number in text and "110117/2020" in text and "查無此件" not in text
    assert web.get("/records/XF-0000-999999").status_code == 404

    res = app.test_client().get(f"/api/v1/records/{serials[1]}",
                                headers={"Authorization": f"Bearer {api_token(leader)}"})
    assert res.status_code == 410
    body = res.get_json()
    assert body["status"] == "destroyed" and body["certificate"] == number
    assert body["batch"]["id"] == batch_id and body["destroyed_on"]

    batch_page = web.get(f"/retention/batches/{batch_id}").get_data(as_text=True)
    assert 'name="batch"' not in batch_page  # no 設定暫緩銷毀 form on a destroyed batch
    with inst.unit_of_work() as s, pytest.raises(Conflict):
        ret.hold(s, by=s.get(User, leader.id), reason="too late", batch=s.get(Batch, batch_id))


def test_unknown_or_unentitled_is_still_not_found(app, inst, make_user):
    web = app.test_client()
    login(web, make_user("admin").username)
    assert web.get("/records/XF-2020-000001").status_code in (403, 404)


def test_approve_and_run_need_the_batch_name_typed(app, inst, make_user, store_letters):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    store_letters(clerk, 1, region="110118", year=2020)
    with inst.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.region_code == "110118", Batch.year == 2020)).scalar_one()
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        ret.propose(s, batch, by=s.get(User, archivist.id))
        batch_id = batch.id
    web = app.test_client()
    login(web, leader.username)
    page = web.get(f"/retention/batches/{batch_id}").get_data(as_text=True)
    assert 'name="confirm"' in page and "110118/2020" in page
    for typed in (None, "", "110118/2021"):
        data = {} if typed is None else {"confirm": typed}
        assert web.post(f"/retention/batches/{batch_id}/approve", data=data).status_code == 302
        with inst.unit_of_work() as s:
            assert s.get(Batch, batch_id).state == "proposed"
    web.post(f"/retention/batches/{batch_id}/approve", data={"confirm": "110118/2020"})
    with inst.unit_of_work() as s:
        assert s.get(Batch, batch_id).state == "approved"
