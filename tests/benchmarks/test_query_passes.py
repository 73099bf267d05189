"""benchmarks/query_passes.py (issue 19): variants parsed strictly, answers compared, and
(with a PostgreSQL server) passes of a kept search_bench database timed in processes of
their own with the same answers."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import query_passes
from tests.conftest import _pg_admin_url

ROOT = Path(query_passes.__file__).resolve().parents[1]


def test_a_variant_is_a_checkout_and_server_settings():
    v = query_passes.Variant("one=.,max_parallel_workers_per_gather=1,jit=off")
    assert (v.label, v.tree) == ("one", ROOT)
    assert v.settings == {"max_parallel_workers_per_gather": "1", "jit": "off"}
    assert "-c max_parallel_workers_per_gather=1 -c jit=off" in v.env()["PGOPTIONS"]
    assert v.env()["XINFANG_QP_TREE"] == str(ROOT)


@pytest.mark.parametrize("spec, words", [
    ("now", "LABEL=TREE"), ("=.", "LABEL=TREE"), ("now=", "LABEL=TREE"),
    ("old=/nonexistent/tree", "not a checkout"),
    ("w=.,max_parallel_workers_per_gather", "NAME=VALUE"), ("w=.,jit=off -c fsync=off", "NAME=VALUE"),
    ("w=.,a;b=1", "NAME=VALUE"),
])
def test_a_bad_variant_is_refused_with_the_form_it_should_take(spec, words):
    with pytest.raises(ValueError, match=words):
        query_passes.Variant(spec)


def test_an_answer_differs_when_its_total_page_or_facets_do():
    a = query_passes.digest(3, ["u1", "u2"], {"year": [("2024", 3)]})
    assert a == query_passes.digest(3, ["u1", "u2"], {"year": [("2024", 3)]})
    assert a != query_passes.digest(4, ["u1", "u2"], {"year": [("2024", 3)]})
    assert a != query_passes.digest(3, ["u2", "u1"], {"year": [("2024", 3)]})
    assert a != query_passes.digest(3, ["u1", "u2"], {"year": [("2024", 2)]})


def test_the_summary_takes_the_median_of_passes_and_counts_differing_answers():
    a, b = query_passes.Variant("a=."), query_passes.Variant("b=.")
    run = {"ms": [10.0] * 19 + [100.0], "hits": [10] * 19 + [300_000], "answers": ["x"] * 20}
    slow = dict(run, ms=[20.0] * 19 + [300.0])
    other = dict(run, answers=["x"] * 19 + ["y"])
    out = query_passes.summary([a, b], {"a": [run, slow, run], "b": [other, run, run]})
    assert out["a"]["answers_differing"] == 0 and out["a"]["answers_compared"] == 60
    assert out["b"]["answers_differing"] == 1
    assert out["a"]["p95_median_ms"] == out["b"]["p95_median_ms"] == 14.5   # each pass 14.5 but the slow one
    assert out["a"]["by_hits"]["200000-"] == {"queries": 1, "ms": round((100 + 300 + 100) / 3, 1)}
    assert out["a"]["by_hits"]["0-5000"]["queries"] == 19


def test_a_workdir_without_a_kept_database_is_refused(tmp_path, capsys):
    (tmp_path / "queries.json").write_text("[]")
    with pytest.raises(SystemExit) as e:
        query_passes.main([str(tmp_path)])
    assert e.value.code == 2
    assert "pg.url, pg.keyring" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [([], "holds no queries"), (["--queries", "0"], "at least 1")])
def test_a_pass_that_would_time_nothing_is_refused(tmp_path, capsys, args, words):
    for name in ("pg.url", "pg.keyring"):
        (tmp_path / name).write_text("x")
    (tmp_path / "queries.json").write_text("[]" if not args else '[["name", "王小明"]]')
    with pytest.raises(SystemExit) as e:
        query_passes.main([str(tmp_path), *args])
    assert e.value.code == 2
    assert words in capsys.readouterr().err


@pytest.mark.skipif(not _pg_admin_url(), reason="needs XINFANG_TEST_DATABASE_URL (a PostgreSQL server)")
def test_passes_of_two_variants_on_a_kept_database_give_the_same_answers(tmp_path, capsys):
    from benchmarks import search_bench
    from records.db import drop_database

    work = tmp_path / "work"
    search_bench.main(["--size", "400", "--queries", "24", "--only", "pg", "--pg-url", _pg_admin_url(),
                       "--pg-keep", "--pg-updates", "2", "--workdir", str(work)])
    name = (work / "pg.url").read_text().strip().rsplit("/", 1)[1]
    try:
        out = tmp_path / "passes.json"
        assert query_passes.main([str(work), "--passes", "2", "--variant", "two=.",
                                  "--variant", "serial=.,max_parallel_workers_per_gather=0",
                                  "--json", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "pass 2" in printed and "0 of 48" in printed
        result = json.loads(out.read_text())
        assert [len(p) for p in result["passes"].values()] == [2, 2]
        assert result["summary"]["serial"]["answers_differing"] == 0
        assert result["summary"]["serial"]["settings"] == {"max_parallel_workers_per_gather": "0"}
        assert sum(result["passes"]["two"][0]["hits"]) > 0   # the queries found letters
    finally:
        drop_database(_pg_admin_url(), name)
