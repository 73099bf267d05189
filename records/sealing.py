"""A record's data key and the fields sealed with it.

Data keys are unwrapped at most once per session (cached in ``session.info``) and never
leave memory."""
from __future__ import annotations

from sqlalchemy.orm import Session

from records import crypto
from records.instance import instance_of
from records.models import Record, RecordKey
from records.db import utcnow

_CACHE = "xinfang.data_keys"


def _cache(session: Session) -> dict[str, bytes]:
    return session.info.setdefault(_CACHE, {})


def forget(session: Session, record: Record) -> None:
    """Drop the record's data key from the session's cache (a long run done with a letter)."""
    _cache(session).pop(record.uid, None)


def key_unwrapper(session: Session, ref: str) -> crypto.MasterKeyProvider:
    """The provider that can unwrap keys wrapped by ``ref``: the master keyring, or the
    provider the instance registered for the kind (``batch:<id>.<generation>`` refs)."""
    return instance_of(session).key_provider(ref.partition(":")[0])


def new_data_key(session: Session, record: Record) -> bytes:
    """Create and wrap a fresh data key for a record being registered."""
    dek = crypto.new_key()
    ref, wrapped = crypto.wrap_data_key(instance_of(session).keyring, record.uid, dek)
    record.key = RecordKey(wrapped_by=ref, wrapped_key=wrapped)
    _cache(session)[record.uid] = dek
    return dek


def data_key(session: Session, record: Record) -> bytes:
    cache = _cache(session)
    dek = cache.get(record.uid)
    if dek is None:
        rk = record.key
        if rk is None:
            raise crypto.CryptoError(f"Record {record.serial} has no data key (destroyed or never created).")
        dek = crypto.unwrap_data_key(key_unwrapper(session, rk.wrapped_by), record.uid, rk.wrapped_by, rk.wrapped_key)
        cache[record.uid] = dek
    return dek


def rewrap(session: Session, record: Record, provider: crypto.MasterKeyProvider, ref: str | None = None) -> None:
    """Wrap the record's data key under another key (rotation, or a batch key) without
    touching any ciphertext."""
    dek = data_key(session, record)
    new_ref, wrapped = provider.wrap(dek, crypto.data_key_aad(record.uid), ref)
    record.key.wrapped_by = new_ref
    record.key.wrapped_key = wrapped
    record.key.rewrapped_at = utcnow()


def seal_json(session: Session, record: Record, field: str, value, *extra) -> bytes:
    return crypto.seal_json(data_key(session, record), value, crypto.aad(record.uid, field, *extra))


def open_json(session: Session, record: Record, field: str, sealed: bytes, *extra):
    return crypto.open_json(data_key(session, record), sealed, crypto.aad(record.uid, field, *extra))


def seal_bytes(session: Session, record: Record, field: str, data: bytes, *extra) -> bytes:
    return crypto.seal(data_key(session, record), data, crypto.aad(record.uid, field, *extra))


def open_bytes(session: Session, record: Record, field: str, sealed: bytes, *extra) -> bytes:
    return crypto.open_sealed(data_key(session, record), sealed, crypto.aad(record.uid, field, *extra))
