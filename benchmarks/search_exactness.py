"""Search exactness benchmark: recall and precision against substring ground truth, for ours
(token scheme 2, on Whoosh and on PostgreSQL), the previous scheme, and SQLite FTS5 trigram,
on the same generated letters and the same queries, with the timings beside them.

    .venv/bin/python -m benchmarks.search_exactness --size 2000 --queries 320
    .venv/bin/python -m benchmarks.search_exactness --size 2000 --pg-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres

Corpus: ``benchmarks.corpus`` letters of seed 1717 (the search benchmark uses seed 7, the
tests their own letters), a third of them given one more sentence from a pool of phrases
whose Traditional form depends on the phrase (答覆, 看著, 二噁英, 乾淨, 頭髮, 瞭解, 一隻 …),
converted with OpenCC like the rest of a Traditional letter.

Queries (seed 1718, 2 to 8 characters, cut from random letters as written): a third
rewritten in the other script (OpenCC, phrase by phrase), a quarter mixing Chinese with
digits or Latin letters, digit runs cut from inside longer numbers, plain substrings, and
about a tenth altered until no letter contains them (their answer must be empty).

Ground truth: the letters whose subject or body contains the query after NFKC, case folding
and script folding (``search.variants``' classes; whitespace next to Chinese dropped),
computed here with ``str.find`` on each field, independently of the index. A second ground
truth folds by OpenCC's phrase conversion instead (letters and queries converted t2s whole):
against it, the variant fold's precision shows what merging whole classes costs, and the
character fold of scheme 1 what it misses.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from benchmarks import corpus

VARIANT_SENTENCES = (
    "请尽快给予书面答复。", "至今没有回复。", "他看着我们说等着吧。", "工厂排放二恶英。", "衣服晒干了才发现。",
    "以后再也不敢了。", "头发都愁白了。", "我们了解情况后再说。", "一只狗咬伤了孩子。", "关于此事的处理意见。",
    "这里的问题很多。", "屋里面漏水。", "于是我们又去了一趟。", "干部作风有问题。", "复印件已附后。",
    "后来我们才知道。", "发票丢失了。", "只有一次机会。", "我的住址是5号楼1301室。", "工单号2024118已受理。",
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_WS_CJK = re.compile(r"\s+(?=[\u3000-\u9fff\uff00-\uffef])|(?<=[\u3000-\u9fff\uff00-\uffef])\s+")


# -- corpus, queries, ground truth ---------------------------------------------------------
def letters(size: int, seed: int) -> list[dict]:
    r = random.Random(seed)
    out = []
    for i in range(size):
        d = corpus.letter(seed, i)
        if r.random() < 1 / 3:
            extra = r.choice(VARIANT_SENTENCES)
            d["body"] += corpus._s2t().convert(extra) if d["traditional"] else extra   # noqa: SLF001
        out.append(d)
    return out


def fold_norm(text: str) -> str:
    """The ground truth's normalisation (see the module docstring)."""
    from search.variants import fold_table

    s = unicodedata.normalize("NFKC", text).casefold().translate(fold_table())
    return re.sub(r"\s+", " ", _WS_CJK.sub("", s)).strip()


def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def phrase_norm(text: str) -> str:
    return re.sub(r"\s+", " ", _WS_CJK.sub("", _t2s().convert(unicodedata.normalize("NFKC", text).casefold())))


def truth(docs: list[dict], queries: list[tuple[str, str]], norm) -> list[set[int]]:
    fields = [(norm(d["subject"]), norm(d["body"])) for d in docs]
    out = []
    for _kind, q in queries:
        nq = norm(q)
        out.append({i for i, (s, b) in enumerate(fields) if nq in s or nq in b})
    return out


