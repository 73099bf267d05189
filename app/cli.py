"""The ``xinfang`` command: Flask's CLI group plus the instance's own commands.

Commands are thin: they open one unit of work and call the same services as the web."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from records.accounts import grants, operations as accounts, tokens, totp
from records import audit, policy
from records.reference.vocab import ROLES
from records.errors import AccessDenied, NotFound, XinfangError

from .composition import build_instance


def _create_app():
    from . import create_app
    from .serve import hide_query_strings_in_dev_server_log

    # `xinfang run` logs request lines; search terms in query strings stay out of them.
    hide_query_strings_in_dev_server_log()
    return create_app()


def _instance():
    return current_app.extensions["xinfang"]


def _fail(message: str, code: int = 1):
    click.secho(message, fg="red", err=True)
    sys.exit(code)


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True,
             help="Xinfang Records: the petition office's records system.\n\n"
                  "The instance folder is ./instance or $XINFANG_HOME; the database is SQLite there "
                  "unless $XINFANG_DATABASE_URL names another.")
def cli():
    pass


@cli.command("init")
@click.option("--demo", is_flag=True, help="Also create one demo account per role and sample letters.")
@click.option("--preset", type=click.Choice(["labour", "science-tech", "general"]), default=None,
              help="A new instance's offices, categories and letterhead: labour (a human resources and social "
                   "security bureau, the default), science-tech (the bureau of the seed regulations) or general.")
@click.option("--jurisdiction", metavar="CODE", default=None,
              help="The bureau's area, a region code (default 110000): offered first; places outside it "
                   "are marked, never refused.")
@with_appcontext
def init_command(demo: bool, preset: str | None, jurisdiction: str | None):
    """Create the instance: folders, master key file (0600), database, reference data.

    Never overwrites an existing key or database. All or nothing: the CJK font, the preset and
    the jurisdiction are checked before anything is created, and a run that stopped half-way
    is completed by the next one."""
    from records.setup import finish_init, init_instance, pending_init

    settings = current_app.config["XINFANG_SETTINGS"]
    earlier = pending_init(settings)
    if earlier is not None:
        click.secho("The previous 'xinfang init' did not finish; completing it now.", fg="yellow")
    try:
        report = init_instance(settings, build=build_instance, preset=preset, jurisdiction=jurisdiction,
                               require_font=True, demo=demo)
        for line in report.created:
            click.echo(f"created  {line}")
        for line in report.existing:
            click.echo(f"kept     {line}")
        resume = bool(earlier and earlier.get("demo"))
        if demo or resume:
            _demo(users=True, count=40, resume=resume)
            finish_init(settings)
        elif report.nothing_to_do:
            click.echo(f"The instance at {settings.home} is already initialised; nothing to do.")
    except XinfangError as exc:
        _fail(str(exc) + ("" if not (settings.home / "init.pending").exists() else
                          " (nothing more was done; run 'xinfang init' again to complete the instance)"))


def _demo(users: bool, count: int, *, resume: bool = False) -> None:
    """Demo accounts and ``count`` sample letters; ``resume``: an interrupted ``init --demo``,
    whose letters are completed up to ``count``."""
    from records.demo import add_demo_records, advance_demo_records, create_demo_users

    inst = _instance()
    settings = inst.settings
    created = {}
    if users:
        with inst.unit_of_work() as session:
            created = create_demo_users(session)
    if created:
        path = settings.home / "demo-accounts.txt"
        import os

        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("# DEMO ONLY - accounts created by `xinfang init --demo`; never use on real data.\n")
            for name, password in created.items():
                fh.write(f"{name}\t{password}\n")
        click.echo("Demo accounts (DEMO ONLY; also written to %s, mode 0600):" % path)
        for name, password in created.items():
            click.echo(f"  {name:<10} {password}")
    with inst.unit_of_work() as session:
        from sqlalchemy import func, select

        from records.models import Record

        existing = session.execute(select(func.count()).select_from(Record)).scalar_one()
        if resume:
            count = max(0, count - existing)
            if not count:
                return
        elif users and not created and existing:
            click.echo("Demo data is already there; nothing to do.")
            return
    with click.progressbar(length=count, label="Adding sample letters and visits") as bar:
        done = 0
        while done < count:
            step = min(10, count - done)
            with inst.unit_of_work() as session:
                serials = add_demo_records(session, step, seed=None)
                # then through the workflow, so the board and the retention pages show every stage
                advance_demo_records(session, serials)
            done += step
            bar.update(step)
    from search.indexer import drain

    drain(inst)  # the sample letters are searchable at once


@cli.command("demo")
@click.option("--count", default=40, show_default=True, type=click.IntRange(1, 100_000),
              help="How many sample letters and visits to add.")
@with_appcontext
def demo_command(count: int):
    """Add realistic sample letters and visits (in Chinese) through the normal registration."""
    try:
        _demo(users=False, count=count)
    except XinfangError as exc:
        _fail(str(exc))


@cli.group("users")
def users_group():
    """Manage accounts and API tokens."""


@users_group.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="A role; repeat for several.")
@click.option("--office", help="Office code (required for clerks and handlers).")
@click.option("--oversee", "oversees", multiple=True, help="Office code a leader oversees; repeat for several.")
@click.option("--display-name", help="Name shown in the UI (default: NAME).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(name, roles, office, oversees, display_name, password_stdin):
    """Create an account NAME (password from a prompt or --password-stdin).

    While the instance has no active chief (set-up), every role takes effect at once. Once
    it has one, a role that reads letters (clerk, handler, leader, chief) or the admin role
    waits until the chief or an administrator confirms it: on the web (Role grants) or with
    `xinfang users confirm-grant NAME --by CONFIRMER`."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with _instance().unit_of_work() as session:
            user = accounts.create_user(session, name, password, list(roles), office=office,
                                        display_name=display_name, oversees=list(oversees), console=True)
            held = sorted(user.role_set)
            waiting = [g.role for g in grants.pending(session, user)]
    except XinfangError as exc:
        _fail(exc.message + "".join(f"\n  {k}: {v}" for k, v in exc.fields.items()))
    click.echo(f"Created user {name} ({', '.join(held) or 'no role yet'}).")
    if waiting:
        click.secho(f"Waiting for a second person's confirmation: {', '.join(waiting)}. The chief or an "
                    f"administrator confirms on the web (Role grants) or with "
                    f"'xinfang users confirm-grant {name} --by THEIR_NAME'.", fg="yellow")


