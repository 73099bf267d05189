"""Residue verification: prove that nothing of a destroyed letter survives on disk.

Before a letter's rows are deleted, the run journal keeps *fingerprints* of it: for a few
32-byte windows of each of its ciphertexts (document, earlier versions, event notes,
attachment names, wrapped data key, blob files), of its identity blind tokens and of its
random uid, a 40-bit tag of the window's first 8 bytes and the SHA-256 of the whole window.
The journal therefore holds no ciphertext itself. After the run, every file under the
database, WAL, index, blob and key folders is scanned at every byte offset: the tags are
matched with numpy (vectorised, about a second per 100 MB), and each candidate is confirmed
by its SHA-256. A confirmed window is residue and fails the certificate.

On PostgreSQL the database is not a file of the instance, so the check asks the server
(method ``database query``): no row of a destroyed letter is left in ``records`` or in any
table that referenced it, and every byte-string and text column of every table (the outbox,
identity tokens, search data kept in the database, anything else) is streamed through the
same scanner. When this process can read the server's data directory (a superuser
connection, ``SHOW data_directory``, and the folder's ``global/pg_control`` naming the same
cluster), the relation files of the affected tables, their TOAST tables and their indexes
are scanned as well, after a ``CHECKPOINT`` (method ``database query + relation files``).
WAL segments, archives, replicas and backups are not scanned: the destroyed batch key is
what protects them (see the README, "What PostgreSQL cannot guarantee").
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WINDOW = 32
_C1 = 0x9E3779B97F4A7C15
_C2 = 0xBF58476D1CE4E5B9
_M = (1 << 64) - 1
_CHUNK = 32 * 1024 * 1024
_FILTER_BITS = 24
_FILTER_MASK = (1 << _FILTER_BITS) - 1


def _tag_int(prefix8: bytes) -> int:
    x = int.from_bytes(prefix8, "little")
    x = (x * _C1) & _M
    x ^= x >> 31
    x = (x * _C2) & _M
    x ^= x >> 29
    return x >> 24


def _tag_array(values: np.ndarray) -> np.ndarray:
    x = values * np.uint64(_C1)
    x ^= x >> np.uint64(31)
    x *= np.uint64(_C2)
    x ^= x >> np.uint64(29)
    return x >> np.uint64(24)


def fingerprint(data: bytes, kind: str = "c", windows: int = 3) -> list[list]:
    """Fingerprints ``[kind, tag, length, sha256]`` of a few windows of ``data``."""
    if not data:
        return []
    n = len(data)
    if n < 16:
        return []
    if n <= WINDOW:
        starts = [0]
        length = n
    else:
        length = WINDOW
        last = n - WINDOW
        # skip the format byte and the nonce when there is room: they are random but short-lived
        first = min(13, last)
        starts = sorted({first, (first + last) // 2, last})[:windows]
    out = []
    for s in starts:
        w = data[s:s + length]
        out.append([kind, _tag_int(w[:8]), length, hashlib.sha256(w).hexdigest()])
    return out


@dataclass
class ScanResult:
    files: int = 0
    bytes: int = 0
    needles: int = 0
    #: Needles skipped because the same value legitimately belongs to a surviving letter
    #: (an identity token shared with another letter of the same petitioner).
    shared: int = 0
    hits: list[dict] = field(default_factory=list)
    #: How the database was checked: ``database files`` (SQLite), ``database query`` or
    #: ``database query + relation files`` (PostgreSQL); ``files`` for a bare scan.
    method: str = "files"
    #: PostgreSQL: tables whose values were streamed, relation files scanned, rows still
    #: keyed by a destroyed letter.
    tables: int = 0
    relation_files: int = 0
    rows_left: int = 0

    @property
    def clean(self) -> bool:
        return not self.hits and not self.rows_left

    def as_dict(self) -> dict:
        return {"clean": self.clean, "files_scanned": self.files, "bytes_scanned": self.bytes,
                "fingerprints": self.needles, "shared_tokens_skipped": self.shared,
                "residue_found": len(self.hits),
                "residue": [{"file": h["file"], "offset": h["offset"], "serial": h["serial"], "kind": h["kind"]}
                            for h in self.hits[:50]],
                "method": self.method, "tables_scanned": self.tables,
                "relation_files_scanned": self.relation_files, "rows_left": self.rows_left}


class Needles:
    def __init__(self):
        self._by_tag: dict[int, list[tuple[int, str, str, str]]] = {}

    def add(self, serial: str, fps: list[list], skip_digests: set[str] = frozenset()) -> int:
        skipped = 0
        for kind, tag, length, digest in fps:
            if digest in skip_digests:
                skipped += 1
                continue
            self._by_tag.setdefault(int(tag), []).append((int(length), digest, serial, kind))
        return skipped

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_tag.values())

    def sorted_tags(self) -> np.ndarray:
        return np.array(sorted(self._by_tag), dtype=np.uint64)

    def prefilter(self) -> np.ndarray:
        """A bitmap over the low ``_FILTER_BITS`` bits of the tags: at most a few percent of
        offsets pass it, and only those are looked up in the sorted tags (cached)."""
        if getattr(self, "_filter_for", None) != len(self._by_tag):
            bitmap = np.zeros(1 << _FILTER_BITS, dtype=np.bool_)
            if self._by_tag:
                bitmap[np.array(list(self._by_tag), dtype=np.uint64) & np.uint64(_FILTER_MASK)] = True
            self._filter, self._filter_for = bitmap, len(self._by_tag)
        return self._filter

    def confirm(self, tag: int, buf: memoryview, off: int) -> list[tuple[str, str]]:
        found = []
        for length, digest, serial, kind in self._by_tag.get(tag, ()):
            if off + length <= len(buf) and hashlib.sha256(buf[off:off + length]).hexdigest() == digest:
                found.append((serial, kind))
        return found


def _scan_buffer(buf: bytes, base: int, limit: int, tags: np.ndarray, needles: Needles, name: str,
                 hits: list[dict]) -> None:
    """Check every offset < ``limit`` of ``buf`` (file offset ``base``)."""
    mv = memoryview(buf)
    bitmap = needles.prefilter()
    for k in range(8):
        count = (len(buf) - k) // 8
        if count <= 0:
            continue
        values = np.frombuffer(buf, dtype="<u8", count=count, offset=k)
        t = _tag_array(values)
        cand = np.flatnonzero(bitmap[(t & np.uint64(_FILTER_MASK)).astype(np.intp)])
        if not len(cand):
            continue
        tc = t[cand]
        idx = np.searchsorted(tags, tc)
        np.minimum(idx, len(tags) - 1, out=idx)
        for j in np.flatnonzero(tags[idx] == tc):
            i = int(cand[j])
            off = k + 8 * i
            if off >= limit:
                continue
            for serial, kind in needles.confirm(int(t[i]), mv, off):
                hits.append({"file": name, "offset": base + off, "serial": serial, "kind": kind})


class _Stream:
    """Feeds the scanner a stream of bytes in pieces, keeping the last ``WINDOW - 1`` bytes
    of each piece so that a window across two pieces is still found."""

    def __init__(self, name: str, tags: np.ndarray, needles: Needles, hits: list[dict]):
        self.name, self.tags, self.needles, self.hits = name, tags, needles, hits
        self.carry = b""
        self.base = 0

    def feed(self, chunk: bytes) -> None:
        buf = self.carry + chunk
        # offsets in the last `WINDOW - 1` bytes are checked with the next piece
        limit = len(buf) - (WINDOW - 1)
        if limit <= 0:
            self.carry = buf
            return
        _scan_buffer(buf, self.base, limit, self.tags, self.needles, self.name, self.hits)
        self.carry = buf[limit:]
        self.base += limit

    def close(self) -> None:
        if self.carry:
            _scan_buffer(self.carry, self.base, len(self.carry), self.tags, self.needles, self.name, self.hits)
        self.carry = b""


def scan(paths: list[Path], needles: Needles, root: Path | None = None,
         result: ScanResult | None = None) -> ScanResult:
    """Scan every regular file under ``paths`` for the needles (adding to ``result``)."""
    result = result or ScanResult(method="files")
    result.needles = len(needles)
    if not len(needles):
        return result
    tags = needles.sorted_tags()
    seen: set[Path] = set()
    for top in paths:
        if not top.exists():
            continue
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                fh = open(path, "rb")
            except OSError:
                continue
            name = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
            result.files += 1
            stream = _Stream(name, tags, needles, result.hits)
            with fh:
                while chunk := fh.read(_CHUNK):
                    result.bytes += len(chunk)
                    stream.feed(chunk)
            stream.close()
    return result


# -- PostgreSQL ---------------------------------------------------------------------------------
#: Column types whose values are streamed through the scanner (as bytes; text as UTF-8).
_SCANNED_TYPES = ("bytea", "text", "character varying", "character", "json", "jsonb", "tsvector")


def _quote(conn, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _rows_left(conn, tables: list[tuple[str, str]], record_ids: list[int], result: ScanResult) -> None:
    """Rows still keyed by a destroyed letter's id, in ``records`` and every dependent table."""
    from sqlalchemy import text

    if not record_ids:
        return
    for table, column in tables:
        stmt = text(f"SELECT count(*) FROM {_quote(conn, table)} "
                    f"WHERE {_quote(conn, column)} = ANY (CAST(:ids AS bigint[]))")
        n = conn.execute(stmt, {"ids": list(record_ids)}).scalar_one()
        if n:
            result.rows_left += n
            result.hits.append({"file": f"table {table}", "offset": None, "serial": None, "kind": "row"})


