"""What the desk reads of the configuration. The gateway's `Settings` (read from the environment
once, bot/settings.py) has these fields and is passed in; the desk depends on nothing more."""

from __future__ import annotations

from typing import Protocol

from core.attachments import AttachmentConfig


class ThrottleConfig(Protocol):
    """Wrong agent tokens per client address (handoff/web/throttle.py). Here, not beside the
    throttle, so that every room can read the desk's settings without importing the web face."""

    @property
    def signin_free_failures(self) -> int: ...

    @property
    def signin_delay_seconds(self) -> float: ...

    @property
    def signin_max_delay_seconds(self) -> float: ...


class DeskConfig(ThrottleConfig, AttachmentConfig, Protocol):
    """Also the sign-in throttle's settings (ThrottleConfig: wrong agent tokens per client address) and
    where agents' attachments are kept (AttachmentConfig, core/attachments.py)."""

    @property
    def agent_tokens(self) -> str: ...  # "name:token,name:token:supervisor"

    @property
    def business_hours(self) -> str: ...

    @property
    def business_holidays(self) -> str: ...  # "DE-BY,AT,CH-ZH": public holidays that close the desk

    @property
    def agent_max_conversations(self) -> int: ...

    @property
    def agent_grace_seconds(self) -> float: ...

    @property
    def queue_timeout_seconds(self) -> float: ...

    @property
    def max_message_chars(self) -> int: ...  # also the longest agent message

    # Proxies whose X-Forwarded-For names the client (TRUSTED_PROXIES, core/client_address.py).
    @property
    def trusted_proxies(self) -> str: ...

    # Queue caps and silent customers (handoff/queue/desk_queue.py, handoff/work/sweeper.py).
    @property
    def queue_max_length(self) -> int: ...

    @property
    def queue_max_per_address(self) -> int: ...

    @property
    def queue_abandon_seconds(self) -> float: ...

    @property
    def public_url(self) -> str: ...  # the gateway's address (links in alerts, attachment links)

    # Early warnings (handoff/reports/alerts.py).
    @property
    def alert_webhook_url(self) -> str: ...

    @property
    def alert_csat_drop(self) -> float: ...

    @property
    def alert_wait_seconds(self) -> float: ...

    @property
    def alert_check_seconds(self) -> float: ...

    @property
    def alert_language(self) -> str: ...

    @property
    def replies_file(self) -> str: ...  # the shop's canned replies (REPLIES_FILE)
