"""One thread per request for Django's sync code under ASGI, taken from a pool instead of started anew.

Django's ASGI handler (and the /mcp door, apps.mcp_tools.transport.http) enter a
ThreadSensitiveContext per request, so that request's ORM work runs on a thread of its own rather
than queueing on the process's one sync thread. Without an executor asgiref starts that thread for
the request and joins it at the end: under load 12-18 % of a tool call's profile samples were
`Thread.start` and the join. asgiref lets the caller own the executor and reuse it, so each request
borrows a single-thread executor an earlier request already started and gives it back afterwards.

Still one request per thread at a time: an executor is in at most one context, and its one thread
runs work items in order. Django's per-thread state is per request as before: connections go back to
the pool after each unit of database work (apps.core.database) and at request_finished.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.http import HttpRequest, HttpResponseBase

# Idle threads kept for the next requests; more run at once under a burst, and are stopped after.
KEEP_IDLE = 64


class ExecutorPool:
    def __init__(self, keep_idle: int = KEEP_IDLE) -> None:
        self.keep_idle = keep_idle
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self.started = 0  # threads this pool has started (what the tests check)

    def acquire(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            self.started += 1
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def release(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            if len(self._idle) < self.keep_idle:
                # A call the request abandoned (client gone) may still run; the next request's work
                # waits behind it on this one thread, never beside it.
                self._idle.append(executor)
                return
        executor.shutdown(wait=False)

    @property
    def idle(self) -> int:
        return len(self._idle)


request_executors = ExecutorPool()


@asynccontextmanager
async def request_thread() -> AsyncIterator[None]:
    """Thread-sensitive sync code inside this block runs on one pooled thread of this request's own."""
    executor = request_executors.acquire()
    try:
        async with ThreadSensitiveContext(executor=executor):
            yield
    finally:
        request_executors.release(executor)


class PooledThreadASGIHandler(ASGIHandler):
    """Django's ASGI handler, with each request's thread from the pool and its middleware run in it.

    Django builds the async middleware chain under ASGI: each sync-only middleware, the view and the
    rendering of a template (DRF) response is a hop between the event loop and the request's thread,
    four per API request here. Every view and middleware of this project is sync, so the chain is the
    sync one WSGI uses, run in one hop: the request's middleware, view and rendering on its thread.
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with request_thread():
            await self.handle(scope, receive, send)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
