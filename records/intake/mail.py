"""E-mail parsing for import: one message (.eml bytes), an mbox, a Maildir.

Chinese mail arrives in many character sets, often mislabelled: GB2312 declared but GBK or
GB18030 written, Big5 with HKSCS characters, raw 8-bit headers. Every part and header is
decoded here with the declared charset widened to its superset (``extract._charset``), then
the usual ones tried in turn; what still cannot be decoded is kept with replacement
characters and named in ``problems``, so the letter is registered and the clerk told.
Everything stays in memory.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import mailbox
import re
from dataclasses import dataclass, field
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from .extract import ExtractionError, _charset, decode_text, html_text

#: Messages read from one mbox or Maildir at most.
MAX_MESSAGES = 5000


@dataclass
class Attachment:
    filename: str
    data: bytes


@dataclass
class MailMessage:
    message_id: str
    sender_name: str
    sender_address: str
    date: dt.datetime | None
    subject: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)
    #: Plain-words notes on what could not be read exactly (never the message's text).
    problems: list[str] = field(default_factory=list)


def _decode_bytes(data: bytes, charset: str | None, problems: list[str], what: str) -> str:
    try:
        return decode_text(data, charset)
    except ExtractionError:
        problems.append(f"The {what} is in an unknown or wrong character set; unreadable characters "
                        "are shown as \ufffd.")
        return data.decode(_charset(charset) or "utf-8", "replace") if _known(charset) else \
            data.decode("utf-8", "replace")


def _known(charset: str | None) -> bool:
    try:
        "".encode(_charset(charset) or "")
        return bool(charset)
    except LookupError:
        return False


def decode_header_value(raw, problems: list[str] | None = None, what: str = "header") -> str:
    """A header's text: RFC 2047 encoded words in any charset, or raw 8-bit bytes."""
    problems = problems if problems is not None else []
    if raw is None:
        return ""
    raw = str(raw)
    out = []
    for chunk, charset in decode_header(raw):
        if isinstance(chunk, str):
            # a compat32 parse keeps undecodable 8-bit header bytes as surrogates
            chunk = chunk.encode("utf-8", "surrogateescape")
        out.append(_decode_bytes(chunk, charset, problems, what))
    text = "".join(out)
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())


def _part_text(part: Message, problems: list[str]) -> str:
    payload = part.get_payload(decode=True) or b""
    return _decode_bytes(payload, part.get_content_charset(), problems, "message body")


def _filename(part: Message, problems: list[str], n: int) -> str:
    raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
    if isinstance(raw, tuple):  # RFC 2231: (charset, language, value)
        charset, _lang, value = raw
        value = value.encode("latin-1", "surrogateescape") if isinstance(value, str) else value
        name = _decode_bytes(value, charset, problems, "attachment name")
    else:
        name = decode_header_value(raw, problems, "attachment name") if raw else ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:200] or f"attachment-{n}"


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    return disposition == "attachment" or (
        bool(part.get_param("filename", header="content-disposition") or part.get_param("name"))
        and part.get_content_maintype() != "text")


def parse_message(data: bytes) -> MailMessage:
    """One e-mail (the bytes of an .eml file)."""
    if not data or not data.strip():
        raise ExtractionError("The e-mail is empty.")
    msg = email.message_from_bytes(data, policy=email.policy.compat32)
    problems: list[str] = []
    subject = decode_header_value(msg.get("Subject"), problems, "subject")
    from_value = decode_header_value(msg.get("From"), problems, "sender")
    name, address = (getaddresses([from_value]) or [("", "")])[0]
    date = None
    if msg.get("Date"):
        try:
            date = parsedate_to_datetime(str(msg.get("Date")))
            if date.tzinfo is None:
                date = date.replace(tzinfo=dt.UTC)
        except (TypeError, ValueError, IndexError):
            problems.append("The e-mail's date cannot be read; the time of import is used.")
    plain, html, attachments = [], [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if _is_attachment(part):
            payload = part.get_payload(decode=True)
            if payload:
                attachments.append(Attachment(_filename(part, problems, len(attachments) + 1), payload))
        elif ctype == "text/plain":
            plain.append(_part_text(part, problems))
        elif ctype == "text/html":
            html.append(html_text(_part_text(part, problems)))
    body = "\n\n".join(p.strip() for p in plain if p.strip()) or "\n\n".join(h for h in html if h)
    return MailMessage(message_id=_message_id(msg, data), sender_name=name.strip(), sender_address=address.strip(),
                       date=date, subject=subject, body=body.strip(), attachments=attachments,
                       problems=sorted(set(problems)))


_ID_RE = re.compile(r"<([^<>\s]+)>")


def _message_id(msg: Message, data: bytes) -> str:
    """The Message-ID without its brackets; a message without one is known by a digest of
    its bytes (so importing the same file twice is still refused)."""
    raw = str(msg.get("Message-ID") or "").strip()
    m = _ID_RE.search(raw)
    if m:
        return m.group(1)
    if raw:
        return raw
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- mailboxes ----------------------------------------------------------------------------------
def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox held in memory (lines starting ``From `` separate them;
    ``>From`` quoting is undone)."""
    messages, current = [], []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From ") and (current or not messages):
            if current:
                messages.append(b"".join(current))
            current = []
            continue
        current.append(line[1:] if line.startswith(b">From ") else line)
    if current:
        messages.append(b"".join(current))
    return [m for m in messages if m.strip()]


def is_mbox(data: bytes) -> bool:
    return data.startswith(b"From ")


def read_source(path: Path) -> list[bytes]:
    """The raw messages of an .eml file, an mbox file or a Maildir folder."""
    if path.is_dir():
        if not (path / "cur").is_dir() and not (path / "new").is_dir():
            raise ExtractionError("The folder is not a Maildir (no cur/ or new/ inside).")
        box = mailbox.Maildir(str(path), factory=None, create=False)
        keys = sorted(box.keys())
        if len(keys) > MAX_MESSAGES:
            raise ExtractionError(f"The Maildir holds {len(keys)} messages; at most {MAX_MESSAGES} per import.")
        return [box.get_bytes(k) for k in keys]
    if not path.is_file():
        raise ExtractionError("No such file or folder.")
    data = path.read_bytes()
    messages = split_mbox(data) if is_mbox(data) else [data]
    if len(messages) > MAX_MESSAGES:
        raise ExtractionError(f"The mbox holds {len(messages)} messages; at most {MAX_MESSAGES} per import.")
    return messages
