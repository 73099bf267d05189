"""The residue scanner (``retention.residue.scan``): every fingerprinted window is found at any
byte offset of a file, once, whichever piece, block or thread it falls in, and nothing else is."""
from __future__ import annotations

import hashlib
import os

import pytest

from retention import residue


def _needle(window: bytes, kind: str = "c", version: int = residue.TAG_VERSION) -> list:
    fp = [kind, residue._tag_int(window[:8], version), len(window), hashlib.sha256(window).hexdigest()]
    return fp if version == 1 else [*fp, version]   # version 1: four fields, as journals held them


def _plant(size: int, offsets_lengths: list[tuple[int, int]],
           versions: tuple[int, ...] = (residue.TAG_VERSION,)) -> tuple[bytes, residue.Needles, list[tuple[int, str]]]:
    data = bytearray(os.urandom(size))
    needles = residue.Needles()
    expected = []
    spans = sorted(offsets_lengths)
    assert all(a + n <= b for (a, n), (b, _) in zip(spans, spans[1:])), "windows must not overlap"
    for n, (off, length) in enumerate(offsets_lengths):
        window = os.urandom(length)
        data[off:off + length] = window
        needles.add(f"L{n}", [_needle(window, version=versions[n % len(versions)])])
        expected.append((off, f"L{n}"))
    return bytes(data), needles, sorted(expected)


def _found(result: residue.ScanResult) -> list[tuple[int, str]]:
    return sorted((h["offset"], h["serial"]) for h in result.hits)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_window_is_found_at_every_offset_across_blocks_and_pieces(tmp_path, monkeypatch, threads):
    block = 8 * residue._BLOCK            # bytes of offsets one block of the scanner covers
    chunk = 3 * block + 5                 # pieces of a file that do not end on a block
    monkeypatch.setattr(residue, "_CHUNK", chunk)
    monkeypatch.setattr(residue, "_THREADS", threads)
    size = 2 * chunk + block // 2
    spots = [(0, 32), *((k * 41, 32) for k in range(1, 8)),             # every offset mod 8
             (block - 31, 32), (2 * block - 8, 32), (4 * block + 7, 16),  # across a block's end
             (chunk - 20, 32), (2 * chunk - 1, 32), (chunk + 40, 16),     # across a piece's end
             (size - 80, 32), (size - 16, 16)]                            # the file's end
    data, needles, expected = _plant(size, spots)
    (tmp_path / "f.bin").write_bytes(data)

    result = residue.scan([tmp_path], needles, root=tmp_path)

    assert _found(result) == expected   # each once, nothing else
    assert {h["file"] for h in result.hits} == {"f.bin"}
    assert result.bytes == size and result.files == 1


def test_the_scan_finds_what_checking_every_offset_one_by_one_finds(tmp_path):
    data, needles, expected = _plant(200_003, [(o, 32) for o in range(17, 199_000, 4_999)])
    data += data[1000:1100]   # the same windows twice in one file are two hits
    expected += sorted((200_003 + o - 1000, s) for o, s in expected if 1000 <= o <= 1100 - 32)
    (tmp_path / "f.bin").write_bytes(data)

    every_offset = sorted(
        (off, serial) for off in range(len(data) - 15)
        for serial, _kind in needles.confirm(residue._tag_int(data[off:off + 8]), memoryview(data), off))
    assert every_offset == sorted(expected)
    assert _found(residue.scan([tmp_path / "f.bin"], needles)) == every_offset


def test_a_window_whose_tag_matches_but_whose_bytes_differ_is_not_residue(tmp_path):
    window = os.urandom(32)
    look_alike = window[:8] + os.urandom(24)   # the same tag (the first 8 bytes), other bytes
    needles = residue.Needles()
    needles.add("gone", [_needle(window)])
    (tmp_path / "f.bin").write_bytes(os.urandom(1000) + look_alike + os.urandom(1000))

    result = residue.scan([tmp_path], needles)

    assert result.clean and result.needles == 1 and result.bytes == 2032


def test_many_needles_and_a_large_file_still_find_exactly_the_planted_windows(tmp_path):
    size = 6 * 8 * residue._BLOCK + 12_345
    data, needles, expected = _plant(size, [(o, 32) for o in (5, 1 << 20, 3_000_001, size - 33)])
    for n in range(50_000):   # a 10,000-letter batch has about this many and more
        needles.add(f"X{n}", [_needle(os.urandom(32))])
    (tmp_path / "f.bin").write_bytes(data)

    assert _found(residue.scan([tmp_path], needles)) == expected


def test_a_fingerprint_is_a_tag_of_this_version_and_the_windows_digest():
    data = os.urandom(100)
    fps = residue.fingerprint(data, "c")
    assert [fp[0] for fp in fps] == ["c", "c", "c"]
    assert all(fp[4] == residue.TAG_VERSION == 2 and fp[2] == 32 for fp in fps)
    first = data[13:45]   # the first window skips the format byte and the nonce
    assert fps[0][1] == residue._tag_int(first[:8]) and fps[0][3] == hashlib.sha256(first).hexdigest()
    token = os.urandom(32)
    assert residue.token_fingerprint(token) == ["t", residue._tag_int(token[:8]), 32, residue.token_digest(token), 2]
    assert residue._tag_int(token[:8], 1) != residue._tag_int(token[:8], 2)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_journal_of_four_field_fingerprints_from_before_version_2_is_still_found(tmp_path, monkeypatch, threads):
    """A run begun before an upgrade resumes with its journal's old fingerprints (tags of
    version 1): the scanner tags every offset both ways, and finds both kinds once each."""
    monkeypatch.setattr(residue, "_THREADS", threads)
    size = 3 * 8 * residue._BLOCK + 77
    data, needles, expected = _plant(size, [(o, 32) for o in (3, 1000, 8 * residue._BLOCK - 9, 2_000_001, size - 40)],
                                     versions=(1, 2))
    assert needles.versions() == [1, 2]
    (tmp_path / "f.bin").write_bytes(data)

    assert _found(residue.scan([tmp_path], needles)) == expected
