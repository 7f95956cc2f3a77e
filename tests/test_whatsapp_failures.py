"""WhatsApp under failure: a webhook that fails is processed when Twilio retries it, and a send
that fails transiently reaches the customer once; a refused send (4xx) is not tried again.

The failures are real: the gateway's own SQLite database refuses new contacts (a trigger that
aborts), and the Twilio stand-in answers 503 / 429 / 400 when told to.
"""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings
from tests.gateway_helpers import (
    eventually,
    gateway_env,
    inbox_worked,
    inserts_fail,
    messages_to,
    new_number,
    running_gateway,
    sent_to,
    standin_failures,
    transcript,
    whatsapp_form,
    whatsapp_id,
)


async def test_a_webhook_that_failed_is_processed_when_twilio_retries_it(
    redis_url: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, path = own_database
    settings = Settings.from_env(gateway_env(redis_url, url, rasa_server, twilio_standin))
    number = new_number()
    form = whatsapp_form(number, "Hallo")
    async with running_gateway(settings) as gateway:
        with inserts_fail(path, "contacts"):
            status, _ = await gateway.webhook(form)
            assert status == 500  # Twilio retries on a 5xx

        # Twilio's retry: the same MessageSid, now taken and answered.
        assert (await gateway.webhook(form))[0] == 200
        replies = await eventually(lambda: sent_to(twilio_standin, number), bool)
        # A further duplicate is still dropped.
        assert (await gateway.webhook(form))[0] == 200
        await inbox_worked(gateway, whatsapp_id(number))
        assert await sent_to(twilio_standin, number) == replies
        rows = await transcript(url, whatsapp_id(number))
        assert rows.count(("customer", "Hallo")) == 1


async def test_a_send_that_fails_transiently_arrives_once(
    redis_url: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    settings = Settings.from_env(gateway_env(redis_url, url, rasa_server, twilio_standin, WHATSAPP_SEND_ATTEMPTS="4"))
    unavailable, rate_limited = new_number(), new_number()
    async with running_gateway(settings) as gateway:
        await standin_failures(twilio_standin, unavailable, count=2, status=503, code=20503)
        await standin_failures(twilio_standin, rate_limited, count=1, status=429, code=20429)
        for number in (unavailable, rate_limited):
            assert (await gateway.webhook(whatsapp_form(number, "Was kostet der Versand nach Österreich?")))[0] == 200
        for number, failed in ((unavailable, 2), (rate_limited, 1)):
            await inbox_worked(gateway, whatsapp_id(number))  # every retry of every reply done
            sent = await sent_to(twilio_standin, number)
            assert "Versand" in " ".join(sent)
            assert (await standin_failures(twilio_standin, number)) == {"remaining": 0, "failed": failed}
            # Each reply once: one send per bot line of the transcript, in its order.
            bot = [text for sender, text in await transcript(url, whatsapp_id(number)) if sender == "bot"]
            assert len(bot) == len(sent) and all(line in body for line, body in zip(bot, sent, strict=True))


async def test_a_refused_send_is_not_tried_again(
    redis_url: str, rasa_server: str, twilio_standin: str, own_database: tuple[str, Path],
) -> None:
    url, _ = own_database
    settings = Settings.from_env(gateway_env(redis_url, url, rasa_server, twilio_standin, WHATSAPP_SEND_ATTEMPTS="4"))
    number = new_number()
    async with running_gateway(settings) as gateway:
        # Two failures are asked for; a sender that retried a 400 would use up the second.
        await standin_failures(twilio_standin, number, count=2, status=400, code=21211)
        assert (await gateway.webhook(whatsapp_form(number, "Hallo")))[0] == 200
        await inbox_worked(gateway, whatsapp_id(number))
        assert (await standin_failures(twilio_standin, number)) == {"remaining": 1, "failed": 1}
        assert await messages_to(twilio_standin, number) == []