@users_group.command("grants")
@with_appcontext
def users_grants():
    """List role grants waiting for a second person's confirmation."""
    with _instance().unit_of_work() as session:
        for g in grants.pending(session):
            asked = g.requested_by.username if g.requested_by else "console"
            click.echo(f"{g.id:<6} {g.user.username:<16} {g.role:<10} asked by {asked} at "
                       f"{g.requested_at:%Y-%m-%d %H:%M} UTC")


@users_group.command("confirm-grant")
@click.argument("name")
@click.option("--by", "by_name", required=True, help="The confirming person: the chief or an administrator "
              "other than the one who asked. Their password is asked for.")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), help="Only this role (default: all waiting).")
@click.option("--refuse", is_flag=True, help="Refuse instead of confirming.")
@click.option("--password-stdin", is_flag=True, help="Read the confirming person's password from standard input.")
@with_appcontext
def users_confirm_grant(name, by_name, roles, refuse, password_stdin):
    """Confirm (or --refuse) the roles of NAME waiting for a second person."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else \
        click.prompt(f"Password of {by_name}", hide_input=True)
    try:
        with _instance().unit_of_work() as session:
            by = accounts.authenticate(session, by_name, password, address="console")
            if by is None:
                raise AccessDenied(f"Wrong password for {by_name}, or the account is inactive.")
            if totp.is_enrolled(session, by):
                code = click.prompt(f"Authenticator code of {by_name}")
                if not totp.verify(session, by, code):
                    raise AccessDenied("The code is not right.")
            waiting = [g for g in grants.pending(session, accounts.get_user(session, name))
                       if not roles or g.role in roles]
            if not waiting:
                raise NotFound(f"Nothing of {name} waits for confirmation.")
            for g in waiting:
                (grants.refuse if refuse else grants.confirm)(session, g, by=by, address="console")
            done = [g.role for g in waiting]
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(f"{'Refused' if refuse else 'Granted'} {', '.join(done)} for {name} (by {by_name}).")


@users_group.command("token")
@click.argument("name")
@click.option("--name", "token_name", default="", help="What the token is for (shown in the lists).")
@click.option("--label", default="", hidden=True, help="Old spelling of --name.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(list(policy.TOKEN_SCOPES)),
              help="What it may do; repeat for several (default: every scope the roles use, "
                   "lookup only with a second factor).")
@click.option("--expires-days", "--days", "days", default=tokens.DEFAULT_DAYS, show_default=True,
              type=click.IntRange(1, tokens.MAX_DAYS), help="Days until it expires.")
@with_appcontext
def users_token(name, token_name, label, scopes, days):
    """Issue an API token for NAME and print it once (only its hash is kept).

    A role that signs in with a second factor gets a token only once it is set up."""
    try:
        with _instance().unit_of_work() as session:
            token = tokens.issue(session, accounts.get_user(session, name), name=token_name or label,
                                 scopes=list(scopes) or None, days=days,
                                 second_factor_roles=current_app.config.get("XINFANG_SECOND_FACTOR_ROLES",
                                                                            totp.DEFAULT_REQUIRED_ROLES))
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(token)


@users_group.command("tokens")
@click.argument("name")
@click.option("--all", "show_all", is_flag=True, help="Also revoked and expired tokens.")
@with_appcontext
def users_tokens(name, show_all):
    """List NAME's API tokens: prefix, name, scopes, expiry, last use."""
    with _instance().unit_of_work() as session:
        try:
            rows = tokens.listing(session, accounts.get_user(session, name), include_ended=show_all)
        except XinfangError as exc:
            _fail(exc.message)
        for t in rows:
            state = " (revoked)" if t.revoked_at else ""
            expires = f"{t.expires_at:%Y-%m-%d}" if t.expires_at else "never"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            click.echo(f"{t.prefix:<12} {t.label[:24]:<24} {t.scopes:<32} expires {expires} last used {used}{state}")


