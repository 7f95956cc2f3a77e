"""Demo orders for the Alpenkiste shop: `python -m actions.demo_orders [DATABASE_URL]`.

Idempotent: each run brings the demo rows to the state below (expected delivery dates relative
to today, so "arrives tomorrow" stays true), other rows are left alone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
import threading

from sqlalchemy.ext.asyncio import AsyncSession

from db.engine import DEFAULT_DATABASE_URL, create_engine, session_factory
from db.models import Order

# (number, status, carrier, tracking number, days until expected delivery, items)
DEMO_ORDERS: list[tuple[str, str, str | None, str | None, int | None, str]] = [
    ("AK-123456", "shipped", "DHL", "00340434161094042557", 2, "Zirbenkissen, Bergkäse-Set"),
    ("AK-100001", "processing", None, None, 4, "Wanderrucksack 28 l"),
    ("AK-100002", "received", None, None, 5, "Lodenjacke Gr. M"),
    ("AK-100003", "delivered", "DHL", "00340434161094042558", -3, "Alpenkräuter-Tee (3 Stück)"),
    ("AK-100004", "cancelled", None, None, None, "Filzpantoffeln Gr. 42"),
    ("AK-100005", "shipped", "Swiss Post", "99.60.123456.12345678", 3, "Zirbenholz-Brotkasten"),
    ("AK-100006", "returned", "DHL", "00340434161094042559", -10, "Trachtenhemd Gr. L"),
]


async def _seed(url: str) -> int:
    engine = create_engine(url)
    today = dt.date.today()
    try:
        async with session_factory(engine)() as session:
            session: AsyncSession
            for number, status, carrier, tracking, days, items in DEMO_ORDERS:
                await session.merge(Order(
                    order_number=number, status=status, carrier=carrier, tracking_number=tracking,
                    expected_delivery=today + dt.timedelta(days=days) if days is not None else None, items=items,
                ))
            await session.commit()
    finally:
        await engine.dispose()
    return len(DEMO_ORDERS)


def seed(database_url: str) -> int:
    """Write the demo orders into `database_url` (migrated); returns how many. Safe to run again."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_seed(database_url))
    # Called from inside an event loop (an async test): run on a thread with its own loop.
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(asyncio.run(_seed(database_url))))
    worker.start()
    worker.join()
    return result[0]


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    print(f"demo orders: {seed(url)} written")
