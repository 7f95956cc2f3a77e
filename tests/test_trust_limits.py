"""Abuse limits of the web chat through the real gateway, real websockets and a real Rasa: the flood
of fresh session ids from one address, open sockets per address (across processes, and after one
was killed), messages per socket and per address, and whose X-Forwarded-For is believed.

Every test speaks from addresses of its own: the gateways trust 127.0.0.1 as a proxy and the test
names a random IPv6 client in X-Forwarded-For (the limits count an IPv6 client by its /64), so the
counters of the session's shared Redis never mix between tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import stack
from redis.asyncio import Redis

from bot.settings import Settings
from core import texts
from handoff.queue import keys as desk_keys
from tests.gateway_helpers import (
    Gateway,
    WebchatClient,
    eventually,
    gateway_env,
    new_session_id,
    running_gateway,
    transcript,
    webchat_id,
)

HUMAN = "Ich will mit einem Mitarbeiter sprechen"


def new_client() -> str:
    """A client address nobody else in the run uses."""
    return f"2001:db8:{secrets.randbelow(65536):x}:{secrets.randbelow(65536):x}::1"


def via(*hops: str) -> dict[str, str]:
    return {"X-Forwarded-For": ", ".join(hops)}


async def fresh_minute() -> None:
    """The per-minute limits count in whole minutes: start a burst well inside one."""
    if time.time() % 60 > 50:
        await asyncio.sleep(61 - time.time() % 60)


@contextlib.asynccontextmanager
async def limited(
    redis_url: str, database_url: str, rasa_server: str, twilio_standin: str, **env: str,
) -> AsyncIterator[Gateway]:
    defaults = {  # the documented defaults, which UNLIMITED_ADDRESS lifts for the other tests
        "TRUSTED_PROXIES": "127.0.0.1", "NEW_CONVERSATIONS_PER_MINUTE": "10", "WEBCHAT_SOCKETS_PER_ADDRESS": "20",
        "MESSAGES_PER_ADDRESS_PER_MINUTE": "120", "QUEUE_MAX_PER_ADDRESS": "3",
    }
    settings = Settings.from_env(gateway_env(redis_url, database_url, rasa_server, twilio_standin, **{**defaults, **env}))
    async with running_gateway(settings) as running:
        yield running


@pytest.fixture
def services(redis_url: str, database_url: str, rasa_server: str, twilio_standin: str) -> tuple[str, str, str, str]:
    return redis_url, database_url, rasa_server, twilio_standin


async def frames_until_closed(client: WebchatClient, timeout: float = 30) -> tuple[list[dict[str, Any]], int | None]:
    """Every frame the server sends until it closes the socket, and the close code."""
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = await client.ws.receive(timeout=deadline - time.monotonic())
        if msg.type == aiohttp.WSMsgType.TEXT:
            frames.append(msg.json())
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
            return frames, client.ws.close_code
    raise AssertionError(f"the socket stayed open; frames: {frames[-5:]}")


async def metric(gateway: Gateway, kind: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{gateway.url}/metrics") as response:
        body = await response.text()
    line = next((x for x in body.splitlines() if x.startswith(f'shopdesk_errors_total{{kind="{kind}"}}')), None)
    return float(line.split()[-1]) if line else 0.0


async def queued(redis_url: str, conversation_ids: list[str]) -> list[str]:
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        members = set(await redis.zrange(desk_keys.QUEUE, 0, -1))
    finally:
        await redis.aclose()
    return [c for c in conversation_ids if c in members]


async def test_sixty_hellos_with_fresh_session_ids_on_one_socket_are_stopped_at_the_limit(
    services: tuple[str, str, str, str],
) -> None:
    redis_url, database_url = services[0], services[1]
    client_address = new_client()
    sessions = [new_session_id() for _ in range(60)]
    await fresh_minute()
    async with limited(*services) as gw, WebchatClient.connect(gw.ws_url, headers=via(client_address)) as client:
        for session_id in sessions:
            try:
                await client.ws.send_json({"type": "hello", "session_id": session_id, "language": "de"})
                await client.say(HUMAN)
            except ConnectionError:
                break  # the server closed the socket
        frames, code = await frames_until_closed(client)
        histories = [f for f in frames if f["type"] == "history"]
        errors = [f for f in frames if f["type"] == "error"]
        assert len(histories) == 10
        assert [e["reason"] for e in errors] == ["too_many_conversations"]
        assert errors[0]["text"] == texts.text("too_many_conversations", "de")
        assert code == aiohttp.WSCloseCode.TRY_AGAIN_LATER
        assert await metric(gw, "rejected_too_many_conversations") == 1

        # The ten that got in asked for a person: three of them wait in the queue (the cap per
        # address), the others were told why not and what to do, and stay with the bot.
        taken = [webchat_id(s) for s in sessions[:10]]
        refusal = texts.text("queue_address_limit", "de", limit=3)

        async def answered() -> list[list[str]]:
            return [[text for sender, text in await transcript(database_url, cid) if sender == "bot"] for cid in taken]

        def settled(lines: list[list[str]]) -> bool:
            return all(any(t == refusal or t.startswith("Ein Mitarbeiter übernimmt gleich") for t in ls) for ls in lines)

        lines = await eventually(answered, settled, timeout=120, every=1)
        assert sum(refusal in ls for ls in lines) == 7
        assert len(await queued(redis_url, taken)) == 3
        assert await queued(redis_url, [webchat_id(s) for s in sessions[10:]]) == []
        assert await metric(gw, "rejected_queue_address_limit") == 7


async def test_fresh_session_ids_on_many_sockets_are_stopped_at_the_limit_and_other_addresses_go_on(
    services: tuple[str, str, str, str],
) -> None:
    flooder, neighbour = new_client(), new_client()
    sessions = [new_session_id() for _ in range(15)]
    await fresh_minute()
    async with limited(*services) as gw, contextlib.AsyncExitStack() as stack_:
        answers = []
        for session_id in sessions:
            client = await stack_.enter_async_context(
                WebchatClient.connect(gw.ws_url, session_id, language="en", headers=via(flooder)))
            answers.append(await client.ws.receive_json(timeout=10))
        assert [a["type"] for a in answers] == ["history"] * 10 + ["error"] * 5
        assert {a["reason"] for a in answers[10:]} == {"too_many_conversations"}
        assert answers[10]["text"] == texts.text("too_many_conversations", "en")
        # The same session again is not a new conversation; another address is not limited by this one.
        async with WebchatClient.connect(gw.ws_url, sessions[0], headers=via(flooder)) as again:
            assert (await again.ws.receive_json(timeout=10))["type"] == "history"
        async with WebchatClient.connect(gw.ws_url, new_session_id(), headers=via(neighbour)) as other:
            assert (await other.ws.receive_json(timeout=10))["type"] == "history"


async def test_open_sockets_per_address_are_capped_across_gateway_processes(services: tuple[str, str, str, str]) -> None:
    client_address = new_client()
    async with limited(*services, WEBCHAT_SOCKETS_PER_ADDRESS="3") as a, \
            limited(*services, WEBCHAT_SOCKETS_PER_ADDRESS="3") as b, contextlib.AsyncExitStack() as open_:
        for gw in (a, a, b):
            client = await open_.enter_async_context(WebchatClient.connect(gw.ws_url, headers=via(client_address)))
            with pytest.raises(asyncio.TimeoutError):  # accepted: nothing is said before a hello
                await client.ws.receive(timeout=0.5)
        async with WebchatClient.connect(b.ws_url, headers=via(client_address, "127.0.0.1")) as fourth:
            frames, code = await frames_until_closed(fourth)
        assert [f["reason"] for f in frames] == ["too_many_sockets"]
        assert frames[0]["text"] == texts.text("too_many_sockets", "de")  # no Accept-Language: German
        assert code == aiohttp.WSCloseCode.TRY_AGAIN_LATER
        assert await metric(b, "rejected_too_many_sockets") == 1
        # One closes: there is room again.
        await open_.aclose()
        async with WebchatClient.connect(b.ws_url, new_session_id(), headers=via(client_address)) as later:
            assert (await later.ws.receive_json(timeout=10))["type"] == "history"


@pytest.fixture
def killable_gateway(
    redis_url: str, database_url: str, rasa_server: str, twilio_standin: str, service_logs: Path,
) -> Iterator[stack.Service]:
    port = stack.free_port()
    env = gateway_env(redis_url, database_url, rasa_server, twilio_standin, PUBLIC_URL=f"http://127.0.0.1:{port}",
                      TRUSTED_PROXIES="127.0.0.1", WEBCHAT_SOCKETS_PER_ADDRESS="2", QUEUE_ABANDON_SECONDS="3")
    service = stack.start_gateway(port, stack.app_env(**env), service_logs, name="gateway-killed")
    yield service
    service.stop()


async def test_sockets_of_a_killed_gateway_process_stop_counting_once_their_entries_run_out(
    services: tuple[str, str, str, str], killable_gateway: stack.Service,
) -> None:
    client_address = new_client()
    ws_url = killable_gateway.url.replace("http://", "ws://") + "/webchat/ws"
    async with limited(*services, WEBCHAT_SOCKETS_PER_ADDRESS="2", QUEUE_ABANDON_SECONDS="3") as survivor:
        async with aiohttp.ClientSession() as http:
            held = [await http.ws_connect(ws_url, headers=via(client_address)) for _ in range(2)]
            for ws in held:
                await ws.send_json({"type": "hello", "session_id": new_session_id()})
                assert (await ws.receive_json(timeout=10))["type"] == "history"
            killable_gateway.process.kill()  # kill -9: its sockets are never closed in Redis
            killable_gateway.process.wait()
        async with WebchatClient.connect(survivor.ws_url, headers=via(client_address)) as refused:
            frames, _ = await frames_until_closed(refused)
        assert [f["reason"] for f in frames] == ["too_many_sockets"]

        async def try_again() -> str:
            async with WebchatClient.connect(survivor.ws_url, new_session_id(), headers=via(client_address)) as c:
                return str((await c.ws.receive_json(timeout=10))["type"])

        assert await eventually(try_again, lambda kind: kind == "history", timeout=15, every=0.5) == "history"


async def test_one_socket_switching_session_ids_keeps_the_per_conversation_limit(
    services: tuple[str, str, str, str],
) -> None:
    await fresh_minute()
    async with limited(*services, RATE_LIMIT_PER_MINUTE="3") as gw, \
            WebchatClient.connect(gw.ws_url, headers=via(new_client())) as client:
        for _ in range(3):  # one message in each of three conversations: the socket's limit
            await client.ws.send_json({"type": "hello", "session_id": new_session_id(), "language": "en"})
            await client.next("history")
            await client.say("Hello")
            await client.next("ack")
        await client.ws.send_json({"type": "hello", "session_id": new_session_id(), "language": "en"})
        await client.next("history")
        await client.say("Hello", client_id="one-too-many")
        refused = await client.next("error")
        assert (refused["reason"], refused["client_id"]) == ("rate_limited", "one-too-many")
        assert refused["text"] == texts.text("rate_limited", "en")
        assert await metric(gw, "rejected_rate_limited") == 1


async def test_messages_from_one_address_are_capped_across_its_conversations(services: tuple[str, str, str, str]) -> None:
    client_address = new_client()
    await fresh_minute()
    async with limited(*services, MESSAGES_PER_ADDRESS_PER_MINUTE="3") as gw, \
            WebchatClient.connect(gw.ws_url, new_session_id(), headers=via(client_address)) as first, \
            WebchatClient.connect(gw.ws_url, new_session_id(), headers=via(client_address)) as second:
        await first.next("history")
        await second.next("history")
        for client in (first, second, first):
            await client.say("Hallo")
            await client.next("ack")
        await second.say("Hallo", client_id="fourth")
        refused = await second.next("error")
        assert (refused["reason"], refused["client_id"]) == ("address_rate_limited", "fourth")
        assert refused["text"] == texts.text("address_rate_limited", "de")
        # Another address writes on.
        async with WebchatClient.connect(gw.ws_url, new_session_id(), headers=via(new_client())) as other:
            await other.next("history")
            await other.say("Hallo")
            await other.next("ack")


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    own_redis: str, database_url: str, twilio_standin: str,
) -> None:
    unused = "http://127.0.0.1:9"  # no message reaches Rasa here
    settings = Settings.from_env(gateway_env(own_redis, database_url, unused, twilio_standin,
                                             TRUSTED_PROXIES="", WEBCHAT_SOCKETS_PER_ADDRESS="2"))
    async with running_gateway(settings) as gw, contextlib.AsyncExitStack() as open_:
        for _ in range(2):  # claiming to be someone else each time
            client = await open_.enter_async_context(WebchatClient.connect(gw.ws_url, headers=via(new_client())))
            with pytest.raises(asyncio.TimeoutError):
                await client.ws.receive(timeout=0.5)
        async with WebchatClient.connect(gw.ws_url, headers=via(new_client())) as third:
            frames, _ = await frames_until_closed(third)
        assert [f["reason"] for f in frames] == ["too_many_sockets"]


async def test_x_forwarded_for_from_a_trusted_proxy_names_the_right_most_untrusted_hop(
    services: tuple[str, str, str, str],
) -> None:
    client_address = new_client()
    async with limited(*services, TRUSTED_PROXIES="127.0.0.1,10.0.0.0/8", WEBCHAT_SOCKETS_PER_ADDRESS="1") as gw:
        # The client wrote a made-up first hop; our proxies (10.x, then 127.0.0.1) appended the rest.
        async with WebchatClient.connect(gw.ws_url, headers=via(new_client(), client_address, "10.1.2.3")) as first:
            with pytest.raises(asyncio.TimeoutError):
                await first.ws.receive(timeout=0.5)
            async with WebchatClient.connect(gw.ws_url, headers=via(new_client(), client_address)) as same:
                frames, _ = await frames_until_closed(same)
            assert [f["reason"] for f in frames] == ["too_many_sockets"]
            async with WebchatClient.connect(gw.ws_url, headers=via(client_address, new_client())) as other:
                with pytest.raises(asyncio.TimeoutError):  # the right-most untrusted hop is someone else
                    await other.ws.receive(timeout=0.5)


def test_a_trusted_proxies_entry_that_is_no_address_stops_the_start_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"TRUSTED_PROXIES=.*'proxy\.local' is not an IP address or network"):
        Settings.from_env({"TRUSTED_PROXIES": "10.0.0.0/8, proxy.local"})
    assert Settings.from_env({"TRUSTED_PROXIES": " 10.0.0.0/8, 127.0.0.1 "}).trusted_proxies == "10.0.0.0/8,127.0.0.1/32"
