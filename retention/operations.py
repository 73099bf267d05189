"""Retention services: batches, re-keying, sealing, proposals, approvals, exclusions and
holds. They flush; the unit of work commits. Each checks access through
``records.policy`` and writes its audit entry. Nothing here decrypts a letter: re-keying
unwraps the data key only, in memory.

The destruction run itself is in ``destroy`` (it spans many transactions)."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from records import audit, policy, sealing
from records.errors import AccessDenied, Codes, Conflict, FieldName, Msg, NotFound, ValidationError
from records.instance import instance_of
from records.models import Record, RecordKey
from records.reference.models import Region
from records.accounts.models import User
from records.db import in_steps, utcnow

from . import keystore
from .destroyed import batch_is_spent
from .models import Batch, BatchLetter, Certificate, DestroyedLetter, Hold
from retention.schedules import REASONS, RetentionPolicy, today_in, year_closed

#: Letter states that still have a letter behind them (and a data key under the batch key).
LIVE_STATES = ("member", "listed", "excluded")


def _tz(session: Session) -> ZoneInfo:
    return instance_of(session).settings.tz


def retention_policy(session: Session) -> RetentionPolicy:
    return RetentionPolicy.from_settings(instance_of(session).settings)


def _today(session: Session, today: dt.date | None) -> dt.date:
    return today or today_in(instance_of(session).settings)


def _text(value, name: str, limit: int = 500) -> str:
    value = (value or "").strip() if isinstance(value, str) else ""
    if not value:
        raise ValidationError(Msg("A %(name)s is required.", name=FieldName(name)), fields={name: "Required."})
    if len(value) > limit:
        raise ValidationError(Msg("The %(name)s is too long (at most %(n)s characters).", name=FieldName(name), n=limit),
                              fields={name: Msg("At most %(n)s characters.", n=limit)})
    return value


# -- batches and keys -----------------------------------------------------------------
def get_batch(session: Session, batch_id, user: User | None = None) -> Batch:
    if user is not None:
        policy.require(user, policy.VIEW_RETENTION)
    try:
        batch = session.get(Batch, int(batch_id))
    except (TypeError, ValueError):
        batch = None
    if batch is None:
        raise NotFound("No such batch.")
    return batch


def _lock_batch(session: Session, batch: Batch) -> Batch:
    """Serialise changes to one batch (its key generation above all) on every database."""
    return session.execute(select(Batch).where(Batch.id == batch.id).with_for_update()
                           .execution_options(populate_existing=True)).scalar_one()


def ensure_key(session: Session, batch: Batch) -> None:
    """Make sure the batch's current key exists in the key store (idempotent)."""
    store = keystore.keystore_for(instance_of(session))
    kid = keystore.key_id(batch.id, batch.key_generation)
    if not store.exists(kid):
        try:
            store.create(kid)
        except FileExistsError:
            pass


def batch_of(session: Session, region_code: str, year: int, *, create: bool = True) -> Batch | None:
    batch = session.execute(select(Batch).where(Batch.region_code == region_code, Batch.year == year)
                            ).scalar_one_or_none()
    if batch is None and create:
        batch = Batch(region_code=region_code, year=year, state="open", key_generation=1, rounds=0)
        try:
            with session.begin_nested():
                session.add(batch)
        except IntegrityError:  # another transaction made it first (unique region, year)
            batch = session.execute(select(Batch).where(Batch.region_code == region_code,
                                                        Batch.year == year)).scalar_one()
    return batch


def _provider(session: Session) -> keystore.BatchKeyProvider:
    return keystore.provider_for(instance_of(session))


def rekey(session: Session, record: Record, batch: Batch) -> None:
    """Wrap the record's data key under the batch's current key (no ciphertext changes)."""
    ensure_key(session, batch)
    _rewrap_to_batch(session, record, batch)


def _rewrap_to_batch(session: Session, record: Record, batch: Batch) -> None:
    """``rekey`` once the batch key is known to exist."""
    if record.key is not None and record.key.wrapped_by != batch.key_ref:
        sealing.rewrap(session, record, _provider(session), batch.key_ref)


