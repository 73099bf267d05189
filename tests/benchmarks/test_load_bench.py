"""benchmarks/load_bench.py (issue 19): the commands and environment of the server and the
separate indexer, and the settings an instance folder remembers (no load is run here)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import load_bench

ADMIN = "postgresql+psycopg://postgres@db.example:5432/postgres"


@pytest.fixture
def created(monkeypatch):
    """records.db.create_database without a server: the names it was asked for."""
    made: list[str] = []

    def fake_create(admin_url, prefix):
        made.append(admin_url)
        name = f"{prefix}{len(made)}"
        return name, admin_url.rsplit("/", 1)[0] + "/" + name

    monkeypatch.setattr("records.db.create_database", fake_create)
    return made


def test_two_gunicorn_processes_of_four_threads_and_the_separate_indexer():
    args = load_bench.parse_args(["--server", "gunicorn", "--workers", "2", "--threads", "4", "--indexer",
                                  "--search-backend", "postgresql", "--database-url", ADMIN])
    command = load_bench.server_command(args, 8123)
    assert Path(command[0]).name == "gunicorn"
    assert command[command.index("-w") + 1] == "2" and command[command.index("--threads") + 1] == "4"
    assert command[command.index("-k") + 1] == "gthread" and "127.0.0.1:8123" in command
    assert command[-1] == "app.serve:create_production_app()"
    assert args.indexer and args.search_backend == "postgresql" and args.database_url == ADMIN
    indexer = load_bench.indexer_command()
    assert Path(indexer[0]).name == "xinfang" and indexer[1:] == ["search", "sync", "--follow"]


def test_waitress_is_still_the_default_without_an_indexer():
    args = load_bench.parse_args([])
    assert (args.server, args.indexer, args.database_url, args.search_backend) == ("waitress", False, None, None)
    assert load_bench.server_command(args, 8123)[1:] == ["serve", "--host", "127.0.0.1", "--port", "8123",
                                                         "--threads", "8"]


def test_the_processes_get_the_instance_settings_and_none_of_this_shell_s(tmp_path):
    settings = {"XINFANG_DATABASE_URL": "postgresql+psycopg://postgres@db.example:5432/xinfang_load_1",
                "XINFANG_SEARCH_BACKEND": "postgresql"}
    env = load_bench.process_env({"PATH": "/usr/bin", "XINFANG_DATABASE_URL": "sqlite:///elsewhere",
                                  "XINFANG_SECURE_COOKIES": "1"}, settings, tmp_path)
    assert env == {"PATH": "/usr/bin", **settings, "XINFANG_HOME": str(tmp_path)}
    from records.settings import Settings   # read the way the server processes read them

    read = Settings.from_env(env)
    assert (read.home, read.search_backend, read.is_sqlite) == (tmp_path.resolve(), "postgresql", False)


def test_a_new_instance_gets_its_own_database_and_remembers_it(tmp_path, created):
    home = tmp_path / "xfload"
    env, name = load_bench.instance_env(home, ADMIN, "postgresql")
    assert created == [ADMIN] and name == "xinfang_load_1"
    assert env == {"XINFANG_SEARCH_BACKEND": "postgresql",
                   "XINFANG_DATABASE_URL": "postgresql+psycopg://postgres@db.example:5432/xinfang_load_1"}
    saved = home / load_bench.SETTINGS_FILE
    assert json.loads(saved.read_text()) == env and saved.stat().st_mode & 0o077 == 0
    # a second run with --home alone (or the same options) reuses the database, creating none
    assert load_bench.instance_env(home, None, None) == (env, None)
    assert load_bench.instance_env(home, ADMIN, "postgresql") == (env, None)
    assert created == [ADMIN]


def test_reusing_an_instance_with_other_settings_is_refused(tmp_path, created):
    home = tmp_path / "xfload"
    assert load_bench.instance_env(home, None, None) == ({"XINFANG_SEARCH_BACKEND": "whoosh"}, None)
    with pytest.raises(SystemExit, match="was built with"):
        load_bench.instance_env(home, None, "postgresql")
    with pytest.raises(SystemExit, match="was built with"):
        load_bench.instance_env(home, ADMIN, None)
    assert created == []


def test_an_instance_built_before_settings_were_remembered_is_sqlite_and_whoosh(tmp_path, created):
    (tmp_path / load_bench.STARTED).write_text("")
    assert load_bench.instance_env(tmp_path, None, None) == ({}, None)
    with pytest.raises(SystemExit, match="SQLite and Whoosh"):
        load_bench.instance_env(tmp_path, ADMIN, "postgresql")
    assert created == []


def test_the_indexer_log_is_checked_for_failures():
    assert load_bench.log_problems("Applied 0 pending changes (0 indexed, 0 removed).\n"
                                   "Following the outbox; Ctrl-C stops.\nApplied 3 changes (3 indexed, 0 removed).\n"
                                   "Stopped.\n") == 0
    assert load_bench.log_problems("Traceback (most recent call last):\n  ...\n"
                                   "search: draining the outbox failed (OperationalError)\n") == 2


def test_a_kept_instance_grows_to_a_larger_records_and_is_reused_at_a_smaller_one(tmp_path):
    assert load_bench.needs_letters(tmp_path, 2000)
    (tmp_path / load_bench.BUILT).write_text("40000")
    assert not load_bench.needs_letters(tmp_path, 2000) and not load_bench.needs_letters(tmp_path, 40000)
    assert load_bench.needs_letters(tmp_path, 100000)


def test_a_built_instance_has_every_letter_indexed_and_nothing_left_in_the_outbox(tmp_path):
    """The build registers through the service and indexes once at the end (a rebuild, as
    `xinfang search reindex` does), so the run starts with the index complete."""
    from app.composition import build_instance
    from records.settings import Settings
    from search.indexer import pending, service

    load_bench.build_instance(tmp_path, 30, seed=3)
    assert load_bench.needs_letters(tmp_path, 30) is False
    inst = build_instance(Settings.from_env({}, home=str(tmp_path)))
    try:
        assert pending(inst) == 0
        assert service(inst).backend.doc_count() == 30
    finally:
        inst.close()


def test_gunicorn_missing_stops_before_the_build(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(load_bench, "server_command", lambda args, port: [str(tmp_path / "no-gunicorn")])
    monkeypatch.setattr(load_bench, "build_instance", lambda *a, **k: pytest.fail("built without a server"))
    assert load_bench.main(["--server", "gunicorn", "--home", str(tmp_path / "home"), "--records", "10"]) == 2
    assert "pip install -e '.[gunicorn]'" in capsys.readouterr().err


def test_the_machine_s_cpu_is_told_in_cores_with_the_steal_of_a_busy_neighbour(monkeypatch):
    monkeypatch.setattr("os.sysconf", lambda name: 100)
    before = [1000, 0, 200, 5000, 10, 0, 5, 0]
    after = [1000 + 6600, 0, 200 + 1200, 5000 + 3600, 10 + 60, 0, 5 + 120, 600]   # 60 s, ticks of 1/100 s
    line = load_bench.cpu_line(before, after, 60.0)
    assert "busy 1.32 (user 1.10, system 0.20)" in line
    assert "idle 0.60" in line and "I/O wait 0.01" in line and "steal 0.10" in line
    assert load_bench.cpu_line(None, after, 60.0) == "machine CPU: not measured (no /proc/stat)"


def test_the_machine_s_cpu_is_read_from_proc_stat_on_linux():
    got = load_bench.machine_cpu()
    if not Path("/proc/stat").exists():
        assert got is None
    else:
        assert got is not None and len(got) == len(load_bench.CPU_STATES) and all(v >= 0 for v in got)


def test_indexing_left_to_the_indexer_reaches_the_server_processes(tmp_path, capsys):
    args = load_bench.parse_args(["--server", "gunicorn", "--indexer", "--indexer-only"])
    assert args.indexer_only
    env = load_bench.process_env({"PATH": "/usr/bin"}, {}, tmp_path, index_after_commit=not args.indexer_only)
    from records.settings import Settings

    assert Settings.from_env(env).index_after_commit is False
    assert Settings.from_env(load_bench.process_env({}, {}, tmp_path)).index_after_commit is True
    with pytest.raises(SystemExit):
        load_bench.parse_args(["--indexer-only"])   # nothing would index the registrations
    assert "--indexer-only needs --indexer" in capsys.readouterr().err
