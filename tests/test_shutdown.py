"""A stopping process does not wait forever for background work that ignores its cancellation."""

from __future__ import annotations

import asyncio
import logging

import pytest

from core.shutdown import cancelled, within


async def _ignores_cancellation(started: asyncio.Event, released: asyncio.Event) -> None:
    started.set()
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue  # the bug the bound protects against (until the test releases it)


async def test_a_step_that_ignores_cancellation_is_left_behind_and_named(caplog: pytest.LogCaptureFixture) -> None:
    started, released = asyncio.Event(), asyncio.Event()
    stubborn = asyncio.ensure_future(_ignores_cancellation(started, released))
    await started.wait()
    with caplog.at_level(logging.ERROR, logger="core.shutdown"):
        await cancelled([stubborn], "the stubborn loop", seconds=0.2)
    assert not stubborn.done()
    [record] = [r for r in caplog.records if r.name == "core.shutdown"]
    assert "the stubborn loop" in record.getMessage() and "_ignores_cancellation" in record.getMessage()
    released.set()
    await asyncio.gather(stubborn, return_exceptions=True)


async def test_a_step_that_ends_in_time_is_awaited_and_its_error_raised() -> None:
    finished: list[str] = []

    async def quick() -> None:
        finished.append("done")

    await within(quick(), "a quick step", seconds=5)
    assert finished == ["done"]

    async def broken() -> None:
        raise RuntimeError("close failed")

    with pytest.raises(RuntimeError, match="close failed"):
        await within(broken(), "a broken step", seconds=5)
