"""Residue scanner benchmark: how fast a destruction's residue check reads a file for the
destroyed letters' fingerprints (``retention.residue.scan``), and that it finds exactly the
windows planted in it.

    .venv/bin/python benchmarks/residue_bench.py                     # 128 MB, 300,000 fingerprints
    .venv/bin/python benchmarks/residue_bench.py --mb 128 --fingerprints 1000 --threads 1

A file of random bytes gets a few 32-byte windows planted at odd offsets (across the
scanner's blocks and pieces); the fingerprints are those windows' and random others' (a
10,000-letter batch leaves about 300,000). The file is read once before the timed scans, so
the figure is the scanner's, not the disk's."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retention import residue  # noqa: E402


def bench(mb: int, fingerprints: int, threads: int | None, repeat: int) -> dict:
    size = mb * 2**20
    planted = sorted({3, size // 3 + 1, size // 2 - 5, (residue._CHUNK - 17) % (size - 64), size - 40})
    needles = residue.Needles()
    with tempfile.TemporaryDirectory(prefix="xinfang-residue-bench-") as tmp:
        path = Path(tmp) / "data.bin"
        with open(path, "wb") as fh:
            fh.write(os.urandom(size))
        with open(path, "r+b") as fh:
            for n, off in enumerate(planted):
                window = os.urandom(32)
                fh.seek(off)
                fh.write(window)
                needles.add(f"planted-{n}", residue.fingerprint(window))
        for n in range(fingerprints - len(planted)):
            needles.add(f"other-{n}", residue.fingerprint(os.urandom(32)))
        path.read_bytes()   # in the page cache before the timed scans
        if threads:
            residue._THREADS = threads
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            result = residue.scan([path], needles)
            times.append(time.perf_counter() - t0)
    found = sorted(h["offset"] for h in result.hits)
    seconds = statistics.median(times)
    return {"mb": mb, "fingerprints": len(needles), "threads": residue._THREADS, "seconds": round(seconds, 3),
            "mb_per_s": round(mb / seconds, 1), "found_exactly_the_planted": found == planted}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=128, help="size of the scanned file (default 128)")
    ap.add_argument("--fingerprints", type=int, default=300_000, help="fingerprints sought (default 300,000)")
    ap.add_argument("--threads", type=int, help="scanner threads (default: the scanner's, up to 4 cores)")
    ap.add_argument("--repeat", type=int, default=3, help="timed scans; the median is reported (default 3)")
    args = ap.parse_args()
    if args.mb < 1 or args.fingerprints < 5 or args.repeat < 1 or (args.threads is not None and args.threads < 1):
        ap.error("--mb, --repeat and --threads must be at least 1, --fingerprints at least 5")
    result = bench(args.mb, args.fingerprints, args.threads, args.repeat)
    print(json.dumps(result))
    if not result["found_exactly_the_planted"]:
        sys.exit("the scan did not find exactly the planted windows")


if __name__ == "__main__":
    main()
