"""Handing a conversation from one agent straight to another (the queue way is `release`)."""

from __future__ import annotations

from redis.asyncio import Redis

from handoff.queue import keys
from handoff.queue.desk_queue import _OWNER_CHECK, NotOwner
from handoff.queue.state import ConversationState

# KEYS: conv, from convs, to convs, assigned   ARGV: id, from, to, max, now
_TRANSFER = _OWNER_CHECK + """
if redis.call('SCARD', KEYS[3]) >= tonumber(ARGV[4]) then return {'limit', st, owner} end
redis.call('HSET', KEYS[1], 'agent', ARGV[3], 'claimed_at', ARGV[5])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
return {'transferred', st, ARGV[3]}
"""


class TargetFull(Exception):
    """The receiving agent already holds AGENT_MAX_CONVERSATIONS conversations."""


class Transfers:
    def __init__(self, redis: Redis) -> None:
        self._script = redis.register_script(_TRANSFER)

    async def to_agent(self, conversation_id: str, agent: str, target: str, max_conversations: int, now: float) -> None:
        """Raises NotOwner unless `agent` holds it, TargetFull when `target` has no room."""
        result, st, owner = await self._script(
            keys=[keys.conversation(conversation_id), keys.agent_conversations(agent),
                  keys.agent_conversations(target), keys.ASSIGNED],
            args=[conversation_id, agent, target, max_conversations, f"{now:.3f}"],
        )
        result = str(result)
        if result == "not_owner":
            raise NotOwner(ConversationState(str(st)), str(owner) or None)
        if result == "limit":
            raise TargetFull(target)
