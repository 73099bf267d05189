"""benchmarks/search_bench.py (issue 19): how the benchmark spreads its letters over states,
and which letters its destruction takes (no index is built here)."""
from __future__ import annotations

import datetime as dt

from benchmarks import corpus, search_bench


def test_only_the_last_fifteen_days_letters_await_a_decision():
    letters = list(corpus.corpus(3000))
    states = {d["i"]: search_bench._status(d) for d in letters}
    last = dt.date.fromisoformat(search_bench.LAST_DAY)
    assert max(d["received_at"][:10] for d in letters) <= search_bench.LAST_DAY
    for d in letters:
        age = (last - dt.date.fromisoformat(d["received_at"][:10])).days
        assert (states[d["i"]] == "registered") == (age < 15)
    stored = sum(s == "stored" for s in states.values()) / len(states)
    assert 0.2 < stored < 0.3
    assert set(states.values()) == {"registered", "stored", "accepted"}
    # a past year's batches never hold a letter awaiting a decision
    assert not any(states[d["i"]] == "registered" for d in letters if d["received_at"] < "2026")


def test_a_destruction_takes_whole_batches_the_largest_first_within_the_count():
    stored = [("B", "b1"), ("A", "a1"), ("A", "a2"), ("A", "a3"), ("C", "c1"), ("C", "c2"), ("B", "b2")]
    assert search_bench._whole_batches(stored, 5) == (["A", "B"], ["b1", "a1", "a2", "a3", "b2"])
    assert search_bench._whole_batches(stored, 4) == (["A"], ["a1", "a2", "a3"])
    # at least one batch, even when it alone is more than the count
    assert search_bench._whole_batches(stored, 1) == (["A"], ["a1", "a2", "a3"])
    # a smaller batch that still fits is taken after a larger one that does not
    assert search_bench._whole_batches(stored + [("D", "d1")], 4) == (["A", "D"], ["a1", "a2", "a3", "d1"])
    assert search_bench._whole_batches(stored, 100)[0] == ["A", "B", "C"]
