"""docker-compose.yml, run for real without Docker.

No Docker engine runs on the development machines, so this test does what the compose file declares
with the same programs: the environment is exactly the image's ENV, .env.example and the output of
the documented `manage.py generate_secrets`, plus the compose file's own `environment:` (with only
the service addresses pointed at this machine's PostgreSQL and Redis); then the migrate job, the
deploy checks, the documented create_operator step, and web, worker and beat with each one's own
health check, on loopback.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
from functools import partial
from pathlib import Path

import httpx
import pytest
import yaml

from tests.test_celery_worker import database_url_for_test_db, wait_until

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PASSTHROUGH = {"PATH", "LANG"}

pytestmark = pytest.mark.services  # the compose file's PostgreSQL and Redis
# What each service logs once it is up (uvicorn, the Celery worker, beat).
UP_LINES = {"web": "Application startup complete", "worker": " ready.", "beat": "beat: Starting"}


def dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"not NAME=value: {line!r}"
            values[name.strip()] = value.strip()
    return values


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    values: dict[str, str] = {}
    for statement in re.findall(r"^ENV (.+)$", text, re.M):
        values.update(item.split("=", 1) for item in shlex.split(statement))
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default}, ${NAME:?error} and $$ (a literal $)."""

    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = variables.get(name, "")
        if operator == ":?" and not current:
            raise AssertionError(f"compose would refuse to start: {argument}")
        if operator == ":-" and not current:
            return argument
        return current

    return re.sub(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", substitute, value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def production_env(transactional_db, tmp_path) -> dict[str, str]:
    image_env = dockerfile_env()
    base = {name: value for name, value in os.environ.items() if name in PASSTHROUGH}
    # The image's python, celery and uvicorn are this environment's.
    base["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{base.get('PATH', '')}"
    generated = subprocess.run(
        [sys.executable, "manage.py", "generate_secrets"],
        cwd=ROOT, env={**base, **image_env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    dot_env = {**dotenv((ROOT / ".env.example").read_text()), **dotenv(generated.stdout)}
    declared = {name: interpolate(str(value), dot_env) for name, value in COMPOSE["x-app"]["environment"].items()}
    assert declared["DATABASE_URL"] == f"postgres://gateway:{dot_env['POSTGRES_PASSWORD']}@postgres:5432/gateway"
    environment = {**base, **image_env, **dot_env, **declared}
    # Only where the services are: this machine's PostgreSQL (the test database) and Redis, and a
    # writable VAR_DIR instead of the image's /app/var.
    environment.update(
        DATABASE_URL=database_url_for_test_db(), REDIS_URL=os.environ["REDIS_URL"], VAR_DIR=str(tmp_path)
    )
    return environment


def run(command: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kwargs)


def healthcheck(service: str, env: dict[str, str], port: int) -> subprocess.Popen:
    test = [interpolate(part, {}) for part in SERVICES[service]["healthcheck"]["test"]]
    kind, *command = test
    command = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in command]
    if kind == "CMD-SHELL":
        command = ["sh", "-c", command[0]]
    else:
        assert kind == "CMD"
    # Docker sets HOSTNAME to the container's host name, which is what Celery names its nodes after.
    return subprocess.Popen(
        command, cwd=ROOT, env={**env, "HOSTNAME": socket.gethostname()},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def healthy(service: str, env: dict[str, str], port: int) -> bool:
    check = healthcheck(service, env, port)
    output, _ = check.communicate(timeout=int(SERVICES[service]["healthcheck"]["timeout"].rstrip("s")) + 30)
    healthy.last_output = output  # type: ignore[attr-defined]
    return check.returncode == 0


def start(service: str, env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    command = [str(part) for part in SERVICES[service]["command"]]
    if service == "web":
        # scripts/web.sh listens where the image's HOST and PORT say: loopback and a free port here.
        assert env["HOST"] == "0.0.0.0" and env["PORT"] == "8000"  # noqa: S104 - the image's values, replaced
        env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _up_or_ended(log: Path, up_line: str, process: subprocess.Popen) -> bool:
    return up_line in log.read_text() or process.poll() is not None


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_compose_services_start_and_pass_their_own_health_checks(production_env, tmp_path):
    env = production_env
    port = free_port()
    # Before worker and beat run, their checks must fail (a check that cannot fail proves nothing);
    # they run while the one-shot steps below do.
    premature = {name: healthcheck(name, env, port) for name in ("worker", "beat")}
    # The image build step (Dockerfile: collectstatic), so web serves the hashed static files.
    collectstatic = subprocess.Popen(
        [sys.executable, "manage.py", "collectstatic", "--no-input"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip

    migrate = run([str(part) for part in SERVICES["migrate"]["command"]], env)
    assert migrate.returncode == 0, migrate.stderr

    deploy_check = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert deploy_check.returncode == 0, deploy_check.stdout + deploy_check.stderr
    assert "System check identified no issues" in deploy_check.stdout, deploy_check.stdout + deploy_check.stderr

    password_file = tmp_path / "operator-password"
    password_file.write_text("violet-harbour-lantern-42\n")
    operator = run(
        [sys.executable, "manage.py", "create_operator", "--username", "ops", "--email", "ops@example.com",
         "--password-file", str(password_file)], env,
    )  # fmt: skip
    assert operator.returncode == 0, operator.stderr

    for name, check in premature.items():
        check.communicate(timeout=60)
        assert check.returncode != 0, f"{name}'s health check passed with no {name} running"

    collected, _ = collectstatic.communicate(timeout=120)
    assert collectstatic.returncode == 0, collected

    processes = {name: start(name, env, port, tmp_path / f"{name}.log") for name in ("web", "worker", "beat")}
    try:
        for name, process in processes.items():
            # The Celery checks start a Celery program each (2-3 s of CPU on a 2-vCPU VM): polled every
            # second while their service was still starting, they cost more than the services. They
            # run once their service's log says it is up, and then until they pass.
            log_file = tmp_path / f"{name}.log"
            wait_until(partial(_up_or_ended, log_file, UP_LINES[name], process), timeout=120)
            ok = wait_until(lambda name=name: healthy(name, env, port), timeout=120, interval=1)
            log = log_file.read_text()[-3000:]
            assert ok, f"{name} never became healthy: exit={process.poll()}\n{healthy.last_output}\n{log}"

        # The public host name works end to end behind the TLS proxy, with the operator just created.
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/token",
            json={"username": "ops", "password": "violet-harbour-lantern-42"},
            headers={"Host": "gateway.example.com", "X-Forwarded-Proto": "https"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert "access" in response.json()
        assert response.headers["Strict-Transport-Security"].startswith("max-age=")

        # The API docs work offline in production: every asset is a local, hashed static file.
        public = {"Host": "gateway.example.com", "X-Forwarded-Proto": "https"}
        docs = httpx.get(f"http://127.0.0.1:{port}/api/docs/", headers=public, timeout=10)
        assert docs.status_code == 200
        assets = [url.replace("&amp;", "&") for url in re.findall(r'(?:src|href)="([^"]+)"', docs.text)]
        assert len(assets) >= 5
        for url in assets:
            assert url.startswith("/") and not url.startswith("//"), url
            asset = httpx.get(f"http://127.0.0.1:{port}{url}", headers=public, timeout=10)
            assert asset.status_code == 200 and asset.content, url
    finally:
        for process in processes.values():
            stop(process)
