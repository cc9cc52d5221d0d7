"""Database connections are held only while database work runs, never while a request waits on the network.

Under ASGI each request's sync code runs on a thread of its own, and Django keeps that thread's
connection until request_finished, after the response has been sent. A connection held across an
`await` (a slow body, an open stream, a slow reader) is a pooled connection nobody else can use, so
a few such requests starve the pool. Two tools keep connections short-lived:

- `database_work` for async code (the /mcp door): run sync ORM work in a thread and give the
  connection back as soon as it returns;
- `ConnectionReleaseMiddleware` for Django views: give it back once the response is built,
  before Django's handler sends it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import connections
from django.http import HttpRequest, HttpResponse

T = TypeVar("T")


def connections_release() -> None:
    """Close (with a pool: hand back) this thread's connections, except one inside a transaction.

    A connection in an atomic block belongs to code still running on this thread (a test's
    transaction, an outer service); closing it would break that transaction.
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


async def database_work(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`await sync_to_async(func)(...)`, with the thread's connections released before it returns."""

    def work() -> T:
        try:
            return func(*args, **kwargs)
        finally:
            connections_release()

    return await sync_to_async(work)()


class ConnectionReleaseMiddleware:
    """Outermost Django middleware: release the connection once the response is built, before it is sent.

    Streaming responses keep theirs, since their content may still read the database.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not response.streaming:
            connections_release()
        return response
