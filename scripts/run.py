"""`make run`: everything shopdesk needs, in the foreground, until Ctrl-C or SIGTERM.

Starts (each only when its address is not given by the environment): a Redis of its own
(REDIS_URL unset), the stand-ins the channels declare for providers without a real account (the
Twilio stand-in without TWILIO_ACCOUNT_SID, the Graph API stand-in for WhatsApp's Cloud API with
demo credentials without WHATSAPP_CLOUD_APP_SECRET), then the action server,
Rasa on the model for the current data (trained first when missing) and GATEWAY_PROCESSES
gateway processes on one port. Migrates the database and seeds the demo orders before anything
answers a customer. Then it keeps them alive (scripts/supervisor.py): a process that exits or
hangs is restarted with backoff, up to RESTART_LIMIT crashes within 10 minutes.

The first Ctrl-C or SIGTERM stops everything in order (within 15 s); a second one kills it all at once.

What it writes under var/ is its owner's only (umask 077: files 0600, directories 0700): the
databases, logs, attachments and the secrets (scripts/services.py). A configured AGENT_TOKENS
token is never printed; without one a demo token is generated and printed on the first start only.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import model as rasa_model  # noqa: E402
import services  # noqa: E402
import stack  # noqa: E402
from supervisor import GaveUp, Policy, StartFailed, Supervisor  # noqa: E402

from actions.demo_orders import seed  # noqa: E402
from bot.secret_files import read_or_create, var_dir  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from handoff.web.auth import InvalidAgentTokens, parse_agent_tokens  # noqa: E402

# SHOPDESK_VAR moves all runtime files (databases, Redis data, logs), e.g. for a second instance.
VAR = var_dir()
LOGS = VAR / "logs"
# Where a running `make run` tells other commands (make export / make erase) its embedded Redis.
REDIS_URL_FILE = VAR / "redis-url"
TICK_SECONDS = 0.2


class Stop(Exception):
    pass


def say(text: str) -> None:
    print(f"run: {text}", flush=True)


class Signals:
    """The first SIGINT/SIGTERM raises Stop (the ordered stop); one during the stop kills everything."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.supervisor = supervisor
        self.stopping = False
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            self.stopping = True
            raise Stop(signal.Signals(signum).name)
        say(f"{signal.Signals(signum).name} again: killing every process now")
        self.supervisor.kill_all()
        os._exit(130)


def _require_free(port: int, what: str, variable: str) -> None:
    if stack.port_open(port):
        raise SystemExit(f"port {port} for {what} is already in use: stop what runs there or set {variable}")


def _sign_in_hint(env: dict[str, str]) -> str:
    """How to sign in to the console: a configured token is never printed; a demo token is
    generated (kept in var/, 0600) and printed on the start that created it only."""
    if env.get("AGENT_TOKENS"):
        name = env["AGENT_TOKENS"].split(",")[0].split(":")[0]
        return f"sign in as {name!r} with your token from AGENT_TOKENS"
    token_file = VAR / "demo-agent-token"
    token, created = read_or_create(token_file)
    env["AGENT_TOKENS"] = f"demo:{token}"
    if created:
        return f"sign in as 'demo' with token {token!r}; shown this once, kept in {token_file}"
    return f"sign in as 'demo' with the token in {token_file}"


def _private(var: Path) -> None:
    """var/ and everything in it for its owner only, also what an older version left readable."""
    os.umask(0o077)
    var.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in [var, *var.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else path.stat().st_mode & 0o700)


def main() -> int:
    _private(VAR)
    env = stack.app_env()
    sign_in = _sign_in_hint(env)
    try:  # the gateway refuses these too; saying so before Rasa loads saves the wait
        parse_agent_tokens(env["AGENT_TOKENS"])
    except InvalidAgentTokens as exc:
        raise SystemExit(f"could not start: {exc}") from None
    layout = services.settle(env, VAR, services.PortPicker(free=True))
    supervisor = Supervisor(LOGS, Path(env["SHOPDESK_SERVICES_FILE"]), Policy.from_env(env), say)
    signals = Signals(supervisor)
    try:
        _require_free(layout.action_port, "the action server", "ACTION_SERVER_URL")
        _require_free(layout.rasa_port, "Rasa", "RASA_URL")
        _require_free(layout.gateway_port, "the gateway", "GATEWAY_PORT")
        upgrade(env["DATABASE_URL"])
        seed(env["DATABASE_URL"])
        model = rasa_model.train()
        endpoints = stack.write_endpoints(VAR / "endpoints.yml", env)

        for spec in services.specs(layout, model, endpoints):
            if spec.name == "rasa":
                say("starting Rasa (loading the model takes a little while)")
            supervisor.start(spec)
            if spec.name == "redis":
                REDIS_URL_FILE.write_text(env["REDIS_URL"] + "\n")  # with its password: 0600 (umask)
                say(f"started an embedded Redis on {stack.reachable(layout.host('REDIS_HOST'))}:{layout.redis_port} "
                    f"with a password (in {REDIS_URL_FILE}; set REDIS_URL to use your own)")
            for run in layout.standins:
                if spec.name == run.standin.name:
                    say(run.said)

        gateway_port = layout.gateway_port
        print(
            "\nshopdesk is running\n"
            f"  web chat demo:  http://localhost:{gateway_port}/\n"
            f"  agent console:  http://localhost:{gateway_port}/agent  ({sign_in})\n"
            f"  WhatsApp hooks: {env['PUBLIC_URL']}/webhooks/twilio/whatsapp (Twilio), "
            f"{env['PUBLIC_URL']}/webhooks/whatsapp/cloud (Meta's Cloud API)\n"
            f"  logs:           {LOGS}\n"
            f"  processes:      {', '.join(p.spec.name for p in supervisor.processes)} (restarted when they crash or hang)\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        while True:
            supervisor.tick()
            time.sleep(TICK_SECONDS)
    except Stop as stop:
        say(f"{stop} received, stopping (again to force)")
        return 0
    except GaveUp as failure:
        say(str(failure))
        return 1
    except StartFailed as failure:
        say(f"could not start: {failure}")
        return 1
    finally:
        signals.stopping = True
        supervisor.stop()
        say("stopped")
        if layout.redis_port is not None:
            REDIS_URL_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
