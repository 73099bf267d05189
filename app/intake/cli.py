"""``xinfang intake …``: import e-mail, catch up on text extraction and recognition.
Thin: the same services as the web (``records.intake``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from records.accounts import operations as accounts
from records.errors import XinfangError
from records.intake import importing, mail
from records.intake import operations as intake


def _inst():
    return current_app.extensions["xinfang"]


def _fail(message: str, code: int = 1):
    click.secho(message, fg="red", err=True)
    sys.exit(code)


@click.group("intake")
def intake_group():
    """Paper, fax and e-mail in: import e-mail, recognise scans."""


@intake_group.command("mail")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--as", "actor", required=True, metavar="USERNAME",
              help="The account registering the letters (it needs the register permission).")
@click.option("--region", default=None, help="Region code of the letters (default: the bureau's jurisdiction).")
@click.option("--category", default="other", show_default=True, help="Category of the letters.")
@with_appcontext
def mail_command(source: Path, actor: str, region: str | None, category: str):
    """Register each e-mail of SOURCE (an .eml file, an mbox file or a Maildir folder) as a
    letter of the e-mail channel; a message already imported (same Message-ID) is refused."""
    inst = _inst()
    try:
        messages = mail.read_source(source)
        with inst.unit_of_work() as s:
            user_id = accounts.get_user(s, actor).id
    except XinfangError as exc:
        _fail(exc.message)
    results = importing.import_many(inst, messages, by_id=user_id, region=region, category=category,
                                    address="cli")
    registered = 0
    for r in results:
        if r.serial:
            registered += 1
            click.echo(f"message {r.index}: registered as {r.serial}")
        else:
            click.secho(f"message {r.index}: refused: {r.refused}", fg="yellow")
    click.echo(f"{registered} of {len(results)} message(s) registered; their attachments' text is "
               "extracted by 'xinfang intake ocr --pending' or the job worker.")
    if registered == 0 and results:
        sys.exit(1)


@intake_group.command("imap")
@click.option("--host", required=True, help="The mail server.")
@click.option("--port", type=int, default=None, help="Default: 993 (TLS), 143 with --no-tls.")
@click.option("--user", required=True, help="The mailbox's user name.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the mailbox password from standard input (never from the command line).")
@click.option("--folder", default="INBOX", show_default=True)
@click.option("--no-tls", is_flag=True, help="Plain IMAP (only for a server on this machine).")
@click.option("--as", "actor", required=True, metavar="USERNAME", help="The account registering the letters.")
@click.option("--region", default=None, help="Region code of the letters (default: the bureau's jurisdiction).")
@click.option("--category", default="other", show_default=True)
@with_appcontext
def imap_command(host, port, user, password_stdin, folder, no_tls, actor, region, category):
    """Register every unseen message of an IMAP mailbox as a letter (for cron); registered
    messages and duplicates are marked seen, refused ones stay unseen and are listed."""
    from records.intake import imap

    password = sys.stdin.readline().rstrip("\n")
    inst = _inst()
    try:
        with inst.unit_of_work() as s:
            user_id = accounts.get_user(s, actor).id
        results = imap.poll(inst, imap.Mailbox(host=host, port=port, user=user, password=password, folder=folder,
                                               tls=not no_tls), by_id=user_id, region=region, category=category)
    except XinfangError as exc:
        _fail(exc.message)
    for r in results:
        if r.serial:
            click.echo(f"message {r.index}: registered as {r.serial}")
        else:
            click.secho(f"message {r.index}: refused: {r.refused}", fg="yellow")
    click.echo(f"{sum(1 for r in results if r.serial)} of {len(results)} unseen message(s) registered.")


@intake_group.command("ocr")
@click.option("--pending", is_flag=True, required=True,
              help="Run every unfinished extraction or recognition (also one a killed process left).")
@with_appcontext
def ocr_command(pending: bool):
    """Extract or recognise the text of every attachment still waiting, page by page, with
    progress; an extraction interrupted mid-document resumes after its last finished page."""
    inst = _inst()
    with inst.unit_of_work() as s:
        waiting = intake.pending_count(s)
    click.echo(f"{waiting} attachment(s) waiting.")

    def show(job_id, kind, done, total, note):
        click.echo(f"  job {job_id}: {note}" if note else f"  job {job_id}: {done}/{total or '?'}")

    ran = intake.catch_up(inst, on_progress=show)
    with inst.unit_of_work() as s:
        left = intake.pending_count(s)
        failed = intake.failed_count(s)
    click.echo(f"{ran} job(s) ran; {left} still waiting; {failed} failed (see each record's page).")
