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

import asyncio
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import IO

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

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
    """Django's ASGI handler, with each request's thread from the pool and the request served in one hop.

    Django builds the async middleware chain under ASGI: each sync-only middleware, the view and the
    rendering of a template (DRF) response is a hop between the event loop and the request's thread.
    Every view and middleware of this project is sync, so the chain is the sync one WSGI uses. And
    Django's `handle` hops twice more, for request_started and for the response's close() (which
    sends request_finished), and starts two tasks per request. Here one hop does all of it: the
    signals, the request, the middleware, view and rendering, and, for a response whose bytes are
    built, its close(); the loop then only sends. ConnectionReleaseMiddleware has already given the
    connection back by then, so closing before sending holds nothing longer.
    """

    def __init__(self) -> None:
        BaseHandler.__init__(self)
        self.load_middleware(is_async=False)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        async with request_thread():
            await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        """Django's handle, step for step, with its sync steps in one hop (Django's own spends a hop
        on each, so it is mirrored rather than called; the steps themselves are Django's methods).

        Unlike Django it does not listen for http.disconnect while the view runs: a sync view cannot
        be cancelled (Django's cancel leaves it running on this request's thread, and its
        request_finished then waits behind it there), so listening buys only the two tasks. A
        response sent to a client that has gone is dropped by the server. Streamed responses,
        whose content may run long after the view, are still stopped when the client goes.
        """
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        try:
            response = await sync_to_async(self.response_in_thread, thread_sensitive=True)(scope, body_file)
            if response.streaming:
                await self.send_streaming_response(response, receive, send)
            else:
                await self.send_response(response, send)
        finally:
            body_file.close()

    def response_in_thread(self, scope, body_file: IO[bytes]) -> HttpResponseBase:
        """On the request's thread: request_started, the response (Django's own 400 for a request it
        cannot build), and, unless the response streams, its close(), which sends request_finished."""
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, response = self.create_request(scope, body_file)
        if request is not None:
            response = self.get_response(request)
        # As Django's run_get_response does (it is async, so not callable here): close() names the
        # handler as request_finished's sender, and a file goes out in larger chunks.
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if not response.streaming:
            response.close()
        return response

    async def send_streaming_response(self, response: HttpResponseBase, receive, send) -> None:
        """Django's send_response, stopped if the client goes away, as Django's handle does (the
        content may be long, and need not be produced for nobody). Closed after the last chunk, so
        the content can use the database until then."""
        sending = asyncio.create_task(self.send_response(response, send))
        listening = asyncio.create_task(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait((sending, listening), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sending.cancel()
            listening.cancel()
            results = await asyncio.gather(sending, listening, return_exceptions=True)
            await sync_to_async(response.close, thread_sensitive=True)()
        for result in results:
            # A disconnect, or the cancelling above, ends the stream without being an error.
            if isinstance(result, Exception) and not isinstance(result, RequestAborted):
                raise result
