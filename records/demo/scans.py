"""A tiny scanned page: a small valid greyscale PNG that looks like a page of text."""
from __future__ import annotations

import random
import struct
import zlib


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def tiny_png(rng: random.Random | None = None, width: int = 48, height: int = 64) -> bytes:
    """A small valid greyscale PNG that looks like a scanned page (grey lines of 'text')."""
    rng = rng or random.Random(0)
    rows = []
    for y in range(height):
        row = bytearray([255] * width)
        line = y // 4
        if 3 <= y < height - 4 and y % 4 in (1, 2):
            indent = 8 if line % 6 == 1 else 4
            end = width - 4 - (rng.randrange(0, width // 2) if line % 6 == 0 else rng.randrange(0, 6))
            for x in range(indent, max(indent, end)):
                row[x] = rng.choice((40, 70, 100, 160, 220))
        rows.append(b"\x00" + bytes(row))  # filter type 0 (None) on every row
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _png_chunk(b"IEND", b""))
