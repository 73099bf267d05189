"""Text out of an attachment's bytes, in memory: a text document gives its text directly, a
scan gives page images for OCR.

``open_document(data, mime)`` returns a ``Document``: its page count and, page by page,
either the page's text (a text layer, a DOCX, HTML, plain text, an e-mail's body) or an
image to recognise. Every refusal is an ``ExtractionError`` with a message written here
(never the document's content): corrupt files, zip and decompression bombs, encrypted PDFs,
too many pages.
"""
from __future__ import annotations

import io
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from xml.etree import ElementTree

from PIL import Image, UnidentifiedImageError

from records.errors import XinfangError

#: A scan with more pages than this is refused (a 500-page "letter" is a mistake or an attack).
MAX_PAGES = 200
#: Pixels of one page image, decoded or rendered (A4 at 300 dpi is 8.7 million).
MAX_PIXELS = 40_000_000
#: Bytes a DOCX may inflate to, and how much more than its compressed size.
MAX_INFLATED = 50 * 1024 * 1024
MAX_RATIO = 100
#: A PDF page with fewer characters than this in its text layer is treated as a scan.
MIN_LAYER_CHARS = 16
#: Resolution PDF pages are rendered at for OCR.
RENDER_DPI = 200

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
IMAGE_TYPES = ("image/jpeg", "image/png", "image/tiff", "image/gif", "image/bmp", "image/webp")
TEXT_TYPES = ("text/plain", "text/html", "message/rfc822", DOCX, "application/zip")


class ExtractionError(XinfangError):
    """The attachment's text cannot be extracted; the message says why, in plain words."""

    status = 422


@dataclass
class Page:
    """One page: its text when it has one, else the image to recognise."""

    text: str | None = None
    image: Image.Image | None = None


@dataclass
class Document:
    pages: int
    #: ``text`` (every page has text) or ``ocr`` (some page needs recognition).
    method: str
    page: Callable[[int], Page]


def extractable(mime: str) -> bool:
    return mime == "application/pdf" or mime in IMAGE_TYPES or mime in TEXT_TYPES


def open_document(data: bytes, mime: str) -> Document:
    """The pages of an attachment (raises ``ExtractionError`` with a clear message)."""
    if mime == "application/pdf":
        return _pdf(data)
    if mime in IMAGE_TYPES:
        return _image(data)
    if mime in (DOCX, "application/zip"):
        return _single(docx_text(data))
    if mime == "text/html":
        return _single(html_text(decode_text(data)))
    if mime == "message/rfc822":
        from .mail import parse_message

        msg = parse_message(data)
        return _single("\n".join(x for x in (msg.subject, msg.body) if x))
    if mime == "text/plain":
        text = decode_text(data)
        return _single(html_text(text) if _looks_html(text) else text)
    raise ExtractionError("This type of attachment has no text to extract.")


def _single(text: str) -> Document:
    return Document(pages=1, method="text", page=lambda i: Page(text=text))


# -- plain text and HTML ------------------------------------------------------------------
def decode_text(data: bytes, declared: str | None = None) -> str:
    """Text of ``data``: the declared charset when it decodes cleanly, else UTF-8, else GB18030
    (a superset of GB2312 and GBK) or Big5, whichever decodes into common characters."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for enc in ([_charset(declared)] if declared else []) + ["utf-8"]:
        try:
            return data.decode(enc)
        except (UnicodeDecodeError, LookupError):
            continue
    # GB18030 and Big5 share their byte ranges: decode with both, keep the likelier
    candidates = []
    for enc, common in (("gb18030", _GB_COMMON), ("big5hkscs", _BIG5_COMMON)):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        candidates.append((_common_share(text, enc, common), -len(candidates), text))
    if candidates:
        return max(candidates)[2]
    raise ExtractionError("The text is in an unknown character set (not UTF-8, GB2312/GBK/GB18030 or Big5).")


#: Lead bytes of each charset's frequently used characters (GB2312 level 1, Big5 常用字):
#: right decodings are made of them; a wrong one scatters over rare characters and symbols.
_GB_COMMON = (0xB0, 0xD7)
_BIG5_COMMON = (0xA4, 0xC6)


def _common_share(text: str, enc: str, lead: tuple[int, int]) -> float:
    chars = [c for c in text if ord(c) > 0x7F and not c.isspace()]
    if not chars:
        return 1.0
    common = 0
    for c in chars:
        b = c.encode(enc)
        common += len(b) == 2 and lead[0] <= b[0] <= lead[1]
    return common / len(chars)


_CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")


def legacy_text(data: bytes) -> bool:
    """Whether ``data`` is text in a Chinese legacy charset (GB18030 family or Big5): it
    decodes strictly and holds no control characters (binary data always has some)."""
    for enc in ("gb18030", "big5hkscs"):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        return not _CONTROLS.search(text)
    return False


def _charset(name: str | None) -> str | None:
    """Charset names as mail and web declare them, widened to the superset that decodes
    what senders really write (GB2312 mail is often GBK; Big5 often has HKSCS)."""
    if not name:
        return None
    n = name.strip().strip('"').lower()
    if n in ("gb2312", "gbk", "gb_2312-80", "euc-cn", "x-gbk", "cp936", "ms936", "gb18030"):
        return "gb18030"
    if n in ("big5", "big-5", "x-big5", "cn-big5", "big5-hkscs", "cp950"):
        return "big5hkscs"
    return n


_HTML_RE = re.compile(r"^\s*(<!doctype html|<html|<body|<div|<p[ >])", re.IGNORECASE)


def _looks_html(text: str) -> bool:
    return bool(_HTML_RE.match(text[:200]))


class _HtmlText(HTMLParser):
    _SKIP = {"script", "style", "head", "title"}
    _BREAK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skip += 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skip:
            self._skip -= 1
        elif tag in self._BREAK:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible text of an HTML document, one line per block."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


# -- DOCX ---------------------------------------------------------------------------------------
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def docx_text(data: bytes) -> str:
    """The paragraphs of a DOCX's main document (inflation bounded: a zip bomb is refused)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            try:
                info = zf.getinfo("word/document.xml")
            except KeyError:
                raise ExtractionError("The archive is not a Word document (no word/document.xml).") from None
            if info.file_size > MAX_INFLATED or info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise ExtractionError("The Word document inflates far beyond its size (a zip bomb); refused.")
            with zf.open(info) as fh:
                xml = fh.read(MAX_INFLATED + 1)
    except (zipfile.BadZipFile, EOFError, OSError, RuntimeError):
        raise ExtractionError("The Word document is damaged and cannot be read.") from None
    if len(xml) > MAX_INFLATED:
        raise ExtractionError("The Word document inflates far beyond its size (a zip bomb); refused.")
    if b"<!DOCTYPE" in xml[:2000] or b"<!ENTITY" in xml:
        raise ExtractionError("The Word document declares XML entities; refused.")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        raise ExtractionError("The Word document is damaged and cannot be read.") from None
    paragraphs = []
    for p in root.iter(f"{_W}p"):
        texts = []
        for node in p.iter():
            if node.tag == f"{_W}t" and node.text:
                texts.append(node.text)
            elif node.tag in (f"{_W}tab",):
                texts.append("\t")
            elif node.tag in (f"{_W}br", f"{_W}cr"):
                texts.append("\n")
        paragraphs.append("".join(texts))
    return "\n".join(p for p in paragraphs if p.strip())


