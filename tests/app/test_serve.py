"""Production serving (app/serve.py): the JSON request log, and the deployment shape of
the README — two `xinfang serve` processes and one `xinfang search sync --follow`
indexer on one instance — keeping serials gap-free and the index in step.

On PostgreSQL when XINFANG_TEST_DATABASE_URL is set, on SQLite otherwise."""
from __future__ import annotations

import io
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.serve import JsonFormatter, RequestLog, configure_logging, install_request_log
from tests.conftest import api_letter, letter_data, login

CANARY_QUERY = "機密查詢詞"


@pytest.fixture(scope="module")
def logged_app(settings):
    from app import create_app

    application = create_app({"XINFANG_SETTINGS": settings, "TESTING": True, "SECRET_KEY": "serve-test",
                              "WTF_CSRF_ENABLED": False})
    install_request_log(application)
    yield application
    application.extensions["xinfang"].close()


@pytest.fixture
def log_lines():
    """Every log record as parsed JSON, through the formatter production uses."""
    stream = io.StringIO()
    configure_logging(stream)
    lines: list[dict] = []

    def read() -> list[dict]:
        lines[:] = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
        return lines

    yield read
    import logging

    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "xinfang_json", False):
            root.removeHandler(h)


def requests_in(lines: list[dict]) -> list[dict]:
    return [entry for entry in lines if entry.get("logger") == "xinfang.request"]


