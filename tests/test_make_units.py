"""`make units`: a systemd unit for every process `make run` starts, with its restart policy and settings."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import stack  # scripts/ is on sys.path through tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent


def _unit(path: Path) -> dict[str, list[str]]:
    """`key=value` lines of a unit file, every value of a repeated key."""
    keys: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            keys.setdefault(key, []).append(value)
    return keys


def _make_units(tmp_path: Path, **settings: str) -> Path:
    units = tmp_path / "units"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "TWILIO_", "WHATSAPP_", "GATEWAY_", "RESTART_"))}
    env.update(SHOPDESK_VAR=str(tmp_path / "var"), UNITS_DIR=str(units), **settings)
    result = subprocess.run(["make", "-s", "units"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return units


def test_units_for_every_process_with_make_runs_restart_policy(tmp_path: Path) -> None:
    units = _make_units(tmp_path, GATEWAY_PROCESSES="2", RESTART_LIMIT="4", AGENT_TOKENS="anna:secret-token-0123456789abcdef")
    names = sorted(p.name for p in units.glob("*.service"))
    assert names == [
        "shopdesk-actions.service", "shopdesk-gateway-1.service", "shopdesk-gateway-2.service",
        "shopdesk-rasa.service", "shopdesk-redis.service", "shopdesk-twilio-standin.service",
        "shopdesk-whatsapp-cloud-standin.service",
    ]
    for name in names:
        unit = _unit(units / name)
        assert unit["Restart"] == ["always"] and unit["RestartSec"] == ["1"] and unit["RestartMaxDelaySec"] == ["30"]
        assert unit["StartLimitBurst"] == ["4"] and unit["StartLimitIntervalSec"] == ["600"]
        assert unit["EnvironmentFile"] == [str(units / "shopdesk.env")]
        assert unit["WantedBy"] == ["shopdesk.target"]
        assert unit["UMask"] == ["0077"]  # var/ files hold secrets and customer data
    # the action server's port is held by systemd across its restarts (scripts/action_server.py takes fd 3)
    assert _unit(units / "shopdesk-actions.socket")["ListenStream"] == ["127.0.0.1:5055"]
    assert "shopdesk-actions.socket" in _unit(units / "shopdesk-actions.service")["Wants"][0]
    rasa = _unit(units / "shopdesk-rasa.service")
    assert rasa["ExecStart"][0].startswith(f"{stack.RASA} run --enable-api --model ")
    assert "shopdesk-redis.service" in rasa["After"][0] and "shopdesk-actions.service" in rasa["After"][0]
    second = _unit(units / "shopdesk-gateway-2.service")
    assert second["ExecStart"] == [f"{stack.APP_PYTHON} -m bot"]
    assert '"GATEWAY_REUSE_PORT=1"' in second["Environment"] and '"GATEWAY_HEALTH_PORT=9182"' in second["Environment"]
    assert _unit(units / "shopdesk-redis.service")["ExecStart"][0].endswith("--appendonly yes --appendfsync always")
    target = _unit(units / "shopdesk.target")
    assert all(name in target["Wants"][0] for name in names)

    env_file = units / "shopdesk.env"
    assert env_file.stat().st_mode & 0o777 == 0o600  # it holds the agents' tokens
    settings = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert settings["AGENT_TOKENS"] == '"anna:secret-token-0123456789abcdef"'
    password = (tmp_path / "var" / "redis-password").read_text().strip()  # the embedded Redis's requirepass
    assert settings["REDIS_URL"] == f'"redis://:{password}@127.0.0.1:6379/0"'
    assert "SHOPDESK_SERVICES_FILE" not in settings and "PATH" not in settings


def test_units_leave_out_what_the_settings_provide(tmp_path: Path) -> None:
    units = _make_units(
        tmp_path, REDIS_URL="redis://redis.internal:6379/2", TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="tok", WHATSAPP_CLOUD_APP_SECRET="secret", WHATSAPP_CLOUD_TOKEN="token",
    )
    names = sorted(p.name for p in units.glob("*.service"))
    assert names == ["shopdesk-actions.service", "shopdesk-gateway-1.service", "shopdesk-rasa.service"]
    assert "GATEWAY_REUSE_PORT=0" in (units / "shopdesk-gateway-1.service").read_text()