def make_queries(docs: list[dict], n: int, seed: int) -> list[tuple[str, str]]:
    r = random.Random(seed)
    s2t, t2s = corpus._s2t(), _t2s()   # noqa: SLF001
    plan = ["cross"] * (n // 3) + ["mixed"] * (n // 4) + ["digits"] * (n // 8) + ["none"] * (n // 10)
    plan += ["cjk"] * (n - len(plan))
    seen, out = set(), []
    for kind in plan:
        for _attempt in range(200):
            d = r.choice(docs)
            text = d["body"] if r.random() < .9 else d["subject"]
            q = _cut(r, text, kind)
            if q is None:
                continue
            if kind == "cross":
                q = t2s.convert(q) if d["traditional"] else s2t.convert(q)
                if fold_norm(q) != fold_norm(text[text.find(q):][:len(q)]) and _CJK.search(q) is None:
                    continue
            if kind == "none":
                q = _alter(r, q)
            if q and 2 <= len(q) <= 8 and q not in seen:
                seen.add(q)
                out.append((kind, q))
                break
    return out


def _cut(r: random.Random, text: str, kind: str) -> str | None:
    size = r.randint(2, 8)
    if kind == "digits":
        runs = [m for m in re.finditer(r"\d{4,}", text)]
        if not runs:
            return None
        m = r.choice(runs)
        size = r.randint(2, min(6, len(m.group()) - 1))
        start = r.randrange(m.start(), m.end() - size + 1)
        return text[start:start + size]
    if kind == "mixed":
        edges = [m.start() + 1 for m in re.finditer(r"(?:[\u3400-\u9fff][0-9A-Za-z])|(?:[0-9A-Za-z][\u3400-\u9fff])",
                                                   text)]
        if not edges:
            return None
        edge = r.choice(edges)
        start = max(0, edge - r.randint(1, size - 1))
        q = text[start:start + size]
    else:
        if len(text) < size:
            return None
        start = r.randrange(len(text) - size + 1)
        q = text[start:start + size]
        if kind in ("cross", "cjk") and not _CJK.search(q):
            return None
    return None if any(c.isspace() for c in q) or len(q) < 2 else q


def _alter(r: random.Random, q: str) -> str:
    """A near miss: one character replaced (a digit by another digit, else a rare character)."""
    i = r.randrange(len(q))
    c = q[i]
    new = str((int(c) + r.randint(1, 9)) % 10) if c.isdigit() else r.choice("鼴鼷齲齶龘靐齉爩")
    return q[:i] + new + q[i + 1:]


# -- systems ---------------------------------------------------------------------------------
def _metas(docs):
    from search.interface import IndexDocument

    for i, d in enumerate(docs):
        received = int(time.mktime(time.strptime(d["received_at"], "%Y-%m-%dT%H:%M")))
        yield IndexDocument(uid=f"u{i}", record_id=i + 1, serial=f"XF-{i + 1}", year=int(d["received_at"][:4]),
                            status="registered", channel=d["channel"], region=d["region"], category=d["category"],
                            office="XFB", received=received, doc_version=1, allowed=frozenset({"chief:all"}),
                            denied=frozenset())


def _text(d: dict) -> str:
    from search import analysis

    return d["subject"] + analysis.FIELD_BREAK + d["body"]


def _by_year(docs):
    """(meta, letter) pairs, grouped by year as a rebuild gives them to a bulk loader."""
    return sorted(zip(_metas(docs), docs), key=lambda md: (md[0].year, md[0].record_id))


def _ours_load(backend, docs, blinder) -> float:
    t0 = time.perf_counter()
    loader = backend.bulk_loader()
    for meta, d in _by_year(docs):
        loader.add_text(meta, _text(d), blinder)
    loader.commit()
    return time.perf_counter() - t0


def _ours_queries(backend, blinder, queries, size) -> dict:
    from search import query
    from search.interface import FACETS, Access

    access = Access(principals=frozenset({"chief:all"}))
    found, pages, times = [], [], []
    for _kind, q in queries:
        node = query.compile_query(query.parse(q), blinder, None)
        t = time.perf_counter()
        page = backend.search(node, access, per_page=20, facets=FACETS)
        times.append(time.perf_counter() - t)
        pages.append([h.record_id for h in page.hits])
        every = backend.search(node, access, per_page=size, facets=())
        found.append({h.record_id - 1 for h in every.hits})
    return {"found": found, "pages": pages, "times": times}


def run_whoosh(docs, queries, work: Path, blinder) -> dict:
    from search.whoosh.backend import WhooshBackend

    backend = WhooshBackend(work / "whoosh", blinder.key_id)
    seconds = _ours_load(backend, docs, blinder)
    out = _ours_queries(backend, blinder, queries, len(docs))
    out.update(seconds=seconds, index_bytes=backend.describe()["bytes"])
    return out


def char_t2s_table() -> dict[int, str]:
    """Scheme 1's fold: OpenCC's t2s of each character alone (no phrase, no class)."""
    import opencc

    conv = opencc.OpenCC("t2s")
    chars = [chr(c) for lo, hi in ((0x3400, 0x4DC0), (0x4E00, 0xA000)) for c in range(lo, hi)]
    return {ord(a): b for a, b in zip(chars, conv.convert("\n".join(chars)).split("\n")) if a != b and len(b) == 1}


def run_whoosh_char_fold(docs, queries, work: Path, blinder) -> dict:
    """Scheme 2's pairs with scheme 1's character fold: what the variant classes add."""
    from search import analysis

    table = char_t2s_table()
    saved = analysis.fold_table
    analysis.fold_table = lambda: table
    try:
        out = run_whoosh(docs, queries, work / "charfold", blinder)
    finally:
        analysis.fold_table = saved
    out.pop("times", None)
    return out


def run_pg(docs, queries, admin_url: str, blinder) -> dict:
    from sqlalchemy import create_engine

    from benchmarks.search_bench import _pg_database
    from search import postgres

    url, drop = _pg_database(admin_url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            postgres.create_schema(conn)
        backend = postgres.PostgresBackend(engine, blinder.key_id)
        seconds = _ours_load(backend, docs, blinder)
        out = _ours_queries(backend, blinder, queries, len(docs))
        out.update(seconds=seconds, index_bytes=backend.describe()["bytes"])
        return out
    finally:
        engine.dispose()
        drop()


def run_fts5(docs, queries, work: Path) -> dict:
    """SQLite FTS5 trigram on the ground truth's normalised subject and body (two columns,
    so no match spans them); under 3 characters a LIKE scan (a trigram cannot answer)."""
    path = work / "fts5.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(subject, body, tokenize='trigram')")
    t0 = time.perf_counter()
    db.executemany("INSERT INTO docs(rowid, subject, body) VALUES (?, ?, ?)",
                   ((i + 1, fold_norm(d["subject"]), fold_norm(d["body"])) for i, d in enumerate(docs)))
    db.commit()
    seconds = time.perf_counter() - t0
    found, times = [], []
    for _kind, q in queries:
        nq = fold_norm(q)
        t = time.perf_counter()
        if len(nq) >= 3:
            sql, args = "SELECT rowid FROM docs WHERE docs MATCH ?", ('"' + nq.replace('"', '""') + '"',)
        else:
            like = "%" + nq.replace("%", "").replace("_", "") + "%"
            sql, args = "SELECT rowid FROM docs WHERE subject LIKE ? OR body LIKE ?", (like, like)
        page = db.execute(sql + " LIMIT 20", args).fetchall()
        times.append(time.perf_counter() - t)
        del page
        found.append({row[0] - 1 for row in db.execute(sql, args)})
    db.close()
    return {"found": found, "times": times, "seconds": seconds, "index_bytes": path.stat().st_size}


def run_scheme1(docs, queries, work: Path, blinder) -> dict:
    """The previous scheme (CJK bigrams, whole words, character-by-character t2s fold, a
    lone edge character matched anywhere), re-created here for the comparison only."""
    from search.interface import Access, And, CharTerm, Phrase
    from search.whoosh.backend import WhooshBackend

    table = char_t2s_table()
    unit_re = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff]+)|([^\W_\u3400-\u4dbf\u4e00-\u9fff]+)")

    def units(text):
        norm = unicodedata.normalize("NFKC", text).casefold().translate(table)
        out = []
        for run, word in unit_re.findall(norm):
            if run:
                out.append(("char", [run]) if len(run) == 1 else ("cjk", [run[i:i + 2] for i in range(len(run) - 1)]))
            else:
                out.append(("word", [word]))
        return out, norm

    backend = WhooshBackend(work / "scheme1", blinder.key_id)
    t0 = time.perf_counter()
    loader = backend.bulk_loader()
    tokens_total = 0
    for meta, d in _by_year(docs):
        us, norm = units(d["subject"] + "\n" + d["body"])
        toks = [t for _k, ts in us for t in ts]
        tokens_total += len(toks)
        meta.text = blinder.text(toks)
        meta.chars = blinder.chars(sorted(set(_CJK.findall(norm))))
        loader.add(meta)
    loader.commit()
    seconds = time.perf_counter() - t0
    found = []
    access = Access(principals=None)
    for _kind, q in queries:
        us, _norm = units(q)
        parts = []
        if len(us) == 1 and us[0][0] == "char":
            parts.append(CharTerm(blinder.char_one(us[0][1][0])))
        else:
            edge = []
            if us and us[0][0] == "char":
                edge.append(us.pop(0)[1][0])
            if us and us[-1][0] == "char":
                edge.append(us.pop()[1][0])
            toks = [t for _k, ts in us for t in ts]
            if toks:
                parts.append(Phrase(tuple(blinder.text(toks))))
            parts += [CharTerm(blinder.char_one(c)) for c in edge]
        node = parts[0] if len(parts) == 1 else And(tuple(parts))
        found.append({h.record_id - 1 for h in backend.search(node, access, per_page=len(docs), facets=()).hits})
    return {"found": found, "seconds": seconds, "index_bytes": backend.describe()["bytes"], "tokens": tokens_total}


