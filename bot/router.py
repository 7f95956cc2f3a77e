"""The path of a customer message: Inbound → transcript → desk → Rasa → Delivery.

`submit` appends the message to the conversation's inbox (a Redis list) and returns at once.
One worker per conversation, across all gateway processes (a Redis lock), works the inbox
oldest first, so a burst of messages is answered in order even when the webhooks land on
different processes. A message leaves the inbox only after it was handled: a process that
dies mid-way leaves it for the next worker, nothing is lost.

When handling fails (database or Redis errors) the message stays first and is tried again with
backoff, up to ROUTER_MAX_ATTEMPTS times; then it moves to the dead-letter list
(`keys.DEAD_LETTER`). Each step's outcome is noted in Redis (`keys.handling`): the customer
line is written once, Rasa's replies are kept before any is sent, and a retry carries on with
the replies not yet dispatched, so Rasa never sees the same message twice and nothing is doubled.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, replace
from typing import Any, TypeVar, cast

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot import keys
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
    Media,
    Outbound,
    Priority,
    WindowClosed,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
# How long the notes of a message in handling outlive a worker that stopped caring (crash).
HANDLING_SECONDS = 24 * 3600
# A conversation's worker lock lives this long unless its holder extends it (every third of it,
# however long Rasa takes): a process killed while holding one blocks its conversation this long
# at most, then a waiting worker takes over.
WORKER_LOCK_SECONDS = 15.0


def encode(inbound: Inbound, accepted_at: float) -> str:
    data = asdict(inbound)
    data["accepted_at"] = accepted_at
    return json.dumps(data)


def decode(raw: str) -> tuple[Inbound, float]:
    data: dict[str, Any] = json.loads(raw)
    accepted_at = float(data.pop("accepted_at"))
    data["media"] = tuple(Media(**m) for m in data.get("media") or ())
    return Inbound(**data), accepted_at


def identified(raw: str) -> tuple[Inbound, float]:
    """An inbox entry with a message identity: the provider's id, or else a hash of the entry
    (it holds the accept time, so two equal texts are still two messages)."""
    inbound, accepted_at = decode(raw)
    if inbound.external_id is None:
        inbound = replace(inbound, external_id="inbox-" + hashlib.sha256(raw.encode()).hexdigest()[:24])
    return inbound, accepted_at


def progress_key(inbound: Inbound) -> str:
    """Where the router notes how far it got with this message (`keys.handling`)."""
    if inbound.external_id is None:
        raise ValueError("the message has no identity: inbox entries get one from `identified`")
    return keys.handling(inbound.conversation_id, inbound.external_id)


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
        self, redis: Redis, transcript: Transcript, rasa: RasaClient, delivery: Delivery,
        metrics: Metrics, lock_seconds: float, notice_seconds: float, max_attempts: int = 8,
    ) -> None:
        self._redis = redis
        self._transcript = transcript
        self._rasa = rasa
        self._delivery = delivery
        self._metrics = metrics
        self._lock_seconds = lock_seconds
        self._notice_seconds = notice_seconds
        self._max_attempts = max(1, max_attempts)
        self._workers: set[asyncio.Task[None]] = set()
        self._waiting: set[str] = set()  # conversations with a worker here waiting for another's lock
        # The steps of messages in handling also noted here, before Redis: when Redis goes away
        # between a step and its note there, this process's retry still skips the step (the
        # customer line is not written twice, Rasa not asked twice, a reply not sent twice).
        self._notes: dict[str, dict[str, str]] = {}
        # Removes the handled message only if it is still first: a worker whose lock ran out
        # while it worked must not remove the message a successor is working on.
        self._pop_if_first = redis.register_script(
            "if redis.call('lindex', KEYS[1], 0) == ARGV[1] then return redis.call('lpop', KEYS[1]) end return false"
        )
        # The dedup marker and the inbox entry in one step: a marker exists only for a message
        # that is in the inbox, so a provider's retry is never mistaken for a duplicate.
        # (The entry first: a script that fails midway keeps what it did before, and a marker
        # without its entry would drop the provider's retry.)
        self._push_once = redis.register_script(
            "if KEYS[2] and redis.call('exists', KEYS[2]) == 1 then return 0 end "
            "redis.call('rpush', KEYS[1], ARGV[1]) "
            "if KEYS[2] then redis.call('set', KEYS[2], '1', 'EX', ARGV[2]) end return 1"
        )
        self.desk: Desk | None = None  # set by bot/app.py once handoff.setup_handoff built it
        # Set by bot/app.py (bot/privacy): erases a conversation everywhere when the assistant
        # confirmed the customer's own erase request (an `{"erase": …}` custom payload).
        self.erase: Callable[[str], Awaitable[None]] | None = None

    # -- the inbox ------------------------------------------------------------------------

    async def submit(self, inbound: Inbound, seen: str | None = None, seen_seconds: int = 24 * 3600) -> bool:
        """Into the conversation's inbox, unless the dedup marker `seen` is set already (False)."""
        dedup = [seen] if seen else []
        pushed = await self._push_once(keys=[keys.inbox(inbound.conversation_id), *dedup],
                                       args=[encode(inbound, time.time()), seen_seconds])
        if not pushed:
            return False
        self._metrics.messages_in.labels(inbound.channel).inc()
        log.info("inbound conversation=%s channel=%s", inbound.conversation_id, inbound.channel)
        self.work(inbound.conversation_id)
        return True

    def work(self, conversation_id: str) -> None:
        """Start a worker for the conversation (it stops at once if another one holds the lock)."""
        task = asyncio.create_task(self._work(conversation_id), name=f"router:{conversation_id}")
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def resume_waiting(self) -> None:
        """Works the inboxes nobody works: those a stopped or crashed process left behind (its
        lock expired or was released). An inbox whose lock is held is skipped: a live holder
        looks at its inbox again before it lets go, and a dead holder's lock runs out, after
        which the next sweep takes the inbox."""
        async for key in self._redis.scan_iter(match=keys.inbox_pattern(), count=500):
            conversation_id = key.removeprefix(keys.inbox(""))
            if not await self._redis.exists(keys.worker(conversation_id)):
                self.work(conversation_id)

    async def sweep(self, every_seconds: float) -> None:
        """`resume_waiting` at start-up and then every `every_seconds`, so a message left behind
        by a crashed process is answered within seconds of its lock expiring, without the
        customer writing again (not only when some gateway process restarts)."""
        while True:
            try:
                await self.resume_waiting()
            except RedisError as exc:
                log.warning("inbox sweep failed error=%s; next sweep in %.1f s", type(exc).__name__, every_seconds)
            await asyncio.sleep(every_seconds)

    async def stop(self) -> None:
        for task in list(self._workers):
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def _work(self, conversation_id: str) -> None:
        # One lock object for the worker's life: after a Redis outage it still knows its token,
        # so it takes up its own lock again instead of waiting for it to expire.
        lock = self._redis.lock(keys.worker(conversation_id), timeout=self._lock_seconds, blocking=False)
        backoff = Backoff()
        while True:
            try:
                if not await self._work_inbox(conversation_id, lock):
                    return
                backoff.reset()
            except RedisError as exc:
                # Redis itself is away: the inbox is safe in it, so wait and look again rather
                # than give up (nothing else would restart this conversation) or spin.
                self._metrics.errors.labels("router_redis").inc()
                delay = backoff.next()
                log.warning("inbox unreachable conversation=%s error=%s; retrying in %.1f s",
                            conversation_id, type(exc).__name__, delay)
                await asyncio.sleep(delay)

    async def _work_inbox(self, conversation_id: str, lock: Lock) -> bool:
        """Works the inbox while holding the conversation's lock; True when it should look again."""
        inbox = keys.inbox(conversation_id)
        if await lock.owned():
            await lock.reacquire()  # still ours from before a Redis outage: extend it
        elif not await lock.acquire():
            return await self._outwait_holder(conversation_id)
        keeper = asyncio.create_task(self._keep(lock), name=f"router-lock:{conversation_id}")
        try:
            while (raw := cast(str | None, await self._redis.lindex(inbox, 0))) is not None:
                inbound, accepted_at = identified(raw)
                progress = progress_key(inbound)
                if not await self._handle_with_retries(inbound, accepted_at, raw, progress, lock):
                    break
                await self._pop_if_first(keys=[inbox], args=[raw])
                await self._redis.delete(progress)
                self._notes.pop(progress, None)
                try:
                    await lock.reacquire()
                except LockError:
                    log.warning("worker lock expired mid-inbox conversation=%s; starting over", conversation_id)
                    break
        finally:
            keeper.cancel()
            await asyncio.gather(keeper, return_exceptions=True)
            try:
                await lock.release()
            except LockError:
                log.warning("worker lock expired conversation=%s", conversation_id)
        return bool(await self._redis.llen(inbox))

    async def _keep(self, lock: Lock) -> None:
        """Extends the worker's lock while it works, so only a dead holder's lock runs out."""
        while True:
            await asyncio.sleep(self._lock_seconds / 3)
            try:
                await lock.reacquire()
            except LockError:
                return
            except RedisError:
                continue  # Redis away: the worker notices; try again on the next beat

    async def _outwait_holder(self, conversation_id: str) -> bool:
        """Another worker holds the lock: a live one looks at the inbox again before it lets go,
        one that died (its process killed) does not, so one worker of this process waits out
        the lock; True when it should try again."""
        if conversation_id in self._waiting:
            return False
        self._waiting.add(conversation_id)
        try:
            ttl_ms = await self._redis.pttl(keys.worker(conversation_id))
            await asyncio.sleep(max(ttl_ms, 0) / 1000 + 0.1)
        finally:
            self._waiting.discard(conversation_id)
        return bool(await self._redis.llen(keys.inbox(conversation_id)))

    async def _handle_with_retries(self, inbound: Inbound, accepted_at: float, raw: str, progress: str, lock: Lock) -> bool:
        """Handles the first message until it succeeds or is dead-lettered (True: pop it);
        False when the lock was lost while waiting (another worker carries on)."""
        conversation_id = inbound.conversation_id
        backoff = Backoff()
        while True:
            # Counted in Redis, so a crashing process does not restart the count forever.
            attempt = int(await self._redis.hincrby(progress, "attempts", 1))
            await self._redis.expire(progress, HANDLING_SECONDS)
            try:
                await self.handle(inbound, accepted_at, lock)
                return True
            except Exception as exc:
                self._metrics.errors.labels("router").inc()
                # Only the type: database errors carry the SQL parameters, i.e. the message text.
                log.debug("handling failed conversation=%s", conversation_id, exc_info=True)
                if attempt >= self._max_attempts:
                    await self._dead_letter(inbound, raw, exc, attempt)
                    return True
                delay = backoff.next()
                log.warning("handling failed conversation=%s attempt=%d/%d error=%s; retrying in %.1f s",
                            conversation_id, attempt, self._max_attempts, type(exc).__name__, delay)
            await asyncio.sleep(delay)
            try:
                await lock.reacquire()
            except LockError:
                log.warning("worker lock lost while retrying conversation=%s", conversation_id)
                return False

    async def _dead_letter(self, inbound: Inbound, raw: str, exc: Exception, attempts: int) -> None:
        """Parks a message that keeps failing where an operator finds it (a Redis error here
        propagates: the message then stays in the inbox)."""
        await self._redis.rpush(keys.DEAD_LETTER, json.dumps({
            "entry": raw, "error": type(exc).__name__, "attempts": attempts, "at": time.time(),
        }))
        self._metrics.dead_letters.inc()
        log.error("dead-lettered conversation=%s attempts=%d error=%s", inbound.conversation_id, attempts, type(exc).__name__)

    # -- one message ----------------------------------------------------------------------

    async def handle(self, inbound: Inbound, accepted_at: float, lock: Lock | None = None) -> None:
        """One customer message. Safe to call again after it failed: what an earlier attempt
        finished (noted under `keys.handling`) is not done twice. `inbound.external_id` is the
        message identity (`identified` fills it in for inbox entries)."""
        conversation_id = inbound.conversation_id
        progress = progress_key(inbound)
        done = self._progress(progress, cast(dict[str, str], await self._redis.hgetall(progress)))
        # The customer's line goes into the transcript while the desk and Rasa are asked; it is
        # written before anything that answers it.
        recorded = asyncio.create_task(self._record_once(inbound, progress, done))
        try:
            if done.get("desk"):
                return  # an earlier attempt gave the message to the desk
            if "replies" in done:
                replies = decode_replies(done["replies"])
            else:
                desk = self._require_desk()
                if await self._until_desk_answers(lambda: desk.takes_message(inbound), lock):
                    await self._note(progress, "desk", "1")
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
                await self._note(progress, "replies", encode_replies(replies))
            await recorded
            await self.dispatch(conversation_id, inbound.channel, replies, lock, progress, int(done.get("dispatched", 0)))
        finally:
            await recorded
        await self._redis.delete(keys.delay_notice(conversation_id))
        self._metrics.bot_latency.labels(inbound.channel).observe(time.time() - accepted_at)

    def _progress(self, progress: str, in_redis: dict[str, str]) -> dict[str, str]:
        """What is done of a message: Redis's notes and this process's, the further of the two."""
        done = {**in_redis, **self._notes.get(progress, {})}
        if "dispatched" in in_redis:
            done["dispatched"] = str(max(int(in_redis["dispatched"]), int(done["dispatched"])))
        return done

    async def _note(self, progress: str, field: str, value: str) -> None:
        self._notes.setdefault(progress, {})[field] = value
        await self._redis.hset(progress, field, value)

    async def _record_once(self, inbound: Inbound, progress: str, done: dict[str, str]) -> None:
        if done.get("recorded"):
            return
        # Written with the message identity: after a crash between the line and the note (Redis
        # away, then the process killed) the retry finds the line instead of writing it again.
        await self._transcript.record_customer_once(
            inbound.conversation_id, inbound.channel, inbound.transcript_text(), (inbound.external_id or "")[:128],
        )
        await self._note(progress, "recorded", "1")

    @staticmethod
    async def _after(first: Awaitable[None], then: Awaitable[None]) -> None:
        await first
        await then

    async def dispatch(
        self, conversation_id: str, channel: str, replies: list[Outbound | HandoffRequest],
        lock: Lock | None = None, progress: str | None = None, done: int = 0,
    ) -> None:
        """Bot messages to the Delivery, in order; a handoff payload to the desk.

        With `progress` (a `keys.handling` hash) the number of replies dispatched is noted there
        after each step, and the first `done` replies are skipped: a retry carries on where the
        failed attempt stopped."""
        i = done
        while i < len(replies):
            reply = replies[i]
            if isinstance(reply, HandoffRequest):
                log.info("handoff requested conversation=%s reason=%s", conversation_id, reply.reason)
                await self._until_desk_answers(self._handoff_call(conversation_id, channel, reply), lock)
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
            if progress is not None:
                await self._note(progress, "dispatched", str(i))

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

    async def _until_desk_answers(self, call: Callable[[], Awaitable[T]], lock: Lock | None) -> T:
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
            if lock is not None:
                try:
                    await lock.reacquire()
                except (LockError, RedisError):
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
