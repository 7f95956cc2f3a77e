"""NLU intent F1 per language by cross-validation: `make nlu-eval`.

Rasa's cross-validation reports one figure for the whole model; the customers are German and
English, so this splits its per-message predictions by the language file each example came from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "nlu"


def examples_by_language() -> dict[str, str]:
    """Example text (entity markup removed) → language, from data/nlu/<language>.yml."""
    import re

    markup = re.compile(r"\[([^\]]+)\](\{[^}]*\}|\([^)]*\))")
    languages: dict[str, str] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in str(item.get("examples", "")).splitlines():
                text = markup.sub(r"\1", line.strip().removeprefix("- ").strip())
                if text:
                    languages[text] = path.stem
    return languages


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    labels = {gold for gold, _ in pairs}
    scores = []
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return sum(scores) / len(scores)


def main(folds: int) -> None:
    subprocess.run(
        [str(ROOT / ".venv/rasa/bin/rasa"), "test", "nlu", "--nlu", "data/nlu", "--config", "config.yml",
         "--cross-validation", "--folds", str(folds), "--successes", "--out", str(OUT)],
        cwd=ROOT, check=True,
    )
    languages = examples_by_language()
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in ("intent_successes.json", "intent_errors.json"):
        path = OUT / name
        if not path.exists():
            continue
        for row in json.loads(path.read_text(encoding="utf-8")):
            gold, predicted = row["intent"], (row.get("intent_prediction") or {}).get("name")
            language = languages.get(row["text"], "unknown")
            pairs[language].append((gold, predicted))
            pairs["all"].append((gold, predicted))
    for language, rows in sorted(pairs.items()):
        print(f"intent F1 (macro) {language}: {macro_f1(rows):.3f} on {len(rows)} test examples")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
