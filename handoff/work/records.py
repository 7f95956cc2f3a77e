"""What the desk keeps in SQL: one `handoffs` row per stay with the desk, and what it reads back
for the agent (transcript from `messages`, the complaint)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import iso
from db.models import Complaint, Handoff, Message
from handoff.work.starts import mark_handed_off

# How a stay can end before any agent claimed it; reports count these as abandoned waits.
ABANDONED_OUTCOMES = ("customer_left", "timed_out", "expired")


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class HandoffRecords:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def opened(self, conversation_id: str, channel: str, reason: str, priority: int, summary: str, at: float) -> int:
        async with self._sessionmaker() as session, session.begin():
            row = Handoff(
                conversation_id=conversation_id, channel=channel, reason=reason[:64], priority=priority,
                summary=summary, queued_at=utc(at),
            )
            session.add(row)
            await mark_handed_off(session, conversation_id)
        return row.id

    def _open(self, conversation_id: str) -> Update:
        return update(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.closed_at.is_(None))

    async def claimed(self, conversation_id: str, agent: str, at: float) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(self._open(conversation_id).values(agent_id=agent, claimed_at=utc(at)))

    async def responded(self, conversation_id: str, at: float) -> None:
        """The agent wrote: the first message after the claim is the stay's first response."""
        async with self._sessionmaker() as session, session.begin():
            await session.execute(self._open(conversation_id).where(
                Handoff.claimed_at.is_not(None), Handoff.first_response_at.is_(None),
            ).values(first_response_at=utc(at)))

    async def abandoned(self, conversation_id: str, outcome: str, at: float, close: bool = True) -> None:
        """The customer's wait ended without an agent: `outcome` is one of ABANDONED_OUTCOMES. With
        `close` the stay ends (left, expired); without it the customer still waits (timed out and
        offered a callback): reports count it abandoned unless an agent claims it after all."""
        if outcome not in ABANDONED_OUTCOMES:
            raise ValueError(f"{outcome!r} is not an abandoned outcome ({', '.join(ABANDONED_OUTCOMES)})")
        values: dict[str, Any] = {"outcome": outcome, "abandoned_at": func.coalesce(Handoff.abandoned_at, utc(at))}
        if close:
            values["closed_at"] = utc(at)
        async with self._sessionmaker() as session, session.begin():
            await session.execute(self._open(conversation_id).values(**values))

    async def outcome(self, conversation_id: str, outcome: str) -> None:
        """Mark the open stay (callback requested, returned after a dropped agent, …)."""
        async with self._sessionmaker() as session, session.begin():
            await session.execute(self._open(conversation_id).values(outcome=outcome))

    async def finished(self, conversation_id: str, outcome: str, at: float, note: str | None = None, agent: str | None = None) -> None:
        values: dict[str, Any] = {"outcome": outcome, "closed_at": utc(at)}
        if note is not None:
            values["resolution_note"] = note
        if agent is not None:
            values["agent_id"] = agent
        async with self._sessionmaker() as session, session.begin():
            await session.execute(self._open(conversation_id).values(**values))

    async def open_id(self, conversation_id: str) -> int | None:
        async with self._sessionmaker() as session:
            return (await session.scalars(
                select(Handoff.id).where(Handoff.conversation_id == conversation_id, Handoff.closed_at.is_(None))
                .order_by(Handoff.id.desc()).limit(1)
            )).first()

    async def history(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self._sessionmaker() as session:
            rows = (await session.scalars(
                select(Handoff).where(Handoff.conversation_id == conversation_id).order_by(Handoff.id)
            )).all()
        return [
            {
                "id": r.id, "channel": r.channel, "reason": r.reason, "priority": r.priority, "summary": r.summary,
                "agent_id": r.agent_id, "resolution_note": r.resolution_note, "outcome": r.outcome,
                "queued_at": iso(r.queued_at), "claimed_at": iso(r.claimed_at), "closed_at": iso(r.closed_at),
            }
            for r in rows
        ]

    async def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        """Every line, bot part included, oldest first."""
        async with self._sessionmaker() as session:
            rows = (await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )).all()
        return [
            {"id": r.id, "sender": r.sender, "text": r.text, "agent_id": r.agent_id, "created_at": iso(r.created_at)}
            for r in rows
        ]

    async def complaint(self, reference: str) -> dict[str, Any] | None:
        async with self._sessionmaker() as session:
            row = (await session.scalars(select(Complaint).where(Complaint.reference == reference))).first()
        if row is None:
            return None
        return {
            "reference": row.reference, "category": row.category, "order_number": row.order_number,
            "description": row.description, "media_url": row.media_url, "status": row.status,
            "needs_human": row.needs_human, "language": row.language, "created_at": iso(row.created_at),
        }
