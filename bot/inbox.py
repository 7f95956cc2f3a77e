"""A conversation's inbox: the customer messages the intake took, waiting for their handler (the router).

`push_once` appends a message to the conversation's inbox (a Redis list) together with its dedup
marker and returns at once. One worker per conversation, across all gateway processes (a Redis
lock, `keys.worker`), hands the messages to the handler oldest first, so a burst of messages is
answered in order even when the webhooks land on different processes. A message leaves the
inbox only after its handler returned: a process that dies mid-way leaves it for the next
worker, nothing is lost. `sweep` looks for inboxes nobody works (their process died) and works them.

When the handler raises, the message stays first and is handed over again with backoff, up to
`max_attempts` times (counted in Redis, so a crashing process does not restart the count); then
it moves to the dead-letter list (`keys.DEAD_LETTER`) and the next message gets its turn. The
handler notes how far it got in the message's `Notes` (`keys.handling`), so a retry carries on
where the failed attempt stopped; the notes go when the message leaves the inbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any, cast

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from bot import keys
from bot.metrics import Metrics
from core.backoff import Backoff
from core.contract import Inbound, Media
from core.periodic import periodic

log = logging.getLogger(__name__)

# How long the notes of a message in handling outlive a worker that stopped caring (crash).
HANDLING_SECONDS = 24 * 3600
# A conversation's worker lock lives this long unless its holder extends it (every third of it,
# however long the handler takes): a process killed while holding one blocks its conversation
# this long at most, then a waiting worker takes over.
WORKER_LOCK_SECONDS = 15.0

# Removes the handled message only if it is still first: a worker whose lock ran out while it
# worked must not remove the message a successor is working on.
_POP_IF_FIRST = "if redis.call('lindex', KEYS[1], 0) == ARGV[1] then return redis.call('lpop', KEYS[1]) end return false"

# KEYS: the inbox, the dedup marker (optional)   ARGV: the entry, the marker's ttl
# The dedup marker and the inbox entry in one step: a marker exists only for a message that is
# in the inbox, so a provider's retry is never mistaken for a duplicate. (The entry first: a
# script that fails midway keeps what it did before, and a marker without its entry would drop
# the provider's retry.)
_PUSH_ONCE = (
    "if KEYS[2] and redis.call('exists', KEYS[2]) == 1 then return 0 end "
    "redis.call('rpush', KEYS[1], ARGV[1]) "
    "if KEYS[2] then redis.call('set', KEYS[2], '1', 'EX', ARGV[2]) end return 1"
)


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


class Notes:
    """How far the handling of one message got (`keys.handling`): steps done, as field → value.

    Also kept in this process's memory, before Redis: when Redis goes away between a step and
    its note there, this process's retry still skips the step."""

    def __init__(self, redis: Redis, key: str, memory: dict[str, dict[str, str]]) -> None:
        self._redis = redis
        self._key = key
        self._memory = memory  # this process's notes of every message in handling, by key

    async def read(self) -> dict[str, str]:
        """Redis's notes and this process's; a count noted in both is the larger (another
        process may have got further after this one lost the conversation's lock)."""
        in_redis = cast(dict[str, str], await self._redis.hgetall(self._key))
        done = {**in_redis, **self._memory.get(self._key, {})}
        for field, value in in_redis.items():
            if value.isdigit() and done[field].isdigit():
                done[field] = str(max(int(value), int(done[field])))
        return done

    async def write(self, field: str, value: str) -> None:
        self._memory.setdefault(self._key, {})[field] = value
        await self._redis.hset(self._key, field, value)

    async def attempt(self) -> int:
        """Counts one attempt at the message; returns how many there were, this one included."""
        attempt = int(await self._redis.hincrby(self._key, "attempts", 1))
        await self._redis.expire(self._key, HANDLING_SECONDS)
        return attempt


class Hold:
    """The worker's hold on its conversation (the lock), for a handler that waits long."""

    def __init__(self, lock: Lock) -> None:
        self._lock = lock

    async def extend(self) -> bool:
        """The lock for another full period; False when that failed (lost, or Redis away): the
        handler carries on, the worker finds out when it looks at the inbox again."""
        try:
            await self._lock.reacquire()
        except (LockError, RedisError):
            return False
        return True


@dataclass(frozen=True)
class Turn:
    """One message's turn with the handler."""

    inbound: Inbound  # with its identity in `external_id` (`identified`)
    accepted_at: float  # unix seconds when the intake took it
    notes: Notes
    hold: Hold


Handler = Callable[[Turn], Awaitable[None]]


class Inbox:
    def __init__(
        self, redis: Redis, handle: Handler, metrics: Metrics, lock_seconds: float = WORKER_LOCK_SECONDS,
        max_attempts: int = 8,
    ) -> None:
        self._redis = redis
        self._handle = handle
        self._metrics = metrics
        self._lock_seconds = lock_seconds
        self._max_attempts = max(1, max_attempts)
        self._workers: set[asyncio.Task[None]] = set()
        self._waiting: set[str] = set()  # conversations with a worker here waiting for another's lock
        self._memory: dict[str, dict[str, str]] = {}  # `Notes` of messages in handling, by key
        self._pop_if_first = redis.register_script(_POP_IF_FIRST)
        self._push_once = redis.register_script(_PUSH_ONCE)

    async def push_once(self, inbound: Inbound, seen: str | None = None, seen_seconds: int = 24 * 3600) -> bool:
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
        task = asyncio.create_task(self._work(conversation_id), name=f"inbox:{conversation_id}")
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
        await periodic("inbox sweep", every_seconds, self.resume_waiting)

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
        keeper = asyncio.create_task(self._keep(lock), name=f"inbox-lock:{conversation_id}")
        try:
            while (raw := cast(str | None, await self._redis.lindex(inbox, 0))) is not None:
                inbound, accepted_at = identified(raw)
                key = keys.handling(conversation_id, cast(str, inbound.external_id))
                turn = Turn(inbound, accepted_at, Notes(self._redis, key, self._memory), Hold(lock))
                if not await self._handle_with_retries(turn, raw, lock):
                    break
                await self._pop_if_first(keys=[inbox], args=[raw])
                await self._redis.delete(key)
                self._memory.pop(key, None)
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

    async def _handle_with_retries(self, turn: Turn, raw: str, lock: Lock) -> bool:
        """Hands the first message over until its handler succeeds or it is dead-lettered (True:
        pop it); False when the lock was lost while waiting (another worker carries on)."""
        conversation_id = turn.inbound.conversation_id
        backoff = Backoff()
        while True:
            attempt = await turn.notes.attempt()
            try:
                await self._handle(turn)
                return True
            except Exception as exc:
                self._metrics.errors.labels("router").inc()
                # Only the type: database errors carry the SQL parameters, i.e. the message text.
                log.debug("handling failed conversation=%s", conversation_id, exc_info=True)
                if attempt >= self._max_attempts:
                    await self._dead_letter(conversation_id, raw, exc, attempt)
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

    async def _dead_letter(self, conversation_id: str, raw: str, exc: Exception, attempts: int) -> None:
        """Parks a message that keeps failing where an operator finds it (a Redis error here
        propagates: the message then stays in the inbox)."""
        await self._redis.rpush(keys.DEAD_LETTER, json.dumps({
            "entry": raw, "error": type(exc).__name__, "attempts": attempts, "at": time.time(),
        }))
        self._metrics.dead_letters.inc()
        log.error("dead-lettered conversation=%s attempts=%d error=%s", conversation_id, attempts, type(exc).__name__)
