"""Where order facts come from: an `OrderSource` protocol, and the demo source on the `orders` table.

A real shop would put its shop system's API behind the same protocol; the actions only see `OrderInfo`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Order

# Demo format "AK-123456"; customers also type "ak 123456", "AK123456", "AK - 123456" or "#AK-123456".
# Every quantifier is bounded and one class covers the separators, so the work per start position is
# constant and a search is linear in the text (customer text is untrusted: no backtracking blow-up).
_ORDER_NUMBER = re.compile(r"\b(AK)[\s\-–_]{0,3}(\d{6})\b", re.IGNORECASE)


def find_order_number(text: str) -> str | None:
    """The first order number in free text, normalised to "AK-123456", or None."""
    match = _ORDER_NUMBER.search(text or "")
    return f"AK-{match.group(2)}" if match else None


@dataclass(frozen=True)
class OrderInfo:
    order_number: str
    status: str  # received, processing, shipped, delivered, cancelled or returned
    carrier: str | None
    tracking_number: str | None
    expected_delivery: dt.date | None


class OrderSource(Protocol):
    async def find(self, order_number: str) -> OrderInfo | None:
        """The order with this (normalised) number, or None when there is none."""
        ...


class DatabaseOrderSource:
    """Orders from the application database's `orders` table (the demo shop's order system)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def find(self, order_number: str) -> OrderInfo | None:
        async with self._sessions() as session:
            row = (await session.execute(select(Order).where(Order.order_number == order_number))).scalar_one_or_none()
        if row is None:
            return None
        return OrderInfo(
            order_number=row.order_number, status=row.status, carrier=row.carrier,
            tracking_number=row.tracking_number, expected_delivery=row.expected_delivery,
        )
