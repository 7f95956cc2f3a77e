"""Export (GDPR Art. 15/20): everything about one customer as one JSON document.

`{"exported_at", "subject": {"kind"}, "contacts": […], "conversations": [{"conversation_id",
"channel", "transcript": [{"at", "sender", "agent", "text"}], "complaints": […], "ratings": […],
"handoffs": […], "desk": {"state", "agent"}|null, "assistant_events": [{"at", "event", "text"?,
"intent"?, "action"?}], "waiting_messages": n, "dead_letters": n}]}`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import bindparam, select, text

from bot import keys as gateway_keys
from bot.privacy.stores import Stores, Subject
from core.clock import iso
from db.models import Complaint, ComplaintEvent, Contact, Feedback, Handoff, Message
from handoff.work.privacy import DeskPrivacy


def _when(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


class Exporter:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self._desk = DeskPrivacy.open(stores.redis, stores.sessionmaker)

    async def export(self, subject: Subject, conversation_ids: list[str]) -> dict[str, Any]:
        async with self.stores.sessionmaker() as session:
            contacts = (await session.scalars(
                select(Contact).where(Contact.conversation_id.in_(conversation_ids)))).all()
        return {
            "exported_at": dt.datetime.now(dt.UTC).isoformat(),
            "subject": {"kind": subject.kind},
            "contacts": [
                {"conversation_id": c.conversation_id, "channel": c.channel, "address": c.address,
                 "opted_out": bool(c.opted_out), "last_message_at": iso(c.last_inbound_at),
                 "created_at": iso(c.created_at)}
                for c in contacts
            ],
            "conversations": [await self.conversation(cid) for cid in conversation_ids],
        }

    async def conversation(self, cid: str) -> dict[str, Any]:
        async with self.stores.sessionmaker() as session:
            messages = (await session.scalars(
                select(Message).where(Message.conversation_id == cid).order_by(Message.id))).all()
            complaints = (await session.scalars(
                select(Complaint).where(Complaint.conversation_id == cid).order_by(Complaint.id))).all()
            ratings = (await session.scalars(
                select(Feedback).where(Feedback.conversation_id == cid).order_by(Feedback.id))).all()
            handoffs = (await session.scalars(
                select(Handoff).where(Handoff.conversation_id == cid).order_by(Handoff.id))).all()
            timeline = (await session.scalars(
                select(ComplaintEvent).where(ComplaintEvent.complaint_id.in_([c.id for c in complaints]))
                .order_by(ComplaintEvent.id))).all()
        redis = self.stores.redis
        channel = next((m.channel for m in messages), None) or self.stores.families.family_of(cid)
        return {
            "conversation_id": cid,
            "channel": channel,
            "transcript": [
                {"at": iso(m.created_at), "sender": m.sender, "agent": m.agent_id, "text": m.text} for m in messages
            ],
            "complaints": [
                {"reference": c.reference, "category": c.category, "order_number": c.order_number,
                 "description": c.description, "media_url": c.media_url, "status": c.status,
                 "language": c.language, "resolution": c.resolution, "created_at": iso(c.created_at),
                 "timeline": [
                     {"at": iso(e.created_at), "kind": e.kind, "actor": e.actor, "text": e.text,
                      "media_url": e.media_url, "status": e.status}
                     for e in timeline if e.complaint_id == c.id
                 ]}
                for c in complaints
            ],
            "ratings": [
                {"rating": f.rating, "comment": f.comment, "agent": f.agent_id, "created_at": iso(f.created_at)}
                for f in ratings
            ],
            "handoffs": [
                {"reason": h.reason, "priority": h.priority, "summary": h.summary, "agent": h.agent_id,
                 "note": h.resolution_note, "outcome": h.outcome, "queued_at": iso(h.queued_at),
                 "claimed_at": iso(h.claimed_at), "closed_at": iso(h.closed_at)}
                for h in handoffs
            ],
            "desk": await self._desk.export(cid),
            "assistant_events": await self._tracker_events(cid),
            "waiting_messages": int(await redis.llen(gateway_keys.inbox(cid))),
            "dead_letters": await self._dead_letters(cid),
        }

    async def _tracker_events(self, cid: str) -> list[dict[str, Any]]:
        """What the assistant recorded: the customer's and the bot's messages, intents, actions, slots."""
        engine = self.stores.tracker
        if engine is None or "events" not in await self.stores.tracker_tables():
            return []
        async with engine.connect() as conn:
            rows = (await conn.execute(
                text("SELECT type_name, timestamp, intent_name, action_name, data FROM events "
                     "WHERE sender_id = :cid ORDER BY id").bindparams(bindparam("cid")), {"cid": cid},
            )).all()
        events: list[dict[str, Any]] = []
        for type_name, timestamp, intent, action, data in rows:
            event: dict[str, Any] = {"at": _when(timestamp), "event": type_name}
            try:
                body = json.loads(data or "{}")
            except ValueError:
                body = {}
            if isinstance(body, dict):
                if body.get("text"):
                    event["text"] = body["text"]
                if type_name == "slot" and "name" in body:
                    event["slot"] = {"name": body["name"], "value": body.get("value")}
            if intent:
                event["intent"] = intent
            if action:
                event["action"] = action
            events.append(event)
        return events

    async def _dead_letters(self, cid: str) -> int:
        count = 0
        for raw in await self.stores.redis.lrange(gateway_keys.DEAD_LETTER, 0, -1):
            try:
                if json.loads(json.loads(raw)["entry"]).get("conversation_id") == cid:
                    count += 1
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
        return count
