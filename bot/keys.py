"""Every Redis key and pub/sub channel the gateway uses, in one place (prefix `shopdesk:gw:`).

All per-conversation state lives here, never in a process's memory, so any number of
gateway processes can share one Redis.
"""

from __future__ import annotations

PREFIX = "shopdesk:gw:"

# Pub/sub channel every gateway process listens on; a frame for a web chat conversation is
# pushed by whichever process holds that conversation's websocket.
WEBCHAT_FANOUT = PREFIX + "webchat-out"


def inbox(conversation_id: str) -> str:
    """List of customer messages waiting for the router, oldest first (bot/inbox.py)."""
    return f"{PREFIX}inbox:{conversation_id}"


def inbox_pattern() -> str:
    return f"{PREFIX}inbox:*"


# Customer messages the inbox gave up on after ROUTER_MAX_ATTEMPTS (JSON: the inbox entry, the error type, the attempts);
# an operator looks at them and pushes the entry back onto the inbox. Never trimmed automatically.
DEAD_LETTER = PREFIX + "dead-letter"

# Bot replies a channel refused or could not send (outside the reply window without a template,
# a final provider failure): the newest NOT_SENT_KEPT entries `{conversation_id, reason, kind,
# messages, at}`, for the operator (reason is the exception: WindowClosed, DeliveryFailed).
NOT_SENT = PREFIX + "not-sent"
NOT_SENT_KEPT = 1000


def handling(conversation_id: str, message_id: str) -> str:
    """Hash of how far the router got with one message (the inbox's attempts, then the router's
    notes: transcript written, Rasa's replies, replies dispatched), so a retry neither asks Rasa
    again nor repeats a line."""
    return f"{PREFIX}handling:{conversation_id}:{message_id}"


def worker(conversation_id: str) -> str:
    """Lock held by the one process that works a conversation's inbox (keeps the order)."""
    return f"{PREFIX}worker:{conversation_id}"


def seen(source: str, external_id: str) -> str:
    """Set once per provider message id (Twilio MessageSid, widget client id): duplicates are dropped."""
    return f"{PREFIX}seen:{source}:{external_id}"


def buttons(conversation_id: str) -> str:
    """The buttons last offered: on WhatsApp to map "2" back, in web chat to show them after a reload."""
    return f"{PREFIX}buttons:{conversation_id}"


def rate(sender: str, window: int) -> str:
    """Message counter of one sender in one minute."""
    return f"{PREFIX}rate:{sender}:{window}"


def delay_notice(conversation_id: str) -> str:
    """Set while the customer has been told that the bot is slow (the notice goes out once)."""
    return f"{PREFIX}delay-notice:{conversation_id}"


# Held by the one gateway process that runs the privacy retention pass (bot/privacy/retention.py)
# for RETENTION_INTERVAL_SECONDS: the pass runs once per interval however many processes run.
RETENTION_LEASE = PREFIX + "privacy:retention-lease"


# Per client address (bot/limits.py). `{who}` is a keyed hash of the address (never the
# address itself) under the day's `address_key`, which expires after two days: after that the
# hashes in these short-lived keys identify nobody.
def address_key(day: int) -> str:
    """The random HMAC key of one UTC day (days since the epoch), shared by every process."""
    return f"{PREFIX}addr-key:{day}"


def address_new(who: str, window: int) -> str:
    """Set of hashes of the conversation ids an address opened in one minute."""
    return f"{PREFIX}addr:{who}:new:{window}"


def address_sockets(who: str) -> str:
    """Sorted set of an address's open web chat sockets (random ids) → expiry (unix s), renewed
    while the socket is open, so a crashed process's sockets drop out by themselves."""
    return f"{PREFIX}addr:{who}:sockets"


def address_rate(who: str, window: int) -> str:
    """Message counter of one address in one minute."""
    return f"{PREFIX}addr:{who}:rate:{window}"