def _unkey(session: Session, record: Record) -> None:
    """Back under the master key: the letter left the stored state."""
    if record.key is not None and record.key.wrapped_by.startswith("batch:"):
        sealing.rewrap(session, record, instance_of(session).keyring)


def on_stored(session: Session, record: Record, *, by: User | None = None) -> BatchLetter | None:
    """A letter has become stored (存信): put it in its (region, year) batch and re-wrap its
    data key under the batch key. Idempotent; a no-op for letters not in the stored state."""
    if record.status != "stored":
        return None
    batch = _lock_batch(session, batch_of(session, record.region_code, record.year))
    ensure_key(session, batch)
    bl = session.execute(select(BatchLetter).where(BatchLetter.serial == record.serial)).scalar_one_or_none()
    return _admit(session, batch, record, bl, by=by)[0]


def _admit(session: Session, batch: Batch, record: Record, bl: BatchLetter | None, *,
           by: User | None) -> tuple[BatchLetter, object]:
    """Put one stored letter in ``batch`` (its key existing): re-key it and write its
    membership and its audit entry, in the caller's transaction. Returns the membership and
    the audit entry (None when the letter was already a member under the current key)."""
    detail = _rejoin(session, batch, record, bl)
    if detail is None:
        return bl, None
    if bl is None:
        bl = BatchLetter(**_membership(session, batch, record))
        session.add(bl)
    session.flush()
    return bl, audit.record(session, "retention.store", actor=by, target=record.serial, detail=detail)


def _rejoin(session: Session, batch: Batch, record: Record, bl: BatchLetter | None) -> dict | None:
    """The part of admitting a letter that is the same one at a time and a chunk at a time:
    the reason checked, the data key re-wrapped, an existing membership brought back. Returns
    the detail of the letter's ``retention.store`` entry, or None when nothing was to be done
    (a member already, under the batch's current key)."""
    if record.stored_reason not in REASONS:
        raise ValidationError("A stored letter needs one of the four reasons of Art 11.",
                              fields={"stored_reason": "Unknown reason."})
    if bl is not None and bl.state in LIVE_STATES and record.key is not None \
            and record.key.wrapped_by == batch.key_ref and bl.stored_reason == record.stored_reason:
        return None
    _rewrap_to_batch(session, record, batch)
    if bl is not None:
        bl.record_id = record.id
        bl.stored_reason = record.stored_reason
        if bl.state not in LIVE_STATES:
            bl.state, bl.stored_at = "member", utcnow()
    return {"batch": batch.id, "region": batch.region_code, "year": batch.year,
            "reason": record.stored_reason, "key": batch.key_ref}


def _membership(session: Session, batch: Batch, record: Record) -> dict:
    """The columns of a new membership of ``record`` in ``batch``."""
    return {"batch_id": batch.id, "record_id": record.id, "serial": record.serial,
            "stored_reason": record.stored_reason, "received_on": record.received_at.astimezone(_tz(session)).date(),
            "stored_at": utcnow(), "state": "member"}


#: Letters handled per step when a batch catches up with its records (sealing, proposing,
#: the destruction run's preparation): each step loads its letters with their keys, re-keys
#: them, flushes once and puts them out of the session, so the work and the memory per
#: letter stay the same however large the batch. New memberships and the letters'
#: ``retention.store`` audit entries are written with one multi-row INSERT each per step.
CHUNK = 500


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    return in_steps(ids, CHUNK)   # CHUNK read at the call: tests set smaller steps


def _load(session: Session, ids: list[int]) -> tuple[list[Record], set[int]]:
    """The letters ``ids`` with their keys, and the ids of those the session already held
    (the caller's: they stay in the session)."""
    held = {i for i in ids if identity_key(Record, i) in session.identity_map}
    return session.execute(select(Record).options(selectinload(Record.key)).where(Record.id.in_(ids))
                           .order_by(Record.id)).scalars().all(), held


