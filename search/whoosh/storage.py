"""The index's files: generations, their meta file, and atomic replacement.

Layout of ``settings.index_dir``::

    CURRENT            the generation in use ("gen-3"), replaced atomically by a rebuild
    gen-3/meta.json    format and the id (never the value) of the blind-token key
    gen-3/y2025/       one Whoosh index per year of receipt (``shards``)
    gen-3/y2026/
    .rebuild-<ms>/     a rebuild in progress (renamed to the next generation when done)
    .writer.lock       held by the one writer (see ``indexer.writer_lock``)

A rebuild fills a new folder beside the one in use and switches ``CURRENT`` to it in one
atomic rename, so searches never see half an index; the old generation is then removed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from .. import analysis
from ..interface import IndexKeyMismatch, IndexSchemeOutdated, outdated_message

#: Format of a generation (in its meta.json). 2: the schema's classes moved to
#: ``search.whoosh`` — Whoosh pickles them by module path into every table of contents, so
#: an index of format 1 cannot be opened by this version and is refused ("rebuild it").
FORMAT = 2
#: The token scheme the generation's documents were analysed with (``analysis.SCHEME``;
#: absent in meta.json: 1).
SCHEME = analysis.SCHEME
CURRENT = "CURRENT"
REBUILD_PREFIX = ".rebuild-"
_GEN_RE = re.compile(r"^gen-(\d+)$")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, synced to disk first."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def current_name(root: Path) -> str | None:
    """The name of the generation ``CURRENT`` points to, if it names an existing one."""
    try:
        name = (root / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    return name if _GEN_RE.match(name) and (root / name).is_dir() else None


def new_generation_name(root: Path) -> str:
    """The name of the next generation (one above every generation folder present)."""
    numbers = [int(m.group(1)) for p in root.iterdir() if (m := _GEN_RE.match(p.name))] if root.is_dir() else []
    return f"gen-{max(numbers, default=0) + 1}"


def init_generation(gen: Path, key_id: str) -> None:
    """Create the folder of a generation and its meta file."""
    # exist_ok: two processes creating the first generation at once write the same thing
    gen.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(gen / "meta.json", json.dumps({"format": FORMAT, "scheme": SCHEME, "key_id": key_id,
                                                 "layout": "shard-per-year"}))


def create_first(root: Path, key_id: str) -> str:
    """A first (empty) generation, made current; its name."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = new_generation_name(root)
    init_generation(root / name, key_id)
    write_atomic(root / CURRENT, name)
    return name


def check_meta(gen: Path, key_id: str) -> None:
    """IndexKeyMismatch unless the generation was built with ``key_id`` in this format."""
    try:
        meta = json.loads((gen / "meta.json").read_text())
    except (FileNotFoundError, ValueError):
        raise IndexKeyMismatch(f"The search index at {gen} has no readable meta.json; "
                               "rebuild it with 'xinfang search reindex'.") from None
    if meta.get("key_id") == key_id and meta.get("scheme", 1) != SCHEME:
        raise IndexSchemeOutdated(outdated_message(meta.get("scheme", 1)))
    if meta.get("key_id") != key_id or meta.get("format") != FORMAT:
        raise IndexKeyMismatch("The search index was built with another blind-token key or format; "
                               "rebuild it with 'xinfang search reindex'.")


def start_rebuild(root: Path, key_id: str) -> Path:
    """A new, empty generation folder for a rebuild (those of rebuilds that crashed removed)."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    for p in root.iterdir():
        if p.name.startswith(REBUILD_PREFIX) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    gen = root / f"{REBUILD_PREFIX}{int(time.time() * 1000)}"
    init_generation(gen, key_id)
    return gen


def finish_rebuild(root: Path, built: Path) -> Path:
    """Give a finished rebuild the next generation's name; that folder."""
    final = root / new_generation_name(root)
    os.replace(built, final)
    return final


def switch_to(root: Path, new_gen: Path) -> Path | None:
    """Point ``CURRENT`` at ``new_gen``; the generation it pointed to before (not removed)."""
    try:
        old: Path | None = root / (root / CURRENT).read_text().strip()
    except FileNotFoundError:
        old = None
    write_atomic(root / CURRENT, new_gen.name)
    return old if old is not None and old != new_gen else None


def remove_generation(gen: Path | None) -> None:
    if gen is not None and gen.is_dir():
        shutil.rmtree(gen, ignore_errors=True)


def remove_others(root: Path, gen: Path) -> None:
    """Remove every generation and unfinished rebuild but ``gen`` (what a crash left)."""
    for p in root.iterdir():
        if p.is_dir() and p != gen and (p.name.startswith(REBUILD_PREFIX) or _GEN_RE.match(p.name)):
            shutil.rmtree(p, ignore_errors=True)


def remove_temp_runs(shard: Path) -> None:
    """Remove the temporary posting runs a writer of ``shard`` left (call it under the
    shard's write lock)."""
    for p in shard.iterdir():
        if p.is_dir() and p.name.endswith(".tmp"):
            shutil.rmtree(p, ignore_errors=True)
