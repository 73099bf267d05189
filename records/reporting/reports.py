"""Periodic reports: the monthly statistical report (PDF, for reporting up, Art 14 and
Art 39 of the national regulation) and the inspection report of leaders' reception work
(Art 18). Both are built from clear metadata only (``records.reporting.stats``, the duty roster, the
records' channel, first responder and dates): they carry counts, never content or identity.

PDFs are made in memory with fpdf2 and the CJK font of ``records.cases.notices.find_font``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records import audit, policy
from records.cases import deadlines
from records.reporting import stats
from records.errors import Msg, ValidationError
from records.reporting.models import DutyDay
from records.reference.scripts import to_hant
from records.models import Record
from records.accounts.models import User

CHANNEL_ZH = {"letter": "來信", "email": "電子郵件", "fax": "傳真", "phone": "來電", "visit": "來訪", "online": "網上信訪"}
TERM_ZH = {
    "wage_arrears": "拖欠工資", "demolition": "拆遷補償", "land": "徵地", "housing": "住房物業", "pension": "養老金",
    "medical": "醫療保險", "social_aid": "社會救助", "pollution": "環境污染", "enforcement": "執法行為",
    "conduct": "工作作風", "delay": "推諉拖延", "employment": "勞動就業", "education": "教育入學",
    "traffic": "交通出行", "illegal_building": "違法建設",
}


# -- the monthly report -------------------------------------------------------------------
def monthly(session: Session, user: User | None, month: str, *, today: dt.date | None = None) -> stats.Stats:
    """The statistics of ``month`` (``YYYY-MM``) over ``user``'s ledger scope (None: the bureau).
    Open and overdue matters are counted as of the month's last day (as of today while the
    month runs); a month that has not begun is refused."""
    start, end = stats.month_period(month)
    today = today or deadlines.calendar_for(session).today()
    if start > today:
        raise ValidationError("That month has not begun.", fields={"month": Msg("%(month)s is in the future.", month=month)})
    as_of = min(end, today)
    return stats.compute(session, user, stats.StatsFilters(start, end), today=as_of, as_of=as_of)


def _pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def monthly_lines(s: stats.Stats) -> list[tuple[str, list[tuple[str, str]]]]:
    """The report as (section heading, [(item, figure)]) — what the PDF prints, in order.
    The report is written in Traditional Chinese: an office or unit named in Simplified is
    converted (records.reference.scripts)."""
    def office(code: str) -> str:
        return to_hant(s.office_names.get(code, code))

    sections = [
        ("一、總體情況", [("收到信訪事項（件）", str(s.total)), ("涉及人數（人次）", str(s.people)),
                         ("其中來訪（批次）", str(s.visits)), ("重複信訪（件）", str(s.repeat_letters)),
                         ("重複信訪人（人）", f"不足{s.min_count}，不予顯示" if s.repeat_petitioners is None
                          else str(s.repeat_petitioners))]),
        ("二、信訪渠道", [(CHANNEL_ZH.get(c, c), str(n)) for c, n in s.by_channel.items()] or [("無", "0")]),
        ("三、反映問題類別", [(s.category_names.get(c, c), str(n)) for c, n in s.by_category.items()] or [("無", "0")]),
        ("四、被反映較多的單位", [(office(o), str(n)) for o, n in s.complained.items()]
         or [("無", "0")]),
        ("五、交辦、轉辦與督辦", [
            ("交辦本局科室（件）", str(s.assigned)),
            ("轉辦區縣單位（件）", str(sum(s.transferred.values())))]
            + [("　轉 " + office(u), str(n)) for u, n in s.transferred.items()]
            + [("延期辦理（件）", str(s.extended)), ("在辦事項（件，截至報告日）", str(s.open)),
               ("逾期未辦結（件，截至報告日）", str(s.overdue)),
               ("本月書面答覆（件）", str(s.on_time_total.replied)),
               ("逾期未答覆（件，截至報告日）", str(s.on_time_total.overdue_open)),
               ("按期答覆率", _pct(s.on_time_total.rate))]
            + [("　" + to_hant(r.office_name), f"{r.on_time}/{r.due}（{_pct(r.rate)}）") for r in s.on_time]
            + [("上級交辦（件）", str(s.handed_down))]),
        ("六、重大信訪案件", [("本月列為重大案件（件）", str(s.major)),
                           ("在辦重大案件（件，截至報告日）", str(s.major_open))]),
        ("七、熱點問題", [("上升類別：" + s.category_names.get(c, c), f"{n}（上期 {p}）") for c, n, p in s.hot_categories]
         + [("高頻詞：" + TERM_ZH.get(t, t), str(n)) for t, n in s.frequent_terms]
         or [(f"無達到統計下限（{s.min_count}）的熱點", "")]),
        ("八、存信", [("存信（件）", str(s.stored))]),
    ]
    return sections


def render_monthly(s: stats.Stats, *, settings=None, scope_note: str = "") -> bytes:
    """The monthly report as PDF bytes (in memory)."""
    from fpdf.enums import Align, XPos, YPos

    from records.cases.notices import cjk_pdf

    month = s.filters.date_from
    pdf = cjk_pdf(f"信訪工作月報 {month:%Y-%m}", margin=22, margin_top=20, settings=settings)
    w = pdf.epw
    pdf.set_font("cjk", size=18)
    pdf.cell(w, 12, f"信訪工作月報（{month.year}年{month.month}月）", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=10)
    pdf.cell(w, 7, f"統計期間：{s.filters.date_from.isoformat()} 至 {s.filters.date_to.isoformat()}"
                   f"　　報告日：{(s.as_of or s.today).isoformat()}", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if scope_note:
        pdf.cell(w, 7, scope_note, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for heading, items in monthly_lines(s):
        pdf.ln(3)
        pdf.set_font("cjk", size=13)
        pdf.cell(w, 9, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("cjk", size=11)
        for name, figure in items:
            pdf.cell(w * 0.7, 7, name, border="B")
            pdf.cell(w * 0.3, 7, figure, border="B", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)
    pdf.set_font("cjk", size=9)
    pdf.multi_cell(w, 5, f"說明：本報告只依據登記的統計項目（渠道、類別、地區、單位、狀態、日期）生成，不含信件內容及信訪人身份。"
                         f"由身份或詞頻得出、小於 {s.min_count} 的數字不予顯示。", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def monthly_pdf(session: Session, user: User | None, month: str, *, today: dt.date | None = None,
                address: str = "", actor_name: str | None = None) -> bytes:
    """Compute and render the month's report; the export is audited."""
    s = monthly(session, user, month, today=today)
    from records.instance import instance_of

    grants = policy.PERMISSIONS[policy.VIEW_LEDGER]
    bureau_wide = user is None or any(grants.get(r) == policy.ALL for r in user.role_set)
    note = "範圍：全局" if bureau_wide else "範圍：本人分管科室及信訪辦"
    data = render_monthly(s, settings=instance_of(session).settings, scope_note=note)
    audit.record(session, "report.monthly", actor=user, address=address, actor_name=actor_name,
                 detail={"month": month, "records": s.total, "bytes": len(data)})
    return data


