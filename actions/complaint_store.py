"""Complaints in the database: references, the row, "is this a repeat?", and the customer's additions."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import as_utc, utcnow
from db import complaints as lifecycle
from db.models import Complaint

# No 0/O, 1/I/L: customers read references out on the phone.
_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
REPEAT_WINDOW = dt.timedelta(days=30)


def new_reference(now: dt.datetime | None = None) -> str:
    """"RK-2026-4F7Q2": year plus five random characters, so references reveal no sequence or volume."""
    year = (now or dt.datetime.now(dt.UTC)).year
    return f"RK-{year}-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(5))


@dataclass(frozen=True)
class NewComplaint:
    conversation_id: str
    channel: str
    category: str
    order_number: str | None
    description: str
    media_url: str | None
    language: str


@dataclass(frozen=True)
class StoredComplaint:
    reference: str
    earlier_complaints: int  # of the same conversation within REPEAT_WINDOW, before this one

    @property
    def is_repeat(self) -> bool:
        return self.earlier_complaints > 0


async def earlier_complaints(session: AsyncSession, conversation_id: str, now: dt.datetime) -> int:
    return (await session.execute(
        select(func.count()).select_from(Complaint).where(
            Complaint.conversation_id == conversation_id, Complaint.created_at >= now - REPEAT_WINDOW)
    )).scalar_one()


async def store_complaint(
    sessions: async_sessionmaker[AsyncSession], complaint: NewComplaint, needs_human: bool,
) -> StoredComplaint:
    """Insert the complaint under a fresh unique reference; counts earlier ones for the repeat rule.

    `needs_human` is raised to True for a repeat, which always goes to a person.
    """
    now = dt.datetime.now(dt.UTC)
    for _attempt in range(5):
        async with sessions() as session:
            earlier = await earlier_complaints(session, complaint.conversation_id, now)
            reference = new_reference(now)
            row = Complaint(
                reference=reference, conversation_id=complaint.conversation_id, channel=complaint.channel,
                category=complaint.category, order_number=complaint.order_number,
                description=complaint.description, media_url=complaint.media_url, language=complaint.language,
                needs_human=needs_human or earlier > 0, status=lifecycle.Status.open.value, created_at=now,
            )
            session.add(row)
            try:
                await session.flush()
                lifecycle.add_event(session, row, lifecycle.EventKind.created, lifecycle.BOT,
                                    text=complaint.description, at=now)
                if complaint.media_url:
                    lifecycle.add_event(session, row, lifecycle.EventKind.photo, lifecycle.CUSTOMER,
                                        media_url=complaint.media_url, at=now)
                await session.commit()
            except IntegrityError:
                # 31^5 references a year: a clash is rare, and a new draw resolves it.
                await session.rollback()
                continue
            return StoredComplaint(reference=reference, earlier_complaints=earlier)
    raise RuntimeError("could not find a free complaint reference after 5 attempts")


async def mark_needs_human(sessions: async_sessionmaker[AsyncSession], reference: str) -> None:
    """The customer asked for a person about a complaint filed without that need."""
    async with sessions() as session:
        await session.execute(update(Complaint).where(Complaint.reference == reference).values(needs_human=True))
        await session.commit()


@dataclass(frozen=True)
class Followed:
    """The complaint a customer's message adds to."""

    reference: str
    order_number: str | None
    category: str


async def complaint_to_follow(
    sessions: async_sessionmaker[AsyncSession], conversation_id: str, reference: str | None,
) -> Followed | None:
    """The customer's complaint (this reference, else their latest) filed within the follow-up window."""
    async with sessions() as session:
        row = await lifecycle.customers_complaint(
            session, conversation_id, reference, since=utcnow() - lifecycle.FOLLOW_UP_WINDOW)
    return Followed(row.reference, row.order_number, row.category) if row else None


async def add_detail(
    sessions: async_sessionmaker[AsyncSession], conversation_id: str, reference: str,
    text: str | None, media_urls: list[str],
) -> bool:
    """The customer's detail (text and pictures) on the timeline of their complaint; False when it is not theirs."""
    async with sessions() as session:
        row = await lifecycle.customers_complaint(session, conversation_id, reference)
        if row is None:
            return False
        at = utcnow()
        if text:
            lifecycle.add_event(session, row, lifecycle.EventKind.detail, lifecycle.CUSTOMER, text=text, at=at)
        for url in media_urls:
            lifecycle.add_event(session, row, lifecycle.EventKind.photo, lifecycle.CUSTOMER, media_url=url, at=at)
        row.updated_at = at
        await session.commit()
    return True


@dataclass(frozen=True)
class StatusAnswer:
    reference: str
    status: str
    resolution: str | None
    last_update: dt.datetime


async def status_of(
    sessions: async_sessionmaker[AsyncSession], conversation_id: str, reference: str | None,
) -> StatusAnswer | None:
    """The state of the customer's complaint (this reference, else their latest); None for another's."""
    async with sessions() as session:
        row = await lifecycle.customers_complaint(session, conversation_id, reference)
        if row is None:
            return None
        events = await lifecycle.timeline(session, row)
    last = as_utc(events[-1].created_at if events else row.created_at)
    return StatusAnswer(row.reference, row.status, row.resolution, last)