# -- figures ---------------------------------------------------------------------------------
def _pct(values, q):
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def quality(found: list[set[int]], gold: list[set[int]], queries, kinds=None) -> dict:
    tp = fp = fn = 0
    empty_ok = empty_total = 0
    for (kind, _q), got, want in zip(queries, found, gold):
        if kinds is not None and kind not in kinds:
            continue
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        if not want:
            empty_total += 1
            empty_ok += not got
    return {"recall": round(tp / (tp + fn), 4) if tp + fn else 1.0,
            "precision": round(tp / (tp + fp), 4) if tp + fp else 1.0,
            "missed": fn, "wrong": fp, "empty_answers": f"{empty_ok}/{empty_total}"}


def latency(times) -> dict:
    ms = [t * 1000 for t in times]
    return {"p50_ms": round(_pct(ms, .5), 2), "p95_ms": round(_pct(ms, .95), 2), "mean_ms": round(statistics.mean(ms), 2)}


def _tokens_new(docs) -> int:
    from search import analysis

    return sum(len(analysis.analyse(_text(d)).tokens) for d in docs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=2000)
    p.add_argument("--queries", type=int, default=320)
    p.add_argument("--seed", type=int, default=1717)
    p.add_argument("--pg-url", default="", help="A PostgreSQL server whose user may create databases.")
    p.add_argument("--json", action="store_true", help="Print the figures as JSON as well.")
    args = p.parse_args(argv)

    from search.blind import Blinder
    from search.variants import table_digest

    docs = letters(args.size, args.seed)
    queries = make_queries(docs, args.queries, args.seed + 1)
    gold = truth(docs, queries, fold_norm)
    gold_phrase = truth(docs, queries, phrase_norm)
    blinder = Blinder(secrets.token_bytes(32))
    kinds = {k: sum(1 for kk, _ in queries if kk == k) for k in sorted({k for k, _ in queries})}
    print(f"{len(docs)} letters, {len(queries)} queries {kinds}; {sum(1 for g in gold if not g)} with no answer; "
          f"variant table {table_digest()}", file=sys.stderr)
    results = {}
    with tempfile.TemporaryDirectory(prefix="xf-exact-") as tmp:
        work = Path(tmp)
        results["ours (Whoosh)"] = run_whoosh(docs, queries, work, blinder)
        if args.pg_url:
            results["ours (PostgreSQL)"] = run_pg(docs, queries, args.pg_url, blinder)
        results["scheme 2, character fold"] = run_whoosh_char_fold(docs, queries, work, Blinder(secrets.token_bytes(32)))
        results["scheme 1 (before)"] = run_scheme1(docs, queries, work, blinder)
        results["FTS5 trigram"] = run_fts5(docs, queries, work)
    report = {"letters": len(docs), "queries": len(queries), "kinds": kinds, "systems": {}}
    for name, r in results.items():
        row = {"quality": quality(r["found"], gold, queries),
               "by_kind": {k: quality(r["found"], gold, queries, {k}) for k in kinds},
               "against_opencc_phrases": quality(r["found"], gold_phrase, queries),
               "index_bytes": r["index_bytes"], "letters_per_s": round(len(docs) / r["seconds"], 1)}
        if "times" in r:
            row["first_page"] = latency(r["times"])
        report["systems"][name] = row
    report["tokens"] = {"scheme 2": _tokens_new(docs), "scheme 1": results["scheme 1 (before)"]["tokens"]}
    if "ours (PostgreSQL)" in results:
        w, g = results["ours (Whoosh)"], results["ours (PostgreSQL)"]
        report["backends_agree"] = {
            "same_hits": round(sum(a == b for a, b in zip(w["found"], g["found"])) / len(queries), 4),
            "same_first_page": round(sum(a == b for a, b in zip(w["pages"], g["pages"])) / len(queries), 4)}
    _print(report)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def _print(report: dict) -> None:
    print(f"\n{report['letters']} letters, {report['queries']} queries {report['kinds']}\n")
    print("| system | recall | precision | empty answers empty | letters/s | first page p50 / p95 ms | index MB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, row in report["systems"].items():
        q, lat = row["quality"], row.get("first_page")
        timing = f"{lat['p50_ms']} / {lat['p95_ms']}" if lat else ""
        print(f"| {name} | {q['recall']} | {q['precision']} | {q['empty_answers']} | {row['letters_per_s']} | "
              f"{timing} | {row['index_bytes'] / 1e6:.1f} |")
    print("\nBy kind (recall / precision):")
    for name, row in report["systems"].items():
        print(f"  {name}: " + ", ".join(f"{k} {v['recall']}/{v['precision']}" for k, v in row["by_kind"].items()))
    print("\nAgainst OpenCC's phrase conversion as ground truth (recall / precision):")
    for name, row in report["systems"].items():
        a = row["against_opencc_phrases"]
        print(f"  {name}: {a['recall']} / {a['precision']} (missed {a['missed']}, extra {a['wrong']})")
    t = report["tokens"]
    print(f"\nTokens: scheme 2 {t['scheme 2']:,}, scheme 1 {t['scheme 1']:,} "
          f"({t['scheme 2'] / t['scheme 1'] - 1:+.1%})")
    if "backends_agree" in report:
        print(f"Whoosh and PostgreSQL: same hits {report['backends_agree']['same_hits']:.1%}, "
              f"same first page {report['backends_agree']['same_first_page']:.1%}")


if __name__ == "__main__":
    sys.exit(main())
