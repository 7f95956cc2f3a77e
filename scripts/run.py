"""`make run`: everything shopdesk needs, in the foreground, until Ctrl-C or SIGTERM.

Starts (each only when its address is not given by the environment): a Redis of its own
(REDIS_URL unset), the Twilio stand-in (no TWILIO_ACCOUNT_SID), the Graph API stand-in for
WhatsApp's Cloud API with demo credentials (no WHATSAPP_CLOUD_APP_SECRET), then the action server,
Rasa on the model for the current data (trained first when missing) and the gateway.
Migrates the database and seeds the demo orders before anything answers a customer.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import model as rasa_model  # noqa: E402
import stack  # noqa: E402

from actions.demo_orders import seed  # noqa: E402
from db.migrate import upgrade  # noqa: E402

# SHOPDESK_VAR moves all runtime files (databases, Redis data, logs), e.g. for a second instance.
VAR = Path(os.environ.get("SHOPDESK_VAR") or ROOT / "var").resolve()
LOGS = VAR / "logs"
# Where a running `make run` tells other commands (make export / make erase) its embedded Redis.
REDIS_URL_FILE = VAR / "redis-url"


class Stop(Exception):
    pass


def _on_signal(signum: int, _frame: object) -> None:
    raise Stop(signal.Signals(signum).name)


def _port(url: str, default: int) -> int:
    return urlsplit(url).port or default


def _require_free(port: int, what: str, variable: str) -> None:
    if stack.port_open(port):
        raise SystemExit(f"port {port} for {what} is already in use: stop what runs there or set {variable}")


def _agent_tokens() -> str:
    token_file = VAR / "demo-agent-token"
    if not token_file.exists():
        token_file.write_text(secrets.token_urlsafe(18))
    return f"demo:{token_file.read_text().strip()}"


def _demo_cloud_credentials() -> dict[str, str]:
    """Credentials for the Cloud API channel and its stand-in, generated once and kept in var/."""
    path = VAR / "demo-whatsapp-cloud"
    if not path.exists():
        path.write_text("\n".join([
            f"WHATSAPP_CLOUD_APP_SECRET={secrets.token_hex(16)}", f"WHATSAPP_CLOUD_TOKEN={secrets.token_urlsafe(32)}",
            f"WHATSAPP_CLOUD_VERIFY_TOKEN={secrets.token_urlsafe(16)}", "WHATSAPP_CLOUD_PHONE_NUMBER_ID=100000000000001",
        ]) + "\n")
        path.chmod(0o600)
    return dict(line.split("=", 1) for line in path.read_text().split())


def main() -> int:
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    VAR.mkdir(exist_ok=True)
    env = stack.app_env()
    env.setdefault("DATABASE_URL", f"sqlite:///{VAR / 'shopdesk.db'}")
    env.setdefault("RASA_TRACKER_DB_URL", f"sqlite:///{VAR / 'rasa_tracker.db'}")
    env.setdefault("ATTACHMENT_DIR", str(VAR / "attachments"))  # customer data: 0600 files
    env.setdefault("ACTION_SERVER_URL", "http://127.0.0.1:5055/webhook")
    env.setdefault("RASA_URL", "http://127.0.0.1:5005")
    env.setdefault("GATEWAY_PORT", "8080")
    gateway_port = int(env["GATEWAY_PORT"])
    env.setdefault("PUBLIC_URL", f"http://localhost:{gateway_port}")
    if not env.get("AGENT_TOKENS"):
        env["AGENT_TOKENS"] = _agent_tokens()

    services: list[stack.Service] = []
    try:
        if not env.get("REDIS_URL"):
            services.append(stack.start_redis(stack.free_port(), VAR / "redis", LOGS))
            env["REDIS_URL"] = services[-1].url
            REDIS_URL_FILE.write_text(env["REDIS_URL"] + "\n")
            print(f"run: started an embedded Redis at {env['REDIS_URL']} (set REDIS_URL to use your own)", flush=True)

        upgrade(env["DATABASE_URL"])
        seed(env["DATABASE_URL"])
        model = rasa_model.train()

        if not env.get("TWILIO_ACCOUNT_SID") and not env.get("TWILIO_API_BASE"):
            port = stack.free_port()
            services.append(stack.start_twilio_standin(port, env, LOGS))
            env["TWILIO_API_BASE"] = services[-1].url
            print(f"run: no TWILIO_ACCOUNT_SID: WhatsApp replies go to the local Twilio stand-in at {env['TWILIO_API_BASE']}", flush=True)

        if not env.get("WHATSAPP_CLOUD_APP_SECRET"):
            env.update(_demo_cloud_credentials())
            services.append(stack.start_whatsapp_cloud_standin(stack.free_port(), env, LOGS))
            env["WHATSAPP_CLOUD_API_BASE"] = services[-1].url
            print("run: no WHATSAPP_CLOUD_APP_SECRET: Cloud API replies go to the local Graph API stand-in at "
                  f"{env['WHATSAPP_CLOUD_API_BASE']} (demo credentials in {VAR / 'demo-whatsapp-cloud'})", flush=True)

        action_port = _port(env["ACTION_SERVER_URL"], 5055)
        rasa_port = _port(env["RASA_URL"], 5005)
        _require_free(action_port, "the action server", "ACTION_SERVER_URL")
        _require_free(rasa_port, "Rasa", "RASA_URL")
        _require_free(gateway_port, "the gateway", "GATEWAY_PORT")

        services.append(stack.start_action_server(action_port, env, LOGS))
        endpoints = stack.write_endpoints(VAR / "endpoints.yml", env)
        print("run: starting Rasa (loading the model takes a little while)", flush=True)
        services.append(stack.start_rasa(rasa_port, model, endpoints, env, LOGS))
        services.append(stack.start_gateway(gateway_port, env, None))

        agent = env["AGENT_TOKENS"].split(",")[0]
        print(
            "\nshopdesk is running\n"
            f"  web chat demo:  http://localhost:{gateway_port}/\n"
            f"  agent console:  http://localhost:{gateway_port}/agent  (sign in as {agent.split(':')[0]!r} with token {agent.split(':', 1)[1]!r})\n"
            f"  WhatsApp hooks: {env['PUBLIC_URL']}/webhooks/twilio/whatsapp (Twilio), "
            f"{env['PUBLIC_URL']}/webhooks/whatsapp/cloud (Meta's Cloud API)\n"
            f"  logs:           {LOGS}\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        while True:
            for service in services:
                if service.process.poll() is not None:
                    print(f"run: {service.name} exited with {service.process.returncode}; stopping\n{service.log_tail()}", flush=True)
                    return 1
            time.sleep(0.5)
    except Stop as stop:
        print(f"run: {stop} received, stopping", flush=True)
        return 0
    except stack.ServiceFailed as failure:
        print(f"run: {failure}", flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for service in reversed(services):
            service.stop()
        if any(service.name == "redis" for service in services):
            REDIS_URL_FILE.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
