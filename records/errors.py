"""Typed errors of the domain core, all under one base.

The web layer maps each to an HTTP status; the CLI prints the message and exits non-zero.
Messages never carry letter plaintext.
"""
from __future__ import annotations

import datetime as _dt


class Msg(str):
    """A message whose wording is catalogued with placeholders: it reads (``str``, JSON, the
    CLI) as the English text filled in, and carries ``msgid`` and ``params`` so the web layer
    translates the msgid first and fills the placeholders after (app/messages.py). Use it
    for every message built at run time: ``Msg("At most %(n)s characters.", n=MAX)``.
    A date param reads as ISO 8601 in English and as the page writes dates on the web.
    A param may itself be a ``Msg`` (translated in turn), ``Codes`` (stored codes, shown by
    their labels) or a ``FieldName`` (an input's key, shown by its label)."""

    msgid: str
    params: dict

    def __new__(cls, msgid: str, **params):
        text = msgid % {k: _english(v) for k, v in params.items()} if params else msgid
        obj = super().__new__(cls, text)
        obj.msgid = msgid
        obj.params = params
        return obj

    def __reduce__(self):
        return (_msg, (self.msgid, self.params))


def _msg(msgid: str, params: dict) -> Msg:
    return Msg(msgid, **params)


class Codes(tuple):
    """Stored codes named in a message ("one of: clerk, handler"): English lists the codes;
    the web shows each by its label in the page's language. ``kind`` names the vocabulary
    when a code means different things in two ("open": a batch's state, or the board's column)."""

    kind: str | None

    def __new__(cls, values=(), kind: str | None = None):
        obj = super().__new__(cls, values)
        obj.kind = kind
        return obj


class FieldName(str):
    """An input's key named in a message: English shows the key; the web its label."""


class Quoted(str):
    """A value the user typed, named in a message: English shows it as Python's repr ('x');
    the web between the page's quotation marks (「x」)."""


class Fields(dict):
    """The bad fields named in a message ("not added: code: …; name: …"): English shows
    ``key: message`` pairs; the web each field's label and translated message."""


def details(errors: dict) -> Fields:
    return Fields(errors)


def _english(value) -> str:
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, Codes):
        return ", ".join(str(v) for v in value)
    if isinstance(value, Quoted):
        return repr(str(value))
    if isinstance(value, Fields):
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value)


class XinfangError(Exception):
    """Base of every error the domain core raises on purpose."""

    status = 400

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, audit: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        #: An audit entry to keep although the unit of work rolls back (a refused attempt):
        #: ``{"action", "actor_id", "actor_name", "target", "detail", "address"}``; the web's
        #: error handler writes it after the rollback, in a transaction of its own.
        self.audit = audit


class ValidationError(XinfangError):
    """Input that cannot be accepted; ``fields`` names each bad field."""

    status = 422


class NotFound(XinfangError):
    status = 404


class AccessDenied(XinfangError):
    status = 403


class Conflict(XinfangError):
    status = 409


class TooLarge(XinfangError):
    status = 413


class CryptoError(XinfangError):
    """A ciphertext or wrapped key failed authentication: tampered, swapped or wrong key."""

    status = 500


class ConfigurationError(XinfangError):
    status = 500
