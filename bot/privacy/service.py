"""`Privacy`: export and erase one customer, each run written to the audit log."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from bot import keys
from bot.privacy.audit import CUSTOMER, Audit
from bot.privacy.erase import Eraser
from bot.privacy.export import Exporter
from bot.privacy.stores import Stores, Subject

log = logging.getLogger(__name__)


def summary(counts: Counter[str] | dict[str, int], conversations: int) -> str:
    """One line of counts per store, no personal data: `erased conversations=1 sql.messages=12 …`."""
    parts = [f"conversations={conversations}"] + [f"{k}={v}" for k, v in sorted(counts.items())]
    return " ".join(parts)


class Privacy:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self.audit = Audit(stores.sessionmaker)
        self.exporter = Exporter(stores)
        self.eraser = Eraser(stores)

    async def export(self, subject: Subject, actor: str) -> dict[str, Any]:
        ids = await self.stores.conversation_ids(subject)
        document = await self.exporter.export(subject, ids)
        counts = Counter({
            "transcript_lines": sum(len(c["transcript"]) for c in document["conversations"]),
            "assistant_events": sum(len(c["assistant_events"]) for c in document["conversations"]),
        })
        await self.audit.record("export", actor, subject.kind, len(ids), counts)
        log.info("privacy export by=%s kind=%s conversations=%d", actor, subject.kind, len(ids))
        return document

    async def erase(self, subject: Subject, actor: str) -> tuple[int, Counter[str]]:
        ids = await self.stores.conversation_ids(subject)
        counts = await self.eraser.erase(ids)
        await self.audit.record("erase", actor, subject.kind, len(ids), counts)
        log.info("privacy erase by=%s kind=%s %s", actor, subject.kind, summary(counts, len(ids)))
        return len(ids), counts

    async def erase_from_chat(self, conversation_id: str) -> None:
        """The customer confirmed "delete my data" in the chat (the router calls this while it
        handles that message, so its worker lock stays)."""
        counts = await self.eraser.erase([conversation_id], spare=frozenset({keys.worker(conversation_id)}))
        kind = self.stores.families.family_of(conversation_id)
        await self.audit.record("erase", CUSTOMER, kind, 1, counts)
        log.info("privacy erase by=%s kind=%s %s", CUSTOMER, kind, summary(counts, 1))
