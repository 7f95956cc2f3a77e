"""Agents work complaints through the desk API; the customer hears the outcome in their channel
and language and is asked to rate how the complaint was handled. Through the whole gateway, Rasa
and the action server: WhatsApp through the Twilio stand-in, web chat through the widget's websocket."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
from sqlalchemy import select

from db.engine import create_engine, session_factory
from db.models import Complaint
from tests import gateway_helpers as gw

AGENT = {"Authorization": f"Bearer {gw.AGENT_TOKEN}"}
REFERENCE = re.compile(r"RK-\d{4}-[2-9A-Z]{5}")
STARS = [f'/give_rating{{"rating": {n}}}' for n in range(1, 6)]


async def complaint_of(database_url: str, conversation_id: str) -> Complaint:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return (await session.scalars(select(Complaint).where(Complaint.conversation_id == conversation_id))).one()
    finally:
        await engine.dispose()


async def set_status(gateway: gw.Gateway, reference: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(headers=AGENT) as agent:
        async with agent.post(f"{gateway.url}/api/complaints/{reference}", json=body) as response:
            return response.status, await response.json()


async def complaints_api(gateway: gw.Gateway, conversation_id: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession(headers=AGENT) as agent:
        async with agent.get(f"{gateway.url}/api/complaints", params={"conversation_id": conversation_id}) as response:
            assert response.status == 200, await response.text()
            return (await response.json())["complaints"]


async def test_an_agents_resolution_reaches_the_whatsapp_customer_who_then_rates_it(
    gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number()
    conversation = gw.whatsapp_id(number)
    status, _ = await gateway.webhook(gw.whatsapp_form(
        number, "Meine Bestellung AK-100005 ist nie angekommen, ich warte seit zwei Wochen darauf"))
    assert status == 200
    filed = await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda bodies: any(REFERENCE.search(b) for b in bodies))
    reference = next(REFERENCE.search(b).group(0) for b in filed if REFERENCE.search(b))  # type: ignore[union-attr]
    row = await complaint_of(database_url, conversation)
    assert (row.reference, row.order_number, row.category) == (reference, "AK-100005", "late_or_missing")

    assert (await set_status(gateway, reference, {"status": "in_progress"}))[0] == 200
    status, body = await set_status(gateway, reference, {"status": "resolved", "resolution": "Wir schicken dir die Bestellung neu."})
    assert status == 200, body
    bodies = await gw.eventually(lambda: gw.sent_to(twilio_standin, number),
                                 lambda bodies: any("Gib uns 1 bis 5 Sterne" in b for b in bodies))
    notice = next(b for b in bodies if "Neuigkeiten" in b)
    assert reference in notice and "erledigt" in notice and "Wir schicken dir die Bestellung neu." in notice
    assert "Reklamation" in bodies[-1]  # "… wie wir deine Reklamation bearbeitet haben?" with numbered stars

    status, _ = await gateway.webhook(gw.whatsapp_form(number, "5"))
    assert status == 200
    await gw.eventually(lambda: gw.sent_to(twilio_standin, number), lambda bodies: "Möchtest du noch etwas" in bodies[-1])
    await gateway.webhook(gw.whatsapp_form(number, "nein danke"))
    assert await gw.eventually(lambda: gw.feedback(database_url, conversation), lambda rows: bool(rows)) == [(5, "anna")]

    [view] = await complaints_api(gateway, conversation)
    assert (view["reference"], view["status"], view["resolution"]) == (reference, "resolved", "Wir schicken dir die Bestellung neu.")
    assert [(e["kind"], e["actor"], e["status"]) for e in view["timeline"]] == [
        ("created", "bot", None), ("status", "anna", "in_progress"), ("status", "anna", "resolved"), ("notice", "anna", None),
    ]
    assert all(e["at"] for e in view["timeline"])


async def _complaint_told(customer: gw.WebchatClient, complaint: str) -> str:
    """The reference the bot gives back for `complaint`, told by a customer who has just connected."""
    await customer.next("history")
    await customer.say(complaint)
    while not (found := REFERENCE.search((await customer.next("message"))["text"] or "")):
        pass
    return found.group(0)


async def test_the_widget_customer_hears_a_rejection_live_and_reads_it_on_the_next_visit(gateway: gw.Gateway) -> None:
    session_id = gw.new_session_id()
    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "en") as customer:
        reference = await _complaint_told(customer, "My order AK-100001 arrived and the handle of the mug was broken off")
        status, body = await set_status(gateway, reference, {"status": "rejected", "resolution": "The mug was a clearance item."})
        assert status == 200, body
        while "News about your complaint" not in ((frame := await customer.next("message"))["text"] or ""):
            pass
        assert reference in frame["text"] and "cannot uphold" in frame["text"] and "clearance item" in frame["text"]
        while not (frame := await customer.next("message"))["buttons"]:
            pass
        assert "handled your complaint" in frame["text"] and [b["payload"] for b in frame["buttons"]] == STARS

    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "en") as again:
        history = (await again.next("history"))["messages"]
    assert any("News about your complaint" in (m["text"] or "") for m in history)
    assert [b["payload"] for b in history[-1].get("buttons", [])] == STARS, "the rating is still on offer"


async def test_a_closed_complaint_keeps_its_state_and_bad_requests_are_refused(gateway: gw.Gateway) -> None:
    session_id = gw.new_session_id()
    async with gw.WebchatClient.connect(gateway.ws_url, session_id, "de") as customer:
        reference = await _complaint_told(customer, "Meine Bestellung AK-100002 kam an, aber die Flasche war zerbrochen und ausgelaufen")
    assert (await set_status(gateway, reference, {"status": "resolved"}))[1]["error"] == "bad_request"
    assert (await set_status(gateway, reference, {"status": "closed"}))[1]["error"] == "bad_request"
    assert (await set_status(gateway, "RK-2026-ZZZZZ", {"status": "in_progress"}))[0] == 404
    assert (await set_status(gateway, reference, {"status": "resolved", "resolution": "Gutschrift über 12 €"}))[0] == 200
    status, body = await set_status(gateway, reference, {"status": "in_progress"})
    assert (status, body["error"]) == (409, "invalid_transition")
    async with aiohttp.ClientSession() as anonymous:
        async with anonymous.get(f"{gateway.url}/api/complaints", params={"conversation_id": gw.webchat_id(session_id)}) as response:
            assert response.status == 401
