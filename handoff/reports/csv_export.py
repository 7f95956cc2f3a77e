"""CSV exports for spreadsheets: UTF-8 with a byte order mark and `;` between columns, so German
Excel opens umlauts and columns correctly; customer text that a spreadsheet would read as a formula
(starting with = + - @, a tab or a carriage return) gets a leading apostrophe."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import as_utc
from db.models import Complaint, Feedback
from handoff.labels import customer_label
from handoff.reports.summary import Period

BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

FEEDBACK_COLUMNS = ("created_at", "customer", "channel", "rating", "agent", "comment")
COMPLAINT_COLUMNS = ("created_at", "reference", "customer", "channel", "category", "order_number",
                     "status", "description")


def cell(value: Any) -> str:
    """One value as a spreadsheet shows it; text is defused against formula injection."""
    if value is None:
        return ""
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return (BOM + out.getvalue()).encode("utf-8")


_Row = TypeVar("_Row", Feedback, Complaint)


async def _created_in(sessionmaker: async_sessionmaker[AsyncSession], model: type[_Row], period: Period) -> Sequence[_Row]:
    """The rows created in the period, oldest first."""
    async with sessionmaker() as session:
        return (await session.scalars(
            select(model).where(model.created_at >= period.start, model.created_at < period.end)
            .order_by(model.created_at, model.id)
        )).all()


async def feedback_csv(sessionmaker: async_sessionmaker[AsyncSession], period: Period) -> bytes:
    rows = await _created_in(sessionmaker, Feedback, period)
    return render(FEEDBACK_COLUMNS, (
        (_local(r.created_at, period), customer_label(r.conversation_id), r.channel, r.rating, r.agent_id, r.comment) for r in rows
    ))


async def complaints_csv(sessionmaker: async_sessionmaker[AsyncSession], period: Period) -> bytes:
    rows = await _created_in(sessionmaker, Complaint, period)
    return render(COMPLAINT_COLUMNS, (
        (_local(r.created_at, period), r.reference, customer_label(r.conversation_id), r.channel, r.category, r.order_number,
         r.status, r.description) for r in rows
    ))


def _local(value: dt.datetime, period: Period) -> str:
    """A timestamp in the shop's time zone, as a spreadsheet reads it (YYYY-MM-DD HH:MM:SS)."""
    return as_utc(value).astimezone(period.zone).strftime("%Y-%m-%d %H:%M:%S")
