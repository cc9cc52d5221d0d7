"""Liveness and readiness probes.

/healthz only says the process answers. /readyz opens fresh connections to the database, the
cache and the broker, and names the one that failed; with a connection pool it also takes one from
the pool, so a process whose pool is exhausted reports "pool_exhausted" (503). Neither prints configuration: a URL can
carry a password.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.core.cache import caches
from django.db import connections
from django.db.utils import load_backend
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


class PoolExhausted(Exception):
    """PostgreSQL answers, but this process's pool had no connection to give within its timeout."""


def check_database() -> None:
    # A fresh connection, not the request's: readiness must prove a new connection can be made.
    settings_dict = dict(connections["default"].settings_dict)
    # Without the pool option: a pooled wrapper would hand back an idle connection instead.
    settings_dict["OPTIONS"] = {k: v for k, v in settings_dict.get("OPTIONS", {}).items() if k != "pool"}
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, "readyz")
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()
    check_database_pool()


def check_database_pool() -> None:
    """With a pool, one of its connections must be free within the pool timeout: requests need one."""
    pool = getattr(connections["default"], "pool", None)
    if pool is None:
        return
    from psycopg_pool import PoolTimeout

    pool.open()
    try:
        connection = pool.getconn()
    except PoolTimeout:
        raise PoolExhausted from None
    pool.putconn(connection)


def check_cache() -> None:
    cache = caches["default"]
    key = f"readyz:{secrets.token_hex(4)}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)


def check_broker() -> None:
    # The project's Celery app (config.celery) is the current app once Django has started.
    from celery import current_app

    with current_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "cache": check_cache,
    "broker": check_broker,
}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except PoolExhausted:
            logger.warning("readiness check %s failed: every pooled connection is busy", name)
            results[name] = "pool_exhausted"
        except Exception as exc:  # any failure means "not ready"; the kind is enough to act on
            logger.warning("readiness check %s failed: %s", name, type(exc).__name__)
            results[name] = "unavailable"
        else:
            results[name] = "ok"
    failed = sorted(name for name, result in results.items() if result != "ok")
    if failed:
        return JsonResponse({"status": "unavailable", "failed": failed, "checks": results}, status=503)
    return JsonResponse({"status": "ok", "checks": results})


PROBES: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/readyz": readyz}


@sync_and_async_middleware
def health_probe_middleware(get_response: Callable) -> Callable:
    """Answer /healthz and /readyz before any other middleware runs.

    Probes (Docker, Kubernetes, a load balancer) call the container's own address, which is not in
    ALLOWED_HOSTS, over plain http. Neither probe reads the Host header or builds a URL, so answering
    them here is safe; every other path still goes through Host validation and the HTTPS redirect.
    """
    if iscoroutinefunction(get_response):

        async def async_middleware(request: HttpRequest) -> HttpResponse:
            probe = PROBES.get(request.path_info)
            if probe is not None:
                return await sync_to_async(probe)(request)
            return await get_response(request)

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return get_response(request)

    return middleware
