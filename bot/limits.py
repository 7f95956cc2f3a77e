"""Every limit of the gateway's intake, and `Refused`, what a message or socket past one gets.

- the length of a message (MAX_MESSAGE_CHARS): `check_length`
- messages a minute per conversation (RATE_LIMIT_PER_MINUTE): `RateLimiter`, in Redis, and its
  form for one web chat socket whatever session ids it says hello with: `SocketRate`, in memory
- per client address (web chat): new conversations and messages a minute, open sockets:
  `AddressLimits`, in Redis

Counted in Redis, a limit holds across every gateway process. An IP address is personal data, so
nothing here stores one: the address limits count by a keyed hash (`pseudonym`) under a random
key of the day that Redis forgets after two days, and every counter expires within minutes
(socket entries once their socket stops renewing them). The pseudonym is also what travels with
a customer's messages to the desk (`Inbound.address`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from redis.asyncio import Redis

from bot import keys
from bot.settings import Settings
from core import texts
from core.client_address import limit_key
from core.contract import Inbound
from core.counters import LocalWindowCounter, WindowCounter, window

DAY = 24 * 3600

# KEYS: the address's sockets   ARGV: now, expiry, limit, socket id, key ttl
_OPEN_SOCKET = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""

# KEYS: the address's new conversations this minute   ARGV: conversation hash, limit
_NEW_CONVERSATION = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 1 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], 120)
return 1
"""


class Refused(Exception):
    """A customer message the gateway does not take. `reason` is machine-readable (web chat
    error frames, HTTP 400 bodies, `shopdesk_errors_total{kind="rejected_<reason>"}`), `text`
    is for the customer, `tell` is False for repeats the customer was already told about."""

    def __init__(self, reason: str, detail: str, text: str | None = None, tell: bool = True) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.text = text
        self.tell = tell


def check_length(inbound: Inbound, max_chars: int) -> None:
    """Raises `Refused` (too_long) for a message of more than `max_chars` characters."""
    if len(inbound.text) > max_chars:
        raise Refused(
            "too_long", f"the message has {len(inbound.text)} characters, at most {max_chars} are accepted",
            texts.text("too_long", inbound.language, limit=max_chars),
        )


class RateLimiter:
    """Messages a minute per conversation, counted in Redis (shared by all gateway processes)."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self._counter = WindowCounter(redis, keys.rate)
        self.per_minute = per_minute

    async def message(self, inbound: Inbound) -> None:
        """Counts one message of the conversation; raises `Refused` (rate_limited) past the limit."""
        count = await self._counter.hit(inbound.conversation_id)
        if count > self.per_minute:
            raise Refused(
                "rate_limited", f"more than {self.per_minute} messages a minute",
                texts.text("rate_limited", inbound.language),
                # Said once per minute, not once per flooding message.
                tell=count == self.per_minute + 1,
            )


class SocketRate:
    """The messages of one web chat socket in the current minute, whichever session ids it says
    hello with (so switching them does not reset RATE_LIMIT_PER_MINUTE)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._counter = LocalWindowCounter()

    def over(self) -> bool:
        """Counts one message; True when it is one too many."""
        return self._counter.hit() > self.per_minute


class AddressLimits:
    @classmethod
    def from_settings(cls, redis: Redis, settings: Settings) -> AddressLimits:
        # Socket entries are renewed every third of their life; often enough that an open web chat
        # keeps a queued customer present within QUEUE_ABANDON_SECONDS, at most once a minute.
        return cls(redis, settings.new_conversations_per_minute, settings.webchat_sockets_per_address,
                   settings.messages_per_address_per_minute, max(0.6, min(60.0, settings.queue_abandon_seconds)))

    def __init__(
        self, redis: Redis, new_conversations_per_minute: int, sockets_per_address: int,
        messages_per_minute: int, socket_ttl_seconds: float,
    ) -> None:
        self._redis = redis
        self.new_conversations_per_minute = new_conversations_per_minute
        self.sockets_per_address = sockets_per_address
        self.messages_per_minute = messages_per_minute
        self.socket_ttl_seconds = socket_ttl_seconds
        self._day_key: tuple[int, str] | None = None
        self._messages = WindowCounter(redis, keys.address_rate)
        self._open_socket = redis.register_script(_OPEN_SOCKET)
        self._new_conversation = redis.register_script(_NEW_CONVERSATION)

    async def pseudonym(self, address: str) -> str:
        """A keyed hash of the address (its /64 for IPv6), the same in every process for a day."""
        day = int(time.time() // DAY)
        if self._day_key is None or self._day_key[0] != day:
            await self._redis.set(keys.address_key(day), secrets.token_hex(32), nx=True, ex=2 * DAY)
            self._day_key = (day, str(await self._redis.get(keys.address_key(day))))
        digest = hmac.new(self._day_key[1].encode(), limit_key(address).encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def new_conversation(self, who: str, conversation_id: str, language: str | None) -> None:
        """A conversation opened from the address (counted once a minute however often it says
        hello); raises `Refused` (too_many_conversations) past the limit."""
        marker = hashlib.sha256(conversation_id.encode()).hexdigest()[:16]  # no session id in Redis
        allowed = await self._new_conversation(
            keys=[keys.address_new(who, window(time.time()))],
            args=[marker, self.new_conversations_per_minute],
        )
        if not int(allowed):
            raise Refused(
                "too_many_conversations",
                f"more than {self.new_conversations_per_minute} new conversations a minute from this address",
                texts.text("too_many_conversations", language),
            )

    async def open_socket(self, who: str, language: str | None) -> str:
        """Counts an open web chat socket of the address; returns its id (for `renew` and
        `close_socket`). Raises `Refused` (too_many_sockets) past the limit."""
        socket_id = secrets.token_hex(8)
        now = time.time()
        opened = await self._open_socket(
            keys=[keys.address_sockets(who)],
            args=[f"{now:.3f}", f"{now + self.socket_ttl_seconds:.3f}", self.sockets_per_address, socket_id,
                  int(self.socket_ttl_seconds) + 1],
        )
        if not int(opened):
            raise Refused(
                "too_many_sockets", f"more than {self.sockets_per_address} open chat sockets from this address",
                texts.text("too_many_sockets", language),
            )
        return socket_id

    async def renew(self, sockets: list[tuple[str, str]]) -> None:
        """Keeps the (address, socket id) entries of this process's open sockets alive."""
        if not sockets:
            return
        expiry = time.time() + self.socket_ttl_seconds
        async with self._redis.pipeline(transaction=False) as pipe:
            for who, socket_id in sockets:
                pipe.zadd(keys.address_sockets(who), {socket_id: expiry}, xx=True)
                pipe.expire(keys.address_sockets(who), int(self.socket_ttl_seconds) + 1)
            await pipe.execute()

    async def close_socket(self, who: str, socket_id: str) -> None:
        await self._redis.zrem(keys.address_sockets(who), socket_id)

    async def message(self, who: str, language: str | None) -> None:
        """One customer message from the address; raises `Refused` (address_rate_limited) past the limit."""
        count = await self._messages.hit(who)
        if count > self.messages_per_minute:
            raise Refused(
                "address_rate_limited", f"more than {self.messages_per_minute} messages a minute from this address",
                texts.text("address_rate_limited", language),
                tell=count == self.messages_per_minute + 1,
            )
