"""A rebuild of the PostgreSQL search table: a fresh table filled, indexed and swapped in."""
from __future__ import annotations

import contextlib
import multiprocessing
from typing import TYPE_CHECKING

from ..interface import BulkLoader, IndexDocument
from .schema import (
    BATCH, CHANGES, CHANGE_FLOOR, CHANGE_SEQ, COLUMNS, FILL_TERMS, FORMAT, META, NEW_TABLE, NEW_TERMS, TABLE, TERMS,
    index_ddl, index_names, partition_ddl, partition_name, row_of, table_ddl, terms_ddl,
)

if TYPE_CHECKING:
    from .backend import PostgresBackend


#: Where a row (``COLUMNS``) holds the letter's length, and its part.
_LENGTH = COLUMNS.index("length")
_PART = COLUMNS.index("part")
#: Letters a rebuild with several processes hands them at a time (``PgBulkLoader.add_text``).
PARALLEL_BATCH = 400
#: The blinder of a rebuild's analysing process (inherited when it forks).
_worker_blinder = None


def _start_worker(blinder) -> None:
    global _worker_blinder
    _worker_blinder = blinder


def _rows_of(items: list[tuple[IndexDocument, str]]) -> list[tuple]:
    """The table row (``COLUMNS``) of each letter, its text analysed and blinded, in an
    analysing process."""
    from ..analysis import analyse

    out = []
    for meta, text in items:
        analysed = analyse(text)
        meta.text = _worker_blinder.text(analysed.tokens)
        meta.chars = _worker_blinder.chars(sorted(analysed.chars))
        r = row_of(meta)
        out.append(tuple(r[c] for c in COLUMNS))
    return out


