"""The configuration of the gateway and the desk, read from the environment once at start-up.

A channel's own settings (credentials, its provider's API, its templates) are not here: each
channel folder reads them from `Settings.env` when its units are built
(bot/channels/whatsapp/settings.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.secret_files import read_or_create, var_dir
from core.client_address import TrustedProxies
from db.engine import DEFAULT_DATABASE_URL
from handoff.web.auth import parse_agent_tokens

# SHOPDESK_SECRET when unset: generated on first start, kept in var/ (0600).
SECRET_FILE = "shopdesk-secret"


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
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
    # Attachments (agents' images/PDFs, web chat customers' photos): files under SHOPDESK_VAR/attachments,
    # served at /media/<unguessable token> until they expire.
    attachment_max_mb: float = 10.0
    attachment_dir: str = "var/attachments"
    attachment_ttl_hours: float = 7 * 24.0
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
    # The environment these settings were read from: the channels read their own settings from it.
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        settings = cls(
            database_url=env.get("DATABASE_URL") or d.database_url,
            redis_url=env.get("REDIS_URL") or d.redis_url,
            redis_max_connections=max(1, env_int(env, "REDIS_MAX_CONNECTIONS", d.redis_max_connections)),
            rasa_url=(env.get("RASA_URL") or d.rasa_url).rstrip("/"),
            public_url=(env.get("PUBLIC_URL") or f"http://localhost:{env_int(env, 'GATEWAY_PORT', d.gateway_port)}").rstrip("/"),
            gateway_host=env.get("GATEWAY_HOST") or d.gateway_host,
            gateway_port=env_int(env, "GATEWAY_PORT", d.gateway_port),
            gateway_reuse_port=env.get("GATEWAY_REUSE_PORT", "") == "1",
            gateway_health_port=env_int(env, "GATEWAY_HEALTH_PORT", d.gateway_health_port),
            services_file=env.get("SHOPDESK_SERVICES_FILE", d.services_file),
            max_message_chars=env_int(env, "MAX_MESSAGE_CHARS", d.max_message_chars),
            rate_limit_per_minute=env_int(env, "RATE_LIMIT_PER_MINUTE", d.rate_limit_per_minute),
            rasa_timeout_seconds=env_float(env, "RASA_TIMEOUT_SECONDS", d.rasa_timeout_seconds),
            rasa_give_up_seconds=env_float(env, "RASA_GIVE_UP_SECONDS", d.rasa_give_up_seconds),
            rasa_max_concurrent=max(1, env_int(env, "RASA_MAX_CONCURRENT", d.rasa_max_concurrent)),
            router_max_attempts=max(1, env_int(env, "ROUTER_MAX_ATTEMPTS", d.router_max_attempts)),
            inbox_sweep_seconds=max(0.1, env_float(env, "INBOX_SWEEP_SECONDS", d.inbox_sweep_seconds)),
            agent_tokens=env.get("AGENT_TOKENS", d.agent_tokens),
            business_hours=env.get("BUSINESS_HOURS") or d.business_hours,
            business_holidays=env.get("BUSINESS_HOLIDAYS", d.business_holidays),
            agent_max_conversations=env_int(env, "AGENT_MAX_CONVERSATIONS", d.agent_max_conversations),
            agent_grace_seconds=env_float(env, "AGENT_GRACE_SECONDS", d.agent_grace_seconds),
            queue_timeout_seconds=env_float(env, "QUEUE_TIMEOUT_SECONDS", d.queue_timeout_seconds),
            alert_webhook_url=env.get("ALERT_WEBHOOK_URL", d.alert_webhook_url).strip(),
            alert_csat_drop=env_float(env, "ALERT_CSAT_DROP", d.alert_csat_drop),
            alert_wait_seconds=env_float(env, "ALERT_WAIT_SECONDS", d.alert_wait_seconds),
            alert_check_seconds=max(0.05, env_float(env, "ALERT_CHECK_SECONDS", d.alert_check_seconds)),
            alert_language="en" if env.get("ALERT_LANGUAGE", "").lower().startswith("en") else "de",
            attachment_max_mb=env_float(env, "ATTACHMENT_MAX_MB", d.attachment_max_mb),
            attachment_dir=env.get("ATTACHMENT_DIR") or str(var_dir(env) / "attachments"),
            attachment_ttl_hours=env_float(env, "ATTACHMENT_TTL_HOURS", d.attachment_ttl_hours),
            replies_file=env.get("REPLIES_FILE")
            or (str(Path(env["SHOP_FILE"]).parent / "replies.yml") if env.get("SHOP_FILE") else d.replies_file),
            rasa_tracker_db_url=env.get("RASA_TRACKER_DB_URL") or d.rasa_tracker_db_url,
            retention_days=max(1, env_int(env, "RETENTION_DAYS", d.retention_days)),
            complaint_retention_days=max(1, env_int(env, "COMPLAINT_RETENTION_DAYS", d.complaint_retention_days)),
            retention_interval_seconds=max(1.0, env_float(env, "RETENTION_INTERVAL_SECONDS", d.retention_interval_seconds)),
            privacy_url=env.get("PRIVACY_URL", d.privacy_url),
            signin_free_failures=max(0, env_int(env, "SIGNIN_FREE_FAILURES", d.signin_free_failures)),
            signin_delay_seconds=max(0.0, env_float(env, "SIGNIN_DELAY_SECONDS", d.signin_delay_seconds)),
            signin_max_delay_seconds=max(0.0, env_float(env, "SIGNIN_MAX_DELAY_SECONDS", d.signin_max_delay_seconds)),
            metrics_token=env.get("METRICS_TOKEN", d.metrics_token).strip(),
            shopdesk_secret=env.get("SHOPDESK_SECRET") or read_or_create(var_dir(env) / SECRET_FILE)[0],
            trusted_proxies=TrustedProxies.parse(env.get("TRUSTED_PROXIES", d.trusted_proxies)).text(),
            new_conversations_per_minute=max(1, env_int(env, "NEW_CONVERSATIONS_PER_MINUTE", d.new_conversations_per_minute)),
            webchat_sockets_per_address=max(1, env_int(env, "WEBCHAT_SOCKETS_PER_ADDRESS", d.webchat_sockets_per_address)),
            messages_per_address_per_minute=max(
                1, env_int(env, "MESSAGES_PER_ADDRESS_PER_MINUTE", d.messages_per_address_per_minute)),
            queue_max_length=max(1, env_int(env, "QUEUE_MAX_LENGTH", d.queue_max_length)),
            queue_max_per_address=max(1, env_int(env, "QUEUE_MAX_PER_ADDRESS", d.queue_max_per_address)),
            queue_abandon_seconds=max(0.1, env_float(env, "QUEUE_ABANDON_SECONDS", d.queue_abandon_seconds)),
            env=dict(env),
        )
        parse_agent_tokens(settings.agent_tokens)  # a malformed or short token stops the start here
        return settings
