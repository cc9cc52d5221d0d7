"""The production start without Docker (README, "Running in production without Docker"): a fresh
checkout's `scripts/run.sh` with APP_ENV=production serves its pages, static files included (without
collected static files and their manifest every page was a 500)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from apps.core.management.commands.static_ensure import static_files_current
from tests.startup import PRODUCTION_ENV
from tests.test_celery_worker import wait_until
from tests.test_compose_runtime import stop
from tests.test_run_script import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.own_environment
@pytest.mark.slow
def test_a_production_start_on_a_fresh_checkout_serves_pages_and_their_static_files(tmp_path):
    port = free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        **PRODUCTION_ENV,
        "ALLOWED_HOSTS": "127.0.0.1",
        "VAR_DIR": str(tmp_path),  # nothing collected there yet
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return process.poll() is not None  # stop waiting once it has died

        assert wait_until(up, timeout=300, interval=0.5) and process.poll() is None, log.read_text()[-3000:]
        page = httpx.get(f"{base}/accounts/login/", timeout=10)
        assert page.status_code == 200, log.read_text()[-3000:]
        stylesheet = re.search(r'href="(/static/web/site\.[0-9a-f]{12}\.css)"', page.text)
        assert stylesheet, page.text[:2000]
        assert httpx.get(f"{base}{stylesheet.group(1)}", timeout=10).status_code == 200
    finally:
        stop(process)


def test_static_files_count_as_current_only_with_a_manifest_newer_than_every_source(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    assert not static_files_current()

    manifest = tmp_path / "staticfiles.json"
    manifest.write_text('{"paths": {}, "version": "1.1"}')
    assert static_files_current()

    source = Path(settings.STATICFILES_DIRS[0]) / "web" / "site.css"
    os.utime(manifest, (time.time(), source.stat().st_mtime - 60))
    assert not static_files_current()


def test_with_debug_on_nothing_needs_collecting(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    assert static_files_current()
    call_command("static_ensure")  # returns at once
