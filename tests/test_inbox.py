"""The inbox on its own (a real Redis, a handler of the test's instead of the router, no Rasa): a
message is pushed once per dedup marker, handed over in order, handed over again with its notes
when the handler raised, and after the last attempt parked in the dead-letter list, not dropped."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from bot import keys
from bot.inbox import Inbox, Notes, Turn, encode
from bot.metrics import Metrics
from core.contract import Inbound

TIMEOUT = 20.0


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


class Handled:
    """The test's handler: records every turn; `behaviour` decides what each turn does."""

    def __init__(self, behaviour: Callable[[Turn], Awaitable[None]] | None = None) -> None:
        self.turns: asyncio.Queue[Turn] = asyncio.Queue()
        self._behaviour = behaviour

    async def __call__(self, turn: Turn) -> None:
        await self.turns.put(turn)
        if self._behaviour is not None:
            await self._behaviour(turn)

    async def next(self) -> Turn:
        return await asyncio.wait_for(self.turns.get(), TIMEOUT)


@pytest.fixture
async def inboxes(redis: Redis) -> AsyncIterator[Callable[..., Inbox]]:
    made: list[Inbox] = []

    def make(handle: Handled, max_attempts: int = 8) -> Inbox:
        inbox = Inbox(redis, handle, Metrics(), max_attempts=max_attempts)
        made.append(inbox)
        return inbox

    yield make
    for inbox in made:
        await inbox.stop()


def message(text: str, external_id: str | None = None) -> Inbound:
    return Inbound(conversation_id=f"web-test-{secrets.token_hex(8)}", channel="webchat", text=text, external_id=external_id)


async def until(probe: Callable[[], Awaitable[bool]]) -> None:
    """Waits for a condition the inbox reaches right after a handler returned."""
    deadline = time.monotonic() + TIMEOUT
    while not await probe():
        assert time.monotonic() < deadline, "the condition was not reached"
        await asyncio.sleep(0.05)


async def test_a_message_is_pushed_once_per_dedup_marker_and_the_marker_only_with_its_entry(
    redis: Redis, inboxes: Callable[..., Inbox],
) -> None:
    release = asyncio.Event()

    async def wait(_turn: Turn) -> None:
        await release.wait()

    handled = Handled(wait)
    inbox = inboxes(handled)
    first = message("Hallo", external_id="m-1")
    seen = keys.seen(first.conversation_id, "m-1")

    assert await inbox.push_once(first, seen, 60)
    assert not await inbox.push_once(first, seen, 60)
    assert await redis.llen(keys.inbox(first.conversation_id)) == 1
    assert 0 < await redis.ttl(seen) <= 60

    # An entry that cannot be pushed leaves no marker: the provider's retry is taken.
    broken = message("Hallo", external_id="m-2")
    await redis.set(keys.inbox(broken.conversation_id), "not a list")
    with pytest.raises(ResponseError):
        await inbox.push_once(broken, keys.seen(broken.conversation_id, "m-2"), 60)
    assert not await redis.exists(keys.seen(broken.conversation_id, "m-2"))
    await redis.delete(keys.inbox(broken.conversation_id))

    release.set()
    assert (await handled.next()).inbound.external_id == "m-1"
    await until(lambda: _empty(redis, first.conversation_id))
    assert handled.turns.empty()


async def test_messages_are_handed_over_one_at_a_time_oldest_first_each_with_an_identity(
    redis: Redis, inboxes: Callable[..., Inbox],
) -> None:
    running = 0
    most = 0

    async def count(_turn: Turn) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0)  # let a second worker in, if the lock did not keep it out
        running -= 1

    handled = Handled(count)
    inbox = inboxes(handled)
    first = message("eins")
    texts = ["eins", "zwei", "drei", "drei"]
    for text in texts:
        await inbox.push_once(Inbound(first.conversation_id, "webchat", text))

    turns = [await handled.next() for _ in texts]
    assert [t.inbound.text for t in turns] == texts
    ids = [t.inbound.external_id for t in turns]
    assert all(i and i.startswith("inbox-") for i in ids) and len(set(ids)) == len(ids)  # equal texts, two messages
    assert most == 1
    await until(lambda: _empty(redis, first.conversation_id))


