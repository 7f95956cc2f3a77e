"""The processes of shopdesk on one machine, as data: `make run` supervises them (scripts/run.py),
`make units` writes a systemd unit for each (scripts/units.py). One more process is one more
entry in `specs`.

`Layout` is what the settings decide: the ports, whether Redis is embedded (REDIS_URL unset),
which stand-ins of the channels' providers run (each channel folder declares its own and when it
is wanted: bot/channels/folder.py) and how many gateway processes share the port.

Every server listens on loopback unless RASA_HOST, ACTION_SERVER_HOST, STANDIN_HOST or REDIS_HOST
say otherwise (the gateway: GATEWAY_HOST). The secrets the demo needs are generated once and kept
in var/ (0600): SHOPDESK_SECRET (the key of conversation ids), the embedded Redis's password and the
stand-ins' credentials; a value in the environment always wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import stack
from supervisor import Spec

from bot.channels.folder import StandIn  # the project root is on sys.path (run.py, units.py)
from bot.channels.registry import standins
from bot.secret_files import private_dir, read_or_create
from bot.settings import SECRET_FILE

# From start to the first answer: Rasa loads its model (about 30 s on two busy cores).
START_SECONDS = {"redis": 15.0, "standin": 30.0, "actions": 60.0, "rasa": 240.0, "gateway": 60.0}
LOOPBACK = "127.0.0.1"
REDIS_PASSWORD_FILE = "redis-password"


@dataclass(frozen=True)
class StandInRun:
    """A stand-in `make run` starts: on this port, announced with `said`."""

    standin: StandIn
    port: int
    said: str


@dataclass(frozen=True)
class Layout:
    env: dict[str, str]  # every process's environment (REDIS_URL, RASA_URL, … filled in)
    var: Path
    redis_port: int | None  # the embedded Redis, or None when REDIS_URL names one
    redis_password: str | None  # the embedded Redis's requirepass
    standins: list[StandInRun]  # those the environment wants (no real account of their provider)
    gateway_health_ports: list[int]  # one per gateway process (GATEWAY_PROCESSES)

    @property
    def action_port(self) -> int:
        return urlsplit(self.env["ACTION_SERVER_URL"]).port or 5055

    @property
    def rasa_port(self) -> int:
        return urlsplit(self.env["RASA_URL"]).port or 5005

    @property
    def gateway_port(self) -> int:
        return int(self.env["GATEWAY_PORT"])

    def host(self, setting: str) -> str:
        """Where a server binds: RASA_HOST, ACTION_SERVER_HOST, STANDIN_HOST, REDIS_HOST (loopback by default)."""
        return self.env.get(setting) or LOOPBACK


def settle(env: dict[str, str], var: Path, pick_port: Callable[[str, int], int]) -> Layout:
    """Fills in the defaults of `make run` (and of `make units`) in `env`."""
    private_dir(var)
    hosts = {name: stack.reachable(env.get(name) or LOOPBACK)
             for name in ("RASA_HOST", "ACTION_SERVER_HOST", "STANDIN_HOST", "REDIS_HOST")}
    env.setdefault("DATABASE_URL", f"sqlite:///{var / 'shopdesk.db'}")
    env.setdefault("RASA_TRACKER_DB_URL", f"sqlite:///{var / 'rasa_tracker.db'}")
    if not env.get("ATTACHMENT_DIR"):  # customer data: 0600 files in a 0700 directory
        env["ATTACHMENT_DIR"] = str(private_dir(var / "attachments"))
    env.setdefault("ACTION_SERVER_URL", f"http://{hosts['ACTION_SERVER_HOST']}:5055/webhook")
    env.setdefault("RASA_URL", f"http://{hosts['RASA_HOST']}:5005")
    env.setdefault("GATEWAY_PORT", "8080")
    env.setdefault("PUBLIC_URL", f"http://localhost:{env['GATEWAY_PORT']}")
    # Long enough for a restarted Rasa to load its model: customers get "one moment" and then
    # their answer rather than the offer of a human.
    env.setdefault("RASA_GIVE_UP_SECONDS", "120")
    env["SHOPDESK_SERVICES_FILE"] = str(var / "services.json")
    # Every gateway process must key conversation ids alike (bot/ids.py).
    if not env.get("SHOPDESK_SECRET"):
        env["SHOPDESK_SECRET"] = read_or_create(var / SECRET_FILE)[0]
    redis_port = redis_password = None
    if not env.get("REDIS_URL"):
        redis_port = pick_port("redis", 6379)
        redis_password = read_or_create(var / REDIS_PASSWORD_FILE)[0]
        env["REDIS_URL"] = stack.redis_url(hosts["REDIS_HOST"], redis_port, redis_password)
    runs = []
    for standin in standins():
        if standin.wanted(env):
            port = pick_port(standin.name, standin.default_port)
            said = standin.use(env, var, f"http://{hosts['STANDIN_HOST']}:{port}")
            runs.append(StandInRun(standin, port, said))
    gateways = int(env.get("GATEWAY_PROCESSES") or 1)
    if gateways < 1:
        raise SystemExit(f"GATEWAY_PROCESSES={gateways} must be at least 1")
    health = [pick_port(f"gateway-{i}-health", 9180 + i) for i in range(1, gateways + 1)]
    return Layout(env, var, redis_port, redis_password, runs, health)


class PortPicker:
    """`make run`: free ports; `make units`: the fixed defaults (a server's units must agree)."""

    def __init__(self, free: bool) -> None:
        self.free = free

    def __call__(self, _what: str, default: int) -> int:
        return stack.free_port() if self.free else default


def specs(layout: Layout, model: Path, endpoints: Path) -> list[Spec]:
    """In the order of the start (the stop is the reverse)."""
    env = layout.env
    cwd = stack.ROOT
    out: list[Spec] = []
    if layout.redis_port is not None and layout.redis_password is not None:
        port, password, host = layout.redis_port, layout.redis_password, layout.host("REDIS_HOST")
        data = private_dir(layout.var / "redis")
        config = stack.write_redis_config(data / "redis.conf", password)
        out.append(Spec("redis", stack.redis_command(port, data, host, config), env,
                        lambda t: stack.redis_pong(port, t, password, host), START_SECONDS["redis"],
                        "shopdesk's Redis (conversation states, queue, inboxes)", cwd))
    standin_host = layout.host("STANDIN_HOST")
    out += [_standin_spec(run, env, standin_host, cwd) for run in layout.standins]
    actions, actions_host = layout.action_port, layout.host("ACTION_SERVER_HOST")
    out.append(Spec("actions", [str(stack.APP_PYTHON), str(stack.ROOT / "scripts" / "action_server.py")], env,
                    lambda t: stack.http_200(f"http://{stack.reachable(actions_host)}:{actions}/health", t),
                    START_SECONDS["actions"], "shopdesk's Rasa action server", cwd,
                    listen_port=actions, listen_host=actions_host))
    rasa, rasa_host = layout.rasa_port, layout.host("RASA_HOST")
    out.append(Spec("rasa", stack.rasa_command(rasa, model, endpoints, rasa_host), env,
                    lambda t: stack.http_200(f"http://{stack.reachable(rasa_host)}:{rasa}/status", t),
                    START_SECONDS["rasa"], "shopdesk's Rasa server", cwd))
    several = len(layout.gateway_health_ports) > 1
    for i, health in enumerate(layout.gateway_health_ports, start=1):
        gateway_env = {**env, "GATEWAY_HEALTH_PORT": str(health), "GATEWAY_REUSE_PORT": "1" if several else "0"}
        out.append(Spec(f"gateway-{i}", stack.GATEWAY_COMMAND, gateway_env,
                        _answers(f"http://127.0.0.1:{health}/healthz"),
                        START_SECONDS["gateway"], f"shopdesk's gateway, process {i}", cwd))
    return out


def _standin_spec(run: StandInRun, env: dict[str, str], host: str, cwd: Path) -> Spec:
    standin = run.standin
    return Spec(standin.name, stack.standin_command(standin.module, run.port, host), env,
                _answers(f"http://{stack.reachable(host)}:{run.port}/"),
                START_SECONDS["standin"], standin.description, cwd)


def _answers(url: str) -> Callable[[float], bool]:
    return lambda t: stack.http_answers(url, t)
