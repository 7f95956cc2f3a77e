"""Two gateway processes (`python -m bot`) on one Redis and one database: whichever process
produces a reply, it reaches the customer's websocket on the other one; order holds across both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import stack

from bot.settings import Settings
from tests import gateway_helpers as gw
from tests.test_whatsapp_webhook import QUESTIONS


@pytest.fixture(scope="module")
def two_gateways(
    redis_url: str, database_url: str, rasa_server: str, twilio_standin: str, service_logs: Path,
) -> Iterator[tuple[gw.Gateway, gw.Gateway]]:
    started: list[stack.Service] = []
    gateways = []
    try:
        for name in ("gateway-a", "gateway-b"):
            port = stack.free_port()
            env = gw.gateway_env(
                redis_url, database_url, rasa_server, twilio_standin,
                PUBLIC_URL=f"http://127.0.0.1:{port}",
            )
            started.append(stack.start_gateway(port, stack.app_env(**env), service_logs, name=name))
            gateways.append(gw.Gateway(url=started[-1].url, settings=Settings.from_env(env)))
        yield gateways[0], gateways[1]
    finally:
        for service in started:
            service.stop()


async def test_a_reply_produced_on_b_reaches_the_socket_on_a(two_gateways: tuple[gw.Gateway, gw.Gateway]) -> None:
    a, b = two_gateways
    session_id = gw.new_session_id()
    async with gw.WebchatClient.connect(a.ws_url, session_id) as on_a, gw.WebchatClient.connect(b.ws_url, session_id) as on_b:
        await on_a.next("history")
        await on_b.next("history")
        await on_b.say("Was kostet der Versand nach Österreich?")
        await on_b.next("ack")
        replies_a = await on_a.messages_until_quiet()
        replies_b = await on_b.messages_until_quiet()
    assert "Versand" in " ".join(r["text"] or "" for r in replies_a)
    assert replies_a == replies_b


async def test_an_agent_on_b_talks_to_a_customer_on_a_and_hands_back_for_the_rating(
    two_gateways: tuple[gw.Gateway, gw.Gateway], database_url: str,
) -> None:
    a, b = two_gateways
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    agent_headers = {"Authorization": f"Bearer {gw.AGENT_TOKEN}"}
    async with gw.WebchatClient.connect(a.ws_url, session_id) as customer, aiohttp.ClientSession(headers=agent_headers) as agent:
        await customer.next("history")
        await customer.say("Ich möchte bitte mit einem Menschen sprechen")
        await gw.eventually(lambda: _queue(agent, b), lambda queue: conversation in queue, timeout=30)
        await gw.agent_claims_and_says(agent, b.url, conversation, "Hallo, hier ist Anna. Wie kann ich helfen?")
        frame = await _next_from(customer, "agent")
        assert (frame["text"], frame["agent_id"]) == ("Hallo, hier ist Anna. Wie kann ich helfen?", "anna")

        async with agent.post(f"{b.url}/api/handoff/{conversation}/close", json={"note": "erledigt"}) as response:
            assert response.status == 200, await response.text()
        rating = await _next_with_buttons(customer)
    assert [b["payload"] for b in rating["buttons"]] == [f'/give_rating{{"rating": {n}}}' for n in range(1, 6)]
    rows = await gw.transcript(database_url, conversation)
    assert ("agent", "Hallo, hier ist Anna. Wie kann ich helfen?") in rows


async def test_a_burst_spread_over_both_processes_is_answered_in_order(
    two_gateways: tuple[gw.Gateway, gw.Gateway], twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    for i, question in enumerate(QUESTIONS):  # a load balancer alternating between the two
        target = two_gateways[i % 2]
        assert (await target.webhook(gw.whatsapp_form(number, question)))[0] == 200

    conversation = gw.whatsapp_id(number)
    rows = await gw.eventually(
        lambda: gw.transcript(database_url, conversation),
        lambda r: sum(s == "customer" for s, _ in r) == len(QUESTIONS) and r[-1][0] == "bot", timeout=90,
    )
    await gw.inbox_worked(two_gateways[0], conversation, timeout=90)  # one Redis: the inbox of both
    rows = await gw.transcript(database_url, conversation)
    assert [t for s, t in rows if s == "customer"] == QUESTIONS
    for i, (sender, _) in enumerate(rows):
        if sender == "customer" and i > 0:
            assert rows[i - 1][0] == "bot", rows
    sent = await gw.sent_to(twilio_standin, number)
    bot_lines = [t for s, t in rows if s == "bot"]
    assert len(sent) == len(bot_lines) and all(body.startswith(line) for body, line in zip(sent, bot_lines, strict=True))


async def _queue(agent: aiohttp.ClientSession, gateway: gw.Gateway) -> str:
    async with agent.get(f"{gateway.url}/api/handoff/queue") as response:
        return await response.text()


async def _next_from(chat: gw.WebchatClient, sender: str) -> dict:
    while True:
        frame = await chat.next("message")
        if frame["sender"] == sender:
            return frame


async def _next_with_buttons(chat: gw.WebchatClient) -> dict:
    while True:
        frame = await chat.next("message")
        if frame["buttons"]:
            return frame
