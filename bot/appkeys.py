"""Typed keys of the objects the gateway keeps on its `web.Application` (built in bot/app.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.contacts import Contacts
from bot.delivery import GatewayDelivery
from bot.handback import RasaHandback
from bot.limits import RateLimiter
from bot.metrics import Metrics
from bot.outbound import Desk
from bot.rasa_client import RasaClient
from bot.router import Router
from bot.settings import Settings
from bot.transcript import Transcript

if TYPE_CHECKING:  # the channel modules read these keys themselves
    from bot.channels.webchat import WebchatHub
    from bot.channels.whatsapp import WhatsAppSender

SETTINGS = web.AppKey("settings", Settings)
REDIS = web.AppKey("redis", Redis)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessionmaker")
METRICS = web.AppKey("metrics", Metrics)
TRANSCRIPT = web.AppKey("transcript", Transcript)
CONTACTS = web.AppKey("contacts", Contacts)
RATE_LIMITER = web.AppKey("rate_limiter", RateLimiter)
RASA = web.AppKey("rasa", RasaClient)
WEBCHAT: web.AppKey[WebchatHub] = web.AppKey("webchat")
WHATSAPP: web.AppKey[WhatsAppSender] = web.AppKey("whatsapp")
DELIVERY = web.AppKey("delivery", GatewayDelivery)
HANDBACK = web.AppKey("handback", RasaHandback)
ROUTER = web.AppKey("router", Router)
DESK: web.AppKey[Desk] = web.AppKey("desk")
