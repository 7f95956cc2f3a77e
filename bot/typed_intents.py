"""Rasa's typed-intent syntax belongs to the buttons the gateway offered, never to typed text.

Rasa 3.6 takes every message whose text, stripped with Python's `str.strip()` (so also after
Unicode spaces such as U+00A0), starts with "/" as a finished prediction: `/intent{"entity":
"value"}` skips the NLU and sets the entities (RegexMessageHandler →
`YAMLStoryReader.unpack_regex_message`, prefix `rasa.shared.constants.INTENT_MESSAGE_PREFIX`).
A visitor could so type `/EXTERNAL_handoff_closed{"agent_id": …}` and rate a real agent.

The rule, for every channel (bot/intake.py applies it to each message before the inbox):
- such a text goes to Rasa as it is only when it is the payload of the button the channel says
  was pressed — a button the gateway itself delivered in this conversation and that is still
  on offer (web chat: the payload of the offered button; WhatsApp: the payload a number, a title
  or a tap stands for);
- the gateway's own external intents (`EXTERNAL_…`, sent through `trigger_intent` by
  bot/handback.py) never come from a customer message, not even from a button;
- anything else is text: a word joiner (U+2060: invisible, and not whitespace, so Rasa's strip
  keeps it) goes in front, Rasa's NLU classifies it like any other message, and the transcript
  and the desk keep exactly what the customer wrote (`Inbound.shown`).
"""

from __future__ import annotations

from dataclasses import replace

from core.contract import Button, Inbound

INTENT_PREFIX = "/"  # rasa.shared.constants.INTENT_MESSAGE_PREFIX
EXTERNAL_PREFIX = "EXTERNAL_"
AS_TEXT = "\u2060"  # WORD JOINER


def is_typed_intent(text: str) -> bool:
    """Whether Rasa would read `text` as an intent rather than classify it (its own test)."""
    return text.strip().startswith(INTENT_PREFIX)


def is_external(text: str) -> bool:
    """Whether `text` names one of the gateway's external intents (`/EXTERNAL_…`, any case)."""
    # Rasa's intent name is what follows the prefix up to "@" or "{", stripped.
    name = text.strip().removeprefix(INTENT_PREFIX).split("{", 1)[0].split("@", 1)[0].strip()
    return name.upper().startswith(EXTERNAL_PREFIX)


def as_text(text: str) -> str:
    """`text` in a form Rasa classifies as a message instead of unpacking it as an intent."""
    return AS_TEXT + text


def admit(inbound: Inbound, pressed: Button | None) -> Inbound:
    """The message as Rasa may see it: a typed intent only as the payload of the on-offer button
    `pressed` (never an external one), any other text starting with "/" as text."""
    if not is_typed_intent(inbound.text):
        return inbound
    if pressed is not None and inbound.text == pressed.payload and not is_external(inbound.text):
        return inbound
    return replace(inbound, text=as_text(inbound.text), shown=inbound.shown or inbound.text)
