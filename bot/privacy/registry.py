"""Every place a customer's data lives: the single list that export, erase and retention use.

A new SQL table or Redis key family must be added here, either as customer data (with what
an erase deletes and what it keeps, anonymised) or in the `NOT_CUSTOMER_*` lists with the
reason it holds none; tests/test_privacy_registry.py fails otherwise.

Anonymised means: the row stays for the shop's figures, under a new random conversation id
(`anon-…`) that links to nobody, with every column that could hold personal data cleared.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from typing import Any

from bot import keys as gateway_keys
from handoff.queue import keys as desk_keys
from handoff.reports import keys as report_keys

# Prefix of the random conversation id an anonymised row gets (channels use web-/wa-).
ANON_PREFIX = "anon-"


class Fate(str, enum.Enum):
    delete = "delete"  # the row goes
    anonymise = "anonymise"  # the row stays under a new random conversation id, personal columns cleared


@dataclass(frozen=True)
class SqlTable:
    """A table of the application database that holds rows of a conversation."""

    name: str
    conversation_column: str
    fate: Fate
    # Columns that may hold personal data → the value they get when the row is anonymised.
    cleared: dict[str, Any] = field(default_factory=dict)
    # Columns whose newest value is the conversation's last activity (retention).
    activity_columns: tuple[str, ...] = ()
    # Kept past RETENTION_DAYS until COMPLAINT_RETENTION_DAYS (the statutory warranty period).
    warranty: bool = False
    why: str = ""
    # A table without a conversation column whose rows belong to another table's rows:
    # (its column, the parent table, the parent's key). Handled with the parent, before it.
    parent: tuple[str, str, str] | None = None


SQL_TABLES: tuple[SqlTable, ...] = (
    SqlTable("messages", "conversation_id", Fate.delete, activity_columns=("created_at",),
             why="the transcript: every customer, bot and agent line, media URLs included"),
    SqlTable("contacts", "conversation_id", Fate.delete, activity_columns=("last_inbound_at", "created_at"),
             why="the WhatsApp number behind a wa-… id and its opt-out"),
    SqlTable("feedback", "conversation_id", Fate.anonymise, cleared={"comment": None},
             activity_columns=("created_at",),
             why="rating and rating agent stay for the reports; the comment is the customer's text"),
    SqlTable("handoffs", "conversation_id", Fate.anonymise, cleared={"summary": "", "resolution_note": None},
             activity_columns=("queued_at", "claimed_at", "closed_at"),
             why="reason, priority, agent, times and outcome stay for the waits; summary and note describe "
                 "the customer"),
    SqlTable("complaint_events", "", Fate.anonymise, cleared={"text": None, "media_url": None}, warranty=True,
             parent=("complaint_id", "complaints", "id"),
             why="a complaint's timeline: kind, status, actor and time stay; what the customer or agent wrote goes"),
    SqlTable("complaints", "conversation_id", Fate.anonymise,
             cleared={"description": "", "order_number": None, "media_url": None, "resolution": None,
                      "reference": lambda: new_reference()},
             warranty=True,
             why="category, status, language and times stay for the reports; description, order, photo, the "
                 "agent's resolution and the reference (told to the customer) go"),
    SqlTable("conversation_starts", "conversation_id", Fate.anonymise, activity_columns=("started_at",),
             why="reports: a conversation started, on which channel, handed off or not"),
    SqlTable("rating_requests", "conversation_id", Fate.anonymise, activity_columns=("created_at",),
             why="reports: the rating question was asked (and by whose conversation: the agent)"),
    SqlTable("conversation_notes", "conversation_id", Fate.delete, activity_columns=("created_at",),
             why="the agents' internal notes about the customer"),
    SqlTable("unknown_messages", "conversation_id", Fate.delete, activity_columns=("created_at",),
             why="a message the bot did not understand, masked, but still the customer's text"),
)

# Tables without customer data, and why.
NOT_CUSTOMER_SQL: dict[str, str] = {
    "agents": "the desk's agent accounts (name and token hash)",
    "orders": "the demo order source: the shop's orders, not what a customer said",
    "privacy_log": "counts of export, erase and retention runs, never a value",
    "alembic_version": "the schema version",
}

# Files: the attachment store (ATTACHMENT_DIR, core/attachments.py): photos customers sent in the
# web chat, images and PDFs agents sent; `<token>.json` beside each file names its conversation.
# Erase deletes them; they expire by themselves after ATTACHMENT_TTL_HOURS.
FILE_STORES: dict[str, str] = {"attachments": "ATTACHMENT_DIR, <token> + <token>.json (conversation_id)"}

# Rasa's SQL tracker store (RASA_TRACKER_DB_URL): every event of a conversation, keyed by sender_id.
TRACKER_TABLES: dict[str, str] = {"events": "sender_id"}
NOT_CUSTOMER_TRACKER: dict[str, str] = {}


class KeyKind(str, enum.Enum):
    per_conversation = "per_conversation"  # the conversation id is in the key: the key is deleted
    member = "member"  # a set / sorted set whose members are conversation ids: the member is removed
    entries = "entries"  # a list of JSON entries naming a conversation: those entries are removed


@dataclass(frozen=True)
class KeyFamily:
    """A Redis key family; `pattern` is a glob in which `{cid}` stands for the conversation id."""

    pattern: str
    kind: KeyKind
    expires: bool  # every key has a TTL of at most a day: retention need not look for old ones
    holds: str

    def glob(self, conversation_id: str = "*") -> str:
        return self.pattern.replace("{cid}", conversation_id)


_GW = gateway_keys.PREFIX
_DESK = desk_keys.PREFIX
# Rasa's lock store (scripts/rasa_endpoints.py: key_prefix "shopdesk") — a lock per conversation.
RASA_LOCK_PREFIX = "shopdesk:lock:"

KEY_FAMILIES: tuple[KeyFamily, ...] = (
    KeyFamily(gateway_keys.inbox("{cid}"), KeyKind.per_conversation, False, "customer messages waiting for the router"),
    KeyFamily(gateway_keys.handling("{cid}", "*"), KeyKind.per_conversation, True,
              "Rasa's replies to a message in handling"),
    KeyFamily(gateway_keys.worker("{cid}"), KeyKind.per_conversation, True, "the router's lock token"),
    KeyFamily(gateway_keys.seen("{cid}", "*"), KeyKind.per_conversation, True,
              "provider message ids and web chat client ids seen"),
    KeyFamily(gateway_keys.buttons("{cid}"), KeyKind.per_conversation, True, "the buttons last offered"),
    KeyFamily(_GW + "rate:{cid}:*", KeyKind.per_conversation, True, "messages a minute"),
    KeyFamily(gateway_keys.delay_notice("{cid}"), KeyKind.per_conversation, True, "the slow-bot notice flag"),
    KeyFamily(gateway_keys.DEAD_LETTER, KeyKind.entries, False, "messages the router gave up on, raw text included"),
    KeyFamily(gateway_keys.NOT_SENT, KeyKind.entries, False, "bot replies a channel could not send (id, reason, time)"),
    KeyFamily(desk_keys.conversation("{cid}"), KeyKind.per_conversation, False, "the handoff card (summary, order)"),
    KeyFamily(desk_keys.shown("{cid}", "*"), KeyKind.per_conversation, True, "messages shown to the agents"),
    KeyFamily(desk_keys.viewers("{cid}"), KeyKind.per_conversation, True, "the agents viewing the conversation"),
    KeyFamily(desk_keys.typing("{cid}"), KeyKind.per_conversation, True, "the customer is typing (a few seconds)"),
    KeyFamily(desk_keys.closing("{cid}"), KeyKind.per_conversation, True, "an unfinished close (agent, resolution note)"),
    KeyFamily(desk_keys.closing_lease("{cid}"), KeyKind.per_conversation, True, "who finishes an unfinished close"),
    KeyFamily(desk_keys.CLOSING, KeyKind.member, False, "conversation ids with an unfinished close"),
    KeyFamily(desk_keys.QUEUE, KeyKind.member, False, "queued conversation ids"),
    KeyFamily(desk_keys.ASSIGNED, KeyKind.member, False, "conversation ids with an agent"),
    KeyFamily(desk_keys.agent_conversations("*"), KeyKind.member, False, "an agent's conversation ids"),
    KeyFamily(report_keys.active("{cid}"), KeyKind.per_conversation, True, "a customer message within the hour"),
    KeyFamily(RASA_LOCK_PREFIX + "{cid}", KeyKind.per_conversation, True, "Rasa's lock of a conversation"),
)

# Key families without customer data (globs), and why.
NOT_CUSTOMER_KEYS: dict[str, str] = {
    gateway_keys.RETENTION_LEASE: "the retention job's lease",
    desk_keys.agent_sockets("*"): "an agent's console sockets",
    desk_keys.agent_seen("*"): "when an agent was last seen",
    desk_keys.signin_failures("*"): "wrong agent tokens per client address (a count and a lock time; expires)",
    desk_keys.WAITS: "recent pickup waits in seconds",
    report_keys.ALERT_LEASE: "the alert check's lease",
    report_keys.ALERTS_ACTIVE: "alerts while their condition holds (figures, no conversation)",
    # Client addresses (bot/limits.py) are never stored: only an HMAC under the day's random
    # key, which Redis forgets after two days; then no hash can be traced back to an address.
    gateway_keys.PREFIX + "addr-key:*": "the day's random key of the client address hashes (expires after two days)",
    gateway_keys.PREFIX + "addr:*": "per-address limit counters (new conversations, open sockets, messages a "
                                    "minute) under the address's keyed hash: hashes of conversation ids and random "
                                    "socket ids, no id and no text; every key expires within two minutes",
}


def new_conversation_id() -> str:
    """The random id an anonymised conversation's rows move to: it links to nobody."""
    return ANON_PREFIX + secrets.token_hex(12)


def new_reference() -> str:
    """An anonymised complaint's reference (the column is unique and required)."""
    return "X-" + secrets.token_hex(8)


def cleared_value(value: Any) -> Any:
    return value() if callable(value) else value


def per_conversation_keys(conversation_id: str) -> list[str]:
    """The exact keys of a conversation that have no wildcard besides the id."""
    return [f.glob(conversation_id) for f in KEY_FAMILIES
            if f.kind is KeyKind.per_conversation and "*" not in f.glob(conversation_id)]


def wildcard_families() -> list[KeyFamily]:
    return [f for f in KEY_FAMILIES if f.kind is KeyKind.per_conversation and "*" in f.glob("x")]


def member_sets() -> list[KeyFamily]:
    return [f for f in KEY_FAMILIES if f.kind is KeyKind.member]


def table(name: str) -> SqlTable:
    return next(t for t in SQL_TABLES if t.name == name)
