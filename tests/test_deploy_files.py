"""No Docker engine runs here, so the compose file is checked by reading it (and, in
tests/test_compose_runtime.py, by running what it declares)."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]


def test_the_production_services_are_all_there():
    assert {"web", "worker", "beat", "postgres", "redis", "migrate"} <= set(SERVICES)


@pytest.mark.parametrize("name", ["web", "worker", "beat", "postgres", "redis"])
def test_long_running_services_have_health_checks(name):
    assert SERVICES[name]["healthcheck"]["test"]


def test_worker_and_beat_checks_ping_their_own_container_not_the_web_port():
    worker = " ".join(SERVICES["worker"]["healthcheck"]["test"])
    beat = " ".join(SERVICES["beat"]["healthcheck"]["test"])
    # $$ is compose's escape: the container's shell expands $HOSTNAME, not compose on the host.
    assert "inspect ping --destination celery@$$HOSTNAME" in worker
    assert "inspect ping --destination celerybeat@$$HOSTNAME" in beat
    assert "--enable-remote-control" in SERVICES["beat"]["command"]
    assert "8000" not in worker + beat
    # The one-shot migrate job must not inherit the image's web check.
    assert SERVICES["migrate"]["healthcheck"] == {"disable": True}


def test_env_example_holds_no_secret_placeholders():
    text = (ROOT / ".env.example").read_text()
    names = {line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}
    secrets = {"SECRET_KEY", "POSTGRES_PASSWORD", "VAULT_MASTER_KEYS", "VAULT_FINGERPRINT_PEPPER", "PAT_PEPPER",
               "AUDIT_CHAIN_KEYS"}  # fmt: skip
    assert not names & secrets
    assert "generate_secrets" in text


def test_kombu_control_files_are_not_tracked_and_are_ignored():
    tracked = subprocess.run(["git", "ls-files", "control"], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout == ""
    assert "/control/" in (ROOT / ".gitignore").read_text().splitlines()
    assert "control" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_filesystem_broker_keeps_its_control_folder_under_var(tmp_path):
    # A broadcast (what `celery inspect ping` sends) makes kombu write its exchange bindings.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    code = "import django; django.setup(); from config.celery import app; app.control.ping(timeout=0.2)"
    environment = {"PATH": os.environ["PATH"], "APP_ENV": "development", "VAR_DIR": str(tmp_path / "var"),
                   "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "config.settings"}  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=environment, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert list(cwd.iterdir()) == []
    assert list((tmp_path / "var" / "celery" / "control").glob("*.exchange"))


def test_data_lives_in_named_volumes():
    declared = set(COMPOSE["volumes"])
    for name in ("postgres", "redis"):
        for volume in SERVICES[name]["volumes"]:
            source = volume.split(":", 1)[0]
            assert source in declared, f"{name} mounts {source}, which is not a named volume"


def test_app_services_build_from_a_dockerfile_in_the_repo():
    for name in ("web", "worker", "beat", "migrate"):
        context = SERVICES[name]["build"]
        assert (ROOT / context / "Dockerfile").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        assert (ROOT / copied).exists(), f"Dockerfile copies {copied}, which does not exist"


def _check_command(command: list[str]) -> None:
    program = command[0]
    if program == "uvicorn":
        module_name, attribute = command[1].split(":")
        assert hasattr(importlib.import_module(module_name), attribute)
    elif program == "celery":
        app_module = command[command.index("-A") + 1]
        assert hasattr(importlib.import_module(app_module), "celery_app")
        if "--scheduler" in command:
            dotted = command[command.index("--scheduler") + 1]
            module_name, attribute = dotted.split(":")
            assert hasattr(importlib.import_module(module_name), attribute)
    elif program == "python":
        assert (ROOT / command[1]).is_file()
        if command[1] == "manage.py":
            from django.core.management import get_commands

            assert command[2] in get_commands()
    elif program == "./scripts/web.sh":
        script = ROOT / "scripts" / "web.sh"
        assert os.access(script, os.X_OK)
        start = re.search(r"^exec uvicorn (\S+)", script.read_text(), re.M)
        assert start is not None
        module_name, attribute = start.group(1).split(":")
        assert hasattr(importlib.import_module(module_name), attribute)
    elif program in {"redis-server"}:
        return
    else:
        raise AssertionError(f"unexpected program {program!r}")


@pytest.mark.parametrize("name", ["web", "worker", "beat", "migrate", "redis"])
def test_each_service_command_refers_to_something_that_exists(name):
    _check_command(SERVICES[name]["command"])


def test_the_image_default_command_exists():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", dockerfile, re.M)
    assert cmd is not None
    _check_command(yaml.safe_load(cmd.group(1)))


def test_app_services_get_database_and_redis_from_the_environment():
    for name in ("web", "worker", "beat", "migrate"):
        environment = SERVICES[name]["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["REDIS_URL"].startswith("redis://redis:")
        assert environment["APP_ENV"] == "production"
