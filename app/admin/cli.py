"""Operator commands: ``xinfang keys …``, ``xinfang backup``, ``xinfang restore`` and the
account commands ``xinfang users deactivate|activate|password|reset-2fa|unlock``."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from records.accounts import operations as accounts, lockout, totp
from records import audit, keys
from records.errors import XinfangError

from ..composition import build_instance


def _instance():
    return current_app.extensions["xinfang"]


def _fail(message: str, code: int = 1):
    click.secho(message, fg="red", err=True)
    sys.exit(code)


# -- keys -----------------------------------------------------------------------------
@click.group("keys")
def keys_group():
    """Master key versions: rotate, status, retire."""


@keys_group.command("status")
@with_appcontext
def keys_status():
    """Show the keyring's versions and, per holder of wrapped material (record keys, batch
    key files), how many items each version wraps."""
    inst = _instance()
    try:
        ring = inst.keyring
        counts = keys.usage(inst)
    except XinfangError as exc:
        _fail(exc.message)
    for version in sorted(ring.versions):
        mark = " (current)" if version == ring.current else ""
        ref = f"master:{version}"
        per = ", ".join(f"{name}: {held.get(ref, 0)}" for name, held in counts.items())
        click.echo(f"{ref}{mark}: {per}")
    retired = sorted({ref for held in counts.values() for ref in held
                      if ref.startswith("master:") and int(ref.partition(":")[2]) not in ring.versions})
    for ref in retired:
        click.secho(f"{ref} (NOT IN THE KEYRING): " + ", ".join(
            f"{name}: {held.get(ref, 0)}" for name, held in counts.items()), fg="red")
    for name, held in counts.items():
        other = sum(n for ref, n in held.items() if not ref.startswith("master:"))
        if other:
            click.echo(f"{name} under other keys (stored letters under their batch keys): {other}")


@keys_group.command("rotate")
@click.option("--batch", default=keys.BATCH, show_default=True, type=click.IntRange(1, 100_000),
              help="Data keys re-wrapped per transaction.")
@click.option("--resume-only", is_flag=True, help="Only finish an interrupted rotation; add no version.")
@with_appcontext
def keys_rotate(batch: int, resume_only: bool):
    """Add a master key version and re-wrap everything wrapped by an older one under it:
    record keys and the batch key files of the key store (no document is re-encrypted).
    Safe to kill: run it again and it carries on where it stopped."""
    inst = _instance()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=max(total, 1), label="Re-wrapping record keys and batch key files")
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        report = keys.rotate(inst, batch=batch, new_version=False if resume_only else None, progress=progress)
    except XinfangError as exc:
        _fail(exc.message)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if report.added_version:
        click.echo(f"Added master key version {report.version}.")
    else:
        click.echo(f"Resumed the rotation to master key version {report.version}.")
    per = ", ".join(f"{name}: {n}" for name, n in report.by_holder.items()) or "nothing to do"
    click.echo(f"Re-wrapped {report.rewrapped} ({per}); {report.remaining} still under older versions.")
    click.echo("Running servers read the new key file at their next request. Retire the old version with "
               "'xinfang keys retire VERSION' (refused while anything is still wrapped by it).")


@keys_group.command("retire")
@click.argument("version", type=click.IntRange(1, None))
@with_appcontext
def keys_retire(version: int):
    """Remove an old master key VERSION; refused, naming what, while anything (a record key,
    a batch key file) is still wrapped by it."""
    try:
        keys.retire(_instance(), version)
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(f"Retired master key version {version}.")


# -- backup and restore -------------------------------------------------------------------
@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(dest: Path):
    """Consistent online copy into DEST/data (database, blobs, index) and DEST/keys (key store).
    Keep DEST/keys on different media from DEST/data. SQLite only; for PostgreSQL use pg_dump."""
    from records.backup import backup

    try:
        from search.indexer import writer_lock

        inst = _instance()
        report = backup(inst, dest, progress=lambda step: click.echo(f"copying {step}…"),
                        index_lock=lambda: writer_lock(inst))
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(f"Backed up {report.records} records and {report.blobs} attachment files into {report.data_dir}.")
    click.secho(f"Key store copied to {report.keys_dir}: move it to different media from the data folder.",
                fg="yellow")


@click.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--keys", "keys_src", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The backup's keys folder.")
@with_appcontext
def restore_command(src: Path, keys_src: Path):
    """Restore backup SRC (its data folder) with the key store KEYS into a fresh instance
    ($XINFANG_HOME), then verify that every record decrypts."""
    from records.backup import restore

    settings = current_app.config["XINFANG_SETTINGS"]
    try:
        report = restore(settings, src, keys_src, build=build_instance,
                         progress=lambda step: click.echo(f"restoring {step}…"))
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(f"Restored into {settings.home}: {report.records} records, {report.versions} earlier versions and "
               f"{report.attachments} attachments decrypt; audit trail intact ({report.audit_entries} entries).")


# -- accounts -------------------------------------------------------------------------------
def _account_command(name: str, help_: str):
    def decorate(fn):
        return click.command(name, help=help_)(click.argument("username")(with_appcontext(fn)))
    return decorate


@_account_command("deactivate", "Deactivate USERNAME (ends their sessions; API tokens stop working).")
def users_deactivate(username: str):
    _set_active(username, False)


@_account_command("activate", "Reactivate USERNAME.")
def users_activate(username: str):
    _set_active(username, True)


def _set_active(username: str, active: bool) -> None:
    try:
        with _instance().unit_of_work() as s:
            accounts.set_active(s, accounts.get_user(s, username), active)
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(f"{username} is now {'active' if active else 'inactive'}.")


@click.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
@with_appcontext
def users_password(username: str, password_stdin: bool):
    """Set a new password for USERNAME (ends their sessions)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else \
        click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        with _instance().unit_of_work() as s:
            accounts.set_password(s, accounts.get_user(s, username), password)
    except XinfangError as exc:
        _fail(exc.message + "".join(f"\n  {k}: {v}" for k, v in exc.fields.items()))
    click.echo(f"Password of {username} changed.")


@_account_command("reset-2fa", "Remove USERNAME's authenticator and recovery codes; they enrol again at next sign-in.")
def users_reset_2fa(username: str):
    try:
        with _instance().unit_of_work() as s:
            totp.reset(s, accounts.get_user(s, username))
    except XinfangError as exc:
        _fail(exc.message)
    click.echo(f"Second factor of {username} reset.")


@_account_command("unlock", "Lift a sign-in lock on USERNAME after repeated failures.")
def users_unlock(username: str):
    with _instance().unit_of_work() as s:
        lifted = lockout.unlock(s, username)
        if lifted:
            audit.record(s, "user.unlock", actor_name="system", target=username[:64])
    click.echo(f"{username} unlocked." if lifted else f"{username} was not locked.")


users_commands = (users_deactivate, users_activate, users_password, users_reset_2fa, users_unlock)
