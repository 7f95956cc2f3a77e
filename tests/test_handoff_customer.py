"""What the customer hears and can do while waiting for a person."""

from __future__ import annotations

import datetime as dt

from handoff.queue import keys
from tests.handoff_support import desk_app, new_id, next_event


async def test_customer_hears_queue_position_and_no_estimate_without_history(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        first, second = new_id(), new_id()
        await h.handoff(first, language="en")
        await h.handoff(second, language="de")
        assert h.delivery.texts(first) == [
            "A member of our team will take over. You are number 1 in the queue. We'll be with you as soon as we can."
        ]
        assert h.delivery.texts(second) == [
            "Ein Mitarbeiter übernimmt gleich. Du bist Nummer 2 in der Warteschlange. "
            "Wir melden uns so schnell wie möglich."
        ]


async def test_wait_estimate_comes_from_recent_pickups(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        # Recent pickups: 60, 120 and 180 s per queue place → median 120 s per place.
        await h.redis.lpush(keys.WAITS, "60", "120", "180")
        ahead, cid = new_id(), new_id()
        await h.handoff(ahead, language="en")
        await h.handoff(cid, language="en")
        assert "You are number 2 in the queue. Estimated wait: about 4 minutes." in h.delivery.texts(cid)[0]
        assert "Estimated wait: about 2 minutes." in h.delivery.texts(ahead)[0]


async def test_a_claim_records_the_wait_for_later_estimates(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid)
        # Queued two minutes ago, as if the customer had waited that long.
        queued_at = float(await h.redis.hget(keys.conversation(cid), "queued_at"))
        await h.redis.hset(keys.conversation(cid), "queued_at", queued_at - 120)
        assert (await h.claim(cid, "anna-desk")).status == 200
        waits = [float(w) for w in await h.redis.lrange(keys.WAITS, 0, -1)]
        assert len(waits) == 1 and 120 <= waits[0] < 180


async def test_outside_business_hours_the_customer_hears_when_agents_are_back(redis_url, database_url):
    # Open only for half an hour about twelve hours from now: closed at this moment, whatever the time.
    opens = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=12)).replace(minute=0, second=0, microsecond=0)
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[opens.weekday()]
    hours = f"{day} {opens:%H}:00-{opens:%H}:30 UTC"
    async with desk_app(redis_url, database_url, business_hours=hours) as h:
        en, de = new_id(), new_id()
        await h.handoff(en, language="en")
        await h.handoff(de, language="de")
        text_en = h.delivery.texts(en)[0]
        half = "am" if opens.hour < 12 else "pm"
        clock_en = "midnight" if opens.hour == 0 else f"{opens.hour % 12 or 12} {half}"
        until_en = f"{opens.hour % 12 or 12}:30 {half}"
        when_en = "today" if opens.date() == dt.datetime.now(dt.UTC).date() else "tomorrow"
        assert f"Our team is away right now ({day} {clock_en}–{until_en}, UTC time)" in text_en, text_en
        assert f"We're back {when_en} at {clock_en}." in text_en, text_en
        text_de = h.delivery.texts(de)[0]
        day_de = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")[opens.weekday()]
        when_de = "heute" if when_en == "today" else "morgen"
        assert f"Unser Team ist gerade nicht da ({day_de} {opens.hour}–{opens.hour}:30 Uhr, Zeitzone UTC)" in text_de, text_de
        assert f"Wir sind {when_de} um {opens.hour} Uhr wieder für dich da" in text_de, text_de
        # Still queued, and what they leave is kept for the agent.
        assert [e["conversation_id"] for e in (await h.queue())["queue"]] == [en, de]
        assert await h.customer(en, "My parcel never arrived, order 12345.", "en") is True
        assert "your message is saved" in h.delivery.texts(en)[-1]
        view = await (await h.client.get(f"/api/conversations/{en}", headers=h.auth("anna-desk"))).json()
        assert view["card"]["out_of_hours"] is True
        assert "My parcel never arrived, order 12345." in [m["text"] for m in view["transcript"]]


