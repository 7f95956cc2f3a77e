"""`make units`: a systemd unit for every process `make run` starts, from the same settings.

Writes into UNITS_DIR (default var/units): `shopdesk-<process>.service` for each entry of
scripts/services.py, `shopdesk.target` (starts them all), and `shopdesk.env` (the settings,
mode 0600: it holds tokens). Ports are the fixed defaults rather than free ones: embedded Redis
6379, Twilio stand-in 8099, gateway health ports 9181, 9182, …  The restart policy is the one
of `make run`: restart always, backoff 1 s → 30 s (systemd ≥ 254; older ones restart every
second), at most RESTART_LIMIT starts within 10 minutes. See docs/deploy.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import model as rasa_model  # noqa: E402
import services  # noqa: E402
import stack  # noqa: E402
from supervisor import CRASH_WINDOW, Policy, Spec  # noqa: E402

from bot.secret_files import var_dir  # noqa: E402

VAR = var_dir()
# The settings a shopdesk process reads (the configuration table of README.md), by prefix.
SETTING_PREFIXES = (
    "DATABASE_", "REDIS_", "RASA_", "ACTION_SERVER_", "PUBLIC_URL", "GATEWAY_", "TWILIO_", "AGENT_",
    "BUSINESS_HOURS", "MAX_MESSAGE_", "RATE_LIMIT_", "ROUTER_", "QUEUE_", "WHATSAPP_", "SHOP_", "SHOPDESK_",
    "ALERT_", "RETENTION_", "COMPLAINT_", "STANDIN_", "PYTHONPATH",
)


def _settings(env: dict[str, str]) -> dict[str, str]:
    # Without make run's supervisor state file: systemd counts restarts itself (NRestarts).
    return {k: v for k, v in sorted(env.items()) if k.startswith(SETTING_PREFIXES) and k != "SHOPDESK_SERVICES_FILE"}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def unit(spec: Spec, after: list[str], common: dict[str, str], policy: Policy, units_dir: Path) -> str:
    """One process's unit: its settings beyond the shared file, its command, make run's restart policy."""
    own = {k: v for k, v in _settings(spec.env).items() if common.get(k) != v}
    requires = " ".join(f"shopdesk-{name}.service" for name in after)
    if spec.listen_port is not None:  # systemd holds the port (shopdesk-<name>.socket) across restarts
        requires = f"{requires} shopdesk-{spec.name}.socket".strip()
    pre: list[str] = []
    if spec.name == "rasa":  # Rasa's endpoints.yml from the same settings, written before each start
        pre = [f"ExecStartPre={stack.APP_PYTHON} {ROOT / 'scripts' / 'rasa_endpoints.py'} {VAR / 'endpoints.yml'}"]
    elif spec.name == "gateway-1":  # the schema before the first gateway answers
        pre = [f"ExecStartPre={stack.APP_PYTHON} -m db.migrate"]
    lines = [
        "[Unit]",
        f"Description={spec.description}",
        "PartOf=shopdesk.target",
        f"After=network-online.target {requires}".rstrip(),
        *([f"Wants={requires}"] if requires else []),
        f"StartLimitIntervalSec={CRASH_WINDOW:.0f}",
        f"StartLimitBurst={policy.restart_limit}",
        "",
        "[Service]",
        "Type=simple",
        "UMask=0077",  # what it writes (databases, logs, endpoints.yml with the Redis password) is its owner's only
        f"WorkingDirectory={spec.cwd or ROOT}",
        f"EnvironmentFile={units_dir / 'shopdesk.env'}",
        *(f"Environment={_quote(f'{k}={v}'.replace('%', '%%'))}" for k, v in own.items()),
        *pre,
        f"ExecStart={' '.join(spec.command)}",
        "Restart=always",
        f"RestartSec={policy.backoff_base:g}",
        "RestartSteps=5",
        f"RestartMaxDelaySec={policy.backoff_max:g}",
        "KillMode=control-group",
        "TimeoutStopSec=10",
        "",
        "[Install]",
        "WantedBy=shopdesk.target",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    target = Path(os.environ.get("UNITS_DIR") or VAR / "units").resolve()
    target.mkdir(parents=True, exist_ok=True)
    env = stack.app_env()
    layout = services.settle(env, VAR, services.PortPicker(free=False))
    policy = Policy.from_env(env)
    specs = services.specs(layout, rasa_model.model_path(), VAR / "endpoints.yml")
    common = _settings(env)
    env_file = target / "shopdesk.env"
    env_file.write_text("".join(f"{k}={_quote(v)}\n" for k, v in common.items()))
    env_file.chmod(0o600)
    names: list[str] = []
    for spec in specs:
        (target / f"shopdesk-{spec.name}.service").write_text(unit(spec, names, common, policy, target))
        if spec.listen_port is not None:
            (target / f"shopdesk-{spec.name}.socket").write_text(
                f"[Unit]\nDescription={spec.description} (its port, held across restarts)\nPartOf=shopdesk.target\n\n"
                f"[Socket]\nListenStream={spec.listen_host}:{spec.listen_port}\nBacklog=512\n\n[Install]\nWantedBy=sockets.target\n"
            )
        names.append(spec.name)
    wants = " ".join(f"shopdesk-{name}.service" for name in names)
    (target / "shopdesk.target").write_text(
        "[Unit]\nDescription=shopdesk: every process of the shop's assistant\n"
        f"Wants={wants}\nAfter={wants}\n\n[Install]\nWantedBy=multi-user.target\n"
    )
    print(f"units: wrote {len(names)} services (the action server's port as a .socket unit), shopdesk.target and shopdesk.env into {target}\n"
          f"  install: sudo cp {target}/shopdesk*.service {target}/shopdesk*.socket {target}/shopdesk.target "
          "/etc/systemd/system/ && sudo systemctl daemon-reload "
          "&& sudo systemctl enable --now shopdesk.target   (see docs/deploy.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
