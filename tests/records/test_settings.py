"""Typed settings: every XINFANG_* variable read in one place, with clear errors for bad values."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from records.errors import ConfigurationError
from records.settings import Settings


def test_defaults(tmp_path):
    s = Settings.from_env({}, home=str(tmp_path))
    assert s.home == tmp_path.resolve()
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'xinfang.sqlite3'}"
    assert (s.master_key_source, s.master_key, s.master_key_file) == ("file", None, None)
    assert s.key_file == tmp_path.resolve() / "keys" / "master.key"
    assert (s.search_backend, s.search_cache_mb, s.search_procs) == ("whoosh", 96, 1)
    assert s.deadlines is None and s.retention is None and s.cjk_font is None and s.secret_key is None
    assert s.secure_cookies is False
    assert s.tz == ZoneInfo("Asia/Shanghai") and s.tz is s.tz   # built once


def test_every_variable_is_read(tmp_path):
    env = {
        "XINFANG_HOME": str(tmp_path / "home"),
        "XINFANG_DATABASE_URL": "postgresql+psycopg://u@db/x",
        "XINFANG_MASTER_KEY": '{"keys": {}}',
        "XINFANG_MASTER_KEY_FILE": str(tmp_path / "k.key"),
        "XINFANG_TIMEZONE": "Asia/Urumqi",
        "XINFANG_DEADLINES": '{"conclusion_days": 45}',
        "XINFANG_RETENTION": '{"default_years": 3}',
        "XINFANG_CJK_FONT": "/fonts/x.ttc#3",
        "XINFANG_SEARCH_BACKEND": " PG ",
        "XINFANG_SEARCH_CACHE_MB": "512",
        "XINFANG_SEARCH_PROCS": "4",
        "XINFANG_SECRET_KEY": "s3cret",
        "XINFANG_SECURE_COOKIES": "1",
        "XINFANG_INDEX_AFTER_COMMIT": "0",
    }
    s = Settings.from_env(env)
    assert s.home == (tmp_path / "home").resolve() and s.database_url == "postgresql+psycopg://u@db/x"
    assert s.master_key_source == "env" and s.master_key == '{"keys": {}}'
    assert s.master_key_file == (tmp_path / "k.key").resolve() and s.key_file == s.master_key_file
    assert s.tz == ZoneInfo("Asia/Urumqi")
    assert s.deadlines == {"conclusion_days": 45} and s.retention == {"default_years": 3}
    assert s.cjk_font == "/fonts/x.ttc#3"
    assert (s.search_backend, s.search_cache_bytes, s.search_procs) == ("postgresql", 512 * 1024 * 1024, 4)
    assert s.secret_key == "s3cret" and s.secure_cookies is True and s.index_after_commit is False
    # secrets stay out of the representation (logs, error pages)
    assert "s3cret" not in repr(s) and "keys" not in repr(s)
    # what the entry point passes wins over the environment
    assert Settings.from_env(env, home=str(tmp_path), search_backend="whoosh").search_backend == "whoosh"
    assert Settings.from_env(env, home=str(tmp_path)).home == tmp_path.resolve()


@pytest.mark.parametrize("name,value,message", [
    ("XINFANG_SEARCH_CACHE_MB", "abc", "XINFANG_SEARCH_CACHE_MB must be a whole number of megabytes, got 'abc'"),
    ("XINFANG_SEARCH_CACHE_MB", "0", "XINFANG_SEARCH_CACHE_MB must be a whole number of megabytes from 1 to 65536"),
    ("XINFANG_SEARCH_PROCS", "two", "XINFANG_SEARCH_PROCS must be a whole number of processes, got 'two'"),
    ("XINFANG_SEARCH_BACKEND", "elastic", "Unknown search backend 'elastic' (XINFANG_SEARCH_BACKEND)"),
    ("XINFANG_MASTER_KEY_SOURCE", "vault", "XINFANG_MASTER_KEY_SOURCE: use 'file' or 'env'"),
    ("XINFANG_TIMEZONE", "Mars/Olympus", "XINFANG_TIMEZONE must be a time zone name"),
    ("XINFANG_DEADLINES", "{", "XINFANG_DEADLINES is not valid JSON"),
    ("XINFANG_RETENTION", "[2]", "XINFANG_RETENTION must be a JSON object"),
    ("XINFANG_SECURE_COOKIES", "maybe", "XINFANG_SECURE_COOKIES must be 1 or 0, got 'maybe'"),
    ("XINFANG_INDEX_AFTER_COMMIT", "later", "XINFANG_INDEX_AFTER_COMMIT must be 1 or 0, got 'later'"),
])
def test_a_bad_value_names_the_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigurationError) as err:
        Settings.from_env({name: value}, home=str(tmp_path))
    assert message in err.value.message


def test_typed_fields_are_checked_when_passed_in_too(tmp_path):
    with pytest.raises(ConfigurationError, match="XINFANG_SEARCH_CACHE_MB"):
        Settings(home=Path(tmp_path), database_url="sqlite://", search_cache_mb=True)
    with pytest.raises(TypeError, match="extra"):
        Settings.from_env({}, home=str(tmp_path), extra={"deadlines": {}})


def test_reading_the_settings_touches_nothing(tmp_path):
    Settings.from_env({"XINFANG_HOME": str(tmp_path / "never")})
    assert not (tmp_path / "never").exists()
