"""A detached worker process: the web hands it work that must not run inside a request
(a destruction run, VACUUM included) and answers at once; the worker builds its own
instance with the composition root and runs the queued jobs of the given kinds.

The settings travel on the worker's standard input (pickled by this same code), not on its
command line or in its environment, so a database password never shows in ``ps``. A worker
that dies leaves its job 'running' with a stale heartbeat: the next worker, or
``xinfang jobs run`` from cron, resumes it."""
from __future__ import annotations

import logging
import pickle
import subprocess
import sys

from records.jobs import runner
from records.settings import Settings

log = logging.getLogger("xinfang.jobs")


def spawn(settings: Settings, kinds: list[str]) -> int | None:
    """Start ``python -m app.jobs.worker KIND…`` in a session of its own; returns its pid,
    or None when it could not start (the job stays queued for ``xinfang jobs run``)."""
    try:
        proc = subprocess.Popen([sys.executable, "-m", "app.jobs.worker", *kinds], stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                close_fds=True)
        proc.stdin.write(pickle.dumps(settings))
        proc.stdin.close()
        return proc.pid
    except OSError as exc:
        log.error("jobs: could not start a worker (%s); the job waits for 'xinfang jobs run'", type(exc).__name__)
        return None


def main(argv: list[str] | None = None) -> int:
    from app.composition import build_instance

    kinds = list(argv if argv is not None else sys.argv[1:]) or None
    settings = pickle.load(sys.stdin.buffer)
    if not isinstance(settings, Settings):
        return 2
    inst = build_instance(settings)
    try:
        runner.run_pending(inst, kinds=kinds)
    finally:
        inst.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
