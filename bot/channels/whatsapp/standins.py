"""The stand-ins of WhatsApp's providers: `make run` starts each when the environment names no
real account of its provider, with credentials generated once and kept in var/ (0600)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from bot.channels.folder import StandIn
from bot.secret_files import read_or_create

TWILIO_TOKEN_FILE = "demo-twilio-auth-token"
CLOUD_CREDENTIALS_FILE = "demo-whatsapp-cloud"


def _no_twilio_account(env: Mapping[str, str]) -> bool:
    return not env.get("TWILIO_ACCOUNT_SID") and not env.get("TWILIO_API_BASE")


def _use_twilio(env: dict[str, str], var: Path, url: str) -> str:
    env["TWILIO_API_BASE"] = url
    # The gateway checks webhook signatures and authenticates its sends with it, the stand-in
    # checks those sends: both get the same generated one (no built-in default).
    if not env.get("TWILIO_AUTH_TOKEN"):
        env["TWILIO_AUTH_TOKEN"] = read_or_create(var / TWILIO_TOKEN_FILE, lambda: secrets.token_hex(16))[0]
    return f"no TWILIO_ACCOUNT_SID: WhatsApp replies go to the local Twilio stand-in at {url}"


def _no_cloud_app(env: Mapping[str, str]) -> bool:
    return not env.get("WHATSAPP_CLOUD_APP_SECRET")


def _use_cloud(env: dict[str, str], var: Path, url: str) -> str:
    text, _ = read_or_create(var / CLOUD_CREDENTIALS_FILE, lambda: "\n".join([
        f"WHATSAPP_CLOUD_APP_SECRET={secrets.token_hex(16)}", f"WHATSAPP_CLOUD_TOKEN={secrets.token_urlsafe(32)}",
        f"WHATSAPP_CLOUD_VERIFY_TOKEN={secrets.token_urlsafe(16)}", "WHATSAPP_CLOUD_PHONE_NUMBER_ID=100000000000001",
    ]))
    for line in text.split():  # KEY=value
        key, value = line.split("=", 1)
        env[key] = value
    env["WHATSAPP_CLOUD_API_BASE"] = url
    return (f"no WHATSAPP_CLOUD_APP_SECRET: Cloud API replies go to the local Graph API stand-in at {url} "
            f"(demo credentials in {var / CLOUD_CREDENTIALS_FILE})")


TWILIO = StandIn("twilio-standin", "bot.channels.whatsapp.twilio_standin", 8099,
                 "the local Twilio stand-in (no Twilio account)", _no_twilio_account, _use_twilio)
CLOUD = StandIn("whatsapp-cloud-standin", "bot.channels.whatsapp.cloud_standin", 8098,
                "the local Graph API stand-in (no WhatsApp Cloud API app)", _no_cloud_app, _use_cloud)
