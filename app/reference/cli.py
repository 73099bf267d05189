"""``xinfang categories|units|calendar|regions|letterhead …``: the reference data from the
console. The operator at the console owns the instance (as for ``init``); every change is
audited like the administrator's on the web."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from records.errors import XinfangError
from records.reference import calendar, categories, letterhead, regions, units


def _uow():
    return current_app.extensions["xinfang"].unit_of_work()


def _fail(exc: XinfangError):
    message = exc.message + "".join(f"\n  {k}: {v}" for k, v in exc.fields.items() if v not in exc.message)
    click.secho(message, fg="red", err=True)
    sys.exit(1)


def _run(work):
    try:
        with _uow() as session:
            return work(session)
    except XinfangError as exc:
        _fail(exc)


# -- categories -----------------------------------------------------------------------------------

@click.group("categories")
def categories_group():
    """The bureau's categories: list, add, rename, deactivate, reactivate, remove."""


@categories_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def categories_list(as_json: bool):
    """Every category with its records and state."""
    rows = _run(lambda s: [categories.as_dict(c, used=categories.in_use(s, c.code))
                           for c in categories.all_categories(s)])
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for c in rows:
        state = "" if c["active"] else "  (inactive)"
        indent = "  " if c["parent"] else ""
        click.echo(f"{indent}{c['code']:<24} {c['name']} / {c['name_en']}  {c['records']} record(s){state}")


@categories_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--en", "name_en", default="", help="English name.")
@click.option("--parent", default=None, help="Make it a sub-category of this category's code.")
@with_appcontext
def categories_add(code, name, name_en, parent):
    """Add category CODE (a-z, 0-9, _) named NAME (either script; the other is derived)."""
    _run(lambda s: categories.add(s, {"code": code, "name": name, "name_en": name_en, "parent": parent}))
    click.echo(f"Added category {code}.")


@categories_group.command("rename")
@click.argument("code")
@click.argument("name")
@click.option("--en", "name_en", default=None, help="English name.")
@with_appcontext
def categories_rename(code, name, name_en):
    """Rename category CODE (its code never changes)."""
    values = {"name": name, **({"name_en": name_en} if name_en is not None else {})}
    _run(lambda s: categories.change(s, code, values))
    click.echo(f"Renamed {code}.")


@categories_group.command("deactivate")
@click.argument("code")
@with_appcontext
def categories_deactivate(code):
    """No longer offer CODE (its records keep it)."""
    _run(lambda s: categories.change(s, code, {"active": False}))
    click.echo(f"Deactivated {code}.")


@categories_group.command("reactivate")
@click.argument("code")
@with_appcontext
def categories_reactivate(code):
    _run(lambda s: categories.change(s, code, {"active": True}))
    click.echo(f"Reactivated {code}.")


@categories_group.command("remove")
@click.argument("code")
@with_appcontext
def categories_remove(code):
    """Delete CODE if no record ever carried it (otherwise deactivate it)."""
    _run(lambda s: categories.remove(s, code))
    click.echo(f"Removed {code}.")


@categories_group.command("preset")
@click.argument("preset", type=click.Choice(list(categories.PRESETS)))
@with_appcontext
def categories_preset(preset):
    """Add the categories of PRESET that are missing."""
    added = _run(lambda s: categories.apply_preset(s, preset))
    click.echo(f"{added} categories added.")


# -- offices and units ------------------------------------------------------------------------------

@click.group("units")
def units_group():
    """Internal offices and external units: list, add, rename, set regions, deactivate, remove."""


@units_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def units_list(as_json: bool):
    rows = _run(lambda s: [units.as_dict(o, use=units.in_use(s, o)) for o in units.all_units(s)])
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for o in rows:
        kind = "intake" if o["intake"] else "external" if o["external"] else "office"
        state = "" if o["active"] else "  (inactive)"
        click.echo(f"{o['code']:<10} {kind:<8} {o['name']}  {' '.join(o['regions'])}{state}")


@units_group.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--external", is_flag=True, help="An external unit (county/district department) matters are transferred to.")
@click.option("--region", "region_codes", multiple=True, help="A region code the unit covers; repeat for several.")
@with_appcontext
def units_add(code, name, external, region_codes):
    _run(lambda s: units.add(s, {"code": code, "name": name, "external": external, "regions": list(region_codes)}))
    click.echo(f"Added {code}.")


@units_group.command("rename")
@click.argument("code")
@click.argument("name")
@with_appcontext
def units_rename(code, name):
    _run(lambda s: units.change(s, code, {"name": name}))
    click.echo(f"Renamed {code}.")