async def test_a_failed_turn_is_handed_over_again_with_its_notes_which_go_with_the_message(
    redis: Redis, inboxes: Callable[..., Inbox],
) -> None:
    seen: list[dict[str, str]] = []

    async def fail_once(turn: Turn) -> None:
        seen.append(await turn.notes.read())
        if not seen[-1].get("step"):
            await turn.notes.write("step", "1")
            raise RuntimeError("the database is away")

    handled = Handled(fail_once)
    inbox = inboxes(handled)
    inbound = message("Wo ist meine Bestellung?", external_id="m-1")
    await inbox.push_once(inbound)

    first, second = await handled.next(), await handled.next()
    assert first.inbound == second.inbound
    await until(lambda: _empty(redis, inbound.conversation_id))
    assert seen == [{"attempts": "1"}, {"attempts": "2", "step": "1"}]
    assert not await redis.exists(keys.handling(inbound.conversation_id, "m-1"))


async def test_after_the_last_attempt_the_message_is_dead_lettered_and_the_next_one_is_handled(
    redis: Redis, inboxes: Callable[..., Inbox],
) -> None:
    async def fail_the_doomed(turn: Turn) -> None:
        if turn.inbound.text == "doomed":
            raise RuntimeError("always")

    handled = Handled(fail_the_doomed)
    inbox = inboxes(handled, max_attempts=2)
    doomed = message("doomed", external_id="m-1")
    await inbox.push_once(doomed)
    await inbox.push_once(Inbound(doomed.conversation_id, "webchat", "after"))

    assert [(await handled.next()).inbound.text for _ in range(3)] == ["doomed", "doomed", "after"]
    await until(lambda: _empty(redis, doomed.conversation_id))
    parked = [json.loads(e) for e in await redis.lrange(keys.DEAD_LETTER, 0, -1)]
    mine = [e for e in parked if json.loads(e["entry"])["conversation_id"] == doomed.conversation_id]
    assert [(json.loads(e["entry"])["text"], e["error"], e["attempts"]) for e in mine] == [("doomed", "RuntimeError", 2)]
    assert not await redis.exists(keys.handling(doomed.conversation_id, "m-1"))


async def test_an_inbox_nobody_works_is_taken_up_by_the_sweep(redis: Redis, inboxes: Callable[..., Inbox]) -> None:
    handled = Handled()
    inbox = inboxes(handled)
    left = message("left behind by a crashed process", external_id="m-1")
    await redis.rpush(keys.inbox(left.conversation_id), encode(left, time.time()))

    await inbox.resume_waiting()
    assert (await handled.next()).inbound == left
    await until(lambda: _empty(redis, left.conversation_id))


async def test_notes_keep_this_process_s_steps_and_the_furthest_count(redis: Redis) -> None:
    key = keys.handling("web-test-notes", secrets.token_hex(8))
    memory: dict[str, dict[str, str]] = {}
    notes = Notes(redis, key, memory)
    await notes.write("recorded", "1")
    await notes.write("dispatched", "1")
    await redis.delete(key)  # Redis lost them (restarted without its last writes)
    assert await notes.read() == {"recorded": "1", "dispatched": "1"}

    await redis.hset(key, "dispatched", "3")  # another process got further meanwhile
    assert (await notes.read())["dispatched"] == "3"
    assert await notes.attempt() == 1 and await notes.attempt() == 2
    await redis.delete(key)


async def _empty(redis: Redis, conversation_id: str) -> bool:
    return not await redis.exists(keys.inbox(conversation_id), keys.worker(conversation_id))
