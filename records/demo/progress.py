"""The life of the sample matters: taken through the workflow as the demo staff would."""
from __future__ import annotations

import datetime as dt
import random

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.accounts.models import User
from records.instance import instance_of

#: Offices the demo assigns to (they have demo handlers), by category; others go to LDJC.
_DEMO_OFFICE = {"social_security": "SHBX", "labour_wages": "LDJC", "law_enforcement": "LDJC"}
_REPLY_TEXTS = (
    "經調查核實，您反映的問題基本屬實。我局已責成相關單位限期整改，並將整改結果書面告知。",
    "經調閱相關材料並約談有關人員，您反映的情況部分屬實，我局已依法作出處理。",
    "經核查，您反映的問題與事實不符，相關依據和材料已隨函附上，請予理解。",
)
_FINDINGS = (("substantiated", "責令用人單位限期支付拖欠款項。"), ("partly_substantiated", "已督促相關科室改進工作作風。"),
             ("not_substantiated", ""))


def advance_demo_records(session: Session, serials: list[str], *, seed: int | None = None) -> int:
    """Take sample matters through the workflow, as the demo leader, chief and handlers would,
    dated after their receipt, so the ledger, the supervision board and the retention pages
    show every stage. Returns how many steps were applied."""
    from records.cases import workflow
    from records.models import Record

    rng = random.Random(seed)
    users = {u.username: u for u in session.execute(
        select(User).where(User.username.in_(("chief", "handler", "handler2", "clerk")))).scalars()}
    if "chief" not in users:
        return 0
    chief = users["chief"]
    handler_of = {"LDJC": users.get("handler", chief), "SHBX": users.get("handler2", chief)}
    today = dt.datetime.now(instance_of(session).settings.tz).date()
    steps = 0
    for serial in serials:
        record = session.execute(select(Record).where(Record.serial == serial)).scalar_one()
        received = record.received_at.astimezone(instance_of(session).settings.tz).date()
        age = (today - received).days
        roll = rng.random()
        plan: list[tuple[int, str, User, dict]] = []
        office = _DEMO_OFFICE.get(record.category, "LDJC")
        handler = handler_of[office]
        if record.category == "policy_consultation" and roll < 0.7:
            plan = [(2, "answer_directly", chief, {"text": "關於您諮詢的政策，依現行規定辦理，具體條件請見附件說明。"}),
                    (5, "conclude", chief, {})]
        elif roll < 0.12:
            plan = [(3, "store", chief, {"reason": rng.choice(("no_reference_value", "unclear_content"))})]
        elif roll < 0.2:
            plan = [(4, "decline_legal_channel", chief, {"reason": "arbitration"})]
        elif roll < 0.3 or age < 10:
            plan = []  # still awaiting the acceptance decision
        else:
            outcome, action = _FINDINGS[rng.randrange(len(_FINDINGS))]
            finding = {"outcome": outcome, "corrective_action": action, "evidence": "調查筆錄及相關材料。"}
            plan = [(3, "accept", chief, {}), (4, "assign", chief, {"office": office}),
                    (6, "start", handler, {})]
            if rng.random() < 0.25:
                plan.append((40, "extend", chief, {"days": 30, "reason": "案情複雜，需調取多年工資發放記錄。"}))
            if rng.random() < 0.7:
                plan.append((50, "reply", handler, {"text": rng.choice(_REPLY_TEXTS), "finding": finding}))
                if rng.random() < 0.3:
                    plan.append((62, "request_review", users.get("clerk", chief), {}))
                else:
                    plan.append((90, "conclude", chief, {}))
        for offset, name, actor, params in plan:
            day = received + dt.timedelta(days=offset)
            if day > today:
                break
            workflow.transition(session, record, name, by=actor, today=day, **params)
            steps += 1
    return steps
