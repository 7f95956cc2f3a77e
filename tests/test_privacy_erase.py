"""Erase one customer everywhere (GDPR Art. 17), export another intact (Art. 15), through the real
gateway, Rasa, the action server, the desk, Redis and both databases; `make erase` is the script."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import aiohttp
from redis.asyncio import Redis
from sqlalchemy import func, select

from bot import keys as gateway_keys
from core.attachments import AttachmentStore
from db.engine import create_engine, session_factory
from db.models import Complaint, Feedback, Handoff
from tests import gateway_helpers as gw
from tests.privacy_support import (
    AGENT,
    SUPERVISOR,
    privacy_cli,
    redis_traces,
    sql_traces,
    tracker_rows,
)

# Words of this test alone: other tests' customers say similar things, and the scan after the
# erase looks for these in every table of the shared database.
RUN = secrets.token_hex(3)
OPENER = "I have a complaint about my invoice, please help"
COMPLAINT = f"You charged me twice for the same order, see statement line {RUN}"
AFTER_CLAIM = f"Thank you, how long will it take for the money? ({RUN})"
COMMENT = f"Quick and friendly, thanks Anna {RUN}"
NOTE = f"Refund issued to the customer's card {RUN}"
AGENT_LINE = "Hello, this is Anna. I'll refund the double charge."
# The smallest PNG (1×1 pixel): a photo the customer sent.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


async def say(gateway: gw.Gateway, number: str, text: str) -> None:
    status, _ = await gateway.webhook(gw.whatsapp_form(number, text))
    assert status == 200


async def report_figures(database_url: str) -> tuple[int, float, list[tuple[str, str, int]], list[tuple[str, int]]]:
    """What the reports read: ratings (count, average), complaints per category and status,
    handoffs per reason."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            count, average = (await session.execute(
                select(func.count(Feedback.rating), func.avg(Feedback.rating)))).one()
            categories = (await session.execute(
                select(Complaint.category, Complaint.status, func.count()).group_by(Complaint.category, Complaint.status)
                .order_by(Complaint.category, Complaint.status))).all()
            reasons = (await session.execute(
                select(Handoff.reason, func.count()).group_by(Handoff.reason).order_by(Handoff.reason))).all()
    finally:
        await engine.dispose()
    return int(count), float(average or 0), [tuple(r) for r in categories], [tuple(r) for r in reasons]  # type: ignore[misc]


async def whatsapp_complaint_handoff_and_rating(gateway: gw.Gateway, twilio: str, database_url: str, number: str) -> str:
    conversation = gw.whatsapp_id(number)
    async with aiohttp.ClientSession(headers=AGENT) as agent:
        await say(gateway, number, OPENER)
        await gw.eventually(lambda: gw.sent_to(twilio, number), lambda bodies: len(bodies) >= 1)
        await say(gateway, number, "AK-123456")
        await gw.eventually(lambda: gw.sent_to(twilio, number), lambda bodies: len(bodies) >= 2)
        await say(gateway, number, COMPLAINT)
        await gw.eventually(lambda: gw.sent_to(twilio, number), lambda bodies: any(re.search(r"number \d+", b) for b in bodies))
        await gw.agent_claims_and_says(agent, gateway.url, conversation, AGENT_LINE)
        await say(gateway, number, AFTER_CLAIM)
        await gw.eventually(lambda: _transcript_has(gateway, conversation, AFTER_CLAIM), bool)
        before = len(await gw.sent_to(twilio, number))
        async with agent.post(f"{gateway.url}/api/handoff/{conversation}/close", json={"note": NOTE}) as response:
            assert response.status == 200, await response.text()
        await gw.eventually(lambda: gw.sent_to(twilio, number), lambda bodies: len(bodies) > before)
        before = len(await gw.sent_to(twilio, number))
        await say(gateway, number, "4")
        await gw.eventually(lambda: gw.sent_to(twilio, number), lambda bodies: len(bodies) > before)
        before = len(await gw.sent_to(twilio, number))
        await say(gateway, number, COMMENT)
        await gw.eventually(lambda: gw.feedback(database_url, conversation), bool)
        await gw.eventually(lambda: gw.sent_to(twilio, number), lambda bodies: len(bodies) > before)
    return conversation


