"""Streamed responses stream under the server we run (uvicorn: ASGI) as they do under WSGI.

Django's ASGI handler cannot pull a synchronous iterator from the event loop: it consumes it whole,
`sync_to_async(list)`, before it sends a byte (and warns). An audit export of any length was held in
memory at once, its first byte waiting for its last row, and WhiteNoise's static files (the API docs'
1.6 MB script bundle) were read whole per request. This middleware, outside every other, hands such
a response's content to ASGI as an asynchronous iterator that pulls a batch at a time, each batch in
the request's own sync thread (where the view's database work belongs), so what is held at once is
one batch, whichever view or middleware streamed. Under WSGI (Django's test client) nothing changes.
The response's own close() still closes the original iterator, as the handler calls it at the end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase

# Pieces taken per hop to the sync thread: a hop costs about as much as formatting a few rows.
BATCH = 64


class AsyncStreamingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.streaming and not response.is_async and isinstance(request, ASGIRequest):
            response.streaming_content = _pulled(iter(response.streaming_content))
        return response


def _batch(pieces: Iterator[Any]) -> list[Any]:
    return list(islice(pieces, BATCH))


async def _pulled(pieces: Iterator[Any]) -> AsyncIterator[Any]:
    take = sync_to_async(_batch, thread_sensitive=True)
    while batch := await take(pieces):
        for piece in batch:
            yield piece