def _scan_columns(conn, needles: Needles, result: ScanResult) -> None:
    """Stream every byte-string and text value of every table of the schema through the scanner."""
    from sqlalchemy import text

    cols = conn.execute(text(
        "SELECT c.table_schema, c.table_name, c.column_name, c.data_type "
        "FROM information_schema.columns c JOIN information_schema.tables t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE t.table_type = 'BASE TABLE' AND c.table_schema = ANY (current_schemas(false)) "
        "AND c.data_type = ANY (CAST(:types AS text[])) "
        # a partitioned table (the search table) is read through its partitions, each once
        "AND (SELECT relkind FROM pg_class WHERE oid = to_regclass(format('%I.%I', c.table_schema, c.table_name)))"
        " <> 'p' ORDER BY c.table_schema, c.table_name, c.ordinal_position"),
        {"types": list(_SCANNED_TYPES)}).all()
    by_table: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, dtype in cols:
        by_table.setdefault((schema, table), []).append((column, dtype))
    tags = needles.sorted_tags()
    driver = conn.connection.driver_connection
    use_copy = type(driver).__module__.split(".")[0] == "psycopg"   # psycopg 3: Cursor.copy
    for (schema, table), columns in by_table.items():
        exprs = [_quote(conn, c) if t == "bytea" else f"convert_to({_quote(conn, c)}::text, 'UTF8')"
                 for c, t in columns]
        sql = f"SELECT {', '.join(exprs)} FROM {_quote(conn, schema)}.{_quote(conn, table)}"
        stream = _Stream(f"table {table}", tags, needles, result.hits)
        result.tables += 1
        pending: list[bytes] = []
        size = 0
        for value in _values(conn, driver if use_copy else None, sql):
            pending.append(value)
            size += len(value)
            if size >= _CHUNK:
                result.bytes += size
                stream.feed(b"".join(pending))
                pending, size = [], 0
        if pending:
            result.bytes += size
            stream.feed(b"".join(pending))
        stream.close()


