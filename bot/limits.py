"""What the gateway refuses, and how it says so: too long, too many, malformed.

Each refusal has a `reason` (machine-readable, used in web chat error frames, HTTP 400 bodies
and the `shopdesk_errors_total{kind="rejected_<reason>"}` metric) and a short text for the customer.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis

from bot import keys

_TEXTS = {
    "too_long": {
        "de": "Deine Nachricht ist zu lang (höchstens {limit} Zeichen). Bitte schick sie kürzer oder in Teilen.",
        "en": "Your message is too long (at most {limit} characters). Please send it shorter or in parts.",
    },
    "rate_limited": {
        "de": "Du schreibst gerade sehr schnell. Bitte warte eine Minute, dann geht es weiter.",
        "en": "You are sending messages very quickly. Please wait a minute, then we'll continue.",
    },
    "delay": {
        "de": "Einen Moment bitte, ich bin gleich für dich da.",
        "en": "One moment please, I'll be right with you.",
    },
}


def customer_text(reason: str, language: str | None, **values: object) -> str:
    texts = _TEXTS[reason]
    return texts.get(language or "de", texts["de"]).format(**values)


class Rejected(Exception):
    """A customer message or frame the gateway does not take."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def check_length(text: str, limit: int) -> None:
    if len(text) > limit:
        raise Rejected("too_long", f"the message has {len(text)} characters, at most {limit} are accepted")


class RateLimiter:
    """Fixed one-minute windows per sender, counted in Redis (shared by all gateway processes)."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self._redis = redis
        self.per_minute = per_minute

    async def hit(self, sender: str) -> int:
        """Count one message; returns how many the sender sent in this minute, this one included."""
        key = keys.rate(sender, int(time.time() // 60))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count)

    def over(self, count: int) -> bool:
        return count > self.per_minute
