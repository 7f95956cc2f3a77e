"""WhatsApp, one family of two providers (Twilio, Meta's Cloud API) that share its customers:
the rules both follow (rules.py), each provider's unit, Twilio's content templates, the
family's settings (settings.py) and the providers' stand-ins (standins.py, twilio_standin.py,
cloud_standin.py). `FOLDER` declares it to bot/channels/registry.py.
"""

from __future__ import annotations

from bot.channels.base import ChannelParts
from bot.channels.folder import ChannelFolder
from bot.channels.whatsapp import standins
from bot.channels.whatsapp.cloud_provider import CloudWhatsApp
from bot.channels.whatsapp.rules import WHATSAPP_IDS, WhatsAppCustomers, WhatsAppProvider
from bot.channels.whatsapp.settings import WhatsAppSettings
from bot.channels.whatsapp.twilio_provider import TwilioWhatsApp
from bot.settings import Settings


def build(settings: Settings, parts: ChannelParts) -> list[WhatsAppProvider]:
    """Both providers on one customers' book; a customer no provider has carried yet is
    answered through the Cloud API (the provider added last)."""
    own = WhatsAppSettings.from_env(settings.env)
    customers = WhatsAppCustomers(parts, own.whatsapp_window_hours, settings.shopdesk_secret)
    return [TwilioWhatsApp(settings, own, parts, customers), CloudWhatsApp(own, parts, customers)]


FOLDER = ChannelFolder(build, WHATSAPP_IDS, (standins.TWILIO, standins.CLOUD))
