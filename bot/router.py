"""The handling of one customer message: transcript → desk → Rasa → Delivery.

The inbox (bot/inbox.py) hands the router each message of a conversation in turn, oldest first,
and hands it over again, with backoff, when handling raised. So `handle` is safe to call again
after it failed: each step's outcome is noted in the message's `Notes` (`keys.handling`), the
customer line is written once, Rasa's replies are kept before any is sent, and a retry carries
on with the replies not yet dispatched, so Rasa never sees the same message twice and nothing is
doubled. While the agent desk has the conversation the message goes there instead of to Rasa.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import keys
from bot.inbox import Hold, Notes, Turn
from bot.metrics import Metrics
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.transcript import Transcript
from core import texts
from core.backoff import Backoff
from core.contract import (
    Button,
    Delivery,
    DeliveryFailed,
    Desk,
    DeskUnavailable,
    HandoffRequest,
    Inbound,
    Outbound,
    Priority,
    WindowClosed,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def encode_replies(replies: list[Outbound | HandoffRequest]) -> str:
    return json.dumps([
        {"handoff": asdict(r)} if isinstance(r, HandoffRequest) else {"message": asdict(r)} for r in replies
    ])


def decode_replies(raw: str) -> list[Outbound | HandoffRequest]:
    replies: list[Outbound | HandoffRequest] = []
    for item in json.loads(raw):
        if "handoff" in item:
            replies.append(HandoffRequest(**item["handoff"]))
        else:
            data = item["message"]
            data["buttons"] = tuple(Button(**b) for b in data.get("buttons") or ())
            replies.append(Outbound(**data))
    return replies


def is_erase(message: Outbound) -> bool:
    """The assistant's `{"erase": {"confirmed": true}}` payload (actions/privacy.py): the customer
    confirmed that their data be erased; the gateway does it after the confirmation went out."""
    erase = (message.custom or {}).get("erase")
    return isinstance(erase, dict) and erase.get("confirmed") is True


class Router:
    def __init__(
        self, redis: Redis, transcript: Transcript, rasa: RasaClient, delivery: Delivery, metrics: Metrics,
        notice_seconds: float,
    ) -> None:
        self._redis = redis
        self._transcript = transcript
        self._rasa = rasa
        self._delivery = delivery
        self._metrics = metrics
        self._notice_seconds = notice_seconds
        self.desk: Desk | None = None  # set by bot/app.py once handoff.setup_handoff built it
        # Set by bot/app.py (bot/privacy): erases a conversation everywhere when the assistant
        # confirmed the customer's own erase request (an `{"erase": …}` custom payload).
        self.erase: Callable[[str], Awaitable[None]] | None = None

    async def handle(self, turn: Turn) -> None:
        """One customer message (the inbox's `Handler`). Safe to call again after it failed:
        what an earlier attempt finished (noted in `turn.notes`) is not done twice."""
        inbound, notes, hold = turn.inbound, turn.notes, turn.hold
        conversation_id = inbound.conversation_id
        done = await notes.read()
        # The customer's line goes into the transcript while the desk and Rasa are asked; it is
        # written before anything that answers it.
        recorded = asyncio.create_task(self._record_once(inbound, notes, done))
        try:
            if done.get("desk"):
                return  # an earlier attempt gave the message to the desk
            if "replies" in done:
                replies = decode_replies(done["replies"])
            else:
                desk = self._require_desk()
                if await self._until_desk_answers(lambda: desk.takes_message(inbound), hold):
                    await notes.write("desk", "1")
                    log.info("to desk conversation=%s", conversation_id)
                    return
                await self._delivery.typing(conversation_id)
                try:
                    replies = await self._rasa.send(inbound, on_delay=lambda: self._after(recorded, self._tell_delay(inbound)))
                except RasaUnavailable as exc:
                    self._metrics.errors.labels("rasa").inc()
                    log.error("bot unavailable, offering a human conversation=%s: %s", conversation_id, exc)
                    replies = [HandoffRequest(
                        reason="bot_unavailable", priority=Priority.complaint, language=inbound.language or "de",
                        summary="The assistant did not answer; the customer's last message is in the transcript.",
                    )]
                if not replies:
                    # A turn that answered nothing: in practice a custom action that failed (the
                    # action server restarting; Rasa only logs it). The customer is not left in
                    # silence: they are asked to write again.
                    self._metrics.errors.labels("rasa_no_answer").inc()
                    log.warning("bot answered nothing conversation=%s", conversation_id)
                    replies = [Outbound(text=texts.text("no_answer", inbound.language))]
                # The desk caps one client address's queue entries: the address goes with the handoff.
                replies = [replace(r, address=inbound.address) if isinstance(r, HandoffRequest) else r for r in replies]
                # Kept before anything is sent: a retry sends these rather than asking Rasa again.
                await notes.write("replies", encode_replies(replies))
            await recorded
            await self.dispatch(conversation_id, inbound.channel, replies, hold, notes, int(done.get("dispatched", 0)))
        finally:
            await recorded
        await self._redis.delete(keys.delay_notice(conversation_id))
        self._metrics.bot_latency.labels(inbound.channel).observe(time.time() - turn.accepted_at)

    async def _record_once(self, inbound: Inbound, notes: Notes, done: dict[str, str]) -> None:
        if done.get("recorded"):
            return
        # Written with the message identity: after a crash between the line and the note (Redis
        # away, then the process killed) the retry finds the line instead of writing it again.
        await self._transcript.record_customer_once(
            inbound.conversation_id, inbound.channel, inbound.transcript_text(), (inbound.external_id or "")[:128],
        )
        await notes.write("recorded", "1")

    @staticmethod
    async def _after(first: Awaitable[None], then: Awaitable[None]) -> None:
        await first
        await then

    async def dispatch(
        self, conversation_id: str, channel: str, replies: list[Outbound | HandoffRequest],
        hold: Hold | None = None, notes: Notes | None = None, done: int = 0,
    ) -> None:
        """Bot messages to the Delivery, in order; a handoff payload to the desk.

        With `notes` (those of the customer message these answer) the number of replies
        dispatched is noted there after each step, and the first `done` replies are skipped: a
        retry carries on where the failed attempt stopped."""
        i = done
        while i < len(replies):
            reply = replies[i]
            if isinstance(reply, HandoffRequest):
                log.info("handoff requested conversation=%s reason=%s", conversation_id, reply.reason)
                await self._until_desk_answers(self._handoff_call(conversation_id, channel, reply), hold)
                i += 1
            else:
                batch: list[Outbound] = []
                while i < len(replies) and isinstance(replies[i], Outbound):
                    batch.append(replies[i])  # type: ignore[arg-type]
                    i += 1
                messages = [m for m in batch if not is_erase(m)]
                if messages:
                    await self._deliver_reply(conversation_id, messages)
                if len(messages) < len(batch):
                    await self._erase_requested(conversation_id)
            if notes is not None:
                await notes.write("dispatched", str(i))

    def _handoff_call(self, conversation_id: str, channel: str, request: HandoffRequest) -> Callable[[], Awaitable[None]]:
        desk = self._require_desk()

        async def call() -> None:
            refused = await desk.request_handoff(conversation_id, channel, request)
            if refused is not None:  # the desk told the customer; the bot carries on
                self._metrics.errors.labels(f"rejected_{refused}").inc()

        return call

    async def _deliver_reply(self, conversation_id: str, batch: list[Outbound]) -> None:
        """The bot's replies; one the channel may not or could not send is not tried again
        (the customer would get it twice if it did arrive), only counted and logged."""
        try:
            await self._delivery.deliver(conversation_id, batch)
        except (WindowClosed, DeliveryFailed) as exc:
            self._metrics.errors.labels("reply_not_sent").inc()
            log.error("bot reply not sent conversation=%s: %s", conversation_id, type(exc).__name__)
            await self._record_not_sent(conversation_id, batch, exc)

    async def _record_not_sent(self, conversation_id: str, batch: list[Outbound], exc: Exception) -> None:
        """Never silently lost: what was not sent (a rating request outside the reply window, say)
        is kept in `keys.NOT_SENT` for the operator."""
        rating = any(b.payload.startswith("/give_rating") for m in batch for b in m.buttons)
        try:
            await self._redis.rpush(keys.NOT_SENT, json.dumps({
                "conversation_id": conversation_id, "reason": type(exc).__name__,
                "kind": "rating" if rating else "message", "messages": len(batch), "at": time.time(),
            }))
            await self._redis.ltrim(keys.NOT_SENT, -keys.NOT_SENT_KEPT, -1)
        except RedisError:
            log.warning("could not record the reply not sent conversation=%s (redis unavailable)", conversation_id)

    async def _until_desk_answers(self, call: Callable[[], Awaitable[T]], hold: Hold | None) -> T:
        """The desk keeps nothing when its Redis is away: ask again with backoff, holding the
        conversation's place (the message stays first in the inbox and in the transcript)."""
        backoff = Backoff()
        while True:
            try:
                return await call()
            except DeskUnavailable as exc:
                self._metrics.errors.labels("desk").inc()
                delay = backoff.next()
                log.warning("desk unavailable, retrying in %.1f s: %s", delay, exc)
            await asyncio.sleep(delay)
            if hold is not None and not await hold.extend():
                log.warning("could not extend the worker lock while the desk is away")

    async def _tell_delay(self, inbound: Inbound) -> None:
        """"One moment", once per slow spell of a conversation (however many messages wait)."""
        first = await self._redis.set(keys.delay_notice(inbound.conversation_id), "1", nx=True, ex=max(1, int(self._notice_seconds)))
        if first:
            await self._deliver_reply(inbound.conversation_id, [Outbound(text=texts.text("delay", inbound.language))])

    async def _erase_requested(self, conversation_id: str) -> None:
        if self.erase is None:
            raise RuntimeError("the router has no erase: bot/app.py attaches it from bot.privacy")
        log.info("erase confirmed by the customer conversation=%s", conversation_id)
        await self.erase(conversation_id)

    def _require_desk(self) -> Desk:
        if self.desk is None:
            raise RuntimeError("the router has no desk: bot/app.py attaches it from handoff.setup_handoff")
        return self.desk
