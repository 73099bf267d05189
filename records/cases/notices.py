"""Written replies (書面答覆) and notices (告知書) as PDF letters, one template per outcome.

The letters are built in memory with fpdf2 and a CJK font from a Debian package
(``fonts-noto-cjk``; see :data:`FONT_CANDIDATES`), then stored only encrypted, as an
attachment of the record (kind ``reply`` or ``notice``) through
``operations.add_attachment``. Nothing of a letter reaches a temporary file or a log: fpdf2's
own warnings can quote characters of the text (missing glyphs), so its logger is kept quiet
and only the count of missing glyphs is logged.

Choose another font with ``Settings.extra["cjk_font"]`` (a path; for a collection, ``"path#n"``
picks face n) or ``$XINFANG_CJK_FONT``.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from records.cases import operations
from records.errors import ConfigurationError, ValidationError
from records.instance import instance_of
from records.reference.models import Office

log = logging.getLogger("xinfang.replies")

#: Fonts tried in order (Debian paths): (path, face-name hint for collections).
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "TC"),    # fonts-noto-cjk
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", "TC"),   # fonts-noto-cjk
    ("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc", "TC"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJKtc-Regular.otf", ""),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", ""),               # fonts-wqy-microhei
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", ""),                 # fonts-wqy-zenhei
    ("/usr/share/fonts/truetype/arphic/uming.ttc", ""),                   # fonts-arphic-uming
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", ""),    # fonts-droid-fallback
)
FONT_PACKAGE = "fonts-noto-cjk"


@dataclass(frozen=True)
class Font:
    path: str
    index: int = 0


@lru_cache(maxsize=8)
def _face_index(path: str, hint: str) -> int:
    """The face of a collection whose name carries ``hint`` (e.g. TC = Traditional Chinese)."""
    if not path.lower().endswith((".ttc", ".otc")) or not hint:
        return 0
    from fontTools.ttLib import TTCollection

    collection = TTCollection(path, lazy=True)
    try:
        for i, face in enumerate(collection.fonts):
            name = face["name"].getDebugName(4) or ""
            if hint in name.split() and "Mono" not in name:
                return i
    finally:
        collection.close()
    return 0


def _configured(settings) -> str | None:
    extra = getattr(settings, "extra", None) or {}
    return extra.get("cjk_font") or os.environ.get("XINFANG_CJK_FONT") or None


def find_font(settings=None) -> Font:
    """The CJK font to write letters with; ConfigurationError naming the package when none is installed."""
    configured = _configured(settings)
    if configured:
        path, _, index = str(configured).partition("#")
        if not Path(path).is_file():
            raise ConfigurationError(f"The configured CJK font {path} does not exist.")
        return Font(path, int(index) if index.isdigit() else _face_index(path, "TC"))
    for path, hint in FONT_CANDIDATES:
        if Path(path).is_file():
            return Font(path, _face_index(path, hint))
    raise ConfigurationError(
        "No CJK font is installed, so written replies cannot be produced. Install the Debian package "
        f"{FONT_PACKAGE} (apt-get install {FONT_PACKAGE}) or set XINFANG_CJK_FONT to a .ttf/.ttc/.otf file.")


def _quiet_library_logs() -> None:
    """fpdf2 quotes characters it cannot draw in a warning: letter text must not reach a log."""
    logging.getLogger("fpdf").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)


def cjk_pdf(title: str, *, margin: float, settings=None, margin_top: float | None = None):
    """A new A4 fpdf2 document with the CJK font loaded as "cjk" and a first page: the one
    place PDFs are begun (replies and notices, monthly reports, destruction certificates)."""
    from fpdf import FPDF

    font = find_font(settings)
    _quiet_library_logs()
    pdf = FPDF(format="A4")
    top = margin if margin_top is None else margin_top
    pdf.set_margins(margin, top, margin)
    pdf.set_auto_page_break(True, margin=top)
    pdf.set_title(title)
    pdf.set_creator("Xinfang Records")
    pdf.add_font("cjk", "", font.path, collection_font_number=font.index)
    pdf.add_page()
    return pdf


# -- templates ---------------------------------------------------------------------------------

FINDING_SENTENCES = {
    "substantiated": "經調查核實，您反映的問題屬實。",
    "partly_substantiated": "經調查核實，您反映的問題部分屬實。",
    "not_substantiated": "經調查核實，您反映的問題不屬實。",
}
#: legal channel code -> (its name, what the petitioner should do)
LEGAL_CHANNELS = {
    "litigation": ("訴訟", "向有管轄權的人民法院提起訴訟"),
    "arbitration": ("仲裁", "向勞動人事爭議仲裁委員會申請仲裁"),
    "administrative_reconsideration": ("行政復議", "向有權的行政復議機關申請行政復議"),
}


@dataclass(frozen=True)
class Template:
    #: The attachment kind it is stored as: ``reply`` (書面答覆) or ``notice`` (告知書).
    attachment_kind: str
    title: str
    file_stem: str
    closing: str


TEMPLATES: dict[str, Template] = {
    "direct_answer": Template("reply", "信訪事項答覆意見書", "答覆意見書", "特此答覆。"),
    "not_accepted_outside_authority": Template("notice", "信訪事項不予受理告知書", "不予受理告知書", "特此告知。"),
    "not_accepted_legal_channel": Template("notice", "信訪事項不予受理告知書", "不予受理告知書", "特此告知。"),
    "extension_notice": Template("notice", "信訪事項延期辦理告知書", "延期辦理告知書", "特此告知。"),
    "reply": Template("reply", "信訪事項處理意見書", "處理意見書", "特此答覆。"),
    "review_reply": Template("reply", "信訪事項複查意見書", "複查意見書", "特此答覆。"),
    "rereview_reply": Template("reply", "信訪事項複核意見書", "複核意見書", "特此答覆。"),
}


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def paragraphs(kind: str, c: dict) -> tuple[list[str], str]:
    """The body paragraphs and the footnote of letter ``kind`` for context ``c``."""
    received = chinese_date(c["received_on"])
    text = (c.get("text") or "").strip()
    finding = FINDING_SENTENCES.get(c.get("finding") or "", "")
    action = (c.get("corrective_action") or "").strip()
    footnote = ""
    if kind == "direct_answer":
        body = [f"您於{received}反映的事項，本機關已收悉。經研究，現答覆如下：", text]
    elif kind == "not_accepted_outside_authority":
        body = [f"您於{received}提出的信訪事項，經審查，不屬於本機關職權範圍，依照規定本機關不予受理。",
                (c.get("reason") or "").strip(),
                "請您向有權處理的機關提出。"]
    elif kind == "not_accepted_legal_channel":
        name, how = LEGAL_CHANNELS[c["channel"]]
        body = [f"您於{received}提出的信訪事項，屬於應當通過{name}途徑解決的事項。依照規定，本機關不予受理。",
                f"請您依法{how}。"]
    elif kind == "extension_notice":
        body = [(f"您於{received}提出、本機關於{chinese_date(c['accepted_on'])}受理的信訪事項，因情況複雜，"
                 f"經本機關負責人批准，辦理期限延長{c['days']}日，至{chinese_date(c['due_on'])}。"),
                f"延期理由：{(c.get('reason') or '').strip()}"]
    elif kind == "reply":
        body = [f"您於{received}反映的事項，本機關於{chinese_date(c['accepted_on'])}依法受理。{finding}"]
        if action:
            body.append(f"已採取的糾正措施：{action}")
        body.append(text)
        footnote = (f"如對本處理意見不服，可自收到本意見書之日起{c['window_days']}日內"
                    "向本機關請求複查。")
    elif kind == "review_reply":
        body = [f"您於{chinese_date(c['requested_on'])}提出的複查請求，本機關已依法進行複查。{finding}"]
        if action:
            body.append(f"已採取的糾正措施：{action}")
        body.append(text)
        footnote = (f"如對本複查意見不服，可自收到本意見書之日起{c['window_days']}日內"
                    "向上一級機關請求複核。")
    elif kind == "rereview_reply":
        body = [f"您於{chinese_date(c['requested_on'])}提出的複核請求，已依法進行複核。{finding}"]
        if action:
            body.append(f"已採取的糾正措施：{action}")
        body.append(text)
        footnote = "本複核意見為終結意見。就同一事項再次提出的信訪，不再受理。"
    else:
        raise ValidationError(f"No letter template named {kind!r}.")
    return [p for p in body if p], footnote


def render(kind: str, context: dict, *, settings=None) -> bytes:
    """The letter ``kind`` as PDF bytes (in memory only).

    ``context``: serial, issuer (office name), addressee (petitioner's name or ""), issued_on,
    received_on, and what the template needs (text, finding, corrective_action, reason,
    channel, days, accepted_on, due_on, requested_on, window_days)."""
    from fpdf.enums import Align, WrapMode, XPos, YPos

    template = TEMPLATES.get(kind)
    if template is None:
        raise ValidationError(f"No letter template named {kind!r}.")
    body, footnote = paragraphs(kind, context)
    pdf = cjk_pdf(f"{template.title} {context['serial']}", margin=25, settings=settings)
    width = pdf.epw

    pdf.set_font("cjk", size=20)
    pdf.cell(width, 14, template.title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("cjk", size=11)
    pdf.cell(width, 8, f"編號：{context['serial']}", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("cjk", size=13)
    addressee = (context.get("addressee") or "").strip() or "信訪人"
    pdf.multi_cell(width, 8, f"{addressee}：", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for para in body:
        for line in para.split("\n"):
            pdf.multi_cell(width, 8, "\u3000\u3000" + line.strip(), new_x=XPos.LMARGIN, new_y=YPos.NEXT,
                           wrapmode=WrapMode.CHAR)
    pdf.multi_cell(width, 8, "\u3000\u3000" + template.closing, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(10)
    pdf.cell(width, 8, context.get("issuer") or "信訪辦公室", align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(width, 8, chinese_date(context["issued_on"]), align=Align.R, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if footnote:
        pdf.ln(8)
        pdf.set_font("cjk", size=10)
        pdf.multi_cell(width, 6, footnote, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    data = bytes(pdf.output())
    missing = sum(len(f.missing_glyphs) for f in pdf.fonts.values() if hasattr(f, "missing_glyphs"))
    if missing:
        log.warning("a %s letter was written with %d character(s) the font %s cannot draw",
                    kind, missing, Path(find_font(settings).path).name)
    return data


def issue(session, record, kind: str, context: dict, *, by):
    """Render letter ``kind`` for ``record`` and store it, encrypted, as an attachment.

    The serial, the issuing office and the addressee (the petitioner's name, from the sealed
    document) are filled in here; ``context`` gives the rest (see :func:`render`)."""
    settings = instance_of(session).settings
    template = TEMPLATES[kind]
    doc = operations.document(session, record)
    intake = session.execute(select(Office).where(Office.is_intake.is_(True))).scalars().first()
    full = {
        "serial": record.serial,
        "issuer": (settings.extra or {}).get("issuer_name") or (intake.name if intake else "信訪辦公室"),
        "addressee": (doc.get("petitioner") or {}).get("name", ""),
        **context,
    }
    data = render(kind, full, settings=settings)
    upload = operations.Upload(filename=f"{template.file_stem}-{record.serial}.pdf", data=data)
    return operations.add_attachment(session, record, upload, "application/pdf", by=by,
                                     kind=template.attachment_kind)
