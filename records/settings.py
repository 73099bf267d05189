"""Settings of one instance: every ``XINFANG_*`` environment variable, typed and checked.

This is the only module that reads the environment, and only when asked
(:meth:`Settings.from_env`, called by the entry points), never at import. Everything else is
handed a :class:`Settings`. A bad value stops start-up with a ConfigurationError naming the
variable and what it should be.

=============================  ===========================================================
``XINFANG_HOME``               the instance folder (keys, blobs, index); default ``instance``
``XINFANG_DATABASE_URL``       SQLAlchemy URL; default a SQLite file in the instance folder
``XINFANG_MASTER_KEY_SOURCE``  ``file`` (the key file) or ``env`` (``XINFANG_MASTER_KEY``)
``XINFANG_MASTER_KEY_FILE``    another place for the key file
``XINFANG_MASTER_KEY``         the keyring as JSON (source ``env``)
``XINFANG_TIMEZONE``           the office's time zone (IANA name); default ``Asia/Shanghai``
``XINFANG_DEADLINES``          JSON object overriding the time limits (records.cases.deadlines)
``XINFANG_RETENTION``          JSON object of retention periods (retention.schedules)
``XINFANG_CJK_FONT``           the CJK font for notices and reports (``path`` or ``path#n``)
``XINFANG_SEARCH_BACKEND``     ``whoosh`` (default) or ``postgresql``
``XINFANG_SEARCH_CACHE_MB``    megabytes kept between searches per process (96): Whoosh's segment
                               arrays, or the PostgreSQL backend's hits of queries asked again
``XINFANG_SEARCH_PROCS``       processes of a search rebuild (1)
``XINFANG_SECRET_KEY``         the session secret (default: the one ``xinfang init`` wrote)
``XINFANG_SECURE_COOKIES``     ``1``: session cookies only over HTTPS
=============================  ===========================================================
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from records.errors import ConfigurationError

#: The petition office's own intake office; every new record starts there.
INTAKE_OFFICE_CODE = "XFB"
#: Where the master key comes from.
MASTER_KEY_SOURCES = ("file", "env")
#: The search backends (search.factory builds them) and the other names they go by.
SEARCH_BACKENDS = ("whoosh", "postgresql")
SEARCH_BACKEND_ALIASES = {"postgres": "postgresql", "pg": "postgresql"}
DEFAULT_CACHE_MB = 96


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    #: Where the master key comes from: "file" (key file in the instance) or "env".
    master_key_source: str = "file"
    master_key_file: Path | None = None
    #: The variable holding the keyring when the source is "env", and its value.
    master_key_env: str = "XINFANG_MASTER_KEY"
    master_key: str | None = field(default=None, repr=False)
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 10
    allowed_attachment_types: tuple[str, ...] = (
        "application/pdf", "image/jpeg", "image/png", "image/tiff", "image/gif",
        "message/rfc822", "text/plain",
        # Word documents (e-mail attachments): their text is extracted (records.intake)
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    timezone: str = "Asia/Shanghai"
    #: Overrides of the time limits (names of ``records.cases.deadlines.Limits``), or None.
    deadlines: Mapping | None = None
    #: Retention periods (``{"default_years": 2, "years": {reason: n}}``), or None: the defaults.
    retention: Mapping | None = None
    #: The CJK font file for notices and reports (``path`` or ``path#n``); None: look for one.
    cjk_font: str | None = None
    search_backend: str = "whoosh"
    search_cache_mb: int = DEFAULT_CACHE_MB
    #: Indexing processes of a Whoosh rebuild.
    search_procs: int = 1
    #: Whether a request that changed letters indexes them before it answers (found at once).
    #: False leaves it to the separate indexer (``xinfang search sync --follow``), which must
    #: run: the request processes then spend no time on indexing.
    index_after_commit: bool = True
    #: The session secret; None: the per-instance one ``xinfang init`` writes.
    secret_key: str | None = field(default=None, repr=False)
    secure_cookies: bool = False

    def __post_init__(self):
        if self.master_key_source not in MASTER_KEY_SOURCES:
            raise ConfigurationError(f"Unknown master key source {self.master_key_source!r} "
                                     "(XINFANG_MASTER_KEY_SOURCE: use 'file' or 'env').")
        backend = SEARCH_BACKEND_ALIASES.get(str(self.search_backend).strip().lower(),
                                             str(self.search_backend).strip().lower())
        if backend not in SEARCH_BACKENDS:
            raise ConfigurationError(f"Unknown search backend {str(self.search_backend)[:40]!r} "
                                     f"(XINFANG_SEARCH_BACKEND); use one of: {', '.join(SEARCH_BACKENDS)}.")
        object.__setattr__(self, "search_backend", backend)
        _check_whole("XINFANG_SEARCH_CACHE_MB", self.search_cache_mb, 1, 65536, "megabytes")
        _check_whole("XINFANG_SEARCH_PROCS", self.search_procs, 1, 64, "processes")
        for name in ("deadlines", "retention"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise ConfigurationError(f"XINFANG_{name.upper()} must be a JSON object, got {type(value).__name__}.")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigurationError(f"XINFANG_TIMEZONE must be a time zone name such as Asia/Shanghai, "
                                     f"got {str(self.timezone)[:40]!r}.") from None

    @cached_property
    def tz(self) -> ZoneInfo:
        """The office's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def blob_dir(self) -> Path:
        return self.home / "blobs"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keys"

    @property
    def key_file(self) -> Path:
        return self.master_key_file or (self.keystore_dir / "master.key")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def search_cache_bytes(self) -> int:
        return self.search_cache_mb * 1024 * 1024

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping | None = None, **overrides) -> "Settings":
        """Settings from ``environ`` (default: the process environment), ``overrides`` winning."""
        env = os.environ if environ is None else environ
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"Settings has no field {', '.join(sorted(unknown))}")
        home = Path(overrides.pop("home", None) or env.get("XINFANG_HOME") or "instance").resolve()
        values: dict = {
            "home": home,
            "database_url": env.get("XINFANG_DATABASE_URL") or f"sqlite:///{home / 'xinfang.sqlite3'}",
        }
        key_env = overrides.get("master_key_env") or cls.master_key_env
        master_key = env.get(key_env) or None
        values["master_key"] = master_key
        values["master_key_source"] = env.get("XINFANG_MASTER_KEY_SOURCE") or ("env" if master_key else "file")
        if env.get("XINFANG_MASTER_KEY_FILE"):
            values["master_key_file"] = env["XINFANG_MASTER_KEY_FILE"]
        for name, var in (("timezone", "XINFANG_TIMEZONE"), ("cjk_font", "XINFANG_CJK_FONT"),
                          ("search_backend", "XINFANG_SEARCH_BACKEND"), ("secret_key", "XINFANG_SECRET_KEY")):
            if env.get(var):
                values[name] = env[var]
        for name in ("deadlines", "retention"):
            var = f"XINFANG_{name.upper()}"
            if env.get(var):
                values[name] = _json_object(var, env[var])
        for name, var, unit in (("search_cache_mb", "XINFANG_SEARCH_CACHE_MB", "megabytes"),
                                ("search_procs", "XINFANG_SEARCH_PROCS", "processes")):
            if env.get(var):
                values[name] = _whole(var, env[var], unit)
        for name, var in (("secure_cookies", "XINFANG_SECURE_COOKIES"),
                          ("index_after_commit", "XINFANG_INDEX_AFTER_COMMIT")):
            if env.get(var):
                values[name] = _flag(var, env[var])
        values.update({k: v for k, v in overrides.items() if v is not None})
        if values.get("master_key_file") is not None:
            values["master_key_file"] = Path(values["master_key_file"]).resolve()
        return cls(**values)


def _whole(var: str, raw: str, unit: str) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ConfigurationError(f"{var} must be a whole number of {unit}, got {str(raw)[:40]!r}.") from None


def _check_whole(var: str, value, low: int, high: int, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigurationError(f"{var} must be a whole number of {unit} from {low} to {high}, "
                                 f"got {str(value)[:40]!r}.")


def _flag(var: str, raw: str) -> bool:
    value = str(raw).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"{var} must be 1 or 0, got {str(raw)[:40]!r}.")


def _json_object(var: str, raw: str) -> dict:
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigurationError(f"{var} is not valid JSON.") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{var} must be a JSON object.")
    return value
