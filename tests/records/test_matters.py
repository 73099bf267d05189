"""The life of a matter, round two (issue 16), through the services: reviews go to the superior
body and their windows run from the recorded day of receipt; notices name that body and carry
the letterhead's document numbers; the handling office asks for extensions; matters handed
down carry their own deadline onto the board; major cases, representatives, conduct notes,
corrective actions, 息訪 and the first responder; the sweep; and report figures as of a past
month against an independent count. The same on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from records import policy, sealing
from records.accounts import operations as accounts
from records.accounts.models import User
from records.cases import board, deadlines, notices, sweep, workflow
from records.cases.models import Finding
from records.errors import Conflict, ValidationError, XinfangError
from records.models import AuditEntry, Record
from records.reference import letterhead
from records.reporting import reports
from tests.conftest import TEST_PASSWORD, letter_data, unique

D = dt.date
FINDING = {"outcome": "substantiated", "corrective_action": "責令補發工資", "action_due_on": "2026-04-30"}


@pytest.fixture(scope="module")
def people(inst):
    specs = {"clerk": (["clerk"], "XFB", ()), "leader": (["leader"], None, ("LDJC",)),
             "other_leader": (["leader"], None, ("SHBX",)), "handler": (["handler"], "LDJC", ()),
             "chief": (["chief"], None, ())}
    ids = {}
    with inst.unit_of_work() as s:
        for name, (roles, office, oversees) in specs.items():
            ids[name] = accounts.create_user(s, unique(name.replace("_", "")), TEST_PASSWORD, roles, office=office,
                                             oversees=list(oversees), display_name=name).id
    with inst.unit_of_work() as s:
        users = {n: s.get(User, i) for n, i in ids.items()}
        for u in users.values():
            _ = u.overseen, u.office
        s.expunge_all()
    return SimpleNamespace(**users)


@pytest.fixture
def no_letters(monkeypatch):
    """The PDF is read back in the API tests; here a stand-in keeps the steps fast (the
    numbering, the storing and the wording's composition stay real)."""
    monkeypatch.setattr(notices, "render", lambda kind, context, settings=None: b"%PDF-1.4\n%stand-in\n%%EOF\n")


def _new(session, people, **overrides) -> Record:
    from records.cases import operations

    overrides.setdefault("received_at", "2026-01-05T10:00")
    serial = operations.register(session, letter_data(**overrides),
                                 by=session.get(User, people.clerk.id)).serial
    return session.execute(select(Record).where(Record.serial == serial)).scalar_one()


def _step(session, record, name, who, today, **kw):
    return workflow.transition(session, record, name, by=session.get(User, who.id), today=today, **kw)


def _replied(session, people, *, on=D(2026, 2, 2), **reply) -> Record:
    record = _new(session, people)
    _step(session, record, "accept", people.leader, D(2026, 1, 6))
    _step(session, record, "assign", people.leader, D(2026, 1, 6), office="LDJC")
    _step(session, record, "start", people.handler, D(2026, 1, 7))
    _step(session, record, "reply", people.handler, on, text="經查屬實，已督促整改。", finding=FINDING, **reply)
    return record


# -- review goes up a level ----------------------------------------------------------------------
def test_the_review_window_runs_from_the_recorded_receipt(session, people, no_letters):
    record = _replied(session, people)
    cal = deadlines.calendar_for(session)
    window = deadlines.review_request_window(cal, record)
    assert window.start == D(2026, 2, 2) and "assumed" in window.explain() and window.assumed
    # the postal receipt says the petitioner received it on 02-09: the window moves with it
    _step(session, record, "acknowledge_receipt", people.clerk, D(2026, 2, 10), on="2026-02-09")
    window = deadlines.review_request_window(cal, record)
    assert (window.start, window.on, window.assumed) == (D(2026, 2, 9), D(2026, 3, 11), None)
    with pytest.raises(Conflict, match="window closed on 2026-03-11"):
        _step(session, record, "request_review", people.clerk, D(2026, 3, 12), on="2026-03-12")
    _step(session, record, "request_review", people.clerk, D(2026, 3, 11), on="2026-03-11")
    # the superior body named in the letterhead is the one asked
    assert record.review_body == letterhead.current(session).superior_body
    _step(session, record, "record_review_outcome", people.clerk, D(2026, 4, 1), outcome="changed",
          document_number="某科廳複〔2026〕7號", on="2026-03-30")
    assert (record.status, record.review_outcome, record.review_replied_on) == ("review_replied", "changed",
                                                                             D(2026, 3, 30))
    assert record.review_document_number == "某科廳複〔2026〕7號"


def test_the_original_handler_no_longer_answers_a_review(session, people, no_letters):
    record = _replied(session, people)
    _step(session, record, "request_review", people.clerk, D(2026, 2, 10))
    assert "record_review_outcome" not in workflow.available(session, record, people.handler, today=D(2026, 2, 11))
    with pytest.raises(ValidationError, match="outcome"):
        _step(session, record, "record_review_outcome", people.clerk, D(2026, 2, 11))


def test_a_review_of_a_subordinate_units_decision_is_ours_within_30_days(session, people, no_letters):
    record = _new(session, people)
    _step(session, record, "accept", people.leader, D(2026, 1, 6), review_of_unit="EXT-HD", remit="bureau_functions")
    due = deadlines.conclusion_due(deadlines.calendar_for(session), record)
    assert (due.days, due.on, record.due_on) == (30, D(2026, 2, 5), D(2026, 2, 5))
    assert record.remit == "bureau_functions" and record.review_of_unit == "EXT-HD"
    kinds = [a.kind for a in record.attachments]
    assert kinds == ["notice"]                     # the acceptance notice


def test_the_sweep_concludes_after_the_window_with_an_event(session, people, no_letters):
    record = _replied(session, people, on=D(2026, 2, 2))
    assert record.serial not in sweep.sweep(session, today=D(2026, 3, 4)).concluded    # day 30: still open
    result = sweep.sweep(session, today=D(2026, 3, 5))
    assert record.serial in result.concluded and record.status == "concluded"
    event = record.events[-1]
    assert (event.kind, event.from_status, event.actor_id) == ("auto_conclude", "replied", None)
    entry = session.execute(select(AuditEntry).where(AuditEntry.target == record.serial)
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert '"transition":"auto_conclude"' in entry.detail and entry.actor == "system:sweep"
    assert record.serial not in sweep.sweep(session, today=D(2026, 3, 6)).concluded


def test_concluded_after_rereview_names_the_final_matter(session, people, no_letters):
    record = _new(session, people)
    with pytest.raises(ValidationError) as exc:
        _step(session, record, "store", people.clerk, D(2026, 1, 6), reason="concluded_after_rereview")
    assert "repeat_of" in exc.value.fields


# -- notices -----------------------------------------------------------------------------------------
def test_the_reply_names_the_superior_body_and_prints_what_the_preview_shows(session, people, no_letters):
    head = letterhead.current(session)
    record = _replied(session, people)
    letter = notices.preview(session, record, "reply", {
        "received_on": D(2026, 1, 5), "issued_on": D(2026, 2, 2), "accepted_on": D(2026, 1, 6),
        "text": "王小明：\n經查，公司確有拖欠。\n特此答覆。", "finding": "substantiated", "window_days": 30,
        "superior_body": head.superior_body})
    text = notices.preview_text(letter)
    assert f"向{head.superior_body}請求複查" in text and "本機關請求複查" not in text
    assert text.count("王小明：") == 1 and text.count("特此答覆。") == 1     # the handler's own, not twice
    assert head.bureau_name in text and head.seal_line in text and notices.NUMBER_PENDING in text
    assert not any(line.lstrip("\u3000").startswith("。") for line in text.splitlines())


def test_every_notice_is_numbered_from_the_letterhead_sequence(session, people, no_letters):
    record = _new(session, people)
    applied = [_step(session, record, "accept", people.leader, D(2026, 1, 6)),
               _step(session, record, "transfer", people.leader, D(2026, 1, 6), unit="EXT-HD")]
    assert [len(a.documents) for a in applied] == [1, 2]      # acceptance; 轉送函 to the unit + notice to the petitioner
    entries = session.execute(select(AuditEntry).where(AuditEntry.target == record.serial,
                                                       AuditEntry.action == "record.transition")).scalars().all()
    numbers = [letter["number"] for e in entries for letter in __import__("json").loads(e.detail).get("letters", [])]
    assert len(numbers) == 3 and len(set(numbers)) == 3 and all("〔2026〕" in n for n in numbers)


def test_lines_never_start_with_closing_punctuation():
    lines = notices.break_lines(len, "一二三四五。六七八九十，一二三四五", 5)
    assert all(not line.startswith(("。", "，")) for line in lines) and "".join(lines) == "一二三四五。六七八九十，一二三四五"


# -- extensions asked by the handling office ------------------------------------------------------------
def test_the_handler_asks_and_the_overseeing_leader_decides(session, people, no_letters):
    record = _new(session, people)
    _step(session, record, "accept", people.leader, D(2026, 1, 6))
    # before routing, the intake asks (its leader decides); here: the chief asks on its behalf
    _step(session, record, "assign", people.leader, D(2026, 1, 6), office="LDJC")
    _step(session, record, "request_extension", people.handler, D(2026, 2, 20), days=20, reason="需調取銀行流水")
    assert record.extension_requested_days == 20 and record.extended_days is None
    for who in (people.handler, people.other_leader):
        assert "approve_extension" not in workflow.available(session, record, who, today=D(2026, 2, 21))
    with pytest.raises(Conflict, match="asked for"):
        _step(session, record, "request_extension", people.handler, D(2026, 2, 21), days=10, reason="再延")
    applied = _step(session, record, "approve_extension", people.leader, D(2026, 2, 21))
    assert record.extended_days == 20 and record.extension_requested_days is None
    assert record.due_on == D(2026, 3, 7) + dt.timedelta(days=20) and applied.document is not None
    assert record.status == "assigned"                             # an extension does not move the matter
    assert workflow.extension_reason(session, record) == "需調取銀行流水"


def test_an_extension_can_be_refused_and_asked_before_routing(session, people, no_letters):
    record = _new(session, people)
    _step(session, record, "accept", people.leader, D(2026, 1, 6))
    assert "request_extension" in workflow.available(session, record, people.leader, today=D(2026, 1, 7))
    _step(session, record, "request_extension", people.leader, D(2026, 1, 7), days=10, reason="待補材料")
    _step(session, record, "refuse_extension", people.chief, D(2026, 1, 8), reason="可按期辦結")
    assert record.extension_requested_days is None and record.extended_days is None and record.status == "accepted"


# -- handed down, major cases, representatives, conduct ------------------------------------------------------
def test_a_handed_down_matter_is_on_the_board_with_that_bodys_deadline(session, people, no_letters):
    record = _new(session, people)
    _step(session, record, "accept", people.leader, D(2026, 1, 6))
    _step(session, record, "record_handed_down", people.leader, D(2026, 1, 6), body="某省科學技術廳",
          document_number="某科交〔2026〕3號", due_on="2026-01-20")
    chief = session.get(User, people.chief.id)
    rows = {r.record.serial: r for r in board.board(session, chief, board.BoardFilters(bucket="handed_down"),
                                                    today=D(2026, 1, 21)).rows}
    row = rows[record.serial]
    assert row.due.kind == "handed_down" and row.due.on == D(2026, 1, 20) and row.overdue and row.handed_down
    # replied but not yet reported back: still on the board, until the 報結
    _step(session, record, "assign", people.leader, D(2026, 1, 7), office="LDJC")
    _step(session, record, "start", people.handler, D(2026, 1, 7))
    _step(session, record, "reply", people.handler, D(2026, 1, 15), text="答覆", finding=FINDING)
    rows = {r.record.serial: r for r in board.board(session, chief, today=D(2026, 1, 21)).rows}
    assert rows[record.serial].due.kind == "handed_down"
    applied = _step(session, record, "report_back", people.leader, D(2026, 1, 19), text="已辦結。")
    assert record.reported_back_on == D(2026, 1, 19) and applied.document is not None
    assert record.serial not in {r.record.serial for r in board.board(session, chief, today=D(2026, 1, 21)).rows}


def test_a_major_case_has_its_own_section(session, people, no_letters):
    record = _new(session, people)
    with pytest.raises(XinfangError):
        _step(session, record, "flag_major", people.handler, D(2026, 1, 6), reason="群體性")
    _step(session, record, "flag_major", people.leader, D(2026, 1, 6), reason="群體性")
    chief = session.get(User, people.chief.id)
    result = board.board(session, chief, board.BoardFilters(bucket="major"), today=D(2026, 1, 7))
    assert record.serial in {r.record.serial for r in result.rows} and result.counts["major"] >= 1


def test_representatives_are_sealed_and_at_most_five(session, people, no_letters):
    record = _new(session, people, channel="visit", people_count=12)
    five = [{"name": f"代表{i}", "phone": f"1380000000{i}"} for i in range(6)]
    with pytest.raises(ValidationError, match="representatives"):
        _step(session, record, "record_representatives", people.clerk, D(2026, 1, 5), representatives=five)
    _step(session, record, "record_representatives", people.clerk, D(2026, 1, 5), representatives=five[:5])
    assert "代表".encode() not in record.representatives_sealed
    opened = sealing.open_json(session, record, "representatives", record.representatives_sealed, 1)
    assert [p["name"] for p in opened] == [f"代表{i}" for i in range(5)]
    single = _new(session, people, channel="visit", people_count=2)
    with pytest.raises(Conflict, match="collective"):
        _step(session, single, "record_representatives", people.clerk, D(2026, 1, 5), representatives=five[:1])


def test_conduct_during_a_visit_is_a_sealed_structured_note(session, people, no_letters):
    record = _new(session, people, channel="visit")
    applied = _step(session, record, "record_conduct", people.clerk, D(2026, 1, 5),
                    conduct={"kinds": ["abuse", "obstruction"], "actions": ["persuaded"], "description": "大聲辱罵",
                             "occurred_on": "2026-01-05"})
    note = sealing.open_json(session, record, "event-note", applied.event.note_sealed, applied.event.id)
    assert '"kinds": ["abuse", "obstruction"]' in note and "大聲辱罵" in note
    assert "大聲辱罵".encode() not in applied.event.note_sealed


def test_a_corrective_action_has_a_due_date_and_is_confirmed(session, people, no_letters):
    record = _replied(session, people)
    finding = session.execute(select(Finding).where(Finding.record_id == record.id)).scalar_one()
    assert finding.action_due_on == D(2026, 4, 30) and finding.action_confirmed_on is None
    _step(session, record, "confirm_corrective_action", people.leader, D(2026, 4, 28), finding_id=finding.id)
    assert finding.action_confirmed_on == D(2026, 4, 28) and finding.action_confirmed_by_id == people.leader.id
    with pytest.raises(ValidationError):
        _step(session, record, "confirm_corrective_action", people.leader, D(2026, 4, 29), finding_id=finding.id)


# -- the first responder ---------------------------------------------------------------------------------------
def test_the_first_responder_follows_the_matter_until_petitioning_stops(session, people, no_letters):
    with pytest.raises(ValidationError) as exc:
        _new(session, people, first_responder=people.handler.username)
    assert "leader or the chief" in exc.value.fields["first_responder"]
    record = _new(session, people, first_responder=people.other_leader.username)
    _step(session, record, "accept", people.leader, D(2026, 1, 6))
    _step(session, record, "assign", people.leader, D(2026, 1, 6), office="LDJC")    # not overseen by other_leader
    other = session.get(User, people.other_leader.id)
    assert policy.can(other, policy.VIEW_CONTENT, record)
    assert record.id in set(session.execute(select(Record.id).where(policy.scope_clause(other,
                                                                                        policy.VIEW_CONTENT))).scalars())
    _step(session, record, "start", people.handler, D(2026, 1, 7))
    _step(session, record, "reply", people.handler, D(2026, 1, 20), text="答覆", finding=FINDING)
    _step(session, record, "conclude", people.leader, D(2026, 3, 1))
    assert policy.can(other, policy.VIEW_CONTENT, record)         # concluded, but still petitioning
    _step(session, record, "record_cessation", people.leader, D(2026, 3, 5))
    assert record.petitioning_ceased_on == D(2026, 3, 5) and record.status == "concluded"
    assert not policy.can(other, policy.VIEW_CONTENT, record)


# -- figures that agree ------------------------------------------------------------------------------------
def test_the_monthly_report_is_as_of_the_months_last_day_and_a_future_month_is_refused(session, people, no_letters):
    chief = session.get(User, people.chief.id)
    with pytest.raises(ValidationError, match="not begun"):
        reports.monthly(session, chief, "2099-01", today=D(2026, 6, 1))
    s = reports.monthly(session, chief, "2026-01", today=D(2026, 6, 1))
    assert s.as_of == D(2026, 1, 31)
    cal = deadlines.calendar_for(session)
    # an independent count: every record received by 01-31 with a time limit running then
    expected_open = expected_overdue = 0
    for r in session.execute(select(Record)).scalars():
        if cal.local_date(r.received_at) > D(2026, 1, 31):
            continue
        decided = cal.local_date(r.decided_at) if r.decided_at else None
        if r.concluded_at and cal.local_date(r.concluded_at) <= D(2026, 1, 31):
            continue
        if decided is None or decided > D(2026, 1, 31):
            due = cal.local_date(r.received_at) + dt.timedelta(days=15)
        elif r.accepted_on and (r.replied_on is None or r.replied_on > D(2026, 1, 31)):
            due = deadlines.conclusion_due(cal, r).on
            if r.handed_down_due_on and (r.reported_back_on is None or r.reported_back_on > D(2026, 1, 31)):
                due = min(due, r.handed_down_due_on)
        elif r.handed_down_due_on and r.report_back_required and (
                r.reported_back_on is None or r.reported_back_on > D(2026, 1, 31)):
            due = r.handed_down_due_on
        else:
            continue
        expected_open += 1
        expected_overdue += D(2026, 1, 31) > due
    assert (s.open, s.overdue) == (expected_open, expected_overdue)
    assert s.open > 0


def test_the_destruction_certificate_is_chinese_throughout_with_signature_lines():
    import io
    import re

    from pypdf import PdfReader

    from retention import certificate

    body = {"number": "XH-2029-0001", "issued_at": "2029-06-01T10:00:00+08:00",
            "batch": {"region": "110108", "region_name": "海淀區", "year": 2020, "round": 1},
            "run": {"started_at": "2029-06-01T09:00", "finished_at": "2029-06-01T09:01", "seconds": 60},
            "total": 1, "counts": {"unclear_content": 1}, "manifest_sha256": "ab" * 32, "method": certificate.METHOD,
            "verification": {"clean": True, "files_scanned": 3, "bytes_scanned": 10, "fingerprints": 4,
                             "residue_found": 0, "method": "database files"},
            "manifest": [{"serial": "XF-2020-000001", "reason": "unclear_content", "received_on": "2020-01-01",
                          "stored_on": "2020-01-02", "destroyed_on": "2029-06-01"}]}
    data = certificate.pdf(body, bureau_name="某市科學技術局")
    text = re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))
    assert "某市科學技術局存信銷毀證明書" in text and text.count("監銷人（簽字）") == 2 and "內容不清" in text
    assert "密鑰粉碎" in text and "信訪編號" in text
    # no database jargon or English field names on the certificate
    for jargon in ("Destruction", "Manifest", "serial", "stored_on", "VACUUM", "SQLite", "WAL", "crypto", "round"):
        assert jargon not in text, jargon