# -- images ----------------------------------------------------------------------------------------
def _open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ExtractionError("The image is far larger than any scan (a decompression bomb); refused.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ExtractionError("The image is damaged or not an image; it cannot be read.") from None
    if w * h > MAX_PIXELS:
        raise ExtractionError("The image is far larger than any scan (a decompression bomb); refused.")
    return img


def _image(data: bytes) -> Document:
    img = _open_image(data)
    frames = getattr(img, "n_frames", 1) or 1
    if frames > MAX_PAGES:
        raise ExtractionError(f"The scan has {frames} pages; at most {MAX_PAGES} are read. Split it.")

    def page(i: int) -> Page:
        try:
            im = _open_image(data)
            if frames > 1:
                im.seek(i)
                if im.size[0] * im.size[1] > MAX_PIXELS:
                    raise ExtractionError("A page of the scan is far larger than any scan; refused.")
            im.load()
            return Page(image=im.convert("L"))
        except ExtractionError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError):
            raise ExtractionError(f"Page {i + 1} of the scan is damaged and cannot be read.") from None

    return Document(pages=frames, method="ocr", page=page)


# -- PDF -----------------------------------------------------------------------------------------------
def _pdf(data: bytes) -> Document:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ExtractionError("The PDF is encrypted with a password; its text cannot be read. "
                                  "Ask the sender for an unprotected copy.") from None
        raise ExtractionError("The PDF is damaged and cannot be read.") from None
    try:
        n = len(pdf)
    except pdfium.PdfiumError:
        raise ExtractionError("The PDF is damaged and cannot be read.") from None
    if n == 0:
        raise ExtractionError("The PDF has no pages.")
    if n > MAX_PAGES:
        raise ExtractionError(f"The PDF has {n} pages; at most {MAX_PAGES} are read. Split it.")
    layers = [_layer_text(pdf, i) for i in range(n)]
    method = "text" if all(len("".join(t.split())) >= MIN_LAYER_CHARS for t in layers) else "ocr"

    def page(i: int) -> Page:
        if len("".join(layers[i].split())) >= MIN_LAYER_CHARS:
            return Page(text=layers[i])
        return Page(image=_render(pdf, i))

    return Document(pages=n, method=method, page=page)


def _layer_text(pdf, i: int) -> str:
    import pypdfium2 as pdfium

    try:
        page = pdf[i]
        textpage = page.get_textpage()
        text = textpage.get_text_range()
        textpage.close()
        page.close()
        return text.replace("\r\n", "\n").replace("\r", "\n")
    except pdfium.PdfiumError:
        raise ExtractionError(f"Page {i + 1} of the PDF is damaged and cannot be read.") from None


def _render(pdf, i: int) -> Image.Image:
    import pypdfium2 as pdfium

    try:
        page = pdf[i]
        w, h = page.get_size()
        scale = RENDER_DPI / 72
        if w * h * scale * scale > MAX_PIXELS:
            scale = (MAX_PIXELS / max(w * h, 1)) ** 0.5
        if w * scale < 1 or h * scale < 1:
            raise ExtractionError(f"Page {i + 1} of the PDF has no area.")
        image = page.render(scale=scale, grayscale=True).to_pil()
        page.close()
        return image
    except pdfium.PdfiumError:
        raise ExtractionError(f"Page {i + 1} of the PDF is damaged and cannot be rendered.") from None
