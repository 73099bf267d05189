"""Petitioner identifiers: validation, normalisation and keyed blind tokens for look-ups.

A token is HMAC-SHA256 under the ``identity`` purpose key of ``kind:normalised value``,
truncated to 16 bytes; the database holds tokens, never the identifier."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from records import crypto

KINDS = ("id_number", "phone", "name")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS)) % 11]


def normalise_id_number(value: str) -> str:
    return unicodedata.normalize("NFKC", value).replace(" ", "").upper()


def valid_id_number(value: str) -> bool:
    """An 18-character resident ID with a correct check character, or a legacy 15-digit one."""
    v = normalise_id_number(value)
    if re.fullmatch(r"\d{15}", v):
        return True
    return bool(re.fullmatch(r"\d{17}[\dX]", v)) and id_check_char(v[:17]) == v[17]


def normalise_phone(value: str) -> str:
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def valid_phone(value: str) -> bool:
    if not re.fullmatch(r"[\d\s()+\-－（）＋]{5,30}", value.strip()):
        return False
    return 5 <= len(normalise_phone(value)) <= 20


@lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def normalise_name(value: str) -> str:
    v = unicodedata.normalize("NFKC", value).casefold()
    v = "".join(ch for ch in v if not ch.isspace() and ch not in "·•.")
    return _t2s().convert(v)


_NORMALISERS = {"id_number": normalise_id_number, "phone": normalise_phone, "name": normalise_name}


def token(key: bytes, kind: str, value: str) -> bytes | None:
    """The blind token of one identifier, or None when it normalises to nothing."""
    norm = _NORMALISERS[kind](value)
    if not norm:
        return None
    return crypto.keyed_hash(key, f"{kind}:{norm}".encode(), 16)


def tokens_for(key: bytes, petitioner: dict) -> list[tuple[str, bytes]]:
    out = []
    for kind in KINDS:
        value = petitioner.get(kind) or ""
        tok = token(key, kind, value) if value else None
        if tok is not None:
            out.append((kind, tok))
    return out
