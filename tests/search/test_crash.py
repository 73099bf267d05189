"""A crash between the database commit and the index write loses nothing: the outbox keeps
the work, ``xinfang search sync`` applies it, and ``check`` passes."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from app.cli import cli
from search import indexer

from .conftest import whoosh_only, word

ROOT = Path(__file__).resolve().parents[2]


def run_killed(settings, body: str) -> subprocess.CompletedProcess:
    """Run ``body`` in a fresh Python process on this instance; it ends by SIGKILL."""
    prelude = textwrap.dedent(f"""
        import os, signal
        from records.settings import Settings
        from app.composition import build_instance
        from records.cases import operations
        from records.accounts.models import User
        from sqlalchemy import select
        from tests.conftest import letter_data
        inst = build_instance(Settings.from_env({{}}, home={str(settings.home)!r}, database_url={settings.database_url!r},
                                                search_backend={settings.search_backend!r}))
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(body)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_killed_after_commit_before_indexing(inst, settings, make_user, runner):
    clerk = make_user("clerk")
    w = word()
    result = run_killed(settings, f"""
        with inst.unit_of_work() as s:
            record = operations.register(s, letter_data(body="崩潰之前 {w}"), by=s.get(User, {clerk.id}))
        die()   # committed; the index was never told
    """)
    assert result.returncode == -signal.SIGKILL, result.stderr
    report = indexer.check(inst)
    assert not report.ok and report.missing and report.pending >= 1
    out = runner.invoke(cli, ["search", "sync"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["search", "check"])
    assert out.exit_code == 0, out.output
    assert indexer.pending(inst) == 0


@whoosh_only("kills Whoosh's segment writer; the PostgreSQL counterpart is "
             "test_pg_backend.py::test_killed_in_the_middle_of_a_table_write")
def test_killed_in_the_middle_of_an_index_write(inst, settings, make_user, make_record, runner):
    clerk = make_user("clerk")
    for i in range(3):
        make_record(by=clerk, body=f"寫到一半 {i} {word()}")
    result = run_killed(settings, """
        import whoosh.writing
        from search import indexer
        original = whoosh.writing.SegmentWriter._finalize_segment
        def crash(self):
            original(self)   # the segment's files are written, the table of contents is not
            die()
        whoosh.writing.SegmentWriter._finalize_segment = crash
        indexer.drain(inst)
    """)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert indexer.pending(inst) >= 3           # nothing was forgotten
    assert orphans(settings), "the crash should have left an unreferenced segment behind"
    out = runner.invoke(cli, ["search", "sync"])  # the locks died with the process
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["search", "check"])
    assert out.exit_code == 0, out.output
    # what the dead writer left (temporary runs, an orphan segment) is gone
    gen = settings.index_dir / (settings.index_dir / "CURRENT").read_text().strip()
    for shard in gen.iterdir():
        if shard.is_dir():
            assert not [p for p in shard.iterdir() if p.name.endswith(".tmp")]
            tocs = [p for p in shard.iterdir() if p.suffix == ".toc"]
            assert len(tocs) == 1
    assert orphans(settings) == []


def orphans(settings) -> list[str]:
    """Segment files no table of contents refers to."""
    from whoosh import index as windex

    gen = settings.index_dir / (settings.index_dir / "CURRENT").read_text().strip()
    out = []
    for shard in gen.iterdir():
        if not shard.is_dir() or not windex.exists_in(str(shard), "MAIN"):
            continue
        ix = windex.open_dir(str(shard), indexname="MAIN")
        live = {seg.segment_id() for seg in ix._read_toc().segments}
        out += [p.name for p in shard.iterdir() if p.suffix == ".seg" and p.stem not in live]
        ix.close()
    return out