async def test_messages_written_while_queued_reach_the_agent_not_the_bot(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        assert await h.customer(cid, "Hallo") is False  # with the bot: the router sends it to Rasa
        await h.handoff(cid, reason="complaint", summary="Paket beschädigt", order_number="10042")
        ws = await h.socket("anna-desk")
        assert await h.customer(cid, "Das Paket war nass.") is True
        event = await next_event(ws, lambda e: e["type"] == "message")
        assert event["conversation_id"] == cid and event["sender"] == "customer"
        assert event["text"] == "Das Paket war nass."
        assert (await h.claim(cid, "anna-desk")).status == 200
        assert await h.customer(cid, "Sind Sie da?") is True
        event = await next_event(ws, lambda e: e["type"] == "message")
        assert event["text"] == "Sind Sie da?"
        view = await (await h.client.get(f"/api/conversations/{cid}", headers=h.auth("anna-desk"))).json()
        assert [m["text"] for m in view["transcript"] if m["sender"] == "customer"] == [
            "Hallo", "Das Paket war nass.", "Sind Sie da?",
        ]
        assert view["card"]["order_number"] == "10042" and view["card"]["summary"] == "Paket beschädigt"
        assert view["customer_asked"] == "Sind Sie da?"


async def test_a_button_pressed_while_queued_reaches_the_agent_as_its_title(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid, reason="customer_request", summary="Kunde möchte eine Person")
        ws = await h.socket("anna-desk")
        assert await h.customer(cid, "/deny", shown="Nein") is True
        event = await next_event(ws, lambda e: e["type"] == "message")
        assert event["text"] == "Nein"


async def test_doch_nicht_leaves_the_queue_and_returns_to_the_bot(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid, other = new_id(), new_id()
        await h.handoff(cid, language="de")
        await h.handoff(other, language="en")
        ws = await h.socket("anna-desk")
        assert await h.customer(cid, "Ach, doch nicht!") is True
        assert "du bist nicht mehr in der Warteschlange" in h.delivery.texts(cid)[-1]
        event = await next_event(ws, lambda e: e["type"] == "removed")
        assert event["conversation_id"] == cid
        assert [e["conversation_id"] for e in (await h.queue())["queue"]] == [other]
        # The one behind moved up and hears it, from whichever looks first at the queue: this leave,
        # or the desk's sweeper, which may have taken the notice over and still be sending it.
        await h.delivery.wait_for(other, "You are now number 1 in the queue.")
        # Back with the bot: the next message goes to Rasa again.
        assert await h.customer(cid, "Wo ist meine Bestellung?") is False
        view = await (await h.client.get(f"/api/conversations/{cid}", headers=h.auth("anna-desk"))).json()
        assert view["handoffs"][-1]["outcome"] == "customer_left"


async def test_a_sentence_that_only_contains_cancel_words_stays_with_the_agent(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid, language="en")
        assert await h.customer(cid, "I want to cancel my order", "en") is True
        assert [e["conversation_id"] for e in (await h.queue())["queue"]] == [cid]


async def test_never_mind_in_english_also_leaves(redis_url, database_url):
    async with desk_app(redis_url, database_url) as h:
        cid = new_id()
        await h.handoff(cid, language="en")
        assert await h.customer(cid, "never mind", "en") is True
        assert "you've left the queue" in h.delivery.texts(cid)[-1]
        assert (await h.queue())["queue"] == []


async def test_no_agent_within_the_timeout_offers_a_callback_with_the_complaint_reference(redis_url, database_url):
    async with desk_app(redis_url, database_url, queue_timeout_seconds=0.4) as h:
        cid = new_id()
        await h.handoff(cid, language="en", reason="complaint", complaint_reference="RK-7F3A")
        assert await h.customer(cid, "The box was crushed and the lamp is broken.", "en") is True
        offer = await h.delivery.wait_for(cid, "Reply 1 for a callback", timeout=5)
        assert "reference RK-7F3A" in offer and "nothing you wrote is lost" in offer
        assert await h.customer(cid, "1", "en") is True
        assert "we'll get back to you here (reference RK-7F3A)" in h.delivery.texts(cid)[-1]
        entry = (await h.queue())["queue"][0]
        assert entry["conversation_id"] == cid and entry["callback"] is True and entry["ticket"] == "RK-7F3A"
        view = await (await h.client.get(f"/api/conversations/{cid}", headers=h.auth("anna-desk"))).json()
        assert "The box was crushed and the lamp is broken." in [m["text"] for m in view["transcript"]]
        assert view["handoffs"][-1]["outcome"] == "callback_requested"
        # The offer goes out once: a further look at the long waits does not repeat it.
        await h.desk.sweeper.sweep_once()
        assert sum("Reply 1 for a callback" in t for t in h.delivery.texts(cid)) == 1


async def test_timeout_without_a_complaint_gives_a_ticket_reference(redis_url, database_url):
    async with desk_app(redis_url, database_url, queue_timeout_seconds=0.3) as h:
        cid = new_id()
        await h.handoff(cid, language="de")
        offer = await h.delivery.wait_for(cid, "Antworte mit 1 für einen Rückruf", timeout=5)
        ticket = (await h.queue())["queue"][0]["ticket"]
        assert ticket.startswith("H-") and f"unter der Nummer {ticket} gespeichert" in offer
        assert await h.customer(cid, "2") is True
        assert "du bleibst in der Warteschlange (Nummer 1)" in h.delivery.texts(cid)[-1]
