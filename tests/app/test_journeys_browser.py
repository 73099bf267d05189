"""A working day at the desk, one role at a time, in a real browser (issue 18).

Each journey signs in, checks that the role lands where its work is, and does that work
through the pages as a person would: the handler's to-do and written reply (preview, draft,
confirmation), the leader's decision queue, the archivist's destruction with the batch's
name typed to confirm it and the destroyed letter's address, the inspector's audit trail
(filter, chain check, CSV) and the administrator's accounts. The data each journey starts
from is made through the services, not the pages; one server and one browser serve the
module. Elements are found by names, ids, addresses and data-* attributes, never by wording.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from unittest import mock

import pytest
from sqlalchemy import select

from records.accounts import operations as accounts
from records.accounts.models import User
from records.cases import desk, notices, workflow
from records.jobs import runner
from records.models import Record
from retention import jobs as retention_jobs
from retention import operations as ret
from retention.models import Batch, Certificate, DestroyedLetter
from tests.app.browser_support import serve, sign_in, sign_out, watched_page
from tests.conftest import TEST_PASSWORD, letter_data, unique

pytestmark = pytest.mark.browser

#: username part -> (roles, office, offices overseen)
TEAM = {
    "clerk": (("clerk",), "XFB", ()),
    "leader": (("leader",), None, ("LDJC",)),
    "handler": (("handler",), "LDJC", ()),
    "archivist": (("archivist",), None, ()),
    "inspector": (("inspector",), None, ()),
    "admin": (("admin",), None, ()),
}


@pytest.fixture(scope="module")
def live_server(settings):
    # leaders sign in with a password only (the second factor has tests of its own); work
    # handed off by a request waits in the queue, and the test runs it as the worker would
    with serve(settings, XINFANG_SECOND_FACTOR_ROLES=(), XINFANG_JOB_WORKER="off") as base:
        yield base


@pytest.fixture(scope="module", autouse=True)
def quick_letters():
    """The letters a step issues are stand-in PDFs: drawing them is slow and not what these
    journeys are about (tests/records/test_replies.py and the workflow tests draw them); the
    reply's preview is the composed text, drawn for real."""
    stand_in = b"%PDF-1.4\n% stand-in\n%%EOF\n"
    with mock.patch.object(notices, "render", lambda kind, context, settings=None: stand_in):
        yield


@pytest.fixture
def page(browser):
    with watched_page(browser) as pg:
        yield pg
        assert not pg.problems, pg.problems


@pytest.fixture(scope="module")
def team(inst):
    ids = {}
    with inst.unit_of_work() as s:
        for part, (roles, office, oversees) in TEAM.items():
            ids[part] = accounts.create_user(s, unique(part), TEST_PASSWORD, list(roles), office=office,
                                             oversees=list(oversees), display_name=unique(part)).id
    with inst.unit_of_work() as s:
        users = {part: s.get(User, uid) for part, uid in ids.items()}
        for u in users.values():
            _ = u.overseen, u.office, u.role_set
        s.expunge_all()
    return users


def register(inst, by: User, **overrides) -> str:
    from records.cases import operations

    with inst.unit_of_work() as s:
        return operations.register(s, letter_data(**overrides), by=s.get(User, by.id)).serial


def step(inst, serial: str, name: str, by: User, **given) -> None:
    """A workflow step through the service, as ``by``."""
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        workflow.transition(s, record, name, by=s.get(User, by.id), **given)


def status_of(inst, serial: str) -> str:
    with inst.unit_of_work() as s:
        return s.execute(select(Record.status).where(Record.serial == serial)).scalar_one()


def in_progress(inst, team, serial: str, accepted_on: dt.date | None = None) -> None:
    """Accepted, assigned to the handler's office and started (the acceptance dated
    ``accepted_on``: a matter accepted long ago is overdue today)."""
    step(inst, serial, "accept", team["leader"], today=accepted_on)
    step(inst, serial, "assign", team["leader"], office="LDJC", today=accepted_on)
    step(inst, serial, "start", team["handler"], today=accepted_on)


def submit(page, button) -> None:
    """Click a form's button and wait for the page it leads to (often the same address)."""
    with page.expect_navigation():
        button.click()


def open_step(page, name: str):
    """The record page's form for workflow step ``name``, its <details> opened."""
    form = f"form[action$='/transitions/{name}']"
    page.locator("#workflow details.step", has=page.locator(form)).locator("summary").click()
    return page.locator(f"#workflow {form}")


