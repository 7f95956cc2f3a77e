"""A web chat message the gateway cannot take is not lost: no ack, the socket closes, and the
widget's resend of the same client_id is taken (not waved through as a duplicate).

The failure is real: the gateway's own Redis refuses RPUSH (an ACL), so the message is seen but
cannot join the conversation's inbox.
"""

from __future__ import annotations

from pathlib import Path

import stack
from aiohttp import WSMsgType
from redis.asyncio import Redis

from bot.settings import Settings
from tests import gateway_helpers as gw

QUESTION = "Was kostet der Versand nach Österreich?"


async def test_a_message_not_taken_is_taken_when_the_widget_sends_it_again(
    rasa_server: str, twilio_standin: str, own_database: tuple[str, Path], service_logs: Path,
) -> None:
    url, _ = own_database
    own_redis = stack.start_redis(stack.free_port(), None, service_logs)
    admin = Redis.from_url(own_redis.url)
    try:
        settings = Settings.from_env(gw.gateway_env(own_redis.url, url, rasa_server, twilio_standin))
        session_id = gw.new_session_id()
        conversation = gw.webchat_id(session_id)
        async with gw.running_gateway(settings) as gateway:
            async with gw.WebchatClient.connect(gateway.ws_url, session_id) as chat:
                await chat.next("history")
                await admin.execute_command("ACL", "SETUSER", "default", "-rpush")
                await chat.say(QUESTION, client_id="kept-1")
                closing = await chat.ws.receive(timeout=10)
                assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED), closing
                assert chat.ws.close_code == 1011
                assert not [f for f in chat.frames if f.get("type") == "ack"]
            await admin.execute_command("ACL", "SETUSER", "default", "+rpush")

            # The widget reconnects and sends what is still pending, with the same client_id.
            async with gw.WebchatClient.connect(gateway.ws_url, session_id) as chat:
                await chat.next("history")
                await chat.say(QUESTION, client_id="kept-1")
                ack = await chat.next("ack")
                assert ack == {"type": "ack", "client_id": "kept-1"}
                answer = await chat.next("message", timeout=60)
                assert "Österreich" in answer["text"], answer
        rows = await gw.transcript(url, conversation)
        assert [text for sender, text in rows if sender == "customer"] == [QUESTION]
        assert await gw.rasa_heard(rasa_server, conversation, QUESTION) == 1
    finally:
        await admin.aclose()
        own_redis.stop()
