"""The conversation transcript in the `messages` table: every customer, bot and agent line.

Written by the router (customer messages) and the Delivery (bot and agent messages); read back
as the history a reconnecting web chat shows, and by the desk for the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Message, Sender

HISTORY_LIMIT = 200


class Transcript:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        # SQLite has one writer at a time; this process's writers that contend for its lock
        # wait in the busy handler's sleeps (1, 2, 5, … 100 ms). They take turns here instead.
        bind = sessionmaker.kw.get("bind")
        self._write_turn = asyncio.Lock() if bind is not None and bind.dialect.name == "sqlite" else None

    async def record(
        self, conversation_id: str, channel: str, sender: Sender | str, text: str, agent_id: str | None = None,
    ) -> None:
        await self.record_many(conversation_id, channel, [(sender, text, agent_id)])

    async def record_customer_once(self, conversation_id: str, channel: str, text: str, message_id: str) -> None:
        """The customer's line, unless a line with this message identity was written before
        (the router's retry after a crash between writing it and noting that in Redis)."""
        async with self._write_turn or contextlib.nullcontext(), self._sessionmaker() as session, session.begin():
            written = (await session.scalars(select(Message.id).where(
                Message.conversation_id == conversation_id, Message.message_id == message_id,
            ).limit(1))).first()
            if written is None:
                await session.execute(insert(Message), [{
                    "conversation_id": conversation_id, "channel": channel, "sender": Sender.customer.value,
                    "text": text, "message_id": message_id,
                }])

    async def record_many(
        self, conversation_id: str, channel: str, lines: list[tuple[Sender | str, str, str | None]],
    ) -> None:
        """Several lines (sender, text, agent_id) in one transaction, in this order."""
        if not lines:
            return
        async with self._write_turn or contextlib.nullcontext(), self._sessionmaker() as session, session.begin():
            await session.execute(insert(Message), [
                {"conversation_id": conversation_id, "channel": channel, "sender": Sender(sender).value,
                 "text": text, "agent_id": agent_id}
                for sender, text, agent_id in lines
            ])

    async def history(self, conversation_id: str, limit: int = HISTORY_LIMIT) -> list[dict[str, Any]]:
        """The newest `limit` lines the customer may see (no system lines), oldest first."""
        async with self._sessionmaker() as session:
            rows = (await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id, Message.sender != Sender.system.value)
                .order_by(Message.id.desc()).limit(limit)
            )).all()
        return [
            {
                "sender": row.sender, "text": row.text, "agent_id": row.agent_id,
                "created_at": row.created_at.isoformat() if row.created_at else None,
            }
            for row in reversed(rows)
        ]
