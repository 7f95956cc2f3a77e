"""Failures: a dropped agent socket, a gateway restart, Redis going away."""

from __future__ import annotations

import asyncio

import pytest
import stack  # scripts/ is on sys.path through tests/conftest.py

from core.contract import DeskUnavailable, Inbound
from tests.handoff_support import desk_app, new_id, next_event


async def test_after_the_grace_period_a_dropped_agents_conversation_is_back_at_the_front(redis_url, database_url):
    async with desk_app(redis_url, database_url, agent_grace_seconds=2) as h:
        waiting_long, dropped = new_id(), new_id()
        await h.handoff(waiting_long, reason="complaint", priority=2)
        await h.handoff(dropped, reason="customer_request")
        ws = await h.socket("anna-desk")
        assert (await h.claim(dropped, "anna-desk")).status == 200
        watcher = await h.socket("ben-desk")
        await ws.close()
        h.sockets.remove(ws)
        # Within the grace period it stays Anna's, also through a look of the sweeper.
        await h.desk.sweeper.sweep_once()
        assert [c["conversation_id"] for c in (await h.desk.views.snapshot("anna-desk"))["mine"]] == [dropped]
        event = await next_event(watcher, lambda e: e["type"] == "released", timeout=15)
        assert event["entry"]["conversation_id"] == dropped
        queue = (await h.queue("ben-desk"))["queue"]
        assert [e["conversation_id"] for e in queue] == [dropped, waiting_long]
        await h.delivery.wait_for(dropped, "Du bist wieder ganz vorn in der Warteschlange")
        assert (await h.claim(dropped, "ben-desk")).status == 200


async def test_an_agent_with_an_open_socket_keeps_the_conversation(redis_url, database_url):
    async with desk_app(redis_url, database_url, agent_grace_seconds=0.4) as h:
        cid = new_id()
        await h.handoff(cid)
        await h.socket("anna-desk")
        assert (await h.claim(cid, "anna-desk")).status == 200
        await asyncio.sleep(1.2)
        assert [c["conversation_id"] for c in (await h.desk.views.snapshot("anna-desk"))["mine"]] == [cid]


async def test_a_new_app_instance_on_the_same_redis_continues_a_live_conversation(redis_url, database_url):
    cid = new_id()
    async with desk_app(redis_url, database_url) as first:
        await first.handoff(cid, reason="complaint", summary="Lampe kaputt")
        assert (await first.claim(cid, "anna-desk")).status == 200
        assert (await first.say(cid, "anna-desk", "Hallo, hier ist Anna.")).status == 200
    async with desk_app(redis_url, database_url, flush=False) as second:
        ws = await second.socket("anna-desk")
        assert await second.customer(cid, "Die Lampe flackert nur.") is True
        event = await next_event(ws, lambda e: e["type"] == "message")
        assert event["text"] == "Die Lampe flackert nur." and event["conversation_id"] == cid
        view = await (await second.client.get(f"/api/conversations/{cid}", headers=second.auth("anna-desk"))).json()
        assert view["state"] == "agent" and view["card"]["agent"] == "anna-desk"
        assert [m["text"] for m in view["transcript"]][-2:] == ["Hallo, hier ist Anna.", "Die Lampe flackert nur."]
        assert (await second.say(cid, "anna-desk", "Danke, ich schicke eine neue.")).status == 200
        response = await second.client.post(f"/api/handoff/{cid}/close", headers=second.auth("anna-desk"), json={"note": "ok"})
        assert response.status == 200 and second.handback.calls == [(cid, "anna-desk")]


async def test_two_app_instances_share_events_through_redis(redis_url, database_url):
    async with desk_app(redis_url, database_url) as first, desk_app(redis_url, database_url, flush=False) as second:
        ws = await second.socket("ben-desk")
        cid = new_id()
        await first.handoff(cid, language="en")
        event = await next_event(ws, lambda e: e["type"] == "added")
        assert event["entry"]["conversation_id"] == cid
        responses = await asyncio.gather(first.claim(cid, "anna-desk"), second.claim(cid, "ben-desk"))
        assert sorted(r.status for r in responses) == [200, 409]


@pytest.fixture
def lonely_redis(service_logs):
    service = stack.start_redis(stack.free_port(), None, service_logs)
    yield service
    service.stop()


async def test_without_redis_the_api_answers_503_and_the_desk_raises(lonely_redis, database_url):
    async with desk_app(lonely_redis.url, database_url) as h:
        cid = new_id()
        await h.handoff(cid)
        lonely_redis.stop()
        response = await h.client.get("/api/handoff/queue", headers=h.auth("anna-desk"))
        assert response.status == 503
        body = await response.json()
        assert body["error"] == "redis_unavailable" and "Redis is not reachable" in body["detail"]
        assert (await h.claim(cid, "anna-desk")).status == 503
        with pytest.raises(DeskUnavailable):
            await h.desk.takes_message(Inbound(cid, "webchat", "hallo?"))
