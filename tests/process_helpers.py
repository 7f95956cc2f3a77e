"""What a test of `make run` needs: the environment of a fresh start, and the processes of the
machine, from /proc, to see that none survive it."""

from __future__ import annotations

import os
from pathlib import Path

import stack  # scripts/ is on sys.path through tests/conftest.py

# Settings of the machine's own services (and of an earlier `make run`) that the start must not inherit:
# it starts its own Redis, database, stand-ins and secrets on var/.
NOT_INHERITED = ("REDIS_", "DATABASE_", "TWILIO_", "RASA_", "AGENT_", "SHOPDESK_", "ACTION_SERVER_")


def run_env(var: Path, **settings: str) -> tuple[dict[str, str], dict[str, int]]:
    """The environment of a `make run` on `var` with the gateway, Rasa and the action server on free
    ports (returned by name), every other service on its embedded default; `settings` added last."""
    ports = {name: stack.free_port() for name in ("gateway", "rasa", "actions")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
    env.update(
        SHOPDESK_VAR=str(var), GATEWAY_PORT=str(ports["gateway"]), PYTHONUNBUFFERED="1",
        RASA_URL=f"http://127.0.0.1:{ports['rasa']}", ACTION_SERVER_URL=f"http://127.0.0.1:{ports['actions']}/webhook",
        **settings,
    )
    return env, ports


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children, their children, …), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
