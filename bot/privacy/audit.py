"""The `privacy_log`: one row per export, erase and retention run, with counts, never a value."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import PrivacyLog

# Who ran it, besides a supervisor's name.
CUSTOMER = "customer"
OPERATOR = "operator"  # make export / make erase on the shop's machine
RETENTION = "retention"


class Audit:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def record(self, action: str, actor: str, subject_kind: str | None, conversations: int,
                     counts: Counter[str] | dict[str, int]) -> None:
        async with self._sessionmaker() as session, session.begin():
            session.add(PrivacyLog(
                action=action, actor=actor[:64], subject_kind=subject_kind, conversations=conversations,
                counts=json.dumps(dict(sorted(counts.items()))),
            ))

    async def entries(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self._sessionmaker() as session:
            rows = (await session.scalars(select(PrivacyLog).order_by(PrivacyLog.id.desc()).limit(limit))).all()
        return [
            {"action": r.action, "actor": r.actor, "subject_kind": r.subject_kind, "conversations": r.conversations,
             "counts": json.loads(r.counts), "at": r.created_at.isoformat() if r.created_at else None}
            for r in rows
        ]
