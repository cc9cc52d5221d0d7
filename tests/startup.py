"""Load the settings in a fresh interpreter, as a deployment starts, with a controlled environment.

Only a few variables pass through from the test run (PATH and friends), so DATABASE_URL or a vault
key in the developer's shell cannot change what a start-up test sees. `production=True` starts from a
complete, valid production environment; pass NAME=None to remove a variable, NAME="..." to set one.

Such a test never sees the run's DATABASE_URL or REDIS_URL, so it runs alike in both of .ci/run's
modes: it must be marked `own_environment` (run once, in the default mode), and start_settings refuses
to run in a test that is not (conftest.py tells it which test is running).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSTHROUGH = {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}
SETUP_ONLY = "import django; django.setup()"
# The pytest item running now, set by conftest.py around each test (None outside pytest).
running_test = None
PRODUCTION_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": "s" * 50,
    "ALLOWED_HOSTS": "gateway.example.com",
    "VAULT_MASTER_KEYS": "v1:" + "A" * 43 + "=",
    "VAULT_FINGERPRINT_PEPPER": "p" * 40,
    "PAT_PEPPER": "q" * 40,
    "AUDIT_CHAIN_KEYS": "v1:" + "c" * 40,
}


def start_settings(
    var_dir: Path, *, code: str = SETUP_ONLY, production: bool = True, **env: str | None
) -> subprocess.CompletedProcess:
    if running_test is not None and not running_test.get_closest_marker("own_environment"):
        raise AssertionError(
            f"{running_test.nodeid} starts a process with an environment of its own: mark it "
            "@pytest.mark.own_environment, so .ci/run runs it once (in the default mode), not twice."
        )
    environment = {key: value for key, value in os.environ.items() if key in PASSTHROUGH}
    environment.update(DJANGO_SETTINGS_MODULE="config.settings", VAR_DIR=str(var_dir))
    if production:
        environment.update(PRODUCTION_ENV)
    for name, value in env.items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
