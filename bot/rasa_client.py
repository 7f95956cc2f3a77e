"""The gateway's client of Rasa's REST channel, and the parsing of what Rasa answers.

A message is never sent into Rasa twice while Rasa may still be working on it: a turn can run
a custom action that writes (a complaint, a rating), and a second copy of the message would
queue behind the first on Rasa's conversation lock and run it again. So a slow call is waited
for, not abandoned and sent again: after `rasa_timeout_seconds` without an answer `on_delay` is
awaited once (the customer hears "one moment") and the same call goes on until
`rasa_give_up_seconds` have passed; then it is cancelled (Rasa, a Sanic server, cancels the
turn with the connection, so nothing of it is kept in the tracker) and `RasaUnavailable` is
raised (the router offers a human) without a resend. This holds whatever Rasa's action endpoint
timeout (5 minutes in Rasa 3.6, not configurable) or the action server's database timeouts are:
the gateway does not decide from a clock that a turn is over. Sent again, with backoff, is only
a call that did not reach a running turn: Rasa refused the connection (restarting) or answered
an error status (the turn ended), or the connection broke because Rasa died (its turn with it).

At most `max_concurrent` messages of one gateway process are with Rasa at a time; the others
wait their turn here. Rasa works one turn at a time anyway, and a restarted Rasa that got every
waiting conversation at once would not answer its health check and be killed again as hung.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from core.backoff import Backoff
from core.contract import Button, HandoffRequest, Inbound, Outbound

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
            # The message identity: a turn that answered nothing is looked up by it (`send`).
            "message_id": inbound.external_id,
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
    def __init__(self, rasa_url: str, timeout_seconds: float, give_up_seconds: float, max_concurrent: int = 8) -> None:
        self.rasa_url = rasa_url
        self._slots = asyncio.Semaphore(max(1, max_concurrent))
        self._notice_after = timeout_seconds
        self._give_up = give_up_seconds
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # Each call has its own deadline (`send`, `trigger_intent`); connecting is quick or fails.
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=5))

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
            call = asyncio.ensure_future(self._post(url, body))
            try:
                if not told:
                    done, _ = await asyncio.wait({call}, timeout=max(0.0, min(self._notice_after, deadline - time.monotonic())))
                    if not done:
                        told = True
                        await on_delay()  # slow, not failed: the same call goes on
                remaining = deadline - time.monotonic()
                if not call.done() and remaining <= 0:
                    raise TimeoutError
                status, replies = await asyncio.wait_for(asyncio.shield(call), timeout=max(remaining, 0.001))
                if status == 200 and (replies or await self._turn_kept(inbound)):
                    return replies
                problem = f"HTTP {status}" if status != 200 else "no answer and the turn is not in the tracker"
            except aiohttp.ClientError as exc:  # a connect timeout is one of these: not reached
                problem = type(exc).__name__
            except TimeoutError:
                # Still running at the give-up time: cancelled, never sent again (see above).
                raise RasaUnavailable(f"{url} did not answer within {self._give_up:.0f} s") from None
            finally:
                call.cancel()
            log.warning("rasa call failed conversation=%s attempt=%d problem=%s", inbound.conversation_id, attempt, problem)
            if not told:
                told = True
                await on_delay()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RasaUnavailable(f"{url} did not answer after {attempt} attempts ({problem})")
            await asyncio.sleep(min(backoff.next(), remaining))

    async def _turn_kept(self, inbound: Inbound) -> bool:
        """Rasa's REST channel answers 200 with no messages also when the turn failed inside Rasa
        (its lock store or tracker store away: the error is only logged there). A turn that
        really answered nothing is in the tracker with this message's identity; one that failed
        is not, and is sent again (it ended, so it runs nowhere)."""
        if inbound.external_id is None:
            return True
        url = f"{self.rasa_url}/conversations/{inbound.conversation_id}/tracker"
        try:
            async with self._slots, self.session.get(url, timeout=aiohttp.ClientTimeout(total=self._notice_after)) as response:
                if response.status != 200:
                    return False
                tracker = await response.json(content_type=None)
        except TimeoutError:
            return False
        return any(
            event.get("event") == "user" and (event.get("metadata") or {}).get("message_id") == inbound.external_id
            for event in tracker.get("events") or [] if isinstance(event, dict)
        )

    async def _post(self, url: str, body: dict[str, Any]) -> tuple[int, list[Outbound | HandoffRequest]]:
        async with self._slots, self.session.post(url, json=body) as response:
            if response.status != 200:
                return response.status, []
            return 200, parse_replies(await response.json(content_type=None))

    async def trigger_intent(self, conversation_id: str, name: str, entities: dict[str, Any]) -> list[Outbound | HandoffRequest]:
        """Rasa's external-intent API; the bot's answer comes back through the `collector` channel."""
        url = f"{self.rasa_url}/conversations/{conversation_id}/trigger_intent"
        async with self.session.post(
            url, params={"output_channel": "collector"}, json={"name": name, "entities": entities},
            timeout=aiohttp.ClientTimeout(total=self._give_up),
        ) as response:
            if response.status != 200:
                raise RasaUnavailable(f"{url} answered HTTP {response.status}: {(await response.text())[:200]}")
            data = await response.json(content_type=None)
        return parse_replies(data.get("messages") if isinstance(data, dict) else None)
