"""NLU figures per language: `make nlu-eval`.

1. Held-out accuracy: the trained model (scripts/model.py, trained when missing) classifies
   tests/nlu_heldout/<language>.yml, messages that are never used for training.
2. Intent F1 by cross-validation on data/nlu: Rasa reports one figure for the whole model; the
   customers are German and English, so its per-message predictions are split by the language
   file each example came from.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "results" / "nlu"
HELDOUT = ROOT / "tests" / "nlu_heldout"
RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"
_MARKUP = re.compile(r"\[([^\]]+)\](\{[^}]*\}|\([^)]*\))")


def examples(path: Path) -> list[tuple[str, str]]:
    """(text without entity markup, intent) of one Rasa NLU file."""
    rows: list[tuple[str, str]] = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
        if "intent" not in item:
            continue
        for line in str(item.get("examples", "")).splitlines():
            text = _MARKUP.sub(r"\1", line.strip().removeprefix("- ").strip())
            if text:
                rows.append((text, item["intent"]))
    return rows


def examples_by_language(folder: Path = ROOT / "data" / "nlu") -> dict[str, str]:
    """Example text → language, from <folder>/<language>.yml."""
    return {text: path.stem for path in sorted(folder.glob("*.yml")) for text, _ in examples(path)}


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


def _pairs(out: Path, languages: dict[str, str]) -> dict[str, list[tuple[str, str]]]:
    pairs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name in ("intent_successes.json", "intent_errors.json"):
        path = out / name
        if not path.exists():
            continue
        for row in json.loads(path.read_text(encoding="utf-8")):
            gold, predicted = row["intent"], (row.get("intent_prediction") or {}).get("name")
            pairs[languages.get(row["text"], "unknown")].append((gold, predicted))
            pairs["all"].append((gold, predicted))
    return pairs


def heldout(model: Path) -> dict[str, float]:
    """Held-out accuracy per language (a message counts as right when its intent is, fallback is wrong)."""
    out = OUT / "heldout"
    for stale in out.glob("intent_*.json"):
        stale.unlink()
    subprocess.run(
        [str(RASA), "test", "nlu", "--nlu", str(HELDOUT), "--model", str(model), "--successes", "--out", str(out)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    accuracy = {}
    for language, rows in sorted(_pairs(out, examples_by_language(HELDOUT)).items()):
        accuracy[language] = sum(1 for g, p in rows if g == p) / len(rows)
        print(f"held-out accuracy {language}: {accuracy[language]:.3f} on {len(rows)} messages", flush=True)
    return accuracy


def cross_validated(folds: int) -> None:
    subprocess.run(
        [str(RASA), "test", "nlu", "--nlu", "data/nlu", "--config", "config.yml",
         "--cross-validation", "--folds", str(folds), "--successes", "--out", str(OUT)],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    for language, rows in sorted(_pairs(OUT, examples_by_language()).items()):
        print(f"intent F1 (macro, {folds}-fold cross-validation) {language}: {macro_f1(rows):.3f} "
              f"on {len(rows)} test examples", flush=True)


def main(folds: int) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import model as rasa_model

    heldout(rasa_model.train())
    if folds > 1:
        cross_validated(folds)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