async def _transcript_has(gateway: gw.Gateway, conversation: str, text: str) -> bool:
    async with aiohttp.ClientSession(headers=AGENT) as agent:
        async with agent.get(f"{gateway.url}/api/conversations/{conversation}") as response:
            view = await response.json()
    return text in [m["text"] for m in view["transcript"]]


async def test_make_erase_leaves_no_trace_of_a_whatsapp_customer_and_keeps_the_figures(
    privacy_gateway: gw.Gateway, twilio_standin: str, database_url: str, redis_url: str, rasa_tracker_db: Path,
    tmp_path: Path,
) -> None:
    gateway = privacy_gateway
    number = gw.new_number("+44")
    conversation = await whatsapp_complaint_handoff_and_rating(gateway, twilio_standin, database_url, number)
    other = gw.new_number("+49")
    other_conversation = gw.whatsapp_id(other)
    await say(gateway, other, "Wie lange dauert der Versand nach Österreich?")
    await gw.eventually(lambda: gw.sent_to(twilio_standin, other), bool)
    await gw.eventually(lambda: tracker_rows(rasa_tracker_db, other_conversation), bool)

    exported = privacy_cli("export", "whatsapp", number.removeprefix("whatsapp:"), redis_url, database_url,
                           rasa_tracker_db, tmp_path)
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    assert document["contacts"][0]["address"] == number.removeprefix("whatsapp:")
    [conv] = document["conversations"]
    texts = [(line["sender"], line["text"]) for line in conv["transcript"]]
    assert ("customer", COMPLAINT) in texts and ("agent", AGENT_LINE) in texts
    assert all(line["at"] for line in conv["transcript"])
    assert conv["complaints"][0]["description"] and conv["complaints"][0]["category"] == "billing"
    assert [(r["rating"], r["comment"], r["agent"]) for r in conv["ratings"]] == [(4, COMMENT, "anna")]
    [handoff] = conv["handoffs"]
    assert (handoff["agent"], handoff["note"], handoff["reason"]) == ("anna", NOTE, "billing_complaint")
    assert handoff["queued_at"] and handoff["claimed_at"] and handoff["closed_at"]
    assert any(e.get("text") == COMPLAINT for e in conv["assistant_events"])

    customer_texts = [COMPLAINT, AFTER_CLAIM, COMMENT, NOTE, OPENER]
    needles = [number.removeprefix("whatsapp:"), conversation, *customer_texts]
    assert await sql_traces(database_url, needles), "the conversation should be there before the erase"
    figures = await report_figures(database_url)
    # A bot reply the channel could not send (the router records it so: bot/router.py).
    admin = Redis.from_url(redis_url, decode_responses=True)
    await admin.rpush(gateway_keys.NOT_SENT, json.dumps({"conversation_id": conversation, "reason": "WindowClosed",
                                                         "kind": "rating", "messages": 1, "at": time.time()}))
    await admin.aclose()

    erased = privacy_cli("erase", "whatsapp", number.removeprefix("whatsapp:"), redis_url, database_url,
                         rasa_tracker_db, tmp_path)
    assert erased.returncode == 0, erased.stderr
    line = erased.stdout.strip()
    assert line.startswith("erased conversations=1 ") and "\n" not in line
    counts = dict(part.split("=") for part in line.removeprefix("erased ").split())
    assert int(counts["sql.messages"]) >= 10 and int(counts["tracker.events"]) > 0
    assert (counts["sql.contacts"], counts["sql.feedback"], counts["sql.handoffs"], counts["sql.complaints"]) == ("1",) * 4
    assert counts["redis.not_sent"] == "1"
    assert number.removeprefix("whatsapp:") not in erased.stdout + erased.stderr

    assert await sql_traces(database_url, needles) == []
    assert await sql_traces(f"sqlite:///{rasa_tracker_db}", needles, tracker=True) == []
    assert await redis_traces(redis_url, needles) == []
    assert await report_figures(database_url) == figures

    again = privacy_cli("erase", "whatsapp", number.removeprefix("whatsapp:"), redis_url, database_url,
                        rasa_tracker_db, tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "erased conversations=1"

    kept = privacy_cli("export", "conversation", other_conversation, redis_url, database_url, rasa_tracker_db, tmp_path)
    assert kept.returncode == 0, kept.stderr
    [other_conv] = json.loads(kept.stdout)["conversations"]
    assert ("customer", "Wie lange dauert der Versand nach Österreich?") in [
        (m["sender"], m["text"]) for m in other_conv["transcript"]]
    assert other_conv["assistant_events"]


async def test_supervisor_erases_a_conversation_live_with_an_agent_and_the_agent_hears_why(
    privacy_gateway: gw.Gateway, database_url: str,
) -> None:
    gateway = privacy_gateway
    session_id = gw.new_session_id()
    conversation = gw.webchat_id(session_id)
    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "de") as customer, \
            aiohttp.ClientSession(headers=AGENT) as agent:
        await customer.next("history")
        await customer.say("Ich möchte mit einem Mitarbeiter sprechen")
        async with agent.ws_connect(gateway.url.replace("http", "ws") + "/agent/ws") as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"

            async def queued() -> bool:
                async with agent.get(f"{gateway.url}/api/handoff/queue") as response:
                    return conversation in [e["conversation_id"] for e in (await response.json())["queue"]]
            await gw.eventually(queued, bool)
            async with agent.post(f"{gateway.url}/api/handoff/{conversation}/claim") as response:
                assert response.status == 200, await response.text()

            photo = await AttachmentStore.from_config(gateway.settings).save(PNG, "photo.png", conversation)
            async with aiohttp.ClientSession(headers=SUPERVISOR) as supervisor:
                async with supervisor.post(f"{gateway.url}/api/privacy/erase", json={"webchat": session_id}) as response:
                    assert response.status == 200, await response.text()
                    result = await response.json()
            assert result["conversations"] == 1 and result["counts"]["desk.closed"] == 1
            assert result["counts"]["files.attachments"] == 1
            assert AttachmentStore.from_config(gateway.settings).find(photo.token) is None
            while True:
                event = await ws.receive_json(timeout=10)
                if event.get("type") == "closed" and event.get("conversation_id") == conversation:
                    break
            assert event["why"] == "erased" and "erased" in event["detail"]
            async with agent.get(f"{gateway.url}/api/handoff/queue") as response:
                assert conversation not in [c["conversation_id"] for c in (await response.json())["mine"]]
    assert await sql_traces(database_url, [conversation, session_id]) == []
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            outcomes = (await session.scalars(select(Handoff.outcome).where(Handoff.outcome == "erased"))).all()
    finally:
        await engine.dispose()
    assert outcomes


