"""Retention by default: what is older than the settings is anonymised like an erase.

One pass (`Retention.run_once`):
- conversations whose last activity (registry.SQL_TABLES' activity columns) is older than
  RETENTION_DAYS are anonymised as an erase does it, except their complaints;
- complaints older than COMPLAINT_RETENTION_DAYS (the statutory warranty period) lose their
  description, order number, photo and reference and move to a random conversation id;
- Rasa tracker events of senders whose last event is older than RETENTION_DAYS are deleted;
- dead letters parked longer than RETENTION_DAYS ago are removed.

`Retention.loop` runs the pass every RETENTION_INTERVAL_SECONDS in exactly one of the gateway
processes: each process tries to take a Redis lease (`core.periodic.Lease`) that lasts the
interval; only the process that took it runs, and nobody runs again before the lease has run out
(a pass that failed gives it up, so that the next process to take it tries again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import DateTime, Float, bindparam, column, func, select, table, text, union_all
from sqlalchemy.sql.expression import ColumnClause

from bot import keys
from bot.privacy import registry
from bot.privacy.audit import RETENTION
from bot.privacy.erase import BATCH, Eraser
from bot.privacy.service import Privacy, summary
from core.periodic import Lease, periodic

log = logging.getLogger(__name__)

DAY = 86400.0
# How often a process looks whether the lease is free (at most; less when the interval is shorter).
LEASE_CHECK_SECONDS = 60.0


class Retention:
    def __init__(self, privacy: Privacy, retention_days: int, complaint_retention_days: int,
                 interval_seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.privacy = privacy
        self.stores = privacy.stores
        self.eraser: Eraser = privacy.eraser
        self.retention_days = retention_days
        self.complaint_retention_days = complaint_retention_days
        self.interval_seconds = interval_seconds
        self.clock = clock

    async def run_once(self) -> Counter[str]:
        now = self.clock()
        cutoff = dt.datetime.fromtimestamp(now - self.retention_days * DAY, dt.UTC)
        complaint_cutoff = dt.datetime.fromtimestamp(now - self.complaint_retention_days * DAY, dt.UTC)
        counts: Counter[str] = Counter()
        ids = await self._old_conversations(cutoff)
        conversations = len(ids)
        counts += await self.eraser.anonymise(ids, keep_warranty=True, scan_redis=False)
        counts += await self._old_complaints(complaint_cutoff)
        counts += await self._old_tracker_events(cutoff.timestamp())
        dead = await self.eraser.dead_letters(set(), older_than=cutoff.timestamp())
        if dead:
            counts["redis.dead_letters"] += dead
        not_sent = await self.eraser.not_sent(set(), older_than=cutoff.timestamp())
        if not_sent:
            counts["redis.not_sent"] += not_sent
        await self.privacy.audit.record("retention", RETENTION, None, conversations, counts)
        log.info("privacy retention %s", summary(counts, conversations))
        return counts

    async def _old_conversations(self, cutoff: dt.datetime) -> list[str]:
        """The conversations whose newest activity is older than `cutoff` (one query; the
        anonymisation then works through them in batches)."""
        parts = []
        for spec in registry.SQL_TABLES:
            if spec.warranty:
                continue
            for name in spec.activity_columns:
                cid: ColumnClause[Any] = column(spec.conversation_column)
                at = column(name, DateTime(timezone=True))
                parts.append(select(cid.label("cid"), at.label("at")).select_from(table(spec.name, cid, at))
                             .where(cid.not_like(registry.ANON_PREFIX + "%")))
        activity = union_all(*parts).subquery()
        query = (select(activity.c.cid).group_by(activity.c.cid)
                 .having(func.max(activity.c.at) < bindparam("cutoff", cutoff, type_=DateTime(timezone=True))))
        async with self.stores.sessionmaker() as session:
            return list((await session.scalars(query)).all())

    async def _old_complaints(self, cutoff: dt.datetime) -> Counter[str]:
        spec = registry.table("complaints")
        counts: Counter[str] = Counter()
        target = table(spec.name, column("id"), column("created_at", DateTime(timezone=True)),
                       column(spec.conversation_column), *(column(c) for c in spec.cleared))
        while True:
            async with self.stores.sessionmaker() as session, session.begin():
                rows = (await session.scalars(
                    select(target.c.id).where(
                        target.c.created_at < bindparam("cutoff", cutoff, type_=DateTime(timezone=True)),
                        target.c[spec.conversation_column].not_like(registry.ANON_PREFIX + "%"),
                    ).limit(BATCH)
                )).all()
                if not rows:
                    return counts
                for child in registry.SQL_TABLES:
                    if child.parent is not None and child.parent[1] == spec.name:
                        values = {c: registry.cleared_value(v) for c, v in child.cleared.items()}
                        result = await session.execute(
                            table(child.name, column(child.parent[0]), *(column(c) for c in child.cleared)).update()
                            .where(column(child.parent[0]).in_(rows)).values(values))
                        counts[f"sql.{child.name}"] += int(getattr(result, "rowcount", 0) or 0)
                await session.execute(
                    target.update().where(target.c.id == bindparam("row_id")).values(
                        {spec.conversation_column: bindparam("new_cid"),
                         **{c: bindparam(f"v_{c}") for c in spec.cleared}}),
                    [{"row_id": row_id, "new_cid": registry.new_conversation_id(),
                      **{f"v_{c}": registry.cleared_value(v) for c, v in spec.cleared.items()}} for row_id in rows],
                )
                counts[f"sql.{spec.name}"] += len(rows)

    async def _old_tracker_events(self, cutoff: float) -> Counter[str]:
        counts: Counter[str] = Counter()
        engine = self.stores.tracker
        present = await self.stores.tracker_tables()
        if engine is None:
            return counts
        for name, sender in registry.TRACKER_TABLES.items():
            if name not in present:
                continue
            async with engine.begin() as conn:
                result = await conn.execute(text(
                    f"DELETE FROM {name} WHERE {sender} IN (SELECT {sender} FROM {name} "
                    f"GROUP BY {sender} HAVING MAX(timestamp) < :cutoff)"
                ).bindparams(bindparam("cutoff", cutoff, type_=Float())))
                counts[f"tracker.{name}"] += int(result.rowcount or 0)
        return +counts

    async def loop(self) -> None:
        """Every process runs this; the lease lets one of them run each pass."""
        # Taken for a whole interval and never renewed: nobody runs again before it ran out.
        lease = Lease(self.stores.redis, keys.RETENTION_LEASE, max(1.0, self.interval_seconds))

        async def pass_if_ours() -> None:
            if not await lease.take():
                return
            try:
                await self.run_once()
            except Exception:
                # The next process to take the lease tries again; if Redis is away, it runs out by itself.
                with contextlib.suppress(RedisError):
                    await lease.release()
                raise

        await periodic("privacy retention pass", min(LEASE_CHECK_SECONDS, self.interval_seconds), pass_if_ours,
                       start_after=1.0)  # let the process finish starting
