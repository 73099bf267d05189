"""``xinfang retention …``: plan, seal, propose, approve, exclude, hold, lift, run, verify,
certificate. Thin: one unit of work per command, the same services as the web."""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from records.accounts import operations as accounts
from records.errors import XinfangError
from records.jobs import runner as jobs_runner
from records.jobs.models import Job
from records.reference import letterhead

from retention import certificate as certs
from retention import destroy
from retention import jobs as retention_jobs
from retention import operations as ret
from retention.models import Batch, Certificate


def _inst():
    return current_app.extensions["xinfang"]


def _fail(message: str, code: int = 1):
    click.secho(message, fg="red", err=True)
    sys.exit(code)


def _batch(session, ref: str) -> Batch:
    """A batch by id or by REGION/YEAR."""
    if "/" in ref:
        region, _, year = ref.partition("/")
        batch = session.execute(select(Batch).where(Batch.region_code == region,
                                                    Batch.year == int(year) if year.isdigit() else -1)
                                ).scalar_one_or_none()
        if batch is None:
            raise click.BadParameter(f"no batch {ref}", param_hint="BATCH")
        return batch
    return ret.get_batch(session, ref)


def _today(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--today") from None


actor_option = click.option("--as", "actor", required=True, metavar="USERNAME",
                            help="The account acting (its permissions apply; recorded in the audit trail).")
today_option = click.option("--today", hidden=True, help="Pretend today is YYYY-MM-DD (rehearsals, tests).")


@click.group("retention")
def retention_group():
    """Stored letters: batches by region and year, holds, approvals, destruction runs, certificates."""


@retention_group.command("plan")
@today_option
@with_appcontext
def plan_command(today):
    """Batches with counts per reason and due dates, and what a run would destroy today."""
    inst = _inst()
    with inst.unit_of_work() as s:
        batches = s.execute(select(Batch).order_by(Batch.year, Batch.region_code)).scalars().all()
        summaries = ret.summarise(s, batches, _today(today))
        click.echo(f"{'id':>4} {'batch':<12} {'state':<10} {'letters':>7} {'due':<10} holds  per reason")
        for x in summaries:
            per = " ".join(f"{r[:6]}={n}" for r, n in x.counts.items() if n)
            holds = "batch" if x.held else (str(x.held_letters) if x.held_letters else "-")
            click.echo(f"{x.batch.id:>4} {x.batch.label:<12} {x.batch.state:<10} {x.letters:>7} "
                       f"{x.due_on.isoformat():<10} {holds:<6} {per}")
        click.echo("")
        for r in destroy.plan(s, today=_today(today)):
            click.echo(f"run {r.batch_label}: {len(r.letters)} to destroy, {len(r.skipped_held)} held"
                       + (f" ({r.note})" if r.note else ""))


def _act(fn):
    try:
        return fn()
    except XinfangError as exc:
        _fail(exc.message + "".join(f"\n  {k}: {v}" for k, v in exc.fields.items()))


@retention_group.command("seal")
@click.argument("batch")
@actor_option
@today_option
@with_appcontext
def seal_command(batch, actor, today):
    """Seal BATCH (id or REGION/YEAR) after its year has closed."""
    def go():
        with _inst().unit_of_work() as s:
            b = ret.seal(s, _batch(s, batch), by=accounts.get_user(s, actor), today=_today(today))
            return b.label
    click.echo(f"Sealed batch {_act(go)}.")


@retention_group.command("propose")
@click.argument("batch")
@actor_option
@with_appcontext
def propose_command(batch, actor):
    """Propose the destruction list (銷毀清冊) of a sealed BATCH."""
    def go():
        with _inst().unit_of_work() as s:
            return len(ret.propose(s, _batch(s, batch), by=accounts.get_user(s, actor)))
    click.echo(f"Proposed {_act(go)} letters for destruction; a leader other than you must approve.")


@retention_group.command("approve")
@click.argument("batch")
@actor_option
@with_appcontext
def approve_command(batch, actor):
    """Approve the proposed destruction list of BATCH (never your own proposal)."""
    def go():
        with _inst().unit_of_work() as s:
            return ret.approve(s, _batch(s, batch), by=accounts.get_user(s, actor)).label
    click.echo(f"Approved the destruction list of {_act(go)}.")


@retention_group.command("exclude")
@click.argument("batch")
@click.argument("serial")
@click.option("--reason", required=True)
@actor_option
@with_appcontext
def exclude_command(batch, serial, reason, actor):
    """Take SERIAL off the destruction list of BATCH (it is kept)."""
    def go():
        with _inst().unit_of_work() as s:
            ret.exclude(s, _batch(s, batch), serial, by=accounts.get_user(s, actor), reason=reason)
    _act(go)
    click.echo(f"Excluded {serial}.")


@retention_group.command("hold")
@click.option("--serial", help="Hold one letter.")
@click.option("--batch", "batch_ref", help="Hold a whole batch (id or REGION/YEAR).")
@click.option("--reason", required=True)
@actor_option
@with_appcontext
def hold_command(serial, batch_ref, reason, actor):
    """Put a hold on a letter or a batch: it is not destroyed until every hold is lifted."""
    def go():
        with _inst().unit_of_work() as s:
            b = _batch(s, batch_ref) if batch_ref else None
            return ret.hold(s, by=accounts.get_user(s, actor), reason=reason, serial=serial, batch=b).id
    click.echo(f"Hold {_act(go)} placed.")


@retention_group.command("lift")
@click.argument("hold_id", type=int)
@click.option("--reason", required=True)
@actor_option
@with_appcontext
def lift_command(hold_id, reason, actor):
    """Lift hold HOLD_ID."""
    def go():
        with _inst().unit_of_work() as s:
            ret.lift(s, hold_id, by=accounts.get_user(s, actor), reason=reason)
    _act(go)
    click.echo(f"Hold {hold_id} lifted.")


@retention_group.command("run")
@click.option("--dry-run", is_flag=True, help="List exactly what would be destroyed; change nothing.")
@click.option("--batch", "batch_ref", help="Only this batch (id or REGION/YEAR).")
@click.option("--as", "actor", metavar="USERNAME", help="A leader starting the run by hand (cron: omit).")
@today_option
@with_appcontext
def run_command(dry_run, batch_ref, actor, today):
    """Destroy the approved, due batches (resuming any interrupted run first), with progress,
    and leave a certificate for each. Each batch's run is a destruction job (the same as one
    started from the web), run here."""
    inst = _inst()
    from records import policy

    with inst.unit_of_work() as s:
        batch = _batch(s, batch_ref) if batch_ref else None
        batch_id = batch.id if batch is not None else None
        user = accounts.get_user(s, actor) if actor else None
        if user is not None and not policy.can(user, policy.APPROVE_DESTRUCTION):
            _fail(f"{actor} may not start a destruction run.")
        if batch is not None and not dry_run:
            try:
                destroy.check_run(s, batch, user=user, today=_today(today))  # the checks every caller makes
            except XinfangError as exc:
                _fail(exc.message)
        if dry_run:
            items = destroy.plan(s, batch_id=batch_id, today=_today(today))
            if not items:
                click.echo("Nothing is approved for destruction.")
            for r in items:
                click.echo(f"batch {r.batch_label}: would destroy {len(r.letters)} letter(s)"
                           + (f"; kept by holds: {', '.join(r.skipped_held)}" if r.skipped_held else "")
                           + (f" ({r.note})" if r.note else ""))
                for serial in r.letters:
                    click.echo(f"  {serial}")
            return
        job_ids, quiet = _queue_runs(s, destroy.plan(s, batch_id=batch_id, today=_today(today)), user,
                                     _today(today))
    for line in quiet:
        click.echo(line)
    sys.exit(_run_jobs(inst, job_ids, quiet))


def _queue_runs(s, items, user, day) -> tuple[list[int], list[str]]:
    """A destruction job for every batch with something to destroy (or a run to resume):
    the same job the web and the API queue, so a run never goes twice at once."""
    job_ids, quiet = [], []
    for item in items:
        if not item.letters and not item.resumed:
            quiet.append(f"batch {item.batch_label}: nothing destroyed ({item.note or 'nothing due'})")
            continue
        job_ids.append(retention_jobs.start_destruction(s, s.get(Batch, item.batch_id), by=user, today=day).id)
    return job_ids, quiet


def _run_jobs(inst, job_ids: list[int], quiet: list[str]) -> int:
    """Run the queued destruction jobs here, with a progress bar per phase; print each
    batch's outcome. Exit code: 0, 1 (a run failed or runs elsewhere), 2 (residue found)."""
    bars: dict[tuple[int, str], object] = {}

    def progress(job_id, kind, done, total, phase):
        if not total:
            return
        bar = bars.get((job_id, phase))
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label=f"{phase:<8}", file=sys.stderr)
            bar.__enter__()
            bars[(job_id, phase)] = bar
        bar.update(max(0, done - bar.pos))
        if done >= total:
            bar.__exit__(None, None, None)

    code = 0
    for job_id in job_ids:
        try:
            jobs_runner.run_job(inst, job_id, on_progress=progress)
        except XinfangError as exc:   # running in a worker the web started: it finishes there
            click.echo(f"job {job_id}: {exc.message}")
            code = max(code, 1)
            continue
        with inst.unit_of_work() as s:
            job = s.get(Job, job_id)
            label = s.get(Batch, job.payload["batch_id"]).label
            state, status, error = dict(job.state or {}), job.status, job.error
        if status != "done":
            click.echo(f"batch {label}: the run did not finish ({status}: {error}); "
                       f"'xinfang jobs show {job_id}', then run again to resume.")
            code = max(code, 1)
            continue
        clean = state.get("residue_clean")
        click.echo(f"batch {label}: destroyed {state.get('letters')} letter(s) in {state.get('seconds', 0):.1f} s"
                   f"{' (resumed)' if state.get('resumed') else ''}; residue check "
                   f"{'clean' if clean else 'RESIDUE FOUND'}; certificate {state.get('certificate')}")
        if not clean:
            code = 2
    if not job_ids and not quiet:
        click.echo("Nothing is approved and due for destruction.")
    return code


