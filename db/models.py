"""Typed ORM models of every application table (the schema Alembic creates)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The columns most tables share, each declared once; every table still gets its own column and index.
IntId = Annotated[int, mapped_column(Integer, primary_key=True, autoincrement=True)]
ConversationId = Annotated[str, mapped_column(String(128), index=True)]
CreatedAt = Annotated[dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)]
CreatedAtUnindexed = Annotated[dt.datetime, mapped_column(DateTime(timezone=True), server_default=func.now())]
ChannelName = Annotated[str, mapped_column(String(32))]
AgentName = Annotated[str, mapped_column(String(64))]


class Base(DeclarativeBase):
    pass


class ConversationRecord:
    """The first columns of a table whose rows each belong to one conversation."""

    # A mixin's columns would otherwise come last; the migrations create them first.
    id: Mapped[IntId] = mapped_column(sort_order=-2)
    conversation_id: Mapped[ConversationId] = mapped_column(sort_order=-1)


class Sender(str, enum.Enum):
    customer = "customer"
    bot = "bot"
    agent = "agent"
    # The gateway's own marks for the agent (a message the channel could not deliver); never
    # shown to the customer.
    system = "system"


class Message(ConversationRecord, Base):
    """One line of a conversation's transcript, written by the gateway."""

    __tablename__ = "messages"

    channel: Mapped[ChannelName]
    sender: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    agent_id: Mapped[AgentName | None]
    # A customer line's message identity (the router's): a retry after a crash finds the line
    # it wrote before instead of writing it twice.
    message_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        CheckConstraint("sender IN ('customer', 'bot', 'agent', 'system')", name="ck_messages_sender"),
    )


class Complaint(Base):
    __tablename__ = "complaints"

    id: Mapped[IntId]
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[ConversationId]
    channel: Mapped[ChannelName]
    category: Mapped[str] = mapped_column(String(32))
    order_number: Mapped[str | None] = mapped_column(String(32), nullable=True)
    description: Mapped[str] = mapped_column(Text)
    media_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="de")
    needs_human: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[CreatedAt]
    # The agent's answer when the complaint was resolved or rejected (refund, replacement, …).
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (Index("ix_complaints_period", "created_at", "category", "conversation_id"),)


class ComplaintEvent(Base):
    """One entry of a complaint's timeline: who (customer, bot, an agent's name) did what, when."""

    __tablename__ = "complaint_events"

    id: Mapped[IntId]
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # db.complaints.EventKind
    actor: Mapped[str] = mapped_column(String(64))  # "customer", "bot" or the agent's name
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    media_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str | None] = mapped_column(String(16), nullable=True)  # the state after a status change
    created_at: Mapped[CreatedAt]


class Feedback(ConversationRecord, Base):
    """A star rating; rating is NULL when the customer declined to rate."""

    __tablename__ = "feedback"

    channel: Mapped[ChannelName]
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    agent_id: Mapped[AgentName | None]
    created_at: Mapped[CreatedAt]

    __table_args__ = (
        CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="ck_feedback_rating"),
        Index("ix_feedback_period", "created_at", "rating", "agent_id"),
    )


class Order(Base):
    """Orders of the database-backed demo order source."""

    __tablename__ = "orders"

    order_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    carrier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tracking_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expected_delivery: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    items: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[CreatedAtUnindexed]


class Contact(Base):
    """How to reach a conversation's customer; the address (a phone number) stays out of ids and logs."""

    __tablename__ = "contacts"

    conversation_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    channel: Mapped[ChannelName]
    # The channel unit that last carried the customer's message (replies go back through it).
    provider: Mapped[str] = mapped_column(String(32), server_default="twilio")
    address: Mapped[str] = mapped_column(String(128))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    last_inbound_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[CreatedAtUnindexed]


class Agent(Base):
    __tablename__ = "agents"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[CreatedAtUnindexed]


class Handoff(ConversationRecord, Base):
    """One stay of a conversation with the live-agent desk, for reports and wait estimates."""

    __tablename__ = "handoffs"

    channel: Mapped[ChannelName]
    reason: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[str] = mapped_column(Text, default="")
    agent_id: Mapped[AgentName | None]
    resolution_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    queued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The agent's first message after the claim (reports: first response time).
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The customer left the queue, timed out or expired before a claim (reports: abandoned waits).
    abandoned_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index("ix_handoffs_period", "queued_at", "reason", "claimed_at", "first_response_at", "abandoned_at"),
    )


class ConversationStart(ConversationRecord, Base):
    """One conversation for the reports: a customer message after an hour of silence (the
    Rasa session expiry) starts a new one; written by the desk as the message arrives."""

    __tablename__ = "conversation_starts"

    channel: Mapped[ChannelName]
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    handed_off: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_conversation_starts_period", "started_at", "channel", "handed_off"),)


class RatingRequest(ConversationRecord, Base):
    """The rating question was asked (once per rating form); a request without a feedback row
    is a customer who did not answer."""

    __tablename__ = "rating_requests"

    channel: Mapped[ChannelName]
    agent_id: Mapped[AgentName | None]
    created_at: Mapped[CreatedAt]


class UnknownMessage(ConversationRecord, Base):
    """A customer message the bot did not understand: normalised, personal data masked before it is stored."""

    __tablename__ = "unknown_messages"

    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[CreatedAt]


class ConversationNote(ConversationRecord, Base):
    """An agent's internal note on a conversation: shown to every agent, never sent to the customer."""

    __tablename__ = "conversation_notes"

    agent_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[CreatedAt]


class PrivacyLog(Base):
    """One export, erase or retention run: who, when, what it touched (counts), never personal data."""

    __tablename__ = "privacy_log"

    id: Mapped[IntId]
    action: Mapped[str] = mapped_column(String(16))  # export, erase, retention
    actor: Mapped[str] = mapped_column(String(64))  # a supervisor's name, "customer", "operator" or "retention"
    # What was looked up (whatsapp, webchat, conversation), never the value itself.
    subject_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    conversations: Mapped[int] = mapped_column(Integer, default=0)
    counts: Mapped[str] = mapped_column(Text, default="{}")  # JSON: {"sql.messages": 12, "redis": 3, …}
    created_at: Mapped[CreatedAt]
