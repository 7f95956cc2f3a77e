"""What a channel folder declares (its `FOLDER`): the units it builds, how it names its
customers (for privacy export and erase) and the stand-ins of its providers (for `make run`
and the tests). bot/channels/registry.py lists the folders, one line each; privacy, the
gateway and scripts/services.py work from these declarations and name no channel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import ChannelParts
from bot.settings import Settings
from core.contract import Channel


class NotACustomer(ValueError):
    """A value that does not name a customer of the family; the message says how one is written."""


class CustomerIds(Protocol):
    """How a channel family names its customers."""

    family: str  # also the field of a privacy request: `whatsapp=…`, `--webchat …`
    id_prefix: str
    value_name: str  # what names a customer: "number", "session id"
    describes: str  # the same for help texts: "the customer's WhatsApp number, e.g. +49…"

    def own_ids(self, value: str, secret: str) -> list[str]:
        """The conversation ids the family's id function gives the customer (keyed with `secret`);
        raises `NotACustomer`."""
        ...

    async def stored_ids(self, value: str, sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
        """Further ids the stores hold for the customer (rows of the contact, an earlier scheme's id)."""
        ...


@dataclass
class KeyedIds:
    """CustomerIds of a family whose customer has one own id, keyed from the value that names them."""

    family: str
    id_prefix: str
    value_name: str
    describes: str
    conversation_id: Callable[[str, str], str]  # (value, secret) -> id; raises NotACustomer
    # Further ids the stores hold (see CustomerIds.stored_ids); None: there are none.
    stored: Callable[[str, async_sessionmaker[AsyncSession]], Awaitable[list[str]]] | None = None

    def own_ids(self, value: str, secret: str) -> list[str]:
        return [self.conversation_id(value, secret)]

    async def stored_ids(self, value: str, sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
        return [] if self.stored is None else await self.stored(value, sessionmaker)


@dataclass(frozen=True)
class StandIn:
    """A local fake of a provider's API, run as `python -m <module> --host … --port …`: started
    by `make run` when `wanted` says the environment names no real account, and by the tests."""

    name: str  # the process in `make run` and its log file: "twilio-standin"
    module: str
    default_port: int  # `make units` (fixed ports); `make run` picks free ones
    description: str
    wanted: Callable[[Mapping[str, str]], bool]
    # Points the environment at the stand-in answering on `url` (credentials kept in var/) and
    # returns what `make run` tells the operator.
    use: Callable[[dict[str, str], Path, str], str]


@dataclass(frozen=True)
class ChannelFolder:
    build: Callable[[Settings, ChannelParts], Sequence[Channel]]
    ids: CustomerIds
    standins: tuple[StandIn, ...] = ()
