"""Redis keys of the reports (prefix `shopdesk:reports:`).

| key                                   | type   | what                                                          |
| ------------------------------------- | ------ | ------------------------------------------------------------- |
| `shopdesk:reports:active:{id}`        | string | the conversation had a customer message within the last hour  |
|                                       |        | (expires then: the next message starts a new conversation)    |
| `shopdesk:reports:alerts:lease`       | string | the gateway process that runs the alert check (expires)       |
| `shopdesk:reports:alerts:active`      | hash   | alert key → JSON of the alert, while its condition holds       |
"""

from __future__ import annotations

PREFIX = "shopdesk:reports:"
ALERT_LEASE = PREFIX + "alerts:lease"
ALERTS_ACTIVE = PREFIX + "alerts:active"


def active(conversation_id: str) -> str:
    return f"{PREFIX}active:{conversation_id}"
