"""Encrypted attachment files in the instance's blob folder.

Only ciphertext is ever written; the file is written beside its final name and renamed,
so a crash leaves either no file or a whole one. Names are hex ids, never user input.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from records.errors import NotFound

_NAME = re.compile(r"[0-9a-f]{32}")


class BlobStore:
    def __init__(self, root: Path):
        self.root = root

    def path(self, uid: str) -> Path:
        if not isinstance(uid, str) or not _NAME.fullmatch(uid):
            raise NotFound("No such attachment.")
        return self.root / uid[:2] / uid

    def put(self, uid: str, sealed: bytes) -> None:
        final = self.path(uid)
        final.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = final.with_suffix(".part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(sealed)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, final)

    def get(self, uid: str) -> bytes:
        try:
            return self.path(uid).read_bytes()
        except FileNotFoundError:
            raise NotFound("The attachment's file is missing from the blob store.") from None

    def delete(self, uid: str) -> None:
        try:
            self.path(uid).unlink()
        except FileNotFoundError:
            pass

    def exists(self, uid: str) -> bool:
        return self.path(uid).exists()
