"""`make run` (scripts/run.sh): a fresh PostgreSQL database, and stopping cleanly."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connection

from tests.test_celery_worker import wait_until

ROOT = Path(__file__).resolve().parent.parent
RUN = str(ROOT / "scripts" / "run.sh")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_env(var_dir: Path, **extra: str) -> dict[str, str]:
    # A developer's shell: the venv first on PATH (as the Makefile puts it), nothing else configured.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return {"PATH": path, "HOME": str(var_dir), "APP_ENV": "development",
            "VAR_DIR": str(var_dir), "HOST": "127.0.0.1", **extra}  # fmt: skip


def session_members(session_id: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command name: state, ppid, pgrp, session.
        if int(fields[3]) == session_id and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory) -> Path:
    # Shared by both runs: the second one's migrate has nothing to do.
    return tmp_path_factory.mktemp("run-var")


def start_product(var_dir: Path, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [RUN], cwd=ROOT, env=run_env(var_dir, PORT=str(port)), stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    assert wait_until(up, timeout=180, interval=0.5), f"never answered; exit={process.poll()}\n{log.read_text()}"
    # The worker (with beat) is up too, so the stop below has all three to end.
    assert wait_until(lambda: " ready." in log.read_text(), timeout=120), log.read_text()[-3000:]
    return process, port


@pytest.mark.parametrize(
    ("how", "deliver"),
    [
        # `kill <pid>`, or make passing on its TERM: only the script receives it.
        ("TERM to the script", lambda process: os.kill(process.pid, signal.SIGTERM)),
        # Ctrl-C: the terminal signals the whole foreground process group.
        ("Ctrl-C", lambda process: os.killpg(process.pid, signal.SIGINT)),
    ],
    ids=["term", "ctrl-c"],
)
@pytest.mark.own_environment
@pytest.mark.slow
def test_a_signal_stops_web_worker_and_beat_with_exit_0_leaving_nothing(var_dir, tmp_path, how, deliver):
    log = tmp_path / "run.log"
    process, port = start_product(var_dir, log)
    assert len(session_members(process.pid)) >= 3  # the script, uvicorn, the worker (and its pool)

    deliver(process)

    try:
        returncode = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"{how}: run.sh still running after 20 s\n{log.read_text()[-3000:]}")
    assert returncode == 0, log.read_text()[-3000:]
    assert wait_until(lambda: session_members(process.pid) == [], timeout=10), (
        f"{how}: left running: {session_members(process.pid)}"
    )
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)


def postgres_url(database: str, user: str = "") -> str:
    settings = connection.settings_dict
    return f"postgres://{user or settings['USER']}@{settings['HOST']}:{settings['PORT'] or 5432}/{database}"


@pytest.fixture
def postgres(db):
    """An autocommit connection: roles and databases must be visible to the processes started."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        yield admin


@pytest.mark.postgres
def test_database_ensure_creates_a_missing_database_when_the_role_may(postgres, tmp_path):
    name = f"gw_deploy_fresh_{uuid.uuid4().hex[:8]}"
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "database_ensure"], cwd=ROOT,
            env=run_env(tmp_path, DATABASE_URL=postgres_url(name)), capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"Created PostgreSQL database '{name}'" in result.stdout
        assert postgres.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    finally:
        postgres.execute(f'DROP DATABASE IF EXISTS "{name}"')


def error_lines(stderr: str) -> list[str]:
    # A fresh checkout's first start also announces the development secrets it generated into var/.
    return [line for line in stderr.strip().splitlines() if not line.startswith("!!! Generated a DEVELOPMENT")]


@pytest.mark.postgres
def test_make_run_stops_at_once_with_one_line_when_the_role_may_not_create_the_database(postgres, tmp_path):
    role = f"gw_deploy_nocreate_{uuid.uuid4().hex[:8]}"
    postgres.execute(f'CREATE ROLE "{role}" LOGIN NOCREATEDB')
    try:
        result = subprocess.run(
            [RUN], cwd=ROOT, env=run_env(tmp_path, DATABASE_URL=postgres_url("gw_deploy_missing", role), PORT="1"),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        postgres.execute(f'DROP ROLE "{role}"')
    assert result.returncode == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "'gw_deploy_missing' does not exist" in lines[0]
    assert f"role {role} may not create it" in lines[0] and "createdb" in lines[0]
    assert "FATAL" not in result.stdout + result.stderr


def test_make_run_stops_at_once_with_one_line_when_postgresql_is_unreachable(tmp_path):
    port = free_port()  # nothing listens there
    result = subprocess.run(
        [RUN], cwd=ROOT, env=run_env(tmp_path, DATABASE_URL=f"postgres://app@127.0.0.1:{port}/gateway", PORT="1"),
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"CommandError: Cannot connect to PostgreSQL at 127.0.0.1:{port} as app: Connection refused. "
        "Start PostgreSQL or fix the host, user and password in DATABASE_URL."
    ]
