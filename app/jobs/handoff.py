"""Handing work from a request to a worker process (never running it inside the request)."""
from __future__ import annotations

from flask import current_app

from .worker import spawn

#: ``XINFANG_JOB_WORKER`` (app config): ``spawn`` (default) starts a detached worker for
#: work handed off by a request; ``off`` leaves it to ``xinfang jobs run`` (cron, a service).
WORKER_SPAWN = "spawn"


def hand_off(kinds: list[str]) -> int | None:
    """After the request's commit: start a worker for ``kinds`` unless configured off.
    Returns the worker's pid (None: none started; the queue keeps the job)."""
    if current_app.config.get("XINFANG_JOB_WORKER", WORKER_SPAWN) != WORKER_SPAWN:
        return None
    return spawn(current_app.extensions["xinfang"].settings, kinds)
