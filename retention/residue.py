"""Residue verification: prove that nothing of a destroyed letter survives on disk.

Before a letter's rows are deleted, the run journal keeps *fingerprints* of it: for a few
32-byte windows of each of its ciphertexts (document, earlier versions, event notes,
attachment names, wrapped data key, blob files), of its identity blind tokens and of its
random uid, a 40-bit tag of the window's first 8 bytes and the SHA-256 of the whole window.
The journal therefore holds no ciphertext itself. After the run, every file under the
database, WAL, index, blob and key folders is scanned at every byte offset: the tags are
matched with numpy (vectorised, about a second per 100 MB), and each candidate is confirmed
by its SHA-256. A confirmed window is residue and fails the certificate.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

WINDOW = 32
_C1 = 0x9E3779B97F4A7C15
_C2 = 0xBF58476D1CE4E5B9
_M = (1 << 64) - 1
_CHUNK = 32 * 1024 * 1024


def _tag_int(prefix8: bytes) -> int:
    x = int.from_bytes(prefix8, "little")
    x = (x * _C1) & _M
    x ^= x >> 31
    x = (x * _C2) & _M
    x ^= x >> 29
    return x >> 24


def _tag_array(values: np.ndarray) -> np.ndarray:
    x = values * np.uint64(_C1)
    x ^= x >> np.uint64(31)
    x *= np.uint64(_C2)
    x ^= x >> np.uint64(29)
    return x >> np.uint64(24)


def fingerprint(data: bytes, kind: str = "c", windows: int = 3) -> list[list]:
    """Fingerprints ``[kind, tag, length, sha256]`` of a few windows of ``data``."""
    if not data:
        return []
    n = len(data)
    if n < 16:
        return []
    if n <= WINDOW:
        starts = [0]
        length = n
    else:
        length = WINDOW
        last = n - WINDOW
        # skip the format byte and the nonce when there is room: they are random but short-lived
        first = min(13, last)
        starts = sorted({first, (first + last) // 2, last})[:windows]
    out = []
    for s in starts:
        w = data[s:s + length]
        out.append([kind, _tag_int(w[:8]), length, hashlib.sha256(w).hexdigest()])
    return out


@dataclass
class ScanResult:
    files: int = 0
    bytes: int = 0
    needles: int = 0
    #: Needles skipped because the same value legitimately belongs to a surviving letter
    #: (an identity token shared with another letter of the same petitioner).
    shared: int = 0
    hits: list[dict] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.hits

    def as_dict(self) -> dict:
        return {"clean": self.clean, "files_scanned": self.files, "bytes_scanned": self.bytes,
                "fingerprints": self.needles, "shared_tokens_skipped": self.shared,
                "residue_found": len(self.hits),
                "residue": [{"file": h["file"], "offset": h["offset"], "serial": h["serial"], "kind": h["kind"]}
                            for h in self.hits[:50]]}


class Needles:
    def __init__(self):
        self._by_tag: dict[int, list[tuple[int, str, str, str]]] = {}

    def add(self, serial: str, fps: list[list], skip_digests: set[str] = frozenset()) -> int:
        skipped = 0
        for kind, tag, length, digest in fps:
            if digest in skip_digests:
                skipped += 1
                continue
            self._by_tag.setdefault(int(tag), []).append((int(length), digest, serial, kind))
        return skipped

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_tag.values())

    def sorted_tags(self) -> np.ndarray:
        return np.array(sorted(self._by_tag), dtype=np.uint64)

    def confirm(self, tag: int, buf: memoryview, off: int) -> list[tuple[str, str]]:
        found = []
        for length, digest, serial, kind in self._by_tag.get(tag, ()):
            if off + length <= len(buf) and hashlib.sha256(buf[off:off + length]).hexdigest() == digest:
                found.append((serial, kind))
        return found


def _scan_buffer(buf: bytes, base: int, limit: int, tags: np.ndarray, needles: Needles, name: str,
                 hits: list[dict]) -> None:
    """Check every offset < ``limit`` of ``buf`` (file offset ``base``)."""
    mv = memoryview(buf)
    for k in range(8):
        count = (len(buf) - k) // 8
        if count <= 0:
            continue
        values = np.frombuffer(buf, dtype="<u8", count=count, offset=k)
        t = _tag_array(values)
        idx = np.searchsorted(tags, t)
        np.minimum(idx, len(tags) - 1, out=idx)
        for i in np.nonzero(tags[idx] == t)[0]:
            off = k + 8 * int(i)
            if off >= limit:
                continue
            for serial, kind in needles.confirm(int(t[i]), mv, off):
                hits.append({"file": name, "offset": base + off, "serial": serial, "kind": kind})


def scan(paths: list[Path], needles: Needles, root: Path | None = None) -> ScanResult:
    """Scan every regular file under ``paths`` for the needles."""
    result = ScanResult(needles=len(needles))
    if not len(needles):
        return result
    tags = needles.sorted_tags()
    overlap = WINDOW - 1
    seen: set[Path] = set()
    for top in paths:
        if not top.exists():
            continue
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                fh = open(path, "rb")
            except OSError:
                continue
            name = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
            result.files += 1
            with fh:
                base = 0
                carry = b""
                while True:
                    chunk = fh.read(_CHUNK)
                    if not chunk:
                        if carry:
                            _scan_buffer(carry, base, len(carry), tags, needles, name, result.hits)
                        break
                    result.bytes += len(chunk)
                    buf = carry + chunk
                    # offsets in the last `overlap` bytes are checked with the next chunk
                    limit = len(buf) - overlap
                    _scan_buffer(buf, base, limit, tags, needles, name, result.hits)
                    carry = buf[limit:]
                    base += limit
    return result


def token_digest(token: bytes) -> str:
    return hashlib.sha256(token).hexdigest()
