"""Early warnings: a periodic check, run by one gateway process at a time (a lease in Redis),
of five conditions; each alert is sent once, and again only after its condition cleared.

| kind               | condition (key: what makes two alerts the same)                                    |
| ------------------ | ---------------------------------------------------------------------------------- |
| `low_rating`       | a 1–2 star rating after an agent conversation in the last 24 h (the rating)       |
| `csat_drop`        | satisfied share of the last 7 days more than ALERT_CSAT_DROP points below the 28  |
|                    | days before, with at least MIN_RATINGS ratings in each window                      |
| `repeat_complaint` | a customer with two or more complaints within the last 30 days (the customer)      |
| `queue_wait`       | p90 of the queue waits of the last hour (claims of the last hour, and customers    |
|                    | still waiting) above ALERT_WAIT_SECONDS                                            |
| `abandoned_waits`  | more than 20 % of the handoffs of the last 24 h abandoned before a claim           |

The alerts that hold are kept in the Redis hash `keys.ALERTS_ACTIVE` (alert key → JSON): the
supervisors' banner reads it (`GET /api/reports/alerts`), and a key that is already there is not
sent again. With ALERT_WEBHOOK_URL set, a new alert is POSTed there as `{"text", "kind", …numbers}`
(what Slack and Teams incoming webhooks accept).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.clock import as_utc
from core.periodic import Lease, periodic
from db.models import Complaint, Feedback, Handoff
from handoff.config import DeskConfig
from handoff.reports import keys
from handoff.reports.summary import LOW, REPEAT_WINDOW, SATISFIED, percentile

log = logging.getLogger(__name__)

MIN_RATINGS = 5  # in each CSAT window: fewer are noise, not a trend
ABANDONED_SHARE = 0.2
WEBHOOK_TIMEOUT_SECONDS = 10.0
_DAY = dt.timedelta(days=1)

TEXTS: dict[str, dict[str, str]] = {
    "low_rating": {
        "de": "⚠️ {rating} Stern(e) nach dem Gespräch mit {agent}: {link}",
        "en": "⚠️ {rating} star(s) after the conversation with {agent}: {link}",
    },
    "csat_drop": {
        "de": "⚠️ Zufriedenheit gesunken: {last:.0f} % in den letzten 7 Tagen, {previous:.0f} % in den 28 Tagen davor "
              "({drop:.0f} Punkte weniger)",
        "en": "⚠️ Satisfaction fell: {last:.0f} % in the last 7 days, {previous:.0f} % in the 28 days before "
              "({drop:.0f} points less)",
    },
    "repeat_complaint": {
        "de": "⚠️ Wiederholte Reklamation: {complaints} Reklamationen eines Kunden in 30 Tagen: {link}",
        "en": "⚠️ Repeat complaint: {complaints} complaints of one customer within 30 days: {link}",
    },
    "queue_wait": {
        "de": "⚠️ Lange Wartezeit: 90 % der Wartenden der letzten Stunde warteten bis zu {p90:.0f} s "
              "(Grenze {limit:.0f} s, {waits} Wartende)",
        "en": "⚠️ Long waits: the queue wait p90 of the last hour is {p90:.0f} s (limit {limit:.0f} s, {waits} waits)",
    },
    "abandoned_waits": {
        "de": "⚠️ {abandoned} von {handoffs} Kunden ({share:.0f} %) haben in den letzten 24 Stunden die Warteschlange "
              "ohne Antwort verlassen",
        "en": "⚠️ {abandoned} of {handoffs} customers ({share:.0f} %) left the queue unanswered in the last 24 hours",
    },
}


@dataclass(frozen=True)
class Alert:
    kind: str
    key: str  # the same key is one alert: sent once while it holds
    numbers: dict[str, Any] = field(default_factory=dict)

    def text(self, language: str) -> str:
        return TEXTS[self.kind][language].format(**self.numbers)

    def payload(self, language: str) -> dict[str, Any]:
        return {"text": self.text(language), "kind": self.kind, **self.numbers}


class AlertChecker:
    def __init__(
        self, config: DeskConfig, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.language = "en" if config.alert_language == "en" else "de"
        self.redis = redis
        self._sessionmaker = sessionmaker
        self.clock = clock
        # Outlives three check intervals: a process that stopped checking hands over soon.
        self._lease = Lease(redis, keys.ALERT_LEASE, max(3 * config.alert_check_seconds, 5.0))

    def link(self, conversation_id: str) -> str:
        return f"{self.config.public_url.rstrip('/')}/reports#conversation={conversation_id}"

    # -- the conditions --------------------------------------------------------------------

    async def current(self, now: float) -> list[Alert]:
        """Every alert whose condition holds at `now`."""
        at = dt.datetime.fromtimestamp(now, dt.UTC)
        async with self._sessionmaker() as session:
            alerts = await self._low_ratings(session, at)
            alerts += await self._csat_drop(session, at)
            alerts += await self._repeat_complaints(session, at)
            alerts += await self._queue(session, at)
        return alerts

    async def _low_ratings(self, session: AsyncSession, at: dt.datetime) -> list[Alert]:
        rows = (await session.execute(
            select(Feedback.id, Feedback.conversation_id, Feedback.rating, Feedback.agent_id)
            .where(Feedback.created_at >= at - _DAY, Feedback.rating <= LOW, Feedback.agent_id.is_not(None))
            .order_by(Feedback.id)
        )).all()
        return [
            Alert("low_rating", f"low_rating:{fid}", {
                "rating": rating, "agent": agent, "conversation_id": cid, "link": self.link(cid),
            })
            for fid, cid, rating, agent in rows
        ]

    async def _csat_drop(self, session: AsyncSession, at: dt.datetime) -> list[Alert]:
        week_ago = at - dt.timedelta(days=7)
        last_n, last_happy = await self._satisfied(session, week_ago, at)
        previous_n, previous_happy = await self._satisfied(session, week_ago - dt.timedelta(days=28), week_ago)
        if last_n < MIN_RATINGS or previous_n < MIN_RATINGS:
            return []
        last = 100 * last_happy / last_n
        previous = 100 * previous_happy / previous_n
        if previous - last <= self.config.alert_csat_drop:
            return []
        return [Alert("csat_drop", "csat_drop", {
            "last": round(last, 1), "previous": round(previous, 1), "drop": round(previous - last, 1),
            "ratings_last": last_n, "ratings_previous": previous_n, "threshold": self.config.alert_csat_drop,
        })]

    @staticmethod
    async def _satisfied(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
        """(ratings, of them 4–5 stars) in [start, end)."""
        total, happy = (await session.execute(
            select(func.count(), func.sum(case((Feedback.rating >= SATISFIED, 1), else_=0)))
            .where(Feedback.created_at >= start, Feedback.created_at < end, Feedback.rating.is_not(None))
        )).one()
        return int(total or 0), int(happy or 0)

    async def _repeat_complaints(self, session: AsyncSession, at: dt.datetime) -> list[Alert]:
        rows = (await session.execute(
            select(Complaint.conversation_id, func.count()).where(Complaint.created_at >= at - REPEAT_WINDOW)
            .group_by(Complaint.conversation_id).having(func.count() >= 2).order_by(Complaint.conversation_id)
        )).all()
        return [
            Alert("repeat_complaint", f"repeat_complaint:{cid}", {
                "complaints": int(count), "conversation_id": cid, "link": self.link(cid),
            })
            for cid, count in rows
        ]

    async def _queue(self, session: AsyncSession, at: dt.datetime) -> list[Alert]:
        rows = (await session.execute(
            select(Handoff.queued_at, Handoff.claimed_at, Handoff.closed_at, Handoff.abandoned_at)
            .where(Handoff.queued_at >= at - _DAY)
        )).all()
        hour_ago = at - dt.timedelta(hours=1)
        waits: list[float] = []
        abandoned = 0
        for queued, claimed, closed, gave_up in rows:
            if claimed is not None:
                if as_utc(claimed) >= hour_ago:
                    waits.append((as_utc(claimed) - as_utc(queued)).total_seconds())
                continue
            abandoned += gave_up is not None
            if closed is None:  # still waiting
                waits.append((at - as_utc(queued)).total_seconds())
        alerts = []
        p90 = percentile(waits, 0.9)
        if p90 is not None and p90 > self.config.alert_wait_seconds:
            alerts.append(Alert("queue_wait", "queue_wait", {
                "p90": p90, "limit": self.config.alert_wait_seconds, "waits": len(waits),
            }))
        if rows and abandoned / len(rows) > ABANDONED_SHARE:
            alerts.append(Alert("abandoned_waits", "abandoned_waits", {
                "abandoned": abandoned, "handoffs": len(rows), "share": round(100 * abandoned / len(rows), 1),
            }))
        return alerts

    # -- once per alert --------------------------------------------------------------------

    async def check_once(self, http: aiohttp.ClientSession | None = None) -> list[Alert]:
        """Records the alerts that hold, forgets those that cleared; returns (and sends) the new ones."""
        now = self.clock()
        current = await self.current(now)
        known = set(await self.redis.hkeys(keys.ALERTS_ACTIVE))
        cleared = known - {a.key for a in current}
        if cleared:
            await self.redis.hdel(keys.ALERTS_ACTIVE, *cleared)
        new = [a for a in current if a.key not in known]
        for alert in new:
            record = {**alert.payload(self.language), "key": alert.key, "at": now}
            if not await self.redis.hsetnx(keys.ALERTS_ACTIVE, alert.key, json.dumps(record)):
                continue
            log.info("alert %s", alert.kind)
            if self.config.alert_webhook_url and http is not None:
                await self._post(http, alert)
        return new

    async def _post(self, http: aiohttp.ClientSession, alert: Alert) -> None:
        try:
            async with http.post(self.config.alert_webhook_url, json=alert.payload(self.language)) as response:
                if response.status >= 300:
                    log.warning("ALERT_WEBHOOK_URL answered %d to a %s alert", response.status, alert.kind)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("ALERT_WEBHOOK_URL not reachable for a %s alert: %s", alert.kind, type(exc).__name__)

    async def active(self) -> list[dict[str, Any]]:
        """The alerts that hold now, oldest first (the supervisors' banner)."""
        raw = await self.redis.hvals(keys.ALERTS_ACTIVE)
        return sorted((json.loads(r) for r in raw), key=lambda a: (a.get("at", 0), a.get("key", "")))

    async def run(self) -> None:
        """Until cancelled: every ALERT_CHECK_SECONDS, check if this process holds the lease."""
        timeout = aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async def check_if_ours() -> None:
                if await self._lease.hold():
                    await self.check_once(http)

            await periodic("alert check", self.config.alert_check_seconds, check_if_ours)
