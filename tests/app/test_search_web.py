"""Search in the web UI and the JSON API: the search page, identity look-ups, repeat letters
on the record page, and the index kept current after each request.

Pages are requested in English (Accept-Language) so the assertions read the msgids."""
from __future__ import annotations

import json
import secrets

import pytest
from sqlalchemy import select

from records.models import AuditEntry
from search import indexer, lookups
from tests.conftest import login, new_person

REASON = "核查重複信訪情況，準備約談"


@pytest.fixture(autouse=True, scope="module")
def quick_password_hashing():
    """Cheap Argon2 parameters for the accounts made here (the real ones: tests/records)."""
    from argon2 import PasswordHasher

    from records.accounts import operations as accounts

    saved = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    accounts._hasher = saved


@pytest.fixture
def drain(inst):
    return lambda: indexer.drain(inst)


def word() -> str:
    return "kw" + secrets.token_hex(5)


def person() -> dict:
    return new_person("周" + secrets.choice("明亮強軍"), "136")


def form_for(body: str, pet: dict, **extra) -> dict:
    return {"confirm_old_received_date": "y", "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108",
            "category": "labour_wages", "people_count": "1", "subject": "來信反映", "body": body,
            "petitioner_name": pet["name"], "petitioner_id_number": pet["id_number"],
            "petitioner_phone": pet["phone"], "petitioner_address": "北京市海淀區", **extra}


def signed_in(app, user):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert login(client, user.username).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def test_registering_through_the_web_indexes_at_once(app, inst, make_user):
    clerk = make_user("clerk")
    client = signed_in(app, clerk)
    w = word()
    r = client.post("/records/new", data=form_for(f"公司拖欠工資三個月，{w}", person()))
    assert r.status_code == 302
    assert indexer.pending(inst) == 0            # drained after the request's commit
    page = client.get(f"/search?q=拖欠工资+{w}")    # Simplified finds the Traditional letter
    assert page.status_code == 200
    html = text(page)
    serial = r.headers["Location"].rsplit("/", 1)[-1]
    assert serial in html and "<mark>拖欠工資</mark>" in html
    assert 'href="/search"' in html                # the nav link
    assert "/lookups" not in html                  # clerks do not look up identities


def test_left_to_the_separate_indexer_a_registration_is_found_once_it_has_run(app, make_user, monkeypatch):
    """``XINFANG_INDEX_AFTER_COMMIT=0``: the request answers without indexing, and the letter
    is found once the indexer (``xinfang search sync --follow``) has drained the outbox."""
    served = app.extensions["xinfang"]
    monkeypatch.setattr(served, "settings", served.settings.with_(index_after_commit=False))
    client = signed_in(app, make_user("clerk"))
    w = word()
    r = client.post("/records/new", data=form_for(f"公司拖欠工資三個月，{w}", person()))
    assert r.status_code == 302
    serial = r.headers["Location"].rsplit("/", 1)[-1]
    client.get(r.headers["Location"])              # the letter's page shows "registered as ..."
    assert indexer.pending(served) >= 1
    assert serial not in text(client.get(f"/search?q={w}"))
    assert indexer.drain(served).rows >= 1 and indexer.pending(served) == 0
    assert serial in text(client.get(f"/search?q={w}"))


def test_search_page_forms_filters_and_errors(app, make_user, make_record, drain):
    clerk = make_user("clerk")
    w = word()
    make_record(by=clerk, body=f"信一 {w}", channel="letter")
    make_record(by=clerk, body=f"信二 {w}", channel="visit")
    drain()
    client = signed_in(app, clerk)
    html = text(client.get("/search"))
    assert 'name="q"' in html and "How to search" in html
    html = text(client.get(f"/search?q={w}&channel=visit"))
    assert "1 letters found" in html
    html = text(client.get(f"/search?q={w}"))
    assert "2 letters found" in html and "channel=visit" in html    # a facet link
    r = client.get("/search?q=工*")
    assert r.status_code == 422 and "Wildcards" in text(r)
    r = client.get("/search?q=abc&date_from=2026-99-01")
    assert r.status_code == 422


def test_search_page_is_for_readers_of_content(app, make_user):
    for role in ("archivist", "inspector", "admin"):
        client = signed_in(app, make_user(role))
        assert client.get("/search").status_code == 403
        assert 'href="/search"' not in text(client.get("/"  if role == "admin" else "/ledger", follow_redirects=True))


