"""Shared fixtures: fixed personas and authenticated API clients; which tests need which service.

alice and bob are ordinary users with their own data; olivia is an operator; audrey an auditor.

The marker rule (for every new test): a test that can run on the embedded default (SQLite, local
memory, in-process tasks) carries no marker and must pass there. A test that truly needs a real
service says which, with a marker from pytest.ini, instead of a skipif:

    @pytest.mark.postgres   PostgreSQL (DATABASE_URL): its SQL, triggers, pool, concurrent writers
    @pytest.mark.redis      Redis (REDIS_URL): state shared between processes, the Redis broker
    @pytest.mark.services   both of them

Without that service the test is deselected, not skipped, and the run ends with one line saying
how many were left out and the command that runs them. With REQUIRE_SERVICES=1 (CI) nothing is
deselected, both services must be configured, and a test skipped for any reason counts as a failure.
"""

from __future__ import annotations

import os

import pytest
from rest_framework.test import APIClient

PASSWORD = "correct-horse-battery-9"


SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis"}
# What the left-out tests need, as a newcomer types it (the README's `make run` example).
SERVICES_COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/gateway REDIS_URL=redis://127.0.0.1:6379/0 "
    '.venv/bin/pytest -m "postgres or redis"'
)
LEFT_OUT = pytest.StashKey[int]()


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def services_configured() -> set[str]:
    from django.conf import settings

    configured = set()
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        configured.add("postgres")
    if settings.REDIS_URL:
        configured.add("redis")
    return configured


def services_needed(item: pytest.Item) -> set[str]:
    if item.get_closest_marker("services"):
        return set(SERVICE_NAMES)
    return {name for name in SERVICE_NAMES if item.get_closest_marker(name)}


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = set(SERVICE_NAMES) - services_configured() if services_required() else set()
    if missing:
        names = " and ".join(SERVICE_NAMES[name] for name in sorted(missing))
        pytest.exit(f"REQUIRE_SERVICES=1 but no {names} is configured (DATABASE_URL, REDIS_URL).", returncode=4)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # First, so `-m "postgres or redis"` also selects the tests marked `services`.
    for item in items:
        if item.get_closest_marker("services"):
            for name in SERVICE_NAMES:
                item.add_marker(name)
    if services_required():  # pytest_sessionstart made sure both are configured
        return
    configured = services_configured()
    kept, left_out = [], []
    for item in items:
        (left_out if services_needed(item) - configured else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
    config.stash[LEFT_OUT] = len(left_out)
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller prints the line
        config.workeroutput["left_out"] = len(left_out)


def pytest_testnodedown(node, error) -> None:
    # pytest-xdist's controller: every worker collected the same tests, so any one's count is the count.
    left_out = getattr(node, "workeroutput", {}).get("left_out")
    if left_out is not None:
        node.config.stash[LEFT_OUT] = left_out


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    left_out = config.stash.get(LEFT_OUT, 0)
    if left_out:
        tests = "1 test needs" if left_out == 1 else f"{left_out} tests need"
        terminalreporter.write_line(
            f"{tests} PostgreSQL or Redis, left out here; run them with: {SERVICES_COMMAND}", yellow=True
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and services_required():
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
    from apps.providers.answer_cache import answer_l1_clear
    from apps.quotas.selectors import rates_forget

    # Rate-limit counters live outside the cache (the engine's own keys); user ids repeat between tests
    # (on SQLite a rolled-back test gives its ids out again), so each process's L1 copies go too.
    cache.clear()
    result_l1_clear()
    answer_l1_clear()
    rate_limit_reset()
    rates_forget()
    policies_forget()
    yield
    cache.clear()
    result_l1_clear()
    answer_l1_clear()
    rate_limit_reset()


@pytest.fixture(autouse=True)
def _fresh_request_context():
    """Each test starts outside any request: no caller in the context.

    A test that sets one and never resets it (a door driven by hand) would otherwise make a later test
    on the same thread act as that caller; ids repeat between tests (alice is often pk 1), so audit
    events lost their subject depending on which tests a worker ran before.
    """
    from apps.core.request_context import RequestContext, request_context_reset, request_context_update

    token = request_context_update(**vars(RequestContext()))
    yield
    request_context_reset(token)


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
