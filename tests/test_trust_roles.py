"""Agent sign-in and roles through the real gateway (issue 8): AGENT_TOKENS shorter than 24
characters stop the start with the fix named, wrong tokens from one address wait ever longer, an
agent reads only conversations that reached the desk for them, a supervisor reads every one."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from handoff.queue import keys
from tests.gateway_helpers import (
    Gateway,
    WebchatClient,
    eventually,
    new_session_id,
    running_gateway,
    webchat_id,
)

ROOT = Path(__file__).resolve().parent.parent
# Names of their own: the session gateway's accounts live in the same database.
RINA, BORIS, SUE = "rina-roles-" + "r" * 24, "boris-roles-" + "b" * 24, "sue-roles-" + "s" * 24
TOKENS = f"rina-roles:{RINA},boris-roles:{BORIS},sue-roles:{SUE}:supervisor"
SHORT = "anna:short-token-12"
NAMED_FIX = "AGENT_TOKENS: the token of 'anna' has 14 characters; use at least 24"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def desk(gateway: Gateway) -> AsyncIterator[Gateway]:
    async with running_gateway(replace(gateway.settings, agent_tokens=TOKENS)) as running:
        yield running


def test_a_short_agent_token_stops_the_gateway_with_the_fix_named() -> None:
    env = {**os.environ, "AGENT_TOKENS": SHORT}
    started = subprocess.run([sys.executable, "-m", "bot"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert NAMED_FIX in started.stderr
    assert "secrets.token_urlsafe(24)" in started.stderr
    assert "Traceback" not in started.stderr


def test_make_run_says_so_before_it_starts_anything(tmp_path: Path) -> None:
    env = {**os.environ, "AGENT_TOKENS": SHORT, "SHOPDESK_VAR": str(tmp_path)}
    started = subprocess.run([sys.executable, "scripts/run.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=60)
    assert started.returncode != 0
    assert f"could not start: {NAMED_FIX}" in started.stderr
    assert not (tmp_path / "logs").exists()  # nothing was started


async def _status(url: str, token: str, local: str = "127.0.0.1") -> tuple[int, str | None]:
    connector = aiohttp.TCPConnector(local_addr=(local, 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(f"{url}/api/handoff/queue", headers=bearer(token)) as response:
            return response.status, response.headers.get("Retry-After")


async def test_wrong_tokens_from_one_address_wait_ever_longer_and_a_right_token_clears_it(
    gateway: Gateway, redis_url: str,
) -> None:
    settings = replace(gateway.settings, agent_tokens=TOKENS, signin_free_failures=2, signin_delay_seconds=1.0)
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.delete(keys.signin_failures("127.0.0.1"), keys.signin_failures("127.0.0.2"))
    wrong = "wrong-token-" + "w" * 24
    try:
        async with running_gateway(settings) as one, running_gateway(settings) as two:
            assert [(await _status(one.url, wrong))[0] for _ in range(2)] == [401, 401]  # free
            assert (await _status(one.url, wrong))[0] == 401  # the third starts a lock of 1 s
            assert await _status(one.url, RINA) == (429, "1")  # even a right token waits
            assert await _status(two.url, RINA) == (429, "1")  # in every gateway process (Redis)
            async with aiohttp.ClientSession() as session:  # the agent socket too
                with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                    await session.ws_connect(one.url.replace("http", "ws") + "/agent/ws")
                assert refused.value.status == 429
            assert await _status(one.url, RINA, local="127.0.0.2") == (200, None)  # another address is not held up

            await asyncio.sleep(1.1)
            assert (await _status(one.url, wrong))[0] == 401  # the next failure doubles the lock
            assert await _status(one.url, RINA) == (429, "2")
            await asyncio.sleep(2.1)
            assert await _status(one.url, RINA) == (200, None)  # a right token clears the count
            assert [(await _status(one.url, wrong))[0] for _ in range(3)] == [401, 401, 401]
            assert (await _status(one.url, RINA))[0] == 429
    finally:
        await redis.delete(keys.signin_failures("127.0.0.1"), keys.signin_failures("127.0.0.2"))
        await redis.aclose()


async def test_the_first_frame_of_the_agent_socket_counts_as_a_sign_in(gateway: Gateway, redis_url: str) -> None:
    settings = replace(gateway.settings, agent_tokens=TOKENS, signin_free_failures=1, signin_delay_seconds=5.0)
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.delete(keys.signin_failures("127.0.0.1"))
    try:
        async with running_gateway(settings) as one, aiohttp.ClientSession() as session:
            for expected in (4401, 4401):  # one free failure, then the lock starts
                async with session.ws_connect(one.url.replace("http", "ws") + "/agent/ws") as ws:
                    await ws.send_json({"type": "auth", "token": "wrong-token-" + "w" * 24})
                    closed = await ws.receive(timeout=5)
                    assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, expected)
            assert await _status(one.url, RINA) == (429, "5")
    finally:
        await redis.delete(keys.signin_failures("127.0.0.1"))
        await redis.aclose()


async def test_the_agent_socket_refuses_a_token_in_the_url_and_takes_a_header_or_first_frame(desk: Gateway) -> None:
    url = desk.url.replace("http", "ws") + "/agent/ws"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{url}?token={RINA}")
        assert refused.value.status == 400
        async with session.ws_connect(url, headers=bearer(RINA)) as ws:
            assert (await ws.receive_json(timeout=10))["agent"] == "rina-roles"
        async with session.ws_connect(url) as ws:
            await ws.send_json({"type": "auth", "token": BORIS})
            assert (await ws.receive_json(timeout=10))["agent"] == "boris-roles"


async def _get(desk: Gateway, token: str, cid: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(headers=bearer(token)) as session:
        async with session.get(f"{desk.url}/api/conversations/{cid}") as response:
            return response.status, await response.json()


async def _post(desk: Gateway, token: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(headers=bearer(token)) as session:
        async with session.post(f"{desk.url}{path}", json=body) as response:
            return response.status, await response.json()


async def _agent_socket(session: aiohttp.ClientSession, desk: Gateway, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(desk.url.replace("http", "ws") + "/agent/ws")
    await ws.send_json({"type": "auth", "token": token})
    assert (await ws.receive_json(timeout=10))["type"] == "hello"
    return ws


async def _note_event(ws: aiohttp.ClientWebSocketResponse, cid: str, timeout: float) -> dict[str, Any]:
    while True:
        event = json.loads((await ws.receive(timeout=timeout)).data)
        if event.get("type") == "note" and event.get("conversation_id") == cid:
            return event


async def test_an_agent_reads_only_conversations_that_reached_the_desk_and_a_supervisor_every_one(desk: Gateway) -> None:
    session_id = new_session_id()
    cid = webchat_id(session_id)
    async with WebchatClient.connect(desk.ws_url, session_id) as chat:
        await chat.next("history")
        await chat.say("Wann habt ihr geöffnet?")
        await chat.messages_until_quiet()

        # Only the bot so far: no agent reads it, not even a note; the supervisor does.
        status, body = await _get(desk, RINA, cid)
        assert (status, body["error"]) == (403, "not_at_desk")
        assert "supervisor" in body["detail"]
        assert (await _post(desk, RINA, f"/api/conversations/{cid}/notes", {"text": "x"}))[0] == 403
        status, body = await _get(desk, SUE, cid)
        assert status == 200 and "Wann habt ihr geöffnet?" in [m["text"] for m in body["transcript"]]

        # Queued: every agent may look.
        await chat.say("Ich will mit einem Mitarbeiter sprechen")
        await eventually(lambda: _get(desk, RINA, cid), lambda got: got[0] == 200 and got[1]["state"] == "queued")
        assert (await _get(desk, BORIS, cid))[0] == 200

        # Rina's: Boris is refused (naming who has it), reading and annotating; Sue reads it.
        assert (await _post(desk, RINA, f"/api/handoff/{cid}/claim", {}))[0] == 200
        status, body = await _get(desk, BORIS, cid)
        assert (status, body["error"], body["owner"]) == (403, "not_yours", "rina-roles")
        assert (await _post(desk, BORIS, f"/api/conversations/{cid}/notes", {"text": "x"}))[0] == 403
        assert (await _get(desk, RINA, cid))[0] == 200
        assert (await _get(desk, SUE, cid))[0] == 200

        # A note on it reaches the supervisor's console, not Boris's.
        async with aiohttp.ClientSession() as sockets:
            boris_ws = await _agent_socket(sockets, desk, BORIS)
            sue_ws = await _agent_socket(sockets, desk, SUE)
            assert (await _post(desk, RINA, f"/api/conversations/{cid}/notes", {"text": "Erstattung prüfen"}))[0] == 200
            assert (await _note_event(sue_ws, cid, 10))["note"]["text"] == "Erstattung prüfen"
            with pytest.raises(asyncio.TimeoutError):
                await _note_event(boris_ws, cid, 1.5)

        # Closed by Rina: still hers to read, not Boris's.
        assert (await _post(desk, RINA, f"/api/handoff/{cid}/close", {"note": "erledigt"}))[0] == 200
        assert (await _get(desk, RINA, cid))[0] == 200
        status, body = await _get(desk, BORIS, cid)
        assert (status, body["error"]) == (403, "not_at_desk")
        assert (await _get(desk, SUE, cid))[0] == 200


async def test_reports_and_privacy_tools_are_for_supervisors_only(desk: Gateway) -> None:
    for path in ("/api/reports/alerts", "/api/privacy/log"):
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{desk.url}{path}", headers=bearer(RINA)) as response:
                assert (response.status, (await response.json())["error"]) == (403, "supervisor_only")
            async with session.get(f"{desk.url}{path}", headers=bearer(SUE)) as response:
                assert response.status == 200, path
