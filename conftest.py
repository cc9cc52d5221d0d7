"""Shared fixtures: fixed personas and authenticated API clients; which tests need which service.

alice and bob are ordinary users with their own data; olivia is an operator; audrey an auditor.

The marker rule (for every new test): a test that can run on the embedded default (SQLite, local
memory, in-process tasks) carries no marker and must pass there. A test that truly needs a real
service says which, with a marker from pytest.ini, instead of a skipif:

    @pytest.mark.postgres   PostgreSQL (DATABASE_URL): its SQL, triggers, pool, concurrent writers
    @pytest.mark.redis      Redis (REDIS_URL): state shared between processes, the Redis broker
    @pytest.mark.services   both of them
    @pytest.mark.browser    Debian's chromium (given to every test that uses the `chromium` fixture)

Without that service the test is deselected, not skipped, and the run ends with one line per need
saying how many were left out and the command that runs them. With REQUIRE_SERVICES=1 (CI) nothing
is deselected, every need must be met, and a test skipped for any reason counts as a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest
from rest_framework.test import APIClient

from config.test_databases import cloned_databases, template_run_id
from tests import startup

PASSWORD = "correct-horse-battery-9"


SERVICE_NAMES = {"postgres": "PostgreSQL", "redis": "Redis"}
# Every need a test can declare: what it is called; the commands below say how a newcomer meets it
# (the README's `make run` example for the services, the distribution's package for the browser).
NEEDS = {**SERVICE_NAMES, "browser": "Debian's chromium"}
SERVICES_COMMAND = (
    "DATABASE_URL=postgres://postgres@127.0.0.1:5432/gateway REDIS_URL=redis://127.0.0.1:6379/0 "
    '.venv/bin/pytest -m "postgres or redis"'
)
BROWSER_COMMAND = "apt-get install chromium, then .venv/bin/pytest -m browser"
LEFT_OUT = pytest.StashKey[dict]()
DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES") == "1"


def browser_path() -> str:
    from apps.web.tests.browser import chromium_path  # the page tests' own setting

    return chromium_path()


def needs_met() -> set[str]:
    from django.conf import settings
    from django.db import connection

    met = set()
    if connection.vendor == "postgresql":
        met.add("postgres")
    if settings.REDIS_URL:
        met.add("redis")
    if shutil.which(browser_path()):
        met.add("browser")
    return met


def needs_of(item: pytest.Item) -> set[str]:
    if item.get_closest_marker("services"):
        return set(SERVICE_NAMES)
    return {name for name in NEEDS if item.get_closest_marker(name)}


def pytest_sessionstart(session: pytest.Session) -> None:
    missing = set(NEEDS) - needs_met() if services_required() else set()
    if missing:
        names = " and ".join(NEEDS[name] for name in sorted(missing))
        pytest.exit(
            f"REQUIRE_SERVICES=1 but no {names} (DATABASE_URL, REDIS_URL, WEB_TEST_CHROMIUM={browser_path()}).",
            returncode=4,
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]):
    _needs_apply(config, items)
    yield
    _slow_first(items)


def _needs_apply(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Before every other plugin, so `-m "postgres or redis"` also selects the tests marked `services`,
    # and `-m browser` every test that drives the browser (derived from the fixture, none forgotten).
    for item in items:
        if item.get_closest_marker("pure") and _uses_database(item):
            raise pytest.UsageError(f"{item.nodeid} is marked pure but uses the database: remove the marker.")
        if item.get_closest_marker("services"):
            for name in SERVICE_NAMES:
                item.add_marker(name)
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker("browser")
    if services_required():  # pytest_sessionstart made sure every need is met
        return
    met = needs_met()
    kept, dropped, left_out = [], [], {"services": 0, "browser": 0}
    for item in items:
        unmet = needs_of(item) - met
        if unmet:
            dropped.append(item)
            left_out["services" if unmet & set(SERVICE_NAMES) else "browser"] += 1
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    config.stash[LEFT_OUT] = left_out
    if hasattr(config, "workeroutput"):  # a pytest-xdist worker: the controller prints the lines
        config.workeroutput["left_out"] = left_out


def _uses_database(item: pytest.Item) -> bool:
    return bool(item.get_closest_marker("django_db") or DB_FIXTURES & set(getattr(item, "fixturenames", ())))


def _slow_first(items: list[pytest.Item]) -> None:
    # After pytest-django has put the tests that use the database in Django's order (transactional
    # ones after the rest, since a flush removes what migrations wrote): the slow tests that use no
    # database (each starts a whole product, 15-30 s) go first. pytest-xdist hands tests out in this
    # order; left at the end (`tests/` is collected last) one of them kept a worker busy long after
    # the other had finished. A stable sort: everything else keeps its place.
    def slow_without_database(item: pytest.Item) -> bool:
        return bool(item.get_closest_marker("slow")) and not _uses_database(item)

    items.sort(key=lambda item: not slow_without_database(item))


def pytest_testnodedown(node, error) -> None:
    # pytest-xdist's controller: every worker collected the same tests, so any one's count is the count.
    left_out = getattr(node, "workeroutput", {}).get("left_out")
    if left_out is not None:
        node.config.stash[LEFT_OUT] = left_out


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    left_out = config.stash.get(LEFT_OUT, {})
    needs = (("services", "PostgreSQL or Redis", SERVICES_COMMAND), ("browser", "Debian's chromium", BROWSER_COMMAND))
    for key, what, command in needs:
        count = left_out.get(key, 0)
        if count:
            tests = "1 test needs" if count == 1 else f"{count} tests need"
            terminalreporter.write_line(f"{tests} {what}, left out here; run them with: {command}", yellow=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    # tests/startup.py refuses to start settings for a test not marked own_environment.
    startup.running_test = item
    try:
        if item.get_closest_marker("pure"):
            with _cache_refused(item):
                yield
        else:
            yield
    finally:
        startup.running_test = None


@contextlib.contextmanager
def _cache_refused(item: pytest.Item):
    # A `pure` test runs once (.ci/run's default mode), so it must not reach what differs between the
    # modes: the database is refused by pytest-django (no database fixture, checked at collection), the
    # cache (local memory or Redis, and every Redis client taken through it) here.
    from django.core.cache import CacheHandler

    def refuse(self, alias):
        raise AssertionError(f"{item.nodeid} is marked pure but uses the cache ({alias!r}): remove the marker.")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CacheHandler, "__getitem__", refuse)
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and services_required():
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"Skipped tests are failures when REQUIRE_SERVICES=1: {reason}"


@pytest.fixture(scope="session")
def django_db_modify_db_settings_xdist_suffix(request: pytest.FixtureRequest) -> None:
    # A worker's own database is a copy of the run's template (config/test_databases.py), named by
    # Django's cloning; pytest-django's suffix applies only where that is not used.
    from pytest_django.fixtures import _set_suffix_to_test_databases

    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is not None and template_run_id(request.config) is None:
        _set_suffix_to_test_databases(suffix=workerinput["workerid"])


@pytest.fixture(scope="session")
def django_db_setup(
    request,
    django_test_environment,
    django_db_blocker,
    django_db_use_migrations,
    django_db_keepdb,
    django_db_createdb,
    django_db_modify_db_settings,
):
    """pytest-django's setup, except that xdist workers copy one migrated template (config/test_databases.py)."""
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.fixtures import _disable_migrations, _get_databases_for_setup

    aliases, serialized_aliases = _get_databases_for_setup(request.session.items)
    run_id = template_run_id(request.config)
    if run_id is not None and not serialized_aliases:
        # Blocked again while the tests run: only tests that ask for the database get it.
        with (
            django_db_blocker.unblock(),
            cloned_databases(request.config, run_id, aliases),
            django_db_blocker.block(),
        ):
            yield
        return
    # pytest-django's own, as it stands in pytest_django.fixtures.django_db_setup.
    if not django_db_use_migrations:
        _disable_migrations()
    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        db_cfg = setup_databases(
            verbosity=request.config.option.verbose,
            interactive=False,
            aliases=aliases,
            serialized_aliases=serialized_aliases,
            keepdb=keepdb,
        )
    yield
    if not django_db_keepdb:
        with django_db_blocker.unblock():
            teardown_databases(db_cfg, verbosity=request.config.option.verbose)


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
def _clear_cache(request):
    if request.node.get_closest_marker("pure"):  # reaches no cache: nothing to clear, and refused
        yield
        return
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
