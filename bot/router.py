"""The path of a customer message: Inbound → transcript → desk → Rasa → Delivery.

`submit` appends the message to the conversation's inbox (a Redis list) and returns at once.
One worker per conversation, across all gateway processes (a Redis lock), works the inbox
oldest first, so a burst of messages is answered in order even when the webhooks land on
different processes. A message leaves the inbox only after it was handled: a process that
dies mid-way leaves it for the next worker, nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot import keys
from bot.delivery import GatewayDelivery
from bot.limits import customer_text
from bot.metrics import Metrics
from bot.outbound import Channel, Desk, HandoffRequest, Inbound, Media, Outbound
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.transcript import Transcript
from handoff.desk import DeskUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")
DESK_FIRST_BACKOFF = 0.5
DESK_MAX_BACKOFF = 5.0


def encode(inbound: Inbound, accepted_at: float) -> str:
    data = asdict(inbound)
    data["channel"] = inbound.channel.value
    data["accepted_at"] = accepted_at
    return json.dumps(data)


def decode(raw: str) -> tuple[Inbound, float]:
    data: dict[str, Any] = json.loads(raw)
    accepted_at = float(data.pop("accepted_at"))
    data["channel"] = Channel(data["channel"])
    data["media"] = tuple(Media(**m) for m in data.get("media") or ())
    return Inbound(**data), accepted_at


def transcript_text(inbound: Inbound) -> str:
    media = "\n".join(f"[{m.content_type}] {m.url}" for m in inbound.media)
    return "\n".join(part for part in (inbound.text, media) if part)


class Router:
    def __init__(
        self, redis: Redis, transcript: Transcript, rasa: RasaClient, delivery: GatewayDelivery,
        metrics: Metrics, lock_seconds: float, notice_seconds: float,
    ) -> None:
        self._redis = redis
        self._transcript = transcript
        self._rasa = rasa
        self._delivery = delivery
        self._metrics = metrics
        self._lock_seconds = lock_seconds
        self._notice_seconds = notice_seconds
        self._workers: set[asyncio.Task[None]] = set()
        # Removes the handled message only if it is still first: a worker whose lock ran out
        # while it worked must not remove the message a successor is working on.
        self._pop_if_first = redis.register_script(
            "if redis.call('lindex', KEYS[1], 0) == ARGV[1] then return redis.call('lpop', KEYS[1]) end return false"
        )
        self.desk: Desk | None = None  # set by bot/app.py once handoff.setup_handoff built it

    # -- the inbox ------------------------------------------------------------------------

    async def submit(self, inbound: Inbound) -> None:
        await self._redis.rpush(keys.inbox(inbound.conversation_id), encode(inbound, time.time()))
        self._metrics.messages_in.labels(inbound.channel.value).inc()
        log.info("inbound conversation=%s channel=%s", inbound.conversation_id, inbound.channel.value)
        self.work(inbound.conversation_id)

    def work(self, conversation_id: str) -> None:
        """Start a worker for the conversation (it stops at once if another one holds the lock)."""
        task = asyncio.create_task(self._work(conversation_id), name=f"router:{conversation_id}")
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def resume_waiting(self) -> None:
        """At start-up: work the inboxes a stopped process left behind."""
        async for key in self._redis.scan_iter(match=keys.inbox_pattern(), count=500):
            self.work(key.removeprefix(keys.inbox("")))

    async def stop(self) -> None:
        for task in list(self._workers):
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self, conversation_id: str) -> None:
        inbox = keys.inbox(conversation_id)
        while True:
            lock = self._redis.lock(keys.worker(conversation_id), timeout=self._lock_seconds, blocking=False)
            if not await lock.acquire():
                return  # another worker has it; it looks at the inbox again before it lets go
            try:
                while (raw := await self._redis.lindex(inbox, 0)) is not None:
                    inbound, accepted_at = decode(raw)
                    try:
                        await self.handle(inbound, accepted_at, lock)
                    except Exception:
                        self._metrics.errors.labels("router").inc()
                        log.exception("handling failed conversation=%s", conversation_id)
                    await self._pop_if_first(keys=[inbox], args=[raw])
                    try:
                        await lock.reacquire()
                    except LockError:
                        log.warning("worker lock expired mid-inbox conversation=%s; starting over", conversation_id)
                        break
            finally:
                try:
                    await lock.release()
                except LockError:
                    log.warning("worker lock expired conversation=%s", conversation_id)
            if not await self._redis.llen(inbox):
                return

    # -- one message ----------------------------------------------------------------------

    async def handle(self, inbound: Inbound, accepted_at: float, lock: Lock | None = None) -> None:
        conversation_id = inbound.conversation_id
        # The customer's line goes into the transcript while the desk and Rasa are asked; it is
        # written before anything that answers it.
        recorded = asyncio.create_task(self._transcript.record(
            conversation_id, inbound.channel.value, "customer", transcript_text(inbound),
        ))
        try:
            desk = self._require_desk()
            if await self._until_desk_answers(lambda: desk.takes_message(inbound), lock):
                log.info("to desk conversation=%s", conversation_id)
                return
            await self._delivery.typing(conversation_id)
            try:
                replies = await self._rasa.send(inbound, on_delay=lambda: self._after(recorded, self._tell_delay(inbound)))
            except RasaUnavailable as exc:
                self._metrics.errors.labels("rasa").inc()
                log.error("bot unavailable, offering a human conversation=%s: %s", conversation_id, exc)
                request = HandoffRequest(
                    reason="bot_unavailable", priority=1, language=inbound.language or "de",
                    summary="The assistant did not answer; the customer's last message is in the transcript.",
                )
                await recorded
                await self._until_desk_answers(lambda: desk.request_handoff(conversation_id, inbound.channel, request), lock)
                return
            await recorded
            await self.dispatch(conversation_id, inbound.channel, replies, lock)
        finally:
            await recorded
        await self._redis.delete(keys.delay_notice(conversation_id))
        self._metrics.bot_latency.labels(inbound.channel.value).observe(time.time() - accepted_at)

    @staticmethod
    async def _after(first: Awaitable[None], then: Awaitable[None]) -> None:
        await first
        await then

    async def dispatch(
        self, conversation_id: str, channel: Channel, replies: list[Outbound | HandoffRequest], lock: Lock | None = None,
    ) -> None:
        """Bot messages to the Delivery, in order; a handoff payload to the desk."""
        pending: list[Outbound] = []
        for reply in replies:
            if isinstance(reply, HandoffRequest):
                if pending:
                    await self._delivery.deliver(conversation_id, pending)
                    pending = []
                log.info("handoff requested conversation=%s reason=%s", conversation_id, reply.reason)
                desk, request = self._require_desk(), reply
                await self._until_desk_answers(lambda: desk.request_handoff(conversation_id, channel, request), lock)
            else:
                pending.append(reply)
        if pending:
            await self._delivery.deliver(conversation_id, pending)

    async def _until_desk_answers(self, call: Callable[[], Awaitable[T]], lock: Lock | None) -> T:
        """The desk keeps nothing when its Redis is away: ask again with backoff, holding the
        conversation's place (the message stays first in the inbox and in the transcript)."""
        backoff = DESK_FIRST_BACKOFF
        while True:
            try:
                return await call()
            except DeskUnavailable as exc:
                self._metrics.errors.labels("desk").inc()
                log.warning("desk unavailable, retrying in %.1f s: %s", backoff, exc)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, DESK_MAX_BACKOFF)
            if lock is not None:
                try:
                    await lock.reacquire()
                except (LockError, RedisError):
                    log.warning("could not extend the worker lock while the desk is away")

    async def _tell_delay(self, inbound: Inbound) -> None:
        """"One moment", once per slow spell of a conversation (however many messages wait)."""
        first = await self._redis.set(keys.delay_notice(inbound.conversation_id), "1", nx=True, ex=max(1, int(self._notice_seconds)))
        if first:
            await self._delivery.deliver(inbound.conversation_id, [Outbound(text=customer_text("delay", inbound.language))])

    def _require_desk(self) -> Desk:
        if self.desk is None:
            raise RuntimeError("the router has no desk: bot/app.py attaches it from handoff.setup_handoff")
        return self.desk
