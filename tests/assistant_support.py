"""Talking to the real assistant as the gateway does: one customer's conversation over Rasa's REST
channel, and readers of what the bot answered."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

STAR_PAYLOADS = [f'/give_rating{{"rating": {n}}}' for n in range(1, 6)]


class Chat:
    """One customer's conversation over the REST channel."""

    def __init__(self, rasa_url: str, language: str | None = "de", channel: str = "webchat") -> None:
        self.rasa_url = rasa_url
        self.sender = f"test-{channel}-{uuid.uuid4().hex[:10]}"
        # As the gateway sends it: WhatsApp carries photos, the widget does not (yet).
        self.metadata: dict[str, Any] = {"channel": channel, "language": language, "accepts_media": channel == "whatsapp"}

    async def say(self, text: str, media: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
        metadata = {**self.metadata, **({"media": media} if media else {})}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.rasa_url}/webhooks/rest/webhook",
                                 json={"sender": self.sender, "message": text, "metadata": metadata}) as response:
                assert response.status == 200, await response.text()
                return await response.json()

    async def agent_closed(self, agent_id: str) -> list[dict[str, Any]]:
        """What the gateway does when an agent closes: the external intent, replies collected."""
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.rasa_url}/conversations/{self.sender}/trigger_intent?output_channel=collector",
                json={"name": "EXTERNAL_handoff_closed", "entities": {"agent_id": agent_id}},
            ) as response:
                assert response.status == 200, await response.text()
                return (await response.json())["messages"]


def text_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def handoff_of(replies: list[dict[str, Any]]) -> dict[str, Any]:
    payloads = [r["custom"]["handoff"] for r in replies if isinstance(r.get("custom"), dict) and "handoff" in r["custom"]]
    assert len(payloads) == 1, f"expected one handoff payload in {json.dumps(replies, ensure_ascii=False)}"
    return payloads[0]


def is_rating_question(replies: list[dict[str, Any]]) -> bool:
    return any([b["payload"] for b in r.get("buttons") or []] == STAR_PAYLOADS for r in replies)
