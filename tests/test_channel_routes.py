"""One route per send: the customer's contact is read once for a bot reply and once for an
agent's message, and a reply window that closes before the channel sends is reported, never
skipped silently."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot.channels.whatsapp.rules import WhatsAppProvider
from core.contract import HandoffRequest, Outbound, WindowClosed
from tests.gateway_helpers import (
    AGENT_TOKEN,
    Gateway,
    eventually,
    new_number,
    sent_to,
    transcript,
    whatsapp_form,
    whatsapp_id,
)

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}


@contextmanager
def contact_reads(conversation_id: str) -> Iterator[list[str]]:
    """The SELECTs of the `contacts` table for this conversation while the block runs."""
    reads: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM contacts" in statement \
                and conversation_id in repr(parameters):
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield reads
    finally:
        event.remove(Engine, "before_cursor_execute", seen)


async def _customer(gateway: Gateway, twilio_standin: str) -> tuple[str, str]:
    number = new_number()
    assert (await gateway.webhook(whatsapp_form(number, "Hallo")))[0] == 200
    await eventually(lambda: sent_to(twilio_standin, number), bool)
    return number, whatsapp_id(number)


async def test_a_bot_reply_reads_the_customers_contact_once_per_send(
    gateway: Gateway, twilio_standin: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    number, conversation = await _customer(gateway, twilio_standin)
    before = len(await sent_to(twilio_standin, number))
    assert gateway.parts is not None
    delivery = gateway.parts.delivery
    sends: list[str] = []
    deliver = delivery.deliver

    async def counted(conversation_id: str, messages: list[Outbound], route: Any = None) -> None:
        sends.append(conversation_id)
        await deliver(conversation_id, messages, route)

    monkeypatch.setattr(delivery, "deliver", counted)
    with contact_reads(conversation) as reads:
        assert (await gateway.webhook(whatsapp_form(number, "Was kostet der Versand?")))[0] == 200
        await eventually(lambda: sent_to(twilio_standin, number), lambda bodies: len(bodies) > before)
    assert sends and len(reads) == len(sends), (sends, reads)


async def test_an_agents_message_reads_the_customers_contact_once(gateway: Gateway, twilio_standin: str) -> None:
    number, conversation = await _customer(gateway, twilio_standin)
    assert gateway.parts is not None
    await gateway.parts.desk.request_handoff(conversation, "whatsapp", HandoffRequest(reason="customer_request"))
    async with aiohttp.ClientSession(headers=AGENT) as agent:
        async with agent.post(f"{gateway.url}/api/handoff/{conversation}/claim") as response:
            assert response.status == 200, await response.text()
        before = len(await sent_to(twilio_standin, number))
        with contact_reads(conversation) as reads:
            async with agent.post(f"{gateway.url}/api/handoff/{conversation}/messages",
                                  json={"text": "Hallo, hier ist Anna."}) as response:
                assert response.status == 200, await response.text()
        assert len(reads) == 1, reads
        sent = await eventually(lambda: sent_to(twilio_standin, number), lambda bodies: len(bodies) > before)
        assert sent[before] == "Hallo, hier ist Anna."
        async with agent.post(f"{gateway.url}/api/handoff/{conversation}/close", json={"note": "test"}) as response:
            assert response.status == 200, await response.text()


async def test_a_window_that_closes_before_the_channel_sends_is_reported_not_skipped(
    gateway: Gateway, twilio_standin: str, database_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    number, conversation = await _customer(gateway, twilio_standin)
    assert gateway.parts is not None
    route = await gateway.parts.delivery.route(conversation)
    assert route.window.open  # the Delivery's check passes ...
    before = len(await sent_to(twilio_standin, number))
    # ... and by the time the provider unit sends, the customer's 24 hours have run out.
    monkeypatch.setattr(WhatsAppProvider, "window_open", staticmethod(lambda _route: False))
    with pytest.raises(WindowClosed, match="24 hours"):
        await gateway.parts.delivery.deliver(conversation, [Outbound(text="Noch da?", sender="agent", agent_id="anna")], route)
    assert len(await sent_to(twilio_standin, number)) == before
    lines = await transcript(database_url, conversation)
    assert lines[-2:] == [("agent", "Noch da?"), ("system", lines[-1][1])] and "Nicht zugestellt" in lines[-1][1]