def test_one_line_per_request_without_query_string_or_body(logged_app, log_lines, make_user, api_token):
    client = logged_app.test_client()
    clerk = make_user("clerk")
    token = api_token(clerk)
    body = api_letter(subject=f"{CANARY_QUERY} 主題")
    # The line is written when the server closes the response, as a WSGI server does.
    client.get(f"/login?next=/ledger&q={CANARY_QUERY}").close()
    login(client, clerk.username).close()
    client.get(f"/ledger?region=110108&q={CANARY_QUERY}").close()
    r = client.post("/api/v1/records", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    r.close()
    client.get("/api/v1/records", headers={"Authorization": "Bearer wrong"}).close()

    lines = log_lines()
    reqs = requests_in(lines)
    assert [(e["method"], e["path"], e["status"]) for e in reqs] == [
        ("GET", "/login", 200), ("POST", "/login", 302), ("GET", "/ledger", 200),
        ("POST", "/api/v1/records", 201), ("GET", "/api/v1/records", 401)]
    assert [e["user_id"] for e in reqs] == [None, clerk.id, clerk.id, clerk.id, None]
    for e in reqs:
        assert set(e) == {"ts", "level", "logger", "msg", "method", "path", "status", "duration_ms", "user_id"}
        assert isinstance(e["duration_ms"], float) and e["duration_ms"] >= 0
    everything = json.dumps(lines, ensure_ascii=False)
    for secret in (CANARY_QUERY, body["body"], body["petitioner"]["name"], token, "?"):
        assert secret not in everything


def test_a_crash_is_logged_as_500_by_type_only(log_lines):
    def broken(environ, start_response):
        raise RuntimeError("王小明 110108199001011231")

    import logging

    app = RequestLog(broken)
    with pytest.raises(RuntimeError):
        app({"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "QUERY_STRING": "q=1"}, lambda *a: None)
    try:
        raise ValueError("王小明")
    except ValueError:
        logging.getLogger("xinfang.web").exception("unhandled")
    lines = log_lines()
    assert requests_in(lines)[0]["status"] == 500 and requests_in(lines)[0]["path"] == "/x"
    assert lines[-1]["exc_type"] == "ValueError"
    assert "王小明" not in json.dumps(lines, ensure_ascii=False)
    assert JsonFormatter().format(logging.makeLogRecord({"msg": "a", "levelname": "INFO"})).startswith("{")


# -- the deployment shape: two app processes and one indexer ----------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    if body is not None:
        req.data = json.dumps(body).encode()
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _wait_healthy(base: str, proc: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{base} exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{base} did not become healthy: {log_path.read_text()[-2000:]}")


@pytest.mark.slow
def test_two_app_processes_and_an_indexer_keep_serials_and_index_in_step(settings, make_user, api_token,
                                                                         tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("XINFANG_")}
    env.update(XINFANG_HOME=str(settings.home), XINFANG_DATABASE_URL=settings.database_url,
               XINFANG_SECRET_KEY=secrets.token_urlsafe(32), PYTHONUNBUFFERED="1")
    xinfang = [sys.executable, "-m", "app"]
    clerk, chief = make_user("clerk"), make_user("chief")
    clerk_token, chief_token = api_token(clerk), api_token(chief)

    procs: list[tuple[subprocess.Popen, object]] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = tmp_path / f"{name}.log"
        fh = open(log, "w")
        proc = subprocess.Popen([*xinfang, *args], env=env, stdout=fh, stderr=subprocess.STDOUT)
        procs.append((proc, fh))
        return proc

    marker = "idx" + secrets.token_hex(4)
    per_process = 8
    try:
        bases = []
        for n in range(2):
            port = _free_port()
            proc = start(f"app{n}", "serve", "--host", "127.0.0.1", "--port", str(port), "--threads", "4")
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base, proc, tmp_path / f"app{n}.log")
            bases.append(base)
        indexer = start("indexer", "search", "sync", "--follow", "--interval", "0.2")

        def register(job: tuple[int, int]) -> str:
            n, i = job
            status, body = _call(f"{bases[n]}/api/v1/records", clerk_token,
                                 letter_data(received_at="2024-05-06T10:00", subject=f"部署測試 {marker} {n}-{i}",
                                             body=f"兩個應用進程同時登記 {marker}",
                                             confirm_old_received_date=True))
            assert status == 201, body
            return body["serial"]

        with ThreadPoolExecutor(max_workers=6) as pool:
            serials = list(pool.map(register, [(n, i) for n in range(2) for i in range(per_process)]))
        total = 2 * per_process
        assert sorted(serials) == [f"XF-2024-{k:06d}" for k in range(1, total + 1)]

        # The indexer (or the processes themselves, after each commit) brings the index in step.
        deadline = time.monotonic() + 60
        while True:
            status, found = _call(f"{bases[1]}/api/v1/search?q={marker}&per_page=50", chief_token)
            assert status == 200, found
            if found["total"] == total or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert sorted(h["serial"] for h in found["hits"]) == sorted(serials)
        assert indexer.poll() is None, (tmp_path / "indexer.log").read_text()
        check = subprocess.run([*xinfang, "search", "check"], env=env, capture_output=True, text=True, timeout=120)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "agree" in check.stdout
    finally:
        for proc, _fh in procs:
            proc.terminate()
        for proc, fh in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            fh.close()

    # Each app process logged its requests as JSON lines, and nothing a petitioner wrote.
    for n in range(2):
        text = (tmp_path / f"app{n}.log").read_text()
        entries = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        reqs = requests_in(entries)
        assert sum(1 for e in reqs if e["path"] == "/api/v1/records" and e["status"] == 201) == per_process
        settled = [e for e in entries if e.get("msg") == "memory: settled"]
        assert settled and settled[0]["when"] == "app ready" and all(e["frozen"] > 10_000 for e in settled)
        assert all(e["user_id"] in (clerk.id, chief.id, None) for e in reqs)
        assert marker not in text and "兩個應用進程" not in text and letter_data()["petitioner"]["name"] not in text


def test_development_server_log_loses_query_strings(monkeypatch, tmp_path):
    """`xinfang run` (Werkzeug's server) logs whole request lines; the CLI's app factory
    installs a filter that cuts their query strings."""
    import logging

    from app.cli import _create_app
    from app.serve import HideQueryStrings

    logger = logging.getLogger("werkzeug")
    for f in list(logger.filters):
        monkeypatch.setattr(logger, "filters", [x for x in logger.filters if x is not f])
    monkeypatch.setenv("XINFANG_HOME", str(tmp_path))
    monkeypatch.setenv("XINFANG_SECRET_KEY", "test")
    _create_app()
    _create_app()
    ours = [f for f in logger.filters if isinstance(f, HideQueryStrings)]
    assert len(ours) == 1
    record = logging.makeLogRecord({"name": "werkzeug", "msg": '"%s" %s %s',
                                    "args": (f"GET /search?q={CANARY_QUERY}&page=2 HTTP/1.1", "200", "-")})
    assert ours[0].filter(record)
    assert record.getMessage() == '"GET /search HTTP/1.1" 200 -'


def test_settling_memory_freezes_what_the_process_holds_and_says_so(log_lines):
    import gc

    from app.serve import settle_memory

    before = gc.get_freeze_count()
    try:
        settle_memory("test")
        assert gc.get_freeze_count() > before
        assert [e for e in log_lines() if e["msg"] == "memory: settled" and e["when"] == "test"
                and e["frozen"] > before]
    finally:
        gc.unfreeze()   # this test process goes on creating and dropping apps


def test_the_production_app_settles_its_memory_and_names_who_indexes(settings, log_lines, monkeypatch, capsys):
    import gc
    import threading

    from app.serve import create_production_app

    for name, value in (("XINFANG_HOME", str(settings.home)), ("XINFANG_DATABASE_URL", settings.database_url),
                        ("XINFANG_SECRET_KEY", "serve-test"), ("XINFANG_INDEX_AFTER_COMMIT", "0")):
        monkeypatch.setenv(name, value)
    app = create_production_app()
    try:
        for thread in threading.enumerate():
            if thread.name == "xinfang-warm-search":
                thread.join(60)
        logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        messages = [(e["msg"], e.get("when")) for e in logged]   # on stdout, as production logs
        assert ("memory: settled", "app ready") in messages and ("memory: settled", "search warmed up") in messages
        assert any(m.startswith("search: changes are left to the separate indexer") for m, _ in messages)
        assert app.extensions["xinfang"].settings.index_after_commit is False
    finally:
        app.extensions["xinfang"].close()
        gc.unfreeze()


def test_warming_the_search_index_is_logged_and_fills_the_segment_cache(logged_app, log_lines, make_user,
                                                                         make_record):
    from app.serve import warm_search
    from search.indexer import drain, service

    make_record(by=make_user("clerk"), body="路燈不亮，夜間出行不便。")
    drain(logged_app.extensions["xinfang"])
    backend = service(logged_app.extensions["xinfang"]).backend
    if not hasattr(backend, "_cache"):
        pytest.skip("the PostgreSQL search backend keeps nothing in the process")
    backend._cache.clear()
    warm_search(logged_app)
    assert [e for e in log_lines() if e["msg"] == "search: warmed up"]
    assert {key[1] for key in backend._cache._items} >= {"len", "col", "codes"}
