"""``xinfang jobs run|list|show``: the background job runner, for cron or a service.

``xinfang jobs run --once`` runs what is queued (and resumes what a killed worker left)
and exits: a cron line every minute is enough. Without ``--once`` it keeps polling. Each look
at the queue first queues the day's ``daily`` jobs (the sweep) once per office day."""
from __future__ import annotations

import json
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from records.errors import XinfangError
from records.jobs import runner
from records.jobs.models import STATUSES, Job


def _inst():
    return current_app.extensions["xinfang"]


def _fail(message: str, code: int = 1):
    click.secho(message, fg="red", err=True)
    sys.exit(code)


@click.group("jobs")
def jobs_group():
    """Background jobs (destruction runs, intake): run, list, show."""


class _Bars:
    """One progress bar per job, on standard error."""

    def __init__(self):
        self.bars: dict[int, object] = {}

    def __call__(self, job_id: int, kind: str, done: int, total: int | None, note: str) -> None:
        if not total:
            return
        bar = self.bars.get(job_id)
        if bar is None or bar.length != total:
            self.close(job_id)
            bar = click.progressbar(length=max(total, 1), label=f"job {job_id} {kind}: {note:<24}", file=sys.stderr)
            bar.__enter__()
            self.bars[job_id] = bar
        bar.label = f"job {job_id} {kind}: {note:<24}"
        bar.update(max(0, done - bar.pos))

    def close(self, job_id: int | None = None) -> None:
        for jid in [job_id] if job_id is not None else list(self.bars):
            bar = self.bars.pop(jid, None)
            if bar is not None:
                bar.__exit__(None, None, None)


@jobs_group.command("run")
@click.option("--once", is_flag=True, help="Run what is queued now, then exit (for cron).")
@click.option("--kind", "kinds", multiple=True, help="Only jobs of this kind; repeat for several.")
@click.option("--limit", type=click.IntRange(1, None), help="Run at most this many jobs.")
@click.option("--interval", default=5.0, show_default=True, type=click.FloatRange(0.5, 3600),
              help="Seconds between looks at the queue (without --once).")
@with_appcontext
def jobs_run(once: bool, kinds: tuple[str, ...], limit: int | None, interval: float):
    """Run queued jobs (and resume jobs a killed process left), with a progress bar."""
    inst = _inst()
    unknown = [k for k in kinds if k not in inst.jobs]
    if unknown:
        _fail(f"Unknown job kind: {', '.join(unknown)} (known: {', '.join(inst.jobs.kinds())}).")
    bars = _Bars()
    total = 0
    try:
        while True:
            runner.queue_daily(inst, kinds=list(kinds) or None)   # the daily sweep, once per office day
            ran = runner.run_pending(inst, kinds=list(kinds) or None,
                                     limit=None if limit is None else limit - total, on_progress=bars)
            total += ran
            bars.close()
            if once or (limit is not None and total >= limit):
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        bars.close()
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(f"Ran {total} job(s).")
    with inst.unit_of_work() as s:
        failed = s.execute(select(Job.id).where(Job.status == "failed", Job.finished_at.is_not(None))
                           .order_by(Job.id.desc()).limit(1)).scalar()
    if failed is not None and total:
        click.echo(f"Failed jobs are listed by 'xinfang jobs list --status failed' (latest: {failed}).")


def _progress(job: Job) -> str:
    if job.progress_total:
        return f"{job.progress_done}/{job.progress_total}"
    return str(job.progress_done or "")


@jobs_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this status.")
@click.option("--kind", help="Only jobs of this kind.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@with_appcontext
def jobs_list(status: str | None, kind: str | None, limit: int):
    """The latest jobs: id, kind, status, attempts, progress, times, error."""
    with _inst().unit_of_work() as s:
        q = select(Job).order_by(Job.id.desc()).limit(limit)
        if status:
            q = q.where(Job.status == status)
        if kind:
            q = q.where(Job.kind == kind)
        jobs = s.execute(q).scalars().all()
        if not jobs:
            click.echo("No jobs.")
        for j in jobs:
            when = (j.finished_at or j.started_at or j.created_at).strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{j.id:>6}  {j.kind:<14} {j.status:<8} {j.attempts}/{j.max_attempts}  "
                       f"{_progress(j):<12} {when}Z  {j.progress_note or ''}"
                       + (f"  [{j.error}]" if j.error else ""))


@jobs_group.command("show")
@click.argument("job_id", type=int)
@with_appcontext
def jobs_show(job_id: int):
    """One job: everything the journal keeps of it (clear metadata only)."""
    try:
        with _inst().unit_of_work() as s:
            j = runner.get(s, job_id)
            rows = [("id", j.id), ("kind", j.kind), ("status", j.status), ("record", j.record_id or "-"),
                    ("attempts", f"{j.attempts} of {j.max_attempts}"), ("progress", _progress(j) or "-"),
                    ("note", j.progress_note or "-"), ("created", j.created_at), ("started", j.started_at or "-"),
                    ("heartbeat", j.heartbeat_at or "-"), ("finished", j.finished_at or "-"),
                    ("created by", j.created_by_id or "system"), ("error", j.error or "-"),
                    ("payload", json.dumps(j.payload or {}, ensure_ascii=False, sort_keys=True)),
                    ("state", json.dumps(j.state or {}, ensure_ascii=False, sort_keys=True))]
    except XinfangError as exc:
        _fail(exc.message)
    for name, value in rows:
        click.echo(f"{name + ':':<12} {value}")
