"""Attachment names as people will see them: no control characters (NUL, newlines), no
format characters (right-to-left overrides and isolates that make ``exe.pdf`` read as
``fdp.exe``, zero-width joiners, byte-order marks), no folder part."""
from __future__ import annotations

import unicodedata

MAX_NAME = 200
#: Unicode categories removed: control, format, surrogate, private use, unassigned, line and
#: paragraph separators.
_DROP = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def clean_filename(name, default: str = "attachment") -> str:
    """The name an upload is kept under (sealed): NFC, the last path part only, with every
    control and bidi character removed and spaces collapsed."""
    if not isinstance(name, str):
        return default
    name = unicodedata.normalize("NFC", name)
    name = "".join(c for c in name if unicodedata.category(c) not in _DROP)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = " ".join(name.split()).strip(" .")
    return name[:MAX_NAME] or default
