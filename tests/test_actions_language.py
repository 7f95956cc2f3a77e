"""Language detection, the language slot's correction, and shop.yml read at request time."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import shop
from actions.language import ActionDetectLanguage, detect


@pytest.mark.parametrize("text, language", [
    ("Was kostet der Versand in die Schweiz?", "de"),
    ("Grüezi, wo isch mis Päckli?", "de"),
    ("ich will mit einem menschen sprechen", "de"),
    ("How do I return an item?", "en"),
    ("Hi, where is my order?", "en"),
    ("I want to talk to a human", "en"),
])
def test_clear_messages_are_detected(text: str, language: str) -> None:
    assert detect(text) == language


@pytest.mark.parametrize("text", ["Hi", "ok", "4", "AK-123456", "⭐⭐⭐", '/give_rating{"rating": 4}', "ok danke"])
def test_short_or_neutral_messages_change_nothing(text: str) -> None:
    assert detect(text) is None


async def run_detection(slot: str | None, text: str, metadata: dict) -> list[dict]:
    tracker = Tracker(
        sender_id="test-language", slots={"language": slot, "session_started_metadata": metadata},
        latest_message={"text": text, "intent": {"name": "greet"}, "entities": [], "metadata": metadata},
        events=[], paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen",
    )
    return await ActionDetectLanguage().run(CollectingDispatcher(), tracker, {})


async def test_an_english_message_corrects_a_german_channel_language() -> None:
    events = await run_detection("de", "Where is my parcel?", {"language": "de"})
    assert [(e["name"], e["value"]) for e in events] == [("language", "en")]


async def test_a_neutral_message_keeps_the_language() -> None:
    assert await run_detection("en", "ok", {"language": "de"}) == []


async def test_without_any_hint_the_shop_language_german_is_used() -> None:
    events = await run_detection(None, "hi", {})
    assert [(e["name"], e["value"]) for e in events] == [("language", "de")]


def test_shop_yml_edits_show_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "shop.yml"
    shutil.copy(shop.SHOP_FILE, path)
    assert shop.load(path)["returns"]["window_days"] == 30
    path.write_text(path.read_text(encoding="utf-8").replace("window_days: 30", "window_days: 100"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert "100 Tagen" in shop.returns_answer("de", shop.load(path))


@pytest.mark.parametrize("word, code", [("Schweiz", "CH"), ("switzerland", "CH"), ("Österreich", "AT"),
                                        ("Austria", "AT"), ("CH", "CH"), ("Frankreich", "EU"), ("Mars", None)])
def test_country_words_map_to_the_shipping_table(word: str, code: str | None) -> None:
    assert shop.country_code(word) == code