class PgBulkLoader(BulkLoader):
    """A rebuild in one transaction of its own connection: a fresh table is filled (COPY in
    batches, a partition made for each year as its first letter comes), indexed and analysed,
    then takes the old table's place (drop, rename: the table, its partitions and their
    indexes get the old names) at ``commit``. Until then searches read the old table;
    ``cancel`` rolls everything back.

    With ``procs`` > 1 (and processes started by forking, so they inherit the keys in
    memory), the letters' texts are analysed and blinded, and their rows made, by that many
    processes, a batch at a time, while this one writes the previous batch's rows: the same
    rows in the same order as with one process."""

    def __init__(self, backend: PostgresBackend):
        self.backend = backend
        self.pool = None
        self.texts: list[tuple[IndexDocument, str]] = []
        self.inflight = None
        self.raw = backend.engine.raw_connection()
        self.dbapi = self.raw.driver_connection
        self.copy = type(self.dbapi).__module__.split(".")[0] == "psycopg" and hasattr(self.dbapi, "cursor")
        self.cur = self.dbapi.cursor()
        self.pending: list[tuple] = []
        self.count = 0
        self.length_sum = 0
        self.parts: set[str] = set()
        try:
            self.cur.execute(f"DROP TABLE IF EXISTS {NEW_TABLE}")
            self.cur.execute(f"DROP TABLE IF EXISTS {NEW_TERMS}")
            for ddl in table_ddl(NEW_TABLE, indexes=False):
                self.cur.execute(ddl)
            self.cur.execute(terms_ddl(NEW_TERMS))
        except BaseException:
            self._close(commit=False)
            raise

    def add_text(self, meta: IndexDocument, text: str, blinder) -> None:
        if self.backend.procs <= 1 or multiprocessing.get_start_method() != "fork":
            super().add_text(meta, text, blinder)
            return
        if self.pool is None:
            self.pool = multiprocessing.get_context("fork").Pool(self.backend.procs, _start_worker, (blinder,))
        self.texts.append((meta, text))
        if len(self.texts) >= PARALLEL_BATCH:
            self._dispatch()

    def _dispatch(self) -> None:
        """Hand the waiting texts to the processes, then add the rows of the batch before."""
        batch, self.texts = self.texts, []
        procs = self.backend.procs
        parts = [batch[i::procs] for i in range(procs)] if batch else []
        started = (len(batch), self.pool.map_async(_rows_of, parts)) if batch else None
        self._collect()
        self.inflight = started

    def _collect(self) -> None:
        if self.inflight is None:
            return
        (count, pending), self.inflight = self.inflight, None
        parts = pending.get()
        procs = len(parts)
        for i in range(count):   # in the order they were added
            self._add_row(parts[i % procs][i // procs])

    def add(self, doc: IndexDocument) -> None:
        r = row_of(doc)
        self._add_row(tuple(r[c] for c in COLUMNS))

    def _add_row(self, row: tuple) -> None:
        self.length_sum += row[_LENGTH]
        self.pending.append(row)
        if len(self.pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.pending:
            return
        parts = {row[_PART] for row in self.pending} - self.parts
        if parts:   # a partition for each part the rows bring
            for table in (NEW_TABLE, NEW_TERMS):
                for part in sorted(parts):
                    self.cur.execute(partition_ddl(table, part))
            self.parts |= parts
        columns = ", ".join(f'"{c}"' for c in COLUMNS)
        if self.copy:
            with self.cur.copy(f"COPY {NEW_TABLE} ({columns}) FROM STDIN") as cp:
                for row in self.pending:
                    cp.write_row(row)
        else:  # another driver: batched INSERTs
            marks = ", ".join("%s" for _ in COLUMNS)
            self.cur.executemany(f"INSERT INTO {NEW_TABLE} ({columns}) VALUES ({marks})", self.pending)
        self.count += len(self.pending)
        self.pending = []

    def commit(self) -> None:
        try:
            if self.pool is not None:
                self._dispatch()
                self._collect()
            self._flush()
            cur = self.cur
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            for ddl in index_ddl(NEW_TABLE):
                cur.execute(ddl)
            cur.execute(FILL_TERMS.format(terms=NEW_TERMS, table=NEW_TABLE))
            cur.execute(f"ANALYZE {NEW_TABLE}")
            cur.execute(f"ANALYZE {NEW_TERMS}")
            # the swap: searches wait for this commit only, then read the new table
            cur.execute(f"LOCK TABLE {TABLE} IN ACCESS EXCLUSIVE MODE")
            cur.execute(f"DROP TABLE {TABLE}")
            cur.execute(f"ALTER TABLE {NEW_TABLE} RENAME TO {TABLE}")
            cur.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT pk_{NEW_TABLE} TO pk_{TABLE}")
            for old, new in zip(index_names(NEW_TABLE), index_names(TABLE)):
                cur.execute(f"ALTER INDEX {old} RENAME TO {new}")
            self._rename_partitions(cur, NEW_TABLE, TABLE)
            cur.execute(f"DROP TABLE IF EXISTS {TERMS}")
            cur.execute(f"ALTER TABLE {NEW_TERMS} RENAME TO {TERMS}")
            cur.execute(f"ALTER TABLE {TERMS} RENAME CONSTRAINT pk_{NEW_TERMS} TO pk_{TERMS}")
            self._rename_partitions(cur, NEW_TERMS, TERMS)
            # the change log starts again: every process reads its kept hits afresh
            cur.execute(f"SELECT value FROM {META} WHERE name = %s", (CHANGE_SEQ,))
            seq = str(int((cur.fetchone() or ("0",))[0]) + 1)
            cur.execute(f"DELETE FROM {CHANGES}")
            cur.execute(f"DELETE FROM {META}")
            cur.execute(f"INSERT INTO {META} (name, value) VALUES ('key_id', %s), ('format', %s), "
                        "('documents', %s), ('length_sum', %s), (%s, %s), (%s, %s)",
                        (self.backend.key_id, FORMAT, str(self.count), str(self.length_sum),
                         CHANGE_SEQ, seq, CHANGE_FLOOR, seq))
        except BaseException:
            self._close(commit=False)
            raise
        self._close(commit=True)

    def _rename_partitions(self, cur, new_table: str, table: str) -> None:
        """The new table's partitions, and their indexes, get the names of the table's."""
        for part in sorted(self.parts):
            old, new = partition_name(new_table, part), partition_name(table, part)
            cur.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "WHERE i.indrelid = CAST(%s AS regclass)", (old,))
            indexes = [r[0] for r in cur.fetchall()]
            cur.execute(f"ALTER TABLE {old} RENAME TO {new}")
            for index in indexes:
                if index.startswith(old):
                    cur.execute(f'ALTER INDEX "{index}" RENAME TO "{new + index[len(old):]}"')

    def cancel(self) -> None:
        self.pending = []
        self._close(commit=False)

    def _close(self, *, commit: bool) -> None:
        pool, self.pool, self.inflight, self.texts = self.pool, None, None, []
        if pool is not None:
            pool.terminate()
            pool.join()
        raw, self.raw = self.raw, None
        if raw is None:
            return
        try:
            if commit:
                self.dbapi.commit()
            else:
                self.dbapi.rollback()
        finally:
            with contextlib.suppress(Exception):
                self.cur.close()
            raw.close()
