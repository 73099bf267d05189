"""Repeat letters (重複信): earlier letters of the same petitioner, and of similar content.

* **Same petitioner**: the identity blind index (``identity_tokens``) — the same ID number
  or phone number; the name alone only when the letter gives neither.
* **Similar content**: more-like-this over blind tokens — the new letter's most
  distinctive bigrams (by tf·idf, with document frequencies from the index) are searched
  for, and a candidate's share of their weight says how much of it the candidate repeats.

The panel is not an identity oracle (issue 15): an earlier letter of the same petitioner is
named (serial, and which identifier matched) only to a user who may see that letter's
identity (``VIEW_IDENTITY``); the others are only counted. Similar content is looked for
only among letters the user may read (``VIEW_CONTENT``), so a pasted guess confirms nothing
else. Every check is audited with the matched serials and counts toward the same hourly
quota as identity look-ups (``search.lookups``); a check of the same version of a letter is
counted once, and a correction of the letter (its identity) is a new check.
Marking a letter as a repeat is ``mark_repeat``.
"""
from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from records import audit, policy
from records.cases import operations
from records.errors import ValidationError
from records.instance import instance_of
from records.models import IdentityToken, Record, RecordEvent
from records.accounts.models import User

from . import analysis

#: Terms of the new letter used for more-like-this.
MLT_TERMS = 30
#: Share of those terms' weight a letter must hold to be called similar.
MIN_OVERLAP = 0.35
STRONG_KINDS = ("id_number", "phone")
#: The Art 11 reason for storing a letter whose matter was concluded after re-review.
STORE_REASON = "concluded_after_rereview"


@dataclass
class Candidate:
    record: Record
    #: Why it is a candidate: "id_number", "phone", "name", "content".
    reasons: list[str] = field(default_factory=list)
    #: Share of the new letter's distinctive terms it holds (content candidates).
    overlap: float | None = None
    #: When the candidate reached its current status.
    status_since: dt.datetime | None = None

    @property
    def final_after_rereview(self) -> bool:
        return is_final_after_rereview(self.record)


@dataclass
class RepeatReport:
    record: Record
    #: Earlier letters of the same petitioner (newest first).
    same_petitioner: list[Candidate]
    #: Other earlier letters of similar content (most similar first).
    similar: list[Candidate]
    #: How many earlier letters the same petitioner wrote (in the user's ledger).
    count_before: int
    matched_by: str | None
    #: Earlier letters of the same petitioner counted but not named (identity not the user's to see).
    not_shown: int = 0
    #: The check was refused: the hourly quota of look-ups and repeat checks is used up.
    limited: bool = False
    #: The newest of ALL the petitioner's earlier letters (not only those listed) that is final
    #: after re-review, when the user may see its identity.
    final_matter: Candidate | None = None

    @property
    def closest(self) -> Candidate | None:
        """The most recent earlier letter of the same petitioner (else the most similar)."""
        if self.same_petitioner:
            return self.same_petitioner[0]
        return self.similar[0] if self.similar else None

    @property
    def suggest_store(self) -> Candidate | None:
        """An earlier matter of the same petitioner that is final after re-review: the new
        letter may be stored (存信) with the reason ``concluded_after_rereview`` (Art 11). All of
        the petitioner's earlier letters are looked at, however many there are."""
        listed = next((c for c in self.same_petitioner if c.final_after_rereview), None)
        return listed or self.final_matter

    @property
    def empty(self) -> bool:
        return not self.same_petitioner and not self.similar and not self.count_before and not self.limited


def is_final_after_rereview(record: Record) -> bool:
    """The next level answered the re-review (複核): the matter is final (Art 11)."""
    try:
        from records.cases.workflow import is_final
    except ImportError:  # pragma: no cover - the workflow names it; this is its definition
        return getattr(record, "rereview_replied_on", None) is not None
    return is_final(record)


def _earlier(record: Record):
    return or_(Record.received_at < record.received_at,
               and_(Record.received_at == record.received_at, Record.id < record.id))


def _status_since(session: Session, records: list[Record]) -> dict[int, dt.datetime]:
    if not records:
        return {}
    rows = session.execute(
        select(RecordEvent.record_id, func.max(RecordEvent.at))
        .where(RecordEvent.record_id.in_([r.id for r in records]))
        .group_by(RecordEvent.record_id)).all()
    return {rid: at for rid, at in rows}


