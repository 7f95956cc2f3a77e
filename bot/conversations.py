"""Conversation ids (docs/seams.md): `web-<session id>` and `wa-<first 24 hex of sha256(From)>`.

A phone number never appears in an id; it lives only in the `contacts` table.
"""

from __future__ import annotations

import hashlib
import re

from bot.outbound import Channel

# The browser's random session id: url-safe, long enough not to be guessed, short enough
# to fit the 128-character id columns, and free of anything that could forge another id.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")

_GERMAN_SPEAKING = ("+49", "+43", "+41")


class InvalidSessionId(ValueError):
    pass


def webchat_id(session_id: object) -> str:
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise InvalidSessionId("session_id must be 16-64 characters of A-Z, a-z, 0-9, '-' or '_'")
    return f"web-{session_id}"


def whatsapp_id(address: str) -> str:
    return "wa-" + hashlib.sha256(address.encode()).hexdigest()[:24]


def channel_of(conversation_id: str) -> Channel:
    if conversation_id.startswith("web-"):
        return Channel.webchat
    if conversation_id.startswith("wa-"):
        return Channel.whatsapp
    raise ValueError(f"conversation id {conversation_id!r} names no channel (expected web-… or wa-…)")


def language_of_number(address: str) -> str | None:
    """German for numbers from Germany, Austria and Switzerland; the assistant corrects from the text."""
    number = address.removeprefix("whatsapp:")
    return "de" if number.startswith(_GERMAN_SPEAKING) else None
