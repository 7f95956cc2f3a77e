"""The action server (rasa-sdk on the `actions` package) on a listening socket it is handed.

`make run`'s supervisor binds the action port once and hands the socket to every start of this
process (LISTEN_FD); a systemd socket unit hands it as fd 3 (LISTEN_FDS=1). While the process
restarts after a crash the socket stays open, so Rasa's calls wait in its backlog and are
answered by the next process instead of being refused (which Rasa would take as "the action
failed" and answer the customer with nothing).

    LISTEN_FD=5 python scripts/action_server.py
"""

from __future__ import annotations

import logging
import os
import socket
import sys

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

SYSTEMD_FIRST_FD = 3


def listening_socket() -> socket.socket:
    if os.environ.get("LISTEN_FD"):
        return socket.socket(fileno=int(os.environ["LISTEN_FD"]))
    if os.environ.get("LISTEN_FDS") == "1":
        return socket.socket(fileno=SYSTEMD_FIRST_FD)
    raise SystemExit("scripts/action_server.py needs a listening socket: LISTEN_FD, or LISTEN_FDS=1 from systemd")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    executor = ActionExecutor()
    executor.register_package("actions")
    create_app(executor).run(sock=listening_socket(), single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    sys.exit(main())
