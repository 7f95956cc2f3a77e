"""The gateway's client of Rasa's REST channel, and the parsing of what Rasa answers.

One call has `rasa_timeout_seconds`; a failed or slow call is retried with exponential
backoff until `rasa_give_up_seconds` have passed, then `RasaUnavailable` is raised (the router
offers a human). After the first failure `on_delay` is awaited once, so the customer hears
"one moment" instead of silence. A retry after a timeout may reach Rasa twice; Rasa's lock
store keeps one conversation's turns in order either way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from handoff.backoff import Backoff
from handoff.contract import Button, HandoffRequest, Inbound, Outbound

log = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa did not answer within rasa_give_up_seconds."""


def rasa_request(inbound: Inbound) -> dict[str, Any]:
    return {
        "sender": inbound.conversation_id,
        "message": inbound.text,
        "metadata": {
            "channel": inbound.channel,
            "accepts_media": inbound.accepts_media,
            "language": inbound.language,
            "media": [{"url": m.url, "content_type": m.content_type} for m in inbound.media],
        },
    }


def parse_replies(raw: object) -> list[Outbound | HandoffRequest]:
    """Rasa's bot messages as `Outbound`s, with `handoff` custom payloads as `HandoffRequest`s."""
    replies: list[Outbound | HandoffRequest] = []
    for message in raw if isinstance(raw, list) else []:
        if not isinstance(message, dict):
            continue
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            replies.append(HandoffRequest.from_payload(custom["handoff"]))
            continue
        buttons = tuple(
            Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
            for b in message.get("buttons") or [] if isinstance(b, dict)
        )
        text = message.get("text") or None
        if message.get("image") and not text:
            text = str(message["image"])
        if text is None and not buttons and not isinstance(custom, dict):
            continue
        replies.append(Outbound(text=text, buttons=buttons, custom=custom if isinstance(custom, dict) else None))
    return replies


class RasaClient:
    def __init__(self, rasa_url: str, timeout_seconds: float, give_up_seconds: float) -> None:
        self.rasa_url = rasa_url
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._give_up = give_up_seconds
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("RasaClient.start() was not awaited (the app's cleanup_ctx starts it)")
        return self._session

    async def send(
        self, inbound: Inbound, on_delay: Callable[[], Awaitable[None]],
    ) -> list[Outbound | HandoffRequest]:
        url = f"{self.rasa_url}/webhooks/rest/webhook"
        body = rasa_request(inbound)
        deadline = time.monotonic() + self._give_up
        backoff = Backoff()
        told = False
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self.session.post(url, json=body) as response:
                    if response.status == 200:
                        return parse_replies(await response.json(content_type=None))
                    problem = f"HTTP {response.status}"
            except (TimeoutError, aiohttp.ClientError) as exc:
                problem = type(exc).__name__
            log.warning("rasa call failed conversation=%s attempt=%d problem=%s", inbound.conversation_id, attempt, problem)
            if not told:
                told = True
                await on_delay()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RasaUnavailable(f"{url} did not answer after {attempt} attempts ({problem})")
            await asyncio.sleep(min(backoff.next(), remaining))

    async def trigger_intent(self, conversation_id: str, name: str, entities: dict[str, Any]) -> list[Outbound | HandoffRequest]:
        """Rasa's external-intent API; the bot's answer comes back through the `collector` channel."""
        url = f"{self.rasa_url}/conversations/{conversation_id}/trigger_intent"
        async with self.session.post(
            url, params={"output_channel": "collector"}, json={"name": name, "entities": entities},
        ) as response:
            if response.status != 200:
                raise RasaUnavailable(f"{url} answered HTTP {response.status}: {(await response.text())[:200]}")
            data = await response.json(content_type=None)
        return parse_replies(data.get("messages") if isinstance(data, dict) else None)
