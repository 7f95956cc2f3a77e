"""A complaint's lifecycle, shared by the action server (customers) and the desk (agents).

States: open → in_progress → resolved | rejected (an open complaint may also be resolved or
rejected at once; the two final states do not change any more). Every change, every detail or
photo the customer adds and every notice the customer was sent is a `complaint_events` row:
the complaint's timeline, with who and when.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.clock import iso, utcnow
from db.models import Complaint, ComplaintEvent


class Status(str, enum.Enum):
    open = "open"  # filed, nobody has looked at it yet
    in_progress = "in_progress"  # an agent works on it
    resolved = "resolved"  # settled for the customer (refund, replacement, voucher, explanation)
    rejected = "rejected"  # not upheld; the resolution text explains why


FINAL = frozenset({Status.resolved, Status.rejected})
_NEXT: dict[Status, frozenset[Status]] = {
    Status.open: frozenset({Status.in_progress, Status.resolved, Status.rejected}),
    Status.in_progress: frozenset({Status.open, Status.resolved, Status.rejected}),
    Status.resolved: frozenset(),
    Status.rejected: frozenset(),
}


class EventKind(str, enum.Enum):
    created = "created"  # the bot filed it (text: the description)
    detail = "detail"  # the customer added a detail or a correction (text)
    photo = "photo"  # the customer sent a picture (media_url)
    status = "status"  # an agent changed the state (status; text: the resolution, if any)
    notice = "notice"  # the customer was told the outcome (text: what they were sent)


# Who a timeline entry is from, besides agents (who appear by name).
CUSTOMER = "customer"
BOT = "bot"
REFERENCE = re.compile(r"\b[Rr][Kk]\s?-\s?(\d{4})\s?-\s?([2-9A-Za-z]{5})\b")
# Details and photos are added to a complaint of the same customer this long after it was filed.
FOLLOW_UP_WINDOW = dt.timedelta(days=14)


class UnknownComplaint(LookupError):
    """No complaint has this reference."""


class InvalidTransition(ValueError):
    def __init__(self, current: str, wanted: str) -> None:
        possible = _NEXT.get(Status(current), frozenset()) if current in Status.__members__ else frozenset()
        allowed = ", ".join(s.value for s in possible)
        super().__init__(f"a complaint that is {current} cannot become {wanted}"
                         + (f" (possible: {allowed})" if allowed else " (it is closed)"))
        self.current = current
        self.wanted = wanted


def reference_in(text: str) -> str | None:
    """A complaint reference the customer typed ("rk-2026-4f7q2" → "RK-2026-4F7Q2")."""
    match = REFERENCE.search(text or "")
    return f"RK-{match.group(1)}-{match.group(2).upper()}" if match else None


def add_event(
    session: AsyncSession, complaint: Complaint, kind: EventKind, actor: str, *, text: str | None = None,
    media_url: str | None = None, status: str | None = None, at: dt.datetime | None = None,
) -> None:
    session.add(ComplaintEvent(complaint_id=complaint.id, kind=kind.value, actor=actor, text=text,
                               media_url=media_url, status=status, created_at=at or utcnow()))


async def by_reference(session: AsyncSession, reference: str) -> Complaint | None:
    return (await session.execute(select(Complaint).where(Complaint.reference == reference))).scalar_one_or_none()


async def of_customer(session: AsyncSession, conversation_id: str) -> list[Complaint]:
    """The customer's complaints, newest first."""
    return list((await session.scalars(
        select(Complaint).where(Complaint.conversation_id == conversation_id)
        .order_by(Complaint.created_at.desc(), Complaint.id.desc())
    )).all())


async def customers_complaint(
    session: AsyncSession, conversation_id: str, reference: str | None, since: dt.datetime | None = None,
) -> Complaint | None:
    """The customer's complaint with this reference, else (no reference) their latest one.

    Another customer's reference finds nothing, exactly like an unknown one."""
    query = select(Complaint).where(Complaint.conversation_id == conversation_id)
    if reference:
        query = query.where(Complaint.reference == reference)
    if since is not None:
        query = query.where(Complaint.created_at >= since)
    query = query.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def timeline(session: AsyncSession, complaint: Complaint) -> list[ComplaintEvent]:
    return list((await session.scalars(
        select(ComplaintEvent).where(ComplaintEvent.complaint_id == complaint.id)
        .order_by(ComplaintEvent.created_at, ComplaintEvent.id)
    )).all())


@dataclass(frozen=True)
class Change:
    complaint: Complaint
    before: str

    @property
    def closed(self) -> bool:
        """The change made the complaint final: the customer is to be told."""
        return self.complaint.status in {s.value for s in FINAL} and self.before != self.complaint.status


async def change_status(
    session: AsyncSession, reference: str, wanted: Status, resolution: str | None, actor: str,
) -> Change:
    """Moves the complaint to `wanted` (the same state again only updates the resolution); the caller commits."""
    complaint = await by_reference(session, reference)
    if complaint is None:
        raise UnknownComplaint(reference)
    before = complaint.status
    current = Status(before) if before in Status.__members__ else Status.open
    if wanted.value != before and wanted not in _NEXT[current]:
        raise InvalidTransition(before, wanted.value)
    at = utcnow()
    complaint.status = wanted.value
    if resolution:
        complaint.resolution = resolution
    complaint.updated_at = at
    add_event(session, complaint, EventKind.status, actor, text=resolution or None, status=wanted.value, at=at)
    return Change(complaint, before)


def event_view(event: ComplaintEvent) -> dict[str, Any]:
    return {"kind": event.kind, "actor": event.actor, "text": event.text, "media_url": event.media_url,
            "status": event.status, "at": iso(event.created_at)}


def complaint_view(complaint: Complaint, events: list[ComplaintEvent]) -> dict[str, Any]:
    return {
        "reference": complaint.reference, "conversation_id": complaint.conversation_id,
        "channel": complaint.channel, "category": complaint.category, "order_number": complaint.order_number,
        "description": complaint.description, "media_url": complaint.media_url, "language": complaint.language,
        "needs_human": complaint.needs_human, "status": complaint.status, "resolution": complaint.resolution,
        "created_at": iso(complaint.created_at), "updated_at": iso(complaint.updated_at),
        "timeline": [event_view(e) for e in events],
    }
