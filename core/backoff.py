"""What every retry and background loop shares: the backoff (doubling waits from `first` up
to `most` seconds), and stopping when cancelled."""

from __future__ import annotations

import asyncio

FIRST_SECONDS = 0.5
MOST_SECONDS = 5.0


class Backoff:
    def __init__(self, first: float = FIRST_SECONDS, most: float = MOST_SECONDS) -> None:
        self._first = first
        self._most = most
        self._next = first

    def next(self) -> float:
        """The wait before the next try (it doubles each time, up to `most`)."""
        delay = self._next
        self._next = min(delay * 2, self._most)
        return delay

    def reset(self) -> None:
        self._next = self._first


def stop_if_cancelled() -> None:
    """Re-raise a cancellation that a library turned into another error (redis-py can, while a
    command is in flight), so a background loop stops instead of carrying on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
