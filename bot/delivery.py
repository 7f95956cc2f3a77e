"""The gateway's `Delivery`: every bot and agent message to a customer goes through here.

One send has one `Route` (the channel unit that serves the conversation, the customer's address
on it, the reply window), resolved once, from the customer's contact read once, and handed down
to the unit: nothing decides the window a second time. Outside the window a send goes out only
where the channel carries it as a template; else it raises `WindowClosed`, also when the route's
window ran out before the unit sent it. The transcript is written before the unit sends. A send
that did not happen after all (`DeliveryFailed` after the channel's retries, or `WindowClosed`
from the unit) is never left looking sent: a system line under the messages names the error in
the transcript, and the agent consoles get it as a `message` event (`not_delivered`), before the
error goes to the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.channels.registry import Channels
from bot.metrics import Metrics
from bot.transcript import Transcript
from core import texts
from core.contract import Channel, DeliveryFailed, Outbound, ReplyWindow, Route, WindowClosed

log = logging.getLogger(__name__)


class GatewayDelivery:
    def __init__(self, transcript: Transcript, channels: Channels, metrics: Metrics) -> None:
        self._transcript = transcript
        self._channels = channels
        self._metrics = metrics
        # Set by bot/app.py to the desk's event hub: live events to the agent consoles.
        self.publish: Callable[[dict[str, Any]], Awaitable[None]] | None = None

    async def route(self, conversation_id: str) -> Route:
        return await self._channels.route(conversation_id)

    async def deliver(self, conversation_id: str, messages: list[Outbound], route: Route | None = None) -> None:
        if route is None or route.unit is None:
            route = await self._channels.route(conversation_id)
        unit: Channel | None = route.unit
        assert unit is not None  # the registry's routes always name their unit
        window = route.window
        if not route.open_at(time.time()) and not window.fallback and not all(unit.sends_outside_window(m) for m in messages):
            self._metrics.errors.labels("window_closed").inc()
            raise WindowClosed(window.why)
        await self._transcript.record_many(conversation_id, unit.family, [
            (message.sender, text, message.agent_id) for message in messages if (text := message.transcript_text())
        ])
        try:
            await unit.send(route, messages)
        except (DeliveryFailed, WindowClosed) as exc:
            if isinstance(exc, WindowClosed):
                self._metrics.errors.labels("window_closed").inc()
            await self._not_delivered(conversation_id, unit.family, exc)
            raise
        for message in messages:
            self._metrics.messages_out.labels(unit.family, message.sender).inc()
        log.info("delivered conversation=%s channel=%s messages=%d", conversation_id, unit.name, len(messages))

    async def _not_delivered(self, conversation_id: str, family: str, exc: DeliveryFailed | WindowClosed) -> None:
        """The mark for the agent; the error text holds status and provider code, no personal data."""
        line = texts.text("not_delivered", None, error=str(exc))
        await self._transcript.record(conversation_id, family, "system", line)
        if self.publish is not None:
            await self.publish({
                "type": "message", "conversation_id": conversation_id, "sender": "system", "text": line,
                "at": time.time(), "not_delivered": True, "media": [],
            })

    async def reply_window(self, conversation_id: str) -> ReplyWindow:
        return (await self._channels.route(conversation_id)).window

    async def typing(self, conversation_id: str, agent_id: str | None = None) -> None:
        await self._channels.typing(conversation_id, agent_id)
