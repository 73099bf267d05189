"""Side postings: a segment's postings of the blind fields as fixed-width arrays.

Whoosh keeps a term's postings in blocks of at most 128, each block's document numbers,
weights and values zlib-compressed pickles; a phrase query at 100,000 letters spent most of
its time unpickling them (58 %) and the positions inside them (13 %). So every segment our
codec writes also holds, as one more file inside the segment (``<segment id>.spa``, taken
into the compound file with Whoosh's own, and removed with them by a merge or a purge), the
same postings of the fields ``FIELDS`` laid out to be read with ``np.frombuffer`` in place
(the segment is memory-mapped, so the operating system's page cache holds what is read):

- the terms, sorted, as fixed-width byte strings (found by binary search);
- for each term, where its postings and its positions begin (``uint32``; a term's end is
  the next one's beginning);
- every term's document numbers in a row (``uint16`` when the segment's numbers fit);
- the weights: none when every weight is 1, none when each equals the posting's count of
  positions (Whoosh's ``Positions`` weight), else ``float32`` (as Whoosh stores them);
- for a positional field, each posting's count of positions and the positions in a row
  (``uint8``/``uint16``/``uint32`` by range).

The file holds what Whoosh's own posting files hold — blind tokens, document numbers and
positions — and nothing else. A segment written before (no such file) is read through
Whoosh's posting blocks as before; the postings read either way are the same
(``tests/search/test_side_postings.py``).
"""
from __future__ import annotations

import json
import struct

import numpy as np

#: The fields whose postings are written beside Whoosh's (the text pairs and the characters).
FIELDS = ("text", "chars")
#: The file's extension, after the segment id (Whoosh's ``Segment.make_filename``).
EXT = ".spa"
MAGIC = b"XFSIDE1\n"
_ALIGN = 8
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_F = np.zeros(0, dtype=np.float64)
_EMPTY_I = np.zeros(0, dtype=np.int64)


def _unsigned(top: int) -> str:
    """The narrowest unsigned little-endian type holding 0..``top``."""
    return "<u1" if top < 1 << 8 else "<u2" if top < 1 << 16 else "<u4"


class Collector:
    """The postings of ``FIELDS`` as a field writer writes them (field by field, terms in
    order): one call a term, three appends a posting."""

    def __init__(self):
        self.fields: dict[str, dict] = {}

    def field(self, name: str, fmt) -> dict | None:
        """The lists to append the postings of a field (``fmt``: its Whoosh format) to
        (None: the field is not kept here)."""
        if name not in FIELDS:
            return None
        got = self.fields.get(name)
        if got is None:
            got = self.fields[name] = {"positional": fmt.supports("positions"), "format": fmt, "terms": [],
                                       "starts": [], "ids": [], "weights": [], "values": []}
        return got

    @staticmethod
    def term(col: dict, btext: bytes) -> None:
        col["terms"].append(btext)
        col["starts"].append(len(col["ids"]))

    def write(self, fh, decode) -> None:
        """Write the file to ``fh`` (``decode(values, fmt)``: each value's count of positions
        and all positions in a row, ``internals.positions``)."""
        header, chunks, at = {}, [], 0
        for name in FIELDS:
            col = self.fields.get(name) or {"positional": False, "format": None, "terms": [], "starts": [],
                                            "ids": [], "weights": [], "values": []}
            entry, arrays = _field_arrays(col, decode)
            entry["sections"] = {}
            for key, arr in arrays.items():
                raw = arr.tobytes()
                entry["sections"][key] = [at, len(raw)]
                pad = -len(raw) % _ALIGN
                chunks.append(raw + b"\0" * pad)
                at += len(raw) + pad
            header[name] = entry
        head = json.dumps({"fields": header}).encode("ascii")
        head += b" " * (-(len(MAGIC) + 4 + len(head)) % _ALIGN)
        fh.write(MAGIC + struct.pack("<I", len(head)) + head)
        for chunk in chunks:
            fh.write(chunk)


