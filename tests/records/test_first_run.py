"""The first run on a bare machine: `xinfang init` is all or nothing. What can be checked
first (the CJK font, the preset, the jurisdiction) is checked before anything is created; a
run that stops half-way is completed by the next one, which says so."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import app.cli as cli_module
from app.cli import cli
from app.composition import build_instance
from records.cases import notices
from records.errors import ConfigurationError
from records.models import Record
from records.reference import categories, regions
from records.reference.models import Office
from records.settings import Settings

_CLEAR = ("XINFANG_DATABASE_URL", "XINFANG_MASTER_KEY", "XINFANG_MASTER_KEY_SOURCE", "XINFANG_MASTER_KEY_FILE",
          "XINFANG_SECRET_KEY", "FLASK_APP", "XINFANG_CJK_FONT")


def xinfang(home: Path, *args: str, **env):
    full = {k: None for k in _CLEAR} | {"XINFANG_HOME": str(home)} | env
    return CliRunner().invoke(cli, list(args), env=full, catch_exceptions=False)


def _instance(home: Path):
    return build_instance(Settings.from_env({}, home=str(home)))


def test_init_demo_with_the_font_missing_fails_before_creating_anything(tmp_path):
    home = tmp_path / "instance"
    result = xinfang(home, "init", "--demo", XINFANG_CJK_FONT=str(tmp_path / "hidden" / "NotoSansCJK.ttc"))
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0] and "Traceback" not in result.output
    assert not home.exists(), "a failed init left a half-made instance"


def test_no_font_at_all_names_the_package(tmp_path, monkeypatch):
    home = tmp_path / "instance"
    monkeypatch.setattr(notices, "FONT_CANDIDATES", ((str(tmp_path / "none.ttc"), "TC"),))
    result = xinfang(home, "init")
    assert result.exit_code == 1 and "fonts-noto-cjk" in result.output
    assert not home.exists()


@pytest.mark.parametrize("args,needle", [
    (("--jurisdiction", "999999"), "national list"),
    (("--jurisdiction", "110103"), "retired"),
    (("--preset", "bakery"), "Invalid value"),
])
def test_bad_init_options_create_nothing(tmp_path, args, needle):
    home = tmp_path / "instance"
    result = xinfang(home, "init", *args)
    assert result.exit_code != 0 and needle in result.output
    assert not home.exists()


def test_a_run_that_stopped_half_way_is_completed_by_the_next(tmp_path, monkeypatch):
    home = tmp_path / "instance"
    real = cli_module._demo

    def broken_demo(users: bool, count: int, resume: bool = False) -> None:
        from records.demo import add_demo_records, create_demo_users

        with cli_module._instance().unit_of_work() as session:
            create_demo_users(session)
        with cli_module._instance().unit_of_work() as session:
            add_demo_records(session, 1, seed=1)
        raise ConfigurationError("the machine went away in the middle of the demo")

    monkeypatch.setattr(cli_module, "_demo", broken_demo)
    result = xinfang(home, "init", "--demo")
    assert result.exit_code == 1 and "run 'xinfang init' again" in result.output
    assert (home / "init.pending").is_file()
    # as `bash scripts/run.sh` does on its second run: a plain `xinfang init`
    monkeypatch.setattr(cli_module, "_demo", lambda users, count, resume=False: real(users, 3, resume=resume))
    result = xinfang(home, "init")
    assert result.exit_code == 0, result.output
    assert "did not finish; completing it now" in result.output
    assert "nothing to do" not in result.output
    assert not (home / "init.pending").exists()
    inst = _instance(home)
    try:
        with inst.unit_of_work() as s:
            # the one letter of the broken run, completed up to the count asked for
            assert s.execute(select(func.count()).select_from(Record)).scalar_one() == 3
    finally:
        inst.close()
    assert "nothing to do" in xinfang(home, "init").output


def test_preset_and_jurisdiction_at_init(tmp_path):
    home = tmp_path / "instance"
    result = xinfang(home, "init", "--preset", "science-tech", "--jurisdiction", "440300")
    assert result.exit_code == 0, result.output
    inst = _instance(home)
    try:
        with inst.unit_of_work() as s:
            codes = categories.codes(s)
            assert {"research_projects", "tech_transfer", "science_awards", "patents_ip", "staff_retirees",
                    "bureau_functions"} <= set(codes)
            assert "labour_wages" not in codes
            assert regions.jurisdiction(s).code == "440300"
            assert s.execute(select(Office).where(Office.code == "KYGL")).scalar_one().name == "科研項目管理處"
    finally:
        inst.close()
    assert "440300" in xinfang(home, "regions", "jurisdiction").output
