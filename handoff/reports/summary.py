"""The figures of `GET /api/reports/summary`: a handful of indexed period queries, the rest in Python.

Periods are whole local days of the BUSINESS_HOURS time zone, `to` inclusive. Conversations count
in the period in which they started; ratings, rating requests, handoffs, complaints and
not-understood messages in the period in which they happened. Empty figures are None (JSON null).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import as_utc
from db.models import Complaint, ConversationStart, Feedback, Handoff, RatingRequest, UnknownMessage
from handoff.labels import customer_label

REPEAT_WINDOW = dt.timedelta(days=30)  # as actions/complaint_store.py
UNKNOWN_LISTED = 20
MAX_DAYS = 366
SATISFIED = 4  # 4 and 5 stars are "satisfied"
LOW = 2  # 1 and 2 stars are low ratings (per agent in the summary, alerts after an agent)


class BadPeriod(ValueError):
    """from/to missing, not YYYY-MM-DD, reversed or longer than MAX_DAYS."""


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    zone: ZoneInfo

    @classmethod
    def parse(cls, first: str | None, last: str | None, zone: ZoneInfo) -> Period:
        try:
            start, end = dt.date.fromisoformat(first or ""), dt.date.fromisoformat(last or "")
        except ValueError:
            raise BadPeriod("send from=YYYY-MM-DD&to=YYYY-MM-DD (both days inclusive)") from None
        if end < start:
            raise BadPeriod(f"to={end} is before from={start}")
        if (end - start).days >= MAX_DAYS:
            raise BadPeriod(f"a period is at most {MAX_DAYS} days")
        return cls(start, end, zone)

    def midnight(self, day: dt.date) -> dt.datetime:
        """The start of a local day, in UTC."""
        return dt.datetime.combine(day, dt.time(0), tzinfo=self.zone).astimezone(dt.UTC)

    @property
    def start(self) -> dt.datetime:
        """The first instant, in UTC."""
        return self.midnight(self.first)

    @property
    def end(self) -> dt.datetime:
        """The instant after the last day, in UTC."""
        return self.midnight(self.last + dt.timedelta(days=1))

    def weeks(self) -> list[str]:
        """The Mondays (local dates) of the weeks the period touches; index = `week_case`'s number."""
        monday = self.first - dt.timedelta(days=self.first.weekday())
        return [(monday + dt.timedelta(weeks=i)).isoformat() for i in range((self.last - monday).days // 7 + 1)]

    def week_case(self, column: Any) -> Any:
        """SQL: the index in `weeks()` of the week a timestamp falls in (local weeks, DST included)."""
        starts = [self.midnight(dt.date.fromisoformat(w)) for w in self.weeks()[1:]]
        if not starts:
            return literal(0)
        return case(*((column < boundary, i) for i, boundary in enumerate(starts)), else_=len(starts))

    def week_of(self, at: dt.datetime) -> str:
        """The Monday (local date) of the week `at` falls in."""
        local = as_utc(at).astimezone(self.zone).date()
        return (local - dt.timedelta(days=local.weekday())).isoformat()


def seconds_between(dialect: str, start: Any, end: Any) -> Any:
    """SQL: seconds from one timestamp column to another (SQLite keeps them as text)."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.date_part("epoch", end - start)  # double precision (extract() is numeric: slow to fetch)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(share * len(ordered)) - 1)], 1)


def star_figures(counts: Counter[int]) -> dict[str, Any]:
    """ratings, average, satisfied_share of a {stars: count} tally."""
    total = sum(counts.values())
    return {
        "ratings": total,
        "average": round(sum(s * n for s, n in counts.items()) / total, 2) if total else None,
        "satisfied_share": ratio(sum(n for s, n in counts.items() if s >= SATISFIED), total),
    }


def repeat_customers(complaints: Iterable[tuple[str, dt.datetime]], start: dt.datetime, end: dt.datetime) -> list[str]:
    """Conversation ids with a complaint in [start, end) that had another one within REPEAT_WINDOW before it."""
    by_customer: dict[str, list[dt.datetime]] = defaultdict(list)
    for customer, at in complaints:
        by_customer[customer].append(as_utc(at))
    repeats = []
    for customer, times in by_customer.items():
        times.sort()
        if any(start <= later < end and later - earlier <= REPEAT_WINDOW for earlier, later in zip(times, times[1:], strict=False)):
            repeats.append(customer)
    return sorted(repeats)


async def _percentiles(session: AsyncSession, value: Any, count: int, *where: Any) -> tuple[float | None, float | None]:
    """p50 and p90 (nearest rank, as `percentile`) of `value` over the `count` rows `where` selects,
    picked in SQL: a month's 20,000 waits are sorted by the database, not fetched."""
    found: list[float | None] = []
    for share in (0.5, 0.9):
        if not count:
            found.append(None)
            continue
        rank = max(0, math.ceil(share * count) - 1)
        picked = (await session.execute(select(value).where(*where).order_by(value).offset(rank).limit(1))).scalar_one()
        found.append(round(float(picked), 1))
    return found[0], found[1]


class ReportQueries:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def summary(self, period: Period) -> dict[str, Any]:
        start, end = period.start, period.end
        async with self._sessionmaker() as session:
            conversations = await self._conversations(session, start, end)
            reasons = dict((await session.execute(
                select(Handoff.reason, func.count()).where(Handoff.queued_at >= start, Handoff.queued_at < end)
                .group_by(Handoff.reason).order_by(func.count().desc(), Handoff.reason)
            )).all())
            csat, csat_weeks = await self._csat(session, period)
            queue = await self._queue(session, start, end)
            complaints, complaint_weeks = await self._complaints(session, period)
            unknown = (await session.execute(
                select(UnknownMessage.text, func.count())
                .where(UnknownMessage.created_at >= start, UnknownMessage.created_at < end)
                .group_by(UnknownMessage.text).order_by(func.count().desc(), UnknownMessage.text).limit(UNKNOWN_LISTED)
            )).all()
        weeks = sorted(set(csat_weeks) | set(complaint_weeks))
        return {
            "period": {"from": period.first.isoformat(), "to": period.last.isoformat(), "time_zone": str(period.zone)},
            "conversations": conversations,
            "containment_rate": ratio(conversations["contained"], conversations["total"]),
            "handoff_reasons": {str(k): int(v) for k, v in reasons.items()},
            "csat": csat,
            "queue": queue,
            "complaints": complaints,
            "unknown_questions": [{"text": text, "count": int(count)} for text, count in unknown],
            "weeks": [
                {"week": week, **csat_weeks.get(week, _empty_week()), "complaints": complaint_weeks.get(week, {})}
                for week in weeks
            ],
        }

    async def _conversations(self, session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        rows = (await session.execute(
            select(ConversationStart.channel, ConversationStart.handed_off, func.count())
            .where(ConversationStart.started_at >= start, ConversationStart.started_at < end)
            .group_by(ConversationStart.channel, ConversationStart.handed_off)
        )).all()
        by_channel: Counter[str] = Counter()
        handed_off = 0
        for channel, off, count in rows:
            by_channel[channel] += count
            handed_off += count if off else 0
        total = sum(by_channel.values())
        return {"total": total, "by_channel": dict(sorted(by_channel.items())), "contained": total - handed_off,
                "handed_off": handed_off}

    async def _csat(self, session: AsyncSession, period: Period) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        start, end = period.start, period.end
        requests = (await session.execute(
            select(func.count()).select_from(RatingRequest)
            .where(RatingRequest.created_at >= start, RatingRequest.created_at < end)
        )).scalar_one()
        # Counted in SQL by week, stars and agent: a month's 30,000 ratings come back as a few hundred rows.
        rated = select(
            period.week_case(Feedback.created_at).label("week"), Feedback.rating.label("rating"),
            Feedback.agent_id.label("agent"),
        ).where(Feedback.created_at >= start, Feedback.created_at < end, Feedback.rating.is_not(None)).subquery()
        rows = (await session.execute(
            select(rated.c.week, rated.c.rating, rated.c.agent, func.count())
            .group_by(rated.c.week, rated.c.rating, rated.c.agent)
        )).all()
        weeks = period.weeks()
        everyone: Counter[int] = Counter()
        bot_only: Counter[int] = Counter()
        after_agent: Counter[int] = Counter()
        by_agent: dict[str, Counter[int]] = defaultdict(Counter)
        weekly: dict[str, dict[str, Counter[int]]] = defaultdict(
            lambda: {"bot_only": Counter(), "after_agent": Counter()})
        for week, rating, agent, count in rows:
            everyone[rating] += count
            (after_agent if agent else bot_only)[rating] += count
            if agent:
                by_agent[agent][rating] += count
            weekly[weeks[week]]["after_agent" if agent else "bot_only"][rating] += count
        ratings = sum(everyone.values())
        csat = {
            "requests": requests,
            "ratings": ratings,
            "response_rate": ratio(ratings, requests),
            "average": star_figures(everyone)["average"],
            "satisfied_share": star_figures(everyone)["satisfied_share"],
            "distribution": {str(s): everyone[s] for s in range(1, 6)},
            "bot_only": star_figures(bot_only),
            "after_agent": star_figures(after_agent),
            "by_agent": {
                name: {**star_figures(counts), "low_ratings": sum(counts[s] for s in range(1, LOW + 1))}
                for name, counts in sorted(by_agent.items())
            },
        }
        return csat, {week: {scope: star_figures(c) for scope, c in scopes.items()} for week, scopes in weekly.items()}

    async def _queue(self, session: AsyncSession, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
        in_period = (Handoff.queued_at >= start, Handoff.queued_at < end)
        # `abandoned`: waits that ended without a claim (left, timed out, expired); `expired`: those of
        # them that left the queue because the customer went silent (QUEUE_ABANDON_SECONDS).
        handoffs, claimed, responded, abandoned, expired = (await session.execute(
            select(func.count(), func.count(Handoff.claimed_at),
                   func.count(case((Handoff.claimed_at.is_not(None), Handoff.first_response_at))),
                   func.count(case((Handoff.claimed_at.is_(None) & Handoff.abandoned_at.is_not(None), 1))),
                   func.count(case((Handoff.outcome == "expired", 1))))
            .where(*in_period)
        )).one()
        dialect = session.get_bind().dialect.name
        wait = seconds_between(dialect, Handoff.queued_at, Handoff.claimed_at)
        response = seconds_between(dialect, Handoff.claimed_at, Handoff.first_response_at)
        wait_p50, wait_p90 = await _percentiles(session, wait, claimed, *in_period, Handoff.claimed_at.is_not(None))
        response_p50, response_p90 = await _percentiles(
            session, response, responded, *in_period, Handoff.claimed_at.is_not(None), Handoff.first_response_at.is_not(None),
        )
        return {
            "handoffs": handoffs, "claimed": claimed, "abandoned": abandoned, "expired": expired,
            "wait_seconds_p50": wait_p50, "wait_seconds_p90": wait_p90,
            "first_response_seconds_p50": response_p50, "first_response_seconds_p90": response_p90,
        }

    async def _complaints(
        self, session: AsyncSession, period: Period,
    ) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
        start, end = period.start, period.end
        rows = (await session.execute(
            select(Complaint.conversation_id, Complaint.created_at, Complaint.category)
            .where(Complaint.created_at >= start - REPEAT_WINDOW, Complaint.created_at < end)
        )).all()
        by_category: Counter[str] = Counter()
        weekly: dict[str, Counter[str]] = defaultdict(Counter)
        for _customer, at, category in rows:
            if as_utc(at) >= start:
                by_category[category] += 1
                weekly[period.week_of(at)][category] += 1
        repeats = repeat_customers(((c, at) for c, at, _ in rows), start, end)
        return (
            {"total": sum(by_category.values()), "by_category": dict(by_category.most_common()),
             "repeat_customers": len(repeats)},
            {week: dict(counts) for week, counts in weekly.items()},
        )

    async def ratings(
        self, period: Period, *, agent: str | None, scope: str, min_rating: int, max_rating: int, limit: int = 500,
    ) -> list[dict[str, Any]]:
        """The ratings behind a figure (drill-down): newest first."""
        query = (select(Feedback).where(
            Feedback.created_at >= period.start, Feedback.created_at < period.end,
            Feedback.rating >= min_rating, Feedback.rating <= max_rating,
        ).order_by(Feedback.created_at.desc(), Feedback.id.desc()).limit(limit))
        if agent:
            query = query.where(Feedback.agent_id == agent)
        elif scope == "bot_only":
            query = query.where(Feedback.agent_id.is_(None))
        elif scope == "after_agent":
            query = query.where(Feedback.agent_id.is_not(None))
        async with self._sessionmaker() as session:
            rows = (await session.scalars(query)).all()
        return [
            {"conversation_id": r.conversation_id, "customer_label": customer_label(r.conversation_id),
             "channel": r.channel, "rating": r.rating, "comment": r.comment,
             "agent": r.agent_id, "created_at": as_utc(r.created_at).isoformat()}
            for r in rows
        ]


def _empty_week() -> dict[str, Any]:
    return {"bot_only": star_figures(Counter()), "after_agent": star_figures(Counter())}
