"""Each request's sync code runs on a thread of its own, borrowed from a pool rather than started anew."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from django.core import signals

from apps.core.request_threads import ExecutorPool, request_executors, request_thread
from config.asgi import application


def _get(paths: list[str]) -> list[httpx.Response]:
    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await asyncio.gather(*(client.get(path) for path in paths))

    return asyncio.run(run())


@pytest.fixture
def request_threads_seen():
    """The threads Django's request_started receivers ran on (Django sends it in the request's thread)."""
    seen: list[threading.Thread] = []

    def receiver(**kwargs: object) -> None:
        seen.append(threading.current_thread())

    signals.request_started.connect(receiver, dispatch_uid="test.request_threads")
    yield seen
    signals.request_started.disconnect(dispatch_uid="test.request_threads")


def test_sequential_requests_reuse_one_thread_instead_of_starting_one_each(request_threads_seen):
    _get(["/api/schema/"])  # warm: the pool may start its first thread here
    started = request_executors.started
    for _ in range(20):
        (response,) = _get(["/healthz"])
        assert response.status_code == 200
    assert request_executors.started == started
    assert len(set(request_threads_seen[1:])) == 1 and request_threads_seen[1].name.startswith("request")


def test_concurrent_requests_run_on_threads_of_their_own(request_threads_seen):
    # Both receivers must be inside at once to pass the barrier: on one shared thread they could not.
    barrier = threading.Barrier(2, timeout=10)

    def meet(**kwargs: object) -> None:
        barrier.wait()

    signals.request_started.connect(meet, dispatch_uid="test.request_threads.meet")
    try:
        responses = _get(["/healthz", "/healthz"])
    finally:
        signals.request_started.disconnect(dispatch_uid="test.request_threads.meet")
    assert [response.status_code for response in responses] == [200, 200]
    assert len(set(request_threads_seen)) == 2


def test_the_pool_keeps_a_bounded_number_of_idle_threads():
    pool = ExecutorPool(keep_idle=2)
    executors = [pool.acquire() for _ in range(4)]
    for executor in executors:
        pool.release(executor)
    assert pool.started == 4 and pool.idle == 2
    # The ones beyond the bound were shut down: they take no more work.
    with pytest.raises(RuntimeError):
        executors[2].submit(print)
    assert pool.acquire() in executors[:2]


def test_work_after_the_request_is_refused_not_run_on_a_thread_another_request_now_owns():
    from asgiref.sync import sync_to_async

    async def run() -> None:
        leftover: list[asyncio.Task] = []
        async with request_thread():
            # A task started by the request that outlives it (a bug): asgiref refuses its later calls.
            async def late() -> None:
                await asyncio.sleep(0.05)
                await sync_to_async(threading.get_ident)()

            leftover.append(asyncio.ensure_future(late()))
        with pytest.raises(RuntimeError):
            await leftover[0]

    asyncio.run(run())


def test_an_api_request_runs_its_middleware_view_and_rendering_in_one_hop(monkeypatch):
    # Django's async chain hops back to the event loop (async_to_sync) below each sync-only
    # middleware and out again for the view and the rendering; the sync chain never comes back.
    from asgiref import sync

    back_to_loop: list[object] = []
    real = sync.AsyncToSync.__call__

    def counted(self, *args: object, **kwargs: object) -> object:
        back_to_loop.append(self.awaitable)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(sync.AsyncToSync, "__call__", counted)
    (response,) = _get(["/api/schema/"])
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/vnd.oai")
    assert back_to_loop == []
