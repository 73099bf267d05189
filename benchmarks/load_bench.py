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

On PostgreSQL (issue 19): ``--database-url`` names a server whose user may create databases;
a database is created there for the instance (dropped after the run unless ``--home`` keeps
the instance, whose folder then remembers it, so ``--home`` alone reuses both), and
``--search-backend postgresql`` puts the blind tokens in it too. ``--indexer`` starts one
``xinfang search sync --follow`` beside the server processes, as in production, stops it
after the run and checks its log; the outbox left behind is counted. ``--indexer-only``
leaves all indexing to it (``XINFANG_INDEX_AFTER_COMMIT=0`` for the server processes).

    .venv/bin/python -m benchmarks.load_bench --records 100000 --home /var/tmp/xfload-pg --indexer
        --database-url postgresql+psycopg://postgres@127.0.0.1:55432/postgres --search-backend postgresql
        --server gunicorn --workers 2 --threads 4 --clients 32 --think 1 --seconds 60   (one line)

Targets (issue 8): zero errors and zero "database is locked" at 32 clients; p95 under
200 ms for ledger and search at 100,000 records (issue 19: the same on PostgreSQL with two
processes and the separate indexer).
"""
from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import random
import signal
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


def build_instance(home: Path, records: int, seed: int, env: dict[str, str] | None = None) -> None:
    """Create the instance, the demo users and ``records`` letters (in this process), with
    the settings ``env`` (``XINFANG_*`` variables: database, search backend)."""
    from sqlalchemy import func, select

    from records.settings import Settings
    from records.demo import add_demo_records, create_demo_users
    from app.composition import build_instance
    from records.models import Record
    from records.setup import init_instance
    from search.indexer import reindex

    settings = Settings.from_env(env or {}, home=str(home))
    started_marker = home / STARTED
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
        print(f"\r  registered {done}/{records} letters ({time.perf_counter() - started:.0f} s)", end="", flush=True)
    print()
    # Indexed once at the end, as an operator loads a bureau's letters (`xinfang search reindex`):
    # the bulk loader analyses and blinds in two processes; the outbox the registrations left
    # is applied by the rebuild.
    started = time.perf_counter()
    report = reindex(inst)   # two processes for a large build on two cores (auto_procs)
    print(f"  indexed {report.indexed} letters ({time.perf_counter() - started:.0f} s)")
    inst.close()
    (home / BUILT).write_text(str(records))


#: Written into an instance folder when its letters are all in (``--home`` reuses it then),
#: with their number: a larger ``--records`` later adds the letters missing.
BUILT = ".load-bench-built"


def needs_letters(home: Path, records: int) -> bool:
    """Is the instance in ``home`` still to be built, or built with fewer than ``records``?"""
    built = home / BUILT
    return not built.exists() or int(built.read_text() or 0) < records
#: Written into an instance folder once it exists (a build interrupted later goes on).
STARTED = ".load-bench-started"


def issue_tokens(home: Path, env: dict[str, str] | None = None) -> tuple[dict[str, str], list[str], int]:
    """API tokens of a clerk and the chief for this run, serials to view, letters held."""
    from sqlalchemy import func, select

    from records.accounts import operations as accounts
    from records.accounts import totp
    from records.settings import Settings
    from app.composition import build_instance
    from records.models import Record

    inst = build_instance(Settings.from_env(env or {}, home=str(home)))
    with inst.unit_of_work() as s:
        users = {name: accounts.get_user(s, name) for name in ("clerk", "chief")}
        for user in users.values():   # a role that reads letters needs its second factor for a token
            if totp.required_for(user) and not totp.is_enrolled(s, user):
                secret, _uri = totp.begin_enrolment(s, user)
                totp.confirm_enrolment(s, user, totp.current_code(secret))
        tokens = {name: accounts.issue_token(s, user, label="load benchmark", days=1) for name, user in users.items()}
        serials = list(s.execute(select(Record.serial).order_by(Record.id.desc()).limit(500)).scalars())
        held = s.execute(select(func.count()).select_from(Record)).scalar_one()
    inst.close()
    return tokens, serials, held


#: Written into an instance folder: the settings it was built with (database, search backend).
SETTINGS_FILE = ".load-bench-settings.json"


def instance_env(home: Path, database_url: str | None, search_backend: str | None) -> tuple[dict[str, str], str | None]:
    """The ``XINFANG_*`` settings of the instance in ``home`` and the name of a database
    created for it now (None when it has one already or uses SQLite).

    A new instance remembers its settings in ``home``; reusing it with other ones is refused.
    With ``database_url`` (a server whose user may create databases) a new database is
    created there for the instance."""
    from records.db import create_database

    saved = home / SETTINGS_FILE
    if saved.exists():
        env = json.loads(saved.read_text())
        wanted = {"XINFANG_SEARCH_BACKEND": search_backend}
        clash = [k for k, v in wanted.items() if v and env.get(k, "whoosh") != v]
        if clash or (database_url and not env.get("XINFANG_DATABASE_URL")):
            raise SystemExit(f"{home} was built with {env or 'SQLite and Whoosh'}; leave out --database-url and "
                             "--search-backend to reuse it, or build in another --home")
        return env, None
    if (home / STARTED).exists():   # built before instances remembered their settings: SQLite, Whoosh
        if database_url or (search_backend or "whoosh") != "whoosh":
            raise SystemExit(f"{home} holds an instance on SQLite and Whoosh; build in another --home")
        return {}, None
    env = {"XINFANG_SEARCH_BACKEND": search_backend or "whoosh"}
    created = None
    if database_url:
        created, env["XINFANG_DATABASE_URL"] = create_database(database_url, "xinfang_load_")
    home.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(env))
    saved.chmod(0o600)
    return env, created


def process_env(environ: dict[str, str], settings_env: dict[str, str], home: Path, *,
                index_after_commit: bool = True) -> dict[str, str]:
    """The environment of the server and indexer processes: this one's without any
    ``XINFANG_*`` variable, then the instance's settings (read there by records.settings),
    and ``XINFANG_INDEX_AFTER_COMMIT=0`` when the indexer alone indexes."""
    return ({k: v for k, v in environ.items() if not k.startswith("XINFANG_")}
            | settings_env | {"XINFANG_HOME": str(home)}
            | ({} if index_after_commit else {"XINFANG_INDEX_AFTER_COMMIT": "0"}))


def indexer_command() -> list[str]:
    """The separate indexer of a production layout (README, "Indexer")."""
    return [XINFANG, "search", "sync", "--follow"]


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

        # letters received the day before (a fixed date would be refused a year later: old received dates
        # need the clerk's confirmation, records.cases.received)
        received_at = (datetime.date.today() - datetime.timedelta(days=1)).isoformat() + "T10:00"

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
                                                letter_data(received_at=received_at))
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


def parse_args(argv=None) -> argparse.Namespace:
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
    ap.add_argument("--database-url",
                    help="PostgreSQL server (a URL whose user may create databases): the new instance's database "
                         "is created there (dropped after the run without --home)")
    ap.add_argument("--search-backend", choices=("whoosh", "postgresql"),
                    help="XINFANG_SEARCH_BACKEND of a new instance (default whoosh)")
    ap.add_argument("--indexer", action="store_true",
                    help="run a separate indexer (xinfang search sync --follow) beside the server, as in production")
    ap.add_argument("--indexer-only", action="store_true",
                    help="with --indexer: the server processes leave all indexing to it "
                         "(XINFANG_INDEX_AFTER_COMMIT=0), as a production layout with the indexer may")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.indexer_only and not args.indexer:
        ap.error("--indexer-only needs --indexer (without it nothing would index the registrations)")
    return args


def wait_until_ready(port: int, log_path: Path, processes: int, timeout: float = 300) -> float:
    """Wait until the server answers ``/healthz`` and each of its ``processes`` has said
    "search: warmed up" (or failed to) in its log: a worker still importing the app takes no
    connections, so traffic sent before would wait for it. Returns the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        if text.count("search: warm") >= processes:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return time.perf_counter() - began
            except (OSError, http.client.HTTPException):
                pass
            finally:
                conn.close()
        time.sleep(0.2)
    raise SystemExit(f"the server did not get ready in {timeout:g} s (see {log_path})")


