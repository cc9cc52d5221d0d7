"""`make run|test|bench VENV=...` puts that virtualenv's bin first on PATH, relative or absolute."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


@pytest.mark.parametrize("target", ["run", "test", "bench"])
@pytest.mark.parametrize(("venv", "expected_bin"), [("/opt/gateway-venv", "/opt/gateway-venv/bin"),
                                                     ("venvs/dev", f"{ROOT}/venvs/dev/bin")])  # fmt: skip
def test_the_venv_given_to_make_is_first_on_path(target, venv, expected_bin):
    # -n prints the commands without running them (nothing is installed).
    dry_run = subprocess.run(
        ["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    (command,) = [line for line in dry_run.stdout.splitlines() if "./scripts/" in line]
    assert re.search(r"PATH=(\S+):\$PATH", command).group(1) == expected_bin