async def test_agents_get_403_and_supervisors_see_the_audit_log_without_personal_data(privacy_gateway: gw.Gateway) -> None:
    number = gw.new_number()
    async with aiohttp.ClientSession(headers=AGENT) as agent:
        async with agent.get(f"{privacy_gateway.url}/api/privacy/export", params={"whatsapp": number}) as response:
            assert response.status == 403
            assert (await response.json())["error"] == "supervisor_only"
        async with agent.post(f"{privacy_gateway.url}/api/privacy/erase", json={"whatsapp": number}) as response:
            assert response.status == 403
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.post(f"{privacy_gateway.url}/api/privacy/erase", json={"whatsapp": number}) as response:
            assert response.status == 401
    async with aiohttp.ClientSession(headers=SUPERVISOR) as supervisor:
        async with supervisor.get(f"{privacy_gateway.url}/api/privacy/export", params={"whatsapp": number}) as response:
            assert response.status == 200
            assert (await response.json())["conversations"][0]["transcript"] == []
        async with supervisor.get(f"{privacy_gateway.url}/api/privacy/export", params={"whatsapp": "12", "webchat": "x"}) as response:
            assert response.status == 400
        async with supervisor.get(f"{privacy_gateway.url}/api/privacy/log") as response:
            entries = (await response.json())["entries"]
    assert entries[0]["action"] == "export" and entries[0]["actor"] == "sue" and entries[0]["subject_kind"] == "whatsapp"
    assert number.removeprefix("whatsapp:") not in json.dumps(entries)
