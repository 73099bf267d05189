"""One Xinfang instance: settings, database, master keyring and blob store, bundled so
services reach them through the session (``instance_of(session)``), and the typed slots its
collaborators are registered in.

An ``Instance`` built here is bare: its slots are empty. ``app.composition.build_instance``
is the one place that fills them (key providers, key store, search service, the hooks run
when a letter is stored, the holders of material wrapped by the master key, the job
handlers); every entry point (web, API, CLI, jobs, benchmarks, tests) builds through it.
Nothing registers itself on import."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from records import crypto
from records.blobs import BlobStore
from records.settings import Settings
from records.db import Database, allow_writes
from records.errors import ConfigurationError
from records.jobs.registry import JobRegistry

if TYPE_CHECKING:
    from records.models import Record


class KeyStore(Protocol):
    """Keys kept outside the database (retention's batch keys), each sealed under the master key."""

    def create(self, key_id: str) -> None: ...

    def exists(self, key_id: str) -> bool: ...

    def load(self, key_id: str) -> bytes: ...

    def destroy(self, key_id: str) -> bool: ...

    def key_ids(self) -> list[str]: ...


class MasterWrappedHolder(Protocol):
    """Something that keeps material wrapped by the master key (``record_keys`` rows, batch key
    files…). Key rotation re-wraps every registered holder; retiring a version is refused
    while any holder still has material wrapped by it."""

    #: What it holds, as an operator reads it ("record keys", "batch key files").
    name: str

    def usage(self, inst: "Instance") -> dict[str, int]:
        """How many items each key wraps, e.g. ``{"master:1": 3, "master:2": 40}`` (only
        master refs matter to rotation; others may be listed)."""
        ...

    def rewrap_step(self, inst: "Instance", stale: list[str], limit: int) -> int:
        """Re-wrap up to ``limit`` items wrapped by one of the ``stale`` refs under the
        current master key, durably (its own transaction / atomic file replace). Returns
        how many were re-wrapped; 0 once none is left."""
        ...


class SearchService(Protocol):
    """The search index of an instance: the blinder (key in memory) and the backend."""

    blinder: object
    backend: object


#: A hook called when a letter becomes stored (存信), in the transaction that stores it.
StoredHook = Callable[[Session, "Record"], object]


class Instance:
    def __init__(self, settings: Settings, keyring: crypto.Keyring | None = None):
        self.settings = settings
        self._keyring = keyring
        #: (mtime_ns, size) of the key file the keyring was read from; None when injected or from env.
        self._key_stamp: tuple[int, int] | None = None
        #: Key kind other than ``master`` (``batch``…) -> the provider wrapping and unwrapping
        #: data keys under keys of that kind (``records.sealing`` asks it).
        self.key_providers: dict[str, crypto.MasterKeyProvider] = {}
        #: Where keys outside the database live (retention's batch keys); None until registered.
        self.keystore: KeyStore | None = None
        self._search: SearchService | None = None
        #: Called, in order, in the transaction that stores a letter (the workflow's ``store``).
        self.on_stored: list[StoredHook] = []
        #: Everything that keeps material wrapped by the master key (see ``records.keys``).
        self.master_wrapped: list[MasterWrappedHolder] = []
        #: Handlers of background jobs by kind (``records.jobs``).
        self.jobs = JobRegistry()
        #: Called, in order, when an attachment is added to a record (in that transaction):
        #: ``hook(session, record, attachment, by)``; intake queues its text extraction.
        self.on_attachment: list = []
        #: The OCR engine (``records.intake.ocr.Engine``), set by the composition root.
        self.ocr = None

    @property
    def search(self) -> SearchService:
        if self._search is None:
            raise ConfigurationError("This instance has no search service; build it with "
                                     "app.composition.build_instance.")
        return self._search

    @search.setter
    def search(self, service: SearchService) -> None:
        self._search = service

    def key_provider(self, kind: str) -> crypto.MasterKeyProvider:
        """The provider of keys of ``kind`` (``master``: the keyring)."""
        if kind == "master":
            return self.keyring
        try:
            return self.key_providers[kind]
        except KeyError:
            raise ConfigurationError(f"No provider of {kind!r} keys is registered on this instance "
                                     "(build it with app.composition.build_instance).") from None

    def use_keyring(self, ring: crypto.Keyring) -> None:
        """From now on this process wraps and unwraps with ``ring`` (after a rotation or a
        retirement rewrote the key file)."""
        self._keyring = ring
        self._key_stamp = self._key_file_stamp()

    def stored(self, session: Session, record: "Record") -> None:
        """Run the ``on_stored`` hooks for ``record``, which has just become stored."""
        for hook in self.on_stored:
            hook(session, record)

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @property
    def keyring(self) -> crypto.Keyring:
        if self._keyring is None:
            s = self.settings
            stamp = self._key_file_stamp()
            self._keyring = crypto.load_keyring(s.master_key_source, s.key_file, s.master_key_env,
                                                key_text=s.master_key)
            self._key_stamp = stamp
        return self._keyring

    def _key_file_stamp(self) -> tuple[int, int] | None:
        if self.settings.master_key_source != "file":
            return None
        try:
            st = self.settings.key_file.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def _reload_keyring_if_changed(self) -> None:
        """A running server picks up a key rotated by ``xinfang keys rotate`` at its next unit of work."""
        if self._key_stamp is not None and self._key_file_stamp() != self._key_stamp:
            self._keyring = None

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blob_dir)

    def purpose_key(self, purpose: str) -> bytes:
        return self.keyring.purpose_key(purpose)

    def session(self, *, read_only: bool = False) -> Session:
        """A session of one unit of work. ``read_only``: it reads in a transaction that takes
        no write lock; what it must still write (audit entries of what it read, a token's
        last use) is queued with ``write_after_read`` and written by ``end_read``, in a short
        transaction of its own; any other write is refused (``records.db.ReadOnlyWrite``)."""
        self._reload_keyring_if_changed()
        s = self.db.read_session() if read_only else self.db.session()
        s.info["xinfang"] = self
        if read_only:
            s.info[AFTER_READ] = []
        else:
            event.listen(s, "after_transaction_create", _mark_savepoint)
            event.listen(s, "after_commit", _forget_new_blobs)
            event.listen(s, "after_rollback", self._remove_new_blobs)
        return s

    def end_read(self, session: Session) -> int:
        """End a read-only unit of work and write what it queued, committed before the caller
        answers. Returns how many queued writes ran.

        On SQLite the read transaction ends first and the writes get a write transaction of
        their own: a reader's deferred transaction cannot become the writer. On PostgreSQL
        the read's own transaction takes them and commits (``records.db.allow_writes``):
        READ COMMITTED, so each write sees what others committed, and the request saves a
        second connection, its liveness check, its BEGIN and a ROLLBACK. A transaction that
        a failed statement left aborted is rolled back and the writes get a new one."""
        queued = session.info.pop(AFTER_READ, None) or []
        if not queued:
            session.rollback()
            return 0
        if not allow_writes(session):
            session.rollback()
            with self.unit_of_work() as w:
                for write in queued:
                    write(w)
            return len(queued)
        try:
            for write in queued:
                write(session)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        return len(queued)

    def _remove_new_blobs(self, session: Session) -> None:
        """A rolled-back registration leaves no orphan ciphertext file behind. A savepoint
        rolled back removes only the files written since it began (the enclosing
        transaction's stay: they commit with it)."""
        new = session.info.get("xinfang.new_blobs", [])
        since = session.info.get(_SAVEPOINTS, [0]).pop() if session.in_nested_transaction() else 0
        for uid in new[since:]:
            self.blobs.delete(uid)
        del new[since:]
        if not session.in_nested_transaction():
            session.info.pop(_SAVEPOINTS, None)

    @contextlib.contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error (a CLI command, a job step)."""
        s = self.session()
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            s.close()

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


#: ``session.info`` key of a read-only session's queued writes.
AFTER_READ = "xinfang.after_read"


def is_read_only(session: Session) -> bool:
    return AFTER_READ in session.info


def write_after_read(session: Session, write: Callable[[Session], object]) -> None:
    """Run ``write(session)`` now, or, in a read-only unit of work, queue it for ``end_read``
    (it then gets the write session; it must not touch objects of the read session)."""
    queued = session.info.get(AFTER_READ)
    if queued is None:
        write(session)
    else:
        queued.append(write)


_SAVEPOINTS = "xinfang.new_blobs.savepoints"


def _mark_savepoint(session: Session, transaction) -> None:
    """Remember how many new blob files existed when a savepoint began."""
    if transaction.nested:
        session.info.setdefault(_SAVEPOINTS, []).append(len(session.info.get("xinfang.new_blobs", [])))


def _forget_new_blobs(session: Session) -> None:
    """After the real commit the new files are kept for good; a savepoint's release only
    ends its mark (its files now belong to the enclosing transaction)."""
    if session.in_nested_transaction():
        marks = session.info.get(_SAVEPOINTS)
        if marks:
            marks.pop()
        return
    session.info.pop("xinfang.new_blobs", None)
    session.info.pop(_SAVEPOINTS, None)


def instance_of(session: Session) -> Instance:
    try:
        return session.info["xinfang"]
    except KeyError:
        raise RuntimeError("session was not opened through an Instance") from None
