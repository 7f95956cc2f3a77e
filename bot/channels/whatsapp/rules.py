"""WhatsApp, whatever the provider (Twilio, Meta's Cloud API): the rules both follow.

- One customer is one phone number: the conversation id is `wa-` + a keyed hash of the number in
  E.164 form (bot/ids.py), so a customer who writes through either provider has one history. The number
  itself lives only in the `contacts` table (with the provider that last carried a message).
- The reply window: free text only within WHATSAPP_WINDOW_HOURS of the customer's last
  message; outside it only an approved template (WHATSAPP_TEMPLATE_SID) may go out.
- Choices: a provider without buttons shows them as numbered lines, and "2" or a button's
  title stands for that button's payload while it is on offer (until the customer's next
  message); typed intent syntax is text (bot/typed_intents.py).
- At most 1,600 characters a message (longer texts are split at paragraph, line, sentence or
  word boundaries); STOP / Abmelden opts the number out until the customer writes again.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
from abc import ABC, abstractmethod

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import keys
from bot.channels.base import ChannelParts
from bot.channels.folder import KeyedIds, NotACustomer
from bot.channels.whatsapp.settings import WhatsAppSettings
from bot.contacts import Contacts
from bot.ids import keyed_id
from bot.limits import Refused
from core.contract import Button, Inbound, Media, Outbound, ReplyWindow, Route

log = logging.getLogger(__name__)

FAMILY = "whatsapp"
ID_PREFIX = "wa-"
MAX_CHARS = 1600
BUTTONS_SECONDS = 24 * 3600
OPT_OUT_WORDS = frozenset({"stop", "stopp", "abmelden", "unsubscribe"})
_GERMAN_SPEAKING = ("+49", "+43", "+41")


def e164(number: str) -> str:
    """"whatsapp:+49 151 …", "49151…" → "+49151…"."""
    digits = re.sub(r"\D", "", number.removeprefix("whatsapp:"))
    return "+" + digits


def conversation_id(number: str, secret: str) -> str:
    """Keyed (bot/ids.py): the number cannot be found again from the id without SHOPDESK_SECRET."""
    return keyed_id(ID_PREFIX, secret, e164(number))


def language_of_number(number: str) -> str | None:
    """German for numbers from Germany, Austria and Switzerland; the assistant corrects from the text."""
    return "de" if e164(number).startswith(_GERMAN_SPEAKING) else None


def numbered(message: Outbound) -> str:
    """A message as WhatsApp text: buttons become "1) title" lines under the text."""
    lines = [message.text] if message.text else []
    lines += [f"{i}) {b.title}" for i, b in enumerate(message.buttons, start=1)]
    return "\n".join(lines)


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?…])\s+"), re.compile(r"\s+"))


def split_message(text: str, limit: int = MAX_CHARS) -> list[str]:
    """Pieces of at most `limit` characters, cut at the last paragraph, line, sentence or word
    boundary that fits (a single word longer than the limit is cut hard)."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = 0
        for pattern in _BREAKS:
            ends = [m.start() for m in pattern.finditer(window) if 0 < m.start() <= limit]
            if ends:
                cut = ends[-1]
                break
        if cut == 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def reply_window(last_inbound_at: dt.datetime | None, hours: float, has_template: bool) -> ReplyWindow:
    """The one window rule: free text until `hours` after the customer's last message, then
    only an approved template."""
    now = dt.datetime.now(dt.UTC)
    until = last_inbound_at + dt.timedelta(hours=hours) if last_inbound_at else now
    age = "never" if last_inbound_at is None else f"{(now - last_inbound_at).total_seconds() / 3600:.1f} hours ago"
    return ReplyWindow(
        open=now < until, until=until.timestamp(), fallback=has_template,
        why=f"the customer last wrote {age}; WhatsApp allows free-form messages only within {hours:g} hours "
            "of it. Configure an approved template (WHATSAPP_TEMPLATE_SID) to send one instead.",
    )


def template_for(text: str, template_sid: str) -> dict[str, object] | None:
    """The approved template that carries `text` outside the window (variable 1), if configured."""
    return {"content_sid": template_sid, "variables": {"1": text}} if template_sid else None


def _own_id(value: str, secret: str) -> str:
    return conversation_id(_number(value), secret)


