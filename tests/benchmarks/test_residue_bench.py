"""benchmarks/residue_bench.py: the scanner benchmark finds exactly what it planted, with one
thread and with several (what its figure is worth rests on it)."""
from __future__ import annotations

import pytest

from benchmarks import residue_bench
from retention import residue


@pytest.mark.parametrize("threads", [1, 3])
def test_the_benchmark_finds_exactly_the_planted_windows(monkeypatch, threads):
    monkeypatch.setattr(residue, "_THREADS", residue._THREADS)   # the benchmark sets it
    result = residue_bench.bench(mb=3, fingerprints=500, threads=threads, repeat=1)
    assert result["found_exactly_the_planted"] and result["threads"] == threads
    assert result["fingerprints"] == 500 and result["mb_per_s"] > 0
