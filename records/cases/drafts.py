"""The handler composes the written reply: a draft kept sealed on the record, and a preview
that is exactly the letter ``reply`` will issue (the same context, the same composition in
:mod:`records.cases.notices`; only the document number is allocated on issue).

The web form (``/records/<serial>/reply/…``) and the API (``/api/v1/records/<serial>/reply/…``)
call these; each checks the HANDLE permission on the record and writes its audit entry.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from records import audit, policy, sealing
from records.accounts.models import User
from records.cases import deadlines, effects, notices
from records.cases.declarations import MAX_TEXT, Context, Params
from records.cases.inputs import parse
from records.cases.transitions import TRANSITIONS
from records.db import utcnow
from records.errors import ValidationError
from records.models import Record

#: The sealed field's name (bound into the ciphertext).
FIELD = "reply-draft"


@dataclass
class Draft:
    text: str
    saved_at: dt.datetime
    by: str


def draft(session: Session, record: Record, user: User) -> Draft | None:
    """The saved draft of the reply, for those who may write it."""
    policy.require(user, policy.HANDLE, record)
    if record.reply_draft_sealed is None:
        return None
    text = sealing.open_json(session, record, FIELD, record.reply_draft_sealed)
    by = session.get(User, record.reply_draft_by_id) if record.reply_draft_by_id else None
    return Draft(text=text, saved_at=record.reply_draft_at, by=by.display_name if by else "")


def save_draft(session: Session, record: Record, user: User, text, *, address: str = "") -> Draft:
    """Keep ``text`` as the reply's draft (sealed; the previous draft is replaced)."""
    policy.require(user, policy.HANDLE, record)
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("The draft is empty.", fields={"text": "This field is required."})
    if len(text) > MAX_TEXT:
        raise ValidationError("The draft is too long.", fields={"text": f"At most {MAX_TEXT} characters."})
    record.reply_draft_sealed = sealing.seal_json(session, record, FIELD, text)
    record.reply_draft_at = utcnow()
    record.reply_draft_by_id = user.id
    session.flush()
    audit.record(session, "record.reply_draft", actor=user, target=record.serial, address=address,
                 detail={"chars": len(text)})
    return Draft(text=text, saved_at=record.reply_draft_at, by=user.display_name)


def preview(session: Session, record: Record, user: User, *, text, finding: dict | None = None, on=None,
            today: dt.date | None = None) -> notices.Letter:
    """The reply exactly as ``reply`` would print it now (the number aside)."""
    policy.require(user, policy.HANDLE, record)
    params = parse(session, TRANSITIONS["reply"], {"text": text, "finding": finding, "on": on})
    cal = deadlines.calendar_for(session)
    day = today or cal.today()
    c = Context(session, record, user, cal, day, utcnow(), params or Params())
    kind, context = effects.reply_letter(c)
    return notices.preview(session, record, kind, context)