@retention_group.command("verify")
@click.argument("cert")
@with_appcontext
def verify_command(cert):
    """Verify a certificate: a JSON file, or a certificate number of this instance."""
    inst = _inst()
    with inst.unit_of_work() as s:
        path = Path(cert)
        try:
            if path.is_file():
                body = certs.load(path.read_text(encoding="utf-8"))
            else:
                row = s.execute(select(Certificate).where(Certificate.number == cert)).scalar_one_or_none()
                if row is None:
                    _fail(f"No certificate file or number {cert}.")
                body = json.loads(row.body)
        except XinfangError as exc:
            _fail(exc.message)
        rep = certs.verify(body, s, inst)
    for line in rep.checked:
        click.echo(f"ok       {line}")
    for line in rep.problems:
        click.secho(f"PROBLEM  {line}", fg="red")
    if not rep.ok:
        _fail(f"Certificate {rep.number} does NOT verify.", code=2)
    click.echo(f"Certificate {rep.number} verifies: {rep.letters} letters.")


@retention_group.command("certificate")
@click.argument("number")
@click.option("--pdf", "pdf_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the PDF here.")
@with_appcontext
def certificate_command(number, pdf_path):
    """Print certificate NUMBER as JSON (or write its PDF)."""
    inst = _inst()
    with inst.unit_of_work() as s:
        row = s.execute(select(Certificate).where(Certificate.number == number)).scalar_one_or_none()
        if row is None:
            _fail(f"No certificate {number}.")
        body = json.loads(row.body)
        bureau = letterhead.current(s).bureau_name
    if pdf_path:
        pdf_path.write_bytes(certs.pdf(body, inst.settings, bureau_name=bureau))
        click.echo(f"Wrote {pdf_path}.")
    else:
        click.echo(json.dumps(body, ensure_ascii=False, indent=1))
