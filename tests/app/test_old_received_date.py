"""A letter received long ago (issue 18): a received date more than a year before today is
confirmed at registration (web form, API) before the letter is registered, the record shows
it, and storing (存信) such a letter asks for the confirmation again
(records/cases/received.py)."""
from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, select

from records.accounts.models import User
from records.cases import received, workflow
from records.errors import ValidationError
from records.models import Record
from tests.conftest import letter_data, login

TZ = dt.timezone(dt.timedelta(hours=8))
TODAY = dt.datetime.now(TZ).date()
OLD = (TODAY - dt.timedelta(days=800)).isoformat() + "T10:00"
RECENT = (TODAY - dt.timedelta(days=30)).isoformat() + "T10:00"
FORM = {"channel": "letter", "region": "110108", "category": "labour_wages", "people_count": "1",
        "body": "公司拖欠工資三個月。", "petitioner_name": "王小明"}


def test_the_rule():
    tz = dt.UTC
    now = dt.datetime(2026, 12, 3, 2, tzinfo=dt.UTC)
    assert not received.long_ago(now - dt.timedelta(days=365), now.date(), tz)
    assert received.long_ago(now - dt.timedelta(days=367), now.date(), tz)
    assert received.registered_long_after(now - dt.timedelta(days=400), now)
    assert not received.registered_long_after(now - dt.timedelta(days=10), now)
    received.check_registration(now - dt.timedelta(days=800), now.date(), tz, None)   # not asked
    received.check_registration(now - dt.timedelta(days=800), now.date(), tz, True)   # confirmed
    try:
        received.check_registration(now - dt.timedelta(days=800), now.date(), tz, False)
    except ValidationError as exc:
        assert set(exc.fields) == {"received_at", "confirm_old_received_date"} and exc.status == 422
    else:
        raise AssertionError("an old date was not refused")


def test_web_registration_asks_to_confirm_an_old_date(client, inst, make_user):
    clerk = make_user("clerk")
    login(client, clerk.username)
    with inst.unit_of_work() as s:
        before = s.execute(select(func.count()).select_from(Record)).scalar_one()
    r = client.post("/records/new", data=dict(FORM, received_at=OLD, subject="舊信一"), headers={"Accept-Language": "zh-TW"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "收信日期早於一年前" in html
    box = re.search(r'<input[^>]*id="confirm_old_received_date"[^>]*>', html).group(0)
    assert 'type="checkbox"' in box and 'aria-invalid="true"' in box
    assert 'aria-invalid="true"' in re.search(r'<input[^>]*id="received_at"[^>]*>', html).group(0)
    with inst.unit_of_work() as s:
        assert s.execute(select(func.count()).select_from(Record)).scalar_one() == before
    # a recent date is not asked about
    r = client.post("/records/new", data=dict(FORM, received_at=RECENT, subject="新信"))
    assert r.status_code == 302
    assert "data-flag=\"old-received-date\"" not in client.get(r.headers["Location"]).get_data(as_text=True)
    # confirmed: registered, and the record page shows the flag
    r = client.post("/records/new", data=dict(FORM, received_at=OLD, subject="舊信一", confirm_old_received_date="y"))
    assert r.status_code == 302
    page = client.get(r.headers["Location"], headers={"Accept-Language": "zh-TW"}).get_data(as_text=True)
    assert 'data-flag="old-received-date">收信逾一年後方登記</span>' in page


def test_api_registration_needs_confirm_old_received_date(client, make_user, api_token):
    clerk = make_user("clerk")
    hdr = {"Authorization": f"Bearer {api_token(clerk)}"}
    r = client.post("/api/v1/records", json=letter_data(received_at=OLD), headers=hdr)
    assert r.status_code == 422
    body = r.get_json()
    assert "more than a year ago" in str(body) and "confirm_old_received_date" in str(body)
    r = client.post("/api/v1/records", json=dict(letter_data(received_at=OLD), confirm_old_received_date="yes"),
                    headers=hdr)
    assert r.status_code == 422 and "true or false" in str(r.get_json())
    r = client.post("/api/v1/records", json=dict(letter_data(received_at=OLD), confirm_old_received_date=False),
                    headers=hdr)
    assert r.status_code == 422
    r = client.post("/api/v1/records", json=dict(letter_data(received_at=OLD), confirm_old_received_date=True),
                    headers=hdr)
    assert r.status_code == 201, r.get_json()
    assert client.post("/api/v1/records", json=letter_data(received_at=RECENT), headers=hdr).status_code == 201


def test_storing_an_old_letter_asks_for_the_confirmation(app, inst, make_user, make_record, api_token):
    clerk, leader = make_user("clerk"), make_user("leader")
    old, other, recent = make_record(clerk, received_at=OLD), make_record(clerk, received_at=OLD), \
        make_record(clerk, received_at=RECENT)

    # the domain: refused without, applied with
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == old)).scalar_one()
        try:
            workflow.transition(s, record, "store", by=s.get(User, leader.id), reason="unclear_content")
        except ValidationError as exc:
            assert "confirm_old_received_date" in exc.fields
        else:
            raise AssertionError("stored without the confirmation")
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.status).where(Record.serial == old)).scalar_one() == "registered"

    # the web: the store form warns and offers the box only for the old letter
    web = app.test_client()
    login(web, leader.username)
    page = web.get(f"/records/{old}", headers={"Accept-Language": "zh-TW"}).get_data(as_text=True)
    assert "此信收於一年以前" in page and 'name="store-confirm_old_received_date"' in page
    assert 'name="store-confirm_old_received_date"' not in web.get(f"/records/{recent}").get_data(as_text=True)
    data = {"store-reason_code": "unclear_content", "store-confirm": "yes"}
    r = web.post(f"/records/{old}/transitions/store", data=data)
    assert "flash-error" in web.get(r.headers["Location"]).get_data(as_text=True)
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.status).where(Record.serial == old)).scalar_one() == "registered"
    web.post(f"/records/{old}/transitions/store", data=dict(data, **{"store-confirm_old_received_date": "y"}))
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.status).where(Record.serial == old)).scalar_one() == "stored"

    # the API: 422 without, stored with
    hdr = {"Authorization": f"Bearer {api_token(leader)}"}
    api = app.test_client()
    r = api.post(f"/api/v1/records/{other}/transitions", json={"transition": "store", "reason": "unclear_content"},
                 headers=hdr)
    assert r.status_code == 422 and "confirm_old_received_date" in str(r.get_json())
    r = api.post(f"/api/v1/records/{other}/transitions", headers=hdr,
                 json={"transition": "store", "reason": "unclear_content", "confirm_old_received_date": True})
    assert r.status_code == 200, r.get_json()
    # a recent letter is stored as before
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == recent)).scalar_one()
        workflow.transition(s, record, "store", by=s.get(User, leader.id), reason="unclear_content")