def _field_arrays(col: dict, decode) -> tuple[dict, dict]:
    """A field's header entry and arrays (a field whose terms did not come in order, which
    our writers never do, is marked ``skipped`` and read through Whoosh)."""
    terms = col["terms"]
    width = max(map(len, terms), default=1)
    if any(b <= a for a, b in zip(terms, terms[1:])) or any(t.endswith(b"\0") for t in terms):
        return {"skipped": True}, {}
    ids = np.asarray(col["ids"], dtype=np.int64)
    weights = np.asarray(col["weights"], dtype=np.float64)
    starts = np.asarray([*col["starts"], len(ids)], dtype=np.int64)
    arrays = {"keys": np.asarray(terms, dtype=f"S{width}"), "starts": starts.astype("<u4")}
    entry = {"terms": len(terms), "width": width, "ids": _unsigned(int(ids.max(initial=0)))}
    arrays["ids"] = ids.astype(entry["ids"])
    counts = None
    if col["positional"]:
        counts, flat = decode(col["values"], col["format"])
        entry["counts"] = _unsigned(int(counts.max(initial=0)))
        entry["positions"] = _unsigned(int(flat.max(initial=0)))
        firsts = np.concatenate(([0], np.cumsum(counts)))[starts]
        arrays.update(pos_starts=firsts.astype("<u4"), counts=counts.astype(entry["counts"]),
                      positions=flat.astype(entry["positions"]))
    if np.all(weights == 1.0):
        entry["weights"] = "ones"
    elif counts is not None and np.array_equal(weights, counts.astype(np.float64)):
        entry["weights"] = "counts"
    else:
        entry["weights"] = "<f4"
        arrays["weights"] = weights.astype("<f4")
    return entry, arrays


class SidePostings:
    """The side postings of one segment, read in place from ``buf`` (the file's bytes)."""

    def __init__(self, buf):
        view = memoryview(buf)
        #: The file's bytes (read in place).
        self.buffer = view
        if bytes(view[:len(MAGIC)]) != MAGIC:
            raise ValueError("not a side postings file")
        (size,) = struct.unpack("<I", view[len(MAGIC):len(MAGIC) + 4])
        base = len(MAGIC) + 4 + size
        header = json.loads(bytes(view[len(MAGIC) + 4:base]))
        self._fields: dict[str, dict] = {}
        for name, entry in header["fields"].items():
            if entry.get("skipped"):
                continue
            arrays = {}
            for key, (offset, length) in entry["sections"].items():
                # the tables' fixed types, else the type the header names (ids, counts, positions, weights)
                dtype = {"keys": f"S{entry['width']}", "starts": "<u4", "pos_starts": "<u4"}.get(key, entry.get(key))
                arrays[key] = np.frombuffer(view[base + offset:base + offset + length], dtype=dtype)
            self._fields[name] = {**entry, **arrays}

    def covers(self, field: str) -> bool:
        """Whether the field's postings are here (else read them through Whoosh)."""
        return field in self._fields

    def _find(self, field: str, term: str) -> int:
        f = self._fields[field]
        key = term.encode("utf-8")
        if not f["terms"] or len(key) > f["width"]:
            return -1
        at = int(np.searchsorted(f["keys"], key))
        return at if at < f["terms"] and f["keys"][at] == key else -1

    def doc_frequency(self, field: str, term: str) -> int:
        """How many documents hold ``field:term``, deleted ones included."""
        at = self._find(field, term)
        if at < 0:
            return 0
        starts = self._fields[field]["starts"]
        return int(starts[at + 1]) - int(starts[at])

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Document numbers (``int32``, deleted ones included) and weights of ``field:term``
        — what ``internals.raw_postings`` reads from Whoosh's blocks."""
        at = self._find(field, term)
        if at < 0:
            return _EMPTY_IDS, _EMPTY_F
        f = self._fields[field]
        begin, end = int(f["starts"][at]), int(f["starts"][at + 1])
        ids = f["ids"][begin:end].astype(np.int32)
        mode = f["weights"]
        if mode == "ones":
            weights = np.ones(end - begin, dtype=np.float64)
        elif mode == "counts":
            weights = f["counts"][begin:end].astype(np.float64)
        else:
            weights = f["weights"][begin:end].astype(np.float64)
        return ids, weights

    def positions(self, field: str, term: str, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For the term's postings ``at`` (indices into its postings, ascending): how many
        positions each has, and all of them in a row (``internals.positions``' result)."""
        t = self._find(field, term)
        if t < 0 or not len(at):
            return _EMPTY_I, _EMPTY_I
        f = self._fields[field]
        begin, end = int(f["starts"][t]), int(f["starts"][t + 1])
        p0, p1 = int(f["pos_starts"][t]), int(f["pos_starts"][t + 1])
        flat = f["positions"][p0:p1]
        if p1 - p0 == end - begin:   # one position a posting (most terms)
            return np.ones(len(at), dtype=np.int64), flat[at].astype(np.int64)
        counts = f["counts"][begin:end].astype(np.int64)
        firsts = np.cumsum(counts) - counts
        got = counts[at]
        shift = np.cumsum(got) - got
        index = np.repeat(firsts[at] - shift, got) + np.arange(int(got.sum()))
        return got, flat[index].astype(np.int64)
