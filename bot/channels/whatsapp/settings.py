"""WhatsApp's own configuration (both providers), read from the environment when its units are
built (`WhatsAppSettings.from_env(settings.env)`), as Rasa's connectors read their credentials."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.settings import env_float, env_int


@dataclass(frozen=True)
class WhatsAppSettings:
    twilio_account_sid: str = "ACshopdesk0000000000000000000000"
    twilio_auth_token: str = ""  # no default: without it the Twilio webhook answers 503
    twilio_whatsapp_from: str = "whatsapp:+14155238886"
    twilio_api_base: str = "https://api.twilio.com"
    # Twilio Content templates with quick-reply buttons for the star rating and yes/no questions.
    twilio_content_rating_sid: str = ""
    twilio_content_yesno_sid: str = ""
    # The approved Twilio template that carries free text outside the reply window.
    whatsapp_template_sid: str = ""

    # Meta's Cloud API (bot/channels/whatsapp/cloud_provider.py).
    whatsapp_cloud_verify_token: str = ""
    whatsapp_cloud_app_secret: str = ""
    whatsapp_cloud_token: str = ""
    whatsapp_cloud_phone_number_id: str = ""
    whatsapp_cloud_api_base: str = "https://graph.facebook.com"
    whatsapp_cloud_template: str = ""  # an approved template's name, sent outside the reply window

    # Free text only this long after the customer's last message (bot/channels/whatsapp/rules.py).
    whatsapp_window_hours: float = 24.0
    # A send that fails transiently (network, 429, 5xx) is tried this often within this time.
    whatsapp_send_attempts: int = 4
    whatsapp_retry_seconds: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WhatsAppSettings:
        d = cls()
        return cls(
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or d.twilio_account_sid,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or d.twilio_auth_token,
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or d.twilio_whatsapp_from,
            twilio_api_base=(env.get("TWILIO_API_BASE") or d.twilio_api_base).rstrip("/"),
            twilio_content_rating_sid=env.get("TWILIO_CONTENT_RATING_SID", d.twilio_content_rating_sid),
            twilio_content_yesno_sid=env.get("TWILIO_CONTENT_YESNO_SID", d.twilio_content_yesno_sid),
            whatsapp_template_sid=env.get("WHATSAPP_TEMPLATE_SID", d.whatsapp_template_sid),
            whatsapp_cloud_verify_token=env.get("WHATSAPP_CLOUD_VERIFY_TOKEN", d.whatsapp_cloud_verify_token),
            whatsapp_cloud_app_secret=env.get("WHATSAPP_CLOUD_APP_SECRET", d.whatsapp_cloud_app_secret),
            whatsapp_cloud_token=env.get("WHATSAPP_CLOUD_TOKEN", d.whatsapp_cloud_token),
            whatsapp_cloud_phone_number_id=env.get("WHATSAPP_CLOUD_PHONE_NUMBER_ID", d.whatsapp_cloud_phone_number_id),
            whatsapp_cloud_api_base=(env.get("WHATSAPP_CLOUD_API_BASE") or d.whatsapp_cloud_api_base).rstrip("/"),
            whatsapp_cloud_template=env.get("WHATSAPP_CLOUD_TEMPLATE", d.whatsapp_cloud_template),
            whatsapp_window_hours=env_float(env, "WHATSAPP_WINDOW_HOURS", d.whatsapp_window_hours),
            whatsapp_send_attempts=max(1, env_int(env, "WHATSAPP_SEND_ATTEMPTS", d.whatsapp_send_attempts)),
            whatsapp_retry_seconds=env_float(env, "WHATSAPP_RETRY_SECONDS", d.whatsapp_retry_seconds),
        )
