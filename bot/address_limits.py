"""Limits per client address, shared by every gateway process through Redis: new conversations
and messages a minute, open web chat sockets.

An IP address is personal data, so nothing here stores one: the limits count by a keyed hash
(`pseudonym`) under a random key of the day that Redis forgets after two days, and every counter
expires within minutes (socket entries once their socket stops renewing them). The pseudonym is
also what travels with a customer's messages to the desk (`Inbound.address`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from redis.asyncio import Redis

from bot import keys
from bot.intake import Refused
from bot.settings import Settings
from core import texts
from core.client_address import limit_key

DAY = 24 * 3600
WINDOW_SECONDS = 60

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
        window = int(time.time() // WINDOW_SECONDS)
        marker = hashlib.sha256(conversation_id.encode()).hexdigest()[:16]  # no session id in Redis
        allowed = await self._new_conversation(
            keys=[keys.address_new(who, window)], args=[marker, self.new_conversations_per_minute],
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
        key = keys.address_rate(who, int(time.time() // WINDOW_SECONDS))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * WINDOW_SECONDS)
            count, _ = await pipe.execute()
        if int(count) > self.messages_per_minute:
            raise Refused(
                "address_rate_limited", f"more than {self.messages_per_minute} messages a minute from this address",
                texts.text("address_rate_limited", language),
                tell=int(count) == self.messages_per_minute + 1,
            )
