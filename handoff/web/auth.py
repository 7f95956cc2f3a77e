"""Agent accounts: `AGENT_TOKENS` → the `agents` table (salted scrypt hashes), and bearer checks.

Stored form of a secret: `scrypt$<hint>$<salt hex>$<hash hex>`; `hint` is the first hex digit
of sha256(token). It narrows a check to about one agent in sixteen (4 bits of a token that
should carry at least 128), so a request is verified against few hashes, not every account.
A verified token is cached for `CACHE_SECONDS` under sha256(token) in the process's memory
(the plain token is never kept); a failed one for `FAILED_CACHE_SECONDS`, so a flood of bad
tokens costs one scrypt each per few seconds, not one per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import time
from enum import Enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Agent

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
CACHE_SECONDS = 60.0
FAILED_CACHE_SECONDS = 5.0
_CACHE_MAX = 10_000
# A token is the whole credential: 24 characters of token_urlsafe carry 144 bits.
MIN_TOKEN_CHARS = 24


class InvalidAgentTokens(ValueError):
    pass


class Role(str, Enum):
    agent = "agent"  # conversations that reached the desk
    supervisor = "supervisor"  # every conversation, the reports and the privacy tools


def parse_agent_tokens(raw: str) -> dict[str, tuple[str, Role]]:
    """`name:token,name:token:supervisor` → {name: (token, role)}."""
    agents: dict[str, tuple[str, Role]] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, rest = item.partition(":")
        token, _, role_name = rest.rpartition(":") if rest.endswith(":supervisor") else (rest, "", "agent")
        name, token = name.strip(), token.strip()
        if not sep or not name or not token:
            raise InvalidAgentTokens(f"AGENT_TOKENS entry {item.split(':')[0]!r}… is not name:token or name:token:supervisor")
        if len(name) > 64:
            raise InvalidAgentTokens(f"AGENT_TOKENS: agent name {name[:20]!r}… is longer than 64 characters")
        if len(token) < MIN_TOKEN_CHARS:
            raise InvalidAgentTokens(
                f"AGENT_TOKENS: the token of {name!r} has {len(token)} characters; use at least {MIN_TOKEN_CHARS}, "
                "e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`"
            )
        agents[name] = (token, Role(role_name))
    return agents


def _hint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[0]


def _scrypt(token: str, salt: bytes) -> bytes:
    return hashlib.scrypt(token.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)


def hash_token(token: str) -> str:
    salt = os.urandom(16)
    return f"scrypt${_hint(token)}${salt.hex()}${_scrypt(token, salt).hex()}"


def verify_token(token: str, stored: str) -> bool:
    try:
        scheme, hint, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt" or hint != _hint(token):
        return False
    return hmac.compare_digest(_scrypt(token, bytes.fromhex(salt)).hex(), digest)


class AgentAuth:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._checking: dict[str, asyncio.Future[str | None]] = {}  # sha256(token) → its check in flight
        self._roles: dict[str, Role] = {}

    async def sync_accounts(self, agent_tokens: str) -> list[str]:
        """Create or update the accounts of AGENT_TOKENS; returns their names.

        Only these names are accepted afterwards: an account dropped from AGENT_TOKENS keeps its
        row (another process may still list it during a rolling restart) but cannot sign in here.
        """
        wanted = parse_agent_tokens(agent_tokens)
        async with self._sessionmaker() as session, session.begin():
            existing = {a.name: a for a in (await session.scalars(select(Agent))).all()}
            for name, (token, _role) in wanted.items():
                agent = existing.get(name)
                if agent is not None and await asyncio.to_thread(verify_token, token, agent.token_hash):
                    continue
                hashed = await asyncio.to_thread(hash_token, token)
                if agent is None:
                    session.add(Agent(name=name, token_hash=hashed))
                else:
                    agent.token_hash = hashed
        self._roles = {name: role for name, (_token, role) in wanted.items()}
        self._cache.clear()
        return list(wanted)

    def names(self) -> list[str]:
        """The accounts of AGENT_TOKENS, sorted."""
        return sorted(self._roles)

    def role_of(self, name: str) -> Role:
        """The role AGENT_TOKENS gives a signed-in account."""
        return self._roles.get(name, Role.agent)

    async def agent_for(self, token: str) -> str | None:
        """The agent name of a bearer token, or None."""
        if not token:
            return None
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        # One check per token at a time: when the entry expires under a burst of the agent's
        # requests, they wait for one scrypt instead of each running its own.
        checking = self._checking.get(key)
        if checking is None:
            checking = self._checking[key] = asyncio.ensure_future(self._check(token, key))
            checking.add_done_callback(lambda _f: self._checking.pop(key, None))
        return await asyncio.shield(checking)

    async def _check(self, token: str, key: str) -> str | None:
        hint = key[0]
        async with self._sessionmaker() as session:
            rows = (await session.execute(
                select(Agent.name, Agent.token_hash).where(Agent.token_hash.like(f"scrypt${hint}$%"))
            )).all()
        name = None
        for row_name, stored in rows:
            if row_name in self._roles and await asyncio.to_thread(verify_token, token, stored):
                name = row_name
                break
        now = time.monotonic()
        if len(self._cache) >= _CACHE_MAX:
            self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
        self._cache[key] = (name, now + (CACHE_SECONDS if name else FAILED_CACHE_SECONDS))
        return name
