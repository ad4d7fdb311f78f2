"""The model's compiled loop where numba cannot cache it: an install owned by another user,
no home directory, no ``NUMBA_CACHE_DIR`` (numba refuses ``cache=True`` there). The package
must still import and compute, compiling in the process instead."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import ROOT

NOBODY = 65534
SCRIPT = """
import numpy as np
from heatmap_engine.levels import Bar, LevelsBook, LevelsSettings, load_brackets, symbol_layout

settings = LevelsSettings.from_env({})
layout = symbol_layout(settings, "BTCUSDT", load_brackets())[0]
book = LevelsBook(layout, 3_600_000.0)
book.add_open_interest(0, 100.0, 100.0)
book.add_bar(Bar(0, 60_000, 100.0, 101.0, 99.0, 100.0, 10.0, 6.0))
book.add_open_interest(60_000, 110.0, 100.0)
print(settings.levels_half_life_hours, book.state.standing, book.state.placed[0])
"""


@pytest.fixture
def folder():
    path = Path(tempfile.mkdtemp(prefix="heatmap-ro-"))  # (pytest's tmp_path is root's only)
    yield path
    shutil.rmtree(path)


def test_the_model_runs_where_no_cache_location_is_writable(folder):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run the package as an unprivileged user")
    install = folder / "install"
    shutil.copytree(ROOT / "heatmap_engine", install / "heatmap_engine",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    folder.chmod(0o755)
    for path in [install, *install.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable, writable only by root
    env = {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "PYTHONPATH": str(install)}
    done = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
         sys.executable, "-W", "error", "-c", SCRIPT],
        cwd="/", env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    half_life, standing, long_placed = (float(v) for v in done.stdout.split())
    # 100 contracts at unknown levels; over the bar a share 1 - 2^(-1 min / half-life) of them
    # turns over and re-opens in it with the rise of 10: 6/10 of that long (its taker buys)
    turnover = 100.0 * (1 - 2 ** (-1 / (60 * half_life)))
    assert standing == pytest.approx(110.0, rel=1e-12)
    assert long_placed == pytest.approx(0.6 * (10.0 + turnover), rel=1e-9)
    assert not math.isclose(turnover, 0.0)
    assert not list(install.rglob("*.nbi"))  # nothing cached: there was nowhere to
