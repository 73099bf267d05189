"""Envelope encryption: AES-256-GCM with associated data, data keys wrapped by master keys,
purpose keys derived with HKDF.

Format of a sealed value: ``b"\\x01" + nonce(12) + ciphertext+tag``. The associated data
names the record and the field, so a ciphertext moved to another record or field fails.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from records.errors import ConfigurationError, CryptoError

FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
KEY_BYTES = 32

#: Purposes of derived keys; one key per purpose, never shared.
PURPOSES = ("blind-token", "identity", "audit", "token-hash", "totp", "recovery-code",
            "mail-id",  # mail-id: imported e-mails by Message-ID (records.intake)
            "audit-sealed", "audit-checkpoint",  # free text in audit details; signed checkpoints of its head
            "scan-draft")  # a scan recognised on the registration form before its letter exists (records.intake)


def new_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def aad(record_uid: str, field: str, *extra: object) -> bytes:
    """Associated data binding a ciphertext to one record and one field."""
    return "|".join(["xinfang", record_uid, field, *map(str, extra)]).encode()


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def open_sealed(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    if not sealed or sealed[:1] != FORMAT_V1 or len(sealed) < 1 + NONCE_BYTES + 16:
        raise CryptoError("Sealed value is malformed or of an unknown format.")
    nonce = sealed[1:1 + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(nonce, sealed[1 + NONCE_BYTES:], associated)
    except InvalidTag:
        raise CryptoError(
            "Decryption failed: the ciphertext was altered, belongs to another record or field, "
            "or the key is wrong.") from None


def seal_json(key: bytes, value, associated: bytes) -> bytes:
    return seal(key, json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), associated)


def open_json(key: bytes, sealed: bytes, associated: bytes):
    return json.loads(open_sealed(key, sealed, associated).decode())


def hkdf(root: bytes, purpose: str, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                info=b"xinfang/" + purpose.encode()).derive(root)


def keyed_hash(key: bytes, data: bytes, length: int = 32) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()[:length]


class MasterKeyProvider(Protocol):
    """What the rest of the system needs of a master key; a KMS or Vault transit can fill it."""

    def current_ref(self) -> str: ...

    def wrap(self, data_key: bytes, associated: bytes, ref: str | None = None) -> tuple[str, bytes]: ...

    def unwrap(self, ref: str, wrapped: bytes, associated: bytes) -> bytes: ...

    def purpose_key(self, purpose: str) -> bytes: ...


@dataclass
class Keyring:
    """Versioned master keys plus a root for purpose keys, held in memory.

    Serialised as JSON (the key file's content, or the ``XINFANG_MASTER_KEY`` variable)."""

    versions: dict[int, bytes]
    current: int
    root: bytes

    @classmethod
    def generate(cls) -> "Keyring":
        return cls(versions={1: new_key()}, current=1, root=new_key())

    def to_json(self) -> str:
        return json.dumps({
            "format": "xinfang-keyring-1",
            "current": self.current,
            "versions": {str(v): base64.b64encode(k).decode() for v, k in sorted(self.versions.items())},
            "root": base64.b64encode(self.root).decode(),
        }, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "Keyring":
        try:
            data = json.loads(text)
            versions = {int(v): base64.b64decode(k, validate=True) for v, k in data["versions"].items()}
            ring = cls(versions=versions, current=int(data["current"]),
                       root=base64.b64decode(data["root"], validate=True))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigurationError(f"The master key material is not a valid keyring ({type(exc).__name__}).") from None
        if ring.current not in ring.versions or any(len(k) != KEY_BYTES for k in ring.versions.values()) \
                or len(ring.root) != KEY_BYTES:
            raise ConfigurationError("The master keyring is inconsistent (missing current version or bad key length).")
        return ring

    # -- MasterKeyProvider -------------------------------------------------
    def current_ref(self) -> str:
        return f"master:{self.current}"

    def _key(self, ref: str) -> bytes:
        kind, _, version = ref.partition(":")
        if kind != "master" or not version.isdigit() or int(version) not in self.versions:
            raise CryptoError(f"Key {ref!r} is not in this keyring (retired, or another instance's key).")
        return self.versions[int(version)]

    def wrap(self, data_key: bytes, associated: bytes, ref: str | None = None) -> tuple[str, bytes]:
        ref = ref or self.current_ref()
        return ref, seal(self._key(ref), data_key, associated)

    def unwrap(self, ref: str, wrapped: bytes, associated: bytes) -> bytes:
        return open_sealed(self._key(ref), wrapped, associated)

    def purpose_key(self, purpose: str) -> bytes:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown key purpose {purpose!r}")
        cache = self.__dict__.setdefault("_purpose_keys", {})
        if purpose not in cache:
            cache[purpose] = hkdf(self.root, purpose)
        return cache[purpose]


def write_key_file(path: Path, ring: Keyring) -> None:
    """Create the key file with mode 0600; never overwrite an existing one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(ring.to_json())
        fh.flush()
        os.fsync(fh.fileno())


def load_keyring(source: str, key_file: Path, env_name: str, environ=None, *, key_text: str | None = None) -> Keyring:
    """The keyring from the key file (source "file"), or from ``key_text`` (source "env": the
    value of ``env_name``, which ``Settings`` read; or looked up in ``environ`` when given)."""
    if source == "env":
        text = key_text if key_text is not None else (environ or {}).get(env_name)
        if not text:
            raise ConfigurationError(f"Master key source is 'env' but {env_name} is not set.")
        return Keyring.from_json(text)
    if source == "file":
        try:
            return Keyring.from_json(key_file.read_text())
        except FileNotFoundError:
            raise ConfigurationError(
                f"No master key file at {key_file}. Run 'xinfang init' to create the instance.") from None
    raise ConfigurationError(f"Unknown master key source {source!r} (use 'file' or 'env').")


def data_key_aad(record_uid: str) -> bytes:
    return aad(record_uid, "data-key")


def wrap_data_key(provider: MasterKeyProvider, record_uid: str, data_key: bytes) -> tuple[str, bytes]:
    return provider.wrap(data_key, data_key_aad(record_uid))


def unwrap_data_key(provider: MasterKeyProvider, record_uid: str, ref: str, wrapped: bytes) -> bytes:
    return provider.unwrap(ref, wrapped, data_key_aad(record_uid))
