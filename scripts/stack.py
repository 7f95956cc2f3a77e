"""Starting the processes of shopdesk: shared by `make run` (scripts/run.py), the tests and the benchmarks.

Each `start_*` returns a `Service`: the Popen plus the address it answers on, once it answers.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_PYTHON = ROOT / ".venv" / "app" / "bin" / "python"
RASA = ROOT / ".venv" / "rasa" / "bin" / "rasa"


class ServiceFailed(RuntimeError):
    pass


@dataclass
class Service:
    name: str
    process: subprocess.Popen
    url: str
    log_path: Path | None = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(name: str, cmd: list[str], env: dict[str, str], log_dir: Path | None) -> tuple[subprocess.Popen, Path | None]:
    log_path = None
    out = None
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        out = open(log_path, "ab")
    try:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT if out else None)
    finally:
        if out is not None:
            out.close()  # the child writes through its own copy of the descriptor
    return process, log_path


def wait_until(service: Service, ready, timeout: float) -> Service:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise ServiceFailed(f"{service.name} exited with {service.process.returncode}:\n{service.log_tail()}")
        if ready():
            return service
        time.sleep(0.2)
    service.stop()
    raise ServiceFailed(f"{service.name} did not answer within {timeout:.0f} s:\n{service.log_tail()}")


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except (urllib.error.URLError, OSError):
        return False


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def http_answers(url: str, timeout: float) -> bool:
    """Any HTTP answer within the timeout: the process is alive (a 503 of /healthz names a
    dependency that is down, not this process)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False


def http_200(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def reachable(host: str) -> str:
    """The address to connect to a server bound to `host` (a wildcard bind answers on loopback)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def redis_url(host: str, port: int, password: str | None) -> str:
    auth = f":{password}@" if password else ""
    return f"redis://{auth}{reachable(host)}:{port}/0"


def redis_pong(port: int, timeout: float, password: str | None = None, host: str = "127.0.0.1") -> bool:
    """Redis's PING answered with PONG within the timeout (after AUTH when it has a password)."""
    request = b"PING\r\n"
    if password:
        secret = password.encode()
        request = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + request
    try:
        with socket.create_connection((reachable(host), port), timeout=timeout) as s:
            s.sendall(request)
            answer = b""
            while answer.count(b"\r\n") < (2 if password else 1):
                chunk = s.recv(256)
                if not chunk:
                    break
                answer += chunk
            return answer.splitlines()[-1:] == [b"+PONG"]
    except OSError:
        return False


def redis_command(port: int, data_dir: Path | None, host: str = "127.0.0.1", config: Path | None = None) -> list[str]:
    """With a data directory: every write in the append-only file before it is acknowledged, so a
    Redis restarted after a crash has every conversation's inbox and state. `config`: a file that
    holds what must not be on the command line (every local user can read that): the password."""
    cmd = ["redis-server", *([str(config)] if config else []), "--bind", host, "--port", str(port), "--save", ""]
    if data_dir is None:
        return cmd + ["--appendonly", "no"]
    return cmd + ["--dir", str(data_dir), "--appendonly", "yes", "--appendfsync", "always"]


def write_redis_config(path: Path, password: str) -> Path:
    """redis.conf with `requirepass`, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"requirepass {password}\n")
    path.chmod(0o600)
    return path


def action_server_command(port: int) -> list[str]:
    return [str(APP_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port)]


def rasa_command(port: int, model: Path, endpoints: Path, host: str = "127.0.0.1") -> list[str]:
    return [str(RASA), "run", "--enable-api", "--model", str(model), "--endpoints", str(endpoints),
            "--credentials", str(ROOT / "credentials.yml"), "--port", str(port), "--interface", host]


GATEWAY_COMMAND = [str(APP_PYTHON), "-m", "bot"]


def start_redis(port: int, data_dir: Path | None, log_dir: Path | None, password: str | None = None) -> Service:
    """With a password (the embedded Redis of `make run` has one): its config file goes into
    `data_dir` and the url carries it."""
    config = None
    if data_dir is not None:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if password:
        if data_dir is None:
            raise ValueError("a Redis with a password needs a data directory for its config file")
        config = write_redis_config(data_dir / "redis.conf", password)
    process, log = _spawn("redis", redis_command(port, data_dir, config=config), dict(os.environ), log_dir)
    service = Service("redis", process, redis_url("127.0.0.1", port, password), log)
    return wait_until(service, lambda: redis_pong(port, 1.0, password), 15)


def start_action_server(port: int, env: dict[str, str], log_dir: Path | None) -> Service:
    process, log = _spawn("actions", action_server_command(port), env, log_dir)
    service = Service("action server", process, f"http://127.0.0.1:{port}/webhook", log)
    return wait_until(service, lambda: http_ok(f"http://127.0.0.1:{port}/health"), 60)


def start_rasa(port: int, model: Path, endpoints: Path, env: dict[str, str], log_dir: Path | None) -> Service:
    process, log = _spawn("rasa", rasa_command(port, model, endpoints), env, log_dir)
    service = Service("rasa", process, f"http://127.0.0.1:{port}", log)
    return wait_until(service, lambda: _rasa_ready(port), 180)


def _rasa_ready(port: int) -> bool:
    return http_200(f"http://127.0.0.1:{port}/status", 2)


def write_endpoints(target: Path, env: dict[str, str]) -> Path:
    subprocess.run([str(APP_PYTHON), str(ROOT / "scripts" / "rasa_endpoints.py"), str(target)], env=env, check=True)
    return target


def standin_command(module: str, port: int, host: str = "127.0.0.1") -> list[str]:
    """A channel's stand-in (bot/channels/folder.py `StandIn`): its module run with host and port."""
    return [str(APP_PYTHON), "-m", module, "--host", host, "--port", str(port)]


def start_standin(name: str, module: str, port: int, env: dict[str, str], log_dir: Path | None) -> Service:
    process, log = _spawn(name, standin_command(module, port), env, log_dir)
    service = Service(name, process, f"http://127.0.0.1:{port}", log)
    return wait_until(service, lambda: port_open(port), 30)


def start_gateway(port: int, env: dict[str, str], log_dir: Path | None, name: str = "gateway") -> Service:
    env = {**env, "GATEWAY_PORT": str(port)}
    process, log = _spawn(name, GATEWAY_COMMAND, env, log_dir)
    service = Service(name, process, f"http://127.0.0.1:{port}", log)
    return wait_until(service, lambda: port_open(port), 60)


def app_env(**overrides: str) -> dict[str, str]:
    """The environment for a child process: ours, plus the project on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(overrides)
    return env


if __name__ == "__main__":
    sys.exit("scripts/stack.py is a library; see scripts/run.py")