@users_group.command("revoke-token")
@click.argument("name")
@click.argument("prefix")
@with_appcontext
def users_revoke_token(name, prefix):
    """Revoke NAME's token whose listing starts with PREFIX (e.g. xf_AbC123d)."""
    try:
        with _instance().unit_of_work() as session:
            n = tokens.revoke(session, accounts.get_user(session, name), prefix)
    except XinfangError as exc:
        _fail(exc.message)
    if not n:
        _fail(f"No live token of {name} starts with {prefix}.")
    click.echo(f"Revoked {n} token(s) of {name}.")


@users_group.command("list")
@with_appcontext
def users_list():
    """List accounts with their roles and office."""
    from sqlalchemy import select

    from records.accounts.models import User

    with _instance().unit_of_work() as session:
        for u in session.execute(select(User).order_by(User.username)).scalars():
            office = u.office.code if u.office else "-"
            state = "" if u.active else " (inactive)"
            click.echo(f"{u.username:<16} {u.roles:<24} {office:<8} {u.display_name}{state}")


@cli.group("audit")
def audit_group():
    """The audit trail."""


@audit_group.command("verify")
@click.option("--anchor", metavar="N:HASH", help="A head printed by an earlier run (kept outside the system): "
              "entry N must still exist with that hash.")
@with_appcontext
def audit_verify(anchor: str | None):
    """Check the hash chain; name the first broken entry."""
    from records.audit import checkpoints

    inst = _instance()
    with inst.unit_of_work() as session:
        result = audit.verify(session)
        anchored = audit.check_anchor(session, anchor) if anchor and result.ok else None
        cp, problem = checkpoints.check(inst, session) if result.ok else (None, "")
    if not result.ok:
        _fail(f"Audit trail BROKEN at entry {result.broken_id}: {result.problem} "
              f"({result.checked} entries before it verified).", code=2)
    if anchored is not None and not anchored:
        _fail(f"Audit trail BROKEN: the anchor {anchor} does not match; entries were removed or replaced.", code=2)
    if problem:
        _fail(f"Audit trail BROKEN: {problem}.", code=2)
    with inst.unit_of_work() as session:   # a verified head is signed for the next run
        checkpoints.write(inst, session)
    click.echo(f"Audit trail intact: {result.checked} entries verified"
               + (f", anchor {anchor.split(':')[0]} matches" if anchored else "")
               + (f", checkpoint {cp.entry} of {cp.at} matches." if cp else "."))
    if result.head_hash:
        # Anyone able to write the database could cut the tail and move the head back; a head
        # copied outside the system (a signed report, a ticket) shows that with --anchor.
        click.echo(f"Head: {result.checked}:{result.head_hash} "
                   "(keep this line outside the system; check it later with --anchor).")


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint():
    """Sign the audit trail's head into the key store (run it from cron, e.g. hourly):
    `audit verify` then refuses a trail cut back behind it."""
    from records.audit import checkpoints

    inst = _instance()
    with inst.unit_of_work() as session:
        cp = checkpoints.write(inst, session)
    click.echo(f"Checkpoint written: entry {cp.entry}." if cp else "The audit trail is empty; nothing to sign.")


@cli.group("access")
def access_group():
    """The access policy."""


@access_group.command("table")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "csv"]), default="text", show_default=True,
              help="Aligned columns with a legend, a Markdown table for documents, or CSV for a spreadsheet.")
