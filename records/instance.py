"""One Xinfang instance: settings, database, master keyring and blob store, bundled so
services reach them through the session (``instance_of(session)``)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cached_property

from sqlalchemy import event
from sqlalchemy.orm import Session

from . import crypto
from .blobs import BlobStore
from .config import Settings
from .db import Database


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

    def session(self) -> Session:
        self._reload_keyring_if_changed()
        s = self.db.session()
        s.info["xinfang"] = self
        event.listen(s, "after_commit", _forget_new_blobs)
        event.listen(s, "after_rollback", self._remove_new_blobs)
        return s

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


def _forget_new_blobs(session: Session) -> None:
    session.info.pop("xinfang.new_blobs", None)


def instance_of(session: Session) -> Instance:
    try:
        return session.info["xinfang"]
    except KeyError:
        raise RuntimeError("session was not opened through an Instance") from None
