"""The customer column of the console: a short non-secret label, earlier conversations, ratings.

A web chat conversation id carries the customer's session id, which resumes the conversation:
it is their credential and never shown. The console shows `customer_label(id)` instead, four hex
digits of a hash: enough to tell customers apart on screen, useless for resuming anything.

Earlier conversations of the same customer (any channel) are those that share an order number
with this one (from the handoff card or a complaint); ratings are the feedback of all of them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import iso
from db.models import Complaint, Feedback, Handoff, Message
from handoff.labels import customer_label

MAX_RELATED = 20


class CustomerView:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def of(self, conversation_id: str, order_number: str | None) -> dict[str, Any]:
        async with self._sessionmaker() as session:
            orders = set((await session.scalars(
                select(Complaint.order_number).where(
                    Complaint.conversation_id == conversation_id, Complaint.order_number.is_not(None),
                )
            )).all())
            if order_number:
                orders.add(order_number)
            related: set[str] = set()
            if orders:
                related = set((await session.scalars(
                    select(Complaint.conversation_id).where(Complaint.order_number.in_(orders)).limit(MAX_RELATED)
                )).all())
            related.discard(conversation_id)
            conversations = await self._conversations(session, sorted(related))
            ratings = (await session.scalars(
                select(Feedback).where(Feedback.conversation_id.in_([conversation_id, *related]))
                .order_by(Feedback.created_at.desc()).limit(MAX_RELATED)
            )).all()
        return {
            "label": customer_label(conversation_id),
            "order_numbers": sorted(o for o in orders if o),
            "conversations": conversations,
            "ratings": [
                {"rating": r.rating, "comment": r.comment, "agent": r.agent_id, "created_at": iso(r.created_at),
                 "customer_label": customer_label(r.conversation_id), "conversation_id": r.conversation_id}
                for r in ratings
            ],
        }

    @staticmethod
    async def _conversations(session: AsyncSession, ids: list[str]) -> list[dict[str, Any]]:
        if not ids:
            return []
        spans = (await session.execute(
            select(Message.conversation_id, Message.channel, func.min(Message.created_at), func.max(Message.created_at),
                   func.count(Message.id))
            .where(Message.conversation_id.in_(ids)).group_by(Message.conversation_id, Message.channel)
        )).all()
        stays: dict[str, int] = {cid: count for cid, count in (await session.execute(
            select(Handoff.conversation_id, func.count(Handoff.id)).where(Handoff.conversation_id.in_(ids))
            .group_by(Handoff.conversation_id)
        )).all()}
        found = [
            {"conversation_id": cid, "customer_label": customer_label(cid), "channel": channel,
             "started_at": iso(first), "last_at": iso(last), "messages": count, "handoffs": stays.get(cid, 0)}
            for cid, channel, first, last, count in spans
        ]
        return sorted(found, key=lambda c: c["last_at"] or "", reverse=True)