def _release(session: Session, objects, held: set[int] = frozenset()) -> None:
    """End a step: write it, then let its letters (and their data keys) leave the session,
    except those the caller held before."""
    session.flush()
    for obj in objects:
        if obj is None or (isinstance(obj, Record) and obj.id in held):
            continue
        if isinstance(obj, Record):
            sealing.forget(session, obj)
        if obj in session:
            session.expunge(obj)


def _join_missing(session: Session, batch: Batch, by: User | None) -> int:
    """Stored letters of (region, year) not yet in the batch join it, a chunk at a time."""
    ids = session.execute(
        select(Record.id).where(Record.region_code == batch.region_code, Record.year == batch.year,
                                Record.status == "stored",
                                Record.id.not_in(select(BatchLetter.record_id).where(
                                    BatchLetter.record_id.is_not(None), BatchLetter.state.in_(LIVE_STATES))))
        .order_by(Record.id)).scalars().all()
    if ids:
        ensure_key(session, batch)
    for chunk in _chunks(ids):
        records, held = _load(session, chunk)
        known = {bl.serial: bl for bl in session.execute(
            select(BatchLetter).where(BatchLetter.serial.in_([r.serial for r in records]))).scalars()}
        joining, entries = [], []
        for record in records:
            detail = _rejoin(session, batch, record, known.get(record.serial))
            if detail is not None:
                entries.append((record.serial, detail))
                if record.serial not in known:
                    joining.append(_membership(session, batch, record))
        if joining:  # one multi-row INSERT of the new memberships, one of the audit entries
            session.execute(insert(BatchLetter), joining)
        audit.record_many(session, "retention.store", entries, actor=by)
        _release(session, [*records, *known.values()], held)
    return len(ids)


def rekey_all(session: Session, batch: Batch, record_ids: list[int]) -> None:
    """``rekey`` the letters ``record_ids``, ``CHUNK`` at a time (flushed, then out of the session)."""
    if record_ids:
        ensure_key(session, batch)
    for chunk in _chunks(list(record_ids)):
        records, held = _load(session, chunk)
        for record in records:
            _rewrap_to_batch(session, record, batch)
        _release(session, records, held)


def sync_batch(session: Session, batch: Batch, *, by: User | None = None) -> dict:
    """Catch up with the records: stored letters of (region, year) not yet in the batch join it
    (re-keyed); members whose letter is no longer stored leave it (back under the master key).
    Linear in the batch: letters are handled ``CHUNK`` at a time (see ``CHUNK``)."""
    joined = _join_missing(session, batch, by)
    stale = session.execute(
        select(BatchLetter.id, Record.id).join(Record, Record.id == BatchLetter.record_id)
        .where(BatchLetter.batch_id == batch.id, BatchLetter.state.in_(LIVE_STATES), Record.status != "stored")
        .order_by(Record.id)).all()
    by_record = {rid: blid for blid, rid in stale}
    for chunk in _chunks(list(by_record)):
        records, held = _load(session, chunk)
        members = {bl.id: bl for bl in session.execute(
            select(BatchLetter).where(BatchLetter.id.in_([by_record[r.id] for r in records]))).scalars()}
        for record in records:
            _unkey(session, record)
            members[by_record[record.id]].state = "withdrawn"
        _release(session, [*records, *members.values()], held)
    # members still under an older key generation (e.g. stored while a run was being prepared)
    old = session.execute(
        select(Record.id).join(BatchLetter, BatchLetter.record_id == Record.id).join(RecordKey)
        .where(BatchLetter.batch_id == batch.id, BatchLetter.state.in_(LIVE_STATES),
               RecordKey.wrapped_by != batch.key_ref).order_by(Record.id)).scalars().all()
    rekey_all(session, batch, old)
    session.flush()
    if stale:
        audit.record(session, "retention.withdraw", actor=by, target=f"batch:{batch.id}",
                     detail={"letters": len(stale)})
    return {"joined": joined, "left": len(stale), "rekeyed": len(old)}


