"""Streamed responses that stream under the server we run (uvicorn: ASGI) as they do under WSGI.

Django's ASGI handler cannot pull a synchronous iterator from the event loop: it consumes it whole,
`sync_to_async(list)`, before it sends a byte (and warns). An audit export of any length was held in
memory at once, and its first byte waited for its last row. Under ASGI the iterator is pulled a batch
at a time instead, each batch in the request's own sync thread (where its database work belongs, as
for the view), so what is held at once is one batch. Under WSGI (Django's test client) the iterator
is passed on as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

# Pieces taken per hop to the sync thread: a hop costs about as much as formatting a few rows.
BATCH = 64


def streaming_response(request: HttpRequest | Any, pieces: Iterator[Any], **kwargs: Any) -> StreamingHttpResponse:
    """A StreamingHttpResponse of `pieces` (str or bytes) for `request` (Django's, or DRF's wrapping it)."""
    return StreamingHttpResponse(streamable(request, pieces), **kwargs)


def streamable(request: HttpRequest | Any, pieces: Iterator[Any]) -> Iterator[Any] | AsyncIterator[Any]:
    """`pieces` as the server that handles `request` can stream them."""
    django_request = getattr(request, "_request", request)
    return _pulled(pieces) if isinstance(django_request, ASGIRequest) else pieces


def _batch(pieces: Iterator[Any]) -> list[Any]:
    return list(islice(pieces, BATCH))


def _close(pieces: Iterator[Any]) -> None:
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


async def _pulled(pieces: Iterator[Any]) -> AsyncIterator[Any]:
    take = sync_to_async(_batch, thread_sensitive=True)
    try:
        while batch := await take(pieces):
            for piece in batch:
                yield piece
    finally:
        # A client that goes away mid-export: the generator's own cleanup runs in the same thread.
        await sync_to_async(_close, thread_sensitive=True)(pieces)
