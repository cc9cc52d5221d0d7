"""Shared fixtures: fixed personas and authenticated API clients.

alice and bob are ordinary users with their own data; olivia is an operator; audrey an auditor.
With REQUIRE_SERVICES=1 (CI), a test skipped for any reason counts as a failure.
"""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

PASSWORD = "correct-horse-battery-9"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("REQUIRE_SERVICES") == "1":
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"Skipped tests are failures when REQUIRE_SERVICES=1: {reason}"


def _make_user(username: str, role: str = "user", timezone_name: str = "UTC"):
    from apps.accounts.services import user_create

    return user_create(
        username=username, password=PASSWORD, email=f"{username}@example.test", role=role, timezone_name=timezone_name
    )


@pytest.fixture
def alice(db):
    return _make_user("alice")


@pytest.fixture
def bob(db):
    return _make_user("bob")


@pytest.fixture
def olivia(db):
    return _make_user("olivia", role="operator")


@pytest.fixture
def audrey(db):
    return _make_user("audrey", role="auditor")


def client_for(user) -> APIClient:
    from apps.accounts.tokens import jwt_pair_issue

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_pair_issue(user=user).access}")
    return client


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def alice_client(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def olivia_client(olivia) -> APIClient:
    return client_for(olivia)


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    from apps.core.limiter import limits_reset as rate_limit_reset
    from apps.mcp_tools.pipeline.cache import result_l1_clear
    from apps.mcp_tools.pipeline.policies import policies_forget
    from apps.quotas.selectors import rates_forget

    # Rate-limit counters live outside the cache (the engine's own keys); user ids repeat between tests.
    cache.clear()
    result_l1_clear()
    rate_limit_reset()
    rates_forget()
    policies_forget()
    yield
    cache.clear()
    result_l1_clear()
    rate_limit_reset()


@pytest.fixture
def patient_pool():
    """Let requests wait longer for a pooled connection than the product's 0.5 s.

    For tests that fire a burst (30-40 requests on a pool of 8) from threads of the test process itself:
    they share one GIL with the server side, so the burst queues far longer than it would against a server
    of its own, and on a loaded CI machine past 0.5 s. Such tests are about answers (the right caller, one
    redemption), not about how long a burst may wait (apps/mcp_tools/tests/test_http_edge.py covers that).
    """
    from django.db import connections

    connection = connections["default"]
    pool = (
        connection.pool
        if connection.vendor == "postgresql" and connection.settings_dict.get("OPTIONS", {}).get("pool")
        else None
    )
    if pool is None:
        yield
        return
    before = pool.timeout
    pool.timeout = 10
    try:
        yield
    finally:
        pool.timeout = before