# -- holds ------------------------------------------------------------------------------
def active_holds(session: Session, batch: Batch) -> list[Hold]:
    serials = select(BatchLetter.serial).where(BatchLetter.batch_id == batch.id)
    return session.execute(
        select(Hold).where(Hold.lifted_at.is_(None),
                           (Hold.batch_id == batch.id) | Hold.serial.in_(serials)).order_by(Hold.id)
    ).scalars().all()


def held_serials(session: Session, batch: Batch) -> tuple[bool, set[str]]:
    """(whole batch held?, serials held one by one)."""
    holds = active_holds(session, batch)
    return any(h.batch_id == batch.id for h in holds), {h.serial for h in holds if h.serial}


def hold(session: Session, *, by: User, reason: str, serial: str | None = None, batch: Batch | None = None,
         address: str = "") -> Hold:
    """Put a hold on a letter (by serial) or a whole batch. Several holds may coexist."""
    policy.require(by, policy.PLACE_HOLD)
    reason = _text(reason, "reason")
    if (serial is None) == (batch is None):
        raise ValidationError("Name either a letter (serial) or a batch to hold.",
                              fields={"serial": "A serial or a batch is required."})
    if serial is not None:
        serial = serial.strip() if isinstance(serial, str) else ""
        exists = session.execute(select(Record.id).where(Record.serial == serial)).first()
        if not exists:
            if session.execute(select(DestroyedLetter.id).where(DestroyedLetter.serial == serial)).first():
                raise Conflict("This letter was already destroyed; a hold cannot bring it back.")
            raise NotFound("No such letter.")
    if batch is not None and batch_is_spent(session, batch):
        raise Conflict("This batch was destroyed; nothing is left in it to hold.")
    h = Hold(serial=serial, batch_id=batch.id if batch else None, reason=reason, placed_by_id=by.id,
             placed_at=utcnow())
    session.add(h)
    session.flush()
    audit.record(session, "retention.hold", actor=by, target=serial or f"batch:{batch.id}", address=address,
                 detail={"hold": h.id, "reason": reason})
    return h


def lift(session: Session, hold_id, *, by: User, reason: str = "", address: str = "") -> Hold:
    policy.require(by, policy.PLACE_HOLD)
    try:
        h = session.get(Hold, int(hold_id))
    except (TypeError, ValueError):
        h = None
    if h is None:
        raise NotFound("No such hold.")
    if h.lifted_at is not None:
        raise Conflict("This hold was already lifted.")
    h.lifted_at, h.lifted_by_id = utcnow(), by.id
    h.lift_reason = _text(reason, "reason")
    session.flush()
    audit.record(session, "retention.lift", actor=by, target=h.serial or f"batch:{h.batch_id}", address=address,
                 detail={"hold": h.id, "reason": h.lift_reason})
    return h


def list_holds(session: Session, user: User, *, active_only: bool = False) -> list[Hold]:
    policy.require(user, policy.VIEW_RETENTION)
    q = select(Hold).order_by(Hold.id.desc())
    if active_only:
        q = q.where(Hold.lifted_at.is_(None))
    return session.execute(q).scalars().all()


# -- the batch workflow ---------------------------------------------------------------------
def seal(session: Session, batch: Batch, *, by: User, today: dt.date | None = None, address: str = "") -> Batch:
    """Close the batch after its year has ended: its letters may now be listed for destruction."""
    policy.require(by, policy.MANAGE_RETENTION)
    batch = _lock_batch(session, batch)
    if batch.state != "open":
        raise Conflict(Msg("The batch is %(state)s; only an open batch can be sealed.",
                           state=Codes((batch.state,), "batch_state")))
    if not year_closed(batch.year, _today(session, today)):
        raise Conflict(Msg("The year %(year)s has not closed yet; seal the batch after 31 December.", year=batch.year))
    counts = sync_batch(session, batch, by=by)
    batch.state, batch.sealed_at, batch.sealed_by_id = "sealed", utcnow(), by.id
    session.flush()
    audit.record(session, "retention.seal", actor=by, target=f"batch:{batch.id}", address=address,
                 detail={"region": batch.region_code, "year": batch.year, **counts})
    return batch


