"""`make run` as a newcomer uses it: everything starts on embedded defaults, answers in the
customer's language with the shop's facts, and Ctrl-C stops every process it started (a second
Ctrl-C at once, without a traceback)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import aiohttp
import pytest
import stack  # scripts/ is on sys.path through tests/conftest.py
import yaml

from tests.gateway_helpers import TEST_SECRET
from tests.process_helpers import alive, descendants

ROOT = Path(__file__).resolve().parent.parent


def _lines(process: subprocess.Popen) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        with process.stdout:  # type: ignore[union-attr]  # closed here, at its end, by its one reader
            for line in process.stdout:  # type: ignore[union-attr]
                lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], marker: str, timeout: float, seen: list[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"{marker!r} not printed within {timeout:.0f} s:\n{''.join(seen[-40:])}")


async def _ask(gateway: str, question: str, language: str) -> str:
    """One question through the web chat websocket; the bot's answer texts joined."""
    session_id = uuid.uuid4().hex
    texts: list[str] = []
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{gateway.replace('http', 'ws')}/webchat/ws") as ws:
            await ws.send_json({"type": "hello", "session_id": session_id, "language": language})
            await ws.send_json({"type": "message", "text": question, "client_id": uuid.uuid4().hex})
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    frame = await ws.receive_json(timeout=5 if texts else 60)
                except TimeoutError:
                    break
                if frame.get("type") == "message" and frame.get("sender") == "bot" and frame.get("text"):
                    texts.append(frame["text"])
    return "\n".join(texts)


def _shipping_fact_for_switzerland(shop: dict) -> str:
    """The Swiss shipping cost as a German answer writes it: 12.9 → "12,90"."""
    return f"{shop['shipping']['countries']['CH']['cost']:.2f}".replace(".", ",")


def _return_days(shop: dict) -> int:
    return shop["returns"]["window_days"]


@pytest.mark.timeout(900)
async def test_make_run_answers_in_both_languages_and_stops_everything(tmp_path: Path, make_run_env) -> None:
    env, ports = make_run_env(tmp_path / "var", SHOPDESK_SECRET=TEST_SECRET)
    process = subprocess.Popen(  # its own process group, as in a terminal, so Ctrl-C can be sent to it
        ["make", "-s", "run"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    seen: list[str] = []
    try:
        lines = _lines(process)
        _wait_for(lines, "shopdesk is running", 600, seen)
        gateway = f"http://127.0.0.1:{ports['gateway']}"

        async with aiohttp.ClientSession() as http:
            async with http.get(f"{gateway}/healthz") as response:
                assert response.status == 200, await response.text()
            async with http.get(f"{gateway}/") as response:
                assert "/widget.js" in await response.text()

        shop = yaml.safe_load((ROOT / "shop.yml").read_text())
        german = await _ask(gateway, "Was kostet der Versand in die Schweiz?", "de")
        assert re.search(r"Versand|Schweiz", german), german
        assert _shipping_fact_for_switzerland(shop) in german, german
        english = await _ask(gateway, "How do I return an item?", "en")
        assert re.search(r"return", english, re.I), english
        assert str(_return_days(shop)) in english, english
        assert (tmp_path / "var" / "shopdesk.db").exists()
        children = descendants(process.pid)
        assert len(children) >= 6, children  # run.py, Redis, stand-in, actions, Rasa, gateway
    finally:
        stop_started = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C …
        time.sleep(0.3)
        os.killpg(process.pid, signal.SIGINT)  # … and Ctrl-C again while it stops
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    stop_seconds = time.monotonic() - stop_started
    _wait_for(lines, "killing every process now", 5, seen)
    time.sleep(0.5)
    output = "".join(seen) + "".join(lines.queue)
    assert "Traceback" not in output, output[-3000:]
    assert stop_seconds < 15, stop_seconds
    assert not [pid for pid in children if alive(pid)], "processes outlived make run"
    for name, port in ports.items():
        assert not stack.port_open(port), f"{name} still listens on {port} after Ctrl-C"
