"""Keeps `make run`'s processes alive: restarts one that exits or stops answering its health check.

Each process is a `Spec` (name, command, environment, health probe). The `Supervisor` starts them
in order, then every `HEALTH_INTERVAL` seconds asks each its health probe (in a thread, with
`PROBE_TIMEOUT`): `HEALTH_FAILURES` failures in a row (a hung process, e.g. SIGSTOP'd) count as
a crash, like an exit. A crashed process is killed (its whole process group) and started again
after a backoff of `RESTART_BACKOFF_SECONDS` (1 s), doubling up to `RESTART_MAX_BACKOFF_SECONDS`
(30 s). The `RESTART_LIMIT`-th crash of one process within `CRASH_WINDOW` (10 minutes) gives up:
`GaveUp` names the process, why, its last log lines and what to do.

Every process runs in a process group of its own (so a Ctrl-C in the terminal reaches only the
supervisor, which stops them in order) and dies with the supervisor (the parent-death signal), so no
process outlives `make run`, not even after a kill -9 of it.

The restart counts, pids and states are written to `state_file` (JSON) after every change; the
gateway reads it for `shopdesk_service_restarts_total` on /metrics.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

HEALTH_INTERVAL = 2.0
PROBE_TIMEOUT = 3.0
HEALTH_FAILURES = 3
CRASH_WINDOW = 600.0
STOP_SECONDS = 12.0  # the whole ordered stop; what is still running then is killed


@dataclass(frozen=True)
class Policy:
    restart_limit: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Policy:
        return cls(
            restart_limit=max(1, int(env.get("RESTART_LIMIT") or cls.restart_limit)),
            backoff_base=float(env.get("RESTART_BACKOFF_SECONDS") or cls.backoff_base),
            backoff_max=float(env.get("RESTART_MAX_BACKOFF_SECONDS") or cls.backoff_max),
        )


@dataclass(frozen=True)
class Spec:
    """One process `make run` keeps alive; `make units` writes a systemd unit from the same."""

    name: str
    command: list[str]
    env: dict[str, str]
    probe: Callable[[float], bool]  # True when the process answers within the timeout given
    start_seconds: float  # from start to its first answer, at most
    description: str
    cwd: Path | None = None
    # The supervisor holds this loopback port's listening socket and hands it to every start
    # (LISTEN_FD): callers wait in its backlog across a restart instead of being refused.
    listen_port: int | None = None
    listen_host: str = "127.0.0.1"  # ACTION_SERVER_HOST for the action server


class State(str, Enum):
    starting = "starting"  # started, not answered yet
    running = "running"  # answered its health check
    waiting = "waiting"  # crashed; starts again after the backoff
    stopped = "stopped"


class GaveUp(RuntimeError):
    def __init__(self, service: str, reason: str, log_path: Path | None, tail: str, limit: int) -> None:
        self.service = service
        super().__init__(
            f"gave up on {service}: it crashed {limit} times within {CRASH_WINDOW / 60:.0f} minutes "
            f"(last: {reason}).\n"
            f"Its last log lines ({log_path}):\n{tail}\n"
            f"What to do: read {log_path}, fix what it says (a port taken, a broken model, a full disk, "
            f"a missing dependency), then start `make run` again. RESTART_LIMIT={limit} is the number "
            f"of crashes allowed within {CRASH_WINDOW / 60:.0f} minutes."
        )


class StartFailed(RuntimeError):
    pass


# util-linux's setpriv sets the parent-death signal and execs the command (same pid): a child
# gets SIGTERM when the supervisor dies, however it dies.
_SETPRIV = shutil.which("setpriv")


def _dies_with_parent(command: list[str]) -> list[str]:
    return [_SETPRIV, "--pdeathsig", "TERM", "--", *command] if _SETPRIV else command


@dataclass
class Process:
    spec: Spec
    log_dir: Path
    state: State = State.stopped
    popen: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    crashes: deque[float] = field(default_factory=deque)
    failures: int = 0  # health checks failed in a row
    started_at: float = 0.0
    next_probe: float = 0.0
    restart_at: float = 0.0
    crashed_at: float = 0.0
    probe_future: Future[bool] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.spec.name}.log"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def spawn(self, listening: socket.socket | None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env, fds = self.spec.env, tuple[int, ...]()
        if listening is not None:
            env, fds = {**env, "LISTEN_FD": str(listening.fileno())}, (listening.fileno(),)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                _dies_with_parent(self.spec.command), cwd=self.spec.cwd, env=env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True, pass_fds=fds,
            )
        self.state = State.starting
        self.started_at = time.monotonic()
        self.failures = 0
        self.next_probe = 0.0
        self.probe_future = None

    def exited(self) -> int | None:
        return self.popen.poll() if self.popen is not None else None

    def signal_group(self, signum: int) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """At once, with everything it started; waits for it."""
        if self.popen is None:
            return
        self.signal_group(signal.SIGCONT)  # a stopped process must wake to die in order
        self.signal_group(signal.SIGKILL)
        self.popen.wait()

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Supervisor:
    def __init__(self, log_dir: Path, state_file: Path, policy: Policy, say: Callable[[str], None]) -> None:
        self.log_dir = log_dir
        self.state_file = state_file
        self.policy = policy
        self.say = say
        self.processes: list[Process] = []
        self._sockets: dict[str, socket.socket] = {}  # by process name: see Spec.listen_port
        self._probes = ThreadPoolExecutor(max_workers=8, thread_name_prefix="probe")

    # -- starting -------------------------------------------------------------------------

    def start(self, spec: Spec) -> Process:
        """Starts one process and waits until it answers (at start-up, in order)."""
        process = Process(spec, self.log_dir)
        self.processes.append(process)
        if spec.listen_port is not None:
            self._sockets[spec.name] = socket.create_server((spec.listen_host, spec.listen_port), backlog=512)
        process.spawn(self._sockets.get(spec.name))
        self._write_state()
        deadline = time.monotonic() + spec.start_seconds
        while time.monotonic() < deadline:
            code = process.exited()
            if code is not None:
                raise StartFailed(f"{spec.name} exited with {code} at start:\n{process.log_tail()}")
            if spec.probe(PROBE_TIMEOUT):
                process.state = State.running
                process.next_probe = time.monotonic() + HEALTH_INTERVAL
                self._write_state()
                return process
            time.sleep(0.2)
        raise StartFailed(f"{spec.name} did not answer within {spec.start_seconds:.0f} s:\n{process.log_tail()}")

    # -- watching -------------------------------------------------------------------------

    def tick(self) -> None:
        """One look at every process; raises GaveUp when one crashed too often."""
        now = time.monotonic()
        for process in self.processes:
            if process.state is State.waiting:
                if now >= process.restart_at:
                    self._restart(process)
                continue
            if process.state not in (State.starting, State.running):
                continue
            code = process.exited()
            if code is not None:
                self._crashed(process, f"exited with {_exit_text(code)}")
                continue
            self._check_health(process, now)

    def _check_health(self, process: Process, now: float) -> None:
        future = process.probe_future
        if future is not None and future.done():
            process.probe_future = None
            answered = future.result()
            if answered:
                if process.state is State.starting:
                    self.say(f"{process.spec.name} answers again, {time.monotonic() - process.crashed_at:.1f} s after it crashed")
                    process.state = State.running
                    self._write_state()
                process.failures = 0
            elif process.state is State.running:
                process.failures += 1
                if process.failures >= HEALTH_FAILURES:
                    self._crashed(process, f"did not answer its health check {process.failures} times in a row (hung)")
                    return
        if process.state is State.starting and now - process.started_at > process.spec.start_seconds:
            self._crashed(process, f"did not answer within {process.spec.start_seconds:.0f} s of its start")
            return
        if process.probe_future is None and now >= process.next_probe:
            process.next_probe = now + (HEALTH_INTERVAL if process.state is State.running else 0.3)
            process.probe_future = self._probes.submit(process.spec.probe, PROBE_TIMEOUT)

    def _crashed(self, process: Process, reason: str) -> None:
        now = time.monotonic()
        process.kill()
        process.crashed_at = now
        process.crashes.append(now)
        while process.crashes and now - process.crashes[0] > CRASH_WINDOW:
            process.crashes.popleft()
        if len(process.crashes) >= self.policy.restart_limit:
            process.state = State.stopped
            self._write_state()
            raise GaveUp(process.spec.name, reason, process.log_path, process.log_tail(), self.policy.restart_limit)
        delay = min(self.policy.backoff_base * 2 ** (len(process.crashes) - 1), self.policy.backoff_max)
        process.state = State.waiting
        process.restart_at = now + delay
        self.say(f"{process.spec.name} {reason}; restarting in {delay:.1f} s "
                 f"(crash {len(process.crashes)} of {self.policy.restart_limit} allowed within "
                 f"{CRASH_WINDOW / 60:.0f} min; log: {process.log_path})")
        self._write_state()

    def _restart(self, process: Process) -> None:
        process.restarts += 1
        process.spawn(self._sockets.get(process.spec.name))
        self._write_state()

    # -- stopping -------------------------------------------------------------------------

    def stop(self) -> None:
        """In the reverse order of the start: SIGTERM, then SIGKILL for what outlives the budget."""
        deadline = time.monotonic() + STOP_SECONDS
        for process in reversed(self.processes):
            if process.popen is None or process.exited() is not None:
                process.state = State.stopped
                continue
            process.signal_group(signal.SIGCONT)
            process.signal_group(signal.SIGTERM)
            share = max(0.5, min(5.0, deadline - time.monotonic()))
            try:
                process.popen.wait(share)
            except subprocess.TimeoutExpired:
                self.say(f"{process.spec.name} did not stop within {share:.1f} s; killing it")
            process.kill()
            process.state = State.stopped
        for listening in self._sockets.values():
            listening.close()
        self._probes.shutdown(wait=False, cancel_futures=True)
        self._write_state()

    def kill_all(self) -> None:
        """The forced stop (a second Ctrl-C): everything at once."""
        for process in self.processes:
            process.signal_group(signal.SIGKILL)

    # -- the state file -------------------------------------------------------------------

    def _write_state(self) -> None:
        state = {"services": {
            p.spec.name: {"pid": p.pid, "state": p.state.value, "restarts": p.restarts} for p in self.processes
        }}
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_file)


def _exit_text(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
