"""When conversations start, for the reports: a customer message after an hour of silence (Rasa's
session expiry, `session_expiration_time` in domain.yml) starts a new conversation, so a returning
customer (whose id stays the same) counts again while one conversation's messages count once."""

from __future__ import annotations

import datetime as dt

from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import ConversationStart
from handoff.reports import keys

# As domain.yml's session_config.session_expiration_time (60 minutes).
IDLE_SECONDS = 3600


class ConversationStarts:
    def __init__(self, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._redis = redis
        self._sessionmaker = sessionmaker

    async def customer_wrote(self, conversation_id: str, channel: str, at: float) -> bool:
        """Note a customer message; True when it started a conversation (one row written)."""
        key = keys.active(conversation_id)
        before = await self._redis.set(key, f"{at:.3f}", ex=IDLE_SECONDS, get=True)
        if before is not None:
            return False
        try:
            async with self._sessionmaker() as session, session.begin():
                session.add(ConversationStart(
                    conversation_id=conversation_id, channel=channel,
                    started_at=dt.datetime.fromtimestamp(at, dt.UTC), handed_off=False,
                ))
        except BaseException:
            await self._redis.delete(key)  # the retry of this message writes the row
            raise
        return True


async def mark_handed_off(session: AsyncSession, conversation_id: str) -> None:
    """The newest conversation of this id reached the desk (inside the caller's transaction)."""
    newest = select(func.max(ConversationStart.id)).where(ConversationStart.conversation_id == conversation_id)
    await session.execute(
        update(ConversationStart).where(ConversationStart.id == newest.scalar_subquery()).values(handed_off=True)
    )