def propose(session: Session, batch: Batch, *, by: User, address: str = "") -> list[BatchLetter]:
    """List every stored letter of a sealed batch for destruction (銷毀清冊)."""
    policy.require(by, policy.MANAGE_RETENTION)
    batch = _lock_batch(session, batch)
    if batch.state not in ("sealed", "certified"):
        raise Conflict(Msg("The batch is %(state)s; a destruction list is proposed for a sealed batch "
                           "(or a certified one with letters left).", state=Codes((batch.state,), "batch_state")))
    sync_batch(session, batch, by=by)
    members = session.execute(select(BatchLetter).where(BatchLetter.batch_id == batch.id,
                                                        BatchLetter.state == "member")
                              .order_by(BatchLetter.serial)).scalars().all()
    if not members:
        raise Conflict("The batch has no stored letters to list for destruction.")
    for bl in members:
        bl.state = "listed"
    batch.state, batch.proposed_at, batch.proposed_by_id = "proposed", utcnow(), by.id
    batch.approved_at = batch.approved_by_id = None
    session.flush()
    audit.record(session, "retention.propose", actor=by, target=f"batch:{batch.id}", address=address,
                 detail={"letters": len(members), "counts": dict(Counter(b.stored_reason for b in members))})
    return members


def approve(session: Session, batch: Batch, *, by: User, address: str = "") -> Batch:
    """A leader other than the proposer approves the destruction list."""
    policy.require(by, policy.APPROVE_DESTRUCTION)
    batch = _lock_batch(session, batch)
    if batch.state != "proposed":
        raise Conflict(Msg("The batch is %(state)s; only a proposed destruction list can be approved.",
                           state=Codes((batch.state,), "batch_state")))
    if batch.proposed_by_id == by.id:
        audit.record(session, "retention.refused", actor=by, target=f"batch:{batch.id}",
                     detail={"why": "self-approval"})
        raise AccessDenied("A destruction list must be approved by someone other than its proposer.")
    listed = session.execute(select(func.count()).select_from(BatchLetter).where(
        BatchLetter.batch_id == batch.id, BatchLetter.state == "listed")).scalar_one()
    if not listed:
        raise Conflict("Every letter of this list was excluded; there is nothing to approve.")
    batch.state, batch.approved_at, batch.approved_by_id = "approved", utcnow(), by.id
    session.flush()
    audit.record(session, "retention.approve", actor=by, target=f"batch:{batch.id}", address=address,
                 detail={"letters": listed, "proposed_by": batch.proposed_by_id})
    return batch


def exclude(session: Session, batch: Batch, serial: str, *, by: User, reason: str, address: str = "") -> BatchLetter:
    """Take one letter off a proposed (or approved, not yet run) list, with a reason; it is kept."""
    policy.require(by, policy.APPROVE_DESTRUCTION)
    reason = _text(reason, "reason")
    batch = _lock_batch(session, batch)
    if batch.state not in ("proposed", "approved"):
        raise Conflict(Msg("The batch is %(state)s; letters are excluded from a proposed or approved list.",
                           state=Codes((batch.state,), "batch_state")))
    if batch.proposed_by_id == by.id:
        raise AccessDenied("The proposer of a list cannot also decide on it.")
    bl = session.execute(select(BatchLetter).where(BatchLetter.batch_id == batch.id,
                                                   BatchLetter.serial == serial)).scalar_one_or_none()
    if bl is None:
        raise NotFound("No such letter in this batch.")
    if bl.state != "listed":
        raise Conflict(Msg("This letter is %(state)s, not on the destruction list.", state=Codes((bl.state,), "letter_state")))
    bl.state, bl.excluded_reason, bl.excluded_by_id, bl.excluded_at = "excluded", reason, by.id, utcnow()
    session.flush()
    audit.record(session, "retention.exclude", actor=by, target=serial, address=address,
                 detail={"batch": batch.id, "reason": reason})
    return bl