def _values(conn, driver, sql: str):
    """The bytes of the query's values: blocks of a binary COPY with psycopg 3 (every value
    as its raw bytes, length-prefixed; fast), else the values row by row."""
    from sqlalchemy import text

    if driver is not None:
        with driver.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT (FORMAT binary)") as cp:
            for block in cp:
                yield bytes(block)
        return
    for row in conn.execute(text(sql), execution_options={"stream_results": True, "max_row_buffer": 2000}):
        for value in row:
            if value:
                yield bytes(value)


def _data_directory(conn) -> Path | None:
    """The server's data directory when this process can read it, else None."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        with conn.begin_nested():
            folder = Path(conn.execute(text("SHOW data_directory")).scalar_one())
            ident = conn.execute(text("SELECT system_identifier FROM pg_control_system()")).scalar_one()
    except DBAPIError:
        return None   # not a superuser (nor pg_read_all_settings / pg_control access)
    control = folder / "global" / "pg_control"
    try:
        with open(control, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return None   # another host, or not readable by this process
    # ControlFileData starts with the cluster's system identifier (uint64, native order)
    if len(head) != 8 or int.from_bytes(head, "little") != int(ident) and int.from_bytes(head, "big") != int(ident):
        return None   # a folder of the same name that belongs to another cluster
    return folder


def relation_files(conn, tables: list[str]) -> list[Path] | None:
    """Every file of ``tables`` (all forks and 1 GB segments), their TOAST tables and all their
    indexes, or None when the server's data directory is not readable here."""
    folder = _data_directory(conn)
    if folder is None:
        return None
    return _relation_paths(conn, folder, tables)


