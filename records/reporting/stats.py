"""Statistics (Art 5, Art 14): counts over the clear metadata of the ledger, never its content.

Everything here is computed from metadata columns (channel, category, region, office,
status, dates, people count) and from the identity blind tokens (to count repeat
petitioners without decrypting anything). The queries are plain SQLAlchemy (``count``,
``sum``, ``group by``) that run the same on SQLite and PostgreSQL; dates are bucketed by
month in Python, in the office's time zone, to avoid dialect-specific date functions.

Hot issues come from two sources:

* **rising categories**: the period's count per category against the period of the same
  length just before it;
* **frequent terms**: at registration, :func:`count_terms` matches the letter's subject and
  body (in memory) against the fixed vocabulary :data:`TERMS` and adds one to the
  ``(month, term)`` counter of every term found. The table holds no text, no record id and
  no identity; a term is shown only when its count reaches the minimum.

Small numbers single people out, so any figure derived from identities or terms below
:data:`MIN_COUNT` is withheld (``None``), not shown.
"""
from __future__ import annotations

import datetime as dt
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from records.cases import deadlines
from records import policy
from records.reference.vocab import CHANNELS
from records.reference import categories as vocabulary
from records.errors import ValidationError
from records.instance import instance_of
from records.models import IdentityToken, Record
from records.reference.models import Office, Region
from records.reporting.models import TermCount
from records.accounts.models import User

#: Below this, counts derived from identities or terms are withheld.
MIN_COUNT = 3
#: A petitioner is a "repeat petitioner" with at least this many letters in the period.
REPEAT_LETTERS = 2
#: The identity kind that stands for a petitioner when counting repeat petitioners.
PETITIONER_KIND = "id_number"

#: Statuses in which the office has a time limit to meet (as on the supervision board).
OPEN_STATUSES = ("registered", "accepted", "assigned", "transferred", "in_progress", "extended",
                 "review_requested", "rereview_requested")

#: The issue vocabulary for frequent terms: code -> phrases (Simplified; the text is folded
#: from Traditional before matching, so 拖欠工資 and 拖欠工资 both count).
TERMS: dict[str, tuple[str, ...]] = {
    "wage_arrears": ("拖欠工资", "欠薪", "讨薪", "工资拖欠", "欠发工资"),
    "demolition": ("拆迁", "征收补偿", "补偿款"),
    "land": ("征地", "土地承包", "宅基地"),
    "housing": ("住房", "物业", "房产证", "公积金", "保障房"),
    "pension": ("养老金", "退休金", "养老保险"),
    "medical": ("医保", "医疗保险", "报销"),
    "social_aid": ("低保", "救助", "补贴"),
    "pollution": ("污染", "噪音", "排放", "异味", "扬尘"),
    "enforcement": ("执法", "罚款", "扣押", "查封"),
    "conduct": ("态度恶劣", "不作为", "乱作为", "吃拿卡要", "受贿", "腐败"),
    "delay": ("推诿", "久拖不决", "拖延"),
    "employment": ("劳动合同", "工伤", "就业", "社保"),
    "education": ("入学", "学校", "学位"),
    "traffic": ("交通", "停车", "道路"),
    "illegal_building": ("违建", "违章建筑", "违法建设"),
}


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def terms_in(text: str) -> set[str]:
    """The vocabulary terms found in ``text`` (in memory only)."""
    folded = _t2s().convert(unicodedata.normalize("NFKC", text or "")).lower()
    return {code for code, phrases in TERMS.items() if any(p in folded for p in phrases)}


def _bump(session: Session, month: str, term: str) -> None:
    stmt = (update(TermCount).where(TermCount.month == month, TermCount.term == term)
            .values(count=TermCount.count + 1).execution_options(synchronize_session=False))
    if session.execute(stmt).rowcount:
        return
    try:
        with session.begin_nested():
            session.execute(insert(TermCount).values(month=month, term=term, count=1))
    except IntegrityError:  # another registration created the counter first
        session.execute(stmt)


def count_terms(session: Session, record: Record, document: dict) -> set[str]:
    """Registration hook: add the letter's vocabulary terms to its month's counters.
    Only the subject and body are matched; nothing of the text is kept."""
    tz = instance_of(session).settings.tz
    month = record.received_at.astimezone(tz).strftime("%Y-%m")
    found = terms_in(f"{document.get('subject', '')}\n{document.get('body', '')}")
    for term in sorted(found):
        _bump(session, month, term)
    return found


