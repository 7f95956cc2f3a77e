"""The contract between the gateway (`bot/`), the desk (`handoff/`) and the assistant (`actions/`).

The languages, message shapes, the handoff payload with its priorities, and the protocols each side
implements, with the exceptions they raise next to them. Nothing here knows a channel by name:
a channel is a unit behind the `Channel` protocol, and the desk asks the `Delivery` what it may
send. Dependencies point one way: `bot/` imports `handoff/`, `handoff/` never imports `bot/`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

# The languages the assistant, the gateway and the desk speak; a customer in any other is answered
# in the default (the shop's home market).
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"


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
    channel: str  # the channel family recorded everywhere: "whatsapp", "webchat"
    text: str
    language: str | None = None
    media: tuple[Media, ...] = ()
    external_id: str | None = None  # the provider's message id or the widget's client message id
    # A pressed button sends its payload ("/affirm") to the bot; the transcript, which agents
    # read, keeps what the customer saw instead (the button's title). Typed intent syntax goes
    # to the bot as text (bot/typed_intents.py); this keeps what the customer typed.
    shown: str | None = None
    accepts_media: bool = False  # the channel can carry a photo from the customer
    # A keyed hash of the client address the message came from (web chat; never the address
    # itself), for the per-address limits and the queue's cap per address. None: the channel
    # has no client address (a WhatsApp webhook's peer is the provider).
    address: str | None = None

    def transcript_text(self) -> str:
        """What the transcript keeps of it: what the customer saw, and the media as lines."""
        media = "\n".join(f"[{m.content_type}] {m.url}" for m in self.media)
        return "\n".join(part for part in (self.shown or self.text, media) if part)


@dataclass(frozen=True)
class Outbound:
    """One message to a customer, from the bot or from an agent."""

    text: str | None = None
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None
    sender: str = "bot"  # "bot" or "agent"
    agent_id: str | None = None

    def transcript_text(self) -> str:
        """What the transcript keeps of it: its text, or the offered choices when it has none."""
        return self.text or " | ".join(b.title for b in self.buttons)


class Priority(enum.IntEnum):
    """Queue priority a handoff asks for (higher first); the desk raises it to the reason's floor."""

    normal = 0
    complaint = 1  # a complaint that needs a person
    urgent = 2  # billing or a repeated complaint


# Reasons of the handoff payload, with the least priority the desk gives each.
REASON_FLOOR: dict[str, Priority] = {
    "customer_request": Priority.normal,
    "not_understood": Priority.normal,
    "order_not_found": Priority.normal,
    "bot_unavailable": Priority.complaint,
    "complaint": Priority.complaint,
    "billing_complaint": Priority.urgent,
    "repeat_complaint": Priority.urgent,
}


@dataclass(frozen=True)
class HandoffRequest:
    """The assistant's request for a human: the `handoff` object of a Rasa custom payload."""

    reason: str
    priority: int = Priority.normal
    language: str = DEFAULT_LANGUAGE
    summary: str = ""
    complaint_reference: str | None = None
    order_number: str | None = None
    fallback_count: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    # Set by the gateway, never by the assistant: `Inbound.address` of the message that led here.
    address: str | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> HandoffRequest:
        names = {f for f in cls.__dataclass_fields__ if f not in ("extra", "address")}
        known = {k: payload[k] for k in names if k in payload}
        extra = {k: v for k, v in payload.items() if k not in names}
        return cls(**known, extra=extra)

    def effective_priority(self) -> Priority:
        floor = REASON_FLOOR.get(self.reason, Priority.normal)
        try:
            asked = Priority(max(Priority.normal, min(Priority.urgent, int(self.priority))))
        except (TypeError, ValueError):
            asked = Priority.normal
        return max(asked, floor)


@dataclass(frozen=True)
class ReplyWindow:
    """May free text be sent to the conversation now, and until when (unix time; None: no limit).
    Outside it, `fallback` says whether the channel sends an approved template instead, and
    `why` tells an agent what happened and how to fix it."""

    open: bool
    until: float | None = None
    fallback: bool = False
    why: str = ""

    def seconds_left(self, now: float) -> float | None:
        if self.until is None:
            return None
        return max(0.0, self.until - now)


ALWAYS_OPEN = ReplyWindow(open=True)


