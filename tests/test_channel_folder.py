"""A new channel is one folder and one registration line: a throw-away channel from
tests/fixtures/echo_channel/ gets the bot's answers, reaches the desk's queue, and privacy
export and erase find and erase its customer, with a real Rasa and nothing of the product edited."""

from __future__ import annotations

import secrets
from pathlib import Path

import aiohttp

from bot.channels.registry import FOLDERS
from bot.settings import Settings
from tests.fixtures import echo_channel as echo
from tests.gateway_helpers import (
    AGENT_TOKEN,
    eventually,
    running_gateway,
    transcript,
)
from tests.privacy_support import SUPERVISOR, privacy_env

AGENT = {"Authorization": f"Bearer {AGENT_TOKEN}"}


async def test_a_channel_from_a_fixture_folder_works_end_to_end_with_one_registration_line(
    redis_url: str, database_url: str, rasa_server: str, twilio_standin: str, rasa_tracker_db: Path,
) -> None:
    settings = Settings.from_env(privacy_env(redis_url, database_url, rasa_server, twilio_standin, rasa_tracker_db))
    user = "echo-" + secrets.token_hex(8)
    async with running_gateway(settings, folders=(*FOLDERS, echo.FOLDER)) as gateway, aiohttp.ClientSession() as http:
        async def say(text: str) -> str:
            async with http.post(f"{gateway.url}/echo/in", json={"user": user, "text": text}) as response:
                assert response.status == 200, await response.text()
                return str((await response.json())["conversation_id"])

        conversation = await say("Hallo")
        assert conversation.startswith(echo.ID_PREFIX)
        greeting = await echo.wait_for(conversation, 0)
        assert all(m.sender == "bot" for m in greeting) and any(m.text for m in greeting)

        await say("Ich möchte mit einem Mitarbeiter sprechen")

        async def queued() -> list[str]:
            async with http.get(f"{gateway.url}/api/handoff/queue", headers=AGENT) as response:
                assert response.status == 200, await response.text()
                return [entry["conversation_id"] for entry in (await response.json())["queue"]]
        await eventually(queued, lambda ids: conversation in ids)
        await eventually(lambda: echo.wait_for(conversation, 0), lambda sent: any("Warteschlange" in (m.text or "") for m in sent))

        async with http.get(f"{gateway.url}/api/privacy/export", params={"echo": user}, headers=SUPERVISOR) as response:
            assert response.status == 200, await response.text()
            document = await response.json()
        assert document["subject"] == {"kind": "echo"}
        [exported] = document["conversations"]
        assert exported["conversation_id"] == conversation and exported["channel"] == "echo"
        assert ("customer", "Hallo") in [(line["sender"], line["text"]) for line in exported["transcript"]]

        async with http.post(f"{gateway.url}/api/privacy/erase", json={"echo": user}, headers=SUPERVISOR) as response:
            assert response.status == 200, await response.text()
            assert (await response.json())["conversations"] == 1
        assert await transcript(database_url, conversation) == []
        assert conversation not in await queued()
