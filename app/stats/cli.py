"""``xinfang report monthly --month 2026-10 --out report.pdf`` (for cron) and
``xinfang report inspection``. Bureau-wide: the command runs as the system, and its
audit entry says so."""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from records.errors import XinfangError


def _inst():
    return current_app.extensions["xinfang"]


def _fail(message: str, code: int = 1):
    click.secho(message, fg="red", err=True)
    sys.exit(code)


@click.group("report")
def report_group():
    """Periodic reports from the ledger's metadata (counts only, no content)."""


def _last_month() -> str:
    first = dt.date.today().replace(day=1)
    return (first - dt.timedelta(days=1)).strftime("%Y-%m")


@report_group.command("monthly")
@click.option("--month", default=None, help="The month, e.g. 2026-10 (default: last month).")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True),
              help="Where to write the PDF ('-' for standard output).")
@with_appcontext
def monthly_command(month: str | None, out: str):
    """Write the monthly statistical report (PDF) of the whole bureau."""
    from records.reporting import reports

    month = month or _last_month()
    try:
        with _inst().unit_of_work() as s:
            data = reports.monthly_pdf(s, None, month, actor_name="cli:report")
    except XinfangError as exc:
        _fail(exc.message + "".join(f" ({k}: {v})" for k, v in getattr(exc, "fields", {}).items()))
    if out == "-":
        sys.stdout.buffer.write(data)
        return
    path = Path(out)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        tmp.write_bytes(data)   # counts only; replaced atomically so cron never ships half a file
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        _fail(f"Cannot write {path}: {exc.strerror or exc}.")
    click.echo(f"Wrote the report of {month} to {path} ({len(data)} bytes).")


@report_group.command("inspection")
@click.option("--from", "start", required=True, help="First day, e.g. 2026-10-01.")
@click.option("--to", "end", required=True, help="Last day, e.g. 2026-10-31.")
@with_appcontext
def inspection_command(start: str, end: str):
    """Print each leader's reception work (Art 18) as tab-separated lines."""
    from records import policy
    from records.reporting import reports

    try:
        a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        _fail("Use dates like 2026-10-01.")
    try:
        with _inst().unit_of_work() as s:
            # the report is read under the policy: the command acts as the first active chief or inspector
            actor = min(policy.holders(s, policy.VIEW_INSPECTION), key=lambda u: u.id, default=None)
            if actor is None:
                _fail("No active chief or inspector account to run the report as.")
            rows = reports.inspection(s, actor, a, b)
    except XinfangError as exc:
        _fail(exc.message)
    click.echo("leader\treception_days\tvisits\tvisitors\tmatters\tconcluded\topen")
    for r in rows:
        click.echo(f"{r.username}\t{r.reception_days}\t{r.visits_received}\t{r.visitors}\t{r.matters}\t"
                   f"{r.concluded}\t{r.open}")