def test_storing_is_suggested_from_all_of_the_petitioners_letters(session, people, no_letters):
    """The final matter is the petitioner's oldest letter, behind more than five newer ones."""
    from search import repeats
    from tests.conftest import new_person

    person = new_person("趙六")
    letters = [_new(session, people, petitioner=person) for _ in range(7)]
    oldest = letters[0]
    oldest.rereview_replied_on = D(2026, 1, 30)
    session.flush()
    newest = letters[-1]
    chief = session.get(User, people.chief.id)
    report = repeats.candidates(session, newest, chief, limit=5)
    assert len(report.same_petitioner) == 5 and oldest not in [c.record for c in report.same_petitioner]
    assert report.suggest_store is not None and report.suggest_store.record.id == oldest.id


def test_units_complained_about_most_come_from_the_registration_field(session, people, no_letters):
    from records.reporting import stats

    for unit in ("EXT-HD", "EXT-HD", "SHBX"):
        _new(session, people, complained_unit=unit, received_at="2026-02-03T10:00")
    with pytest.raises(ValidationError) as exc:
        _new(session, people, complained_unit="NO-SUCH-UNIT")
    assert "complained_unit" in exc.value.fields
    chief = session.get(User, people.chief.id)
    s = stats.compute(session, chief, stats.StatsFilters(D(2026, 2, 1), D(2026, 2, 28)), today=D(2026, 3, 1))
    assert s.complained == {"EXT-HD": 2, "SHBX": 1}
    # the report lists them, not the offices handling the letters
    sections = dict(reports.monthly_lines(s))
    assert [name for name, _ in sections["四、被反映較多的單位"]][0] == s.office_names["EXT-HD"]


