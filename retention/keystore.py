"""Batch keys, kept outside the database (DESIGN.md, Encryption).

``KeyStore`` is the small interface; ``FileKeyStore`` fills it with one file per key in
``<keystore_dir>/batches`` (mode 0600, created atomically, fsynced). A KMS or Vault transit
could fill it when several machines share the store. Destroying a key overwrites and
unlinks its file and syncs the folder, so a database backup taken before cannot be opened.
(On copy-on-write or journalling file systems and SSDs the overwrite is best effort; the
unlink + folder sync is what the design relies on, with backups of the key store excluded
or expiring — see the deployment notes.)

Each key file holds the batch key sealed under the current master key, so the key store
alone opens nothing either. ``BatchKeyFiles`` is the key store seen as a holder of
master-wrapped material: key rotation re-wraps the files, retiring a master key version is
refused while a file is still sealed under it (``records.keys``).

Nothing here registers itself: ``app.composition.build_instance`` puts the store in
``inst.keystore``, the provider in ``inst.key_providers["batch"]`` and the holder in
``inst.master_wrapped``."""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from records import crypto
from records.errors import ConfigurationError, CryptoError
from records.instance import Instance, KeyStore

try:  # POSIX; serialises re-wrapping a key file with destroying it
    import fcntl
except ImportError:  # pragma: no cover - Windows is not a deployment target
    fcntl = None

__all__ = ["KeyStore", "FileKeyStore", "BatchKeyProvider", "BatchKeyFiles", "KeyDestroyed", "key_id",
           "keystore_for", "provider_for"]

_KEY_ID = re.compile(r"^(\d{1,12})\.(\d{1,6})$")


class KeyDestroyed(CryptoError):
    """The batch key is gone: its letters were destroyed (crypto-shredding)."""


