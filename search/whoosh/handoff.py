"""The in-memory hand-off key of a multi-process rebuild.

With several indexing processes, Whoosh's multi-process writer sends each sub-writer its
documents in job files on disk. So that those files hold ciphertext only, the rebuild seals
each letter's text under a key that exists only in memory; the sub-writers inherit it when
they fork and open, analyse and blind the text in their own memory (``schema.BlindTokensOnly``).
The keys live in this process-wide table, by blind-key id, for the length of one rebuild:
a forked process can inherit nothing else.
"""
from __future__ import annotations

import base64

#: Keys of multi-process rebuilds in progress, by blind-key id: (hand-off key, blinder). A
#: forked sub-writer inherits them with its parent's memory; nothing of them reaches a file.
_KEYS: dict[str, tuple[bytes, object]] = {}
PREFIX = "\x00xinfang-handoff:"
_AAD = b"xinfang/search/handoff"
#: The last hand-off value opened in this process: both blind fields of a document read it.
_LAST_OPENED: list = [None, None]


def start(key_id: str, key: bytes, blinder) -> None:
    """Make ``key`` the hand-off key of the rebuild for ``key_id`` (blinding with ``blinder``)."""
    _KEYS[key_id] = (key, blinder)


def active(key_id: str) -> bool:
    return key_id in _KEYS


def forget(key_id: str) -> None:
    """End the hand-off of ``key_id``: its key and the last value opened are dropped."""
    _KEYS.pop(key_id, None)
    _LAST_OPENED[:] = [None, None]


def seal(key_id: str, text: str) -> str:
    """``text`` encrypted under the rebuild's in-memory hand-off key, as a field value for a
    sub-writer (its job file then holds ciphertext only)."""
    from records.crypto import seal as seal_bytes

    key = _KEYS[key_id][0]
    return PREFIX + base64.b64encode(seal_bytes(key, text.encode("utf-8"), _AAD)).decode("ascii")


def is_sealed(key_id: str, value) -> bool:
    """Whether ``value`` is a hand-off value this process can open now."""
    return isinstance(value, str) and value.startswith(PREFIX) and key_id in _KEYS


def blind_tokens(key_id: str, value: str, field: str) -> list[str]:
    """The blind tokens of field ``field`` ("text" or "chars") of a sealed hand-off value."""
    blinder = _KEYS[key_id][1]
    analysed = _open(key_id, value)
    if field == "chars":
        return blinder.chars(sorted(analysed.chars))
    return blinder.text(analysed.tokens)


def _open(key_id: str, value: str):
    if _LAST_OPENED[0] == value:
        return _LAST_OPENED[1]
    from records.crypto import open_sealed

    from .. import analysis

    key = _KEYS[key_id][0]
    text = open_sealed(key, base64.b64decode(value[len(PREFIX):]), _AAD).decode("utf-8")
    analysed = analysis.analyse(text)
    _LAST_OPENED[:] = [value, analysed]
    return analysed
