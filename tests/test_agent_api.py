"""The agent API: tokens, owner-only actions, WhatsApp window, close and hand back."""

from __future__ import annotations

import time

import aiohttp
import pytest
from sqlalchemy import select

from core.contract import ReplyWindow
from db.engine import create_engine, session_factory
from db.models import Agent, Handoff
from handoff.web.auth import InvalidAgentTokens, Role, hash_token, parse_agent_tokens, verify_token
from tests.handoff_support import AGENTS, desk_app, new_id, next_event


async def test_requests_without_or_with_a_wrong_token_get_401(redis_url, database_url):
    # Six wrong tokens in a row: more than the sign-in throttle lets through at once (tests/test_trust_roles.py).
    async with desk_app(redis_url, database_url, signin_free_failures=20) as h:
        cid = new_id()
        await h.handoff(cid)
        calls = [
            ("GET", "/api/handoff/queue", None),
            ("POST", f"/api/handoff/{cid}/claim", None),
            ("POST", f"/api/handoff/{cid}/messages", {"text": "hi"}),
            ("POST", f"/api/handoff/{cid}/release", None),
            ("POST", f"/api/handoff/{cid}/close", {"note": "x"}),
            ("GET", f"/api/conversations/{cid}", None),
        ]
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": f"Basic {h.agents['anna-desk']}"}):
            for method, path, body in calls:
                response = await h.client.request(method, path, json=body, headers=headers)
                assert response.status == 401, (method, path, headers)
                assert (await response.json())["error"] == "unauthorized"
        assert [e["conversation_id"] for e in (await h.queue())["queue"]] == [cid]  # nothing was claimed


