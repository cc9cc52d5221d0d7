"""Exactness across processes: two uvicorn servers share the counters in Redis; N of many, never N + 1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

from apps.mcp_tools.models import ToolPolicy
from apps.mcp_tools.pipeline.policies import tool_policy_update
from apps.mcp_tools.tests.conftest import pat_for
from apps.quotas.models import UserRateLimit

ROOT = Path(__file__).resolve().parents[3]
STARTUP_DEADLINE_SECONDS = 40
SERVER_COMMAND = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--log-level", "warning"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    params = connection.settings_dict
    user = params["USER"] or "postgres"
    host = params["HOST"] or "127.0.0.1"
    return f"postgres://{user}@{host}:{params['PORT'] or 5432}/{params['NAME']}"


# The servers share counters in Redis (without it each process counts alone, by design) and rows
# in PostgreSQL.
# One pair of servers for the whole module (per pytest-xdist worker that runs any of it): starting
# them is most of the time these tests take, and between tests they hold nothing a test could trip
# over (the rows go with each test's flush, the counters and the policy version with its Redis flush).
pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def servers(django_db_setup) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "MCP_RATE_LIMIT_STORAGE_URL": settings.MCP_RATE_LIMIT_STORAGE_URL,
        "MCP_RESULT_CACHE": "0",
    }
    processes, urls = [], []
    for _ in range(2):
        port = _free_port()
        processes.append(
            subprocess.Popen(
                [*SERVER_COMMAND, "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
        urls.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        for url, process in zip(urls, processes, strict=True):
            while True:
                assert process.poll() is None, process.stderr.read().decode()[-2000:]
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "a live server did not start"
                time.sleep(0.1)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


@pytest.fixture
def two_servers(servers, transactional_db) -> list[str]:
    """The two servers; the test's rows must be committed for them to see them."""
    return servers


def _parallel(requests: list[tuple[str, str, dict | None]], token: str) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}

    def send(request: tuple[str, str, dict | None]) -> httpx.Response:
        method, url, body = request
        return httpx.request(method, url, json=body, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, requests))


def test_two_processes_admit_exactly_the_users_burst(two_servers, alice):
    UserRateLimit.objects.create(user=alice, rate="5/hour", burst=5)
    token = pat_for(alice)
    requests = [("GET", f"{two_servers[i % 2]}/api/todos/", None) for i in range(24)]
    statuses = [response.status_code for response in _parallel(requests, token)]
    assert statuses.count(200) == 5
    assert statuses.count(429) == 19


def test_two_processes_admit_exactly_the_tools_rate_and_count_the_user_once(two_servers, alice, olivia):
    UserRateLimit.objects.create(user=alice, rate="6/hour", burst=6)
    policy = ToolPolicy.objects.get(tool_name="current_time")
    tool_policy_update(policy=policy, actor=olivia, changes={"rate_limit": "4/hour"})
    token = pat_for(alice)
    body = {"tool_name": "current_time", "parameters": {}}
    requests = [("POST", f"{two_servers[i % 2]}/api/mcp/tools/invoke", body) for i in range(20)]
    responses = _parallel(requests, token)
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 4
    assert statuses.count(429) == 16
    assert all(
        response.json()["error"]["details"]["limit"] == "tool current_time"
        for response in responses
        if response.status_code == 429
    )
    # 4 admitted invokes used 4 of the user's 6; refused ones used none; this request the fifth.
    after = httpx.get(f"{two_servers[0]}/api/todos/", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert after.status_code == 200
    assert after.headers["RateLimit-Remaining"] == "1"


def test_a_policy_change_applies_to_the_very_next_call_in_every_process(two_servers, alice, olivia):
    # Each server keeps its own copy of the tool policies, checked against a shared version in the
    # limits' round trip (apps.core.limiter.Guard), not re-read on every call.
    token = pat_for(alice)
    body = {"tool_name": "current_time", "parameters": {}}
    warm = _parallel([("POST", f"{url}/api/mcp/tools/invoke", body) for url in two_servers for _ in range(3)], token)
    assert [response.status_code for response in warm] == [200] * 6

    policy = ToolPolicy.objects.get(tool_name="current_time")
    tool_policy_update(policy=policy, actor=olivia, changes={"enabled": False})
    turned_off = _parallel([("POST", f"{url}/api/mcp/tools/invoke", body) for url in two_servers], token)
    assert [response.status_code for response in turned_off] == [403, 403]
    assert {response.json()["error"]["code"] for response in turned_off} == {"tool_disabled"}

    tool_policy_update(policy=policy, actor=olivia, changes={"enabled": True, "rate_limit": "1/hour"})
    # Back on, with a rate both processes now apply: one call of the four, whichever process serves it.
    again = _parallel([("POST", f"{two_servers[i % 2]}/api/mcp/tools/invoke", body) for i in range(4)], token)
    assert sorted(response.status_code for response in again) == [200, 429, 429, 429]
