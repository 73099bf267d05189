"""Typed errors of the domain core, all under one base.

The web layer maps each to an HTTP status; the CLI prints the message and exits non-zero.
Messages never carry letter plaintext.
"""
from __future__ import annotations


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
