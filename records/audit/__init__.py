"""Append-only, hash-chained audit trail.

Each entry's hash is an HMAC (audit purpose key) over the previous hash and the entry's
canonical content, so editing, inserting or deleting an entry breaks the chain at that
point and only a holder of the key could forge a new chain. Details carry ids and counts,
never letter text; what a person wrote in free text (the reason given for an identity
look-up, which may name a petitioner) is sealed (``seal_text``) with the ``audit-sealed``
purpose key and opened only for those who read the audit trail (``readable_detail``).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from records import crypto
from records.instance import instance_of, is_read_only, write_after_read
from records.models import AuditEntry, AuditHead
from records.accounts.models import User
from records.db import utcnow

GENESIS = "0" * 64


def _canonical(entry_id: int, at: dt.datetime, actor_id, actor: str, action: str, target: str,
               detail: str, address: str) -> bytes:
    at_s = at.astimezone(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
    return json.dumps([entry_id, at_s, actor_id, actor, action, target, detail, address],
                      ensure_ascii=False, separators=(",", ":")).encode()


def _link(key: bytes, prev_hash: str, content: bytes) -> str:
    return hmac.new(key, prev_hash.encode() + b"\n" + content, hashlib.sha256).hexdigest()


def record(session: Session, action: str, *, actor: User | None = None, target: str = "",
           detail: dict | None = None, address: str = "", actor_name: str | None = None) -> AuditEntry | None:
    """Append one entry in the caller's transaction (it commits or rolls back with the change).

    In a read-only unit of work (a GET request) the entry is queued instead and appended
    when the read ends, before the answer leaves (``Instance.end_read``); None is returned."""
    at = utcnow()
    name = actor_name if actor_name is not None else (actor.username if actor else "")
    actor_id = actor.id if actor else None
    detail_s = json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    if is_read_only(session):
        write_after_read(session, lambda w: _append(w, at, actor_id, name, action, target, detail_s, address))
        return None
    return _append(session, at, actor_id, name, action, target, detail_s, address)


def record_many(session: Session, action: str, items: list[tuple[str, dict]], *, actor: User | None = None,
                address: str = "", actor_name: str | None = None) -> int:
    """Append one entry per ``(target, detail)`` of ``items``, in order: the same entries and
    the same chain as ``record`` called for each in turn (one time for all of them), written
    with one lock of the head, one multi-row INSERT and one update of the head — for a step
    that acts on many letters at once (sealing a batch). Returns how many were appended."""
    if not items:
        return 0
    at = utcnow()
    name = actor_name if actor_name is not None else (actor.username if actor else "")
    actor_id = actor.id if actor else None
    entries = [(target, json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":")))
               for target, detail in items]
    if is_read_only(session):
        for target, detail_s in entries:
            write_after_read(session, lambda w, t=target, d=detail_s: _append(w, at, actor_id, name, action, t, d,
                                                                              address))
        return len(entries)
    return len(_append_all(session, at, actor_id, name, action, entries, address))


def _lock_head(session: Session) -> tuple[int, str]:
    """The chain's last id and hash, its head locked until the transaction ends (created on
    the first entry)."""
    head = session.execute(select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1)
                           .with_for_update()).one_or_none()
    if head is None:
        session.execute(insert(AuditHead).values(id=1, last_id=0, last_hash=GENESIS))
        return 0, GENESIS
    return head.last_id, head.last_hash


def _append(session: Session, at: dt.datetime, actor_id: int | None, name: str, action: str, target: str,
            detail_s: str, address: str) -> AuditEntry:
    return _append_all(session, at, actor_id, name, action, [(target, detail_s)], address)[0]


def _append_all(session: Session, at: dt.datetime, actor_id: int | None, name: str, action: str,
                entries: list[tuple[str, str]], address: str) -> list[AuditEntry]:
    """Link ``(target, detail)`` entries to the chain, in order: one lock of the head, one
    INSERT and one update of the head, in the caller's transaction. Core statements, not the
    unit of work: every request that reads letters appends while holding the chain's one
    lock, so the less happens under it, the less the others wait. The entries returned are
    not in the session (``session.get`` reads them)."""
    key = instance_of(session).purpose_key("audit")
    entry_id, prev = _lock_head(session)
    rows = []
    for target, detail_s in entries:
        entry_id += 1
        digest = _link(key, prev, _canonical(entry_id, at, actor_id, name, action, target, detail_s, address))
        rows.append({"id": entry_id, "at": at, "actor_id": actor_id, "actor": name, "action": action,
                     "target": target, "detail": detail_s, "address": address[:64], "prev_hash": prev,
                     "hash": digest})
        prev = digest
    session.execute(insert(AuditEntry), rows)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=entry_id, last_hash=prev))
    return [AuditEntry(**row) for row in rows]


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str = ""
    #: The hash of the last entry checked, to anchor the chain outside the database.
    head_hash: str = ""


def verify(session: Session) -> VerifyResult:
    """Walk the chain from the start; report the first entry that does not fit."""
    key = instance_of(session).purpose_key("audit")
    prev = GENESIS
    expected_id = 1
    checked = 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
    for e in rows:
        if e.id != expected_id:
            return VerifyResult(False, checked, expected_id,
                                f"entry {expected_id} is missing (next present is {e.id})")
        if e.prev_hash != prev:
            return VerifyResult(False, checked, e.id, f"entry {e.id} does not link to entry {e.id - 1}")
        content = _canonical(e.id, e.at, e.actor_id, e.actor, e.action, e.target, e.detail, e.address)
        if not hmac.compare_digest(_link(key, prev, content), e.hash):
            return VerifyResult(False, checked, e.id, f"entry {e.id} was altered (hash does not match)")
        prev = e.hash
        expected_id += 1
        checked += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev):
        return VerifyResult(False, checked, expected_id - 1 if checked else None,
                            f"the chain ends at entry {expected_id - 1} but the head says {head.last_id}: "
                            "entries were removed from the end")
    return VerifyResult(True, checked, head_hash=prev if checked else "")


def check_anchor(session: Session, anchor: str) -> bool:
    """Does entry N still carry HASH (``anchor`` = "N:HASH", a head printed earlier)?"""
    number, _, digest = (anchor or "").partition(":")
    if not number.isdigit() or len(digest) != 64:
        from records.errors import ValidationError

        raise ValidationError("An anchor looks like 1234:<64 hex digits>.")
    entry = session.get(AuditEntry, int(number))
    return entry is not None and hmac.compare_digest(entry.hash, digest)


# -- sealed free text ------------------------------------------------------------------
#: Detail keys holding sealed text: the key without the suffix is what a reader sees.
SEALED_SUFFIX = "_sealed"


def _sealed_aad(action: str, actor_id: int | None) -> bytes:
    return f"xinfang/audit-sealed/{action}/{actor_id or ''}".encode()


def seal_text(session: Session, action: str, actor_id: int | None, text: str) -> str:
    """Seal free text for an entry's detail (e.g. ``{"reason_sealed": seal_text(...)}``)."""
    key = instance_of(session).purpose_key("audit-sealed")
    return base64.b64encode(crypto.seal(key, text.encode(), _sealed_aad(action, actor_id))).decode()


def readable_detail(session: Session, entry: AuditEntry, reader: User) -> dict:
    """The entry's detail with sealed text opened, for a reader of the audit trail
    (inspector, chief); others get the sealed values withheld. Opening is itself audited."""
    from records import policy

    detail = json.loads(entry.detail or "{}")
    sealed = [k for k in detail if k.endswith(SEALED_SUFFIX)]
    if not sealed:
        return detail
    if not policy.can(reader, policy.VIEW_AUDIT):
        return {k: v for k, v in detail.items() if k not in sealed}
    key = instance_of(session).purpose_key("audit-sealed")
    for k in sealed:
        try:
            plain = crypto.open_sealed(key, base64.b64decode(detail.pop(k)), _sealed_aad(entry.action, entry.actor_id))
            detail[k[: -len(SEALED_SUFFIX)]] = plain.decode()
        except (crypto.CryptoError, ValueError):
            detail[k[: -len(SEALED_SUFFIX)]] = "(cannot be opened)"
    record(session, "audit.open_sealed", actor=reader, target=str(entry.id), detail={"fields": sealed})
    return detail