def test_handler_answers_a_matter_from_my_matters(live_server, page, inst, team):
    base, handler = live_server, team["handler"]
    serial = register(inst, team["clerk"], subject="瀏覽器旅程 答覆")
    in_progress(inst, team, serial, accepted_on=dt.date(2026, 3, 5))      # due long ago: overdue
    in_progress(inst, team, register(inst, team["clerk"]))                # due in the weeks to come

    sign_in(page, base, handler.username)
    assert page.url == f"{base}/desk/mine"
    with inst.unit_of_work() as s:
        expected = desk.my_matters(s, s.get(User, handler.id)).counts
    shown = {k: int(page.locator(f"[data-count={k}]").inner_text()) for k in ("overdue", "due_today", "this_week")}
    assert shown == expected and shown["overdue"] >= 1
    assert page.locator("table.ledger tbody tr.overdue", has=page.locator(f"a[href='/records/{serial}']")).count() == 1

    page.click(f"main a[href='/records/{serial}']")
    page.wait_for_url(f"{base}/records/{serial}")
    form = open_step(page, "reply")
    text = "經查，公司已補發拖欠工資，特此答覆。"
    form.locator("[name=reply-text]").fill(text)
    form.locator("[name=reply-finding_outcome]").select_option("substantiated")
    form.locator("[name=reply-corrective_action]").fill("責令公司補發工資")

    # the preview: the letter as it will be printed, with the text written
    form.locator("button[formaction$='/reply/preview']").click()
    page.wait_for_url(f"{base}/records/{serial}/reply/preview")
    assert text in page.locator("pre.letter-preview").inner_text()
    assert status_of(inst, serial) == "in_progress"

    # the draft: kept, and the record page's reply form comes back with it
    page.click("main form button[formaction$='/reply/draft']")
    page.wait_for_url(f"{base}/records/{serial}#workflow")
    assert page.locator(".flash-success").count() == 1
    form = open_step(page, "reply")
    assert form.locator("[name=reply-text]").input_value() == text
    assert status_of(inst, serial) == "in_progress"

    # issuing it: not without the confirmation (the browser holds the form back), then with it
    form.locator("[name=reply-finding_outcome]").select_option("substantiated")
    form.locator("[name=reply-corrective_action]").fill("責令公司補發工資")
    confirm = form.locator("input[type=checkbox][name=reply-confirm]")
    assert confirm.get_attribute("required") is not None and not confirm.is_checked()
    issue = form.locator("button[type=submit]:not([formaction])")
    issue.click()
    assert form.locator("input[name=reply-confirm]:invalid").count() == 1
    assert status_of(inst, serial) == "in_progress"
    confirm.check()
    submit(page, issue)
    assert page.url == f"{base}/records/{serial}#workflow"
    assert page.locator(".flash-success").count() == 1
    assert page.locator("#workflow .status-replied").count() == 1
    assert status_of(inst, serial) == "replied"


def test_leader_decides_from_the_queue(live_server, page, inst, team):
    base, leader = live_server, team["leader"]
    to_accept = register(inst, team["clerk"], subject="瀏覽器旅程 受理")
    asked = register(inst, team["clerk"])
    in_progress(inst, team, asked)
    step(inst, asked, "request_extension", team["handler"], days="20", reason="需向多個單位調查取證")

    sign_in(page, base, leader.username)
    assert page.url == f"{base}/desk/decisions"
    page.click(f"main a[href='/records/{to_accept}']")
    page.wait_for_url(f"{base}/records/{to_accept}")
    open_step(page, "accept").locator("button[type=submit]").first.click()
    page.wait_for_url(f"{base}/records/{to_accept}#workflow")
    assert page.locator("#workflow .status-accepted").count() == 1
    assert status_of(inst, to_accept) == "accepted"

    page.click("nav.main-nav a[href='/desk/decisions']")
    page.wait_for_url(f"{base}/desk/decisions")
    assert page.locator(f"main a[href='/records/{to_accept}']").count() == 0      # decided: off the queue
    page.click(f"main a[href='/records/{asked}']")
    page.wait_for_url(f"{base}/records/{asked}")
    open_step(page, "approve_extension").locator("button[type=submit]").first.click()
    page.wait_for_url(f"{base}/records/{asked}#workflow")
    assert page.locator(".flash-success").count() == 1
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == asked)).scalar_one()
        assert record.extended_days == 20 and record.extension_requested_days is None
    page.goto(f"{base}/desk/decisions")
    assert page.locator(f"main a[href='/records/{asked}']").count() == 0


def type_name_and_submit(page, action: str, typed: str) -> None:
    form = page.locator(f"main form[action$='/{action}']")
    form.locator("input[name=confirm]").fill(typed)
    submit(page, form.locator("button[type=submit]"))


def batch_state(page) -> str:
    return page.locator("[data-batch-state]").get_attribute("data-batch-state")


