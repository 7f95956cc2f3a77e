"""The message shapes and the two seams between the gateway and the live-agent desk.

The router (bot/router.py) turns every channel's input into an `Inbound`, and every
reply, from Rasa or from an agent, into `Outbound`s handed to a `Delivery`.
The desk (handoff/desk.py) is the `Desk`: it decides whether a customer message
belongs to a human, and uses the gateway's `Delivery` and `BotHandback` to talk back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class Channel(str, enum.Enum):
    whatsapp = "whatsapp"
    webchat = "webchat"


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True)
class Inbound:
    """One customer message, whatever channel it came from."""

    conversation_id: str
    channel: Channel
    text: str
    language: str | None = None
    media: tuple[Media, ...] = ()
    external_id: str | None = None  # Twilio's MessageSid or the widget's client message id
    # A pressed button sends its payload ("/affirm") to the bot; the transcript, which agents
    # read, keeps what the customer saw instead (the button's title).
    shown: str | None = None


@dataclass(frozen=True)
class Outbound:
    """One message to a customer, from the bot or from an agent."""

    text: str | None = None
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None
    sender: str = "bot"  # "bot" or "agent"
    agent_id: str | None = None


@dataclass(frozen=True)
class HandoffRequest:
    """The assistant's request for a human: the `handoff` object of a Rasa custom payload."""

    reason: str
    priority: int = 0
    language: str = "de"
    summary: str = ""
    complaint_reference: str | None = None
    order_number: str | None = None
    fallback_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "HandoffRequest":
        known = {k: payload[k] for k in cls.__dataclass_fields__ if k in payload and k != "extra"}
        extra = {k: v for k, v in payload.items() if k not in cls.__dataclass_fields__}
        return cls(**known, extra=extra)


class Delivery(Protocol):
    """The gateway's way to a customer: records the transcript, then sends on the customer's channel."""

    async def deliver(self, conversation_id: str, messages: list[Outbound]) -> None: ...


class BotHandback(Protocol):
    """Gives a conversation back to Rasa after an agent closed it; Rasa then asks for the rating."""

    async def hand_back(self, conversation_id: str, agent_id: str) -> None: ...


class Desk(Protocol):
    """The live-agent desk as the router sees it."""

    async def takes_message(self, inbound: Inbound) -> bool:
        """True when the conversation is queued or with an agent: the desk keeps the
        message (for the agent) and the router must not send it to Rasa."""
        ...

    async def request_handoff(self, conversation_id: str, channel: Channel, request: HandoffRequest) -> None:
        """Queue the conversation (no-op if already queued/with an agent) and tell the
        customer, through the Delivery, their place in the queue and the expected wait."""
        ...
