"""The held-out messages (tests/nlu_heldout/, never trained on) through the real Rasa server's
/model/parse: at least 95 % of each language's messages get their intent."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import nlu_eval  # scripts/ is on sys.path through tests/conftest.py
import pytest

ROOT = Path(__file__).resolve().parent.parent

REQUIRED_ACCURACY = 0.95


def heldout(language: str) -> list[tuple[str, str]]:
    return nlu_eval.examples(nlu_eval.HELDOUT / f"{language}.yml")


@pytest.mark.parametrize("language", ["de", "en"])
def test_the_held_out_set_covers_every_intent_with_100_messages(language: str) -> None:
    import yaml

    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    intents = {i for i in domain["intents"] if not i.startswith("EXTERNAL_")}
    rows = heldout(language)
    assert len(rows) >= 100
    assert {intent for _, intent in rows} >= intents
    trained = set(nlu_eval.examples_by_language())
    assert not [text for text, _ in rows if text in trained], "held-out messages must never be training data"


@pytest.mark.parametrize("language", ["de", "en"])
async def test_held_out_accuracy_is_at_least_95_percent(rasa_server: str, language: str) -> None:
    wrong = []
    rows = heldout(language)
    async with aiohttp.ClientSession() as http:
        for text, intent in rows:
            async with http.post(f"{rasa_server}/model/parse", json={"text": text}) as response:
                assert response.status == 200, await response.text()
                predicted = (await response.json())["intent"]["name"]
            if predicted != intent:
                wrong.append((text, intent, predicted))
    accuracy = 1 - len(wrong) / len(rows)
    assert accuracy >= REQUIRED_ACCURACY, f"{language}: {accuracy:.3f} on {len(rows)}; wrong: {wrong}"