def test_archivist_has_a_batch_destroyed_and_its_letter_answers_gone(live_server, page, inst, team):
    base, archivist, leader = live_server, team["archivist"], team["leader"]
    serial = register(inst, team["clerk"], region="110105", received_at="2020-04-01T10:00")
    step(inst, serial, "store", leader, reason="unclear_content", confirm_old_received_date=True)
    with inst.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.region_code == "110105", Batch.year == 2020)).scalar_one()
        ret.seal(s, batch, by=s.get(User, archivist.id))
        batch_id, label = batch.id, batch.label
    here = f"{base}/retention/batches/{batch_id}"

    # the archivist lands on retention and proposes the sealed batch's destruction list
    sign_in(page, base, archivist.username)
    assert page.url == f"{base}/retention"
    page.click(f"main a[href='/retention/batches/{batch_id}']")
    page.wait_for_url(here)
    submit(page, page.locator("main form[action$='/propose'] button[type=submit]"))
    assert page.url == here
    assert batch_state(page) == "proposed"
    assert page.locator("main form[action$='/approve']").count() == 0          # not the proposer's to approve
    sign_out(page, base)

    # a leader approves and starts the run, each only with the batch's name typed
    sign_in(page, base, leader.username)
    page.click(f"main a[href='/retention/batches/{batch_id}']")              # from the decision queue
    page.wait_for_url(here)
    type_name_and_submit(page, "approve", "110105/2021")
    assert page.locator(".flash-error").count() == 1 and batch_state(page) == "proposed"
    type_name_and_submit(page, "approve", label)
    assert batch_state(page) == "approved"
    type_name_and_submit(page, "run", "110105")
    assert page.locator(".flash-error").count() == 1 and page.locator("#destruction-run").count() == 0
    type_name_and_submit(page, "run", label)
    assert page.locator("#destruction-run [data-job-status=queued]").count() == 1

    assert runner.run_pending(inst, kinds=[retention_jobs.DESTRUCTION]) == 1     # the worker's part
    page.goto(here)
    with inst.unit_of_work() as s:
        number = s.execute(select(Certificate.number).where(Certificate.batch_id == batch_id)).scalar_one()
        gone = s.execute(select(DestroyedLetter).where(DestroyedLetter.serial == serial)).scalar_one()
        destroyed_on = gone.destroyed_at.astimezone(inst.settings.tz).date().isoformat()
    assert page.locator("#destruction-run [data-job-status=done]").count() == 1
    assert number in page.locator("#destruction-run").inner_text()
    sign_out(page, base)

    # the destroyed letter's address says when, in which batch, under which certificate
    sign_in(page, base, archivist.username)
    response = page.goto(f"{base}/records/{serial}")
    assert response.status == 410
    # the browser reports the (expected) 410 in its console; nothing else may be there
    page.problems[:] = [p for p in page.problems if "status of 410" not in p]
    facts = page.locator("main").inner_text()
    assert destroyed_on in facts and label in facts and number in facts
    assert page.locator(f"main a[href='/retention/batches/{batch_id}']").count() == 1


def test_inspector_reads_checks_and_exports_the_audit_trail(live_server, page, inst, team):
    base, inspector = live_server, team["inspector"]
    serial = register(inst, team["clerk"])
    sign_in(page, base, inspector.username)
    assert page.url == f"{base}/stats"

    page.click("nav.main-nav a[href='/audit']")
    page.wait_for_url(f"{base}/audit")
    page.fill("#actor", team["clerk"].username)
    page.fill("#target", serial)
    page.click("main form[action='/audit'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/audit\?.*actor=.*"))
    rows = page.locator("table.ledger tbody tr")
    assert rows.count() >= 1
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        assert cells.nth(2).inner_text() == team["clerk"].username and serial in cells.nth(4).inner_text()

    submit(page, page.locator("main form[action^='/audit/verify'] button[type=submit]"))
    assert page.locator("[data-chain-check=ok]").count() == 1

    with page.expect_download() as info:
        page.click("main a[href^='/audit.csv']")
    lines = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8-sig").read())))
    assert len(lines) == 1 + rows.count()
    assert all(team["clerk"].username in line and serial in ",".join(line) for line in lines[1:])


def test_admin_manages_accounts_and_sees_only_its_menu(live_server, page, inst, team):
    base = live_server
    sign_in(page, base, team["admin"].username)
    assert page.url == f"{base}/admin/users"
    links = [a.get_attribute("href") for a in page.locator("nav.main-nav a").all()]
    assert "/admin/users" in links and "/ledger" not in links
    for href in links:                                                       # every entry opens
        assert page.context.request.get(base + href).status == 200, href
    assert page.context.request.get(f"{base}/ledger").status == 403

    name = unique("archivist-new")
    page.click("main a[href='/admin/users/new']")
    page.wait_for_url(f"{base}/admin/users/new")
    page.fill("#username", name)
    page.fill("#display_name", "新檔案員")
    page.check("input[name=roles][value=archivist]")
    page.click("main form.record-form button[type=submit]")
    password = page.locator("main .secret code").inner_text().strip()
    assert password
    page.click("main a[href='/admin/users']")
    page.wait_for_url(f"{base}/admin/users")
    assert page.locator(f"main a[href='/admin/users/{name}']").count() == 1
    sign_out(page, base)

    # the new account works at once, with the password handed over, and lands on its work
    sign_in(page, base, name, password)
    assert page.url == f"{base}/retention"
