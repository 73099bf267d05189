"""The job runner: submit, run, progress, checkpoints, retries, resuming an abandoned job,
one runner per job, and the ``xinfang jobs`` commands."""
from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select, update

from app.composition import build_instance
from records import audit
from records.errors import Conflict
from records.jobs import runner
from records.jobs.models import Job


@pytest.fixture
def jobs_inst(settings):
    """An instance of its own on the module's database, so handlers of test kinds can be registered."""
    inst = build_instance(settings)
    yield inst
    inst.close()


def _job(inst, job_id) -> Job:
    with inst.unit_of_work() as s:
        job = s.get(Job, job_id)
        s.expunge(job)
        return job


def _submit(inst, kind, **kw) -> int:
    with inst.unit_of_work() as s:
        return runner.submit(s, kind, payload=kw.pop("payload", {"n": 1}), **kw).id


def test_submit_run_progress_and_checkpoint(jobs_inst):
    seen = {}

    def handler(inst, ctx):
        seen["payload"], seen["state"] = ctx.payload, dict(ctx.state)
        with inst.unit_of_work() as s:   # progress while this holds a write transaction (SQLite: one writer)
            audit.record(s, "test.job", actor_name="system", target=f"job:{ctx.job_id}")
            ctx.progress(1, 2, "half way")
        time.sleep(runner.PROGRESS_EVERY + 0.5)
        seen["row"] = _job(inst, ctx.job_id).progress_done   # written by the heartbeat thread meanwhile
        ctx.checkpoint({"step": 1})
        ctx.progress(2, 2, "finished")

    jobs_inst.jobs.register("test.ok", handler)
    job_id = _submit(jobs_inst, "test.ok", payload={"batch_id": 7})
    assert _job(jobs_inst, job_id).status == "queued"
    assert runner.run_pending(jobs_inst, kinds=["test.ok"]) == 1
    job = _job(jobs_inst, job_id)
    assert job.status == "done" and job.attempts == 1 and job.error is None
    assert (job.progress_done, job.progress_total, job.progress_note) == (2, 2, "finished")
    assert job.state == {"step": 1} and job.finished_at and job.started_at and job.heartbeat_at
    assert seen == {"payload": {"batch_id": 7}, "state": {}, "row": 1}
    assert runner.run_pending(jobs_inst, kinds=["test.ok"]) == 0


def test_dedupe_key_returns_the_active_job(jobs_inst):
    jobs_inst.jobs.register("test.dedupe", lambda inst, ctx: None)
    first = _submit(jobs_inst, "test.dedupe", dedupe_key="batch:1")
    assert _submit(jobs_inst, "test.dedupe", dedupe_key="batch:1") == first
    assert _submit(jobs_inst, "test.dedupe", dedupe_key="batch:2") != first
    runner.run_pending(jobs_inst, kinds=["test.dedupe"])
    assert _submit(jobs_inst, "test.dedupe", dedupe_key="batch:1") != first, "a finished job does not dedupe"


def test_failures_retry_then_fail_with_a_clear_message_and_no_letter_text(jobs_inst):
    calls = []

    def flaky(inst, ctx):
        calls.append(ctx.attempt)
        if len(calls) < 3:
            raise RuntimeError("來信內容：王小明 13812345678")

    def broken(inst, ctx):
        raise RuntimeError("來信內容：王小明 13812345678")

    def refused(inst, ctx):
        raise Conflict("The batch is open; only an approved list can be run.")

    jobs_inst.jobs.register("test.flaky", flaky, max_attempts=3)
    jobs_inst.jobs.register("test.broken", broken, max_attempts=2)
    jobs_inst.jobs.register("test.refused", refused)
    flaky_id, broken_id, refused_id = (_submit(jobs_inst, k) for k in ("test.flaky", "test.broken", "test.refused"))
    for _ in range(3):
        runner.run_pending(jobs_inst, kinds=["test.flaky", "test.broken", "test.refused"])
    assert calls == [1, 2, 3] and _job(jobs_inst, flaky_id).status == "done"
    job = _job(jobs_inst, broken_id)
    assert job.status == "failed" and job.attempts == 2 and job.error == "RuntimeError"
    job = _job(jobs_inst, refused_id)
    assert job.status == "failed" and job.attempts == 1, "a refusal is not retried"
    assert job.error == "Conflict: The batch is open; only an approved list can be run."