async def _contact_ids(value: str, sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    """The conversations whose contact has the number (also those of an earlier id scheme)."""
    return await Contacts(sessionmaker).conversations_at(_number(value))


# A WhatsApp customer is named by their number (privacy export and erase).
WHATSAPP_IDS = KeyedIds(
    FAMILY, ID_PREFIX, "number", "the customer's WhatsApp number, e.g. +4915110000001", _own_id, stored=_contact_ids,
)


def _number(value: str) -> str:
    number = e164(value)
    if not 8 <= len(number) <= 16:
        raise NotACustomer("a WhatsApp number is written +<country code><number>, e.g. +4915110000001")
    return number


class WhatsAppCustomers:
    """What both providers share: the contact and the route it gives, the choices on offer, and
    taking a message."""

    def __init__(self, parts: ChannelParts, window_hours: float, secret: str) -> None:
        self._secret = secret
        self._contacts = parts.contacts
        self._redis = parts.redis
        self._intake = parts.intake
        self._delivery = parts.delivery
        self._window_hours = window_hours
        self._providers: dict[str, WhatsAppProvider] = {}

    def add(self, provider: WhatsAppProvider) -> None:
        """A provider of the family; the one added last answers customers no provider has carried."""
        self._providers[provider.name] = provider

    async def route(self, conversation_id: str) -> Route:
        """The contact, read once: the provider the customer last wrote through, their number
        (None when unknown or opted out) and the window of that provider."""
        contact = await self._contacts.get(conversation_id)
        providers = list(self._providers.values())
        unit = self._providers.get(contact.provider, providers[-1]) if contact else providers[-1]
        window = reply_window(contact.last_inbound_at if contact else None, self._window_hours, unit.has_template())
        to = contact.address if contact is not None and not contact.opted_out else None
        return Route(conversation_id, window, unit, to)

    async def offer(self, conversation_id: str, buttons: tuple[Button, ...]) -> None:
        await self._redis.set(
            keys.buttons(conversation_id), json.dumps([[b.title, b.payload] for b in buttons]), ex=BUTTONS_SECONDS,
        )

    async def receive(
        self, provider: str, message_id: str, number: str, body: str, media: tuple[Media, ...],
        choice: Button | None = None,
    ) -> None:
        """A new message of a provider: the contact, then opt-out, and the intake (dedup on the
        provider's `message_id`, limits, the router's inbox). `choice` is a button the provider
        says was tapped, taken only while it is on offer (anything else is the text it shows);
        otherwise "2" or a title is looked up among the offered ones.
        A refused message is answered with the reason, in the customer's language."""
        cid = conversation_id(number, self._secret)
        opting_out = body.strip().casefold() in OPT_OUT_WORDS
        await self._contacts.saw_inbound(cid, FAMILY, e164(number), provider, opted_out=opting_out)
        if opting_out:
            await self._intake.record_only(cid, FAMILY, body.strip())
            log.info("opted out conversation=%s", cid)
            return
        button = await self._button_for_reply(cid, body, choice)
        try:
            await self._intake.take(Inbound(
                conversation_id=cid, channel=FAMILY, text=button.payload if button else body.strip(),
                language=language_of_number(number), media=media, external_id=f"{provider}:{message_id}",
                shown=_shown(body, button), accepts_media=True,
            ), button)  # taken, the message uses up the offer (the intake removes it)
        except Refused as refused:
            if refused.tell and refused.text:
                await self._delivery.deliver(cid, [Outbound(text=refused.text)])

    async def _button_for_reply(self, conversation_id: str, text: str, choice: Button | None) -> Button | None:
        """The offered button that was tapped, or that "2" or "Versand" names, if any."""
        raw = await self._redis.get(keys.buttons(conversation_id))
        if raw is None:
            return None
        offered = [Button(title, payload) for title, payload in json.loads(raw)]
        if choice is not None:
            # A quick reply's id is the choice number ("4") or the payload itself.
            number = int(choice.payload) if choice.payload.isdigit() else 0
            if 1 <= number <= len(offered):
                return offered[number - 1]
            return next((b for b in offered if b.payload == choice.payload), None)
        answer = text.strip().rstrip(".)").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(offered):
            return offered[int(answer) - 1]
        return next((b for b in offered if b.title.strip().casefold() == answer.casefold()), None)


class WhatsAppProvider(ABC):
    """What every WhatsApp provider unit shares: the family's ids and length, the customers'
    rules and routes (to the provider the customer last wrote through)."""

    name: str
    family = FAMILY
    id_prefix = ID_PREFIX
    max_chars = MAX_CHARS

    def __init__(self, own: WhatsAppSettings, parts: ChannelParts, customers: WhatsAppCustomers) -> None:
        self._own = own
        self._parts = parts
        self._customers = customers
        customers.add(self)

    @abstractmethod
    def add_routes(self, app: web.Application) -> None: ...

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def send(self, route: Route, messages: list[Outbound]) -> None: ...

    @abstractmethod
    def has_template(self) -> bool:
        """Whether an approved template is configured for outside the reply window."""

    async def route(self, conversation_id: str) -> Route:
        return await self._customers.route(conversation_id)

    @staticmethod
    def sendable(route: Route) -> str | None:
        """The number to send to, or None (logged) for a customer who cannot be written to."""
        if route.to is None:
            log.info("not sent conversation=%s: no WhatsApp contact, or the customer opted out", route.conversation_id)
        return route.to

    @staticmethod
    def window_open(route: Route) -> bool:
        """Free text may go out; False also when the route's window ran out since it was read."""
        return route.open_at(time.time())

    def sends_outside_window(self, message: Outbound) -> bool:
        """A provider that sends some messages as their own approved template (quick replies) says so."""
        return False

    async def typing(self, conversation_id: str, agent_id: str | None = None) -> None:  # noqa: B027  (no provider has it)
        """Neither provider shows typing for free-form replies."""


def _shown(body: str, button: Button | None) -> str | None:
    """What the transcript keeps of a button reply: "2 (Versand)", so the agent reads the choice."""
    if button is None:
        return None
    typed = body.strip()
    if not typed or typed.casefold() == button.title.strip().casefold():
        return button.title
    return f"{typed} ({button.title})"
