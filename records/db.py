"""Engine, sessions and schema migrations for SQLite (embedded) and PostgreSQL.

One session per unit of work (a request, a CLI command, a job step); operations flush,
the owner of the unit commits. On SQLite every write transaction starts with
``BEGIN IMMEDIATE`` so that two writers queue on the busy timeout instead of failing
when one upgrades a read lock; a read-only unit of work (``read_session``) begins a plain
deferred transaction and never writes in it (see ``records.instance``). What differs between the two is settled here: a row lock
in an ORM query names its own table on PostgreSQL, and text with NUL characters, which
PostgreSQL cannot store, is refused on both.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import DateTime, MetaData, Table, TypeDecorator, create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from records.errors import ValidationError

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)


def new_uid() -> str:
    return uuid.uuid4().hex


#: Values a statement's ``IN`` list takes at most where a list can grow with the data:
#: PostgreSQL refuses a statement of more than 65,535 parameters (SQLite's limit is lower
#: on older builds).
IN_STEP = 1000


def in_steps(items: Sequence[T], size: int = IN_STEP) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``: one statement for each."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: SQLite connection settings of DESIGN.md: WAL, foreign keys, secure delete, full sync.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=30000",
)


#: Execution option of the engine behind read-only sessions (see ``Database.read_session``).
READ_ONLY = "xinfang_read_only"


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul_characters(conn, cursor, statement, parameters, context, executemany) -> None:
    """PostgreSQL cannot hold U+0000 in text and fails with a driver error; SQLite stores it.
    Refuse it on both, as the invalid input it is. (Parameters come as a dict, a tuple, a list
    of either for executemany, or a flat list for SQLAlchemy's insertmanyvalues batches.)"""
    if _has_nul(parameters):
        raise ValidationError("Text cannot contain NUL characters (U+0000).")


class ReadOnlyWrite(RuntimeError):
    """A programming error: a read-only unit of work (a GET request) tried to write, instead
    of queueing the write with ``records.instance.write_after_read``."""


_READ_STATEMENTS = ("SELECT", "WITH", "BEGIN", "PRAGMA", "SHOW", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT")


def _refuse_writes_in_reads(conn, cursor, statement, parameters, context, executemany) -> None:
    if conn.get_execution_options().get(READ_ONLY) \
            and not statement.lstrip().upper().startswith(_READ_STATEMENTS):
        raise ReadOnlyWrite(f"a read-only unit of work tried to write: {statement.split(None, 3)[:3]}")


def allow_writes(session: Session) -> bool:
    """Let a read-only unit of work's own transaction write what it queued
    (``records.instance.Instance.end_read``). True on PostgreSQL while the transaction is
    usable: the statements of the rest of the transaction are no longer refused. False on
    SQLite (a reader's deferred transaction cannot become the writer) and after a failed
    statement aborted the transaction: the caller ends it and writes in a new one."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return False
    from psycopg import pq

    if conn.connection.dbapi_connection.info.transaction_status not in (pq.TransactionStatus.IDLE,
                                                                         pq.TransactionStatus.INTRANS):
        return False
    conn.execution_options(**{READ_ONLY: False})   # this Connection only, for this transaction
    return True


def make_engine(url: str, **kwargs) -> Engine:
    engine = _make_engine(url, **kwargs)
    event.listen(engine, "before_cursor_execute", _refuse_nul_characters)
    event.listen(engine, "before_cursor_execute", _refuse_writes_in_reads)
    return engine


def _make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # pragma: no cover - trivial
            # Let SQLAlchemy emit BEGIN itself (see _on_begin) instead of pysqlite.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            for pragma in SQLITE_PRAGMAS:
                cur.execute(pragma)
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn):
            # A read-only unit of work takes no write lock: readers run beside the one writer.
            conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _lock_only_the_queried_table(state) -> None:
    """PostgreSQL refuses "FOR UPDATE cannot be applied to the nullable side of an outer join",
    and the ORM adds outer joins of its own for ``lazy="joined"`` relationships. A query
    that locks rows of the one table it selects from locks exactly that table: ``FOR UPDATE
    OF <table>``. Statements that join explicitly, or name their tables, are left alone."""
    if not state.is_select:
        return
    stmt = state.statement
    arg = getattr(stmt, "_for_update_arg", None)
    if arg is None or arg.of is not None:
        return
    froms = stmt.columns_clause_froms
    if len(froms) != 1 or not isinstance(froms[0], Table) \
            or getattr(stmt, "_setup_joins", ()) or getattr(stmt, "_from_obj", ()):
        return
    state.statement = stmt.with_for_update(of=froms[0], nowait=arg.nowait, read=arg.read,
                                           skip_locked=arg.skip_locked, key_share=arg.key_share)


class Database:
    """The engine and session factory of one instance."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        #: Sessions of read-only units of work: the same pool, but a plain (deferred) BEGIN on
        #: SQLite instead of BEGIN IMMEDIATE, so a reader never waits for or blocks the writer.
        self.read_sessionmaker = sessionmaker(self.engine.execution_options(**{READ_ONLY: True}),
                                              expire_on_commit=False)
        if self.engine.dialect.name == "postgresql":
            for maker in (self.sessionmaker, self.read_sessionmaker):
                event.listen(maker, "do_orm_execute", _lock_only_the_queried_table)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> Session:
        return self.sessionmaker()

    def read_session(self) -> Session:
        return self.read_sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the schema to the newest revision (idempotent)."""
    from alembic import command

    cfg = alembic_config(db.url)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revisions(db: Database) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


# -- PostgreSQL: before a VACUUM FULL that must not keep deleted rows ----------------------------
def wait_for_older_snapshots(conn, timeout: float, poll: float = 0.1) -> bool:
    """PostgreSQL: wait until no transaction that began before now can still see rows
    deleted before now, as VACUUM FULL copies such "recently dead" rows into its new files:
    an app request in progress, a ``pg_dump`` running, and (through the xmin of VACUUM
    FULL's own snapshot) a transaction of any database of the cluster that holds an xid.
    Returns False when some were still running after ``timeout`` seconds (the caller goes
    ahead, and a residue check reports whatever was kept).

    A lazy VACUUM (autovacuum's, or an operator's plain ``VACUUM``: the processes listed in
    ``pg_stat_progress_vacuum``) is not waited for: PostgreSQL leaves such processes out
    when it decides which dead rows any VACUUM, VACUUM FULL included, may remove (their
    ``PROC_IN_VACUUM`` flag), so their snapshots keep nothing. Autovacuum of a large table
    or its TOAST table runs for minutes; before, a destruction waited the whole timeout for it."""
    horizon = int(conn.execute(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text")).scalar_one())
    deadline = time.monotonic() + timeout
    while True:
        oldest_xid = int(conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar_one())
        older = conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity a WHERE a.datname = current_database() "
            "AND a.pid <> pg_backend_pid() AND a.backend_xmin IS NOT NULL "
            "AND age(a.backend_xmin) > age(CAST(:x AS xid)) "
            "AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_vacuum v WHERE v.pid = a.pid)"),
            {"x": str(horizon % (1 << 32))}).scalar_one()
        if oldest_xid >= horizon and not older:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


# -- throw-away databases (the test suite's and the benchmarks' PostgreSQL runs) ----------------
def create_database(admin_url: str, prefix: str) -> tuple[str, str]:
    """Create a new, empty database named ``prefix`` + a random suffix on the server of
    ``admin_url`` (whose user may create databases): returns (name, URL of the new database)."""
    from sqlalchemy.engine import make_url

    name = prefix + uuid.uuid4().hex[:12]
    _on_server(admin_url, f'CREATE DATABASE "{name}"')
    return name, make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    """Drop a database made by :func:`create_database`, closing its connections first."""
    _on_server(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _on_server(admin_url: str, statement: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()
