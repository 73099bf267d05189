"""Written replies (書面答覆) and notices (告知書, 函) as PDF letters: one engine for every notice,
with the bureau's letterhead and a document number (文號) from its per-year sequence; the
wording of each kind is in :mod:`records.cases.letters`.

The letters are built in memory with fpdf2 and a CJK font from a Debian package
(``fonts-noto-cjk``; see :data:`FONT_CANDIDATES`), then stored only encrypted, as an
attachment of the record (kind ``reply`` or ``notice``) through
``operations.add_attachment``. Nothing of a letter reaches a temporary file or a log: fpdf2's
own warnings can quote characters of the text (missing glyphs), so its logger is kept quiet
and only the count of missing glyphs is logged.

Choose another font with ``Settings.cjk_font``, i.e. ``$XINFANG_CJK_FONT`` (a path; for a
collection, ``"path#n"`` picks face n).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from records.cases import operations
from records.cases.letters import CLOSINGS, TEMPLATES, Template, chinese_date, paragraphs  # noqa: F401
from records.errors import ConfigurationError, ValidationError
from records.instance import instance_of
from records.reference import letterhead

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
    return getattr(settings, "cjk_font", None) or None


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


# -- the letter, exactly as printed -----------------------------------------------------------

#: Punctuation that may not begin a line (避頭點): it hangs at the end of the line before.
NO_LINE_START = "。，、；：？！）》」』〕】”’…—・%"
#: What a preview shows where the document number will be (numbers are allocated on issue only).
NUMBER_PENDING = "（文號於簽發時編定）"


@dataclass
class Letter:
    """Everything printed on a notice, in order: the letterhead, the title, the document number,
    the addressee, the body (the handler's words as written, with the template's parts only
    where the handler did not write them), the closing, the signature block, date and seal
    line, and the footnote. :func:`render` draws exactly these lines; :func:`preview_text`
    shows them."""

    kind: str
    bureau: str
    title: str
    number: str
    serial: str
    addressee: str
    body: list[str]
    closing: str
    signature: str
    date: str
    seal_line: str
    footnote: str

    def lines(self) -> list[str]:
        out = [self.bureau, self.title, self.number, f"信訪編號：{self.serial}", "", f"{self.addressee}："]
        out += ["\u3000\u3000" + line.strip() for para in self.body for line in para.split("\n") if line.strip()]
        if self.closing:
            out.append("\u3000\u3000" + self.closing)
        out += ["", *[line for line in self.signature.split("\n") if line.strip()], self.date, self.seal_line]
        if self.footnote:
            out += ["", self.footnote]
        return out


def _salutation(text: str) -> str | None:
    """The handler's own salutation (a short first line ending in a colon), if any."""
    first = text.strip().split("\n", 1)[0].strip()
    return first[:-1].strip() if first.endswith(("：", ":")) and 0 < len(first) <= 40 else None


def compose(kind: str, context: dict) -> Letter:
    """The letter ``kind`` for ``context`` (serial, addressee, issued_on, the letterhead fields
    ``bureau_name``, ``signature_block``, ``seal_line``, ``superior_body``, ``number``, and
    what the wording needs). A salutation, closing or review notice the handler wrote in the
    text is not written a second time."""
    template = TEMPLATES.get(kind)
    if template is None:
        raise ValidationError(f"No letter template named {kind!r}.")
    text = (context.get("text") or "").strip()
    own = _salutation(text)
    if own is not None:
        text = text.split("\n", 1)[1].strip() if "\n" in text.strip() else ""
    body, footnote = paragraphs(kind, {**context, "text": text})
    closing = template.closing
    if text and any(text.rstrip().endswith(c) or c in text.split("\n")[-1] for c in CLOSINGS):
        closing = ""
    if footnote and text and ("請求複查" in text or "請求複核" in text or "終結意見" in text):
        footnote = ""
    default = {"petitioner": "信訪人", "unit": context.get("to") or "", "higher": context.get("to") or ""}
    addressee = own or (context.get("addressee") or "").strip() or default[template.to] or "信訪人"
    head = {**letterhead.DEFAULT, **{k: v for k, v in context.items() if k in letterhead.FIELDS and v}}
    return Letter(kind=kind, bureau=head["bureau_name"], title=template.title,
                  number=context.get("number") or NUMBER_PENDING, serial=context["serial"], addressee=addressee,
                  body=body, closing=closing, signature=head["signature_block"],
                  date=chinese_date(context["issued_on"]), seal_line=head["seal_line"], footnote=footnote)


