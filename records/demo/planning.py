"""The plan of a batch of sample records: channels, topics, dates and who writes each."""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from records.demo.people import Person, invent_person
from records.demo.topics import TOPIC_BY_KEY, TOPICS, Topic
from records.reference.vocab import CHANNELS

#: Weights of the channels for records beyond the first one of each.
_CHANNEL_WEIGHTS = {"letter": 5, "email": 3, "fax": 1, "phone": 4, "visit": 4, "online": 3}


@dataclass
class Slot:
    channel: str
    topic: Topic
    received: dt.datetime
    collective: bool = False
    person: Person | None = None
    anonymous: bool = False


def plan_slots(rng: random.Random, count: int, today: dt.date) -> list[Slot]:
    """Channels, topics and dates of ``count`` records, in order of receipt."""
    channels = list(CHANNELS) if count >= len(CHANNELS) else []
    channels += rng.choices(list(_CHANNEL_WEIGHTS), weights=list(_CHANNEL_WEIGHTS.values()),
                            k=count - len(channels))
    rng.shuffle(channels)
    # every category once when there is room, the rest by weight
    topics: list[Topic] = []
    topic_categories = sorted({t.category for t in TOPICS})
    if count >= len(topic_categories):
        for cat in topic_categories:
            topics.append(rng.choice([t for t in TOPICS if t.category == cat]))
    topics += rng.choices(TOPICS, weights=[t.weight for t in TOPICS], k=count - len(topics))
    rng.shuffle(topics)
    # make sure there is a collective visit when there is a visit at all
    visits = [i for i, c in enumerate(channels) if c == "visit"]
    if visits and not any(topics[i].collective for i in visits):
        donor = next((i for i, t in enumerate(topics) if t.collective), None)
        if donor is not None:
            topics[visits[0]], topics[donor] = topics[donor], topics[visits[0]]

    slots = []
    have_collective = False
    for channel, topic in zip(channels, topics):
        day = today - dt.timedelta(days=rng.randint(1, 300))
        if channel in ("letter", "fax", "visit") and day.weekday() >= 5:
            day -= dt.timedelta(days=day.weekday() - 4)  # office days only: back to Friday
        if channel in ("letter", "visit"):
            minutes = rng.randint(8 * 60 + 30, 17 * 60)
        elif channel in ("phone", "fax"):
            minutes = rng.randint(8 * 60 + 30, 19 * 60 + 30)
        else:
            minutes = rng.randint(6 * 60, 23 * 60 + 50)
        when = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60))
        collective = False
        if channel == "visit" and topic.collective and (not have_collective or rng.random() < 0.4):
            collective = have_collective = True
        slots.append(Slot(channel, topic, when, collective=collective))
    slots.sort(key=lambda s: s.received)
    return slots


def assign_people(rng: random.Random, slots: list[Slot]) -> None:
    """A person for each slot; a few people write more than once about the same matter."""
    by_topic: dict[str, list[Slot]] = {}
    for s in slots:
        if s.topic.key not in ("thanks", "suggestion") and not s.collective:
            by_topic.setdefault(s.topic.key, []).append(s)
    repeaters = max(1, len(slots) // 12) if len(slots) >= 4 else 0
    candidates = [k for k, v in sorted(by_topic.items()) if len(v) >= 2]
    rng.shuffle(candidates)
    for key in candidates[:repeaters]:
        group = by_topic[key]
        chosen = sorted(rng.sample(range(len(group)), min(len(group), rng.choice((2, 2, 3)))))
        person = invent_person(rng, TOPIC_BY_KEY[key].ages)
        for i in chosen:
            group[i].person = person
    for s in slots:
        if s.person is None:
            s.person = invent_person(rng, s.topic.ages)
            s.anonymous = s.channel in ("letter", "email") and rng.random() < 0.08