def test_a_matter_whose_window_closed_is_on_the_board_until_the_sweep_concludes_it(session, people, no_letters):
    record = _replied(session, people, on=D(2026, 2, 2))
    chief = session.get(User, people.chief.id)

    def serials(day, bucket=None):
        result = board.board(session, chief, board.BoardFilters(bucket=bucket), today=day)
        return {r.record.serial: r for r in result.rows}, result.counts

    rows, _ = serials(D(2026, 3, 4))              # day 30: the window is still open, nothing to do
    assert record.serial not in rows
    rows, counts = serials(D(2026, 3, 5))         # closed, the sweep has not run yet
    row = rows[record.serial]
    assert row.concluding and row.window.on == D(2026, 3, 4) and not row.overdue and counts["concluding"] >= 1
    assert row.as_dict(deadlines.calendar_for(session).tz)["window_closed_on"] == "2026-03-04"
    assert record.serial in serials(D(2026, 3, 5), "concluding")[0]
    assert record.serial not in serials(D(2026, 3, 5), "open")[0]    # not open work of the office
    sweep.sweep(session, today=D(2026, 3, 5))
    assert record.serial not in serials(D(2026, 3, 5), "concluding")[0]


def test_the_job_runner_queues_the_sweep_once_per_office_day(inst, people):
    from records.jobs import runner
    from records.jobs.models import Job

    day = D(2001, 7, 1)      # long before any window here closes: the sweeps conclude nothing
    assert runner.queue_daily(inst, today=day, kinds=["intake.extract"]) == []
    first = runner.queue_daily(inst, today=day)
    assert len(first) == 1 and runner.queue_daily(inst, today=day) == []     # once per day
    with inst.unit_of_work() as s:
        job = s.get(Job, first[0])
        assert (job.kind, job.payload, job.dedupe_key) == (sweep.JOB_KIND, {"today": "2001-07-01"}, "daily:2001-07-01")
    assert runner.run_job(inst, first[0]) == "done"
    assert runner.queue_daily(inst, today=day) == []                         # done: not queued again that day
    second = runner.queue_daily(inst, today=day + dt.timedelta(days=1))
    assert len(second) == 1 and runner.run_job(inst, second[0]) == "done"
