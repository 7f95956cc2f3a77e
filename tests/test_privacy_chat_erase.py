"""The customer's own erase on WhatsApp (through the Twilio stand-in, Rasa and the action server):
"Daten löschen" explains and asks, "1" / "ja" erases everywhere and confirms; "no" keeps everything."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
from sqlalchemy import select

from db.engine import create_engine, session_factory
from db.models import PrivacyLog
from tests import gateway_helpers as gw
from tests.privacy_support import (
    SUPERVISOR,
    redis_traces,
    sql_traces,
)


async def say(gateway: gw.Gateway, number: str, text: str) -> None:
    status, _ = await gateway.webhook(gw.whatsapp_form(number, text))
    assert status == 200


async def say_and_wait(gateway: gw.Gateway, twilio: str, number: str, text: str) -> list[str]:
    before = len(await gw.sent_to(twilio, number))
    await say(gateway, number, text)
    await gw.inbox_worked(gateway, gw.whatsapp_id(number))
    return (await gw.sent_to(twilio, number))[before:]


async def test_daten_loeschen_on_whatsapp_explains_asks_erases_and_confirms(
    privacy_gateway: gw.Gateway, twilio_standin: str, database_url: str, redis_url: str, rasa_tracker_db: Path,
) -> None:
    number = gw.new_number("+49")
    conversation = gw.whatsapp_id(number)
    question = "Wie lange dauert der Versand nach Deutschland?"
    await say_and_wait(privacy_gateway, twilio_standin, number, question)

    [asked] = await say_and_wait(privacy_gateway, twilio_standin, number, "Daten löschen")
    assert "endgültig löschen" in asked and "Soll ich alles löschen?" in asked
    assert "1) Ja, alles löschen" in asked and "2) Nein, behalten" in asked

    [confirmed] = await say_and_wait(privacy_gateway, twilio_standin, number, "1")
    assert confirmed.startswith("Erledigt")

    async def gone() -> list[str]:
        return (await sql_traces(database_url, [number.removeprefix("whatsapp:"), conversation, question])
                + await sql_traces(f"sqlite:///{rasa_tracker_db}", [conversation, question], tracker=True)
                + await redis_traces(redis_url, [number.removeprefix("whatsapp:"), conversation, question]))
    assert await gw.eventually(gone, lambda traces: traces == []) == []

    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            entry = (await session.scalars(select(PrivacyLog).order_by(PrivacyLog.id.desc()))).first()
    finally:
        await engine.dispose()
    assert entry is not None and (entry.action, entry.actor, entry.subject_kind) == ("erase", "customer", "whatsapp")
    assert json.loads(entry.counts)["sql.messages"] >= 6

    # Writing again starts a new conversation with the bot.
    again = await say_and_wait(privacy_gateway, twilio_standin, number, "Hallo")
    assert again


async def test_delete_my_data_answered_no_keeps_everything(
    privacy_gateway: gw.Gateway, twilio_standin: str, database_url: str,
) -> None:
    number = gw.new_number("+44")
    conversation = gw.whatsapp_id(number)
    [asked] = await say_and_wait(privacy_gateway, twilio_standin, number, "Please delete my data")
    assert "Shall I erase everything?" in asked and "1) Yes, erase everything" in asked
    [kept] = await say_and_wait(privacy_gateway, twilio_standin, number, "no")
    assert "haven't erased anything" in kept
    lines = await gw.transcript(database_url, conversation)
    assert ("customer", "Please delete my data") in lines
    async with aiohttp.ClientSession(headers=SUPERVISOR) as supervisor:
        async with supervisor.get(f"{privacy_gateway.url}/api/privacy/export", params={"whatsapp": number}) as response:
            document = await response.json()
    assert document["contacts"][0]["address"] == number.removeprefix("whatsapp:")
