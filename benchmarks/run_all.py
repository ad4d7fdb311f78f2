"""Runs every benchmark script in this folder in turn (``make bench``); each prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n##### {script.name}", flush=True)
        if subprocess.run([sys.executable, str(script), *sys.argv[1:2]], check=False).returncode:
            failed.append(script.name)
    if failed:
        print(f"\nbenchmarks that failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