@dataclass(frozen=True)
class Route:
    """One send's way to the customer, resolved once per send (the customer's contact read
    once): the reply window, and for the gateway the channel unit that carries the send and the
    customer's address on it (None: the unit needs none, or the customer cannot be written to)."""

    conversation_id: str
    window: ReplyWindow
    unit: Channel | None = None  # None only in a Delivery of the tests' own
    to: str | None = None

    def open_at(self, now: float) -> bool:
        """Free text may still go out: the window was open and has not run out since."""
        return self.window.open and (self.window.until is None or now < self.window.until)


class WindowClosed(Exception):
    """Free text is outside the channel's reply window and no template is configured."""


class DeliveryFailed(Exception):
    """The channel refused or finally failed to send: nothing reached the customer."""


class Delivery(Protocol):
    """The gateway's way to a customer: records the transcript, then sends on the customer's channel."""

    async def deliver(self, conversation_id: str, messages: list[Outbound], route: Route | None = None) -> None:
        """Outside the reply window a message goes out as the channel's template, or the call
        raises `WindowClosed` (also when the window of `route` ran out before the send); a send
        that finally fails raises `DeliveryFailed`. `route`: the one `route` gave (else resolved here)."""
        ...

    async def route(self, conversation_id: str) -> Route:
        """The way of the next send: its window decides what the caller may send."""
        ...

    async def reply_window(self, conversation_id: str) -> ReplyWindow: ...

    async def typing(self, conversation_id: str, agent_id: str | None = None) -> None:
        """Show that an answer is being written (by the bot, or by the agent `agent_id`), where the
        channel can; nothing is recorded."""
        ...


class BotHandback(Protocol):
    """Gives a conversation back to Rasa after an agent closed it; Rasa then asks for the rating."""

    async def hand_back(self, conversation_id: str, agent_id: str) -> None: ...


class BotTrigger(Protocol):
    """Gives the assistant an external intent for a conversation; its replies go to the customer."""

    async def trigger(self, conversation_id: str, intent: str, entities: dict[str, str]) -> None: ...


class DeskUnavailable(Exception):
    """The desk's store did not answer; the caller keeps the message and retries."""


class Desk(Protocol):
    """The live-agent desk as the router sees it. Both methods raise `DeskUnavailable`."""

    async def takes_message(self, inbound: Inbound) -> bool:
        """True when the conversation is queued or with an agent: the desk keeps the
        message (for the agent) and the router must not send it to Rasa."""
        ...

    async def request_handoff(self, conversation_id: str, channel: str, request: HandoffRequest) -> str | None:
        """Queue the conversation (no-op if already queued/with an agent) and tell the
        customer, through the Delivery, their place in the queue and the expected wait.
        When a queue cap refuses it, the customer is told why and what to do instead, the
        conversation stays with the bot, and the refusal's reason is returned (`queue_full`,
        `queue_address_limit`); None otherwise."""
        ...

    async def customer_typing(self, conversation_id: str) -> None:
        """The customer is typing (where the channel tells): the agent who has it sees so."""
        ...

    async def customers_present(self, conversation_ids: list[str]) -> None:
        """These customers are still there (their web chat is open), though they may not write:
        queued ones are not expired as silent (QUEUE_ABANDON_SECONDS)."""
        ...


class Channel(Protocol):
    """One customer channel as a complete unit: its routes in, its sends out, its policy.

    `family` is what transcripts, reports and Rasa see ("whatsapp", "webchat"); two providers of
    one family share its conversation ids (`id_prefix`), so a customer is one customer whichever
    provider they wrote through, and `route` (asked of any unit of the family) says which of
    them answers a conversation.
    """

    name: str  # this unit, e.g. "twilio"
    family: str
    id_prefix: str
    max_chars: int  # longest message the provider takes (longer ones are split)

    def add_routes(self, app: web.Application) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def route(self, conversation_id: str) -> Route:
        """The unit of this family that answers the conversation, the customer's address on it
        and the reply window, read once for one send."""
        ...

    async def send(self, route: Route, messages: list[Outbound]) -> None:
        """Put the messages in front of the customer (the transcript is already written) the
        way `route` says. Raises `WindowClosed` (the route's window ran out and no template
        carries the message) or `DeliveryFailed` as `Delivery.deliver` documents, never skips one
        quietly; a route without an address (the customer opted out) is logged and not sent."""
        ...

    async def typing(self, conversation_id: str, agent_id: str | None = None) -> None: ...

    def sends_outside_window(self, message: Outbound) -> bool:
        """The message goes out as an approved template of its own (a quick-reply rating, say),
        which the provider allows outside the reply window too."""
        ...
