"""Issue 20 in a real browser (the system's Chromium, CSRF on, no inline script allowed): the
registration form sends a scan for recognition, shows it beside the recognised text once the
job runner has read it, and fills the body only when the clerk takes the text; the record page
updates an attachment's status by itself when its text is ready (no reload)."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from records.cases.operations import Upload
from records.intake import drafts
from records.intake import operations as intake
from records.jobs import runner as jobs
from records.jobs.models import Job
from tests.app.browser_support import serve, sign_in
from tests.records.intake.pages import encode, page as scan_page

pytestmark = pytest.mark.browser

PHRASE = "本人反映科研經費被挪用"


@pytest.fixture(scope="module")
def live_server(settings):
    with serve(settings, XINFANG_JOB_WORKER="off") as base:   # the test runs the jobs itself
        yield base


def _run_when_queued(inst, kind: str, timeout: float = 15.0) -> None:
    """Wait until a job of ``kind`` is queued (the browser asked for it), then run it."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with inst.unit_of_work() as s:
            if s.execute(select(Job.id).where(Job.kind == kind, Job.status == "queued")).first():
                break
        time.sleep(0.2)
    assert jobs.run_pending(inst, kinds=[kind]) >= 1


def test_the_form_offers_the_text_and_fills_the_body_only_when_taken(live_server, page, inst, make_user, tmp_path):
    clerk = make_user("clerk")
    sign_in(page, live_server, clerk.username)
    page.goto(f"{live_server}/records/new")
    body = page.locator("textarea[name='body']")
    body.fill("（待錄入）")
    scan = tmp_path / "信.png"
    scan.write_bytes(encode(scan_page([PHRASE, "請求調查處理"], size=32)))
    page.set_input_files("#scan-file", str(scan))
    page.click("[data-scan-recognise]")
    _run_when_queued(inst, drafts.JOB_KIND)
    page.wait_for_selector("[data-scan-result]:not([hidden])")
    assert page.locator("[data-scan-image]").is_visible()
    recognised = page.locator("[data-scan-text]").input_value()
    assert PHRASE in recognised.replace(" ", "")
    assert body.input_value() == "（待錄入）"                          # nothing filled by itself
    page.locator("[data-scan-text]").fill(PHRASE + "，請求調查處理。")   # the clerk corrects it
    page.click("[data-scan-accept]")
    assert body.input_value() == PHRASE + "，請求調查處理。"
    assert page.locator("input[name='scan_text_taken']").input_value() == "yes"
    assert page.locator("input[name='scan_draft']").input_value()
    assert page.problems == []


def test_the_record_page_shows_the_text_when_ready_without_a_reload(live_server, page, inst, make_user,
                                                                    make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("信.png", encode(scan_page([PHRASE], size=32)))])
    sign_in(page, live_server, clerk.username)
    page.goto(f"{live_server}/records/{serial}")
    assert page.locator(".intake-status.intake-pending").count() == 1
    page.evaluate("window.__notReloaded = true")
    jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    page.wait_for_selector(".intake-status.intake-done")
    assert page.evaluate("window.__notReloaded") is True               # updated in place
    assert page.problems == []
