"""Rasa's own checks on the assistant: the training data validates, and the test stories pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"


def test_training_data_validates() -> None:
    result = subprocess.run(
        [str(RASA), "data", "validate", "--domain", "domain.yml", "--data", "data", "--config", "config.yml"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " ERROR " not in result.stdout + result.stderr


def test_dialogue_test_stories_pass(trained_model: Path, action_server: str, tmp_path: Path) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(yaml.safe_dump({"action_endpoint": {"url": action_server}}))
    out = tmp_path / "results"
    result = subprocess.run(
        [str(RASA), "test", "core", "--stories", "tests/stories", "--model", str(trained_model),
         "--endpoints", str(endpoints), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = (out / "failed_test_stories.yml").read_text()
    assert "None of the test stories failed" in failed, failed
