"""The stores a privacy run works on, and how a request names a customer.

A customer is named by a WhatsApp number, a web chat session id or a conversation id; the
conversation ids come from the channels' own id functions (`conversation_id` in
bot/channels/whatsapp/rules.py and webchat.py, keyed with SHOPDESK_SECRET) and the ids of the earlier,
unkeyed scheme: for a number from the `contacts` rows that hold it, for a session id `web-<session id>`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.channels.webchat import channel as webchat
from bot.channels.whatsapp import rules as whatsapp
from core.attachments import AttachmentStore
from db.engine import async_url
from db.models import Contact, Message

ROOT = Path(__file__).resolve().parent.parent.parent


class SubjectKind(str, enum.Enum):
    whatsapp = "whatsapp"
    webchat = "webchat"
    conversation = "conversation"


class BadSubject(ValueError):
    """The request does not name a customer in a form we understand."""


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    value: str

    @classmethod
    def from_fields(cls, fields: dict[str, object]) -> Subject:
        """Exactly one of `whatsapp`, `webchat`, `conversation_id` (or `conversation`)."""
        given = [(k, v) for k, v in fields.items()
                 if k in ("whatsapp", "webchat", "conversation_id", "conversation") and v not in (None, "")]
        key, value = given[0] if len(given) == 1 else ("", None)
        if not isinstance(value, str):
            raise BadSubject("name the customer with exactly one of whatsapp=<number>, webchat=<session id>, "
                             "conversation_id=<id>")
        kind = SubjectKind.conversation if key.startswith("conversation") else SubjectKind(key)
        subject = cls(kind, value.strip())
        subject.own_ids("")  # validates (the ids themselves are computed with the real secret later)
        return subject

    def address(self) -> str:
        """The number as the `contacts` table keeps it (E.164, "+49…")."""
        number = whatsapp.e164(self.value)
        if not 8 <= len(number) <= 16:
            raise BadSubject("a WhatsApp number is written +<country code><number>, e.g. +4915110000001")
        return number

    def own_ids(self, secret: str) -> list[str]:
        """The conversation ids the channels' id functions give for this customer (keyed with `secret`)."""
        if self.kind is SubjectKind.whatsapp:
            return [whatsapp.conversation_id(self.address(), secret)]
        if self.kind is SubjectKind.webchat:
            try:
                return [webchat.conversation_id(self.value, secret)]
            except webchat.InvalidSessionId as exc:
                raise BadSubject(str(exc)) from None
        if not self.value.startswith((whatsapp.ID_PREFIX, webchat.ID_PREFIX)) or len(self.value) > 128:
            raise BadSubject(f"a conversation id starts with {whatsapp.ID_PREFIX} or {webchat.ID_PREFIX} "
                             "and has at most 128 characters")
        return [self.value]


def family_of(conversation_id: str) -> str:
    """The channel family of a conversation id (whatsapp or webchat)."""
    return whatsapp.FAMILY if conversation_id.startswith(whatsapp.ID_PREFIX) else "webchat"


@dataclass
class Stores:
    """The application database, Rasa's tracker store (None when it has not been created yet), Redis
    and the attachment files."""

    sessionmaker: async_sessionmaker[AsyncSession]
    tracker: AsyncEngine | None
    redis: Redis
    # Files customers and agents sent (ATTACHMENT_DIR); each `<token>.json` names its conversation.
    attachments: AttachmentStore | None = None
    # SHOPDESK_SECRET: the key of the channels' conversation ids.
    secret: str = field(kw_only=True)

    async def conversation_ids(self, subject: Subject) -> list[str]:
        ids = subject.own_ids(self.secret)
        if subject.kind is SubjectKind.whatsapp:
            async with self.sessionmaker() as session:
                rows = (await session.scalars(
                    select(Contact.conversation_id).where(Contact.address == subject.address())
                )).all()
            ids += [r for r in rows if r not in ids]
        if subject.kind is SubjectKind.webchat:
            # the earlier scheme's id (`web-<session id>`), when older conversations are stored under it
            earlier = webchat.ID_PREFIX + subject.value
            async with self.sessionmaker() as session:
                if await session.scalar(select(Message.id).where(Message.conversation_id == earlier).limit(1)) is not None:
                    ids.append(earlier)
        return ids

    async def tracker_tables(self) -> set[str]:
        """The tables Rasa has created in the tracker store (none before Rasa first ran)."""
        if self.tracker is None:
            return set()
        database = self.tracker.url.database
        if self.tracker.url.get_backend_name() == "sqlite" and database and not Path(database).exists():
            return set()  # Rasa has not run here yet; do not create the file
        async with self.tracker.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


def tracker_engine(raw_url: str) -> AsyncEngine:
    """An engine on Rasa's tracker store; a relative SQLite path is taken from the project root,
    as scripts/rasa_endpoints.py does for Rasa."""
    url = make_url(raw_url)
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_absolute():
        url = url.set(database=str(ROOT / url.database))
    rendered = async_url(url.render_as_string(hide_password=False))
    if rendered.startswith("sqlite"):
        return create_async_engine(rendered, connect_args={"timeout": 30})
    return create_async_engine(rendered, pool_pre_ping=True)