# -- filters ---------------------------------------------------------------------------------
@dataclass
class StatsFilters:
    date_from: dt.date
    date_to: dt.date
    office: str | None = None

    @classmethod
    def parse(cls, args, *, today: dt.date) -> StatsFilters:
        """From query arguments ``from``, ``to`` (ISO dates) and ``office`` (a code); the
        default period is this year up to today."""
        errors: dict[str, str] = {}
        values = {}
        for name, default in (("from", dt.date(today.year, 1, 1)), ("to", today)):
            raw = args.get(name) or None
            if raw is None:
                values[name] = default
                continue
            try:
                values[name] = dt.date.fromisoformat(str(raw)[:10]) if len(str(raw)) == 10 else None
            except ValueError:
                values[name] = None
            if values[name] is None:
                errors[name] = "Use a date like 2026-11-25."
        office = args.get("office") or None
        if office is not None and (not isinstance(office, str) or len(office) > 32):
            errors["office"] = "Invalid value."
        if not errors and values["from"] > values["to"]:
            errors["to"] = "Must not be before the start date."
        if not errors and (values["to"] - values["from"]).days > 3660:
            errors["from"] = "The period may cover at most ten years."
        if errors:
            raise ValidationError("Invalid filter.", fields=errors)
        return cls(values["from"], values["to"], office)

    def as_dict(self) -> dict:
        out = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.office:
            out["office"] = self.office
        return out


def month_period(month: str) -> tuple[dt.date, dt.date]:
    """``2026-10`` -> (2026-10-01, 2026-10-31); ValidationError otherwise."""
    try:
        year, mon = (int(p) for p in str(month).split("-"))
        first = dt.date(year, mon, 1)
    except (TypeError, ValueError):
        raise ValidationError("Invalid month.", fields={"month": "Use a month like 2026-10."}) from None
    last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    return first, last


def months_between(start: dt.date, end: dt.date) -> list[str]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# -- the figures ----------------------------------------------------------------------------
@dataclass
class OfficeRate:
    """Written replies of an office in the period, and how many met their time limit. The
    rate's denominator also counts the office's open matters whose reply was overdue at the
    end of the period: a matter never answered is not on time."""

    office: str
    office_name: str
    replied: int
    on_time: int
    overdue_open: int = 0

    @property
    def due(self) -> int:
        return self.replied + self.overdue_open

    @property
    def rate(self) -> float | None:
        return round(self.on_time / self.due, 4) if self.due else None


@dataclass
class Stats:
    filters: StatsFilters
    today: dt.date
    min_count: int
    total: int = 0
    people: int = 0
    visits: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_region: dict[str, int] = field(default_factory=dict)
    by_office: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_month: list[tuple[str, int]] = field(default_factory=list)
    on_time: list[OfficeRate] = field(default_factory=list)
    #: The day "open" and "overdue" are counted as of (the report date; today on the dashboard).
    as_of: dt.date | None = None
    open: int = 0
    overdue: int = 0
    overdue_by_office: dict[str, int] = field(default_factory=dict)
    #: Overdue as of ``as_of`` by the kind of time limit (decision, conclusion, review_reply, …).
    overdue_by_kind: dict[str, int] = field(default_factory=dict)
    #: Major cases (Art 5) received in the period, and those open as of ``as_of``.
    major: int = 0
    major_open: int = 0
    #: Matters handed down from a higher level (交辦件) received in the period.
    handed_down: int = 0
    #: The units the letters complain about (named at registration), most named first.
    complained: dict[str, int] = field(default_factory=dict)
    transferred: dict[str, int] = field(default_factory=dict)
    assigned: int = 0
    extended: int = 0
    stored: int = 0
    repeat_letters: int = 0
    #: Petitioners with at least REPEAT_LETTERS letters in the period; None when below min_count.
    repeat_petitioners: int | None = None
    hot_categories: list[tuple[str, int, int]] = field(default_factory=list)
    frequent_terms: list[tuple[str, int]] = field(default_factory=list)
    office_names: dict[str, str] = field(default_factory=dict)
    region_names: dict[str, str] = field(default_factory=dict)
    #: code -> the bureau's name of each category (records.reference.categories)
    category_names: dict[str, str] = field(default_factory=dict)

    @property
    def on_time_total(self) -> OfficeRate:
        return OfficeRate("", "", sum(r.replied for r in self.on_time), sum(r.on_time for r in self.on_time),
                          sum(r.overdue_open for r in self.on_time))

    def as_dict(self) -> dict:
        total = self.on_time_total
        return {
            "filters": self.filters.as_dict(),
            "today": self.today.isoformat(),
            "min_count": self.min_count,
            "total": self.total,
            "people": self.people,
            "visits": self.visits,
            "by_channel": self.by_channel,
            "by_category": self.by_category,
            "by_region": self.by_region,
            "by_office": self.by_office,
            "by_status": self.by_status,
            "by_month": [{"month": m, "count": n} for m, n in self.by_month],
            "on_time": [{"office": r.office, "replied": r.replied, "on_time": r.on_time,
                         "overdue_open": r.overdue_open, "rate": r.rate} for r in self.on_time],
            "on_time_rate": total.rate,
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "open": self.open,
            "overdue": self.overdue,
            "overdue_by_office": self.overdue_by_office,
            "overdue_by_kind": self.overdue_by_kind,
            "major": self.major,
            "major_open": self.major_open,
            "handed_down": self.handed_down,
            "complained": self.complained,
            "transferred": self.transferred,
            "assigned": self.assigned,
            "extended": self.extended,
            "stored": self.stored,
            "repeat_letters": self.repeat_letters,
            "repeat_petitioners": self.repeat_petitioners,
            "hot_categories": [{"category": c, "count": n, "previous": p} for c, n, p in self.hot_categories],
            "frequent_terms": [{"term": t, "count": n} for t, n in self.frequent_terms],
        }


