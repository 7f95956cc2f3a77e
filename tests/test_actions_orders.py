"""Order lookup against the real database: number formats, the demo orders, the answers."""

from __future__ import annotations

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import func, select

from actions.demo_orders import DEMO_ORDERS, seed
from actions.order_status import ActionOrderStatus
from actions.orders import DatabaseOrderSource, find_order_number
from db.models import Order


def tracker(slots: dict, text: str = "", lang: str = "de") -> Tracker:
    return Tracker(
        sender_id="test-orders", slots={"language": lang, **slots},
        latest_message={"text": text, "intent": {"name": "order_status"}, "entities": [], "metadata": {}},
        events=[], paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen",
    )


@pytest.mark.parametrize("text, expected", [
    ("AK-123456", "AK-123456"),
    ("ak 123456", "AK-123456"),
    ("AK123456", "AK-123456"),
    ("Bestellung #ak-100001 bitte", "AK-100001"),
    ("where is Ak – 100005?", "AK-100005"),
    ("AK-12345", None),
    ("123456", None),
    ("AK-1234567", None),
])
def test_order_numbers_are_found_in_free_text_and_normalised(text: str, expected: str | None) -> None:
    assert find_order_number(text) == expected


async def test_database_order_source_finds_a_demo_order(sessions) -> None:
    order = await DatabaseOrderSource(sessions).find("AK-123456")
    assert order is not None
    assert (order.status, order.carrier) == ("shipped", "DHL")
    assert order.tracking_number and order.expected_delivery


async def test_database_order_source_returns_none_for_an_unknown_number(sessions) -> None:
    assert await DatabaseOrderSource(sessions).find("AK-999999") is None


async def test_seeding_twice_keeps_one_row_per_demo_order(database_url: str, sessions) -> None:
    seed(database_url)
    async with sessions() as session:
        count = (await session.execute(
            select(func.count()).select_from(Order).where(Order.order_number.in_([o[0] for o in DEMO_ORDERS])))).scalar_one()
    assert count == len(DEMO_ORDERS)


async def test_shipped_order_answer_has_carrier_tracking_link_and_date(sessions) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionOrderStatus().run(dispatcher, tracker({"order_number": "AK-123456"}), {})
    text = dispatcher.messages[0]["text"]
    assert "unterwegs mit DHL" in text
    assert "https://www.dhl.de/" in text and "00340434161094042557" in text
    assert "Voraussichtliche Lieferung" in text
    assert {"event": "slot", "name": "question_answered", "value": True, "timestamp": None} in events


async def test_order_answer_follows_the_language(sessions) -> None:
    dispatcher = CollectingDispatcher()
    await ActionOrderStatus().run(dispatcher, tracker({"order_number": "AK-100001"}, lang="en"), {})
    assert "is being packed" in dispatcher.messages[0]["text"]


async def test_unknown_order_number_gets_a_clear_answer_and_the_offer_of_a_person(sessions) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionOrderStatus().run(dispatcher, tracker({"order_number": "AK-999999"}), {})
    message = dispatcher.messages[0]
    assert "AK-999999" in message["text"] and "keine Bestellung" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots == {"order_number": None, "unknown_order_number": "AK-999999", "human_offer": "order_not_found"}
