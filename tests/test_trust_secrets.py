"""Loopback by default, secrets kept, identifiers that reveal nothing (issue 8, items 4 and 5).

One real `scripts/run.py` on a fresh var/ is started twice (a restart): its servers listen on
loopback only (read from the kernel's table of listening sockets), its Redis wants the password,
what it keeps under var/ is its owner's only, and the demo token is printed on the first start
only. A gateway without TWILIO_AUTH_TOKEN refuses the Twilio webhook; conversation ids are keyed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import queue
import signal
import socket
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import stack  # scripts/ is on sys.path through tests/conftest.py
from redis.asyncio import Redis

from bot.channels.registry import customer_ids
from bot.channels.webchat import channel as webchat
from bot.channels.whatsapp import rules as whatsapp
from bot.channels.whatsapp.settings import WhatsAppSettings
from bot.privacy.stores import Families, Stores
from bot.settings import Settings
from db.engine import create_engine, session_factory
from db.models import Message
from tests import gateway_helpers as gw

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "http://127.0.0.1:9"


# -- the listening sockets, from the kernel -----------------------------------------------------

def _address(hex_address: str) -> str:
    """/proc/net/tcp{,6}'s local address (little-endian 32-bit words) as text."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(words) == 4 else socket.AF_INET6, words)


def listening() -> dict[int, set[str]]:
    """Port → the addresses a socket listens on (state 0A is LISTEN)."""
    found: dict[int, set[str]] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                address, port = fields[1].split(":")
                found.setdefault(int(port, 16), set()).add(_address(address))
    return found


# -- make run, twice on one var/ ----------------------------------------------------------------

@dataclass
class Start:
    """One start of `make run`, as seen while it ran."""

    output: str  # everything it printed, until it stopped
    ports: dict[str, int]  # by process
    bound: dict[str, set[str]]  # by process: the addresses it listens on
    redis_url: str
    redis_without_password: bytes  # the embedded Redis's answer to a PING without AUTH
    modes: dict[Path, int]  # of everything under var/


def _printed_value(lines: list[str], marker: str) -> str:
    line = next(line for line in lines if marker in line)
    return line.split(marker, 1)[1].split()[0]


