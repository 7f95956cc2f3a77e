"""`make bench`: every benchmark in bench/, one after the other (each prints its own ratios or targets)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in [*sorted(HERE.glob("*_latency.py")), HERE / "reports.py"]:
        print(f"\n=== {script.name}", flush=True)
        failed |= subprocess.call([sys.executable, str(script)], cwd=HERE.parent) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