def test_a_failing_index_does_not_fail_the_request(app, inst, make_user, monkeypatch, caplog):
    clerk = make_user("clerk")
    client = signed_in(app, clerk)

    def broken(*a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(indexer, "drain", broken)
    r = client.post("/records/new", data=form_for(f"索引失敗 {word()}", person()))
    assert r.status_code == 302
    assert indexer.pending(inst) >= 1 and "stay for 'xinfang search sync'" in caplog.text
    monkeypatch.undo()
    assert indexer.drain(inst).rows >= 1 and indexer.check(inst).ok


def test_identity_lookup_page(app, inst, make_user, make_record):
    clerk = make_user("clerk")
    p = person()
    serial = make_record(by=clerk, petitioner=p)
    leader = make_user("leader")
    client = signed_in(app, leader)
    html = text(client.get("/lookups"))
    assert 'name="reason"' in html and "Look-ups left this hour: " in html
    r = client.post("/lookups", data={"kind": "id_number", "value": p["id_number"], "reason": REASON})
    assert r.status_code == 200
    html = text(r)
    assert serial in html and "1 letters found" in html
    assert p["id_number"] not in html            # the identifier is not echoed back
    r = client.post("/lookups", data={"kind": "id_number", "value": p["id_number"], "reason": "why"})
    assert r.status_code == 422 and "too short" in text(r)
    assert signed_in(app, make_user("handler")).get("/lookups").status_code == 403


def test_repeat_panel_and_marking(app, inst, make_user):
    clerk = make_user("clerk")
    client = signed_in(app, clerk)
    p = person()
    first = client.post("/records/new", data=form_for(f"第一次來信 {word()}", p, received_at="2026-02-01T10:00"))
    first_serial = first.headers["Location"].rsplit("/", 1)[-1]
    second = client.post("/records/new", data=form_for(f"第二次來信 {word()}", p))
    page = text(client.get(second.headers["Location"]))
    assert "This petitioner wrote 1 time before; the closest earlier letter is " + first_serial in page
    assert "Mark as a repeat of this" in page
    serial = second.headers["Location"].rsplit("/", 1)[-1]
    r = client.post(f"/records/{serial}/repeat", data={"repeat_of": first_serial})
    assert r.status_code == 302
    page = text(client.get(r.headers["Location"]))
    assert f"Marked as a repeat of {first_serial}" in page
    r = client.post(f"/records/{serial}/repeat", data={"repeat_of": ""}, follow_redirects=True)
    assert "No longer marked as a repeat." in text(r)
    # another clerk may see the ledger line but may not mark it
    other = signed_in(app, make_user("clerk"))
    assert other.post(f"/records/{serial}/repeat", data={"repeat_of": first_serial}).status_code == 403


# -- the JSON API -------------------------------------------------------------------------------
def test_api_search(client, inst, make_user, make_record, drain, api_token):
    clerk = make_user("clerk")
    w = word()
    serial = make_record(by=clerk, subject="來信", body=f"公司拖欠工資三個月 {w}")
    drain()
    chief = make_user("chief")
    h = {"Authorization": f"Bearer {api_token(chief)}"}
    r = client.get(f"/api/v1/search?q=欠工+{w}&region=110108", headers=h)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["total"] == 1
    hit = body["hits"][0]
    assert hit["serial"] == serial and hit["score"] > 0 and "<mark>欠工</mark>" in hit["snippet"]
    assert body["facets"]["region"] == {"110108": 1} and body["facets"]["year"] == {"2026": 1}
    r = client.get(f"/api/v1/search?q={w}&sort=newest", headers=h)
    assert r.get_json()["hits"][0]["score"] is None
    other = make_user("handler", office="SHBX")
    r = client.get(f"/api/v1/search?q=公司拖欠工資三個月+{w}", headers={"Authorization": f"Bearer {api_token(other)}"})
    assert r.get_json()["total"] == 0 and all(v == {} for v in r.get_json()["facets"].values())
    r = client.get("/api/v1/search?q=pay~", headers=h)
    assert r.status_code == 422 and "Fuzzy" in r.get_json()["error"]
    r = client.get("/api/v1/search?q=x&per_page=1000", headers=h)
    assert r.status_code == 422
    r = client.get("/api/v1/search?q=x", headers={"Authorization": f"Bearer {api_token(make_user('archivist'))}"})
    assert r.status_code == 403
    assert client.get("/api/v1/search?q=x").status_code == 401


def test_api_lookups(client, inst, make_user, make_record, api_token, monkeypatch):
    clerk = make_user("clerk")
    p = person()
    serial = make_record(by=clerk, petitioner=p)
    leader = make_user("leader")
    h = {"Authorization": f"Bearer {api_token(leader)}"}
    r = client.post("/api/v1/lookups", json={"kind": "phone", "value": p["phone"], "reason": REASON}, headers=h)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["count"] == 1 and body["items"][0]["serial"] == serial
    assert body["remaining_this_hour"] == lookups.LIMIT_PER_HOUR - 1
    r = client.post("/api/v1/lookups", json={"kind": "phone", "value": p["phone"], "reason": ""}, headers=h)
    assert r.status_code == 422 and "reason" in r.get_json()["fields"]
    r = client.post("/api/v1/lookups", json={"kind": "phone", "value": p["phone"], "reason": REASON, "x": 1},
                    headers=h)
    assert r.status_code == 422
    handler = make_user("handler")
    r = client.post("/api/v1/lookups", json={"kind": "phone", "value": p["phone"], "reason": REASON},
                    headers={"Authorization": f"Bearer {api_token(handler)}"})
    assert r.status_code == 403
    monkeypatch.setattr(lookups, "LIMIT_PER_HOUR", 1)
    r = client.post("/api/v1/lookups", json={"kind": "phone", "value": p["phone"], "reason": REASON}, headers=h)
    assert r.status_code == 429
    with inst.unit_of_work() as s:
        kept = s.execute(select(AuditEntry).where(AuditEntry.action == "identity.lookup_refused",
                                                  AuditEntry.actor_id == leader.id)).scalars().all()
        done = s.execute(select(AuditEntry).where(AuditEntry.action == "identity.lookup",
                                                  AuditEntry.actor_id == leader.id)).scalars().all()
    assert len(kept) == 1 and "reason_sealed" in json.loads(kept[0].detail)   # issue 15: sealed at rest
    assert REASON not in kept[0].detail
    assert len(done) == 1   # the refused look-up's own entry was rolled back with it


def test_openapi_documents_search_and_lookups(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert "get" in doc["paths"]["/search"] and "post" in doc["paths"]["/lookups"]
    assert "429" in doc["paths"]["/lookups"]["post"]["responses"]