def _relation_paths(conn, folder: Path, tables: list[str]) -> list[Path]:
    from sqlalchemy import bindparam, text

    # a partitioned table (the search table) has no files of its own: its partitions have
    oids = [o for (o,) in conn.execute(text(
        "SELECT COALESCE(p.relid, to_regclass(n))::oid FROM unnest(CAST(:names AS text[])) AS n "
        "LEFT JOIN LATERAL pg_partition_tree(to_regclass(n)) p ON p.isleaf"), {"names": tables}) if o is not None]
    rels = conn.execute(text(
        "SELECT pg_relation_filepath(r) FROM ("
        " SELECT c.oid AS r FROM pg_class c WHERE c.oid IN :oids"
        " UNION SELECT c.reltoastrelid FROM pg_class c WHERE c.oid IN :oids AND c.reltoastrelid <> 0"
        " UNION SELECT i.indexrelid FROM pg_index i WHERE i.indrelid IN :oids"
        " UNION SELECT i.indexrelid FROM pg_index i JOIN pg_class c ON i.indrelid = c.reltoastrelid"
        "   WHERE c.oid IN :oids AND c.reltoastrelid <> 0) AS rel")
        .bindparams(bindparam("oids", expanding=True)), {"oids": oids}).scalars().all()
    listings: dict[Path, dict[str, list[str]]] = {}
    files: list[Path] = []
    for rel in rels:
        if not rel:
            continue
        main = folder / rel
        if main.parent not in listings:
            # <relfilenode>, <relfilenode>.1 … (1 GB segments), <relfilenode>_fsm / _vm / _init (forks)
            by_node: dict[str, list[str]] = {}
            try:
                names = os.listdir(main.parent)
            except OSError:
                names = []
            for name in names:
                by_node.setdefault(name.split(".")[0].split("_")[0], []).append(name)
            listings[main.parent] = by_node
        files += [main.parent / n for n in sorted(listings[main.parent].get(main.name, []))]
    return files


def scan_postgresql(engine, needles: Needles, *, record_ids: list[int], keyed_tables: list[tuple[str, str]],
                    affected: list[str], result: ScanResult | None = None) -> ScanResult:
    """The PostgreSQL residue check: rows keyed by the destroyed letters, a scan of every value
    in the database, and — when the data directory is readable here — of the relation files of
    the ``affected`` tables. Adds to ``result``; sets ``result.method``."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    result = result or ScanResult()
    result.needles = len(needles)
    result.method = "database query"
    with engine.connect() as conn:
        _rows_left(conn, keyed_tables, record_ids, result)
        if len(needles):
            _scan_columns(conn, needles, result)
        conn.rollback()
        folder = _data_directory(conn)
        files = _relation_paths(conn, folder, affected) if folder is not None else None
        conn.rollback()
    if files is None:
        return result
    # dirty pages reach the files, so the scan sees what a restarted server would read
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        try:
            conn.execute(text("CHECKPOINT"))
        except DBAPIError:
            pass
    result.method = "database query + relation files"
    result.relation_files = len(files)
    if len(needles):
        scan(files, needles, root=folder, result=result)   # named like base/<db oid>/<relfilenode>
    return result


def token_digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()
