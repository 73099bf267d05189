"""Load benchmark: the production server under mixed traffic from a second process.

Builds an instance with N letters (or reuses one built earlier with ``--home``), starts the
production server on a free loopback port — ``xinfang serve`` (waitress, one process,
threads) or gunicorn (``--server gunicorn --workers 2``, processes) — and drives it from
this process with C concurrent clients for a bounded time: register (POST /api/v1/records),
ledger (GET /api/v1/records), search (GET /api/v1/search) and record view
(GET /api/v1/records/<serial>), through the JSON API with bearer tokens. Prints requests/s,
p50/p95/p99 per kind (client side, so time spent queueing in the server counts), the error
count and how often the server log says "database is locked". Traffic goes to 127.0.0.1
only and stops by itself.

Each client is one member of staff: it sends a request, reads the answer, then pauses for
a think time drawn from an exponential distribution of mean ``--think`` seconds (0: no pause
at all, a saturation test whose latency is mostly queueing: by Little's law the mean
latency is then clients / throughput, whatever the server does).

The first ``--warmup`` seconds (10) of the same traffic are reported on a line of their own
and left out of the table: a server process fills its caches then (each thread's searcher,
the arrays of the index's segments). Searches ask eight frequent words again and again
(``--queries common``) or 2,000 queries of one or two of ~80 phrases of the demo letters,
mostly new to the server (``--queries wide``).

    .venv/bin/python -m benchmarks.load_bench --records 2000 --clients 32 --seconds 30
    .venv/bin/python -m benchmarks.load_bench --records 100000 --home /var/tmp/xf100k --clients 32 --seconds 60
    .venv/bin/python -m benchmarks.load_bench --home /var/tmp/xf100k --clients 32 --think 0   # saturation
    .venv/bin/python -m benchmarks.load_bench --home /var/tmp/xf100k --server gunicorn --queries wide

Targets (issue 8): zero errors and zero "database is locked" at 32 clients; p95 under
200 ms for ledger and search at 100,000 records.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
XINFANG = str(Path(sys.executable).with_name("xinfang"))
QUERIES = ("拖欠工資", "工资", "社保", "欠薪", "養老保險", "勞動合同", "工傷", "公司")


def wide_queries(seed: int, count: int = 2000) -> list[str]:
    """``count`` queries of one or two phrases (both must match) drawn from about 80
    phrases of the demo letters: most are met for the first time in a run."""
    from records.demo import topics as demo

    words = sorted(set(QUERIES) | set(demo.EVIDENCE) | set(demo.MED_EVIDENCE) | set(demo.PRETEXTS)
                   | set(demo.BUSINESSES) | set(demo.PROJECTS) | set(demo.FACTORIES)
                   | {name for _province, name in demo.PROVINCES})
    rng = random.Random(seed)
    return [" ".join(rng.sample(words, rng.choice((1, 2)))) for _ in range(count)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_instance(home: Path, records: int, seed: int) -> None:
    """Create the instance, the demo users and ``records`` letters (in this process)."""
    from sqlalchemy import func, select

    from records.settings import Settings
    from records.demo import add_demo_records, create_demo_users
    from app.composition import build_instance
    from records.models import Record
    from records.setup import init_instance
    from search.indexer import drain

    settings = Settings.from_env({}, home=str(home))
    started_marker = home / ".load-bench-started"
    if not started_marker.exists():
        init_instance(settings, build=build_instance)
        inst = build_instance(settings)
        with inst.unit_of_work() as s:
            create_demo_users(s)
        started_marker.write_text("")
        done = 0
    else:   # a build that was interrupted goes on where it stopped
        inst = build_instance(settings)
        with inst.session() as s:
            done = s.execute(select(func.count()).select_from(Record)).scalar_one()
    started = time.perf_counter()
    while done < records:
        step = min(500, records - done)
        with inst.unit_of_work() as s:
            add_demo_records(s, step, seed=seed + done)
        done += step
        drain(inst)
        print(f"\r  registered {done}/{records} letters ({time.perf_counter() - started:.0f} s)", end="", flush=True)
    print()
    inst.close()
    (home / BUILT).write_text(str(records))


#: Written into an instance folder when its letters are all in (``--home`` reuses it then).
BUILT = ".load-bench-built"


def issue_tokens(home: Path) -> tuple[dict[str, str], list[str], int]:
    """API tokens of a clerk and the chief for this run, serials to view, letters held."""
    from sqlalchemy import func, select

    from records.accounts import operations as accounts
    from records.settings import Settings
    from app.composition import build_instance
    from records.models import Record

    inst = build_instance(Settings.from_env({}, home=str(home)))
    with inst.unit_of_work() as s:
        tokens = {name: accounts.issue_token(s, accounts.get_user(s, name), label="load benchmark", days=1)
                  for name in ("clerk", "chief")}
        serials = list(s.execute(select(Record.serial).order_by(Record.id.desc()).limit(500)).scalars())
        held = s.execute(select(func.count()).select_from(Record)).scalar_one()
    inst.close()
    return tokens, serials, held


def server_command(args, port: int) -> list[str]:
    if args.server == "gunicorn":
        return [str(Path(sys.executable).with_name("gunicorn")), "-k", "gthread", "-w", str(args.workers),
                "--threads", str(args.threads), "-b", f"127.0.0.1:{port}", "--access-logfile", "/dev/null",
                "--keep-alive", "30",
                "app.serve:create_production_app()"]
    return [XINFANG, "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", str(args.threads)]


class Client(threading.Thread):
    def __init__(self, port: int, tokens: dict[str, str], until: float, seed: int, results: list, serials: list,
                 think: float = 0.0, queries: list[str] | tuple[str, ...] = QUERIES):
        super().__init__(daemon=True)
        self.queries = queries
        self.port, self.tokens, self.until, self.think = port, tokens, until, think
        self.rng = random.Random(seed)
        self.results, self.serials = results, serials

    def _request(self, conn, kind: str, method: str, path: str, token: str, body: dict | None = None):
        headers = {"Authorization": f"Bearer {token}"}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        for _attempt in (1, 2):
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed a kept-alive connection while this client was thinking,
                # before reading the request: open a new one and send it again (once)
                conn.close()
                status, payload = 0, b""
            except (OSError, http.client.HTTPException):
                status, payload = 0, b""
                conn.close()
                break
        self.results.append((kind, status, (time.perf_counter() - t0) * 1000, t0))
        return status, payload

    def run(self) -> None:
        from urllib.parse import quote

        from tests.conftest import letter_data

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        if self.think:  # staff do not all start at the same instant
            time.sleep(self.rng.uniform(0, self.think))
        while time.perf_counter() < self.until:
            if self.think:
                time.sleep(min(self.rng.expovariate(1 / self.think), max(0.0, self.until - time.perf_counter())))
                if time.perf_counter() >= self.until:
                    break
            roll = self.rng.random()
            if roll < 0.15:
                status, payload = self._request(conn, "register", "POST", "/api/v1/records", self.tokens["clerk"],
                                                letter_data(received_at="2026-03-02T10:00"))
                if status == 201:
                    self.serials.append(json.loads(payload)["serial"])
            elif roll < 0.45:
                page = self.rng.randint(1, 20)
                self._request(conn, "ledger", "GET", f"/api/v1/records?page={page}&per_page=25", self.tokens["chief"])
            elif roll < 0.75:
                q = quote(self.rng.choice(self.queries))
                self._request(conn, "search", "GET", f"/api/v1/search?q={q}", self.tokens["chief"])
            elif self.serials:
                serial = self.rng.choice(self.serials)
                self._request(conn, "view", "GET", f"/api/v1/records/{serial}", self.tokens["chief"])
        conn.close()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2000, help="letters in the instance before the run")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients")
    ap.add_argument("--seconds", type=float, default=30, help="how long the traffic runs")
    ap.add_argument("--threads", type=int, default=8, help="threads per server process")
    ap.add_argument("--server", choices=("waitress", "gunicorn"), default="waitress",
                    help="xinfang serve (waitress, one process) or gunicorn (gthread workers)")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    ap.add_argument("--think", type=float, default=1.0,
                    help="mean pause of a client between requests, seconds (0: saturation test)")
    ap.add_argument("--warmup", type=float, default=10,
                    help="seconds of the same traffic first, reported apart (a server process fills its "
                         "caches then: searchers of each thread, segment arrays, phrase matches)")
    ap.add_argument("--queries", choices=("common", "wide"), default="common",
                    help="common: 8 frequent words, asked again and again; wide: 2,000 queries of one or "
                         "two of ~80 phrases, mostly new to the server")
    ap.add_argument("--home", type=Path, help="instance folder to reuse (built there first when empty)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    home = args.home.resolve() if args.home else Path(tempfile.mkdtemp(prefix="xinfang-load-"))
    if not (home / BUILT).exists():
        home.mkdir(parents=True, exist_ok=True)
        print(f"Instance {home}: building {args.records} letters")
        build_instance(home, args.records, args.seed)
    tokens, serials, held = issue_tokens(home)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINFANG_")} | {"XINFANG_HOME": str(home)}
    log = open(home / "server.log", "w")
    server = subprocess.Popen(server_command(args, port), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        results: list = []
        begun = time.perf_counter()
        started = begun + args.warmup
        until = started + args.seconds
        queries = wide_queries(args.seed) if args.queries == "wide" else QUERIES
        clients = [Client(port, tokens, until, args.seed + i, results, serials, args.think, queries)
                   for i in range(args.clients)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.perf_counter() - started
        warmup = [r for r in results if r[3] < started]
        results = [r for r in results if r[3] >= started]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    locked = (home / "server.log").read_text(errors="replace").count("database is locked")
    errors = [r for r in results + warmup if r[1] == 0 or r[1] >= 500]
    shape = (f"gunicorn {args.workers} workers x {args.threads} threads" if args.server == "gunicorn"
             else f"waitress, {args.threads} threads")
    print(f"\n{len(results)} requests in {elapsed:.1f} s = {len(results) / elapsed:.1f} req/s, "
          f"{args.clients} clients (think {args.think:g} s), {shape}, {held} letters, {args.queries} queries")
    if warmup:
        times = [r[2] for r in warmup]
        print(f"warm-up, not counted below: {len(warmup)} requests in {args.warmup:g} s, p50 {pct(times, 50):.0f} ms, "
              f"p95 {pct(times, 95):.0f} ms, p99 {pct(times, 99):.0f} ms, "
              f"errors {sum(1 for r in warmup if r[1] == 0 or r[1] >= 500)}")
    print(f"errors (5xx or connection): {len(errors)}; 'database is locked' in the server log: {locked}")
    print(f"{'kind':<10}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}  statuses")
    for kind in ("register", "ledger", "search", "view"):
        times = [r[2] for r in results if r[0] == kind]
        statuses = sorted({r[1] for r in results if r[0] == kind})
        print(f"{kind:<10}{len(times):>8}{pct(times, 50):>10.1f}{pct(times, 95):>10.1f}{pct(times, 99):>10.1f}  {statuses}")
    return 1 if errors or locked else 0


if __name__ == "__main__":
    sys.exit(main())
