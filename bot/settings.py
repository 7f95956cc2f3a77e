"""All configuration of the gateway and the desk, read from the environment once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.secret_files import read_or_create, var_dir
from core.client_address import TrustedProxies
from db.engine import DEFAULT_DATABASE_URL
from handoff.web.auth import parse_agent_tokens

# SHOPDESK_SECRET when unset: generated on first start, kept in var/ (0600).
SECRET_FILE = "shopdesk-secret"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Connections of one process's Redis pool; under load callers wait for a free one.
    redis_max_connections: int = 500
    rasa_url: str = "http://127.0.0.1:5005"
    public_url: str = "http://localhost:8080"
    gateway_host: str = "0.0.0.0"
    gateway_port: int = 8080
    # Several gateway processes on one port (SO_REUSEPORT), each also on a loopback port of its
    # own for the health check of `make run`'s supervisor (0: none).
    gateway_reuse_port: bool = False
    gateway_health_port: int = 0
    # `make run`'s supervisor state (restart counts for /metrics), JSON; unset outside `make run`.
    services_file: str = ""

    twilio_account_sid: str = "ACshopdesk0000000000000000000000"
    twilio_auth_token: str = ""  # no default: without it the Twilio webhook answers 503
    twilio_whatsapp_from: str = "whatsapp:+14155238886"
    twilio_api_base: str = "https://api.twilio.com"

    # WhatsApp through Meta's Cloud API (bot/channels/whatsapp/cloud_provider.py).
    whatsapp_cloud_verify_token: str = ""
    whatsapp_cloud_app_secret: str = ""
    whatsapp_cloud_token: str = ""
    whatsapp_cloud_phone_number_id: str = ""
    whatsapp_cloud_api_base: str = "https://graph.facebook.com"
    whatsapp_cloud_template: str = ""  # an approved template's name, sent outside the reply window

    # A WhatsApp send that fails transiently (network, 429, 5xx) is tried this often within this time.
    whatsapp_send_attempts: int = 4
    whatsapp_retry_seconds: float = 20.0

    # Limits that protect the bot and the agents from floods.
    max_message_chars: int = 4096
    rate_limit_per_minute: int = 20
    # A slow or down Rasa: retry with backoff this long, then offer a human.
    rasa_timeout_seconds: float = 10.0
    rasa_give_up_seconds: float = 30.0
    # Messages one gateway process has with Rasa at a time (the others wait their turn).
    rasa_max_concurrent: int = 8
    # A customer message whose handling keeps failing (database, Redis) is tried this often,
    # with backoff, before it goes to the dead-letter list.
    router_max_attempts: int = 8
    # How often every gateway process looks for inboxes nobody works (left by a crashed process).
    inbox_sweep_seconds: float = 5.0

    agent_tokens: str = ""  # "name:token,name:token"
    business_hours: str = "Mon-Fri 08:00-18:00 Europe/Berlin"
    # Public holidays that close the desk: "DE-BY,AT,CH-ZH" (holidays library regions); empty: none.
    business_holidays: str = ""
    agent_max_conversations: int = 5
    agent_grace_seconds: float = 60.0
    queue_timeout_seconds: float = 600.0
    whatsapp_window_hours: float = 24.0
    whatsapp_template_sid: str = ""
    # Attachments (agents' images/PDFs, web chat customers' photos): files under SHOPDESK_VAR/attachments,
    # served at /media/<unguessable token> until they expire.
    attachment_max_mb: float = 10.0
    attachment_dir: str = "var/attachments"
    attachment_ttl_hours: float = 7 * 24.0
    # Twilio Content templates with quick-reply buttons for the star rating and yes/no questions.
    twilio_content_rating_sid: str = ""
    twilio_content_yesno_sid: str = ""
    # The agents' canned replies (German and English), next to shop.yml unless REPLIES_FILE says otherwise.
    replies_file: str = str(Path(__file__).resolve().parent.parent / "replies.yml")

    # Early warnings (handoff/reports/alerts.py): POSTed as JSON to this URL when set.
    alert_webhook_url: str = ""
    alert_csat_drop: float = 10.0  # points of satisfied share, last 7 days below the 28 before
    alert_wait_seconds: float = 300.0  # queue wait p90 of the last hour
    alert_check_seconds: float = 60.0
    alert_language: str = "de"
    # Privacy (bot/privacy): Rasa's SQL tracker store, which erase and retention clean too (the
    # same variable Rasa's endpoints.yml is written from), how long conversations and complaint
    # descriptions are kept, how often the retention job runs, the widget's privacy notice link.
    rasa_tracker_db_url: str = "sqlite:///var/rasa_tracker.db"
    retention_days: int = 180
    complaint_retention_days: int = 730
    retention_interval_seconds: float = 3600.0
    privacy_url: str = ""
    # Trust boundary (issue 8): wrong agent tokens per client address wait ever longer
    # (handoff/web/throttle.py); /metrics needs `Authorization: Bearer <METRICS_TOKEN>` when set.
    signin_free_failures: int = 5
    signin_delay_seconds: float = 1.0
    signin_max_delay_seconds: float = 900.0
    metrics_token: str = ""
    # The key of conversation ids (bot/ids.py): SHOPDESK_SECRET, else var/shopdesk-secret.
    shopdesk_secret: str = ""
    # Abuse limits (core/client_address.py, bot/limits.py, the desk's queue caps): the proxies
    # whose X-Forwarded-For is believed, limits per client address and web chat socket, queue caps,
    # and how long a queued customer may be silent before they leave the queue.
    trusted_proxies: str = ""
    new_conversations_per_minute: int = 10
    webchat_sockets_per_address: int = 20
    messages_per_address_per_minute: int = 120
    queue_max_length: int = 200
    queue_max_per_address: int = 3
    queue_abandon_seconds: float = 900.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        settings = cls(
            database_url=env.get("DATABASE_URL") or d.database_url,
            redis_url=env.get("REDIS_URL") or d.redis_url,
            redis_max_connections=max(1, _int(env, "REDIS_MAX_CONNECTIONS", d.redis_max_connections)),
            rasa_url=(env.get("RASA_URL") or d.rasa_url).rstrip("/"),
            public_url=(env.get("PUBLIC_URL") or f"http://localhost:{_int(env, 'GATEWAY_PORT', d.gateway_port)}").rstrip("/"),
            gateway_host=env.get("GATEWAY_HOST") or d.gateway_host,
            gateway_port=_int(env, "GATEWAY_PORT", d.gateway_port),
            gateway_reuse_port=env.get("GATEWAY_REUSE_PORT", "") == "1",
            gateway_health_port=_int(env, "GATEWAY_HEALTH_PORT", d.gateway_health_port),
            services_file=env.get("SHOPDESK_SERVICES_FILE", d.services_file),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID") or d.twilio_account_sid,
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN") or d.twilio_auth_token,
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM") or d.twilio_whatsapp_from,
            twilio_api_base=(env.get("TWILIO_API_BASE") or d.twilio_api_base).rstrip("/"),
            whatsapp_cloud_verify_token=env.get("WHATSAPP_CLOUD_VERIFY_TOKEN", d.whatsapp_cloud_verify_token),
            whatsapp_cloud_app_secret=env.get("WHATSAPP_CLOUD_APP_SECRET", d.whatsapp_cloud_app_secret),
            whatsapp_cloud_token=env.get("WHATSAPP_CLOUD_TOKEN", d.whatsapp_cloud_token),
            whatsapp_cloud_phone_number_id=env.get("WHATSAPP_CLOUD_PHONE_NUMBER_ID", d.whatsapp_cloud_phone_number_id),
            whatsapp_cloud_api_base=(env.get("WHATSAPP_CLOUD_API_BASE") or d.whatsapp_cloud_api_base).rstrip("/"),
            whatsapp_cloud_template=env.get("WHATSAPP_CLOUD_TEMPLATE", d.whatsapp_cloud_template),
            whatsapp_send_attempts=max(1, _int(env, "WHATSAPP_SEND_ATTEMPTS", d.whatsapp_send_attempts)),
            whatsapp_retry_seconds=_float(env, "WHATSAPP_RETRY_SECONDS", d.whatsapp_retry_seconds),
            max_message_chars=_int(env, "MAX_MESSAGE_CHARS", d.max_message_chars),
            rate_limit_per_minute=_int(env, "RATE_LIMIT_PER_MINUTE", d.rate_limit_per_minute),
            rasa_timeout_seconds=_float(env, "RASA_TIMEOUT_SECONDS", d.rasa_timeout_seconds),
            rasa_give_up_seconds=_float(env, "RASA_GIVE_UP_SECONDS", d.rasa_give_up_seconds),
            rasa_max_concurrent=max(1, _int(env, "RASA_MAX_CONCURRENT", d.rasa_max_concurrent)),
            router_max_attempts=max(1, _int(env, "ROUTER_MAX_ATTEMPTS", d.router_max_attempts)),
            inbox_sweep_seconds=max(0.1, _float(env, "INBOX_SWEEP_SECONDS", d.inbox_sweep_seconds)),
            agent_tokens=env.get("AGENT_TOKENS", d.agent_tokens),
            business_hours=env.get("BUSINESS_HOURS") or d.business_hours,
            business_holidays=env.get("BUSINESS_HOLIDAYS", d.business_holidays),
            agent_max_conversations=_int(env, "AGENT_MAX_CONVERSATIONS", d.agent_max_conversations),
            agent_grace_seconds=_float(env, "AGENT_GRACE_SECONDS", d.agent_grace_seconds),
            queue_timeout_seconds=_float(env, "QUEUE_TIMEOUT_SECONDS", d.queue_timeout_seconds),
            whatsapp_window_hours=_float(env, "WHATSAPP_WINDOW_HOURS", d.whatsapp_window_hours),
            whatsapp_template_sid=env.get("WHATSAPP_TEMPLATE_SID", d.whatsapp_template_sid),
            alert_webhook_url=env.get("ALERT_WEBHOOK_URL", d.alert_webhook_url).strip(),
            alert_csat_drop=_float(env, "ALERT_CSAT_DROP", d.alert_csat_drop),
            alert_wait_seconds=_float(env, "ALERT_WAIT_SECONDS", d.alert_wait_seconds),
            alert_check_seconds=max(0.05, _float(env, "ALERT_CHECK_SECONDS", d.alert_check_seconds)),
            alert_language="en" if env.get("ALERT_LANGUAGE", "").lower().startswith("en") else "de",
            attachment_max_mb=_float(env, "ATTACHMENT_MAX_MB", d.attachment_max_mb),
            attachment_dir=env.get("ATTACHMENT_DIR") or str(var_dir(env) / "attachments"),
            attachment_ttl_hours=_float(env, "ATTACHMENT_TTL_HOURS", d.attachment_ttl_hours),
            twilio_content_rating_sid=env.get("TWILIO_CONTENT_RATING_SID", d.twilio_content_rating_sid),
            twilio_content_yesno_sid=env.get("TWILIO_CONTENT_YESNO_SID", d.twilio_content_yesno_sid),
            replies_file=env.get("REPLIES_FILE")
            or (str(Path(env["SHOP_FILE"]).parent / "replies.yml") if env.get("SHOP_FILE") else d.replies_file),
            rasa_tracker_db_url=env.get("RASA_TRACKER_DB_URL") or d.rasa_tracker_db_url,
            retention_days=max(1, _int(env, "RETENTION_DAYS", d.retention_days)),
            complaint_retention_days=max(1, _int(env, "COMPLAINT_RETENTION_DAYS", d.complaint_retention_days)),
            retention_interval_seconds=max(1.0, _float(env, "RETENTION_INTERVAL_SECONDS", d.retention_interval_seconds)),
            privacy_url=env.get("PRIVACY_URL", d.privacy_url),
            signin_free_failures=max(0, _int(env, "SIGNIN_FREE_FAILURES", d.signin_free_failures)),
            signin_delay_seconds=max(0.0, _float(env, "SIGNIN_DELAY_SECONDS", d.signin_delay_seconds)),
            signin_max_delay_seconds=max(0.0, _float(env, "SIGNIN_MAX_DELAY_SECONDS", d.signin_max_delay_seconds)),
            metrics_token=env.get("METRICS_TOKEN", d.metrics_token).strip(),
            shopdesk_secret=env.get("SHOPDESK_SECRET") or read_or_create(var_dir(env) / SECRET_FILE)[0],
            trusted_proxies=TrustedProxies.parse(env.get("TRUSTED_PROXIES", d.trusted_proxies)).text(),
            new_conversations_per_minute=max(1, _int(env, "NEW_CONVERSATIONS_PER_MINUTE", d.new_conversations_per_minute)),
            webchat_sockets_per_address=max(1, _int(env, "WEBCHAT_SOCKETS_PER_ADDRESS", d.webchat_sockets_per_address)),
            messages_per_address_per_minute=max(
                1, _int(env, "MESSAGES_PER_ADDRESS_PER_MINUTE", d.messages_per_address_per_minute)),
            queue_max_length=max(1, _int(env, "QUEUE_MAX_LENGTH", d.queue_max_length)),
            queue_max_per_address=max(1, _int(env, "QUEUE_MAX_PER_ADDRESS", d.queue_max_per_address)),
            queue_abandon_seconds=max(0.1, _float(env, "QUEUE_ABANDON_SECONDS", d.queue_abandon_seconds)),
        )
        parse_agent_tokens(settings.agent_tokens)  # a malformed or short token stops the start here
        return settings