def _bounds(tz: ZoneInfo, start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    return lo, hi


def _grouped(session: Session, column, cond) -> dict:
    rows = session.execute(select(column, func.count(Record.id)).where(*cond).group_by(column)).all()
    return {k: n for k, n in rows if k is not None}


def compute(session: Session, user: User | None, filters: StatsFilters, *, today: dt.date | None = None,
            min_count: int = MIN_COUNT, as_of: dt.date | None = None) -> Stats:
    """The statistics of the period over the records ``user`` may see in the ledger
    (``user=None``: the whole bureau, for the scheduled report); "open" and "overdue" are
    counted as of ``as_of`` (default: today)."""
    if user is not None:
        policy.require(user, policy.VIEW_STATS)
    cal = deadlines.calendar_for(session)
    tz = cal.tz
    today = today or cal.today()
    offices = session.execute(select(Office)).scalars().all()
    by_id = {o.id: o for o in offices}
    scope = [policy.scope_clause(user, policy.VIEW_LEDGER)] if user is not None else []
    if filters.office:
        office = next((o for o in offices if o.code == filters.office), None)
        if office is None:
            raise ValidationError("Invalid filter.", fields={"office": "No office with that code."})
        scope.append(Record.office_id == office.id)
    lo, hi = _bounds(tz, filters.date_from, filters.date_to)
    period = scope + [Record.received_at >= lo, Record.received_at < hi]

    s = Stats(filters=filters, today=today, min_count=min_count)
    s.office_names = {o.code: o.name for o in offices}
    # the bureau's vocabulary (Traditional names; the web shows them in the reader's language)
    s.category_names = vocabulary.labels(session)
    s.total, people = session.execute(
        select(func.count(Record.id), func.coalesce(func.sum(Record.people_count), 0)).where(*period)).one()
    s.people = int(people)
    s.by_channel = {c: n for c in CHANNELS if (n := _grouped(session, Record.channel, period).get(c))}
    s.visits = s.by_channel.get("visit", 0)
    cats = _grouped(session, Record.category, period)
    s.by_category = dict(sorted(cats.items(), key=lambda kv: (-kv[1], kv[0])))
    s.by_region = dict(sorted(_grouped(session, Record.region_code, period).items(), key=lambda kv: (-kv[1], kv[0])))
    s.region_names = dict(session.execute(select(Region.code, Region.name).where(
        Region.code.in_(list(s.by_region)))).all()) if s.by_region else {}
    s.by_office = {by_id[k].code: n for k, n in sorted(_grouped(session, Record.office_id, period).items(),
                                                          key=lambda kv: (-kv[1], kv[0]))}
    s.by_status = _grouped(session, Record.status, period)
    s.transferred = dict(sorted(_grouped(session, Record.transferred_unit, period).items(),
                                key=lambda kv: (-kv[1], kv[0])))
    s.assigned = session.execute(select(func.count(Record.id)).where(*period, Record.routed_on.is_not(None),
                                                                     Record.transferred_unit.is_(None))).scalar_one()
    s.extended = session.execute(select(func.count(Record.id)).where(
        *period, Record.extended_days.is_not(None))).scalar_one()
    s.stored = session.execute(select(func.count(Record.id)).where(*period, Record.stored_reason.is_not(None))).scalar_one()
    s.repeat_letters = session.execute(select(func.count(Record.id)).where(
        *period, Record.repeat_of_id.is_not(None))).scalar_one()

    # the trend, by month of the office-local day received
    months = Counter(r.astimezone(tz).strftime("%Y-%m")
                     for r in session.execute(select(Record.received_at).where(*period)).scalars())
    s.by_month = [(m, months.get(m, 0)) for m in months_between(filters.date_from, filters.date_to)]

    _deadline_figures(session, s, scope, filters, cal, by_id, as_of or today)
    s.major = session.execute(select(func.count(Record.id)).where(*period, Record.major_at.is_not(None))).scalar_one()
    s.handed_down = session.execute(select(func.count(Record.id)).where(
        *period, Record.handed_down_by.is_not(None))).scalar_one()
    s.complained = dict(sorted(_grouped(session, Record.complained_unit, period).items(),
                               key=lambda kv: (-kv[1], kv[0])))

    # repeat petitioners: blind tokens with several letters; how many, never who
    per_token = (select(IdentityToken.token).join(Record, Record.id == IdentityToken.record_id)
                 .where(*period, IdentityToken.kind == PETITIONER_KIND).group_by(IdentityToken.token)
                 .having(func.count(func.distinct(IdentityToken.record_id)) >= REPEAT_LETTERS)).subquery()
    repeaters = session.execute(select(func.count()).select_from(per_token)).scalar_one()
    s.repeat_petitioners = repeaters if repeaters >= min_count else None

    s.hot_categories = hot_categories(session, scope, filters, tz, min_count, current=cats)
    s.frequent_terms = frequent_terms(session, filters.date_from, filters.date_to, min_count)
    return s


def _deadline_figures(session: Session, s: Stats, scope: list, filters: StatsFilters, cal: deadlines.Calendar,
                      by_id: dict, as_of: dt.date) -> None:
    """On-time replies of the period, and the matters open and overdue as of ``as_of``. Every
    time limit comes from ``deadlines.office_due_as_of``, the rule the supervision board
    applies (the 15-day acceptance decision included), so on the same day the figures agree."""
    s.as_of = as_of
    rates: dict[int, OfficeRate] = {}

    def rate_of(office_id: int) -> OfficeRate:
        o = by_id[office_id]
        return rates.setdefault(office_id, OfficeRate(o.code, o.name, 0, 0))

    rows = session.execute(select(Record.office_id, Record.replied_on, Record.due_on).where(
        *scope, Record.replied_on >= filters.date_from, Record.replied_on <= filters.date_to,
        Record.due_on.is_not(None))).all()
    for office_id, replied_on, due_on in rows:
        rate = rate_of(office_id)
        rate.replied += 1
        rate.on_time += replied_on <= due_on
    _, hi = _bounds(cal.tz, as_of, as_of)
    candidates = session.execute(select(Record).where(
        *scope, Record.received_at < hi, or_(Record.concluded_at.is_(None), Record.concluded_at >= hi))).scalars()
    overdue: Counter = Counter()
    kinds: Counter = Counter()
    for record in candidates:
        due = deadlines.office_due_as_of(cal, record, as_of)
        if due is None:
            continue
        s.open += 1
        s.major_open += record.major_at is not None
        if as_of > due.on:
            overdue[record.office_id] += 1
            kinds[due.kind] += 1
            if due.kind == "conclusion":
                rate_of(record.office_id).overdue_open += 1
    s.on_time = sorted(rates.values(), key=lambda r: r.office)
    s.overdue_by_office = {by_id[k].code: n for k, n in sorted(overdue.items())}
    s.overdue = sum(overdue.values())
    s.overdue_by_kind = dict(sorted(kinds.items()))


def hot_categories(session: Session, scope: list, filters: StatsFilters, tz: ZoneInfo, min_count: int,
                   current: dict[str, int] | None = None) -> list[tuple[str, int, int]]:
    """Categories with more matters than in the previous period of the same length:
    (category, count, previous count), the largest rise first; counts below ``min_count`` left out."""
    days = (filters.date_to - filters.date_from).days + 1
    prev_to = filters.date_from - dt.timedelta(days=1)
    prev_from = prev_to - dt.timedelta(days=days - 1)
    if current is None:
        lo, hi = _bounds(tz, filters.date_from, filters.date_to)
        current = _grouped(session, Record.category, scope + [Record.received_at >= lo, Record.received_at < hi])
    plo, phi = _bounds(tz, prev_from, prev_to)
    previous = _grouped(session, Record.category, scope + [Record.received_at >= plo, Record.received_at < phi])
    rising = [(c, n, previous.get(c, 0)) for c, n in current.items()
              if n >= min_count and n > previous.get(c, 0)]
    return sorted(rising, key=lambda t: (-(t[1] - t[2]), -t[1], t[0]))


def frequent_terms(session: Session, start: dt.date, end: dt.date, min_count: int = MIN_COUNT,
                   limit: int = 10) -> list[tuple[str, int]]:
    """The vocabulary terms most often found in the months of the period (bureau-wide counters),
    those below ``min_count`` left out."""
    total = func.sum(TermCount.count)
    rows = session.execute(select(TermCount.term, total).where(TermCount.month.in_(months_between(start, end)))
                           .group_by(TermCount.term).having(total >= min_count)
                           .order_by(total.desc(), TermCount.term).limit(limit)).all()
    return [(t, int(n)) for t, n in rows if t in TERMS]

