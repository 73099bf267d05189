"""The guards of the workflow's transitions: each returns why a step cannot be taken, or None."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from records.cases import deadlines, received
from records.errors import Msg
from records.cases.declarations import COLLECTIVE_VISIT, STAGE_OF_STATUS, Context, is_final
from records.models import Record


def extension_allowed(c: Context) -> str | None:
    return deadlines.extension_refusal(c.cal, c.record, c.today)


def extension_days(c: Context) -> str | None:
    return deadlines.extension_days_problem(c.cal, c.params.days)


def return_window(c: Context) -> str | None:
    window = deadlines.return_window(c.cal, c.record)
    if window is None:
        return "This matter was not routed, so there is nothing to return."
    if c.today > window.on:
        return Msg("A mis-sent matter can be returned within %(n)s working days; that window closed on %(day)s.",
                   n=window.days, day=window.on)
    return None


#: What ``request_window`` is given to name (catalogued here: the workflow's messages name them).
WHATS = {"review request": Msg("review request"), "re-review request": Msg("re-review request")}


def request_window(kind: str, what: str) -> Callable[[Context], str | None]:
    what = WHATS.get(what, what)

    def check(c: Context) -> str | None:
        make = deadlines.review_request_window if kind == "review" else deadlines.rereview_request_window
        on = c.params.on or c.today
        if on > c.today:
            return Msg("The %(what)s cannot be dated in the future (%(day)s).", what=what, day=on)
        return deadlines.window_refusal(make(c.cal, c.record), on, what)
    return check


def finding_for_stage(c: Context) -> str | None:
    stage = STAGE_OF_STATUS.get(c.record.status)
    if c.params.finding is None and not any(f.stage == stage for f in c.record.findings):
        return ("Record what the investigation found first (substantiated, partly substantiated or not "
                "substantiated): send 'finding' with this reply, or apply 'record_finding'.")
    return None


def reply_dates(c: Context) -> str | None:
    on = c.params.on or c.today
    start = _stage_start(c.record)
    if on > c.today:
        return Msg("The reply cannot be dated in the future (%(day)s).", day=on)
    if start and on < start:
        return Msg("The reply cannot be dated %(day)s, before %(start)s when this stage began.", day=on, start=start)
    received = c.params.received_on
    if received is not None and not on <= received <= c.today:
        return Msg("The day the petitioner received the reply must be between the reply (%(day)s) and today "
                   "(%(today)s).", day=on, today=c.today)
    return None


def _stage_start(record: Record) -> dt.date | None:
    if record.status == "review_requested":
        return record.review_requested_on
    if record.status == "rereview_requested":
        return record.rereview_requested_on
    return record.accepted_on


def receipt_dates(c: Context) -> str | None:
    replied = c.record.replied_on if c.record.status == "replied" else c.record.review_replied_on
    on = c.params.on
    if on is None:
        return None
    if on > c.today:
        return Msg("The day of receipt cannot be in the future (%(day)s).", day=on)
    if replied and on < replied:
        return Msg("The reply was issued on %(day)s; it cannot have been received before.", day=replied)
    return None


def conclusion_reason(c: Context) -> str | None:
    window = deadlines.current_due(c.cal, c.record)
    if window is not None and window.is_window and window.met_on is None and c.today <= window.on \
            and not c.params.reason:
        return Msg("The petitioner may still ask for a review until %(day)s; concluding before then needs a "
                   "reason (e.g. the petitioner declared the matter settled).", day=window.on)
    return None


def repeat_is_final(c: Context) -> str | None:
    other = c.params.repeat_of
    if other is None:
        return None
    if other.id == c.record.id:
        return "A letter cannot repeat itself."
    if c.params.reason == "concluded_after_rereview" and not is_final(other):
        return Msg("%(serial)s is not final (no re-review answered), so this cannot be stored as concluded after "
                   "re-review.", serial=other.serial)
    return None


def repeat_named(c: Context) -> str | None:
    """Art 11: "concluded after re-review" refers to the final matter it repeats."""
    if c.params.reason == "concluded_after_rereview" and c.params.repeat_of is None:
        return "Name the final matter (its serial) this letter repeats: it is stored as concluded after re-review."
    return None


def old_letter_confirmed(c: Context) -> str | None:
    """Storing a letter received more than a year ago needs its date confirmed (records.cases.received)."""
    return received.store_problem(c.record.received_at, c.today, c.cal.tz, c.params.confirm_old_received_date)


def no_extension_pending(c: Context) -> str | None:
    if c.record.extension_requested_days:
        return Msg("An extension of %(n)s days was asked for on %(day)s; the overseeing leader decides it first.",
                   n=c.record.extension_requested_days, day=c.record.extension_requested_on)
    return None


def extension_pending(c: Context) -> str | None:
    if not c.record.extension_requested_days:
        return "No extension has been asked for (the handling office asks with 'request_extension')."
    return None


def requested_extension_days(c: Context) -> str | None:
    return deadlines.extension_days_problem(c.cal, c.record.extension_requested_days)


def not_major(c: Context) -> str | None:
    return "The matter is already flagged as a major case." if c.record.major_at else None


def collective_visit(c: Context) -> str | None:
    if (c.record.people_count or 1) < COLLECTIVE_VISIT:
        return Msg("Representatives are chosen by a collective visit (%(n)s or more people); this matter has "
                   "%(people)s.", n=COLLECTIVE_VISIT, people=c.record.people_count or 1)
    return None


def a_visit(c: Context) -> str | None:
    return None if c.record.channel == "visit" else "Conduct during a visit is noted on a visit (channel 'visit')."


def still_petitioning(c: Context) -> str | None:
    if c.record.petitioning_ceased_on:
        return Msg("The petitioner stopped petitioning (息訪) on %(day)s.", day=c.record.petitioning_ceased_on)
    return None


def dated_not_future(c: Context) -> str | None:
    on = c.params.on or c.today
    return Msg("The date cannot be in the future (%(day)s).", day=on) if on > c.today else None


def handed_down_due(c: Context) -> str | None:
    received = c.cal.local_date(c.record.received_at)
    if c.params.due_on is not None and c.params.due_on < received:
        return Msg("The deadline cannot be before the matter came in (%(day)s).", day=received)
    return None


def report_back_owed(c: Context) -> str | None:
    r = c.record
    if not r.handed_down_by:
        return "Only a matter handed down from a higher level (交辦件) is reported back (報結)."
    if r.reported_back_on:
        return Msg("Reported back already on %(day)s.", day=r.reported_back_on)
    return None


def action_to_confirm(c: Context) -> str | None:
    finding = next((f for f in c.record.findings if f.id == c.params.finding_id), None)
    if finding is None:
        return "No finding with that number on this matter."
    if finding.corrective_action_sealed is None:
        return "That finding has no corrective action to confirm."
    if finding.action_confirmed_on:
        return Msg("Confirmed already on %(day)s.", day=finding.action_confirmed_on)
    return dated_not_future(c)


def room_for_document(c: Context) -> str | None:
    """A document given with the step fits within the record's attachments."""
    from records.cases.attachments import room_for_one_more  # noqa: PLC0415 - attachments import intake

    return room_for_one_more(c.session, c.record) if c.params.document is not None else None
