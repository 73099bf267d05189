"""The life of a matter through the web pages and the JSON API: actions on the record page,
the history timeline, the letters, the supervision board and its CSV export."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from records.cases import notices as replies
from records.models import AuditEntry, Record
from tests.app.conftest import make_team
from tests.conftest import login


@pytest.fixture
def quick_letters(monkeypatch):
    """A stand-in for the PDF letters where a test is not about them (test_replies.py is)."""
    monkeypatch.setattr(replies, "render", lambda kind, context, settings=None: b"%PDF-1.4\n% stand-in\n%%EOF\n")


TEAM = {
    "clerk": (("clerk",), "XFB", ()),
    "leader": (("leader",), None, ("LDJC",)),
    "handler": (("handler",), "LDJC", ()),
    "other_handler": (("handler",), "SHBX", ()),
    "inspector": (("inspector",), None, ()),
}


@pytest.fixture(scope="module")
def team(inst):
    """One user per part, for the module."""
    return make_team(inst, TEAM)


_CLIENTS: dict = {}


def signed_in(app, user):
    """A test client signed in as ``user`` (in English), kept for the module."""
    key = (id(app), user.id)
    if key not in _CLIENTS:
        client = app.test_client()
        assert login(client, user.username).status_code == 302
        client.get("/lang/en")
        _CLIENTS[key] = client
    return _CLIENTS[key]


def post_step(client, serial, name, **fields):
    return client.post(f"/records/{serial}/transitions/{name}", data={f"{name}-{k}": v for k, v in fields.items()})


def status_of(inst, serial):
    with inst.unit_of_work() as s:
        return s.execute(select(Record.status).where(Record.serial == serial)).scalar_one()


def test_record_page_offers_the_steps_each_role_may_take(app, inst, team, make_record, quick_letters):
    serial = make_record(team["clerk"])
    leader = signed_in(app, team["leader"])
    page = leader.get(f"/records/{serial}").get_data(as_text=True)
    assert 'id="workflow"' in page and "Acceptance decision" in page
    assert "within 15 days from 2026-03-02 (received), that is by 2026-03-17" in page
    for name in ("accept", "answer_directly", "decline_outside_authority", "decline_legal_channel", "store"):
        assert f"/records/{serial}/transitions/{name}" in page
    assert "transitions/reply" not in page
    clerk_page = signed_in(app, team["clerk"]).get(f"/records/{serial}").get_data(as_text=True)
    assert f"/records/{serial}/transitions/store" in clerk_page and "transitions/accept" not in clerk_page
    assert 'name="store-reason_code"' in clerk_page and "Unclear content" in clerk_page


def test_a_matter_through_the_web(app, inst, team, make_record, quick_letters):
    serial = make_record(team["clerk"])
    leader, handler = signed_in(app, team["leader"]), signed_in(app, team["handler"])
    r = post_step(leader, serial, "accept", note="同意受理，交勞動保障監察科")
    assert r.status_code == 303 and r.headers["Location"].endswith(f"/records/{serial}#workflow")
    assert status_of(inst, serial) == "accepted"
    assert "Done: Accept." in leader.get(f"/records/{serial}").get_data(as_text=True)

    r = post_step(leader, serial, "assign", office="EXT-HD")            # an external unit: refused, named
    assert r.status_code == 303 and status_of(inst, serial) == "accepted"
    page = leader.get(f"/records/{serial}").get_data(as_text=True)
    assert "was not applied" in page and "use &#39;transfer&#39;" in page
    post_step(leader, serial, "assign", office="LDJC")
    assert status_of(inst, serial) == "assigned"

    page = handler.get(f"/records/{serial}").get_data(as_text=True)
    assert "transitions/start" in page and "transitions/extend" not in page     # extensions need a leader
    post_step(handler, serial, "start")
    post_step(leader, serial, "extend", days="31", reason="情況複雜")
    assert status_of(inst, serial) == "in_progress"
    assert "at most 30 days" in leader.get(f"/records/{serial}").get_data(as_text=True)
    post_step(leader, serial, "extend", days="30", reason="情況複雜，需調查取證")
    assert status_of(inst, serial) == "extended"

    r = post_step(handler, serial, "reply", confirm="yes", text="經查，公司已補發工資。", finding_outcome="substantiated",
                  corrective_action="責令補發", evidence="銀行轉賬記錄")
    assert status_of(inst, serial) == "replied"
    page = handler.get(f"/records/{serial}").get_data(as_text=True)
    for shown in ("Time limit extended", "Written reply issued", "Substantiated", "銀行轉賬記錄",
                  "extended by 30 days on", "情況複雜，需調查取證", "經查，公司已補發工資。"):
        assert shown in page, shown

    # the handler's colleague in another office sees nothing of it
    other = signed_in(app, team["other_handler"])
    assert other.get(f"/records/{serial}").status_code == 404
    assert post_step(other, serial, "conclude", reason="x").status_code == 404


def test_the_extension_notice_is_a_real_pdf_for_those_who_may_read_it(app, inst, team, make_record):
    serial = make_record(team["clerk"])
    leader, handler = signed_in(app, team["leader"]), signed_in(app, team["handler"])
    post_step(leader, serial, "accept")
    post_step(leader, serial, "assign", office="LDJC")
    post_step(leader, serial, "extend", days="20", reason="需會同社保部門核查")
    page = handler.get(f"/records/{serial}").get_data(as_text=True)
    texts = {}
    # the acceptance notice, the assignment letter and its notice to the petitioner, the extension notice
    for link in re.findall(rf'href="(/records/{serial}/attachments/[0-9a-f]{{32}})"', page):
        r = handler.get(link)
        assert r.status_code == 200 and r.mimetype == "application/pdf"
        texts[link] = re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages))
    link, text = next((k, t) for k, t in texts.items() if "延期辦理告知書" in t)
    issued = f"〔{dt.datetime.now(inst.settings.tz).year}〕"     # a 文號 takes the year it is issued in
    assert serial in text and "需會同社保部門核查" in text and issued in text
    assert len({re.search(re.escape(issued) + r"\d+號", t).group(0) for t in texts.values()}) == len(texts) == 4
    assert signed_in(app, team["other_handler"]).get(link).status_code == 404
    assert signed_in(app, team["inspector"]).get(link).status_code in (403, 404)


def test_forms_carry_a_csrf_token_and_a_post_without_one_is_refused(settings, team, make_record):
    from app import create_app

    app = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "csrf-test",
                      "WTF_CSRF_ENABLED": True, "XINFANG_SECOND_FACTOR_ROLES": ()})
    try:
        serial = make_record(team["clerk"])
        client = app.test_client()
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"',
                          client.get("/login").get_data(as_text=True)).group(1)
        client.post("/login", data={"username": team["leader"].username, "password": "test-password-123",
                                    "csrf_token": token})
        page = client.get(f"/records/{serial}").get_data(as_text=True)
        form_token = re.search(r'name="accept-csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        assert client.post(f"/records/{serial}/transitions/accept", data={}).status_code == 400
        r = client.post(f"/records/{serial}/transitions/accept", data={"accept-csrf_token": form_token})
        assert r.status_code == 303
    finally:
        app.extensions["xinfang"].close()


def test_the_board_shows_what_is_late_without_content(app, inst, team, make_record, quick_letters):
    serial = make_record(team["clerk"], subject="機密的信訪標題", petitioner={"name": "趙秘密"})
    leader = signed_in(app, team["leader"])
    page = leader.get("/board").get_data(as_text=True)
    assert serial in page and "Overdue" in page                # received 2026-03-02: the decision is late
    inspector = signed_in(app, team["inspector"])
    page = inspector.get("/board?bucket=overdue").get_data(as_text=True)
    assert serial in page and "機密的信訪標題" not in page and "趙秘密" not in page
    assert 'href="/board"' in page                             # the navigation offers the board
    r = inspector.get("/board.csv?bucket=overdue")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    body = r.get_data(as_text=True)
    assert body.lstrip("\ufeff").startswith("serial,status,received_on") and serial in body
    assert "機密的信訪標題" not in body and "趙秘密" not in body
    with inst.unit_of_work() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "board.export",
                                                  AuditEntry.actor == team["inspector"].username)).first()
    handler = signed_in(app, team["handler"])
    assert handler.get("/board").status_code == 403
    assert 'href="/board"' not in handler.get("/ledger").get_data(as_text=True)
    assert leader.get("/board?bucket=late").status_code == 200      # a bad filter is explained, not a crash
    assert "Invalid filter." in leader.get("/board?bucket=late").get_data(as_text=True)


def test_board_filters(app, inst, team, make_record, quick_letters):
    serial = make_record(team["clerk"])
    leader = signed_in(app, team["leader"])
    post_step(leader, serial, "accept")
    post_step(leader, serial, "transfer", unit="EXT-CY")
    with inst.unit_of_work() as s:     # accepted long ago: the conclusion is overdue
        import datetime as dt
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        record.accepted_on, record.due_on = dt.date(2026, 1, 5), dt.date(2026, 3, 6)
    page = leader.get(f"/board?office=EXT-CY&leader={team['leader'].username}").get_data(as_text=True)
    assert serial in page and "朝陽區人力資源和社會保障局" in page
    assert serial not in leader.get("/board?office=EXT-HD").get_data(as_text=True)
    assert serial in leader.get(f"/board?first_responder={team['clerk'].username}").get_data(as_text=True)


# -- the JSON API -----------------------------------------------------------------------------------------
def bearer(api_token, user):
    return {"Authorization": f"Bearer {api_token(user)}"}


def test_api_record_shows_status_due_and_transitions(client, team, make_record, api_token, quick_letters):
    serial = make_record(team["clerk"])
    leader = bearer(api_token, team["leader"])
    body = client.get(f"/api/v1/records/{serial}", headers=leader).get_json()
    assert body["status"] == "registered"
    assert body["due"][0]["kind"] == "decision" and body["due"][0]["on"] == "2026-03-17"
    assert body["due"][0]["explanation"] == "received 2026-03-02 + 15 days = 2026-03-17"
    assert body["transitions"] == ["accept", "answer_directly", "decline_outside_authority",
                                   "decline_legal_channel", "store", "record_handed_down", "flag_major",
                                   "record_cessation"]
    clerk_view = client.get(f"/api/v1/records/{serial}", headers=bearer(api_token, team["clerk"])).get_json()
    assert clerk_view["transitions"] == ["store"]


def test_api_transitions(client, inst, team, make_record, api_token, quick_letters):
    serial = make_record(team["clerk"])
    url = f"/api/v1/records/{serial}/transitions"
    leader, handler = bearer(api_token, team["leader"]), bearer(api_token, team["handler"])
    r = client.post(url, json={"transition": "accept"}, headers=handler)
    assert r.status_code == 404                                # the record sits at the intake: not visible
    r = client.post(url, json={"transition": "accept"}, headers=bearer(api_token, team["clerk"]))
    assert r.status_code == 403
    r = client.post(url, json={"transition": "reply", "text": "x"}, headers=leader)
    assert r.status_code == 409 and "registered" in r.get_json()["error"]
    assert client.post(url, json={}, headers=leader).status_code == 422
    assert client.post(url, json={"transition": "accept", "colour": "red"}, headers=leader).status_code == 422
    r = client.post(url, json={"transition": "accept", "note": "同意"}, headers=leader)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "accepted" and body["applied"]["from_status"] == "registered"
    assert [d["kind"] for d in body["due"]] == ["decision", "conclusion"]
    r = client.post(url, json={"transition": "assign", "office": "LDJC"}, headers=leader)
    assert r.status_code == 200 and r.get_json()["office"] == "LDJC" and r.get_json()["approved_by"]
    r = client.post(url, json={"transition": "extend", "days": 31, "reason": "複雜"}, headers=leader)
    assert r.status_code == 422 and "at most 30" in r.get_json()["fields"]["days"]
    r = client.post(url, json={"transition": "extend", "days": 30, "reason": "複雜原因"}, headers=leader)
    assert r.status_code == 200
    body = r.get_json()
    assert body["applied"]["document"]["kind"] == "notice"
    conclusion = next(d for d in body["due"] if d["kind"] == "conclusion")
    assert conclusion["extension"]["reason"] == "複雜原因" and "複雜原因" in conclusion["explanation"]
    r = client.post(url, json={"transition": "extend", "days": 5, "reason": "again"}, headers=leader)
    assert r.status_code == 409 and "second extension" in r.get_json()["error"]
    # an inspector sees the dates and who, not the reason
    seen = client.get(f"/api/v1/records/{serial}", headers=bearer(api_token, team["inspector"])).get_json()
    conclusion = next(d for d in seen["due"] if d["kind"] == "conclusion")
    assert "reason" not in conclusion["extension"] and "複雜原因" not in conclusion["explanation"]
    assert seen["transitions"] == [] and seen["content"] is None


def test_api_board(client, team, make_record, api_token):
    serial = make_record(team["clerk"])
    r = client.get("/api/v1/board?bucket=overdue", headers=bearer(api_token, team["inspector"]))
    assert r.status_code == 200
    body = r.get_json()
    row = next(i for i in body["items"] if i["serial"] == serial)
    assert row["overdue"] and row["due_kind"] == "decision" and row["first_responder"]
    assert "subject" not in row and body["counts"]["overdue"] >= 1
    assert client.get("/api/v1/board", headers=bearer(api_token, team["handler"])).status_code == 403
    assert client.get("/api/v1/board?bucket=nope", headers=bearer(api_token, team["inspector"])).status_code == 422


def test_cli_prints_the_workflow_table(settings):
    from click.testing import CliRunner

    from app.cli import cli

    env = {"XINFANG_HOME": str(settings.home), "XINFANG_DATABASE_URL": settings.database_url,
           "XINFANG_DEADLINES": '{"conclusion_days": 45}'}
    result = CliRunner().invoke(cli, ["workflow", "table"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "extend: assigned | transferred | in_progress -> extended" in result.output
    assert "conclusion_days         45" in result.output
    result = CliRunner().invoke(cli, ["workflow", "table", "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and '"transition": "record_rereview_outcome"' in result.output


def test_irreversible_steps_need_the_confirmation(app, inst, team, make_record):
    """Issue 18: 存信 / 不予受理 / the reply are refused without the ticked confirmation; 存信
    comes with no reason preselected."""
    serial = make_record(team["clerk"])
    leader = app.test_client()
    login(leader, team["leader"].username)
    page = leader.get(f"/records/{serial}").get_data(as_text=True)
    assert 'name="store-confirm"' in page and 'name="decline_legal_channel-confirm"' in page
    select_html = page[page.index('name="store-reason_code"'):]
    select_html = select_html[:select_html.index("</select>")]
    assert "selected" not in select_html
    post_step(leader, serial, "store", reason_code="unclear_content", confirm_old_received_date="y")
    assert status_of(inst, serial) == "registered"
    post_step(leader, serial, "store", reason_code="unclear_content", confirm="yes", confirm_old_received_date="y")
    assert status_of(inst, serial) == "stored"
