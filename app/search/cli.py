"""``xinfang search …``: reindex (with a progress bar), sync [--follow], check, purge.
Thin: each command calls ``search.indexer`` on the app's instance."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from records.errors import XinfangError


def _inst():
    return current_app.extensions["xinfang"]


def _fail(message: str, code: int = 1):
    click.secho(message, fg="red", err=True)
    sys.exit(code)


@click.group("search")
def search_group():
    """The encrypted search index (blind tokens; never plaintext)."""


@search_group.command("reindex")
@click.option("--procs", type=click.IntRange(1, 16), default=None,
              help="Indexing processes (default: 2 when there are many letters and 2 cores, else 1).")
@with_appcontext
def reindex_command(procs):
    """Rebuild the whole index from the database, then switch to it (searches keep working)."""
    from search import indexer

    inst = _inst()
    bar = None

    def on_total(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label="Indexing letters", show_pos=True, show_eta=True)
        bar.__enter__()

    try:
        report = indexer.reindex(inst, on_total=on_total, progress=lambda n: bar.update(n) if bar else None,
                                 procs=procs)
    except XinfangError as exc:
        _fail(exc.message)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    indexer.audit_run(inst, "search.reindex", {"records": report.records, "indexed": report.indexed,
                                                "skipped": report.skipped})
    rate = report.indexed / report.seconds if report.seconds else 0.0
    click.echo(f"Indexed {report.indexed} letters ({report.skipped} destroyed skipped) in {report.seconds:.1f} s "
               f"({rate:.0f} letters/s).")
    after = report.outbox_after
    if after is not None and after.rows:
        click.echo(f"Then applied {after.rows} changes made meanwhile.")


@search_group.command("sync")
@click.option("--follow", is_flag=True, help="Keep running, applying new changes every second (Ctrl-C stops).")
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="Seconds between drains with --follow.")
@with_appcontext
def sync_command(follow: bool, interval: float):
    """Apply the pending changes of the outbox to the index."""
    from search import indexer

    inst = _inst()
    report = indexer.drain(inst)
    click.echo(f"Applied {report.rows} pending changes ({report.indexed} indexed, {report.deleted} removed).")
    if not follow:
        return
    click.echo("Following the outbox; Ctrl-C stops.")
    try:
        indexer.follow(inst, interval=interval, on_drain=lambda r: click.echo(
            f"Applied {r.rows} changes ({r.indexed} indexed, {r.deleted} removed)."))
    except KeyboardInterrupt:
        click.echo("Stopped.")


@search_group.command("check")
@click.option("--show", default=20, show_default=True, type=click.IntRange(0, 100000),
              help="How many differing serials to list per kind.")
@with_appcontext
def check_command(show: int):
    """Compare the index with the database; exit 1 when they differ."""
    from search import indexer

    report = indexer.check(_inst())
    if report.problem:
        _fail(report.problem, code=2)
    click.echo(f"Database: {report.records} records ({report.expected} indexable); index: {report.indexed} documents; "
               f"outbox: {report.pending} pending.")
    if report.ok:
        click.echo("Index and database agree.")
        return

    def listing(items) -> str:
        items = list(items)
        more = f" … and {len(items) - show} more" if len(items) > show else ""
        return ", ".join(items[:show]) + more

    if report.missing:
        click.echo(f"Missing from the index ({len(report.missing)}): {listing(report.missing)}")
    if report.extra:
        click.echo(f"In the index but not (or no longer) in the database ({len(report.extra)}): "
                   f"{listing(report.extra)}")
    if report.stale:
        click.echo(f"Out of date in the index ({len(report.stale)}): " + listing(
            f"{serial} ({', '.join(fields)})" for serial, fields in report.stale.items()))
    if report.duplicates:
        click.echo(f"Indexed more than once ({len(report.duplicates)}): {listing(report.duplicates)}")
    hint = "'xinfang search sync'" if report.pending else "'xinfang search reindex'"
    _fail(f"Index and database differ; run {hint}.", code=1)


@search_group.command("purge")
@click.option("--year", "years", multiple=True, type=click.IntRange(2000, 9999),
              help="Only this year's shard (repeat for several).")
@with_appcontext
def purge_command(years):
    """Rewrite the index segments that hold deleted documents, so none survives in them."""
    from search import indexer

    report = indexer.purge(_inst(), years=list(years) or None)
    click.echo(f"Rewrote {report.segments_rewritten} segments in {len(report.shards)} shards; "
               f"{report.documents_kept} documents kept.")
