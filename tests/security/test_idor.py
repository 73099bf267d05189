"""Guessing serials of other offices: refused exactly like a serial that does not exist."""
from __future__ import annotations

import re

from sqlalchemy import select, update

from records.reference.models import Office
from records.models import Record
from tests.conftest import login


def _strip(body: bytes, serial: str) -> bytes:
    body = body.replace(serial.encode(), b"XF-0000-000000")
    return re.sub(rb'name="csrf_token" value="[^"]*"', b"", body)


def test_other_offices_records_are_indistinguishable_from_missing(inst, client, make_user, make_record, api_token):
    clerk = make_user("clerk")
    serial = make_record(by=clerk)
    with inst.unit_of_work() as s:
        shbx = s.execute(select(Office.id).where(Office.code == "SHBX")).scalar_one()
        s.execute(update(Record).where(Record.serial == serial).values(office_id=shbx))
    handler = make_user("handler", office="LDJC")
    year, seq = serial.split("-")[1:]
    missing = f"XF-{year}-{int(seq) + 5000:06d}"
    login(client, handler.username)
    for suffix in ("", "/edit", "/versions/1", "/attachments/" + "0" * 32):
        a = client.get(f"/records/{serial}{suffix}")
        b = client.get(f"/records/{missing}{suffix}")
        assert a.status_code == b.status_code == 404
        assert _strip(a.get_data(), serial) == _strip(b.get_data(), missing)
    h = {"Authorization": f"Bearer {api_token(handler)}"}
    for suffix in ("", "/attachments/" + "0" * 32):
        a = client.get(f"/api/v1/records/{serial}{suffix}", headers=h)
        b = client.get(f"/api/v1/records/{missing}{suffix}", headers=h)
        assert a.status_code == b.status_code == 404 and a.get_json() == b.get_json()
    a = client.post(f"/api/v1/records/{serial}/attachments", headers=h, data={"file": (b"x", "x.txt")})
    b = client.post(f"/api/v1/records/{missing}/attachments", headers=h, data={"file": (b"x", "x.txt")})
    assert a.status_code == b.status_code == 404 and a.get_json() == b.get_json()


def test_malformed_serials_are_not_found(client, make_user, api_token):
    handler = make_user("handler")
    h = {"Authorization": f"Bearer {api_token(handler)}"}
    for serial in ("1", "XF-2026-1", "xf-2026-000001", "XF-2026-000001'--", "%00", "XF-2026-0000011"):
        assert client.get(f"/api/v1/records/{serial}", headers=h).status_code == 404
