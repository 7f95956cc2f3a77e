"""A customer message the router retries (same message identity) reaches the agents once.

The failure is real: the desk's database refuses the "we keep your message" notice, so the first
`takes_message` fails after the message was shown, and the router asks again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from core.contract import Inbound
from tests.gateway_helpers import inserts_fail
from tests.handoff_support import desk_app, new_id


async def customer_events(ws, conversation_id: str, quiet: float = 1.5) -> list[str]:  # type: ignore[no-untyped-def]
    """Texts of the customer-message events for the conversation until the socket is quiet."""
    texts = []
    while True:
        try:
            event = json.loads((await ws.receive(timeout=quiet)).data)
        except TimeoutError:
            return texts
        if event.get("type") == "message" and event.get("conversation_id") == conversation_id and event["sender"] == "customer":
            texts.append(event["text"])


async def test_a_retried_customer_message_is_shown_to_the_agent_once(
    redis_url: str, own_database: tuple[str, Path],
) -> None:
    url, path = own_database
    async with desk_app(redis_url, url) as h:
        cid = new_id()
        await h.handoff(cid, reason="complaint")
        ws = await h.socket("anna-desk")
        message = Inbound(cid, "webchat", "Das Paket war nass.", "de", external_id="client-7")
        with inserts_fail(path):
            with pytest.raises(SQLAlchemyError):
                await h.desk.takes_message(message)
        assert await h.desk.takes_message(message) is True  # the router's retry
        # Another message is still shown.
        assert await h.desk.takes_message(Inbound(cid, "webchat", "Hallo?", "de", external_id="client-8")) is True
        assert await customer_events(ws, cid) == ["Das Paket war nass.", "Hallo?"]
