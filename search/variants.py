"""Variant-aware script folding: every character is folded to one representative of its
class, the classes being the union of OpenCC's Traditional↔Simplified mappings.

OpenCC converts by phrase (``答覆`` → ``答复`` but ``覆蓋`` → ``覆盖``; ``著`` stays ``著``
in one context and becomes ``着`` in another), so converting a letter and a query with
OpenCC, or folding each character with its character table, can fold the same character
differently on the two sides. A substring search needs a fold that is context-free *and*
closed over every mapping: here two characters are in one class when any OpenCC
dictionary maps one to the other, directly or through a chain (覆/复/復/複, 著/着,
噁/恶/惡, 乾/干/幹, 後/后, 髮/发/發, 瞭/了, 隻/只/衹/祇, 於/于, 里/裡/裏/哩 …). The
phrase dictionaries are read too: each pair of equal-length phrases adds the pairs of
characters that differ (today they add nothing the character tables lack, which the
table's header records).

The table (``variants.tsv``: one class a line, its representative first) is generated from
the OpenCC package's dictionaries by ``python -m search.variants`` and committed, so the
fold cannot change under an index when the OpenCC package is upgraded: a new table is a
new token scheme (``analysis.SCHEME``) and needs ``xinfang search reindex``.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

TABLE = Path(__file__).with_name("variants.tsv")
#: OpenCC dictionaries read: character tables (one character to its candidates) and
#: phrase tables (pairs of equal length contribute their differing characters).
CHARACTER_DICTS = ("STCharacters", "TSCharacters", "TSCharactersExt", "TWVariants", "TWVariantsRev",
                   "HKVariants", "HKVariantsRev")
PHRASE_DICTS = ("STPhrases", "TSPhrases", "TWVariantsPhrases", "HKVariantsPhrases")


@lru_cache(maxsize=1)
def fold_table() -> dict[int, str]:
    """``str.translate`` table: every member of a class to its representative."""
    out: dict[int, str] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        rep, members = line.split("\t")
        for ch in members:
            if ch != rep:
                out[ord(ch)] = rep
    return out


def table_digest() -> str:
    """A short digest of the table in use (recorded in the benchmark's output)."""
    return hashlib.sha256(TABLE.read_bytes()).hexdigest()[:12]


# -- building the table from OpenCC's dictionaries (a maintainer's step, not run by the app) ---
def _read_dicts(opencc_dir: Path, names, workdir: Path) -> dict[str, list[tuple[str, list[str]]]]:
    import opencc

    clib = Path(opencc.__file__).parent / "clib"
    tool = clib / "bin" / "opencc_dict"
    out = {}
    for name in names:
        src = opencc_dir / f"{name}.ocd2"
        if not src.exists():
            continue
        txt = workdir / f"{name}.txt"
        subprocess.run([str(tool), "-i", str(src), "-o", str(txt), "-f", "ocd2", "-t", "text"], check=True,
                       env={"LD_LIBRARY_PATH": str(clib / "lib64")}, capture_output=True)
        rows = []
        for line in txt.read_text(encoding="utf-8").splitlines():
            key, _tab, values = line.partition("\t")
            rows.append((key, values.split(" ")))
        out[name] = rows
    return out


def build(opencc_dir: Path) -> tuple[list[list[str]], dict]:
    """The classes (representative first) and counts of where their pairs came from."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    def union(a: str, b: str) -> bool:
        ra, rb = find(a), find(b)
        if ra == rb:
            return False
        parent[max(ra, rb)] = min(ra, rb)
        return True

    stats: Counter = Counter()
    first_target: Counter = Counter()    # how often a character is a dictionary's first choice
    simplified: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        chars = _read_dicts(opencc_dir, CHARACTER_DICTS, Path(tmp))
        phrases = _read_dicts(opencc_dir, PHRASE_DICTS, Path(tmp))
    for name, rows in chars.items():
        for key, values in rows:
            if len(key) != 1:
                continue
            if name == "STCharacters":
                simplified.add(key)
            if name.startswith("TS") and len(values[0]) == 1:
                first_target[values[0]] += 1
            for v in values:
                if len(v) == 1 and v != key:
                    stats[f"pairs from {name}"] += 1
                    stats[f"merges by {name}"] += union(key, v)
    for name, rows in phrases.items():
        for key, values in rows:
            for v in values:
                if len(v) == len(key):
                    for a, b in zip(key, v):
                        if a != b:
                            stats[f"merges by {name}"] += union(a, b)
    classes: dict[str, list[str]] = defaultdict(list)
    for ch in set(parent) | set(parent.values()):
        classes[find(ch)].append(ch)
    out = []
    for members in classes.values():
        # the representative: the Simplified form the dictionaries choose most often, then a
        # common character (GB 2312 level 1) over a rare one
        rep = max(members, key=lambda c: (c in simplified, first_target[c], _common(c), -ord(c)))
        out.append([rep] + sorted((m for m in members if m != rep), key=ord))
    out.sort(key=lambda c: ord(c[0]))
    return out, dict(stats)


def _common(ch: str) -> bool:
    """Whether ``ch`` is among GB 2312's 3,755 level-1 (most common) characters."""
    try:
        code = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and 0xB0 <= code[0] <= 0xD7


def write(opencc_dir: Path | None = None) -> Path:
    import opencc

    opencc_dir = opencc_dir or Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    classes, stats = build(opencc_dir)
    sizes = Counter(len(c) for c in classes)
    version = getattr(opencc, "__version__", "") or _dist_version("OpenCC")
    lines = [f"# Variant classes for search folding, generated by 'python -m search.variants' from OpenCC {version}",
             f"# dictionaries: {', '.join(CHARACTER_DICTS + PHRASE_DICTS)}",
             "# " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.items())),
             "# classes by size: " + ", ".join(f"{k}: {v}" for k, v in sorted(sizes.items())),
             "# representative<TAB>every member (the representative included)"]
    lines += [f"{c[0]}\t{''.join(c)}" for c in classes]
    TABLE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return TABLE


def _dist_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:   # pragma: no cover
        return "?"


if __name__ == "__main__":   # pragma: no cover - a maintainer's command
    print(write())
    sys.exit(0)
