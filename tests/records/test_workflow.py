"""The workflow: every transition from every state, for the right roles and refused for the
wrong ones; what each step records; and property tests over random sequences of steps."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from records.accounts import operations as accounts
from records import audit, policy, sealing
from records.cases import deadlines, operations, notices as replies, workflow
from records.errors import AccessDenied, Conflict, NotFound, ValidationError
from records.models import AuditEntry, OutboxEntry, Record, RecordEvent
from records.cases.models import Finding
from records.accounts.models import User
from tests.conftest import TEST_PASSWORD, letter_data, unique

D = dt.date

#: Who is who: the registering clerk of every record, another clerk, a handler of LDJC and of
#: SHBX, a leader overseeing LDJC and one overseeing SHBX (both oversee the intake), the chief,
#: an archivist, an inspector and an administrator.
SPECS = {
    "registrar": (("clerk",), "XFB", ()), "clerk": (("clerk",), "XFB", ()),
    "handler": (("handler",), "LDJC", ()), "other_handler": (("handler",), "SHBX", ()),
    "leader": (("leader",), None, ("LDJC",)), "other_leader": (("leader",), None, ("SHBX",)),
    "chief": (("chief",), None, ()), "archivist": (("archivist",), None, ()),
    "inspector": (("inspector",), None, ()), "admin": (("admin",), None, ()),
}
ROLES = tuple(SPECS)


@pytest.fixture(scope="module")
def people(inst):
    ids = {}
    with inst.unit_of_work() as s:
        for name, (roles, office, oversees) in SPECS.items():
            user = accounts.create_user(s, unique(name.replace("_", "-")), TEST_PASSWORD, list(roles), office=office,
                                        oversees=list(oversees), display_name=f"{name}-名")
            ids[name] = user.id
    with inst.unit_of_work() as s:
        users = {name: s.get(User, uid) for name, uid in ids.items()}
        for u in users.values():
            _ = u.overseen, u.office
        s.expunge_all()
    return SimpleNamespace(**users)


@pytest.fixture(scope="module", autouse=True)
def quick_letters():
    """PDF letters are produced and read back in test_replies.py; here a minimal stand-in keeps
    hundreds of transitions fast. Everything else (sealing, attachments, events) is real."""
    mp = pytest.MonkeyPatch()
    mp.setattr(replies, "render", lambda kind, context, settings=None: b"%PDF-1.4\n% stand-in\n%%EOF\n")
    yield
    mp.undo()


FINDING = {"outcome": "partly_substantiated", "corrective_action": "責令補發工資", "evidence": "工資表三份"}
#: Valid input for each transition.
PARAMS = {
    "accept": {"note": "擬同意受理"},
    "assign": {"office": "LDJC"},
    "transfer": {"unit": "EXT-HD"},
    "return": {"reason": "不屬本單位職責"},
    "answer_directly": {"text": "政策諮詢答覆如下。"},
    "decline_outside_authority": {"reason": "請向區勞動仲裁委員會反映。"},
    "decline_legal_channel": {"reason": "arbitration"},
    "store": {"reason": "unclear_content", "confirm_old_received_date": True},   # the fixed 2026 date
    "start": {},
    "extend": {"days": 20, "reason": "涉及多個部門，情況複雜"},
    "reply": {"text": "經查屬實，已督促整改。", "finding": FINDING},
    "request_review": {},
    "record_review_outcome": {"outcome": "upheld", "document_number": "某科廳複〔2026〕3號"},
    "request_rereview": {"body": "某省人民政府信訪局"},
    "record_rereview_outcome": {"outcome": "upheld"},
    "conclude": {"reason": "信訪人表示滿意"},
    "record_finding": {"finding": FINDING},
    "acknowledge_receipt": {"on": None},   # filled with today
    "request_extension": {"days": 20, "reason": "涉及多個部門，情況複雜"},
    "approve_extension": {},
    "refuse_extension": {"reason": "可按期辦結"},
    "confirm_corrective_action": {"finding_id": None},   # filled with the record's finding
    "record_handed_down": {"body": "某省科學技術廳", "document_number": "某科交〔2026〕12號", "due_on": "2099-01-31"},
    "report_back": {"text": "已按期辦結。"},
    "flag_major": {"reason": "涉及群體性訴求"},
    "record_representatives": {"representatives": [{"name": "張三", "phone": "13800000000"}, {"name": "李四"}]},
    "record_conduct": {"conduct": {"kinds": ["abuse"], "actions": ["persuaded"], "description": "大聲喧嘩，經勸導離開"}},
    "record_cessation": {},
}
#: What a record needs before some steps can be taken at all (beyond its state).
PREPARE = {
    "approve_extension": lambda s, r, p: workflow.transition(s, r, "request_extension", by=p.chief,
                                                             **PARAMS["request_extension"]),
    "refuse_extension": lambda s, r, p: workflow.transition(s, r, "request_extension", by=p.chief,
                                                            **PARAMS["request_extension"]),
    "report_back": lambda s, r, p: setattr_all(r, handed_down_by="某省科學技術廳", report_back_required=True,
                                               handed_down_due_on=D(2099, 1, 31)),
    "record_representatives": lambda s, r, p: setattr_all(r, people_count=6),
    "record_conduct": lambda s, r, p: setattr_all(r, channel="visit"),
    "confirm_corrective_action": lambda s, r, p: r.findings or workflow.transition(s, r, "record_finding", by=p.chief,
                                                                                   finding=FINDING),
}


def setattr_all(obj, **values) -> None:
    for k, v in values.items():
        setattr(obj, k, v)
#: A path from registration to each state, and who takes each step.
PATHS = {
    "registered": [],
    "accepted": ["accept"],
    "assigned": ["accept", "assign"],
    "transferred": ["accept", "transfer"],
    "in_progress": ["accept", "assign", "start"],
    "extended": ["accept", "assign", "start", "extend"],
    "replied": ["accept", "assign", "start", "reply"],
    "review_requested": ["accept", "assign", "start", "reply", "request_review"],
    "review_replied": ["accept", "assign", "start", "reply", "request_review", "record_review_outcome"],
    "rereview_requested": ["accept", "assign", "start", "reply", "request_review", "record_review_outcome",
                           "request_rereview"],
    "rereview_replied": ["accept", "assign", "start", "reply", "request_review", "record_review_outcome",
                         "request_rereview", "record_rereview_outcome"],
    "answered_directly": ["answer_directly"],
    "not_accepted": ["decline_outside_authority"],
    "stored": ["store"],
    "concluded": ["answer_directly", "conclude"],
}
assert set(PATHS) == set(workflow.STATES)


def params(name: str, record: Record | None = None) -> dict:
    p = dict(PARAMS[name])
    if name == "acknowledge_receipt":
        p["on"] = deadlines.Calendar().today().isoformat()      # the office's day (Asia/Shanghai)
    if name == "confirm_corrective_action":
        p["finding_id"] = next((f.id for f in record.findings if f.corrective_action_sealed), 0) if record else 0
    return p


# -- who may: written out by hand from DOMAIN.md, not computed from the policy -------------------------
def office_of(state: str) -> str:
    """Where a record in ``state`` sits along PATHS: LDJC once assigned, else the intake."""
    return "LDJC" if "assign" in PATHS[state] and state not in ("registered",) else "XFB"


def expected_roles(name: str, state: str) -> set[str]:
    at_ldjc = office_of(state) == "LDJC"
    leaders = {"leader"} if at_ldjc else {"leader", "other_leader"}
    permission = workflow.TRANSITIONS[name].permission
    if permission in (policy.DECIDE, policy.APPROVE_EXTENSION):
        return leaders | {"chief"}
    if permission == policy.HANDLE:
        return leaders | {"chief"} | ({"handler"} if at_ldjc else set())
    if permission == policy.STORE_LETTER:
        return leaders | {"chief", "registrar"}
    if permission == policy.REGISTER_REVIEW:
        return leaders | {"chief", "registrar", "clerk"}
    if permission == policy.CORRECT_RECORD:
        return leaders | {"chief", "registrar"}
    raise AssertionError(permission)


def actor_for(name: str, state: str) -> str:
    """The natural actor of a step: the handler handles, the clerk registers requests, the leader decides."""
    roles = expected_roles(name, state)
    for candidate in ("handler", "registrar", "leader", "chief"):
        if candidate in roles:
            return candidate
    raise AssertionError(name)


def new_record(session, people, state: str, *, today: dt.date | None = None) -> Record:
    serial = operations.register(session, letter_data(), by=session.get(User, people.registrar.id)).serial
    record = session.execute(select(Record).where(Record.serial == serial)).scalar_one()
    path_state = "registered"
    for step in PATHS[state]:
        actor = getattr(people, actor_for(step, path_state))
        workflow.transition(session, record, step, by=actor, today=today, **params(step))
        path_state = record.status
    assert record.status == state
    return record


def counts(session, record: Record) -> tuple[int, int, int]:
    events = session.execute(select(func.count()).select_from(RecordEvent)
                             .where(RecordEvent.record_id == record.id)).scalar_one()
    audits = session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "record.transition", AuditEntry.target == record.serial)).scalar_one()
    outbox = session.execute(select(func.count()).select_from(OutboxEntry)
                             .where(OutboxEntry.record_uid == record.uid)).scalar_one()
    return events, audits, outbox


ALLOWED_PAIRS = [(t.name, s) for t in workflow.TRANSITIONS.values() for s in t.sources]


# -- every transition from every state ----------------------------------------------------------------------
@pytest.mark.parametrize("name,state", ALLOWED_PAIRS, ids=[f"{n}-from-{s}" for n, s in ALLOWED_PAIRS])
def test_transition_for_the_right_roles_only(session, people, name, state):
    record = new_record(session, people, state)
    if name in PREPARE:
        PREPARE[name](session, record, people)
        session.flush()
    spec = workflow.TRANSITIONS[name]
    allowed = expected_roles(name, state)
    for role in ROLES:
        user = getattr(people, role)
        assert (name in workflow.available(session, record, user)) == (role in allowed), (role, name, state)
        if role in allowed:
            continue
        with pytest.raises((AccessDenied, NotFound)):
            workflow.transition(session, record, name, by=user, **params(name, record))
        assert record.status == state
    before = counts(session, record)
    serial, responder = record.serial, record.first_responder_id
    actor = getattr(people, actor_for(name, state))
    applied = workflow.transition(session, record, name, by=actor, **params(name, record))
    assert record.status == (spec.target or state)
    events, audits, outbox = counts(session, record)
    assert (events, audits, outbox) == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert applied.event.kind == name and applied.event.actor_id == actor.id
    assert (applied.event.from_status, applied.event.to_status) == (state, record.status)
    assert record.serial == serial and record.first_responder_id == responder
    assert (applied.document is not None) == (spec.letter is not None)
    assert len(applied.documents) == (len(spec.letter.split("+")) if spec.letter else 0)


@pytest.fixture(scope="module")
def one_per_state(inst, people):
    """One record in each state, for the refusals (which change nothing)."""
    with inst.unit_of_work() as s:
        serials = {state: new_record(s, people, state).serial for state in workflow.STATES}
    return serials


@pytest.mark.parametrize("name", workflow.NAMES)
def test_transition_refused_from_every_other_state(session, people, one_per_state, name):
    spec = workflow.TRANSITIONS[name]
    for state, serial in one_per_state.items():
        if state in spec.sources:
            continue
        record = session.execute(select(Record).where(Record.serial == serial)).scalar_one()
        before = counts(session, record)
        with pytest.raises(Conflict) as exc:
            workflow.transition(session, record, name, by=people.chief, **params(name))
        assert state in exc.value.message, exc.value.message
        assert record.status == state and counts(session, record) == before
        assert name not in workflow.available(session, record, people.chief)


def test_terminal_states_offer_nothing_but_recording_that_petitioning_stopped(session, people, one_per_state):
    for state in workflow.TERMINAL:
        record = session.execute(select(Record).where(Record.serial == one_per_state[state])).scalar_one()
        for role in ROLES:
            offered = workflow.available(session, record, getattr(people, role))
            assert offered == [] or offered == ["record_cessation"], (state, role, offered)


def test_unknown_transition_and_bad_input(session, people):
    record = new_record(session, people, "accepted")
    with pytest.raises(ValidationError) as exc:
        workflow.transition(session, record, "approve", by=people.chief)
    assert "accept" in exc.value.fields["transition"]
    with pytest.raises(ValidationError) as exc:
        workflow.transition(session, record, "assign", by=people.leader)
    assert exc.value.fields == {"office": "This field is required."}
    with pytest.raises(ValidationError) as exc:
        workflow.transition(session, record, "assign", by=people.leader, office="EXT-HD", days=3)
    assert "transfer" in exc.value.fields["office"] and exc.value.fields["days"] == "Not used by 'assign'."
    with pytest.raises(ValidationError) as exc:
        workflow.transition(session, record, "transfer", by=people.leader, unit="SHBX")
    assert "external unit" in exc.value.fields["unit"]
    with pytest.raises(ValidationError):
        workflow.transition(session, record, "assign", by=people.leader, office="XFB")
    assert record.status == "accepted"


def test_illegal_transition_says_what_is_possible(session, people):
    record = new_record(session, people, "registered")
    with pytest.raises(Conflict) as exc:
        workflow.transition(session, record, "reply", by=people.chief, **params("reply"))
    message = exc.value.message
    assert "registered" in message and "accept" in message and "store" in message


# -- what the steps record ----------------------------------------------------------------------------------
def test_accept_assign_transfer_return_keep_the_first_responder_and_the_approver(session, people):
    record = new_record(session, people, "registered")
    responder = record.first_responder_id
    workflow.transition(session, record, "accept", by=people.leader, today=D(2026, 3, 3))
    assert (record.decided_by_id, record.approved_by_id, record.accepted_on) == (people.leader.id, people.leader.id,
                                                                                 D(2026, 3, 3))
    assert record.due_on == D(2026, 5, 2)
    workflow.transition(session, record, "transfer", by=people.chief, unit="EXT-HD", today=D(2026, 3, 4))
    assert record.transferred_unit == "EXT-HD" and record.office.is_intake and record.approved_by_id == people.chief.id
    workflow.transition(session, record, "return", by=people.leader, reason="屬市級事項", today=D(2026, 3, 5))
    assert record.status == "accepted" and record.transferred_unit is None
    workflow.transition(session, record, "assign", by=people.leader, office="LDJC", today=D(2026, 3, 6))
    assert record.office.code == "LDJC" and record.routed_on == D(2026, 3, 6)
    assert record.first_responder_id == responder
    details = [e.detail for e in session.execute(select(AuditEntry).where(
        AuditEntry.target == record.serial, AuditEntry.action == "record.transition")).scalars()]
    assert any('"unit":"EXT-HD"' in d for d in details) and any('"office":"LDJC"' in d for d in details)
    assert not any("屬市級事項" in d for d in details)          # reasons are sealed, never in the audit trail


def test_notes_reasons_and_findings_are_sealed(session, people):
    record = new_record(session, people, "in_progress")
    applied = workflow.transition(session, record, "extend", by=people.leader, days=15, reason="需調取銀行流水")
    assert b"\xe9\x9c\x80" not in applied.event.note_sealed      # no UTF-8 of 需 in the ciphertext
    assert sealing.open_json(session, record, "event-note", applied.event.note_sealed, applied.event.id) == \
        "需調取銀行流水"
    assert record.extension_approved_by_id == people.leader.id and record.extended_days == 15
    workflow.transition(session, record, "record_finding", by=people.handler,
                        finding={"outcome": "substantiated", "corrective_action": "責令整改", "evidence": "現場檢查記錄"})
    finding = session.execute(select(Finding).where(Finding.record_id == record.id)).scalar_one()
    assert finding.stage == "handling" and finding.outcome == "substantiated"
    assert "責令整改".encode() not in finding.corrective_action_sealed
    summary = workflow.summary(session, record, people.leader)
    assert summary.findings[0].evidence == "現場檢查記錄"
    assert "需調取銀行流水" in summary.current.explain()
    # an inspector sees the ledger line, dates and people, never the sealed reason or findings' text
    inspector_view = workflow.summary(session, record, people.inspector)
    # (outcomes go with the content too: policy.VIEW_FINDINGS)
    assert inspector_view.findings == [] and "需調取銀行流水" not in inspector_view.current.explain()


def test_reply_needs_a_finding(session, people):
    record = new_record(session, people, "in_progress")
    with pytest.raises(Conflict, match="finding"):
        workflow.transition(session, record, "reply", by=people.handler, text="答覆")
    workflow.transition(session, record, "record_finding", by=people.handler, finding={"outcome": "not_substantiated"})
    workflow.transition(session, record, "reply", by=people.handler, text="答覆")
    assert record.status == "replied" and record.reply_received_on is None      # receipt not yet recorded
    window = deadlines.review_request_window(deadlines.calendar_for(session), record)
    assert window.start == record.replied_on and "assumed" in window.explain()


def test_conclusion_while_the_review_window_is_open_needs_a_reason(session, people):
    record = new_record(session, people, "replied")
    with pytest.raises(Conflict, match="still ask for a review"):
        workflow.transition(session, record, "conclude", by=people.leader)
    later = record.replied_on + dt.timedelta(days=31)
    workflow.transition(session, record, "conclude", by=people.leader, today=later)
    assert record.status == "concluded" and record.concluded_at is not None


def test_stored_letters_carry_their_reason(session, people):
    record = new_record(session, people, "registered")
    with pytest.raises(ValidationError) as exc:
        workflow.transition(session, record, "store", by=people.registrar, reason="boring",
                            confirm_old_received_date=True)
    assert "unclear_content" in exc.value.fields["reason"]
    workflow.transition(session, record, "store", by=people.registrar, reason="no_reference_value",
                        confirm_old_received_date=True)
    assert record.stored_reason == "no_reference_value" and record.status == "stored"


def test_a_final_matter_is_offered_for_storing_a_repeat(session, people):
    first = new_record(session, people, "rereview_replied")
    assert workflow.is_final(first)
    again = new_record(session, people, "registered")
    found = workflow.final_matters_for_petitioner(session, letter_data()["petitioner"])
    assert first.id in {r.id for r in found} and again.id not in {r.id for r in found}
    assert workflow.final_matters_for_petitioner(session, {"name": "王小明"}) == []     # a name alone is not enough
    not_final = new_record(session, people, "replied")
    with pytest.raises(Conflict, match="not final"):
        workflow.transition(session, again, "store", by=people.registrar, reason="concluded_after_rereview",
                            repeat_of=not_final.serial, confirm_old_received_date=True)
    workflow.transition(session, again, "store", by=people.registrar, reason="concluded_after_rereview",
                        repeat_of=first.serial, confirm_old_received_date=True)
    assert again.repeat_of_id == first.id and again.stored_reason == "concluded_after_rereview"


def test_the_table_is_complete_and_printable():
    rows = workflow.table()
    assert [r["transition"] for r in rows][:15] == [
        "accept", "assign", "transfer", "return", "answer_directly", "decline_outside_authority",
        "decline_legal_channel", "store", "start", "request_extension", "approve_extension", "refuse_extension",
        "extend", "reply", "acknowledge_receipt"]
    for spec in workflow.TRANSITIONS.values():
        assert set(spec.sources) <= set(workflow.STATES) and (spec.target is None or spec.target in workflow.STATES)
        assert spec.permission in policy.PERMISSIONS
        assert not set(spec.sources) & workflow.TERMINAL or spec.name == "record_cessation"
    reached = {t.target for t in workflow.TRANSITIONS.values()} | {"registered"}
    assert set(workflow.STATES) <= reached
    text = workflow.format_table()
    assert "extend: assigned | transferred | in_progress -> extended" in text
    assert "permission: approve_extension — leader (overseen), chief (all)" in text


# -- properties over random sequences of steps --------------------------------------------------------------
STEP = st.tuples(
    st.sampled_from(workflow.NAMES),            # any transition, most often refused …
    st.booleans(),                              # … or one the actor may apply now (so matters get far)
    st.integers(min_value=0, max_value=50),     # which of those
    st.sampled_from(("registrar", "handler", "leader", "chief", "inspector")),
    st.integers(min_value=0, max_value=25),     # days since the previous step
    st.integers(min_value=1, max_value=40),     # days asked for by an extension
)


def _caps_hold(cal: deadlines.Calendar, record: Record) -> None:
    due = deadlines.conclusion_due(cal, record)
    if due is not None:
        assert due.on <= due.cap == cal.add(record.accepted_on, 60 + 30)
        assert record.due_on == due.on
        assert (record.extended_days or 0) <= 30
    for make, column in ((deadlines.review_reply_due, "review_due_on"), (deadlines.rereview_reply_due, "rereview_due_on")):
        d = make(cal, record)
        if d is not None:
            assert getattr(record, column) == d.on == d.start + dt.timedelta(days=30)
    for d in deadlines.dues(cal, record):
        assert d.on <= d.cap


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(start=st.sampled_from(("registered", "registered", "accepted", "in_progress", "extended", "replied",
                               "review_replied")),
       steps=st.lists(STEP, min_size=1, max_size=14))
def test_random_sequences_keep_the_invariants(inst, people, start, steps):
    with inst.unit_of_work() as session:
        today = D(2026, 3, 2)
        record = new_record(session, people, start, today=today)
        cal = deadlines.calendar_for(session)
        for any_name, pick_available, pick, role, gap, days in steps:
            today += dt.timedelta(days=gap)
            user = getattr(people, role)
            offered = workflow.available(session, record, user, today=today)
            name = offered[pick % len(offered)] if pick_available and offered else any_name
            kw = params(name)
            if name == "extend":
                kw["days"] = days
            if name == "acknowledge_receipt":
                kw["on"] = today
            before_status, before = record.status, counts(session, record)
            savepoint = session.begin_nested()
            try:
                workflow.transition(session, record, name, by=user, today=today, **kw)
            except (AccessDenied, NotFound, Conflict, ValidationError):
                savepoint.rollback()
                session.refresh(record)
                assert record.status == before_status and counts(session, record) == before
                if before_status in workflow.TERMINAL:
                    assert set(workflow.available(session, record, people.chief, today=today)) <= {"record_cessation"}
                continue
            savepoint.commit()
            # a step happened: exactly one event, one audit entry, one outbox entry more
            assert before_status not in workflow.TERMINAL or name == "record_cessation"
            assert counts(session, record) == tuple(n + 1 for n in before)
            spec = workflow.TRANSITIONS[name]
            assert record.status == (spec.target or before_status)
            _caps_hold(cal, record)
        event(f"ended {record.status}")
        assert audit.verify(session).ok
