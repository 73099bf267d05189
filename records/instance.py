"""One Xinfang instance: settings, database, master keyring and blob store, bundled so
services reach them through the session (``instance_of(session)``)."""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from functools import cached_property

from sqlalchemy import event
from sqlalchemy.orm import Session

from records import crypto
from records.blobs import BlobStore
from records.settings import Settings
from records.db import Database


class Instance:
    def __init__(self, settings: Settings, keyring: crypto.Keyring | None = None):
        self.settings = settings
        self._keyring = keyring
        #: (mtime_ns, size) of the key file the keyring was read from; None when injected or from env.
        self._key_stamp: tuple[int, int] | None = None
        #: Key kind (``batch``…) -> factory(instance) of the provider unwrapping it; overrides
        #: the process-wide ``sealing.UNWRAPPERS`` for this instance only.
        self.unwrappers: dict = {}

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @property
    def keyring(self) -> crypto.Keyring:
        if self._keyring is None:
            s = self.settings
            stamp = self._key_file_stamp()
            self._keyring = crypto.load_keyring(s.master_key_source, s.key_file, s.master_key_env)
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
            event.listen(s, "after_commit", _forget_new_blobs)
            event.listen(s, "after_rollback", self._remove_new_blobs)
        return s

    def end_read(self, session: Session) -> int:
        """End a read-only unit of work: close its read transaction, then write what it
        queued in one write transaction (committed before the caller answers). Returns how
        many queued writes ran."""
        queued = session.info.pop(AFTER_READ, None) or []
        session.rollback()
        if queued:
            with self.unit_of_work() as w:
                for write in queued:
                    write(w)
        return len(queued)

    def _remove_new_blobs(self, session: Session) -> None:
        """A rolled-back registration leaves no orphan ciphertext file behind."""
        for uid in session.info.pop("xinfang.new_blobs", []):
            self.blobs.delete(uid)

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


def _forget_new_blobs(session: Session) -> None:
    session.info.pop("xinfang.new_blobs", None)


def instance_of(session: Session) -> Instance:
    try:
        return session.info["xinfang"]
    except KeyError:
        raise RuntimeError("session was not opened through an Instance") from None
