"""The wording of every notice (公文) the office issues, one entry per kind: to the petitioner
(acceptance, not accepted, extension, assignment or transfer, reply, review opinion), to the
office or unit a matter is sent to (交辦函 / 轉送函) and to the higher body that handed a matter
down (報結). :mod:`records.cases.notices` lays them out with the letterhead and the document
number; nothing is added there that is not written here, so the preview is the letter.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from records.errors import ValidationError

FINDING_SENTENCES = {
    "substantiated": "經調查核實，您反映的問題屬實。",
    "partly_substantiated": "經調查核實，您反映的問題部分屬實。",
    "not_substantiated": "經調查核實，您反映的問題不屬實。",
}
#: The finding told to a higher body (third person).
FINDING_REPORTS = {
    "substantiated": "經調查核實，信訪人反映的問題屬實。",
    "partly_substantiated": "經調查核實，信訪人反映的問題部分屬實。",
    "not_substantiated": "經調查核實，信訪人反映的問題不屬實。",
}
#: legal channel code -> (its name, what the petitioner should do)
LEGAL_CHANNELS = {
    "litigation": ("訴訟", "向有管轄權的人民法院提起訴訟"),
    "arbitration": ("仲裁", "向勞動人事爭議仲裁委員會申請仲裁"),
    "administrative_reconsideration": ("行政復議", "向有權的行政復議機關申請行政復議"),
}
#: Closings a handler may already have written: the template then adds none.
CLOSINGS = ("特此答覆。", "特此告知。", "特此函告。", "特此報告。", "此復。", "此致")


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Template:
    #: The attachment kind it is stored as: ``reply`` (書面答覆) or ``notice`` (告知書, 函).
    attachment_kind: str
    title: str
    file_stem: str
    closing: str
    #: Who it is addressed to: ``petitioner``, ``unit`` (the office or unit it is sent to) or ``higher``.
    to: str = "petitioner"


TEMPLATES: dict[str, Template] = {
    "acceptance_notice": Template("notice", "信訪事項受理告知書", "受理告知書", "特此告知。"),
    "direct_answer": Template("reply", "信訪事項答覆意見書", "答覆意見書", "特此答覆。"),
    "not_accepted_outside_authority": Template("notice", "信訪事項不予受理告知書", "不予受理告知書", "特此告知。"),
    "not_accepted_legal_channel": Template("notice", "信訪事項不予受理告知書", "不予受理告知書", "特此告知。"),
    "assignment_letter": Template("notice", "信訪事項交辦函", "交辦函", "特此函告。", to="unit"),
    "assignment_notice": Template("notice", "信訪事項交辦告知書", "交辦告知書", "特此告知。"),
    "transfer_letter": Template("notice", "信訪事項轉送函", "轉送函", "特此函告。", to="unit"),
    "transfer_notice": Template("notice", "信訪事項轉送告知書", "轉送告知書", "特此告知。"),
    "extension_notice": Template("notice", "信訪事項延期辦理告知書", "延期辦理告知書", "特此告知。"),
    "reply": Template("reply", "信訪事項處理意見書", "處理意見書", "特此答覆。"),
    "review_reply": Template("reply", "信訪事項複查意見書", "複查意見書", "特此答覆。"),
    "rereview_reply": Template("reply", "信訪事項複核意見書", "複核意見書", "特此答覆。"),
    "report_back": Template("notice", "交辦信訪事項辦理情況報告", "報結報告", "特此報告。", to="higher"),
}


def _superior(c: dict) -> str:
    return (c.get("superior_body") or "").strip() or "上一級管理部門"


def _finding_paragraphs(c: dict, opening: str) -> list[str]:
    finding = FINDING_SENTENCES.get(c.get("finding") or "", "")
    body = [opening + finding]
    action = (c.get("corrective_action") or "").strip()
    if action:
        body.append(f"已採取的糾正措施：{action}")
    return body


def _acceptance(c: dict) -> tuple[list[str], str]:
    received, accepted = chinese_date(c["received_on"]), chinese_date(c["accepted_on"])
    if c.get("review_of_unit"):
        return [f"您於{received}對{c['review_of_unit']}所作信訪事項處理意見提出的複查請求，本機關已於{accepted}"
                f"依法受理，將自受理之日起{c.get('limit_days') or 30}日內提出複查意見，並書面答覆您。"], ""
    due = f"，預計於{chinese_date(c['due_on'])}前" if c.get("due_on") else ""
    return [f"您於{received}提出的信訪事項，經審查，屬於本機關職權範圍，本機關已於{accepted}依法受理"
            f"（信訪編號：{c['serial']}）。",
            f"本機關將自受理之日起{c.get('limit_days') or 60}日內辦結{due}書面答覆您；情況複雜的，經批准可以適當延長"
            "辦理期限，並告知您延期理由。"], ""


def _routing(how: str) -> Callable[[dict], tuple[list[str], str]]:
    def letter(c: dict) -> tuple[list[str], str]:
        due = chinese_date(c["due_on"]) if c.get("due_on") else ""
        handed = (f"本事項係上級交辦件，交辦機關要求於{chinese_date(c['handed_down_due_on'])}前報結，請優先辦理。"
                  if c.get("handed_down_due_on") else "")
        if how == "assignment":
            body = [f"現將信訪人於{chinese_date(c['received_on'])}提出的信訪事項（信訪編號：{c['serial']}）交由你處室辦理。",
                    f"請依法調查核實，提出處理意見，於{due}前辦結，並將辦理結果報送本機關信訪辦公室。" + handed]
        else:
            body = [f"現將信訪人於{chinese_date(c['received_on'])}提出的信訪事項（信訪編號：{c['serial']}）轉送你單位。",
                    f"請依法處理，於{due}前將處理意見書面答覆信訪人，並抄送本機關。" + handed,
                    "如該事項不屬你單位職責範圍，請自收到本函之日起5個工作日內退回本機關並說明理由。"]
        return body, ""
    return letter


def _routing_notice(how: str) -> Callable[[dict], tuple[list[str], str]]:
    def notice(c: dict) -> tuple[list[str], str]:
        received, issued = chinese_date(c["received_on"]), chinese_date(c["issued_on"])
        if how == "assignment":
            return [f"您於{received}提出的信訪事項，本機關已依法受理，並於{issued}交由{c['to']}辦理。"
                    "辦理結果將由本機關書面答覆您。"], ""
        return [f"您於{received}提出的信訪事項，屬於{c['to']}的職責範圍，本機關已於{issued}轉送該單位辦理，"
                "該單位將依法處理並書面答覆您。"], ""
    return notice


def _reply(c: dict) -> tuple[list[str], str]:
    accepted = f"於{chinese_date(c['accepted_on'])}" if c.get("accepted_on") else ""
    body = _finding_paragraphs(c, f"您於{chinese_date(c['received_on'])}反映的事項，本機關{accepted}依法受理。")
    return body + [(c.get("text") or "").strip()], (
        f"如對本處理意見不服，可自收到本意見書之日起{c['window_days']}日內向{_superior(c)}請求複查。")


def _review_reply(c: dict) -> tuple[list[str], str]:
    about = f"對{c['review_of_unit']}所作處理意見" if c.get("review_of_unit") else ""
    since = c.get("requested_on") or c.get("accepted_on")
    body = _finding_paragraphs(c, f"您於{chinese_date(since)}{about}提出的複查請求，本機關已依法進行複查。")
    return body + [(c.get("text") or "").strip()], (
        f"如對本複查意見不服，可自收到本意見書之日起{c['window_days']}日內向{_superior(c)}請求複核。")


def _rereview_reply(c: dict) -> tuple[list[str], str]:
    body = _finding_paragraphs(c, f"您於{chinese_date(c['requested_on'])}提出的複核請求，已依法進行複核。")
    return body + [(c.get("text") or "").strip()], "本複核意見為終結意見。就同一事項再次提出的信訪，不再受理。"


def _report_back(c: dict) -> tuple[list[str], str]:
    number = f"（{c['handed_down_number']}）" if c.get("handed_down_number") else ""
    replied = f"，並於{chinese_date(c['replied_on'])}書面答覆信訪人" if c.get("replied_on") else ""
    accepted = f"本機關已於{chinese_date(c['accepted_on'])}受理" if c.get("accepted_on") else "本機關已依法處理"
    body = [f"貴單位交辦{number}的信訪事項（信訪編號：{c['serial']}），{accepted}{replied}。"
            + FINDING_REPORTS.get(c.get("finding") or "", ""), (c.get("text") or "").strip()]
    return body, ""


def _not_accepted_legal(c: dict) -> tuple[list[str], str]:
    name, how = LEGAL_CHANNELS[c["channel"]]
    return [f"您於{chinese_date(c['received_on'])}提出的信訪事項，屬於應當通過{name}途徑解決的事項。依照規定，"
            "本機關不予受理。", f"請您依法{how}。"], ""


#: kind -> its paragraphs and footnote from the context.
WORDING: dict[str, Callable[[dict], tuple[list[str], str]]] = {
    "acceptance_notice": _acceptance,
    "direct_answer": lambda c: ([f"您於{chinese_date(c['received_on'])}反映的事項，本機關已收悉。經研究，現答覆如下：",
                                 (c.get("text") or "").strip()], ""),
    "not_accepted_outside_authority": lambda c: (
        [f"您於{chinese_date(c['received_on'])}提出的信訪事項，經審查，不屬於本機關職權範圍，依照規定本機關不予受理。",
         (c.get("reason") or "").strip(), "請您向有權處理的機關提出。"], ""),
    "not_accepted_legal_channel": _not_accepted_legal,
    "assignment_letter": _routing("assignment"),
    "assignment_notice": _routing_notice("assignment"),
    "transfer_letter": _routing("transfer"),
    "transfer_notice": _routing_notice("transfer"),
    "extension_notice": lambda c: (
        [(f"您於{chinese_date(c['received_on'])}提出、本機關於{chinese_date(c['accepted_on'])}受理的信訪事項，因情況複雜，"
          f"經本機關負責人批准，辦理期限延長{c['days']}日，至{chinese_date(c['due_on'])}。"),
         f"延期理由：{(c.get('reason') or '').strip()}"], ""),
    "reply": _reply,
    "review_reply": _review_reply,
    "rereview_reply": _rereview_reply,
    "report_back": _report_back,
}


def paragraphs(kind: str, c: dict) -> tuple[list[str], str]:
    """The body paragraphs and the footnote of letter ``kind`` for context ``c`` (empty ones dropped)."""
    wording = WORDING.get(kind)
    if wording is None:
        raise ValidationError(f"No letter template named {kind!r}.")
    body, footnote = wording(c)
    return [p for p in body if p], footnote
