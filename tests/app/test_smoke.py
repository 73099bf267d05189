"""A first journey through the web and the API."""
from tests.conftest import api_letter, letter_data, login


def test_register_and_read_through_web(client, make_user):
    clerk = make_user("clerk")
    r = login(client, clerk.username)
    assert r.status_code == 302
    r = client.post("/records/new", data={
        "confirm_old_received_date": "y",  # the fixed 2026 date (tests/conftest.py: CONFIRM_OLD)
        "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108", "category": "labour_wages",
        "people_count": "1", "subject": "拖欠工資", "body": "公司拖欠工資三個月。",
        "petitioner_name": "王小明", "petitioner_id_number": "110108199001011231",
        "petitioner_phone": "13812345678", "petitioner_address": "北京市海淀區",
    })
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "拖欠工資" in page and "王小明" in page
    ledger = client.get("/ledger").get_data(as_text=True)
    assert "拖欠工資" in ledger


def test_api_register_and_read(client, make_user, api_token):
    clerk = make_user("clerk")
    token = api_token(clerk)
    h = {"Authorization": f"Bearer {token}"}
    r = client.post("/api/v1/records", json=api_letter(), headers=h)
    assert r.status_code == 201, r.get_json()
    serial = r.get_json()["serial"]
    body = client.get(f"/api/v1/records/{serial}", headers=h).get_json()
    assert body["content"]["subject"] == letter_data()["subject"]
    other = make_user("handler", office="SHBX")
    r = client.get(f"/api/v1/records/{serial}", headers={"Authorization": f"Bearer {api_token(other)}"})
    assert r.status_code == 404
