"""A recognition job killed mid-document loses nothing: `xinfang intake ocr --pending`
resumes it after the last finished page (the pages before are not recognised again)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from app.cli import cli
from records.accounts.models import User
from records.cases.operations import Upload
from records.intake import operations as intake
from records.intake.models import AttachmentText
from records.jobs import runner as jobs
from records.jobs.models import Job
from records.models import Record

from .pages import encode, page, tiff


class Killed(BaseException):
    """Stands for the process being killed (nothing in the runner catches it)."""


class DiesOnSecondPage:
    name = "test"

    def __init__(self):
        self.calls = 0

    def recognise(self, image):
        self.calls += 1
        if self.calls == 2:
            raise Killed()
        return "第一頁由第一次運行識別"


def test_killed_mid_document_is_finished_by_ocr_pending(app, inst, make_user, make_record, runner, monkeypatch):
    clerk = make_user("clerk")
    scans = [page([f"第{n}頁內容：科技成果轉化"], size=28, width=520) for n in (1, 2, 3)]
    serial = make_record(clerk, uploads=[Upload("三頁.tif", tiff(scans))])
    real = inst.ocr
    inst.ocr = DiesOnSecondPage()
    try:
        jobs.run_pending(inst, kinds=[intake.JOB_KIND])
        raise AssertionError("the job should have been killed")
    except Killed:
        pass
    finally:
        inst.ocr = real
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        (status,) = intake.statuses(s, record).values()
        assert (status.status, status.pages_done, status.pages_total, status.job_status) == ("running", 1, 3, "running")
        job = s.execute(select(Job).where(Job.record_id == record.id)).scalar_one()
        assert job.state == {"pages_done": 1}  # progress itself is written by the heartbeat, lazily
        # the dead process stops beating: after STALE_AFTER its job may be taken again
        s.execute(update(Job).where(Job.id == job.id).values(
            heartbeat_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=jobs.STALE_AFTER + 5)))
    result = runner.invoke(cli, ["intake", "ocr", "--pending"])
    assert result.exit_code == 0, result.output
    assert "page 3 of 3" in result.output or "3 of 3 pages" in result.output
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        (status,) = intake.statuses(s, record).values()
        assert (status.status, status.pages_done, status.job_status) == ("done", 3, "done")
        _, pages = intake.attachment_text(s, record, record.attachments[0].uid, s.get(User, clerk.id))
        assert pages[0] == "第一頁由第一次運行識別"          # kept, not recognised again
        assert "第3頁" in pages[2] and "科技成果" in pages[1]
        assert s.execute(select(AttachmentText).where(AttachmentText.record_id == record.id)).scalar_one().error is None


class AlwaysFails:
    name = "test"

    def recognise(self, image):
        raise RuntimeError("engine crashed")


def test_a_job_that_gives_up_shows_as_failed(app, inst, make_user, make_record):
    clerk = make_user("clerk")
    serial = make_record(clerk, uploads=[Upload("p.png", encode(page(["一行字"], size=28, width=300)))])
    real, inst.ocr = inst.ocr, AlwaysFails()
    try:
        for _ in range(3):  # three attempts, each retried
            jobs.run_pending(inst, kinds=[intake.JOB_KIND])
    finally:
        inst.ocr = real
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        (status,) = intake.statuses(s, record).values()
        assert (status.status, status.job_status) == ("failed", "failed")
        assert status.error == "RuntimeError"  # the type only: an engine's message could quote the text