def test_an_abandoned_job_resumes_from_its_checkpoint_and_a_live_one_is_left_alone(jobs_inst):
    resumed = []
    jobs_inst.jobs.register("test.resume", lambda inst, ctx: resumed.append(dict(ctx.state)))
    job_id = _submit(jobs_inst, "test.resume")
    now = dt.datetime.now(dt.UTC)
    with jobs_inst.unit_of_work() as s:   # a worker claimed it, checkpointed, and is alive
        s.execute(update(Job).where(Job.id == job_id).values(status="running", attempts=1, state={"done": 40},
                                                             heartbeat_at=now, started_at=now))
    assert runner.run_pending(jobs_inst, kinds=["test.resume"]) == 0
    with pytest.raises(Conflict):
        runner.run_job(jobs_inst, job_id)
    with jobs_inst.unit_of_work() as s:   # ... then was killed: its heartbeat goes stale
        s.execute(update(Job).where(Job.id == job_id).values(
            heartbeat_at=now - dt.timedelta(seconds=runner.STALE_AFTER + 5)))
    assert runner.run_pending(jobs_inst, kinds=["test.resume"]) == 1
    assert resumed == [{"done": 40}]
    job = _job(jobs_inst, job_id)
    assert job.status == "done" and job.attempts == 2


def test_a_job_killed_on_its_last_attempt_fails(jobs_inst):
    jobs_inst.jobs.register("test.lastgasp", lambda inst, ctx: None, max_attempts=1)
    job_id = _submit(jobs_inst, "test.lastgasp")
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with jobs_inst.unit_of_work() as s:
        s.execute(update(Job).where(Job.id == job_id).values(status="running", attempts=1, heartbeat_at=old))
    runner.run_job(jobs_inst, job_id)
    job = _job(jobs_inst, job_id)
    assert job.status == "failed" and "Gave up after 1 attempts" in job.error


def test_a_kind_without_a_handler_fails_clearly(jobs_inst):
    job_id = _submit(jobs_inst, "test.nobody")
    assert runner.run_pending(jobs_inst, kinds=["test.nobody"]) == 0, "only registered kinds are picked up"
    assert runner.run_job(jobs_inst, job_id) == "failed"
    assert "No handler of 'test.nobody' jobs" in _job(jobs_inst, job_id).error


def test_cli_run_list_show(app, inst):
    from app.cli import cli

    with inst.unit_of_work() as s:
        job_id = runner.submit(s, "destruction", payload={"batch_id": 999999}).id
    cli_runner = app.test_cli_runner()
    r = cli_runner.invoke(cli, ["jobs", "run", "--once", "--kind", "destruction"])
    assert r.exit_code == 0, r.output
    assert "Ran 1 job(s)." in r.output
    r = cli_runner.invoke(cli, ["jobs", "list", "--kind", "destruction"])
    assert r.exit_code == 0 and f"{job_id:>6}  destruction" in r.output and "failed" in r.output
    r = cli_runner.invoke(cli, ["jobs", "show", str(job_id)])
    assert r.exit_code == 0 and "NotFound: No such batch." in r.output and '"batch_id": 999999' in r.output
    r = cli_runner.invoke(cli, ["jobs", "show", "99999999"])
    assert r.exit_code == 1 and "No such job" in r.output
    r = cli_runner.invoke(cli, ["jobs", "run", "--once", "--kind", "nonsense"])
    assert r.exit_code == 1 and "Unknown job kind" in r.output
    with inst.unit_of_work() as s:
        assert s.execute(select(Job.status).where(Job.id == job_id)).scalar_one() == "failed"
