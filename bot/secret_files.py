"""Secrets generated on first start and kept under var/ (mode 0600), shared by every process.

Several processes may start at once (`make run`'s gateway processes, `make units`' services):
the first one to create the file wins and every one reads back what is in it, so all agree.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path

PROJECT_VAR = Path(__file__).resolve().parent.parent / "var"


def var_dir(env: Mapping[str, str] | None = None) -> Path:
    """SHOPDESK_VAR, else var/ of the project: where runtime files (databases, secrets, logs) live."""
    env = os.environ if env is None else env
    return Path(env.get("SHOPDESK_VAR") or PROJECT_VAR).resolve()


def private_dir(path: Path) -> Path:
    """A directory only its owner can enter (0700), created when missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def read_or_create(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)) -> tuple[str, bool]:
    """The secret kept in `path`, and whether this call created it (0600).

    Written to a file of our own first, then linked into place: the link fails when another
    process was first, and the file that is there is never seen half-written."""
    private_dir(path.parent)
    if path.exists():
        return _read(path), False
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(make() + "\n")
    try:
        os.link(draft, path)
        created = True
    except FileExistsError:
        created = False
    finally:
        draft.unlink()
    return _read(path), created


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise SystemExit(f"{path} is empty: delete it and start again (a new secret is generated)")
    return value
