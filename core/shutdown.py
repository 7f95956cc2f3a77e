"""Stopping a process's background work within a bound.

A gateway process that is told to stop must stop: a task that does not end when cancelled would
hold up the supervisor's restart (or a test's teardown) indefinitely. Nothing acknowledged is lost
by leaving it behind: a customer message stays in its inbox in Redis until it is answered, and
another process's sweep takes it up. A step that overran is logged with where it was stuck.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Coroutine, Iterable
from typing import Any

log = logging.getLogger(__name__)

STOP_SECONDS = 10.0


async def within(step: Coroutine[Any, Any, object], name: str, seconds: float = STOP_SECONDS) -> None:
    """Awaits `step` for at most `seconds`; then it is cancelled, left behind and logged."""
    await cancelled([asyncio.ensure_future(step)], name, seconds, cancel=False)


async def cancelled(
    tasks: Iterable[asyncio.Future[Any]], name: str, seconds: float = STOP_SECONDS, cancel: bool = True,
) -> None:
    """Cancels `tasks` (unless `cancel` is False) and waits at most `seconds` for them to end;
    raises the first error of one that ended with an error other than its cancellation."""
    tasks = list(tasks)
    if not tasks:
        return
    for task in tasks if cancel else ():
        task.cancel()
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        stuck = io.StringIO()
        if isinstance(task, asyncio.Task):
            task.print_stack(file=stuck)
        task.cancel()
        log.error("stopping: %s did not end within %.0f s and is left behind; %s", name, seconds, stuck.getvalue())
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
