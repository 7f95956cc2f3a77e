"""Internal notes on a conversation: written by agents, shown to every agent who opens it, never
sent to the customer (they live in their own table, apart from the transcript)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import iso
from db.models import ConversationNote

MAX_NOTE = 2000


class Notes:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def add(self, conversation_id: str, agent: str, text: str) -> dict[str, Any]:
        async with self._sessionmaker() as session, session.begin():
            row = ConversationNote(conversation_id=conversation_id, agent_id=agent, text=text[:MAX_NOTE])
            session.add(row)
        async with self._sessionmaker() as session:
            stored = await session.get(ConversationNote, row.id)
            assert stored is not None
            return _view(stored)

    async def of(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self._sessionmaker() as session:
            rows = (await session.scalars(
                select(ConversationNote).where(ConversationNote.conversation_id == conversation_id)
                .order_by(ConversationNote.id)
            )).all()
        return [_view(r) for r in rows]


def _view(row: ConversationNote) -> dict[str, Any]:
    return {"id": row.id, "agent": row.agent_id, "text": row.text, "created_at": iso(row.created_at)}
