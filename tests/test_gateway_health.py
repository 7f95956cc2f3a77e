"""`/healthz` and `/metrics` of the gateway."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
import stack

from tests.gateway_helpers import (
    Gateway,
    WebchatClient,
    new_number,
    new_session_id,
    running_gateway,
    whatsapp_form,
)


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            return response.status, await response.text()


async def test_healthz_is_200_when_rasa_redis_and_the_database_answer(gateway: Gateway) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.url}/healthz") as response:
            assert response.status == 200
            assert await response.json() == {
                "status": "ok", "failed": [], "checks": {"rasa": "ok", "redis": "ok", "database": "ok"},
            }


async def test_healthz_is_503_naming_redis_when_redis_is_down(gateway: Gateway, service_logs: Path) -> None:
    redis = stack.start_redis(stack.free_port(), None, service_logs / "doomed-redis")
    try:
        async with running_gateway(replace(gateway.settings, redis_url=redis.url)) as doomed:
            assert (await _get(f"{doomed.url}/healthz"))[0] == 200
            redis.stop()
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{doomed.url}/healthz") as response:
                    assert response.status == 503
                    body = await response.json()
    finally:
        redis.stop()
    assert body["failed"] == ["redis"]
    assert body["checks"]["rasa"] == body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "failed"  # no error text (tests/test_trust_hardening.py)


async def test_healthz_is_503_naming_rasa_when_rasa_does_not_answer(gateway: Gateway) -> None:
    broken = replace(gateway.settings, rasa_url=f"http://127.0.0.1:{stack.free_port()}")
    async with running_gateway(broken) as sick:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{sick.url}/healthz") as response:
                assert response.status == 503
                body = await response.json()
    assert body["failed"] == ["rasa"]


async def test_metrics_count_messages_by_channel_and_time_the_bot(gateway: Gateway, twilio_standin: str) -> None:
    async with WebchatClient.connect(gateway.ws_url, new_session_id()) as chat:
        await chat.next("history")
        await chat.say("Wann habt ihr geöffnet?")
        await chat.messages_until_quiet()
        await chat.ws.send_str("{broken")
        await chat.next("error")
    assert (await gateway.webhook(whatsapp_form(new_number(), "Hallo"), signature="forged"))[0] == 403
    status, text = await _get(f"{gateway.url}/metrics")
    assert status == 200
    lines = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(lines['shopdesk_messages_in_total{channel="webchat"}']) >= 1
    assert float(lines['shopdesk_messages_out_total{channel="webchat",sender="bot"}']) >= 1
    assert float(lines['shopdesk_bot_reply_seconds_count{channel="webchat"}']) >= 1
    assert float(lines['shopdesk_bot_reply_seconds_sum{channel="webchat"}']) > 0
    assert float(lines['shopdesk_errors_total{kind="rejected_signature"}']) >= 1
    assert "# TYPE shopdesk_bot_reply_seconds histogram" in text


async def test_a_gateway_without_redis_refuses_to_start_and_names_the_setting(gateway: Gateway) -> None:
    dead = f"redis://127.0.0.1:{stack.free_port()}/0"
    with pytest.raises(RuntimeError, match=f"REDIS_URL={dead} is not reachable"):
        async with running_gateway(replace(gateway.settings, redis_url=dead)):
            pass
