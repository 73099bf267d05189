"""A destruction run is a job, never a request: the web and the API queue it (after the one
set of checks, ``destroy.check_run``), a worker process runs it, the batch shows its progress
and then its certificate."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from records.accounts.models import User
from records.errors import AccessDenied, Conflict
from records.jobs import runner
from records.jobs.models import Job
from retention import destroy
from retention import jobs as retention_jobs
from retention import operations as ret
from retention.models import Batch, Certificate
from tests.conftest import login

from .conftest import TODAY, approved_batch


def _approved_batch(inst, make_user, store_letters, region: str, year: int, n: int = 2):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    store_letters(clerk, n, region=region, year=year)
    return approved_batch(inst, archivist, leader, region, year), leader, archivist


def test_check_run_is_the_one_gate(inst, make_user, store_letters):
    batch_id, leader, archivist = _approved_batch(inst, make_user, store_letters, "110111", 2021)
    with inst.unit_of_work() as s:
        batch = s.get(Batch, batch_id)
        with pytest.raises(AccessDenied):
            destroy.check_run(s, batch, user=s.get(User, archivist.id), today=TODAY)
        assert len(destroy.check_run(s, batch, user=s.get(User, leader.id), today=TODAY).letters) == 2
        with pytest.raises(Conflict, match="not due"):
            destroy.check_run(s, batch, user=None, today=TODAY.replace(year=2022))
        other = ret.batch_of(s, "110112", 2021)   # open, nothing listed
        with pytest.raises(Conflict, match="open"):
            retention_jobs.start_destruction(s, other, by=s.get(User, leader.id), today=TODAY)
        assert s.execute(select(Job).where(Job.dedupe_key == retention_jobs.dedupe_key(other.id))).first() is None


def test_api_queues_the_run_and_the_batch_shows_progress_then_the_certificate(
        app, inst, make_user, store_letters, api_token, monkeypatch):
    from retention import schedules

    monkeypatch.setattr(schedules, "today_in", lambda settings: TODAY)
    monkeypatch.setattr(destroy, "today_in", lambda settings: TODAY)
    batch_id, leader, archivist = _approved_batch(inst, make_user, store_letters, "110113", 2021, n=3)
    api = app.test_client()
    lh = {"Authorization": f"Bearer {api_token(leader)}"}
    ah = {"Authorization": f"Bearer {api_token(archivist)}"}
    assert api.post(f"/api/v1/retention/batches/{batch_id}/runs", headers=ah).status_code == 403
    r = api.post(f"/api/v1/retention/batches/{batch_id}/runs", headers=lh)
    assert r.status_code == 202, r.get_data(as_text=True)
    run = r.get_json()["run"]
    assert run["status"] == "queued" and run["certificate"] is None
    assert r.headers["Location"].endswith(f"/api/v1/retention/batches/{batch_id}")
    again = api.post(f"/api/v1/retention/batches/{batch_id}/runs", headers=lh)
    assert again.status_code == 202 and again.get_json()["run"]["id"] == run["id"], "one active run per batch"
    with inst.unit_of_work() as s:   # nothing was destroyed inside the request
        assert s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).first() is None

    assert runner.run_pending(inst, kinds=[retention_jobs.DESTRUCTION]) == 1
    body = api.get(f"/api/v1/retention/batches/{batch_id}", headers=ah).get_json()
    assert body["run"]["status"] == "done" and body["run"]["destroyed"] == 3 and body["run"]["residue_clean"]
    assert body["run"]["certificate"] and body["run"]["progress"]["note"] == "certified"
    assert body["state"] == "certified"
    r = api.post(f"/api/v1/retention/batches/{batch_id}/runs", headers=lh)
    assert r.status_code == 409, "certified: nothing left to run"


_KILLED_WORKER = textwrap.dedent("""
    import os, signal, sys
    from app.composition import build_instance
    from records.jobs import runner
    from records.settings import Settings
    from retention import destroy

    destroy.CHUNK = 1

    def hook(name):
        if name == "deleted:1":
            os.kill(os.getpid(), signal.SIGKILL)

    destroy.checkpoint_hook = hook
    inst = build_instance(Settings.from_env({}, home=sys.argv[1], database_url=sys.argv[2]))
    runner.run_job(inst, int(sys.argv[3]))
""")


def test_a_killed_destruction_job_is_picked_up_again_and_resumes_the_run(inst, make_user, store_letters,
                                                                        monkeypatch):
    batch_id, leader, _ = _approved_batch(inst, make_user, store_letters, "110116", 2021, n=3)
    with inst.unit_of_work() as s:
        job_id = retention_jobs.start_destruction(s, s.get(Batch, batch_id), by=s.get(User, leader.id),
                                                  today=TODAY).id
    proc = subprocess.run([sys.executable, "-c", _KILLED_WORKER, str(inst.settings.home), inst.settings.database_url,
                           str(job_id)], cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    with inst.unit_of_work() as s:
        job = s.get(Job, job_id)
        assert job.status == "running" and job.attempts == 1
        assert s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).first() is None
    assert runner.run_pending(inst, kinds=[retention_jobs.DESTRUCTION]) == 0, "its heartbeat is still fresh"
    monkeypatch.setattr(runner, "STALE_AFTER", 0.0)   # ... until it is not: the worker is dead
    assert runner.run_pending(inst, kinds=[retention_jobs.DESTRUCTION]) == 1
    with inst.unit_of_work() as s:
        job = s.get(Job, job_id)
        assert job.status == "done" and job.attempts == 2 and job.state["resumed"] is True
        cert = s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).scalar_one()
        assert cert.letters == 3 and cert.residue_clean


# Last in this module: the residue scan of the in-process runs above read the SQLite files
# with plain open/close, which drops this process's POSIX locks on them (a property of POSIX
# locks), so a worker process closing its last connection afterwards may take itself for the
# last user of the database. Production runs destructions in worker processes only.
def test_web_run_starts_a_real_worker_process(app, inst, make_user, store_letters):
    """The default hand-off: a detached ``python -m app.jobs.worker`` builds its own instance
    and runs the job (the batch is due in real time: letters of 2020)."""
    batch_id, leader, _ = _approved_batch(inst, make_user, store_letters, "110114", 2020)
    app.config["XINFANG_JOB_WORKER"] = "spawn"
    try:
        lead = app.test_client()
        login(lead, leader.username)
        r = lead.post(f"/retention/batches/{batch_id}/run", data={"confirm": "110114/2020"})
        assert r.status_code == 302
    finally:
        app.config["XINFANG_JOB_WORKER"] = "off"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = None
        with inst.unit_of_work() as s:
            job = retention_jobs.latest_job(s, batch_id)
            status, error = job.status, job.error
        if status in ("done", "failed"):
            break
        time.sleep(0.5)
    assert status == "done", error
    page = lead.get(f"/retention/batches/{batch_id}").get_data(as_text=True)
    with inst.unit_of_work() as s:
        number = s.execute(select(Certificate.number).where(Certificate.batch_id == batch_id)).scalar_one()
    assert 'id="destruction-run"' in page and number in page
