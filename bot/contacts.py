"""Contacts (the `contacts` table): the address behind a conversation id (a phone number), the
provider that last carried the customer's message, the opt-out and the last message time."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import as_utc
from db.models import Contact


@dataclass(frozen=True)
class ContactInfo:
    address: str
    provider: str
    opted_out: bool
    last_inbound_at: dt.datetime | None


class Contacts:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def saw_inbound(self, conversation_id: str, channel: str, address: str, provider: str, opted_out: bool) -> None:
        """The customer wrote: remember the address, the provider and when; any message but STOP
        opts them back in."""
        try:
            await self._upsert(conversation_id, channel, address, provider, opted_out)
        except IntegrityError:  # a second message of a new customer inserted the row first
            await self._upsert(conversation_id, channel, address, provider, opted_out)

    async def _upsert(self, conversation_id: str, channel: str, address: str, provider: str, opted_out: bool) -> None:
        now = dt.datetime.now(dt.UTC)
        async with self._sessionmaker() as session, session.begin():
            updated = await session.execute(
                update(Contact).where(Contact.conversation_id == conversation_id)
                .values(address=address, provider=provider, opted_out=opted_out, last_inbound_at=now)
            )
            if cast(CursorResult[Any], updated).rowcount == 0:  # a new customer
                session.add(Contact(
                    conversation_id=conversation_id, channel=channel, address=address, provider=provider,
                    opted_out=opted_out, last_inbound_at=now,
                ))

    async def conversations_at(self, address: str) -> list[str]:
        """The conversations whose customer has this address (a number in E.164 form)."""
        async with self._sessionmaker() as session:
            return list((await session.scalars(
                select(Contact.conversation_id).where(Contact.address == address))).all())

    async def get(self, conversation_id: str) -> ContactInfo | None:
        async with self._sessionmaker() as session:
            row = (await session.scalars(select(Contact).where(Contact.conversation_id == conversation_id))).first()
        if row is None:
            return None
        return ContactInfo(row.address, row.provider, bool(row.opted_out), as_utc(row.last_inbound_at))
