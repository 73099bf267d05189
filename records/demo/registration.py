"""Sample letters and visits registered through the ordinary service (sealed, indexed,
audited like any other), filed under the instance's own categories."""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.accounts import operations as accounts
from records.accounts.models import User
from records.cases import operations
from records.demo.letters import compose, petitioner_block
from records.demo.people import ELSEWHERE
from records.demo.planning import assign_people, plan_slots
from records.demo.scans import tiny_png
from records.demo.topics import invent_context
from records.errors import ValidationError
from records.instance import instance_of
from records.reference import categories as vocabulary
from records.reference.seed import (
    MUNICIPALITY,
    ensure_reference_data,
)

#: Where a sample topic goes in a vocabulary without its own category (science-tech, general).
_CATEGORY_FALLBACK = {"staff_conduct": ("staff_conduct", "bureau_functions"),
                      "policy_consultation": ("policy_consultation", "suggestion"),
                      "labour_wages": ("staff_retirees", "complaint_service"),
                      "social_security": ("staff_retirees", "complaint_service"),
                      "law_enforcement": ("law_enforcement", "bureau_functions")}


def _vocabulary_mapper(session: Session):
    """topic category -> a category of the instance's own vocabulary (the demo's letters are
    filed under the configured categories, whatever the preset)."""
    active = vocabulary.codes(session, active_only=True)
    if not active:
        raise ValidationError("The instance has no active category: add one before adding demo letters.")

    def category_of(code: str) -> str:
        for candidate in (code, *_CATEGORY_FALLBACK.get(code, ()), "other"):
            if candidate in active:
                return candidate
        return active[0]
    return category_of


def add_demo_records(session: Session, count: int = 40, *, seed: int | None = None,
                     by_username: str = "clerk") -> list[str]:
    """Register ``count`` sample letters and visits as ``by_username``; return their serials.

    The same ``seed`` gives the same records (dates are counted back from today in the
    instance's time zone, at most 302 days, so they stay in this year or the last)."""
    if count < 0:
        raise ValueError("count must not be negative")
    ensure_reference_data(session)
    by = accounts.get_user(session, by_username)
    settings = instance_of(session).settings
    today = dt.datetime.now(settings.tz).date()
    rng = random.Random(seed)
    slots = plan_slots(rng, count, today)
    assign_people(rng, slots)
    category_of = _vocabulary_mapper(session)
    leader = session.execute(select(User).where(User.username == "leader", User.active.is_(True))
                             ).scalar_one_or_none()
    letters_per_person: dict[int, int] = {}
    for slot in slots:
        letters_per_person[id(slot.person)] = letters_per_person.get(id(slot.person), 0) + 1
    serials: list[str] = []
    for slot in slots:
        person = slot.person
        previous = person.history[-1] if person.history else None
        if not person.ctx:
            person.ctx = invent_context(rng, slot.received.date(), person, slot.topic)
        subject, body, notes, people = compose(rng, slot, person.ctx, previous)
        region = person.district
        if slot.topic.category == "policy_consultation" and rng.random() < 0.6 and region not in ELSEWHERE:
            region = MUNICIPALITY[0]
        raw = {
            "channel": slot.channel,
            "received_at": slot.received.isoformat(timespec="minutes"),
            "region": region,
            "category": category_of(slot.topic.category),
            "subject": subject,
            "body": body,
            "notes": notes,
            "people_count": people,
            "petitioner": petitioner_block(rng, slot, repeat=letters_per_person[id(person)] > 1),
        }
        if slot.channel == "visit" and leader is not None and rng.random() < 0.3:
            raw["first_responder"] = leader.username
            raw["notes"] = (raw["notes"] + "\n" if raw["notes"] else "") + "局領導接訪日接待。"
        uploads = []
        if slot.channel in ("letter", "fax", "visit") and rng.random() < 0.3:
            uploads.append(operations.Upload(filename="掃描件.png", data=tiny_png(rng)))
        record = operations.register(session, raw, by=by, uploads=uploads)
        person.history.append((slot.received.date(), record.serial))
        serials.append(record.serial)
    return serials
