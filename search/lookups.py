"""Confidential identity look-ups: every letter of one petitioner, by ID number, phone or name.

Open to leaders and the chief only (``IDENTITY_LOOKUP``), each with a stated reason, each
audited with the reason and the number of letters found, and rate-limited per user. The
limit is counted from the audit trail, so it holds across every process serving the
office. The identifiers are matched through the keyed blind index of ``records.identity``
(the ``identity`` purpose key): the database holds no identifier in the clear.
"""
from __future__ import annotations

import datetime as dt
import json
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from records import audit, identity, policy
from records.cases import operations
from records.errors import Msg, ValidationError, XinfangError
from records.instance import instance_of
from records.models import AuditEntry, IdentityToken, Record
from records.accounts.models import User
from records.db import utcnow

KINDS = identity.KINDS
#: Minimum length of a reason, in display columns (a CJK character counts two).
MIN_REASON_WIDTH = 10
MAX_REASON = 500
#: Look-ups per user per rolling hour.
LIMIT_PER_HOUR = 20
WINDOW = dt.timedelta(hours=1)
MAX_RESULTS = 200
ACTION = "identity.lookup"


class TooManyLookups(XinfangError):
    status = 429


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@dataclass
class LookupLine:
    record: Record
    #: The subject, only when the user may read the record's content.
    subject: str | None


@dataclass
class LookupResult:
    kind: str
    count: int
    lines: list[LookupLine]
    remaining: int


def _clean(kind, value, reason) -> tuple[str, str, str]:
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = "Choose one of: " + ", ".join(KINDS) + "."
    if not isinstance(value, str) or not value.strip():
        errors["value"] = "This field is required."
        value = ""
    elif len(value) > 100:
        errors["value"] = "At most 100 characters."
    elif kind == "id_number" and not identity.valid_id_number(value):
        errors["value"] = "Not a valid resident ID number (18 characters with a correct check digit)."
    elif kind == "phone" and not identity.valid_phone(value):
        errors["value"] = "Not a valid phone number."
    if not isinstance(reason, str):
        reason = ""
    reason = " ".join(unicodedata.normalize("NFC", reason).split())
    if not reason:
        errors["reason"] = "State why you need this look-up; it is kept in the audit trail."
    elif display_width(reason) < MIN_REASON_WIDTH:
        errors["reason"] = Msg("The reason is too short: say why, in at least %(width)s characters "
                               "(%(chinese)s Chinese characters).", width=MIN_REASON_WIDTH,
                               chinese=MIN_REASON_WIDTH // 2)
    elif len(reason) > MAX_REASON:
        errors["reason"] = Msg("At most %(n)s characters.", n=MAX_REASON)
    if errors:
        raise ValidationError("The look-up cannot be made.", fields=errors)
    return kind, value.strip(), reason


#: The repeat-letter check (``search.repeats``) names letters of one petitioner too: it counts
#: toward the same quota, once per version of the letter checked.
REPEAT_ACTION = "repeat.check"


def _repeat_checks(session: Session, user: User) -> set[tuple[str, object]]:
    since = utcnow() - WINDOW
    rows = session.execute(select(AuditEntry.target, AuditEntry.detail).where(
        AuditEntry.action == REPEAT_ACTION, AuditEntry.actor_id == user.id, AuditEntry.at >= since)).all()
    out = set()
    for target, detail in rows:
        try:
            version = json.loads(detail or "{}").get("version")
        except ValueError:
            version = None
        out.add((target, version))
    return out


def used_this_hour(session: Session, user: User) -> int:
    """Look-ups and repeat checks (distinct letter versions) of ``user`` in the last hour."""
    since = utcnow() - WINDOW
    lookups = session.execute(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == ACTION, AuditEntry.actor_id == user.id, AuditEntry.at >= since)).scalar_one()
    return lookups + len(_repeat_checks(session, user))


def repeat_checked(session: Session, user: User, record: Record) -> bool:
    """Has ``user`` checked this version of ``record`` for repeats in the last hour (counted already)?"""
    return (record.serial, record.doc_version) in _repeat_checks(session, user)


def lookup(session: Session, user: User, kind, value, reason, *, address: str = "") -> LookupResult:
    """The letters of one petitioner that ``user`` may see in the ledger, newest first."""
    policy.require(user, policy.IDENTITY_LOOKUP)
    kind, value, reason = _clean(kind, value, reason)
    key = instance_of(session).purpose_key("identity")
    token = identity.token(key, kind, value)
    if token is None:
        raise ValidationError("The look-up cannot be made.", fields={"value": "Nothing to look up."})
    ids = select(IdentityToken.record_id).where(IdentityToken.kind == kind, IdentityToken.token == token)
    records = session.execute(
        select(Record).where(Record.id.in_(ids), policy.scope_clause(user, policy.VIEW_LEDGER))
        .order_by(Record.received_at.desc(), Record.id.desc()).limit(MAX_RESULTS)
        .options(selectinload(Record.key))).scalars().all()
    lines = []
    for r in records:
        subject = operations.document(session, r).get("subject", "") if policy.can(user, policy.VIEW_CONTENT, r) \
            else None
        lines.append(LookupLine(record=r, subject=subject))
    # The entry is appended first: appends serialise on the audit head, so the count that
    # follows sees every concurrent look-up of this user (one process or many).
    # the reason may name the petitioner: sealed, opened for readers of the audit trail only
    audit.record(session, ACTION, actor=user, address=address,
                 detail={"kind": kind, "reason_sealed": audit.seal_text(session, ACTION, user.id, reason),
                         "count": len(lines),
                         "serials": [line.record.serial for line in lines]})
    used = used_this_hour(session, user)
    if used > LIMIT_PER_HOUR:
        raise TooManyLookups(
            f"At most {LIMIT_PER_HOUR} identity look-ups per hour; try again later.",
            audit={"action": "identity.lookup_refused", "actor_id": user.id, "address": address,
                   "detail": {"kind": kind, "why": "rate limit", "reason_sealed": audit.seal_text(
                       session, "identity.lookup_refused", user.id, reason)}})
    return LookupResult(kind=kind, count=len(lines), lines=lines, remaining=max(0, LIMIT_PER_HOUR - used))
