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

    @cached_property
    def db(self) -> Database:
        return Database(self.settings.database_url)

    @property
    def keyring(self) -> crypto.Keyring:
        if self._keyring is None:
            s = self.settings
            self._keyring = crypto.load_keyring(s.master_key_source, s.key_file, s.master_key_env)
        return self._keyring

    @cached_property
    def blobs(self) -> BlobStore:
        return BlobStore(self.settings.blob_dir)

    def purpose_key(self, purpose: str) -> bytes:
        return self.keyring.purpose_key(purpose)

    def session(self) -> Session:
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
