"""`make shell`: talk to the bot in the terminal (Rasa's shell), with the action server running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import model as rasa_model  # noqa: E402
import stack  # noqa: E402

from bot.secret_files import var_dir  # noqa: E402
from db.migrate import upgrade  # noqa: E402


def main() -> int:
    var = var_dir()
    var.mkdir(parents=True, exist_ok=True)
    env = stack.app_env()
    env.setdefault("DATABASE_URL", f"sqlite:///{var / 'shopdesk.db'}")
    upgrade(env["DATABASE_URL"])
    from actions.demo_orders import seed

    seed(env["DATABASE_URL"])
    model = rasa_model.train()
    actions = stack.start_action_server(stack.free_port(), env, var / "logs")
    env["ACTION_SERVER_URL"] = actions.url
    env["RASA_TRACKER_DB_URL"] = f"sqlite:///{var / 'rasa_shell_tracker.db'}"
    endpoints = stack.write_endpoints(var / "endpoints-shell.yml", env)
    try:
        return subprocess.call([str(stack.RASA), "shell", "--model", str(model), "--endpoints", str(endpoints)], cwd=ROOT, env=env)
    finally:
        actions.stop()


if __name__ == "__main__":
    sys.exit(main())