async def test_agent_websocket_needs_a_token(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        response = await h.client.get("/agent/ws", headers={"Upgrade": "websocket", "Connection": "Upgrade",
                                                            "Sec-WebSocket-Version": "13",
                                                            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                            "Authorization": "Bearer wrong-" + "w" * 24})
        assert response.status == 401
        ws = await h.client.ws_connect("/agent/ws")
        await ws.send_json({"type": "auth", "token": "wrong"})
        message = await ws.receive(timeout=5)
        assert message.type == aiohttp.WSMsgType.CLOSE and message.data == 4401
        ws = await h.client.ws_connect("/agent/ws", headers=h.auth("ben-desk"))
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello" and hello["agent"] == "ben-desk"
        await ws.close()


async def test_accounts_are_stored_with_salted_hashes(redis_url, database_url):
    async with desk_app(redis_url, database_url):
        engine = create_engine(database_url)
        async with session_factory(engine)() as session:
            rows = {a.name: a.token_hash for a in (await session.scalars(
                select(Agent).where(Agent.name.in_(["anna-desk", "ben-desk", "cara-desk"]))
            )).all()}
        await engine.dispose()
    assert set(rows) == {"anna-desk", "ben-desk", "cara-desk"}
    assert all(h.startswith("scrypt$") and "anna-" not in h for h in rows.values())
    assert verify_token("anna-" + "a" * 32, rows["anna-desk"]) and not verify_token("anna-" + "a" * 31, rows["anna-desk"])
    assert hash_token("same") != hash_token("same")  # salted


async def test_an_agent_dropped_from_agent_tokens_can_no_longer_sign_in(redis_url, database_url):
    async with desk_app(redis_url, database_url):
        pass
    remaining = {name: token for name, token in AGENTS.items() if name != "ben-desk"}
    async with desk_app(redis_url, database_url, agents=remaining) as h:
        h.agents = AGENTS
        assert (await h.client.get("/api/handoff/queue", headers=h.auth("ben-desk"))).status == 401
        assert (await h.client.get("/api/handoff/queue", headers=h.auth("anna-desk"))).status == 200


async def test_queue_entry_reaches_the_agent_websocket_live(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        ws = await h.socket("anna-desk")
        cid = new_id()
        await h.handoff(cid, reason="complaint", summary="wrong size", language="en")
        event = await next_event(ws, lambda e: e["type"] == "added")
        entry = event["entry"]
        assert (entry["conversation_id"], entry["reason"], entry["summary"], entry["language"], entry["channel"],
                entry["position"]) == (cid, "complaint", "wrong size", "en", "webchat", 1)
        assert (await h.claim(cid, "ben-desk")).status == 200
        event = await next_event(ws, lambda e: e["type"] == "claimed")
        assert (event["conversation_id"], event["agent"]) == (cid, "ben-desk")


async def test_only_the_owner_may_write_release_or_close(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid)
        assert (await h.say(cid, "anna-desk", "too early")).status == 403
        assert (await h.claim(cid, "anna-desk")).status == 200
        response = await h.say(cid, "ben-desk", "Hi, Ben here")
        assert response.status == 403 and (await response.json())["owner"] == "anna-desk"
        for action in ("release", "close"):
            response = await h.client.post(f"/api/handoff/{cid}/{action}", headers=h.auth("ben-desk"), json={"note": "x"})
            assert response.status == 403
        assert h.delivery.texts(cid)[-1].startswith("Ein Mitarbeiter")  # nothing of Ben's went out


async def test_agent_message_goes_to_the_customer_with_the_agent_id(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.claimed(cid, "anna-desk")
        response = await h.say(cid, "anna-desk", "Hallo, hier ist Anna. Ich schaue mir das an.")
        assert response.status == 200
        _, sent = h.delivery.sent[-1]
        assert (sent.text, sent.sender, sent.agent_id) == ("Hallo, hier ist Anna. Ich schaue mir das an.", "agent", "anna-desk")
        view = await (await h.client.get(f"/api/conversations/{cid}", headers=h.auth("anna-desk"))).json()
        assert view["transcript"][-1] == {**view["transcript"][-1], "sender": "agent", "agent_id": "anna-desk"}
        assert (await h.say(cid, "anna-desk", "   ")).status == 400


async def test_a_message_outside_the_channels_reply_window_is_refused_with_its_reason(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id("wa-")
        await h.claimed(cid, "anna-desk")
        h.delivery.windows[cid] = ReplyWindow(open=True, until=time.time() + 24 * 3600)
        view = await (await h.client.get(f"/api/conversations/{cid}", headers=h.auth("anna-desk"))).json()
        assert 23.9 * 3600 < view["reply_window_seconds_left"] <= 24 * 3600
        # The channel says its window closed an hour ago, and it has no template.
        h.delivery.windows[cid] = ReplyWindow(open=False, until=time.time() - 3600, why="only within 24 hours")
        sent_before = len(h.delivery.sent)
        response = await h.say(cid, "anna-desk", "Are you still there?")
        assert response.status == 422
        body = await response.json()
        assert body["error"] == "reply_window_closed" and "24 hours" in body["detail"]
        assert len(h.delivery.sent) == sent_before
        view = await (await h.client.get(f"/api/conversations/{cid}", headers=h.auth("anna-desk"))).json()
        assert view["reply_window_seconds_left"] == 0
        # The window open again (the customer wrote): the message goes out.
        h.delivery.windows[cid] = ReplyWindow(open=True, until=time.time() + 24 * 3600)
        assert (await h.say(cid, "anna-desk", "Ja, ich bin da.")).status == 200


async def test_a_message_outside_the_window_is_sent_when_the_channel_has_a_template(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id("wa-")
        await h.claimed(cid, "anna-desk")
        h.delivery.windows[cid] = ReplyWindow(open=False, until=time.time() - 6 * 3600, fallback=True)
        response = await h.say(cid, "anna-desk", "Wir haben Ihr Paket gefunden.")
        assert response.status == 200 and (await response.json())["template"] is True
        _, sent = h.delivery.sent[-1]
        assert sent.text == "Wir haben Ihr Paket gefunden."


async def test_release_puts_the_conversation_back_in_the_queue(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.claimed(cid, "anna-desk")
        response = await h.client.post(f"/api/handoff/{cid}/release", headers=h.auth("anna-desk"))
        assert response.status == 200 and (await response.json())["position"] == 1
        assert h.delivery.texts(cid)[-1] == "Du bist jetzt Nummer 1 in der Warteschlange."
        assert (await h.claim(cid, "ben-desk")).status == 200


async def test_close_stores_the_note_and_hands_back_with_the_agent_id(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid, reason="complaint")
        assert (await h.claim(cid, "cara-desk")).status == 200
        response = await h.client.post(f"/api/handoff/{cid}/close", headers=h.auth("cara-desk"),
                                       json={"note": "Replacement sent, order 10042"})
        assert response.status == 200 and (await response.json()) == {"closed": True, "handed_back": True}
        assert h.handback.calls == [(cid, "cara-desk")]
        engine = create_engine(database_url)
        async with session_factory(engine)() as session:
            row = (await session.scalars(select(Handoff).where(Handoff.conversation_id == cid))).one()
        await engine.dispose()
        assert (row.agent_id, row.resolution_note, row.outcome) == ("cara-desk", "Replacement sent, order 10042", "closed")
        assert row.claimed_at is not None and row.closed_at is not None
        assert await h.customer(cid, "4") is False  # the rating answer goes to the bot again
        assert (await h.client.post(f"/api/handoff/{cid}/close", headers=h.auth("cara-desk"), json={})).status == 403


def test_agent_tokens_carry_an_optional_supervisor_role():
    accounts = parse_agent_tokens("anna:" + "a" * 24 + ", sven:" + "s" * 24 + ":supervisor")
    assert accounts == {"anna": ("a" * 24, Role.agent), "sven": ("s" * 24, Role.supervisor)}
    with pytest.raises(InvalidAgentTokens):
        parse_agent_tokens("sven::supervisor")


async def test_the_queue_tells_the_console_the_accounts_role(redis_url, database_url):
    agents = {**AGENTS, "sven-desk": "sven-" + "s" * 32}
    tokens = ",".join(f"{n}:{t}" + (":supervisor" if n == "sven-desk" else "") for n, t in agents.items())
    async with desk_app(redis_url, database_url, agents=agents, agent_tokens=tokens) as h:
        assert (await (await h.client.get("/api/handoff/queue", headers=h.auth("anna-desk"))).json())["role"] == "agent"
        assert (await (await h.client.get("/api/handoff/queue", headers=h.auth("sven-desk"))).json())["role"] == "supervisor"
