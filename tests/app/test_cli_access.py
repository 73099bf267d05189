"""`xinfang access table`: the permission table printed from the one policy, in each format."""
from __future__ import annotations

import csv
import io

import pytest
from click.testing import CliRunner

from app.cli import cli
from records import policy
from records.reference.vocab import ROLES


def table(*args: str) -> str:
    result = CliRunner().invoke(cli, ["access", "table", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_text_columns_line_up_and_the_scopes_are_explained():
    out = table()
    lines = out.splitlines()
    header = lines[0].split()
    assert header == ["permission", *ROLES]
    starts = [lines[0].index(role) for role in ROLES]
    rows = lines[1:1 + len(policy.PERMISSIONS)]
    for line, (perm, grants) in zip(rows, policy.table(), strict=True):
        assert line.split() == [perm, *(grants.get(r, "-") for r in ROLES)]
        # every scope starts under its role's heading, however long the permission's name
        assert [line[s - 1] for s in starts] == [" "] * len(ROLES) and all(line[s] != " " for s in starts)
    for scope, meaning in policy.SCOPES.items():
        assert f"{scope}" in out and meaning in out
    assert "complained about" in out


def test_csv_and_markdown_hold_the_same_table():
    rows = list(csv.reader(io.StringIO(table("--format", "csv"))))
    assert rows[0] == ["permission", *ROLES]
    assert {r[0]: dict(zip(ROLES, r[1:], strict=True)) for r in rows[1:]} == {
        perm: {role: grants.get(role, "-") for role in ROLES} for perm, grants in policy.table()}
    md = table("--format", "markdown").splitlines()
    assert md[0] == "| permission | " + " | ".join(ROLES) + " |" and len(md) == len(rows) + 1
    assert md[2].startswith("| register | ")


@pytest.mark.parametrize("fmt", ["html", ""])
def test_an_unknown_format_is_refused(fmt):
    result = CliRunner().invoke(cli, ["access", "table", "--format", fmt])
    assert result.exit_code == 2 and "Invalid value for '--format'" in result.output
