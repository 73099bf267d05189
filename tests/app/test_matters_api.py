"""Issue 16 through the JSON API (and the web where the handler composes): review windows from a
recorded receipt date, the notice naming the superior body, the extension asked by a handler,
handed-down deadlines on the board, the reply's preview and draft, the earlier matter required
for "concluded after re-review", and report figures as of a past month against an independent
count. The same on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
import io
import re

from pypdf import PdfReader
from sqlalchemy import select, update

from records.cases import deadlines
from records.models import Record
from records.reference import letterhead
from tests.conftest import api_letter, login

D = dt.date


def _register(client, tokens, **overrides) -> str:
    r = client.post("/api/v1/records", json=api_letter(**overrides), headers=tokens["clerk"])
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()["serial"]


def _step(client, tokens, who, serial, name, status=200, **fields):
    r = client.post(f"/api/v1/records/{serial}/transitions", json={"transition": name, **fields}, headers=tokens[who])
    assert r.status_code == status, r.get_data(as_text=True)
    return r.get_json()


def _in_progress(client, tokens) -> str:
    serial = _register(client, tokens)
    _step(client, tokens, "leader", serial, "accept")
    _step(client, tokens, "leader", serial, "assign", office="LDJC")
    _step(client, tokens, "handler", serial, "start")
    return serial


def _pdf_text(client, tokens, url) -> str:
    data = client.get(url, headers=tokens["handler"]).data
    return re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def test_review_window_from_the_recorded_receipt_date(client, inst, tokens):
    serial = _in_progress(client, tokens)
    _step(client, tokens, "handler", serial, "reply", text="經查屬實。", finding={"outcome": "substantiated"})
    body = client.get(f"/api/v1/records/{serial}", headers=tokens["clerk"]).get_json()
    assert body["current_due"]["kind"] == "review_request" and "assumed" in body["current_due"]["explanation"]
    # the matter was answered 40 days ago (moved back in time), received by post 5 days later
    today = deadlines.Calendar().today()
    replied = today - dt.timedelta(days=40)
    with inst.unit_of_work() as s:
        s.execute(update(Record).where(Record.serial == serial).values(replied_on=replied, accepted_on=replied))
    _step(client, tokens, "clerk", serial, "acknowledge_receipt", on=(replied + dt.timedelta(days=5)).isoformat())
    body = client.get(f"/api/v1/records/{serial}", headers=tokens["clerk"]).get_json()
    due = body["current_due"]
    assert due["start"] == (replied + dt.timedelta(days=5)).isoformat() and due["assumed"] is None
    assert due["on"] == (replied + dt.timedelta(days=35)).isoformat()
    late = _step(client, tokens, "clerk", serial, "request_review", status=409, on=today.isoformat())
    assert "window closed" in late["error"]
    ok = _step(client, tokens, "clerk", serial, "request_review", on=(replied + dt.timedelta(days=34)).isoformat())
    assert ok["status"] == "review_requested"
    with inst.unit_of_work() as s:
        assert ok["review"]["body"] == letterhead.current(s).superior_body


def test_the_reply_notice_names_the_superior_body(client, inst, tokens):
    with inst.unit_of_work() as s:
        superior = letterhead.current(s).superior_body
    serial = _in_progress(client, tokens)
    out = _step(client, tokens, "handler", serial, "reply", text="經查屬實，已督促整改。",
                finding={"outcome": "substantiated"})
    text = _pdf_text(client, tokens, out["applied"]["document"]["url"])
    assert f"向{superior}請求複查" in text and "本機關請求複查" not in text
    assert re.search(r"〔\d{4}〕\d+號", text)


def test_an_extension_asked_by_the_handler(client, tokens):
    serial = _in_progress(client, tokens)
    _step(client, tokens, "handler", serial, "approve_extension", status=403)
    out = _step(client, tokens, "handler", serial, "request_extension", days=15, reason="需調取銀行流水")
    assert out["extension_requested"]["days"] == 15 and "approve_extension" not in out["transitions"]
    leader_view = client.get(f"/api/v1/records/{serial}", headers=tokens["leader"]).get_json()
    assert {"approve_extension", "refuse_extension"} <= set(leader_view["transitions"])
    out = _step(client, tokens, "leader", serial, "approve_extension")
    assert out["extension_requested"] is None and out["status"] == "in_progress"
    assert out["applied"]["document"]["kind"] == "notice"
    conclusion = next(d for d in out["due"] if d["kind"] == "conclusion")
    assert conclusion["extension"]["days"] == 15 and conclusion["extension"]["reason"] == "需調取銀行流水"


def test_handed_down_deadlines_on_the_board(client, tokens):
    serial = _register(client, tokens)
    _step(client, tokens, "leader", serial, "accept")
    due = (deadlines.Calendar().today() + dt.timedelta(days=10)).isoformat()
    _step(client, tokens, "handler", serial, "record_handed_down", status=404, body="某省科學技術廳",
          document_number="某科交〔2026〕5號", due_on=due)
    out = _step(client, tokens, "leader", serial, "record_handed_down", body="某省科學技術廳",
                document_number="某科交〔2026〕5號", due_on=due)
    assert out["handed_down"]["due_on"] == due and out["handed_down"]["report_back_required"] is True
    board = client.get("/api/v1/board?bucket=handed_down", headers=tokens["chief"]).get_json()
    item = next(i for i in board["items"] if i["serial"] == serial)
    assert item["handed_down_due_on"] == due and item["due_kind"] == "handed_down" and item["due_on"] == due
    assert board["counts"]["handed_down"] >= 1


def test_stored_as_concluded_after_rereview_needs_the_earlier_matter(client, tokens):
    serial = _register(client, tokens)
    r = _step(client, tokens, "clerk", serial, "store", status=422, reason="concluded_after_rereview")
    assert "repeat_of" in r["fields"]


def test_the_reply_composed_with_a_preview_and_a_draft(client, tokens, app, team):
    serial = _in_progress(client, tokens)
    url = f"/api/v1/records/{serial}/reply"
    assert client.get(url + "/draft", headers=tokens["handler"]).get_json() is None
    saved = client.put(url + "/draft", json={"text": "王小明：\n經查屬實。"}, headers=tokens["handler"]).get_json()
    assert saved["text"] == "王小明：\n經查屬實。"
    assert client.get(url + "/draft", headers=tokens["handler"]).get_json()["text"] == "王小明：\n經查屬實。"
    preview = client.post(url + "/preview", json={"text": "王小明：\n經查屬實。", "finding": {"outcome": "substantiated"}},
                          headers=tokens["handler"]).get_json()
    assert preview["text"].count("王小明：") == 1 and preview["text"].count("特此答覆。") == 1
    assert client.post(url + "/preview", json={"text": "x"}, headers=tokens["clerk"]).status_code in (403, 404)
    # the web: the record page's reply form carries the draft; the preview page shows the letter
    web = app.test_client()
    assert login(web, team["handler"].username).status_code == 302
    page = web.get(f"/records/{serial}").get_data(as_text=True)
    assert "經查屬實。" in page and "/reply/preview" in page
    shown = web.post(f"/records/{serial}/reply/preview", data={"reply-text": "經查屬實。",
                                                               "reply-finding_outcome": "substantiated"})
    assert shown.status_code == 200 and "請求複查" in shown.get_data(as_text=True)
    # issuing the reply clears the draft
    _step(client, tokens, "handler", serial, "reply", text="經查屬實。", finding={"outcome": "substantiated"})
    assert client.get(url + "/draft", headers=tokens["handler"]).get_json() is None


def test_report_figures_as_of_a_past_month_equal_an_independent_count(client, inst, tokens):
    """Three letters of January 2026 in a module of their own region: one decided late, one
    accepted and answered in time, one accepted and not answered by 31 January."""
    today = deadlines.Calendar().today()
    jan = [_register(client, tokens, received_at=f"2026-01-{d:02d}T10:00", region="110105") for d in (2, 5, 20)]
    with inst.unit_of_work() as s:
        s.execute(update(Record).where(Record.serial == jan[1]).values(
            status="replied", decided_at=dt.datetime(2026, 1, 6, 2, tzinfo=dt.UTC), accepted_on=D(2026, 1, 6),
            replied_on=D(2026, 1, 25)))
        s.execute(update(Record).where(Record.serial == jan[2]).values(
            status="assigned", decided_at=dt.datetime(2026, 1, 21, 2, tzinfo=dt.UTC), accepted_on=D(2026, 1, 21)))
        everything = s.execute(select(Record)).scalars().all()
        cal = deadlines.calendar_for(s)
        # the independent count, by hand: received by 01-31 and not decided (15 days) or accepted
        # and not replied by then (60 days)
        open_, overdue = 0, 0
        for r in everything:
            received = cal.local_date(r.received_at)
            if received > D(2026, 1, 31):
                continue
            decided = cal.local_date(r.decided_at) if r.decided_at else None
            if decided is None or decided > D(2026, 1, 31):
                due = received + dt.timedelta(days=15)
            elif r.replied_on is None or r.replied_on > D(2026, 1, 31):
                due = r.accepted_on + dt.timedelta(days=60)
            else:
                continue
            open_ += 1
            overdue += D(2026, 1, 31) > due
    assert (open_, overdue) == (2, 1)              # 01-02 undecided (due 01-17); 01-20 accepted, due later
    body = client.get("/api/v1/stats?from=2026-01-01&to=2026-01-31&as_of=2026-01-31", headers=tokens["chief"])
    figures = body.get_json()
    assert (figures["open"], figures["overdue"], figures["as_of"]) == (open_, overdue, "2026-01-31")
    assert figures["overdue_by_kind"] == {"decision": 1}
    future = client.get(f"/api/v1/stats?as_of={(today + dt.timedelta(days=2)).isoformat()}", headers=tokens["chief"])
    assert future.status_code == 422


def test_the_sweep_runs_from_the_cli(settings, inst, client, tokens):
    from click.testing import CliRunner

    from app.cli import cli

    serial = _in_progress(client, tokens)
    _step(client, tokens, "handler", serial, "reply", text="經查屬實。", finding={"outcome": "substantiated"})
    later = (deadlines.Calendar().today() + dt.timedelta(days=31)).isoformat()
    env = {"XINFANG_HOME": str(settings.home), "XINFANG_DATABASE_URL": settings.database_url}
    result = CliRunner().invoke(cli, ["workflow", "sweep", "--today", later], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and serial in result.output, result.output
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.status).where(Record.serial == serial)).scalar_one() == "concluded"
    assert CliRunner().invoke(cli, ["workflow", "sweep", "--today", "nonsense"], env=env).exit_code != 0


def test_the_new_steps_through_the_web_forms(app, inst, client, tokens, team):
    """Declared as data, the new steps get their forms on the record page without more code."""
    web = app.test_client()
    assert login(web, team["leader"].username).status_code == 302
    serial = _register(client, tokens, channel="visit", people_count=6)
    page = web.get(f"/records/{serial}").get_data(as_text=True)
    for name in ("record_handed_down", "flag_major", "record_representatives", "record_conduct"):
        assert f'/records/{serial}/transitions/{name}"' in page, name

    def post(name, **fields):
        r = web.post(f"/records/{serial}/transitions/{name}", data={f"{name}-{k}": v for k, v in fields.items()})
        assert r.status_code == 303, r.status_code

    due = (deadlines.Calendar().today() + dt.timedelta(days=20)).isoformat()
    post("record_handed_down", body="某省科學技術廳", document_number="某科交〔2026〕9號", due_on=due, report_back="no")
    post("flag_major", reason="群體性訴求")
    post("record_representatives", representatives="張三, , 13800000001\n李四，110108199001011231")
    post("record_conduct", conduct_kinds="abuse", conduct_actions="persuaded", conduct_description="情緒激動，經勸導平復")
    post("accept", remit="bureau_functions")
    with inst.unit_of_work() as s:
        r = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert (r.handed_down_due_on.isoformat(), r.report_back_required) == (due, False)
        assert r.major_at is not None and r.representatives_sealed is not None and r.remit == "bureau_functions"
        assert [e.kind for e in r.events][-2:] == ["record_conduct", "accept"]
    page = web.get(f"/records/{serial}").get_data(as_text=True)
    assert "某科交〔2026〕9號" in page and "request_extension" in page