@units_group.command("regions")
@click.argument("code")
@click.argument("region_codes", nargs=-1)
@with_appcontext
def units_regions(code, region_codes):
    """Set the regions external unit CODE covers (none given: it covers none)."""
    _run(lambda s: units.change(s, code, {"regions": list(region_codes)}))
    click.echo(f"{code} covers {' '.join(region_codes) or 'no region'}.")


@units_group.command("deactivate")
@click.argument("code")
@with_appcontext
def units_deactivate(code):
    _run(lambda s: units.change(s, code, {"active": False}))
    click.echo(f"Deactivated {code}.")


@units_group.command("reactivate")
@click.argument("code")
@with_appcontext
def units_reactivate(code):
    _run(lambda s: units.change(s, code, {"active": True}))
    click.echo(f"Reactivated {code}.")


@units_group.command("remove")
@click.argument("code")
@with_appcontext
def units_remove(code):
    _run(lambda s: units.remove(s, code))
    click.echo(f"Removed {code}.")


# -- calendar -----------------------------------------------------------------------------------------

@click.group("calendar")
def calendar_group():
    """The official working-day calendar (holidays and make-up working days per year)."""


@calendar_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def calendar_import(path: Path):
    """Import PATH: one day per line, 'YYYY-MM-DD holiday|workday [name]' (休/班 also), 'year YYYY'
    for a year with no exception, '#' comments. Replaces each year it names; all or nothing."""
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        click.secho(f"{path} is not UTF-8 text.", fg="red", err=True)
        sys.exit(1)
    years = _run(lambda s: calendar.import_text(s, text, source=f"import {path.name}"[:100]))
    click.echo(f"Imported the calendar of {', '.join(map(str, years))}.")


@calendar_group.command("show")
@click.argument("year", type=int)
@with_appcontext
def calendar_show(year: int):
    """Print YEAR in the import format (or say it is provisional)."""
    def work(s):
        return calendar.is_provisional(s, year), calendar.export_text(s, year)
    provisional, text = _run(work)
    if provisional:
        click.secho(f"No official calendar entered for {year}: it is provisional (Monday to Friday).", fg="yellow")
        return
    click.echo(text, nl=False)


@calendar_group.command("years")
@with_appcontext
def calendar_years():
    for row in _run(lambda s: [(y.year, y.source) for y in calendar.years(s)]):
        click.echo(f"{row[0]}  {row[1]}")


# -- regions and jurisdiction ---------------------------------------------------------------------------

@click.group("regions")
def regions_group():
    """Find region codes; show or set the bureau's jurisdiction."""


@regions_group.command("find")
@click.argument("query")
@with_appcontext
def regions_find(query):
    """Regions whose code starts with QUERY or whose name (either script) contains it."""
    rows = _run(lambda s: [regions.as_dict(s, r) for r in regions.search(s, query, limit=50)])
    for r in rows:
        note = (f"  retired, now {r['successor']}" if r["retired"] else "") + \
               ("  (outside our area)" if r["outside_jurisdiction"] else "")
        click.echo(f"{r['code']}  {r['full_name']}{note}")
    if not rows:
        click.echo("No region matches.")


@regions_group.command("jurisdiction")
@click.argument("code", required=False)
@with_appcontext
def regions_jurisdiction(code):
    """Show the bureau's area, or make CODE the area."""
    def work(s):
        region = regions.set_jurisdiction(s, code) if code else regions.jurisdiction(s)
        return regions.as_dict(s, region) if region else None
    area = _run(work)
    click.echo(f"{area['code']}  {area['full_name']}" if area else "No jurisdiction set.")


@regions_group.command("source")
def regions_source():
    """Where the national list comes from, and its date."""
    click.echo(regions.source_note())


# -- letterhead -------------------------------------------------------------------------------------------

@click.group("letterhead")
def letterhead_group():
    """The letterhead every notice, reply and certificate carries."""


@letterhead_group.command("show")
@with_appcontext
def letterhead_show():
    head = _run(letterhead.current)
    for name, value in head.as_dict().items():
        click.echo(f"{name:<16} {value}")


@letterhead_group.command("set")
@click.option("--bureau-name")
@click.option("--issuing-office")
@click.option("--superior-body")
@click.option("--number-pattern", help="With {year} and {seq}, e.g. 'X科信〔{year}〕{seq}號'.")
@click.option("--seal-line")
@click.option("--signature-block")
@with_appcontext
def letterhead_set(**values):
    given = {k: v for k, v in values.items() if v is not None}
    if not given:
        click.secho("Give at least one field to change.", fg="red", err=True)
        sys.exit(2)
    _run(lambda s: letterhead.update_letterhead(s, given))
    click.echo("Letterhead saved.")


COMMANDS = (categories_group, units_group, calendar_group, regions_group, letterhead_group)