#: /proc/stat's CPU states, in its order (the first eight columns).
CPU_STATES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def machine_cpu() -> list[int] | None:
    """The machine's CPU time so far in each of ``CPU_STATES``, in clock ticks (None off Linux)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            return [int(x) for x in f.readline().split()[1:1 + len(CPU_STATES)]]
    except (OSError, ValueError):
        return None


def cpu_line(before: list[int] | None, after: list[int] | None, seconds: float) -> str:
    """How the machine's cores were spent between two ``machine_cpu`` readings: busy (everything
    but idle, I/O wait and steal), idle, and steal (time a virtual machine's host gave to
    another guest: a busy neighbour, which lengthens every request). Said plainly when unknown."""
    if before is None or after is None or seconds <= 0:
        return "machine CPU: not measured (no /proc/stat)"
    tick = os.sysconf("SC_CLK_TCK")
    used = dict(zip(CPU_STATES, ((b - a) / tick / seconds for a, b in zip(before, after))))
    busy = sum(v for k, v in used.items() if k not in ("idle", "iowait", "steal"))
    return (f"machine CPU in the measured {seconds:.0f} s, in cores of {os.cpu_count()}: busy {busy:.2f} "
            f"(user {used['user']:.2f}, system {used['system']:.2f}), idle {used['idle']:.2f}, "
            f"I/O wait {used['iowait']:.2f}, steal {used['steal']:.2f}")


def run_traffic(args, home: Path, env: dict[str, str], tokens: dict[str, str], serials: list[str]) -> tuple:
    """Start the server (and the indexer), drive it, stop them: (results, warm-up results,
    seconds, the machine's CPU line over the measured seconds)."""
    port = _free_port()
    log = open(home / "server.log", "w")
    server = subprocess.Popen(server_command(args, port), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    indexer = indexer_log = None
    if args.indexer:
        indexer_log = open(home / "indexer.log", "w")
        indexer = subprocess.Popen(indexer_command(), env=env, stdout=indexer_log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        ready = wait_until_ready(port, home / "server.log", args.workers if args.server == "gunicorn" else 1)
        print(f"server ready after {ready:.0f} s")
        results: list = []
        started = time.perf_counter() + args.warmup
        until = started + args.seconds
        queries = wide_queries(args.seed) if args.queries == "wide" else QUERIES
        clients = [Client(port, tokens, until, args.seed + i, results, serials, args.think, queries)
                   for i in range(args.clients)]
        for c in clients:
            c.start()
        time.sleep(max(0.0, started - time.perf_counter()))
        cpu_before = machine_cpu()
        for c in clients:
            c.join()
        elapsed = time.perf_counter() - started
        cpu = cpu_line(cpu_before, machine_cpu(), elapsed)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        if indexer is not None:
            time.sleep(2)   # a last drain of what the server processes left
            indexer.send_signal(signal.SIGINT)   # "Stopped." (KeyboardInterrupt), as Ctrl-C
            try:
                indexer.wait(timeout=60)
            except subprocess.TimeoutExpired:
                indexer.kill()
                indexer.wait()
            indexer_log.close()
    return [r for r in results if r[3] >= started], [r for r in results if r[3] < started], elapsed, cpu


def log_problems(text: str) -> int:
    """Lines of a process log that report a failure (tracebacks, errors)."""
    return sum(1 for line in text.splitlines() if "Traceback" in line or "ERROR" in line or " failed" in line)


def pending_changes(home: Path, env: dict[str, str]) -> int:
    """Outbox rows not yet applied to the index."""
    from sqlalchemy import func, select

    from app.composition import build_instance
    from records.models import OutboxEntry
    from records.settings import Settings

    inst = build_instance(Settings.from_env(env, home=str(home)))
    with inst.session() as s:
        pending = s.execute(select(func.count()).select_from(OutboxEntry)).scalar_one()
    inst.close()
    return pending


def report(args, results: list, warmup: list, elapsed: float, held: int, home: Path, settings_env: dict,
           cpu: str = "") -> int:
    locked = (home / "server.log").read_text(errors="replace").count("database is locked")
    errors = [r for r in results + warmup if r[1] == 0 or r[1] >= 500]
    shape = (f"gunicorn {args.workers} workers x {args.threads} threads" if args.server == "gunicorn"
             else f"waitress, {args.threads} threads")
    database = "PostgreSQL" if settings_env.get("XINFANG_DATABASE_URL") else "SQLite"
    backend = settings_env.get("XINFANG_SEARCH_BACKEND") or "whoosh"
    print(f"\n{len(results)} requests in {elapsed:.1f} s = {len(results) / elapsed:.1f} req/s, "
          f"{args.clients} clients (think {args.think:g} s), {shape}{' + indexer' if args.indexer else ''}"
          f"{' (indexing left to it)' if args.indexer_only else ''}, "
          f"{held} letters, {database}, search {backend}, {args.queries} queries")
    if warmup:
        times = [r[2] for r in warmup]
        print(f"warm-up, not counted below: {len(warmup)} requests in {args.warmup:g} s, p50 {pct(times, 50):.0f} ms, "
              f"p95 {pct(times, 95):.0f} ms, p99 {pct(times, 99):.0f} ms, "
              f"errors {sum(1 for r in warmup if r[1] == 0 or r[1] >= 500)}")
    print(f"errors (5xx or connection): {len(errors)}; 'database is locked' in the server log: {locked}")
    if cpu:
        print(cpu)
    failed = 0
    if args.indexer:
        failed = log_problems((home / "indexer.log").read_text(errors="replace"))
        print(f"indexer: {failed} error lines in indexer.log; changes still pending in the outbox: "
              f"{pending_changes(home, settings_env)}")
    print(f"{'kind':<10}{'count':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}  statuses")
    for kind in ("register", "ledger", "search", "view"):
        times = [r[2] for r in results if r[0] == kind]
        statuses = sorted({r[1] for r in results if r[0] == kind})
        print(f"{kind:<10}{len(times):>8}{pct(times, 50):>10.1f}{pct(times, 95):>10.1f}{pct(times, 99):>10.1f}  {statuses}")
    return 1 if errors or locked or failed else 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.server == "gunicorn" and not Path(server_command(args, 0)[0]).exists():   # before a long build
        print("gunicorn is not installed in this environment: .venv/bin/pip install -e '.[gunicorn]'",
              file=sys.stderr)
        return 2
    home = args.home.resolve() if args.home else Path(tempfile.mkdtemp(prefix="xinfang-load-"))
    settings_env, created = instance_env(home, args.database_url, args.search_backend)
    try:
        if needs_letters(home, args.records):
            print(f"Instance {home}: building {args.records} letters ({settings_env or 'SQLite, Whoosh'})")
            build_instance(home, args.records, args.seed, settings_env)
        tokens, serials, held = issue_tokens(home, settings_env)
        env = process_env(dict(os.environ), settings_env, home, index_after_commit=not args.indexer_only)
        results, warmup, elapsed, cpu = run_traffic(args, home, env, tokens, serials)
        return report(args, results, warmup, elapsed, held, home, settings_env, cpu)
    finally:
        if created and not args.home:   # a throw-away instance: its database goes with the run
            from records.db import drop_database

            drop_database(args.database_url, created)


if __name__ == "__main__":
    sys.exit(main())
