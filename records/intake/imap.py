"""Polling an IMAP mailbox with the standard library (``imaplib``): every unseen message is
imported as a letter (``importing.import_many``, one unit of work each) and marked seen
when it was registered or is a duplicate of one already registered; a message refused for
another reason stays unseen, to be looked at, and is reported. The message is fetched with
``BODY.PEEK[]`` (fetching does not mark it seen), so a crash between fetching and importing
loses nothing."""
from __future__ import annotations

import imaplib
import ssl as _ssl
from dataclasses import dataclass

from records.errors import XinfangError

from . import importing

#: Messages imported per poll at most (the rest wait for the next poll).
MAX_PER_POLL = 200


class MailboxError(XinfangError):
    status = 502


@dataclass
class Mailbox:
    host: str
    user: str
    password: str
    port: int | None = None
    folder: str = "INBOX"
    #: IMAP over TLS (port 993); False only for a server on the same machine.
    tls: bool = True


def _connect(box: Mailbox) -> imaplib.IMAP4:
    try:
        if box.tls:
            return imaplib.IMAP4_SSL(box.host, box.port or 993, ssl_context=_ssl.create_default_context(),
                                     timeout=30)
        return imaplib.IMAP4(box.host, box.port or 143, timeout=30)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"Cannot reach the mail server {box.host} ({type(exc).__name__}).") from None


def poll(inst, box: Mailbox, *, by_id: int, region: str | None = None, category: str = "other",
         limit: int = MAX_PER_POLL) -> list[importing.ImportResult]:
    """Import the unseen messages of ``box``; returns one result per message fetched."""
    conn = _connect(box)
    try:
        try:
            conn.login(box.user, box.password)
        except imaplib.IMAP4.error:
            raise MailboxError("The mail server refused the user name or password.") from None
        typ, _ = conn.select(box.folder)
        if typ != "OK":
            raise MailboxError(f"No mailbox {box.folder!r} on the mail server.")
        typ, data = conn.uid("SEARCH", None, "UNSEEN")
        if typ != "OK":
            raise MailboxError("The mail server refused to list the unseen messages.")
        uids = (data[0] or b"").split()[:limit]
        results = []
        for n, uid in enumerate(uids, 1):
            typ, parts = conn.uid("FETCH", uid, "(BODY.PEEK[])")
            raw = next((p[1] for p in parts or () if isinstance(p, tuple) and len(p) > 1), None)
            if typ != "OK" or raw is None:
                results.append(importing.ImportResult(index=n, refused="The message could not be fetched."))
                continue
            (result,) = importing.import_many(inst, [raw], by_id=by_id, region=region, category=category,
                                              address="imap")
            result.index = n
            if result.serial or result.duplicate_of:
                conn.uid("STORE", uid, "+FLAGS", "(\\Seen)")
            results.append(result)
        return results
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