def access_table(fmt: str):
    """Print the permission table (permission × role → scope) from the one policy.

    A dash means the role does not hold the permission. A member of staff named as
    complained about on a record is refused everything on it, whatever this table says."""
    header = ["permission", *ROLES]
    rows = [[perm, *(grants.get(r, "-") for r in ROLES)] for perm, grants in policy.table()]
    if fmt == "csv":
        import csv

        out = csv.writer(sys.stdout, lineterminator="\n")
        out.writerows([header, *rows])
        return
    if fmt == "markdown":
        click.echo("| " + " | ".join(header) + " |")
        click.echo("|" + "---|" * len(header))
        for row in rows:
            click.echo("| " + " | ".join(row) + " |")
        return
    widths = [max(len(row[i]) for row in [header, *rows]) + 2 for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    click.echo("\nScopes:")
    for scope, meaning in policy.SCOPES.items():
        click.echo(f"  {scope:<10} {meaning}")
    click.echo("Staff named as complained about on a record are refused everything on it, whatever their roles.")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 256),
              help="Worker threads of this process.")
@click.option("--trusted-proxy", metavar="ADDRESS",
              help="The reverse proxy's address; its X-Forwarded-For/-Proto headers are then believed.")
def serve_command(host, port, threads, trusted_proxy):
    """Serve in production with waitress; one JSON log line per request on stdout.

    One process with --threads threads. For several processes run several `xinfang serve`
    on different ports behind the reverse proxy, or gunicorn:
    gunicorn -w 4 -b 127.0.0.1:8000 'app.serve:create_production_app()'"""
    from .serve import serve

    try:
        serve(host=host, port=port, threads=threads, trusted_proxy=trusted_proxy)
    except XinfangError as exc:
        _fail(exc.message)


@cli.group("workflow")
def workflow_group():
    """The life of a matter (states, transitions, deadlines)."""


@workflow_group.command("table")
@click.option("--json", "as_json", is_flag=True, help="Print the transitions as JSON.")
@with_appcontext
def workflow_table(as_json: bool):
    """Print the workflow: states, per transition its permission, fields, guards, effects and
    letter, and the time limits in force."""
    from records.cases import deadlines, workflow

    if as_json:
        import json

        click.echo(json.dumps(workflow.table(), ensure_ascii=False, indent=2))
        return
    try:
        limits = deadlines.limits_of(current_app.config["XINFANG_SETTINGS"])
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(workflow.format_table(limits))


@workflow_group.command("sweep")
@click.option("--today", default=None, help="The office's date to sweep as of (YYYY-MM-DD; default: today).")
@with_appcontext
def workflow_sweep(today: str | None):
    """Conclude the matters whose petitioner's review (or re-review) window closed with no
    request made; each gets an event and an audit entry. Run it daily (cron)."""
    import datetime as dt

    from records.cases import sweep

    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        _fail("--today must be a date like 2026-11-25.")
    with _instance().unit_of_work() as session:
        result = sweep.sweep(session, today=day)
    click.echo(f"{len(result.concluded)} matter(s) concluded as of {result.today.isoformat()}"
               + (": " + ", ".join(result.concluded) if result.concluded else "."))


def _add_retention_commands() -> None:
    from .retention.cli import retention_group

    cli.add_command(retention_group)


_add_retention_commands()


def _add_security_commands() -> None:
    """keys rotate|status|retire, backup, restore, and the account commands of app/admin/cli.py."""
    from .admin.cli import backup_command, keys_group, restore_command, users_commands

    cli.add_command(keys_group)
    cli.add_command(backup_command)
    cli.add_command(restore_command)
    for command in users_commands:
        users_group.add_command(command)


_add_security_commands()


def _add_search_commands() -> None:
    """search reindex|sync|check|purge (app/search/cli.py)."""
    from .search.cli import search_group

    cli.add_command(search_group)


_add_search_commands()


def _add_report_commands() -> None:
    """report monthly|inspection (app/stats/cli.py)."""
    from .stats.cli import report_group

    cli.add_command(report_group)


_add_report_commands()


def _add_job_commands() -> None:
    """jobs run|list|show (app/jobs/cli.py)."""
    from .jobs.cli import jobs_group

    cli.add_command(jobs_group)


_add_job_commands()


def _add_intake_commands() -> None:
    """intake mail|ocr (app/intake/cli.py)."""
    from .intake.cli import intake_group

    cli.add_command(intake_group)


_add_intake_commands()


def _add_reference_commands() -> None:
    """categories, units, calendar, regions, letterhead (app/reference/cli.py)."""
    from .reference.cli import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_reference_commands()


def main() -> None:
    cli(prog_name="xinfang")
