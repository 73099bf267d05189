"""The job handlers of one instance, by kind. Filled by the composition root
(``app.composition.build_instance``); a handler is ``handler(inst, ctx)``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class JobContext(Protocol):
    """What a handler sees of its job (``records.jobs.runner.Context``)."""

    job_id: int
    payload: dict
    record_id: int | None
    state: dict
    #: Who asked for it (None: the system).
    created_by_id: int | None

    def progress(self, done: int, total: int | None = None, note: str = "") -> None: ...

    def checkpoint(self, state: dict) -> None: ...


Handler = Callable[[Any, JobContext], object]


@dataclass(frozen=True)
class JobKind:
    kind: str
    handler: Handler
    max_attempts: int = 3
    #: Queued once per office day by the runner (``runner.queue_daily``), with the day in its payload.
    daily: bool = False


class JobRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(self, kind: str, handler: Handler, max_attempts: int = 3, *, daily: bool = False) -> None:
        if not kind or len(kind) > 40:
            raise ValueError("A job kind is a short name (1 to 40 characters).")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1.")
        if kind in self._kinds:
            raise ValueError(f"A handler of {kind!r} jobs is already registered.")
        self._kinds[kind] = JobKind(kind, handler, max_attempts, daily)

    def get(self, kind: str) -> JobKind | None:
        return self._kinds.get(kind)

    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    def daily(self) -> list[str]:
        """The kinds queued once per office day."""
        return sorted(k for k, spec in self._kinds.items() if spec.daily)

    def __contains__(self, kind: str) -> bool:
        return kind in self._kinds
