"""`GET /metrics`: Prometheus counters of messages and errors and the bot's reply latency.

Each application gets its own registry, so two gateways in one process (tests) do not collide.
Under `make run`, `shopdesk_service_restarts_total` comes from the supervisor's state file
(another process), read at scrape time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector


class ServiceRestarts(Collector):
    """Restarts per service as `make run`'s supervisor wrote them (scripts/supervisor.py)."""

    def __init__(self, services_file: Path) -> None:
        self._file = services_file

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "shopdesk_service_restarts", "Restarts of a crashed or hung process by make run's supervisor",
            labels=["service"],
        )
        try:
            services = json.loads(self._file.read_text())["services"]
        except (OSError, ValueError, KeyError):
            services = {}
        for name, state in services.items():
            family.add_metric([name], float(state.get("restarts", 0)))
        yield family


class Metrics:
    def __init__(self, services_file: str = "") -> None:
        self.registry = CollectorRegistry()
        if services_file:
            self.registry.register(ServiceRestarts(Path(services_file)))
        self.messages_in = Counter(
            "shopdesk_messages_in_total", "Customer messages accepted, by channel",
            ["channel"], registry=self.registry,
        )
        self.messages_out = Counter(
            "shopdesk_messages_out_total", "Messages sent to customers, by channel and sender",
            ["channel", "sender"], registry=self.registry,
        )
        self.bot_latency = Histogram(
            "shopdesk_bot_reply_seconds", "From a customer message accepted to the bot's replies delivered",
            ["channel"], registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
        )
        self.errors = Counter(
            "shopdesk_errors_total", "Failures, by kind (rasa, twilio, router, rejected_*)",
            ["kind"], registry=self.registry,
        )
        self.dead_letters = Counter(
            "shopdesk_dead_letters_total", "Customer messages the router gave up on (in the dead-letter list)",
            registry=self.registry,
        )

    async def handle(self, _request: web.Request) -> web.Response:
        response = web.Response(body=generate_latest(self.registry))
        response.content_type = CONTENT_TYPE_LATEST.split(";")[0]
        response.charset = "utf-8"
        return response
