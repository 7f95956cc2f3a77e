"""Customer messages the bot did not understand, kept for the reports' "what should the bot learn
next" list: normalised, and order numbers, e-mail addresses, phone numbers and other long
numbers masked BEFORE the row is written (the table never holds them)."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import UnknownMessage

MAX_CHARS = 200

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_ORDER = re.compile(r"#\d{4,}\b|#?\b(?:ak[\s\-–_]{0,3}\d{4,}|[a-z]{1,4}[-–_]?\d{4,})\b", re.IGNORECASE)
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s()/.-]{5,}\d(?![\w])")
_NUMBER = re.compile(r"\d{4,}")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_PUNCTUATION = re.compile(r"[^\w\s<>äöüß'-]+", re.UNICODE)
_SPACES = re.compile(r"\s+")


def mask_personal(text: str) -> str:
    """E-mail → <email>, order number (AK-123456, #AB1234) → <order>, phone → <phone>, any other
    number of four or more digits → <number>, links → <link>."""
    text = _URL.sub(" <link> ", text)
    text = _EMAIL.sub(" <email> ", text)
    text = _ORDER.sub(" <order> ", text)
    text = _PHONE.sub(" <phone> ", text)
    return _NUMBER.sub("<number>", text)


def normalise(text: str) -> str:
    """Lower case, masked, punctuation dropped, spaces collapsed, at most MAX_CHARS characters: so
    "Wo ist AK-123456??" and "wo ist ak 654321" count as one question."""
    masked = mask_personal(text.strip().lower())
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", masked)).strip()[:MAX_CHARS]


async def store_unknown(
    sessions: async_sessionmaker[AsyncSession], *, conversation_id: str, language: str, text: str,
) -> bool:
    """Keep one not-understood message (normalised and masked); False for button payloads and empty text."""
    if not text or text.startswith("/"):
        return False
    normalised = normalise(text)
    if not normalised:
        return False
    async with sessions() as session, session.begin():
        session.add(UnknownMessage(conversation_id=conversation_id, language=language[:8], text=normalised))
    return True
