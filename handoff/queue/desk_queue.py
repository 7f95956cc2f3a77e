"""The queue and every state change of a conversation, each one atomic (a Lua script).

Two agents claiming at once, two gateway processes sweeping at once, or an HTTP retry all
run the same script; Redis runs scripts one at a time, so a conversation is always wholly in
one state: `bot` (no hash), `queued` (hash + queue entry) or `agent` (hash + owner's set).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any, cast

from redis.asyncio import Redis

from core.contract import Priority
from handoff.queue import keys
from handoff.queue.state import (
    PRIORITY_RETURNED,
    ConversationState,
    DeskConversation,
    queue_score,
    queued_at_of,
)


class ClaimRefused(Exception):
    """A claim that did not win; `reason` is `taken` (with `owner`), `not_queued` or `limit`."""

    def __init__(self, reason: str, owner: str | None = None) -> None:
        super().__init__(reason if owner is None else f"{reason} by {owner}")
        self.reason = reason
        self.owner = owner


class NotOwner(Exception):
    """The agent does not hold the conversation (it is queued, closed or someone else's)."""

    def __init__(self, state: ConversationState, owner: str | None) -> None:
        super().__init__(f"conversation is {state.value}" + (f" with {owner}" if owner else ""))
        self.state = state
        self.owner = owner


# KEYS: conv, queue   ARGV: id, score, max length, max per address, address, conv key prefix, field, value, …
# The caps count the queue as it is in this script; an address's entries are found through the
# queued conversations' hashes (named from the prefix: the queue holds at most `max length`).
_ENQUEUE = """
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'queued' or st == 'agent' then
  local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
  return {0, st, rank and rank + 1 or 0, {}}
end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return {2, 'queue_full', 0, {}} end
if ARGV[5] ~= '' then
  local same = 0
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    if redis.call('HGET', ARGV[6] .. id, 'address') == ARGV[5] then same = same + 1 end
  end
  if same >= tonumber(ARGV[4]) then return {2, 'queue_address_limit', 0, {}} end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'state', 'queued', 'customer_seen', ARGV[7], unpack(ARGV, 8))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local rank = redis.call('ZRANK', KEYS[2], ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'position_at_queue', rank, 'told_position', rank)
return {1, 'queued', rank, redis.call('HGETALL', KEYS[1])}
"""

# KEYS: conv, queue, agent convs, assigned, waits   ARGV: id, agent, max, now, waits kept
_CLAIM = """
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'agent' then
  local owner = redis.call('HGET', KEYS[1], 'agent')
  if owner == ARGV[2] then return {'mine', owner} end
  return {'taken', owner}
end
if st ~= 'queued' then return {'not_queued', ''} end
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[3]) then return {'limit', ''} end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[1], 'state', 'agent', 'agent', ARGV[2], 'claimed_at', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
if redis.call('HSETNX', KEYS[1], 'wait_recorded', '1') == 1 then
  local queued = tonumber(redis.call('HGET', KEYS[1], 'queued_at')) or tonumber(ARGV[4])
  local place = tonumber(redis.call('HGET', KEYS[1], 'position_at_queue')) or 1
  if place < 1 then place = 1 end
  redis.call('LPUSH', KEYS[5], string.format('%.3f', (tonumber(ARGV[4]) - queued) / place))
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[5]) - 1)
end
return {'claimed', ARGV[2]}
"""

# Shared body: back to the queue. KEYS: conv, queue, agent convs, assigned   ARGV: id, agent, score, priority
_REQUEUE_BODY = """
redis.call('HSET', KEYS[1], 'state', 'queued')
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'priority', ARGV[4]) end
redis.call('HDEL', KEYS[1], 'agent', 'claimed_at')
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
local rank = redis.call('ZRANK', KEYS[2], ARGV[1]) + 1
redis.call('HSET', KEYS[1], 'told_position', rank)
return {'released', rank}
"""

_OWNER_CHECK = """
local st = redis.call('HGET', KEYS[1], 'state') or 'bot'
local owner = redis.call('HGET', KEYS[1], 'agent') or ''
if st ~= 'agent' or owner ~= ARGV[2] then return {'not_owner', st, owner} end
"""

_RELEASE = _OWNER_CHECK + _REQUEUE_BODY

# The grace sweeper's release: only when the agent still has no live socket and was last seen
# longer than the grace period ago. Extra KEYS: sockets, seen   extra ARGV: now, stale, grace
_GRACE_EXPIRE = _OWNER_CHECK + """
local now = tonumber(ARGV[5])
if redis.call('ZCOUNT', KEYS[5], now - tonumber(ARGV[6]), '+inf') > 0 then return {'online', st, owner} end
local seen = tonumber(redis.call('GET', KEYS[6]) or '0')
local claimed = tonumber(redis.call('HGET', KEYS[1], 'claimed_at') or '0')
local last = math.max(seen, claimed)
local newest = redis.call('ZREVRANGE', KEYS[5], 0, 0, 'WITHSCORES')
if newest[2] then last = math.max(last, tonumber(newest[2])) end
if now - last < tonumber(ARGV[7]) then return {'grace', st, owner} end
""" + _REQUEUE_BODY

# KEYS: conv, agent convs, assigned[, closing set, closing hash]   ARGV: id, agent[, note, at]
# With the closing keys, the close's remaining steps are noted in the same step (nothing is
# forgotten when the process dies right after).
_CLOSE = _OWNER_CHECK + """
local card = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[1])
if KEYS[5] then
  redis.call('SADD', KEYS[4], ARGV[1])
  redis.call('HSET', KEYS[5], 'agent', ARGV[2], 'note', ARGV[3], 'at', ARGV[4])
  redis.call('EXPIRE', KEYS[5], 86400)
end
return {'closed', card}
"""

# The customer leaves the queue. KEYS: conv, queue   ARGV: id
_LEAVE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# Set a flag field once while queued (timeout offer, acknowledgement). KEYS: conv  ARGV: field
_FLAG_ONCE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
return redis.call('HSETNX', KEYS[1], ARGV[1], '1')
"""

# Note a step done on a card that still exists (a closed conversation gets no new card). KEYS: conv  ARGV: field
_NOTE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HSET', KEYS[1], ARGV[1], '1')
"""

# Lower the position the customer was told, if it went down. KEYS: conv  ARGV: new position
_TELL_POSITION = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
local told = tonumber(redis.call('HGET', KEYS[1], 'told_position') or '0')
local new = tonumber(ARGV[1])
if told ~= 0 and told <= new then return 0 end
redis.call('HSET', KEYS[1], 'told_position', new)
return 1
"""

# Long wait: move up one priority, once. KEYS: conv, queue   ARGV: id, score, priority
_BUMP = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
if redis.call('HSETNX', KEYS[1], 'bumped', '1') == 0 then return 0 end
redis.call('HSET', KEYS[1], 'priority', ARGV[3])
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1])
return 1
"""


# The customer showed a sign of life (wrote, or their web chat is open). KEYS: conv  ARGV: now
_CUSTOMER_SEEN = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'customer_seen', ARGV[1])
return 1
"""

# A queued customer silent since `cutoff` leaves the queue (not one who asked for a callback: they
# were told they need not wait). KEYS: conv, queue   ARGV: id, the wait's start, cutoff
_EXPIRE_SILENT = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
if redis.call('HGET', KEYS[1], 'callback') == '1' then return 0 end
local seen = tonumber(redis.call('HGET', KEYS[1], 'customer_seen') or '0') or 0
if math.max(seen, tonumber(ARGV[2])) > tonumber(ARGV[3]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""


@dataclass(frozen=True)
class QueueCaps:
    """QUEUE_MAX_LENGTH and QUEUE_MAX_PER_ADDRESS (a conversation without an address counts for none)."""

    max_length: int
    max_per_address: int


@dataclass(frozen=True)
class Enqueued:
    created: bool  # False: the conversation was already queued or with an agent, or `refused`
    state: ConversationState
    position: int  # 1 = next; 0 when with an agent
    conversation: DeskConversation | None  # the new record when created
    refused: str | None = None  # a cap said no: `queue_full` or `queue_address_limit`


class DeskQueue:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._enqueue = redis.register_script(_ENQUEUE)
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE)
        self._grace_expire = redis.register_script(_GRACE_EXPIRE)
        self._close = redis.register_script(_CLOSE)
        self._leave = redis.register_script(_LEAVE)
        self._flag_once = redis.register_script(_FLAG_ONCE)
        self._note = redis.register_script(_NOTE)
        self._tell_position = redis.register_script(_TELL_POSITION)
        self._bump = redis.register_script(_BUMP)
        self._customer_seen = redis.register_script(_CUSTOMER_SEEN)
        self._expire_silent = redis.register_script(_EXPIRE_SILENT)

    # -- reading ---------------------------------------------------------------------------

    async def get(self, conversation_id: str) -> DeskConversation | None:
        raw = await self.redis.hgetall(keys.conversation(conversation_id))
        if not raw:
            return None
        return DeskConversation.from_hash(conversation_id, cast(dict[str, str], raw))

    async def entries(self) -> list[DeskConversation]:
        """The queue, next first."""
        return await self._many(cast(list[str], await self.redis.zrange(keys.QUEUE, 0, -1)))

    async def assigned(self, agent: str | None = None) -> list[DeskConversation]:
        key = keys.agent_conversations(agent) if agent else keys.ASSIGNED
        return await self._many(sorted(cast(set[str], await self.redis.smembers(key))))

    async def queued_before(self, when: float) -> list[DeskConversation]:
        """Queued conversations that entered the queue before `when`, next first. The time is read
        from the queue's scores (ms precision, rounded down), so only these hashes are read."""
        scored = cast(list[tuple[str, float]], await self.redis.zrange(keys.QUEUE, 0, -1, withscores=True))
        ids = [i for i, score in scored if queued_at_of(score) < when]
        return await self._many(ids)

    async def holder(self, conversation_id: str) -> tuple[ConversationState, str | None, str | None]:
        """(state, agent, channel): what an agent action checks, without reading the whole card."""
        state, agent, channel = cast(
            list[str | None], await self.redis.hmget(keys.conversation(conversation_id), ["state", "agent", "channel"]),
        )
        return (ConversationState(state) if state else ConversationState.bot), agent or None, channel or None

    async def owners(self) -> list[tuple[str, str]]:
        """(conversation id, agent) of every conversation with an agent, by id."""
        ids = sorted(cast(set[str], await self.redis.smembers(keys.ASSIGNED)))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.hget(keys.conversation(i), "agent")
            agents = cast(list[str | None], await pipe.execute())
        return [(i, a) for i, a in zip(ids, agents, strict=True) if a]

    async def maybe_away(self, agent: str, now: float, stale: float, grace: float) -> bool:
        """False when `expire_grace` would certainly refuse every conversation of the agent: it has
        a live socket, or was seen within the grace period (a claim time only makes it later)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcount(keys.agent_sockets(agent), now - stale, "+inf")
            pipe.get(keys.agent_seen(agent))
            live, seen = await pipe.execute()
        if int(live) > 0:
            return False
        try:
            return now - float(seen or 0) >= grace
        except ValueError:
            return True

    async def _many(self, ids: list[str]) -> list[DeskConversation]:
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.hgetall(keys.conversation(i))
            raws = await pipe.execute()
        return [
            DeskConversation.from_hash(i, raw)
            for i, raw in zip(ids, cast(list[dict[str, str]], raws), strict=True) if raw
        ]

    async def position(self, conversation_id: str) -> int | None:
        rank = cast(int | None, await self.redis.zrank(keys.QUEUE, conversation_id))
        return None if rank is None else rank + 1

    async def estimate_seconds(self, position: int) -> float | None:
        """Median recent wait per queue place × the place; None without history."""
        waits = [float(w) for w in await self.redis.lrange(keys.WAITS, 0, keys.WAITS_KEPT - 1)]
        if not waits:
            return None
        return statistics.median(waits) * max(1, position)

    # -- changing --------------------------------------------------------------------------

    async def enqueue(
        self, conversation_id: str, priority: int, queued_at: float, fields: dict[str, Any], caps: QueueCaps,
        address: str | None = None,
    ) -> Enqueued:
        flat: list[Any] = []
        for name, value in {**fields, "priority": int(priority), "queued_at": f"{queued_at:.3f}",
                            "address": address}.items():
            flat += [name, "" if value is None else str(value)]
        created, state, position, card = await self._enqueue(
            keys=[keys.conversation(conversation_id), keys.QUEUE],
            args=[conversation_id, queue_score(priority, queued_at), caps.max_length, caps.max_per_address,
                  address or "", keys.conversation(""), f"{queued_at:.3f}", *flat],
        )
        if int(created) == 2:
            return Enqueued(False, ConversationState.bot, 0, None, refused=str(state))
        flat_card = [x for x in card]
        conv = DeskConversation.from_hash(conversation_id, dict(zip(flat_card[::2], flat_card[1::2], strict=True))) if flat_card else None
        return Enqueued(bool(int(created)), ConversationState(state), int(position), conv)

    async def claim(self, conversation_id: str, agent: str, max_conversations: int, now: float | None = None) -> bool:
        """True when this call claimed it, False when the agent already had it; else ClaimRefused."""
        result, owner = await self._claim(
            keys=[keys.conversation(conversation_id), keys.QUEUE, keys.agent_conversations(agent),
                  keys.ASSIGNED, keys.WAITS],
            args=[conversation_id, agent, max_conversations, f"{now or time.time():.3f}", keys.WAITS_KEPT],
        )
        result, owner = result, owner
        if result == "claimed":
            return True
        if result == "mine":
            return False
        raise ClaimRefused(result, owner or None)

    def _agent_keys(self, conversation_id: str, agent: str) -> list[str]:
        return [keys.conversation(conversation_id), keys.QUEUE, keys.agent_conversations(agent), keys.ASSIGNED]

    async def release(self, conversation_id: str, agent: str) -> int:
        """Back to the queue at its old place; returns the queue position."""
        conv = await self.get(conversation_id)
        score = queue_score(conv.priority, conv.queued_at) if conv else 0
        result = await self._release(
            keys=self._agent_keys(conversation_id, agent), args=[conversation_id, agent, score, ""],
        )
        return self._released(result)

    async def expire_grace(self, conversation_id: str, agent: str, now: float, stale: float, grace: float) -> int | None:
        """Back to the front of the queue if the agent has been away longer than `grace`."""
        conv = await self.get(conversation_id)
        queued_at = conv.queued_at if conv else now
        result = await self._grace_expire(
            keys=[*self._agent_keys(conversation_id, agent), keys.agent_sockets(agent), keys.agent_seen(agent)],
            args=[conversation_id, agent, queue_score(PRIORITY_RETURNED, queued_at), PRIORITY_RETURNED,
                  f"{now:.3f}", stale, grace],
        )
        if result[0] in ("online", "grace", "not_owner"):
            return None
        return int(result[1])

    @staticmethod
    def _released(result: list[Any]) -> int:
        if result[0] == "not_owner":
            raise NotOwner(ConversationState(result[1]), result[2] or None)
        return int(result[1])

    async def close(self, conversation_id: str, agent: str, note: str | None = None, at: float = 0.0) -> DeskConversation:
        """With a `note`: an agent's close, whose remaining steps are noted under `keys.closing`."""
        pending = [keys.CLOSING, keys.closing(conversation_id)] if note is not None else []
        result = await self._close(
            keys=[keys.conversation(conversation_id), keys.agent_conversations(agent), keys.ASSIGNED, *pending],
            args=[conversation_id, agent, *([note, repr(at)] if note is not None else [])],
        )
        if result[0] == "not_owner":
            raise NotOwner(ConversationState(result[1]), result[2] or None)
        flat = [x for x in result[1]]
        return DeskConversation.from_hash(conversation_id, dict(zip(flat[::2], flat[1::2], strict=True)))

    async def leave(self, conversation_id: str) -> bool:
        """The customer leaves the queue (back to the bot); False when not queued."""
        return bool(await self._leave(keys=[keys.conversation(conversation_id), keys.QUEUE], args=[conversation_id]))

    async def customer_seen(self, conversation_ids: list[str], now: float) -> None:
        """The customers of these conversations showed a sign of life (only queued ones are noted)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in conversation_ids:
                await self._customer_seen(keys=[keys.conversation(cid)], args=[f"{now:.3f}"], client=pipe)
            await pipe.execute()

    async def expire_silent(self, conversation_id: str, since: float, cutoff: float) -> bool:
        """Out of the queue if the customer has shown no sign of life since `cutoff` (nor has the
        wait, which began at `since`); True for the one call that took it out."""
        return bool(await self._expire_silent(
            keys=[keys.conversation(conversation_id), keys.QUEUE], args=[conversation_id, f"{since:.3f}", f"{cutoff:.3f}"],
        ))

    async def flag_once(self, conversation_id: str, name: str) -> bool:
        """Set a flag of a queued conversation; True only for the one call that set it."""
        return bool(await self._flag_once(keys=[keys.conversation(conversation_id)], args=[name]))

    async def note(self, conversation_id: str, name: str) -> None:
        """Mark a step done on the card (`"1"`), unless the card is gone."""
        await self._note(keys=[keys.conversation(conversation_id)], args=[name])

    async def set_fields(self, conversation_id: str, name: str, value: str) -> None:
        await self.redis.hset(keys.conversation(conversation_id), name, value)

    async def tell_position(self, conversation_id: str, position: int) -> bool:
        return bool(await self._tell_position(keys=[keys.conversation(conversation_id)], args=[position]))

    async def bump(self, conv: DeskConversation) -> bool:
        priority = min(int(Priority.urgent), conv.priority + 1)
        if priority <= conv.priority:
            return False
        return bool(await self._bump(
            keys=[keys.conversation(conv.conversation_id), keys.QUEUE],
            args=[conv.conversation_id, queue_score(priority, conv.queued_at), priority],
        ))
