"""What a channel unit is built with, and the answers every provider webhook shares."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from redis.asyncio import Redis

from bot.contacts import Contacts
from bot.intake import Intake
from bot.limits import AddressLimits
from bot.metrics import Metrics
from bot.transcript import Transcript
from core.backoff import Backoff
from core.contract import Delivery, DeliveryFailed

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ChannelParts:
    """The gateway's collaborators a channel unit may use (handed in when it is built)."""

    redis: Redis
    intake: Intake
    delivery: Delivery
    contacts: Contacts
    transcript: Transcript
    metrics: Metrics
    addresses: AddressLimits  # limits per client address (channels that know one: web chat)


class Malformed(ValueError):
    """A provider request that does not have the shape the provider documents (HTTP 400)."""


def server_error(metrics: Metrics, kind: str, exc: BaseException) -> web.HTTPInternalServerError:
    """A webhook whose message could not be taken: the provider retries a 5xx, and nothing of
    the message was kept, so the retry is not mistaken for a duplicate."""
    metrics.errors.labels(kind).inc()
    # Only the type: database errors carry the SQL parameters (the number, the text).
    log.error("%s failed, the provider will retry: %s", kind, type(exc).__name__)
    return web.HTTPInternalServerError(text="the message could not be taken; retry later")


async def send_with_retries(
    send: Callable[[], Awaitable[T]], transient: Callable[[Exception], bool], what: Callable[[Exception], str],
    attempts: int, within_seconds: float, conversation_id: str, metrics: Metrics, kind: str,
) -> T:
    """One provider send, tried again with backoff while it fails `transient`ly, at most
    `attempts` times within `within_seconds`; then `DeliveryFailed`. `what` describes a failure
    for the log without personal data (status and provider code, never the provider's message)."""
    deadline = time.monotonic() + within_seconds
    backoff = Backoff()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
        except Exception as exc:
            remaining = deadline - time.monotonic()
            if not transient(exc) or attempt >= attempts or remaining <= 0:
                metrics.errors.labels(kind).inc()
                log.error("%s send failed conversation=%s attempts=%d %s", kind, conversation_id, attempt, what(exc))
                raise DeliveryFailed(f"{kind} refused the message ({what(exc)})") from None
            delay = min(backoff.next(), remaining)
            log.warning("%s send failed conversation=%s attempt=%d %s; retrying in %.1f s",
                        kind, conversation_id, attempt, what(exc), delay)
            await asyncio.sleep(delay)