def preview_text(letter: Letter) -> str:
    """The letter as plain text, line for line as it will be printed."""
    return "\n".join(letter.lines())


def break_lines(measure, text: str, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` (``measure`` gives a string's width),
    character by character as Chinese is set, never starting a line with closing punctuation:
    such a mark hangs at the end of the line before."""
    lines, line = [], ""
    for ch in text:
        if line and measure(line + ch) > width and ch not in NO_LINE_START:
            lines.append(line)
            line = ""
        line += ch
    if line:
        lines.append(line)
    return lines


def render(kind: str, context: dict, *, settings=None) -> bytes:
    """The letter ``kind`` as PDF bytes (in memory only), drawn from :func:`compose`."""
    from fpdf.enums import Align, XPos, YPos

    letter = compose(kind, context)
    pdf = cjk_pdf(f"{letter.title} {letter.serial}", margin=25, settings=settings)
    width = pdf.epw

    def para(text: str, size: int, height: float, align=Align.L) -> None:
        pdf.set_font("cjk", size=size)
        for line in break_lines(pdf.get_string_width, text, width) or [""]:
            pdf.cell(width, height, line, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    para(letter.bureau, 22, 12, Align.C)
    para(letter.title, 18, 12, Align.C)
    para(letter.number, 11, 7, Align.C)
    para(f"信訪編號：{letter.serial}", 11, 7, Align.R)
    pdf.ln(4)
    para(f"{letter.addressee}：", 13, 8)
    for paragraph in letter.body:
        for line in paragraph.split("\n"):
            if line.strip():
                para("\u3000\u3000" + line.strip(), 13, 8)
    if letter.closing:
        para("\u3000\u3000" + letter.closing, 13, 8)
    pdf.ln(10)
    for line in [*letter.signature.split("\n"), letter.date, letter.seal_line]:
        if line.strip():
            para(line.strip(), 13, 8, Align.R)
    if letter.footnote:
        pdf.ln(8)
        para(letter.footnote, 10, 6)
    data = bytes(pdf.output())
    missing = sum(len(f.missing_glyphs) for f in pdf.fonts.values() if hasattr(f, "missing_glyphs"))
    if missing:
        log.warning("a %s letter was written with %d character(s) the font %s cannot draw",
                    kind, missing, Path(find_font(settings).path).name)
    return data


def _context(session, record, kind: str, context: dict) -> dict:
    """The context completed with the serial, the addressee and the letterhead in force."""
    head = letterhead.current(session)
    to = TEMPLATES[kind].to if kind in TEMPLATES else "petitioner"
    addressee = ""
    if to == "petitioner":
        doc = operations.document(session, record)
        addressee = (doc.get("petitioner") or {}).get("name", "")
    return {"serial": record.serial, "addressee": addressee, **head.as_dict(), **context}


def preview(session, record, kind: str, context: dict) -> Letter:
    """What :func:`issue` would print (without a document number, none being allocated)."""
    return compose(kind, _context(session, record, kind, context))


def issue(session, record, kind: str, context: dict, *, by):
    """Number letter ``kind`` (the letterhead's per-year sequence), render it and store it,
    encrypted, as an attachment of ``record``; the number is written back into ``context``."""
    settings = instance_of(session).settings
    template = TEMPLATES[kind]
    full = _context(session, record, kind, context)
    full["number"] = letterhead.next_document_number(session, full["issued_on"].year)
    data = render(kind, full, settings=settings)
    upload = operations.Upload(filename=f"{template.file_stem}-{record.serial}.pdf", data=data)
    context["number"] = full["number"]   # for the caller's audit entry
    return operations.add_attachment(session, record, upload, "application/pdf", by=by,
                                     kind=template.attachment_kind)
