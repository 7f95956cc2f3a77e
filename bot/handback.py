"""The gateway's `BotHandback` (and the desk's `BotTrigger`): after an agent closed, Rasa gets the conversation back.

`POST {rasa}/conversations/{id}/trigger_intent?output_channel=collector` with the external
intent `EXTERNAL_handoff_closed` (entity `agent_id`); what Rasa answers (the rating question)
goes to the customer like any bot reply.
"""

from __future__ import annotations

import logging

from bot.channels.registry import Channels
from bot.rasa_client import RasaClient
from bot.router import Router

log = logging.getLogger(__name__)

HANDOFF_CLOSED = "EXTERNAL_handoff_closed"


class RasaHandback:
    def __init__(self, rasa: RasaClient, router: Router, channels: Channels) -> None:
        self._rasa = rasa
        self._router = router
        self._channels = channels

    async def hand_back(self, conversation_id: str, agent_id: str) -> None:
        await self.trigger(conversation_id, HANDOFF_CLOSED, {"agent_id": agent_id})

    async def trigger(self, conversation_id: str, intent: str, entities: dict[str, str]) -> None:
        """Any external intent (also the desk's `EXTERNAL_complaint_closed`); Rasa's replies go to the customer."""
        replies = await self._rasa.trigger_intent(conversation_id, intent, entities)
        log.info("external intent %s conversation=%s replies=%d", intent, conversation_id, len(replies))
        await self._router.dispatch(conversation_id, self._channels.family_of(conversation_id), replies)