def _same_petitioner(session: Session, record: Record, user: User,
                     limit: int) -> tuple[list[Record], int, int, str | None]:
    mine = session.execute(select(IdentityToken.kind, IdentityToken.token)
                           .where(IdentityToken.record_id == record.id)).all()
    strong = [(k, t) for k, t in mine if k in STRONG_KINDS]
    pairs = strong or [(k, t) for k, t in mine if k == "name"]
    if not pairs:
        return [], 0, 0, None
    matched_by = "identity" if strong else "name"
    ids = select(IdentityToken.record_id).where(
        or_(*[and_(IdentityToken.kind == k, IdentityToken.token == t) for k, t in pairs]),
        IdentityToken.record_id != record.id)
    cond = [Record.id.in_(ids), _earlier(record), policy.scope_clause(user, policy.VIEW_LEDGER)]
    count = session.execute(select(func.count()).select_from(Record).where(*cond)).scalar_one()
    # named only where the user may see the identity: the match itself is identity
    named = cond + [policy.scope_clause(user, policy.VIEW_IDENTITY)]
    named_count = session.execute(select(func.count()).select_from(Record).where(*named)).scalar_one()
    rows = session.execute(select(Record).where(*named)
                           .order_by(Record.received_at.desc(), Record.id.desc()).limit(limit)).scalars().all()
    final = session.execute(select(Record).where(*named, Record.rereview_replied_on.is_not(None))
                            .order_by(Record.received_at.desc(), Record.id.desc()).limit(1)).scalars().first()
    if final is not None and final not in rows and policy.can(user, policy.VIEW_IDENTITY, final):
        rows = [*rows, final]
    return [r for r in rows if policy.can(user, policy.VIEW_IDENTITY, r)], count, named_count, matched_by


def _all_matched_serials(session: Session, record: Record, user: User) -> list[str]:
    """Serials of every earlier letter of the same petitioner in the user's ledger (for the audit)."""
    mine = session.execute(select(IdentityToken.kind, IdentityToken.token)
                           .where(IdentityToken.record_id == record.id)).all()
    pairs = [(k, t) for k, t in mine if k in STRONG_KINDS] or [(k, t) for k, t in mine if k == "name"]
    if not pairs:
        return []
    ids = select(IdentityToken.record_id).where(
        or_(*[and_(IdentityToken.kind == k, IdentityToken.token == t) for k, t in pairs]),
        IdentityToken.record_id != record.id)
    return list(session.execute(select(Record.serial).where(
        Record.id.in_(ids), _earlier(record), policy.scope_clause(user, policy.VIEW_LEDGER))
        .order_by(Record.serial).limit(200)).scalars())


def _kinds_shared(session: Session, record: Record, others: list[Record]) -> dict[int, list[str]]:
    if not others:
        return {}
    mine = session.execute(select(IdentityToken.kind, IdentityToken.token)
                           .where(IdentityToken.record_id == record.id)).all()
    rows = session.execute(select(IdentityToken.record_id, IdentityToken.kind, IdentityToken.token)
                           .where(IdentityToken.record_id.in_([r.id for r in others]))).all()
    mine_set = set(mine)
    out: dict[int, list[str]] = {}
    for rid, kind, tok in rows:
        if (kind, tok) in mine_set:
            out.setdefault(rid, []).append(kind)
    return {rid: sorted(kinds, key=("id_number", "phone", "name").index) for rid, kinds in out.items()}


def weighted_terms(session: Session, record: Record, n: int = MLT_TERMS) -> dict[str, float]:
    """The record's most distinctive blind bigrams with tf·idf weights (decrypted in memory)."""
    from .indexer import service

    svc = service(instance_of(session))
    doc = operations.document(session, record)
    analysed = analysis.analyse(analysis.FIELD_BREAK.join(doc.get(k) or "" for k in ("subject", "body")))
    # bigrams and words only: lone characters say little about what a letter is about
    counts = Counter(t for t in analysed.tokens if len(t) > 1)
    if not counts:
        return {}
    blind = dict(zip(counts, svc.blinder.text(list(counts))))
    df = svc.backend.doc_frequencies(blind.values())
    total = max(svc.backend.doc_count(), 1)
    scored = {}
    for term, tf in counts.items():
        tok = blind[term]
        idf = math.log((total + 1) / (df.get(tok, 0) + 1)) + 1.0
        scored[tok] = (1.0 + math.log(tf)) * idf
    best = sorted(scored.items(), key=lambda kv: -kv[1])[:n]
    return dict(best)