def _check(key_id: str) -> str:
    if not _KEY_ID.match(key_id or ""):
        raise CryptoError(f"Malformed batch key id {key_id!r}.")
    return key_id


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileKeyStore:
    """One file per batch key generation: ``batches/<batch id>.<generation>.key``."""

    def __init__(self, root: Path, keyring: Callable[[], crypto.Keyring]):
        self.root = root
        #: The master keyring as it is now (a rotation replaces it while the store lives).
        self._keyring = keyring

    @property
    def keyring(self) -> crypto.Keyring:
        return self._keyring()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Re-wrapping a file and destroying it never interleave (a re-wrap must not bring a
        destroyed key back)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _path(self, key_id: str) -> Path:
        return self.root / f"{_check(key_id)}.key"

    @staticmethod
    def _aad(key_id: str) -> bytes:
        return crypto.aad("batch-key", key_id)

    def create(self, key_id: str) -> None:
        """Create a new random key; never overwrite an existing one (FileExistsError)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        final = self._path(key_id)
        ref, sealed = self.keyring.wrap(crypto.new_key(), self._aad(key_id))
        body = json.dumps({"format": "xinfang-batch-key-1", "id": key_id, "wrapped_by": ref,
                           "key": base64.b64encode(sealed).decode()}).encode()
        tmp = self.root / f".{key_id}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, final)  # atomic, and fails if the key already exists
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(self.root)

    def exists(self, key_id: str) -> bool:
        return self._path(key_id).exists()

    def _read(self, key_id: str) -> dict:
        try:
            return json.loads(self._path(key_id).read_bytes())
        except FileNotFoundError:
            raise KeyDestroyed(f"Batch key {key_id} is not in the key store (destroyed, or another "
                               "instance's key).") from None
        except ValueError:
            raise CryptoError(f"Batch key file {key_id} is damaged.") from None

    def load(self, key_id: str) -> bytes:
        data = self._read(key_id)
        return self.keyring.unwrap(data["wrapped_by"], base64.b64decode(data["key"]), self._aad(key_id))

    def wrapped_by(self, key_id: str) -> str:
        """The master key version the file is sealed under (``master:N``)."""
        return str(self._read(key_id).get("wrapped_by", ""))

    def rewrap(self, key_id: str) -> bool:
        """Seal the key under the current master version (atomic replace, synced). False when
        the key was destroyed meanwhile or is already current."""
        with self._locked():
            try:
                data = self._read(key_id)
            except KeyDestroyed:
                return False
            ring = self.keyring
            if data["wrapped_by"] == ring.current_ref():
                return False
            key = ring.unwrap(data["wrapped_by"], base64.b64decode(data["key"]), self._aad(key_id))
            ref, sealed = ring.wrap(key, self._aad(key_id))
            body = json.dumps({**data, "wrapped_by": ref, "key": base64.b64encode(sealed).decode()}).encode()
            tmp = self.root / f".{key_id}.{os.getpid()}.rewrap"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(body)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self._path(key_id))
            finally:
                tmp.unlink(missing_ok=True)
            _fsync_dir(self.root)
            return True

    def destroy(self, key_id: str) -> bool:
        """Overwrite, sync, unlink, sync the folder. True if a key was there."""
        path = self._path(key_id)
        with self._locked():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                return False
            with open(path, "r+b") as fh:
                fh.write(os.urandom(max(size, 1)))
                fh.flush()
                os.fsync(fh.fileno())
            path.unlink()
            _fsync_dir(self.root)
        return True

    def key_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name[:-4] for p in self.root.glob("*.key") if _KEY_ID.match(p.name[:-4]))


def key_id(batch_id: int, generation: int) -> str:
    return f"{batch_id}.{generation}"


class BatchKeyProvider:
    """Wraps and unwraps data keys under batch keys (refs ``batch:<id>.<generation>``),
    with the same interface as the master keyring."""

    def __init__(self, store: KeyStore):
        self.store = store
        self._cache: dict[str, bytes] = {}

    def _key(self, ref: str) -> bytes:
        kind, _, kid = ref.partition(":")
        if kind != "batch":
            raise CryptoError(f"Key {ref!r} is not a batch key.")
        key = self._cache.get(kid)
        if key is None:
            key = self.store.load(kid)
            self._cache[kid] = key
        return key

    def forget(self, ref: str) -> None:
        self._cache.pop(ref.partition(":")[2], None)

    def current_ref(self) -> str:  # pragma: no cover - batch keys are always named
        raise CryptoError("A batch key must be named explicitly.")

    def wrap(self, data_key: bytes, associated: bytes, ref: str | None = None) -> tuple[str, bytes]:
        if not ref:
            raise CryptoError("A batch key must be named explicitly.")
        return ref, crypto.seal(self._key(ref), data_key, associated)

    def unwrap(self, ref: str, wrapped: bytes, associated: bytes) -> bytes:
        return crypto.open_sealed(self._key(ref), wrapped, associated)

    def purpose_key(self, purpose: str) -> bytes:  # pragma: no cover - not a master key
        raise CryptoError("Batch keys derive no purpose keys.")


class BatchKeyFiles:
    """The key store's files as a holder of master-wrapped material (``records.keys``)."""

    name = "batch key files"

    def __init__(self, store: FileKeyStore):
        self.store = store

    def usage(self, inst: Instance) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for kid in self.store.key_ids():
            try:
                counts[self.store.wrapped_by(kid)] += 1
            except KeyDestroyed:
                continue  # destroyed while we looked
        return dict(counts)

    def rewrap_step(self, inst: Instance, stale: list[str], limit: int) -> int:
        done = 0
        for kid in self.store.key_ids():
            if done >= limit:
                break
            try:
                if self.store.wrapped_by(kid) in stale and self.store.rewrap(kid):
                    done += 1
            except KeyDestroyed:
                continue
        return done


def keystore_for(inst: Instance) -> KeyStore:
    """The instance's key store (``inst.keystore``, registered by the composition root)."""
    if inst.keystore is None:
        raise ConfigurationError("This instance has no key store; build it with app.composition.build_instance.")
    return inst.keystore


def provider_for(inst: Instance) -> BatchKeyProvider:
    """The instance's provider of batch keys (``inst.key_providers["batch"]``)."""
    return inst.key_provider("batch")  # type: ignore[return-value]
