"""Production serving: waitress (threads) or gunicorn (processes), one JSON log line per
request on standard output.

A request line carries the method, the path *without* its query string, the status, the
duration in milliseconds and the id of the signed-in user (or API token owner): never a
query string, a form, a body or a header, since those can carry letter text or identities
(search terms, look-ups). Other log records are JSON lines too, and an exception is logged
by its type only (app/errors.py logs where it happened), never with its message.

    xinfang serve --host 127.0.0.1 --port 8000 --threads 8
    gunicorn -w 4 -b 127.0.0.1:8000 'app.serve:create_production_app()'
"""
from __future__ import annotations

import datetime as dt
import gc
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from flask import Flask, g, request
from werkzeug.wsgi import ClosingIterator

from records.errors import ConfigurationError

#: Longest path written to the log; longer ones are cut (a path is metadata, but unbounded).
MAX_LOGGED_PATH = 300

#: The attributes every LogRecord has; anything else passed in ``extra=`` becomes a JSON field.
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: an exception's message or traceback may quote input.
            out["exc_type"] = record.exc_info[0].__name__
        return json.dumps(out, ensure_ascii=False, default=str, separators=(",", ":"))


def configure_logging(stream=None, level: int = logging.INFO) -> None:
    """Send every log record to ``stream`` (stdout) as JSON; safe to call more than once."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "xinfang_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    handler.xinfang_json = True
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic narrates every schema check at INFO; only its warnings matter in production.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))


class HideQueryStrings(logging.Filter):
    """For Werkzeug's development server (``xinfang run``), which logs whole request lines:
    cut the query string out of every argument of its log records, as the production log
    never writes one."""

    _QUERY = re.compile(r"\?\S*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._QUERY.sub("", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and "?" in record.msg and not record.args:
            record.msg = self._QUERY.sub("", record.msg)
        return True


def hide_query_strings_in_dev_server_log() -> None:
    """Install HideQueryStrings on the ``werkzeug`` logger (idempotent)."""
    logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, HideQueryStrings) for f in logger.filters):
        logger.addFilter(HideQueryStrings())


def _logged_path(environ: dict) -> str:
    raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    try:  # WSGI hands the path over as latin-1 decoded bytes
        path = raw.encode("latin-1").decode("utf-8", "replace")
    except UnicodeEncodeError:
        path = raw
    return path[:MAX_LOGGED_PATH]


class RequestLog:
    """WSGI middleware writing one line per request when its response has been sent."""

    def __init__(self, wsgi_app: Callable, logger: logging.Logger | None = None):
        self.wsgi_app = wsgi_app
        self.log = logger or logging.getLogger("xinfang.request")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict = {}

        def _start_response(status: str, headers, exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            body = self.wsgi_app(environ, _start_response)
        except BaseException:
            self._write(environ, 500, started)
            raise
        return ClosingIterator(body, lambda: self._write(environ, seen.get("status", 500), started))

    def _write(self, environ: dict, status: int, started: float) -> None:
        self.log.info("request", extra={
            "method": environ.get("REQUEST_METHOD", ""),
            "path": _logged_path(environ),
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "user_id": environ.get("xinfang.user_id"),
        })


def _note_user(response):
    """Leave the acting user's id in the WSGI environ for the request line. Only a user the
    request already loaded counts, so the log never costs a query of its own."""
    user_id = None
    api_user = g.get("api_user")
    if api_user is not None:
        user_id = api_user.id
    else:
        web_user = g.get("_login_user")  # set by Flask-Login when the request looked at the session
        if web_user is not None and getattr(web_user, "is_authenticated", False):
            user_id = web_user.user.id
    request.environ["xinfang.user_id"] = user_id
    return response


def install_request_log(app: Flask) -> Flask:
    """Wrap ``app`` so every request is logged as one JSON line (idempotent)."""
    if not app.extensions.get("xinfang.request_log"):
        app.after_request(_note_user)
        app.wsgi_app = RequestLog(app.wsgi_app)
        app.extensions["xinfang.request_log"] = True
    return app


def check_instance(app: Flask) -> None:
    """Refuse to serve an instance that is not there: no schema, an old schema, or no key."""
    from alembic.script import ScriptDirectory

    from records.db import alembic_config, current_revisions
    from search import factory as search_factory

    inst = app.extensions["xinfang"]
    settings = inst.settings
    where = settings.database_url.split("@")[-1]
    sqlite_file = inst.db.engine.url.database if inst.db.is_sqlite else None
    if sqlite_file and sqlite_file != ":memory:" and not Path(sqlite_file).is_file():
        raise ConfigurationError(f"No database at {sqlite_file}; run 'xinfang init' first (XINFANG_HOME={settings.home}).")
    try:
        current = current_revisions(inst.db)
    except Exception as exc:  # noqa: BLE001 - turned into a clear message
        raise ConfigurationError(f"Cannot reach the database ({where}): {type(exc).__name__}.") from None
    heads = set(ScriptDirectory.from_config(alembic_config(settings.database_url)).get_heads())
    if not current:
        raise ConfigurationError(f"The database ({where}) has no schema yet; run 'xinfang init' first.")
    if current != heads:
        raise ConfigurationError(f"The database schema ({where}) is not the newest; run 'xinfang init' to upgrade it.")
    inst.keyring.current_ref()  # raises a ConfigurationError naming the missing key
    search_factory.check(inst)  # the configured search backend can run here (its Whoosh release)


def warm_search(app: Flask) -> None:
    """Read what searches need into this process's memory (see ``SearchBackend.warm``);
    a failure is logged by type and left for the first search to meet."""
    from search.indexer import service

    started = time.perf_counter()
    try:
        service(app.extensions["xinfang"]).backend.warm()
    except Exception as exc:  # noqa: BLE001 - serving goes on; a search will report the problem
        logging.getLogger("xinfang.serve").warning("search: warming up failed", extra={"error": type(exc).__name__})
        return
    logging.getLogger("xinfang.serve").info(
        "search: warmed up", extra={"duration_ms": round((time.perf_counter() - started) * 1000)})


def settle_memory(when: str) -> None:
    """Take what this serving process holds now out of the cyclic garbage collector's sight
    (``gc.freeze``), after collecting what is garbage already: the modules, the app, the
    mappers and the warmed search live as long as the process. Otherwise every full
    collection walks them all again while it holds the interpreter's lock, which stops every
    thread of the process: 150 to 230 ms, four to six times a minute, in a worker of the
    load benchmark (``benchmarks/README.md``, session 30), against 45 to 70 ms with them
    frozen. What a request allocates is collected as before."""
    gc.collect()
    gc.freeze()
    logging.getLogger("xinfang.serve").info("memory: settled", extra={"when": when, "frozen": gc.get_freeze_count()})


def _warm_and_settle(app: Flask) -> None:
    warm_search(app)
    settle_memory("search warmed up")


def create_production_app() -> Flask:
    """The app as production serves it: JSON logs on stdout, request log, instance checked,
    and the process's long-lived objects settled (``settle_memory``) once it is ready and
    again once its search is warm. The factory gunicorn calls:
    ``gunicorn -w 4 'app.serve:create_production_app()'``."""
    from . import create_app

    configure_logging()
    app = create_app()
    check_instance(app)
    settle_memory("app ready")
    threading.Thread(target=_warm_and_settle, args=(app,), name="xinfang-warm-search", daemon=True).start()
    if not app.extensions["xinfang"].settings.index_after_commit:
        logging.getLogger("xinfang.serve").info(
            "search: changes are left to the separate indexer (XINFANG_INDEX_AFTER_COMMIT=0); "
            "'xinfang search sync --follow' must run")
    if not app.config.get("SESSION_COOKIE_SECURE"):
        logging.getLogger("xinfang.serve").warning(
            "session cookies are not marked Secure; set XINFANG_SECURE_COOKIES=1 when serving over HTTPS")
    return install_request_log(app)


def serve(host: str = "127.0.0.1", port: int = 8000, threads: int = 8, trusted_proxy: str | None = None) -> None:
    """Serve with waitress until interrupted. ``trusted_proxy``: the reverse proxy's address,
    whose X-Forwarded-For/-Proto headers are then believed (for audit addresses and HTTPS)."""
    from waitress import serve as waitress_serve

    app = create_production_app()
    options = {"host": host, "port": port, "threads": threads, "ident": "xinfang"}
    if trusted_proxy:
        options.update(trusted_proxy=trusted_proxy, trusted_proxy_count=1,
                       trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
                       clear_untrusted_proxy_headers=True)
    logging.getLogger("xinfang.serve").info("serving", extra={"host": host, "port": port, "threads": threads,
                                                              "trusted_proxy": trusted_proxy})
    try:
        waitress_serve(app, **options)
    finally:
        app.extensions["xinfang"].close()