def _similar(session: Session, record: Record, user: User, exclude: set[int], limit: int) -> list[Candidate]:
    from .indexer import service

    weighted = weighted_terms(session, record)
    if not weighted:
        return []
    from .query import access_for

    svc = service(instance_of(session))
    # only among letters the user may read: a pasted guess must not confirm another letter's text
    hits = svc.backend.similar(weighted, access_for(session, user), exclude_uid=record.uid, limit=limit * 4)
    hits = [h for h in hits if h.overlap >= MIN_OVERLAP]
    if not hits:
        return []
    records = {r.uid: r for r in session.execute(
        select(Record).where(Record.uid.in_([h.uid for h in hits]), _earlier(record))).scalars()}
    out = []
    for h in hits:
        r = records.get(h.uid)
        if r is None or r.id in exclude or not policy.can(user, policy.VIEW_CONTENT, r):
            continue
        out.append(Candidate(record=r, reasons=["content"], overlap=round(h.overlap, 2)))
        if len(out) >= limit:
            break
    return out


ACTION = "repeat.check"


def candidates(session: Session, record: Record, user: User, *, limit: int = 5, address: str = "") -> RepeatReport:
    """Repeat-letter candidates for ``record``, as ``user`` may see them; audited, and counted
    toward the hourly quota of look-ups (once per version of the letter)."""
    from . import lookups

    policy.require(user, policy.CORRECT_RECORD, record)
    counted = lookups.repeat_checked(session, user, record)
    if not counted and lookups.used_this_hour(session, user) >= lookups.LIMIT_PER_HOUR:
        audit.record(session, ACTION + "_refused", actor=user, target=record.serial, address=address,
                     detail={"version": record.doc_version, "why": "rate limit"})
        return RepeatReport(record=record, same_petitioner=[], similar=[], count_before=0, matched_by=None,
                            limited=True)
    same, count, named_count, matched_by = _same_petitioner(session, record, user, limit)
    shared = _kinds_shared(session, record, same)
    same_c = [Candidate(record=r, reasons=shared.get(r.id, [])) for r in same]
    # the final matter, if it is older than the letters listed, is offered but not listed
    final = same_c.pop() if len(same_c) > limit else None
    similar = _similar(session, record, user, {r.id for r in same}, limit)
    shown = same_c + similar + ([final] if final else [])
    since = _status_since(session, [c.record for c in shown])
    for c in shown:
        c.status_since = since.get(c.record.id)
    matched = _all_matched_serials(session, record, user) if count else []
    audit.record(session, ACTION, actor=user, target=record.serial, address=address,
                 detail={"version": record.doc_version, "count": count, "matched": matched,
                         "named": [c.record.serial for c in same_c + ([final] if final else [])],
                         "similar": [c.record.serial for c in similar], "matched_by": matched_by})
    return RepeatReport(record=record, same_petitioner=same_c, similar=similar, count_before=count,
                        matched_by=matched_by, not_shown=max(0, count - named_count), final_matter=final)


def mark_repeat(session: Session, record: Record, earlier_serial: str | None, *, by: User,
                address: str = "") -> Record | None:
    """Link ``record`` as a repeat of the earlier letter ``earlier_serial`` (None: unlink).
    Returns the earlier record."""
    policy.require(by, policy.CORRECT_RECORD, record)
    previous = record.repeat_of_id
    earlier = None
    if earlier_serial:
        if not isinstance(earlier_serial, str) or not operations.SERIAL_RE.match(earlier_serial.strip()):
            raise ValidationError("Give the serial of the earlier letter, e.g. XF-2026-000812.",
                                  fields={"repeat_of": "Not a serial."})
        earlier = operations.get_record(session, earlier_serial.strip(), by)
        if earlier.id == record.id:
            raise ValidationError("A letter cannot repeat itself.", fields={"repeat_of": "Choose an earlier letter."})
        if not session.execute(select(Record.id).where(Record.id == earlier.id, _earlier(record))).first():
            raise ValidationError("The letter it repeats must have been received earlier.",
                                  fields={"repeat_of": "Choose an earlier letter."})
        seen, cursor = set(), earlier
        while cursor is not None and cursor.repeat_of_id is not None and cursor.id not in seen:
            seen.add(cursor.id)
            if cursor.repeat_of_id == record.id:
                raise ValidationError("That would make the two letters repeat each other.",
                                      fields={"repeat_of": "Choose another letter."})
            cursor = session.get(Record, cursor.repeat_of_id)
        record.repeat_of_id = earlier.id
    else:
        if previous is None:
            raise ValidationError("The letter is not marked as a repeat.", fields={"repeat_of": "Nothing to undo."})
        record.repeat_of_id = None
    session.add(RecordEvent(record_id=record.id, actor_id=by.id,
                            kind="marked_repeat" if earlier is not None else "unmarked_repeat",
                            from_status=record.status, to_status=record.status))
    session.flush()
    audit.record(session, "record.mark_repeat" if earlier is not None else "record.unmark_repeat",
                 actor=by, target=record.serial, address=address,
                 detail={"repeat_of": earlier.serial if earlier is not None else None,
                         "previous": session.get(Record, previous).serial if previous else None})
    return earlier
