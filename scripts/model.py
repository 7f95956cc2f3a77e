"""The trained Rasa model that matches the current training data.

`python scripts/model.py path`  prints the model file for the current data (it may not exist yet)
`python scripts/model.py train` trains it when missing (and removes models of older data)

The model name carries a hash of config, domain, training data and the Rasa lock file, so an
edit to any of them means a new model, and an unchanged tree never trains twice.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"


def _inputs() -> list[Path]:
    files = [ROOT / "config.yml", ROOT / "requirements" / "rasa.lock"]
    domain = ROOT / "domain.yml"
    files += [domain] if domain.exists() else sorted((ROOT / "domain").rglob("*.yml"))
    files += sorted((ROOT / "data").rglob("*.yml"))
    return files


def data_hash() -> str:
    digest = hashlib.sha256()
    for path in _inputs():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODELS / f"shopdesk-{data_hash()}.tar.gz"


def _domain_arg() -> str:
    return "domain.yml" if (ROOT / "domain.yml").exists() else "domain"


def train() -> Path:
    target = model_path()
    if target.exists():
        return target
    MODELS.mkdir(exist_ok=True)
    print(f"model: training {target.name} (the data changed or no model exists yet)", flush=True)
    started = time.monotonic()
    subprocess.run(
        [str(RASA), "train", "--config", "config.yml", "--domain", _domain_arg(), "--data", "data",
         "--out", str(MODELS), "--fixed-model-name", target.name.removesuffix(".tar.gz")],
        cwd=ROOT, check=True,
    )
    print(f"model: trained in {time.monotonic() - started:.0f} s", flush=True)
    for old in MODELS.glob("shopdesk-*.tar.gz"):
        if old != target:
            old.unlink()
    return target


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "path"
    if command == "train":
        print(train())
    elif command == "path":
        print(model_path())
    else:
        sys.exit("usage: model.py [path|train]")