# -- reading (metadata only) ------------------------------------------------------------------
@dataclass
class BatchSummary:
    batch: Batch
    counts: dict[str, int]
    states: dict[str, int]
    due_on: dt.date
    is_due: bool
    held: bool
    held_letters: int
    destroyed: int

    @property
    def letters(self) -> int:
        return sum(self.counts.values())


def summarise(session: Session, batches: list[Batch], today: dt.date | None = None) -> list[BatchSummary]:
    today = _today(session, today)
    pol = retention_policy(session)
    ids = [b.id for b in batches]
    counts: dict[int, Counter] = {i: Counter() for i in ids}
    states: dict[int, Counter] = {i: Counter() for i in ids}
    if ids:
        for bid, reason, state, n in session.execute(
                select(BatchLetter.batch_id, BatchLetter.stored_reason, BatchLetter.state, func.count())
                .where(BatchLetter.batch_id.in_(ids))
                .group_by(BatchLetter.batch_id, BatchLetter.stored_reason, BatchLetter.state)):
            states[bid][state] += n
            if state in LIVE_STATES:
                counts[bid][reason] += n
    held_batches = set(session.execute(select(Hold.batch_id).where(Hold.lifted_at.is_(None),
                                                                   Hold.batch_id.in_(ids))).scalars()) if ids else set()
    held_letters = Counter()
    if ids:
        for bid, n in session.execute(
                select(BatchLetter.batch_id, func.count(func.distinct(BatchLetter.id)))
                .join(Hold, Hold.serial == BatchLetter.serial)
                .where(Hold.lifted_at.is_(None), BatchLetter.batch_id.in_(ids),
                       BatchLetter.state.in_(LIVE_STATES)).group_by(BatchLetter.batch_id)):
            held_letters[bid] = n
    out = []
    for b in batches:
        reasons = [r for r, n in counts[b.id].items() if n] or list(REASONS)
        due = pol.batch_due_on(b.year, reasons)
        out.append(BatchSummary(batch=b, counts={r: counts[b.id].get(r, 0) for r in REASONS},
                                states=dict(states[b.id]), due_on=due, is_due=today >= due,
                                held=b.id in held_batches, held_letters=held_letters[b.id],
                                destroyed=states[b.id].get("destroyed", 0)))
    return out


def list_batches(session: Session, user: User, *, state: str | None = None, region: str | None = None,
                 year: int | None = None, today: dt.date | None = None) -> list[BatchSummary]:
    policy.require(user, policy.VIEW_RETENTION)
    q = select(Batch).order_by(Batch.year.desc(), Batch.region_code)
    if state:
        q = q.where(Batch.state == state)
    if region:
        q = q.where(Batch.region_code == region)
    if year:
        q = q.where(Batch.year == year)
    return summarise(session, session.execute(q).scalars().all(), today)


def batch_letters(session: Session, batch: Batch, user: User) -> list[BatchLetter]:
    """The batch's letters as a list: serial, dates, reason, state. Never content."""
    policy.require(user, policy.VIEW_RETENTION)
    return session.execute(select(BatchLetter).where(BatchLetter.batch_id == batch.id)
                           .order_by(BatchLetter.serial)).scalars().all()


def region_name(session: Session, code: str) -> str:
    region = session.get(Region, code)
    return region.name if region else code


def list_certificates(session: Session, user: User, batch: Batch | None = None) -> list[Certificate]:
    policy.require(user, policy.VIEW_RETENTION)
    q = select(Certificate).order_by(Certificate.id.desc())
    if batch is not None:
        q = q.where(Certificate.batch_id == batch.id)
    return session.execute(q).scalars().all()


def get_certificate(session: Session, number: str, user: User) -> Certificate:
    policy.require(user, policy.VIEW_RETENTION)
    cert = session.execute(select(Certificate).where(Certificate.number == str(number))).scalar_one_or_none()
    if cert is None:
        raise NotFound("No such certificate.")
    return cert
