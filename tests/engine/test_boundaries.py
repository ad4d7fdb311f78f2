"""Architecture rules: the engine never imports the UI stack; importing starts nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import ROOT

ENGINE_MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for p in (ROOT / "heatmap_engine").rglob("*.py")
)

PROBE = """
import sys, threading, socket
opened = []
real_socket = socket.socket
class Spy(real_socket):  # counts connections and listeners, not urllib3's IPv6 bind probe
    def connect(self, *a):
        opened.append(a)
        return super().connect(*a)
    def listen(self, *a):
        opened.append(a)
        return super().listen(*a)
socket.socket = Spy
import importlib
for name in sys.argv[1:]:
    importlib.import_module(name)
banned = sorted(m for m in sys.modules if m.split(".")[0] in {"dash", "flask", "plotly"})
print(threading.active_count(), len(opened), ",".join(banned))
"""


def test_engine_imports_no_ui_and_starts_nothing():
    assert "heatmap_engine.service" in ENGINE_MODULES
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *ENGINE_MODULES],
        capture_output=True,
        text=True,
        cwd=Path(ROOT),
        check=True,
    )
    threads, sockets, banned = result.stdout.strip().split(" ") + [""] * (
        3 - len(result.stdout.strip().split(" "))
    )
    assert threads == "1", "importing the engine started a thread"
    assert sockets == "0", "importing the engine opened a socket"
    assert banned == "", f"the engine pulled in {banned}"