# -- inspection of leaders' reception work (Art 18) ------------------------------------------
@dataclass
class LeaderActivity:
    user_id: int
    username: str
    display_name: str
    reception_days: int          # reception days on the roster in the period, up to today
    visits_received: int         # visits whose first responder the leader is
    visitors: int                # people on those visits
    matters: int                 # all matters whose first responder the leader is, received in the period
    concluded: int               # of those, concluded
    open: int                    # of those, still open

    def as_dict(self) -> dict:
        return dict(vars(self))


def inspection(session: Session, user: User, start: dt.date, end: dt.date, *, leader: str | None = None,
               today: dt.date | None = None, address: str = "") -> list[LeaderActivity]:
    """Each leader's reception work in the period (or one leader's); audited."""
    policy.require(user, policy.VIEW_INSPECTION)
    if start > end:
        raise ValidationError("Invalid period.", fields={"to": "Must not be before the start date."})
    cal = deadlines.calendar_for(session)
    today = today or cal.today()
    lo, hi = stats._bounds(cal.tz, start, end)
    leaders = sorted(policy.holders(session, policy.RECEIVE_VISITORS, include_inactive=True), key=lambda u: u.username)
    if leader:
        leaders = [u for u in leaders if u.username == leader]
        if not leaders:
            raise ValidationError("Invalid filter.", fields={"leader": "No leader of that name."})
    ids = [u.id for u in leaders]
    days = dict(session.execute(select(DutyDay.user_id, func.count(DutyDay.id)).where(
        DutyDay.user_id.in_(ids), DutyDay.kind == "reception", DutyDay.on >= start, DutyDay.on <= min(end, today))
        .group_by(DutyDay.user_id)).all()) if ids else {}
    in_period = [Record.first_responder_id.in_(ids), Record.received_at >= lo, Record.received_at < hi]
    visits = {uid: (n, int(p or 0)) for uid, n, p in session.execute(
        select(Record.first_responder_id, func.count(Record.id), func.sum(Record.people_count))
        .where(*in_period, Record.channel == "visit").group_by(Record.first_responder_id)).all()} if ids else {}
    matters = dict(session.execute(select(Record.first_responder_id, func.count(Record.id)).where(*in_period)
                                   .group_by(Record.first_responder_id)).all()) if ids else {}
    concluded = dict(session.execute(select(Record.first_responder_id, func.count(Record.id)).where(
        *in_period, Record.concluded_at.is_not(None)).group_by(Record.first_responder_id)).all()) if ids else {}
    open_ = dict(session.execute(select(Record.first_responder_id, func.count(Record.id)).where(
        *in_period, Record.status.in_(stats.OPEN_STATUSES)).group_by(Record.first_responder_id)).all()) if ids else {}
    out = [LeaderActivity(u.id, u.username, u.display_name, days.get(u.id, 0), visits.get(u.id, (0, 0))[0],
                          visits.get(u.id, (0, 0))[1], matters.get(u.id, 0), concluded.get(u.id, 0), open_.get(u.id, 0))
           for u in leaders]
    audit.record(session, "report.inspection", actor=user, address=address,
                 detail={"from": start.isoformat(), "to": end.isoformat(), "leaders": len(out)})
    return out