def _redis_answer(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        return s.recv(256)


def _start_and_stop(var: Path, env: dict[str, str]) -> Start:
    process = subprocess.Popen(
        [str(stack.APP_PYTHON), "scripts/run.py"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        with process.stdout:  # type: ignore[union-attr]  # closed here, at its end, by its one reader
            for line in process.stdout:  # type: ignore[union-attr]
                lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 600
        while not any("shopdesk is running" in line for line in seen):
            assert time.monotonic() < deadline and process.poll() is None, "".join(seen[-40:])
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                pass
        redis_url = (var / "redis-url").read_text().strip()
        ports = {
            "redis": int(redis_url.rsplit(":", 1)[1].split("/")[0]),
            "twilio-standin": int(_printed_value(seen, "Twilio stand-in at").rsplit(":", 1)[1]),
            "whatsapp-cloud-standin": int(_printed_value(seen, "Graph API stand-in at").rsplit(":", 1)[1]),
            "actions": int(env["ACTION_SERVER_URL"].rsplit(":", 1)[1].split("/")[0]),
            "rasa": int(env["RASA_URL"].rsplit(":", 1)[1]),
        }
        bound = {name: listening().get(port, set()) for name, port in ports.items()}
        refused = _redis_answer(ports["redis"], b"PING\r\n")
        modes = {p: p.stat().st_mode for p in [var, *var.rglob("*")] if not p.is_symlink()}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
    reader.join(10)  # it has read everything once the pipe closed
    seen.extend(lines.queue)
    return Start("".join(seen), ports, bound, redis_url, refused, modes)


@pytest.fixture(scope="module")
def two_starts(tmp_path_factory: pytest.TempPathFactory, make_run_env) -> tuple[Start, Start, Path]:
    """`make run` on a fresh var/ without AGENT_TOKENS or secrets, stopped and started again."""
    var = tmp_path_factory.mktemp("trust") / "var"
    env, _ = make_run_env(var)
    first = _start_and_stop(var, dict(env))
    second = _start_and_stop(var, dict(env))
    return first, second, var


@pytest.mark.timeout(1500)
def test_make_runs_servers_listen_on_loopback_only(two_starts: tuple[Start, Start, Path]) -> None:
    for start in two_starts[:2]:
        assert start.bound == {name: {"127.0.0.1"} for name in start.ports}, start.bound


@pytest.mark.timeout(1500)
def test_the_embedded_redis_refuses_without_its_password(two_starts: tuple[Start, Start, Path]) -> None:
    first, second, var = two_starts
    assert first.redis_without_password.startswith(b"-NOAUTH"), first.redis_without_password
    assert second.redis_without_password.startswith(b"-NOAUTH"), second.redis_without_password
    password = (var / "redis-password").read_text().strip()
    assert len(password) >= 32
    # kept across the restart; every client's REDIS_URL carries it; never printed, never on a command line
    assert f":{password}@" in first.redis_url and f":{password}@" in second.redis_url
    assert password not in first.output + second.output
    assert password not in " ".join(stack.redis_command(1, var / "redis", config=var / "redis" / "redis.conf"))


@pytest.mark.timeout(1500)
def test_what_make_run_keeps_in_var_is_its_owners_only(two_starts: tuple[Start, Start, Path]) -> None:
    _, second, var = two_starts
    for path in ("shopdesk.db", "rasa_tracker.db", "shopdesk-secret", "redis-password", "redis-url",
                 "demo-agent-token", "demo-twilio-auth-token", "demo-whatsapp-cloud", "services.json",
                 "logs/gateway-1.log", "redis/redis.conf", "attachments"):
        assert var / path in second.modes, f"{path} missing"
    readable = {str(p.relative_to(var)): oct(stat.S_IMODE(m)) for p, m in second.modes.items() if stat.S_IMODE(m) & 0o077}
    assert readable == {}
    assert stat.S_IMODE(second.modes[var]) == 0o700 and stat.S_IMODE(second.modes[var / "attachments"]) == 0o700
    assert stat.S_IMODE(second.modes[var / "shopdesk-secret"]) == 0o600


@pytest.mark.timeout(1500)
def test_a_generated_demo_token_is_printed_on_the_first_start_only(two_starts: tuple[Start, Start, Path]) -> None:
    first, second, var = two_starts
    token = (var / "demo-agent-token").read_text().strip()
    assert len(token) >= 24
    assert first.output.count(token) == 1, first.output
    assert token not in second.output
    assert f"sign in as 'demo' with the token in {var / 'demo-agent-token'}" in second.output


# -- the Twilio webhook without a secret -------------------------------------------------------

async def test_twilio_webhook_without_auth_token_answers_503_naming_the_setting(
    redis_url: str, database_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    env = gw.gateway_env(redis_url, database_url, UNREACHABLE, UNREACHABLE, TWILIO_AUTH_TOKEN="")
    settings = Settings.from_env(env)
    assert WhatsAppSettings.from_env(settings.env).twilio_auth_token == ""  # no built-in default secret
    number = gw.new_number()
    async with gw.running_gateway(settings) as gateway:
        forged = gw.whatsapp_form(number, "Ich will eine Bewertung abgeben")
        with caplog.at_level(logging.WARNING):
            status, text = await gateway.webhook(forged, signature=None)
            signed_with_old_default = await gateway.webhook(
                forged, signature=_twilio_signature("shopdesk-dev-token", gateway.settings.public_url, forged))
    assert status == 503 and "TWILIO_AUTH_TOKEN" in text
    assert signed_with_old_default[0] == 503
    assert any("TWILIO_AUTH_TOKEN" in r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert await gw.transcript(database_url, gw.whatsapp_id(number)) == []


def _twilio_signature(token: str, public_url: str, form: dict[str, str]) -> str:
    from twilio.request_validator import RequestValidator

    return RequestValidator(token).compute_signature(public_url + "/webhooks/twilio/whatsapp", form)


# -- keyed ids ---------------------------------------------------------------------------------

def _hmac_hex(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:24]


def test_whatsapp_ids_are_keyed_hashes_of_the_number() -> None:
    number = "whatsapp:+49 151 2345 6789"
    cid = whatsapp.conversation_id(number, "secret-a")
    assert cid == "wa-" + _hmac_hex("secret-a", "+4915123456789")
    assert whatsapp.conversation_id(number, "secret-b") != cid
    assert "4915123456789" not in cid and "23456789" not in cid
    # the old unkeyed scheme (a plain sha256 anyone can compute for every number) is gone
    assert cid != "wa-" + hashlib.sha256(b"+4915123456789").hexdigest()[:24]


def test_web_chat_ids_do_not_contain_the_session_id() -> None:
    session_id = gw.new_session_id()
    cid = webchat.conversation_id(session_id, "secret-a")
    assert cid == "web-" + _hmac_hex("secret-a", session_id)
    assert webchat.conversation_id(session_id, "secret-b") != cid
    assert session_id not in cid and session_id[:12] not in cid


async def test_a_web_chat_conversation_is_stored_and_logged_under_its_keyed_id_only(
    redis_url: str, database_url: str, rasa_server: str, caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings.from_env(gw.gateway_env(redis_url, database_url, rasa_server, UNREACHABLE))
    session_id = gw.new_session_id()
    expected = "web-" + _hmac_hex(gw.TEST_SECRET, session_id)
    with caplog.at_level(logging.DEBUG):
        async with gw.running_gateway(settings) as gateway, gw.WebchatClient.connect(gateway.ws_url, session_id) as client:
            await client.next("history")
            await client.say("Wie lange dauert der Versand?")
            await client.next("ack")
            await client.next("message", timeout=60)
    rows = await gw.eventually(lambda: gw.transcript(database_url, expected), bool)
    assert ("customer", "Wie lange dauert der Versand?") in rows
    assert not [r.getMessage() for r in caplog.records if session_id in r.getMessage()]


def test_processes_starting_together_agree_on_one_generated_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in stack.app_env().items() if k != "SHOPDESK_SECRET"}
    env["SHOPDESK_VAR"] = str(tmp_path / "var")
    code = "from bot.settings import Settings; print(Settings.from_env().shopdesk_secret)"
    processes = [subprocess.Popen([str(stack.APP_PYTHON), "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(4)]
    secrets_seen = {p.communicate(timeout=60)[0].strip() for p in processes}
    kept = tmp_path / "var" / "shopdesk-secret"
    assert secrets_seen == {kept.read_text().strip()} and len(kept.read_text().strip()) >= 32
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600 and stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    assert [p.name for p in kept.parent.iterdir()] == ["shopdesk-secret"]  # no drafts left behind


async def test_privacy_tools_find_a_sessions_conversation_under_the_keyed_and_the_earlier_id(
    redis_url: str, database_url: str,
) -> None:
    """A web chat stored before the keyed ids (`web-<session id>`) is still exported and erased."""
    session_id = gw.new_session_id()
    earlier = "web-" + session_id
    engine = create_engine(database_url)
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        families = Families(customer_ids())
        stores = Stores(session_factory(engine), None, redis, secret=gw.TEST_SECRET, families=families)
        subject = families.subject({"webchat": session_id})
        assert await stores.conversation_ids(subject) == [webchat.conversation_id(session_id, gw.TEST_SECRET)]
        async with session_factory(engine)() as session, session.begin():
            session.add(Message(conversation_id=earlier, channel="webchat", sender="customer", text="Hallo"))
        assert await stores.conversation_ids(subject) == [webchat.conversation_id(session_id, gw.TEST_SECRET), earlier]
    finally:
        await redis.aclose()
        await engine.dispose()
