"""Erase (GDPR Art. 17) and the anonymisation retention shares with it.

`Eraser.erase(ids)` leaves no trace of the conversations in any store of registry.py: rows that
hold personal data are deleted, rows the shop's figures need are kept under a new random
conversation id with their personal columns cleared, Rasa's tracker events are deleted, and
every Redis key, set member and dead letter of the conversations goes. A conversation queued
or live with an agent is taken from the desk first (`DeskPrivacy.forget`, handoff/work/privacy.py);
the agent's console hears why. Erasing twice is fine: the second run finds nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, column, delete, table, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.expression import ColumnClause

from bot import keys as gateway_keys
from bot.privacy import registry
from bot.privacy.registry import Fate, SqlTable
from bot.privacy.stores import Stores
from core.attachments import AttachmentStore
from handoff.work.privacy import DeskPrivacy

log = logging.getLogger(__name__)

# Conversations handled in one SQL transaction (retention works in batches of this size).
BATCH = 500


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class Eraser:
    def __init__(self, stores: Stores, clock: Callable[[], float] = time.time) -> None:
        self.stores = stores
        self.clock = clock
        self._desk = DeskPrivacy.open(stores.redis, stores.sessionmaker, clock)

    async def erase(self, conversation_ids: list[str], spare: frozenset[str] = frozenset()) -> Counter[str]:
        """Everything of these conversations, in every store (an erase on request). Keys in
        `spare` stay: the router's worker lock when the erase runs inside its handling (the
        router deletes that key itself a moment later)."""
        counts: Counter[str] = Counter()
        for cid in conversation_ids:
            if await self._desk.forget(cid):
                counts["desk.closed"] += 1
        counts += await self.anonymise(conversation_ids, keep_warranty=False, scan_redis=True, spare=spare)
        return counts

    async def anonymise(self, conversation_ids: list[str], keep_warranty: bool, scan_redis: bool,
                        spare: frozenset[str] = frozenset()) -> Counter[str]:
        """The stores' part of an erase. With `keep_warranty` complaint rows stay as they are
        (retention before COMPLAINT_RETENTION_DAYS). Without `scan_redis` only the exact keys are
        deleted, not the families whose keys expire within a day anyway (retention of old ones)."""
        counts: Counter[str] = Counter()
        for batch in _chunks(list(dict.fromkeys(conversation_ids)), BATCH):
            counts += await self._redis(batch, scan_redis, spare)
            counts += await self._sql(batch, keep_warranty)
            counts += await self._tracker(batch)
            if self.stores.attachments is not None:
                removed = await asyncio.to_thread(self._files, self.stores.attachments, set(batch))
                if removed:
                    counts["files.attachments"] += removed
        return counts

    @staticmethod
    def _files(store: AttachmentStore, ids: set[str]) -> int:
        """The attachment files of these conversations (their `<token>.json` names the conversation)."""
        removed = 0
        for meta in store.directory.glob("*.json") if store.directory.is_dir() else ():
            try:
                cid = json.loads(meta.read_text()).get("conversation_id")
            except (OSError, ValueError, AttributeError):
                continue
            if cid in ids:
                store.delete(meta.stem)
                removed += 1
        return removed

    async def _redis(self, batch: list[str], scan: bool, spare: frozenset[str]) -> Counter[str]:
        redis = self.stores.redis
        counts: Counter[str] = Counter()
        names = [key for cid in batch for key in registry.per_conversation_keys(cid)]
        if scan:
            for family in registry.wildcard_families():
                for cid in batch:
                    names += [k async for k in redis.scan_iter(match=family.glob(cid), count=1000)]
        names = [n for n in names if n not in spare]
        if names:
            counts["redis.keys"] += int(await redis.delete(*names))
        for family in registry.member_sets():
            set_keys = [family.pattern] if "*" not in family.pattern else \
                [k async for k in redis.scan_iter(match=family.pattern, count=1000)]
            for key in set_keys:
                kind = await redis.type(key)
                if kind == "zset":
                    counts["redis.members"] += int(await redis.zrem(key, *batch))
                elif kind == "set":
                    counts["redis.members"] += int(await redis.srem(key, *batch))
        counts["redis.dead_letters"] += await self.dead_letters(set(batch))
        counts["redis.not_sent"] += await self.not_sent(set(batch))
        return +counts

    async def not_sent(self, ids: set[str], older_than: float | None = None) -> int:
        """Removes the not-sent records of these conversations (or, with `older_than`, of any
        conversation, recorded before that time)."""

        def parse(raw: str | bytes) -> tuple[Any, float]:
            entry = json.loads(raw)
            return entry.get("conversation_id"), float(entry.get("at", 0))

        return await self._prune_list(gateway_keys.NOT_SENT, parse, ids, older_than)

    async def dead_letters(self, ids: set[str], older_than: float | None = None) -> int:
        """Removes the dead letters of these conversations (or, with `older_than`, of any
        conversation, parked before that time)."""

        def parse(raw: str | bytes) -> tuple[Any, float]:
            letter = json.loads(raw)
            return json.loads(letter["entry"]).get("conversation_id"), float(letter.get("at", 0))

        return await self._prune_list(gateway_keys.DEAD_LETTER, parse, ids, older_than)

    async def _prune_list(
        self, key: str, parse: Callable[[str | bytes], tuple[Any, float]], ids: set[str], older_than: float | None
    ) -> int:
        """Removes the entries of a Redis list whose (conversation id, time), as `parse` reads them, is one
        of `ids` or older than `older_than`; an entry it cannot read counts as neither."""
        redis = self.stores.redis
        removed = 0
        for raw in await redis.lrange(key, 0, -1):
            try:
                cid, at = parse(raw)
            except (ValueError, KeyError, TypeError, AttributeError):
                cid, at = None, 0.0
            if cid in ids or (older_than is not None and at < older_than):
                removed += int(await redis.lrem(key, 1, str(raw)))
        return removed

    async def _sql(self, batch: list[str], keep_warranty: bool) -> Counter[str]:
        counts: Counter[str] = Counter()
        async with self.stores.sessionmaker() as session, session.begin():
            for spec in registry.SQL_TABLES:
                if spec.warranty and keep_warranty:
                    continue
                counts[f"sql.{spec.name}"] += await self._sql_table(session, spec, batch)
        return +counts

    @staticmethod
    async def _sql_table(session: AsyncSession, spec: SqlTable, batch: list[str]) -> int:
        if spec.parent is not None:
            return await Eraser._sql_children(session, spec, batch)
        conv: ColumnClause[Any] = column(spec.conversation_column)
        if spec.fate is Fate.delete:
            statement = delete(table(spec.name, conv)).where(conv.in_(batch))
            result = cast(CursorResult[Any], await session.execute(statement))
            return int(result.rowcount or 0)
        # Anonymise: each row of a conversation under that conversation's new id (one id per
        # conversation keeps what belongs together for the reports), personal columns cleared.
        ids = (await session.execute(
            text(f"SELECT id, {spec.conversation_column} FROM {spec.name} "
                 f"WHERE {spec.conversation_column} IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": batch},
        )).all()
        if not ids:
            return 0
        new_ids = {cid: registry.new_conversation_id() for cid in batch}
        target = table(spec.name, column("id"), conv, *(column(c) for c in spec.cleared))
        move = update(target).where(column("id") == bindparam("row_id")).values(
            {spec.conversation_column: bindparam("new_cid"), **{c: bindparam(f"v_{c}") for c in spec.cleared}},
        )
        rows = [{"row_id": row_id, "new_cid": new_ids[cid],
                 **{f"v_{c}": registry.cleared_value(v) for c, v in spec.cleared.items()}}
                for row_id, cid in ids]
        await session.execute(move, rows)
        return len(rows)

    @staticmethod
    async def _sql_children(session: AsyncSession, spec: SqlTable, batch: list[str]) -> int:
        """Rows that belong to the parent rows of these conversations (complaint_events of their
        complaints): personal columns cleared, before the parent rows move to a new id."""
        assert spec.parent is not None
        own, parent_table, parent_key = spec.parent
        parent = registry.table(parent_table)
        values = ", ".join(f"{c} = :v_{c}" for c in spec.cleared)
        result = cast(CursorResult[Any], await session.execute(
            text(f"UPDATE {spec.name} SET {values} WHERE {own} IN "  # registry names only
                 f"(SELECT {parent_key} FROM {parent.name} WHERE {parent.conversation_column} IN :ids)")
            .bindparams(bindparam("ids", expanding=True)),
            {"ids": batch, **{f"v_{c}": registry.cleared_value(v) for c, v in spec.cleared.items()}},
        ))
        return int(result.rowcount or 0)

    async def _tracker(self, batch: list[str]) -> Counter[str]:
        counts: Counter[str] = Counter()
        engine = self.stores.tracker
        present = await self.stores.tracker_tables()
        if engine is None:
            return counts
        async with engine.begin() as conn:
            for name, sender_column in registry.TRACKER_TABLES.items():
                if name not in present:
                    continue
                result = await conn.execute(
                    text(f"DELETE FROM {name} WHERE {sender_column} IN :ids")
                    .bindparams(bindparam("ids", expanding=True)), {"ids": batch},
                )
                counts[f"tracker.{name}"] += int(result.rowcount or 0)
        return +counts
