"""The stores a privacy run works on, and how a request names a customer.

A customer is named by what their channel family names them by (`whatsapp=<number>`,
`webchat=<session id>`, the field being the family) or by a conversation id. Each family
answers for its own ids (`CustomerIds` of its channel folder, bot/channels/folder.py): the ids
its id function gives (keyed with SHOPDESK_SECRET) and those the stores hold for the customer
(the contact rows of a number, an earlier scheme's id).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from redis.asyncio import Redis
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.channels.folder import CustomerIds, NotACustomer
from core.attachments import AttachmentStore
from db.engine import async_url

ROOT = Path(__file__).resolve().parent.parent.parent
CONVERSATION = "conversation"  # the kind of a subject named by its conversation id
MAX_ID_CHARS = 128


class BadSubject(ValueError):
    """The request does not name a customer in a form we understand."""


@dataclass(frozen=True)
class Subject:
    kind: str  # a channel family, or CONVERSATION
    value: str


class Families:
    """The channel families' answers about their ids, for the privacy requests."""

    def __init__(self, families: Sequence[CustomerIds]) -> None:
        self._families = {family.family: family for family in families}

    def __iter__(self) -> Iterator[CustomerIds]:
        return iter(self._families.values())

    def subject(self, fields: Mapping[str, object]) -> Subject:
        """Exactly one of the families' fields (`whatsapp`, `webchat`, …) or `conversation_id`
        (or `conversation`)."""
        names = (*self._families, "conversation_id", "conversation")
        given = [(k, v) for k, v in fields.items() if k in names and v not in (None, "")]
        key, value = given[0] if len(given) == 1 else ("", None)
        if not isinstance(value, str):
            ways = ", ".join(f"{name}=<{family.value_name}>" for name, family in self._families.items())
            raise BadSubject(f"name the customer with exactly one of {ways}, conversation_id=<id>")
        subject = Subject(CONVERSATION if key.startswith("conversation") else key, value.strip())
        self.own_ids(subject, "")  # validates (the ids themselves are computed with the real secret later)
        return subject

    def own_ids(self, subject: Subject, secret: str) -> list[str]:
        """The conversation ids the family's id function gives for this customer (keyed with `secret`)."""
        if subject.kind == CONVERSATION:
            self.family_of(subject.value)
            if len(subject.value) > MAX_ID_CHARS:
                raise BadSubject(f"a conversation id has at most {MAX_ID_CHARS} characters")
            return [subject.value]
        try:
            return self._families[subject.kind].own_ids(subject.value, secret)
        except NotACustomer as exc:
            raise BadSubject(str(exc)) from None

    def family_of(self, conversation_id: str) -> str:
        found = next((f.family for f in self._families.values() if conversation_id.startswith(f.id_prefix)), None)
        if found is None:
            prefixes = " or ".join(f.id_prefix for f in self._families.values())
            raise BadSubject(f"a conversation id starts with {prefixes} and has at most {MAX_ID_CHARS} characters")
        return found

    async def stored_ids(self, subject: Subject, sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
        if subject.kind == CONVERSATION:
            return []
        return await self._families[subject.kind].stored_ids(subject.value, sessionmaker)


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
    families: Families = field(kw_only=True)

    async def conversation_ids(self, subject: Subject) -> list[str]:
        ids = self.families.own_ids(subject, self.secret)
        ids += [i for i in await self.families.stored_ids(subject, self.sessionmaker) if i not in ids]
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
